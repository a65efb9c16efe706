import * as vscode from 'vscode';
import type { Status } from './status';

/** Restarts allowed within WINDOW_MS before the extension gives up (the same as vscode-languageclient's own
 *  default: a server that crashes a fifth time within three minutes would only crash again). */
export const MAX_RESTARTS = 4;
export const WINDOW_MS = 3 * 60 * 1000;

const RESTART = 'Restart server';

export interface Verdict {
  restart: boolean;
  /** What happened, for the log (the language client writes it there). */
  message: string;
}

/**
 * The restart policy for a server that died without being asked to stop (a segfault in a native library, the
 * OOM killer, `kill -9`): restart it a few times, each one said in the status bar; past the limit leave it
 * stopped, and tell the user with a "Restart server" button. It only decides and tells; Server restarts.
 */
export class Restarts {
  private stops: number[] = [];

  constructor(
    private readonly log: vscode.LogOutputChannel,
    private readonly status: Status,
    private readonly limit = MAX_RESTARTS,
    private readonly windowMs = WINDOW_MS,
  ) {}

  /** Count an unexpected stop and say whether to restart. */
  stopped(): Verdict {
    const now = Date.now();
    this.stops = this.stops.filter((t) => now - t < this.windowMs);
    this.stops.push(now);
    const n = this.stops.length;
    const at = new Date(now).toLocaleTimeString();
    const minutes = Math.round(this.windowMs / 60000);
    if (n <= this.limit) {
      const text = `dglsp: server stopped unexpectedly, restarting (${n}/${this.limit})`;
      this.status.set(`$(sync~spin) ${text}`, `The dglsp server stopped at ${at} without being asked to; it is being restarted. Its log says why.`);
      // Kept in the tooltip after the restart: the text goes back to the model's state once the server answers.
      this.status.note(`$(debug-restart) The server stopped unexpectedly at ${at} and was restarted (${n} of ${this.limit} restarts allowed in ${minutes} minutes).`);
      return { restart: true, message: text };
    }
    const message = `dglsp: the server stopped unexpectedly ${n} times in ${minutes} minutes, so it was not restarted again. Its log says why.`;
    this.status.set('$(error) dglsp: server stopped', `${message} Run "dglsp: Restart server" to start it again.`, true);
    void vscode.window.showErrorMessage(message, RESTART, 'Show Log').then((choice) => {
      // The command, not a call: its restart also starts the count afresh (Server.restart).
      if (choice === RESTART) void vscode.commands.executeCommand('dglsp.restartServer');
      else if (choice) this.log.show();
    });
    return { restart: false, message };
  }

  /** The user restarted the server (or changed how it starts): earlier crashes no longer count. */
  reset(): void {
    this.stops = [];
    this.status.note(undefined);
  }
}
