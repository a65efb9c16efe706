import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';
import { REQUESTS, type StatsReport } from './contract';
import type { Session } from './session';

/** The status bar item: what the server is doing, kept fresh by polling `dglsp/stats`. */
export class Status implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('dglsp.status', vscode.StatusBarAlignment.Right, 100);
  private readonly focus: vscode.Disposable;
  private timer: NodeJS.Timeout | undefined;
  private last: StatsReport | undefined;
  private notice: string | undefined;

  constructor(private readonly session: Session) {
    this.item.name = 'dglsp';
    this.item.command = 'dglsp.showStats';
    this.starting();
    this.item.show();
    // Polling pauses while the window is unfocused; catch up as soon as the user is back.
    this.focus = vscode.window.onDidChangeWindowState((s) => {
      if (s.focused) this.pollSoon(0);
    });
  }

  set(text: string, tooltip: string | vscode.MarkdownString, error = false): void {
    this.item.text = text;
    this.item.tooltip = tooltip;
    this.item.backgroundColor = error ? new vscode.ThemeColor('statusBarItem.errorBackground') : undefined;
  }

  /** A line the tooltip keeps under the server's state (undefined: none), e.g. that the server was restarted. */
  note(line: string | undefined): void {
    this.notice = line;
  }

  starting(): void {
    this.set('$(sync~spin) dglsp', 'dglsp: starting the server');
  }

  /** Ask the server for its state after `delayMs`, replacing any poll already planned. */
  pollSoon(delayMs: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.poll(), delayMs);
  }

  show(stats: StatsReport): void {
    this.last = stats;
    const { model } = stats;
    const enabled = stats.settings.enabled !== false;
    const inline = stats.latency.inline;
    const tip = new vscode.MarkdownString(undefined, true);
    tip.appendMarkdown(`**dglsp ${stats.version}** — model ${model.state}`);
    if (model.path) tip.appendMarkdown(`\n\n$(file) \`${model.path}\``);
    if (model.device) {
      tip.appendMarkdown(`\n\n$(chip) ${model.device}${model.load_ms ? `, loaded in ${Math.round(model.load_ms)} ms` : ''}`);
    }
    if (inline) tip.appendMarkdown(`\n\ninline: p50 ${inline.p50_ms} ms, p95 ${inline.p95_ms} ms (n=${inline.n})`);
    const hidden = stats.counts.inline?.low_confidence ?? 0;
    if (hidden) {
      tip.appendMarkdown(`\n\n$(eye-closed) ${hidden} suggestion${hidden > 1 ? 's' : ''} not shown: the model was not confident (\`dglsp.minConfidence\`; Alt+\\ asks anyway)`);
    }
    if (model.error) tip.appendMarkdown(`\n\n$(error) ${model.error}`);
    if (this.notice) tip.appendMarkdown(`\n\n${this.notice}`);
    if (!enabled) tip.appendMarkdown('\n\nCompletions are off ("dglsp: Toggle completions").');
    tip.appendMarkdown('\n\nClick for statistics.');
    switch (model.state) {
      case 'loading':
      case 'idle':
        this.set(`$(sync~spin) dglsp: ${model.state === 'idle' ? 'starting' : 'loading'}`, tip);
        return;
      case 'error':
        this.set('$(error) dglsp: model error', tip, true);
        return;
    }
    const parts = [model.device || 'ready'];
    if (inline) parts.push(`${Math.round(inline.p50_ms)} ms`);
    this.set(`${enabled ? '$(sparkle)' : '$(circle-slash)'} dglsp${enabled ? '' : ' off'}: ${parts.join(' · ')}`, tip);
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    this.focus.dispose();
    this.item.dispose();
  }

  private async poll(): Promise<void> {
    this.timer = undefined;
    const seconds = vscode.workspace.getConfiguration('dglsp').get<number>('statusPollSeconds') ?? 5;
    const c = this.session.client;
    if (c?.isRunning()) {
      try {
        this.show(await requestStats(c));
      } catch (err) {
        this.session.log.debug(`${REQUESTS.stats}: ${String(err)}`);
      }
    }
    if (!c) return; // no server: the next start polls again
    // While the model loads, poll fast (and unfocused too) so the bar shows when it is ready.
    const loading = this.last?.model.state === 'loading' || this.last?.model.state === 'idle';
    if (seconds > 0 && (vscode.window.state.focused || loading)) {
      this.pollSoon(loading ? Math.min(1000, seconds * 1000) : seconds * 1000);
    }
  }
}

/** `dglsp/stats`, with a time limit. Params are sent as null: the server's JSON-RPC layer (pygls) fails on a
 *  request that has no `params` member and never answers it. */
export async function requestStats(c: LanguageClient, timeoutMs = 10000): Promise<StatsReport> {
  const cancel = new vscode.CancellationTokenSource();
  const timer = setTimeout(() => cancel.cancel(), timeoutMs);
  try {
    return await c.sendRequest<StatsReport>(REQUESTS.stats, null, cancel.token);
  } finally {
    clearTimeout(timer);
    cancel.dispose();
  }
}
