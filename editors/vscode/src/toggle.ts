import * as vscode from 'vscode';
import { ExecuteCommandRequest } from 'vscode-languageclient/node';
import { COMMANDS } from './contract';
import type { Server } from './server';
import type { Status } from './status';

/** `dglsp.toggle` runs on the server; wrapped here to tell the user the new state and refresh the status bar. */
export async function toggle(server: Server, status: Status): Promise<void> {
  const c = server.running();
  if (!c) return;
  const result = await c.sendRequest(ExecuteCommandRequest.type, { command: COMMANDS.toggle, arguments: [] });
  const enabled = (result as { enabled?: boolean } | null)?.enabled;
  void vscode.window.setStatusBarMessage(`dglsp: completions ${enabled ? 'on' : 'off'}`, 3000);
  status.pollSoon(0);
}
