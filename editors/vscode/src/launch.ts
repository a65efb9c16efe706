import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';

/** How to start the server, and which setting chose it (named in the error when it is missing). */
export interface Launch {
  command: string;
  args: string[];
  setting: 'dglsp.server.python' | 'dglsp.server.command';
}

export function launchFromSettings(): Launch {
  const cfg = vscode.workspace.getConfiguration('dglsp.server');
  const python = (cfg.get<string>('python') ?? '').trim();
  if (python) {
    return { command: python, args: ['-m', 'dglsp', '--stdio'], setting: 'dglsp.server.python' };
  }
  const command = (cfg.get<string>('command') ?? 'dglsp').trim() || 'dglsp';
  return { command, args: cfg.get<string[]>('args') ?? ['--stdio'], setting: 'dglsp.server.command' };
}

/** The executable a command name resolves to, or undefined when it is not there (PATH lookup, as spawn does).
 *  Looked up first so that a missing server gets a message saying how to install it, not a spawn error. */
export function findExecutable(command: string): string | undefined {
  const expanded = command.replace(/^~(?=$|[/\\])/, process.env.HOME ?? '~');
  const exts = process.platform === 'win32' ? ['', ...(process.env.PATHEXT ?? '.EXE;.CMD;.BAT').split(';')] : [''];
  if (expanded.includes('/') || expanded.includes('\\')) {
    const base = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ?? process.cwd();
    const full = path.resolve(base, expanded);
    return exts.map((e) => full + e).find(isFile);
  }
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const hit = exts.map((e) => path.join(dir, expanded + e)).find(isFile);
    if (hit) return hit;
  }
  return undefined;
}

function isFile(p: string): boolean {
  try {
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}
