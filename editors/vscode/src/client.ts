import type * as vscode from 'vscode';
import {
  CloseAction,
  ErrorAction,
  ExecuteCommandRequest,
  LanguageClient,
  type LanguageClientOptions,
} from 'vscode-languageclient/node';
import { LANGUAGES } from './contract';
import { serverSettings } from './settings';

/**
 * The language client as dglsp uses it. It never restarts its own server: when the connection closes it asks
 * `onClosed` (Server, with the restart policy), which starts a fresh client instead, because a client whose
 * server dies during `initialize` is left "start failed" and refuses to start again. And the failures that
 * Server reports itself (a start that failed, a crash) do not get a second, generic pop-up from the library.
 */
export class DglspClient extends LanguageClient {
  /** Set when the server died under this client; its failures are then the restart policy's to report. */
  crashed = false;
  private inStart = false;

  constructor(
    command: string,
    args: string[],
    log: vscode.LogOutputChannel,
    hidden: ReadonlySet<string>,
    onDied: (c: DglspClient) => string | undefined,
  ) {
    super('dglsp', 'dglsp', { command, args }, clientOptions(log));
    const died = (): string | undefined => {
      if (this.crashed) return undefined; // said once, however many ways the death shows
      this.crashed = true;
      return onDied(this);
    };
    // Set here rather than passed in, as it needs `this`; the client reads it at each error and close.
    this.clientOptions.errorHandler = {
      // A read or write failed. Mostly the server has just died: writes to its closed stdin can fail before the
      // close is seen, so these are logged, not popped up, and the close that follows restarts it. More than
      // three in a row and the connection is broken though it did not close: shut it down, counted as a death
      // (the library's default would stop it for good, and a stop is never restarted).
      error: (_error, _message, count) =>
        count !== undefined && count <= 3
          ? { action: ErrorAction.Continue, handled: true }
          : { action: ErrorAction.Shutdown, message: died(), handled: true },
      // Not called for a stop asked for here (the client is stopping then): only when the server went away.
      closed: () => ({ action: CloseAction.DoNotRestart, message: died(), handled: true }),
    };
    hideCommands(this, hidden);
  }

  override async start(): Promise<void> {
    this.inStart = true;
    try {
      await super.start();
    } finally {
      this.inStart = false;
    }
  }

  // Still logged; only the pop-up goes: "couldn't create connection to server" says less than Server's own message.
  override error(message: string, data?: unknown, showNotification: boolean | 'force' = true): void {
    super.error(message, data, this.inStart || this.crashed ? false : showNotification);
  }
}

function clientOptions(log: vscode.LogOutputChannel): LanguageClientOptions {
  return {
    documentSelector: LANGUAGES.flatMap((language) => [
      { scheme: 'file', language },
      { scheme: 'untitled', language },
    ]),
    initializationOptions: { dglsp: serverSettings() },
    outputChannel: log,
    middleware: {
      // Ghost text (inline completion) is the way fills are shown; the server's completion item carries the
      // same fill, so asking for both would run the model twice per keystroke.
      provideCompletionItem: () => undefined,
      workspace: {
        // Settings go out through Server.sendSettings: the `dglsp` section also holds the extension's own
        // keys, which the server would refuse as unknown.
        didChangeConfiguration: () => Promise.resolve(),
      },
    },
  };
}

/** Keep the client from registering VS Code commands for the server commands in `hidden` (an id clash with
 *  the extension's own registration). */
function hideCommands(c: LanguageClient, hidden: ReadonlySet<string>): void {
  const feature = c.getFeature(ExecuteCommandRequest.method);
  const initialize = feature.initialize.bind(feature);
  feature.initialize = (capabilities, selector) => {
    const provider = capabilities.executeCommandProvider;
    if (provider) {
      capabilities = {
        ...capabilities,
        executeCommandProvider: { ...provider, commands: provider.commands.filter((x) => !hidden.has(x)) },
      };
    }
    initialize(capabilities, selector);
  };
}
