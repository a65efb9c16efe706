import * as vscode from 'vscode';
import { SERVER_SETTINGS } from './contract';

/** The server's settings as the user set them, for initializationOptions and didChangeConfiguration. */
export function serverSettings(): Record<string, unknown> {
  // Only values set explicitly: the defaults stay the server's, so dglsp.toml keeps working.
  const cfg = vscode.workspace.getConfiguration('dglsp');
  const out: Record<string, unknown> = {};
  for (const key of SERVER_SETTINGS) {
    const i = cfg.inspect(key);
    const value = i?.workspaceFolderValue ?? i?.workspaceValue ?? i?.globalValue;
    if (value !== undefined) out[key] = value;
  }
  return out;
}

/** Whether a change touches how the server is started (`dglsp.server.*`): only a restart applies it. */
export function affectsLaunch(e: vscode.ConfigurationChangeEvent): boolean {
  return e.affectsConfiguration('dglsp.server');
}

/** Whether a change touches a setting the server reads. */
export function affectsServer(e: vscode.ConfigurationChangeEvent): boolean {
  return SERVER_SETTINGS.some((key) => e.affectsConfiguration(`dglsp.${key}`));
}
