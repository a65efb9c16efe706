import * as vscode from 'vscode';
import {
  DidChangeConfigurationNotification,
  ExecuteCommandRequest,
  LanguageClient,
  type LanguageClientOptions,
  State,
} from 'vscode-languageclient/node';
import { LANGUAGES } from './contract';
import { findExecutable, type Launch, launchFromSettings } from './launch';
import type { Session } from './session';
import { serverSettings } from './settings';
import type { Status } from './status';

/** The language server's lifecycle: start, restart and stop of the client, and what the user is told when it
 *  cannot run. */
export class Server {
  private starting: Promise<void> | undefined;

  /** `wrapped`: server commands the extension registers itself, which the client must not register too. */
  constructor(
    private readonly session: Session,
    private readonly status: Status,
    private readonly wrapped: ReadonlySet<string>,
  ) {}

  /** Start the server unless a start is under way (then wait for that one). */
  start(): Promise<void> {
    this.starting ??= this.launch().finally(() => {
      this.starting = undefined;
    });
    return this.starting;
  }

  async stop(): Promise<void> {
    const c = this.session.client;
    this.session.client = undefined;
    try {
      await c?.stop();
    } catch (err) {
      this.session.log.warn(`stopping the server: ${String(err)}`);
    }
  }

  async restart(): Promise<void> {
    await this.stop();
    this.status.starting();
    await this.start();
  }

  /** The running client, or undefined after offering the user a restart. */
  running(): LanguageClient | undefined {
    const c = this.session.client;
    if (c?.isRunning()) return c;
    const log = this.session.log;
    void vscode.window.showWarningMessage('dglsp: the language server is not running.', 'Restart', 'Show Log').then((x) => {
      if (x === 'Restart') void this.restart();
      else if (x) log.show();
    });
    return undefined;
  }

  /** Send the server its settings again (the client's own sync is off: see clientOptions). */
  sendSettings(): void {
    void this.session.client?.sendNotification(DidChangeConfigurationNotification.type, {
      settings: { dglsp: serverSettings() },
    });
  }

  private async launch(): Promise<void> {
    const launch = launchFromSettings();
    const executable = findExecutable(launch.command);
    if (!executable) {
      await this.reportMissing(launch);
      return;
    }
    const { log } = this.session;
    log.info(`starting ${executable} ${launch.args.join(' ')}`);
    const c = new LanguageClient('dglsp', 'dglsp', { command: executable, args: launch.args }, clientOptions(log));
    hideCommands(c, this.wrapped);
    c.onDidChangeState((e) => {
      if (e.newState === State.Stopped && this.session.client === c) {
        this.status.set('$(error) dglsp: stopped', 'The dglsp server stopped. Click for details; run "dglsp: Restart server".', true);
      }
    });
    this.session.client = c;
    try {
      await c.start();
    } catch (err) {
      this.session.client = undefined;
      const text = err instanceof Error ? err.message : String(err);
      if (/ENOENT|EACCES|spawn/i.test(text)) await this.reportMissing(launch, text);
      else this.reportFailed(text);
      return;
    }
    this.status.pollSoon(0);
  }

  private async reportMissing(launch: Launch, detail?: string): Promise<void> {
    const what = launch.setting === 'dglsp.server.python' ? `the Python interpreter "${launch.command}"` : `"${launch.command}"`;
    const message =
      `dglsp: cannot start the language server: ${what} was not found${detail ? ` (${detail})` : ''}. ` +
      `Install it with \`pip install dglsp\` (into a Python on your PATH), or set \`dglsp.server.command\` ` +
      `to the full path of the dglsp executable (or \`dglsp.server.python\` to a Python with dglsp installed).`;
    this.session.log.error(message);
    this.status.set('$(error) dglsp', message, true);
    const choice = await vscode.window.showErrorMessage(message, 'Open Settings', 'Show Log');
    if (choice === 'Open Settings') {
      await vscode.commands.executeCommand('workbench.action.openSettings', 'dglsp.server');
    } else if (choice === 'Show Log') {
      this.session.log.show();
    }
  }

  private reportFailed(text: string): void {
    const { log } = this.session;
    log.error(`dglsp: the server failed to start: ${text}`);
    this.status.set('$(error) dglsp', `The server failed to start: ${text}`, true);
    void vscode.window.showErrorMessage(`dglsp: the server failed to start: ${text}`, 'Show Log').then((x) => {
      if (x) log.show();
    });
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
