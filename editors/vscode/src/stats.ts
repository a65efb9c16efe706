import * as vscode from 'vscode';
import type { StatsReport } from './contract';
import type { Server } from './server';
import { requestStats, type Status } from './status';

const SCHEME = 'dglsp-stats';
const URI = vscode.Uri.parse(`${SCHEME}:dglsp%20stats.md`);

/** The read-only "dglsp stats" document that "dglsp: Show statistics" opens beside the editor. */
export class StatsView implements vscode.TextDocumentContentProvider {
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changed.event;
  private text = '';

  register(): vscode.Disposable {
    return vscode.Disposable.from(this.changed, vscode.workspace.registerTextDocumentContentProvider(SCHEME, this));
  }

  provideTextDocumentContent(): string {
    return this.text;
  }

  async show(server: Server, status: Status, log: vscode.LogOutputChannel): Promise<void> {
    const c = server.running();
    if (!c) {
      log.show();
      return;
    }
    const stats = await requestStats(c);
    status.show(stats);
    this.text = markdown(stats);
    this.changed.fire(URI);
    const opened = await vscode.workspace.openTextDocument(URI);
    await vscode.languages.setTextDocumentLanguage(opened, 'markdown');
    await vscode.window.showTextDocument(opened, { preview: true, viewColumn: vscode.ViewColumn.Beside });
  }
}

function markdown(stats: StatsReport): string {
  const { model } = stats;
  return [
    `# dglsp ${stats.version}`,
    '',
    `- model: **${model.state}** ${model.path ? `\`${model.path}\`` : ''}`,
    `- device: ${model.device || '-'}; load: ${model.load_ms ? `${Math.round(model.load_ms)} ms` : '-'}; generation ${model.generation}`,
    ...(model.error ? [`- error: ${model.error}`] : []),
    `- completions: ${stats.settings.enabled === false ? 'off' : 'on'}; worker pending: ${stats.worker_pending}`,
    '',
    '## Latency',
    '',
    '| feature | n | p50 ms | p95 ms | max ms |',
    '|---|---:|---:|---:|---:|',
    ...Object.entries(stats.latency).map(([f, l]) => `| ${f} | ${l.n} | ${l.p50_ms} | ${l.p95_ms} | ${l.max_ms} |`),
    '',
    '## Counts',
    '',
    ...Object.entries(stats.counts).map(
      ([f, counts]) => `- **${f}**: ${Object.entries(counts).map(([k, v]) => `${k} ${v}`).join(', ')}`,
    ),
    '',
    '## Raw',
    '',
    '```json',
    JSON.stringify(stats, null, 2),
    '```',
    '',
  ].join('\n');
}
