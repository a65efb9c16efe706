import type * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';

/** What the extension's parts share: its log, and the language client while one exists. */
export class Session {
  /** Set by the server module only; the others read it (a stopped or failed client is cleared). */
  client: LanguageClient | undefined;

  constructor(readonly log: vscode.LogOutputChannel) {}
}
