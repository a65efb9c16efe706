import * as vscode from 'vscode';
import { actionCommand, registerActions } from './actions';
import { ACTIONS, COMMANDS } from './contract';
import { Server } from './server';
import { Session } from './session';
import { affectsLaunch, affectsServer } from './settings';
import { StatsView } from './stats';
import { Status } from './status';
import { toggle } from './toggle';

/** Server commands registered here rather than by the client: the toggle (for its message) and the actions. */
const WRAPPED: ReadonlySet<string> = new Set([COMMANDS.toggle, ...ACTIONS.map(actionCommand)]);

// The one module-level reference: deactivate must wait for the server to stop, and gets no context.
let active: Server | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const log = vscode.window.createOutputChannel('dglsp', { log: true });
  const session = new Session(log);
  const status = new Status(session);
  const server = new Server(session, status, WRAPPED);
  const stats = new StatsView();
  active = server;

  context.subscriptions.push(
    log,
    status,
    stats.register(),
    ...registerActions(server),
    vscode.commands.registerCommand(COMMANDS.toggle, () => toggle(server, status)),
    vscode.commands.registerCommand('dglsp.showStats', () => stats.show(server, status, log)),
    vscode.commands.registerCommand('dglsp.restartServer', () => server.restart()),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (affectsLaunch(e)) {
        void server.restart();
        return;
      }
      if (affectsServer(e)) server.sendSettings();
      if (e.affectsConfiguration('dglsp')) status.pollSoon(500);
    }),
  );

  await server.start();
}

export async function deactivate(): Promise<void> {
  const server = active;
  active = undefined;
  await server?.stop();
}
