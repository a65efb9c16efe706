import * as vscode from 'vscode';
import {
  CodeAction as LspCodeAction,
  CodeActionRequest,
  CodeActionResolveRequest,
  CodeActionTriggerKind,
  Command as LspCommand,
  ExecuteCommandRequest,
  type LanguageClient,
  LSPErrorCodes,
  ResponseError,
  TextDocumentEdit,
  WorkspaceEdit as LspWorkspaceEdit,
} from 'vscode-languageclient/node';
import { ACTION_KIND, ACTIONS, COMMANDS, type Action } from './contract';
import type { Server } from './server';

/** The VS Code command of a code action the server describes. */
export function actionCommand(a: Action): string {
  return `dglsp.${a.command}`;
}

/** One command per action in the contract: a new action there needs no change here. */
export function registerActions(server: Server): vscode.Disposable[] {
  return ACTIONS.map((a) => vscode.commands.registerCommand(actionCommand(a), () => runAction(server, a)));
}

/** Ask the server for its actions at the selection and run the one of kind `a.kind`. */
async function runAction(server: Server, a: Action): Promise<void> {
  const editor = vscode.window.activeTextEditor;
  if (!editor) return;
  const c = server.running();
  if (!c) return;
  const { document, selection } = editor;
  const version = document.version;
  const listed =
    (await c.sendRequest(CodeActionRequest.type, {
      textDocument: c.code2ProtocolConverter.asTextDocumentIdentifier(document),
      range: c.code2ProtocolConverter.asRange(selection),
      context: { diagnostics: [], only: [ACTION_KIND], triggerKind: CodeActionTriggerKind.Invoked },
    })) ?? [];
  const offered = listed.find((x) => kindOf(x) === a.kind);
  if (!offered) {
    void vscode.window.showInformationMessage(`dglsp: nothing to do here: ${a.notOffered}.`);
    return;
  }
  const name = offered.title.replace(/^dglsp: /, '');
  try {
    await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: offered.title, cancellable: true },
      (_progress, token) =>
        isCommand(offered) ? execute(c, offered, token) : resolveAndApply(c, offered, document, version, token),
    );
  } catch (err) {
    if (err instanceof ResponseError && err.code === LSPErrorCodes.ContentModified) {
      void vscode.window.showWarningMessage(`dglsp: ${err.message}`);
    } else if (!(err instanceof ResponseError && err.code === LSPErrorCodes.RequestCancelled)) {
      void vscode.window.showErrorMessage(`dglsp: ${name} failed: ${String(err)}`);
    }
  }
}

/** The action kind of a listed item: `data.kind` of a CodeAction, `arguments[0].kind` of a `dglsp.runAction`
 *  Command (what a client without resolve support gets). */
function kindOf(x: LspCommand | LspCodeAction): string | undefined {
  if (isCommand(x)) {
    const arg: unknown = x.command === COMMANDS.runAction ? x.arguments?.[0] : undefined;
    return kindField(arg);
  }
  return kindField(x.data);
}

function kindField(value: unknown): string | undefined {
  const kind = (value as { kind?: unknown } | null | undefined)?.kind;
  return typeof kind === 'string' ? kind : undefined;
}

// Not LspCodeAction.is: that refuses a CodeAction with neither edit nor command, which a lazy (resolved later)
// one is. A Command's `command` is its id; a CodeAction's is an object.
function isCommand(x: LspCommand | LspCodeAction): x is LspCommand {
  return typeof x.command === 'string';
}

/** A Command runs on the server, which applies its edit through workspace/applyEdit (the client checks the
 *  document version there). */
async function execute(c: LanguageClient, command: LspCommand, token: vscode.CancellationToken): Promise<void> {
  await c.sendRequest(ExecuteCommandRequest.type, { command: command.command, arguments: command.arguments }, token);
}

async function resolveAndApply(
  c: LanguageClient,
  action: LspCodeAction,
  document: vscode.TextDocument,
  listedAt: number,
  token: vscode.CancellationToken,
): Promise<void> {
  // The model runs on resolve, so this is what the progress notification's Cancel cancels.
  const resolved = action.edit || action.command ? action : await c.sendRequest(CodeActionResolveRequest.type, action, token);
  if (resolved.edit) {
    await applyVersioned(c, resolved.edit, document, listedAt);
  } else if (resolved.command) {
    await execute(c, resolved.command, token);
  } else {
    void vscode.window.showInformationMessage('dglsp: the model proposed no change.');
  }
}

async function applyVersioned(
  c: LanguageClient,
  edit: LspWorkspaceEdit,
  document: vscode.TextDocument,
  listedAt: number,
): Promise<void> {
  // The protocol converter drops document versions; check them here so a stale edit is never applied.
  for (const change of edit.documentChanges ?? []) {
    if (!TextDocumentEdit.is(change) || change.textDocument.version === null) continue;
    const uri = c.protocol2CodeConverter.asUri(change.textDocument.uri).toString();
    const open = vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri);
    if (open && open.version !== change.textDocument.version) return changedMeanwhile();
  }
  // Without versioned changes, the version the actions were listed for stands in.
  if (document.version !== listedAt && !edit.documentChanges) return changedMeanwhile();
  const converted = await c.protocol2CodeConverter.asWorkspaceEdit(edit);
  if (!converted || converted.size === 0) {
    void vscode.window.showInformationMessage('dglsp: the model proposed no change.');
    return;
  }
  const ok = await vscode.workspace.applyEdit(converted);
  if (!ok) void vscode.window.showWarningMessage('dglsp: VS Code refused the edit (the document changed?).');
}

function changedMeanwhile(): void {
  void vscode.window.showWarningMessage('dglsp: the document changed while the model ran; run the command again.');
}
