import * as vscode from 'vscode';
import { DidChangeConfigurationNotification, type LanguageClient, State } from 'vscode-languageclient/node';
import { DglspClient } from './client';
import { findExecutable, type Launch, launchFromSettings } from './launch';
import { Restarts } from './restarts';
import type { Session } from './session';
import { serverSettings } from './settings';
import type { Status } from './status';

/** The language server's lifecycle: start, restart and stop of the client, restarts after the server died
 *  (as Restarts decides), and what the user is told when it cannot run. */
export class Server {
  private starting: Promise<void> | undefined;
  private readonly restarts: Restarts;

  /** `wrapped`: server commands the extension registers itself, which the client must not register too. */
  constructor(
    private readonly session: Session,
    private readonly status: Status,
    private readonly wrapped: ReadonlySet<string>,
  ) {
    this.restarts = new Restarts(session.log, status);
  }

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
    // A client whose server died or never started has nothing to stop (and would throw saying so).
    if (!c || c.state === State.Stopped || c.state === State.StartFailed) return;
    try {
      await c.stop();
    } catch (err) {
      this.session.log.warn(`stopping the server: ${String(err)}`);
    }
  }

  /** The user's restart (the command, the "Restart server" buttons, a changed launch setting). */
  async restart(): Promise<void> {
    this.restarts.reset();
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
    const c = new DglspClient(executable, launch.args, log, this.wrapped, (dead) => this.died(dead));
    c.onDidChangeState((e) => {
      if (this.session.client !== c) return;
      // The pid, so that a user (or a test) can tell this server from the one before a restart.
      if (e.newState === State.Running) log.info(`server running, pid ${c.serverProcess?.pid ?? '?'}`);
      if (e.newState === State.Stopped && !c.crashed) {
        this.status.set('$(error) dglsp: stopped', 'The dglsp server stopped. Click for details; run "dglsp: Restart server".', true);
      }
    });
    this.session.client = c;
    try {
      await c.start();
    } catch (err) {
      if (c.crashed) return; // it died while starting: the restart policy has already said so and acted
      this.session.client = undefined;
      const text = err instanceof Error ? err.message : String(err);
      if (/ENOENT|EACCES|spawn/i.test(text)) await this.reportMissing(launch, text);
      else this.reportFailed(text);
      return;
    }
    this.status.pollSoon(0);
  }

  /** `c`'s server went away without a stop from here (its connection closed or broke). Returns what to log. */
  private died(c: DglspClient): string | undefined {
    if (this.session.client !== c) return undefined; // a client already replaced: its server is not ours now
    const verdict = this.restarts.stopped();
    // After the dead client's own clean-up, which runs as soon as this returns (its commands and providers go
    // before the new client registers the same ones).
    if (verdict.restart) setTimeout(() => void this.relaunch(c), 0);
    return verdict.message;
  }

  /** A fresh client for a dead one. Its start re-sends didOpen with the current text of every open document,
   *  so the new server sees what the user typed while there was none. */
  private async relaunch(dead: DglspClient): Promise<void> {
    await this.starting; // a server that died while starting: let that start finish failing first
    if (this.session.client !== dead) return; // the user restarted or stopped it meanwhile
    this.session.client = undefined;
    await this.start();
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
