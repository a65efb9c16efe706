import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import {
  CodeAction as LspCodeAction,
  CodeActionRequest,
  CodeActionResolveRequest,
  CodeActionTriggerKind,
  Command as LspCommand,
  DidChangeConfigurationNotification,
  ExecuteCommandRequest,
  LanguageClient,
  LanguageClientOptions,
  ResponseError,
  ServerOptions,
  State,
  TextDocumentEdit,
  WorkspaceEdit as LspWorkspaceEdit,
} from 'vscode-languageclient/node';

const LANGUAGES = [
  'python',
  'javascript',
  'typescript',
  'typescriptreact',
  'javascriptreact',
  'go',
  'rust',
  'java',
  'c',
  'cpp',
  'lua',
];

/** Keys of the `dglsp` section that the server knows (everything else is the extension's own). */
const SERVER_KEYS = [
  'model',
  'device',
  'dtype',
  'quantize',
  'decoder',
  'allowPickle',
  'trustRemoteCode',
  'sampler',
  'enabled',
  'languages',
  'debounceMs',
  'lineTokens',
  'maxTokens',
  'multiline',
  'parseTrim',
  'logLevel',
  'threads',
];

/** Server commands this extension wraps itself, so the client must not register them as VS Code commands. */
const OWN_COMMANDS = new Set(['dglsp.toggle']);

const REWRITE = 'refactor.rewrite';
const CONTENT_MODIFIED = -32801;

interface Latency {
  n: number;
  p50_ms: number;
  p95_ms: number;
  max_ms: number;
}

interface Stats {
  version: string;
  model: { state: string; path: string; device: string; error: string; load_ms: number; generation: number };
  settings: Record<string, unknown>;
  worker_pending: number;
  latency: Record<string, Latency>;
  counts: Record<string, Record<string, number>>;
}

let client: LanguageClient | undefined;
let log: vscode.LogOutputChannel;
let statusItem: vscode.StatusBarItem;
let pollTimer: NodeJS.Timeout | undefined;
let lastStats: Stats | undefined;
let starting: Promise<void> | undefined;

class StatsDocument implements vscode.TextDocumentContentProvider {
  static readonly scheme = 'dglsp-stats';
  static readonly uri = vscode.Uri.parse(`${StatsDocument.scheme}:dglsp%20stats.md`);
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changed.event;
  text = '';
  update(text: string): void {
    this.text = text;
    this.changed.fire(StatsDocument.uri);
  }
  provideTextDocumentContent(): string {
    return this.text;
  }
}

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  log = vscode.window.createOutputChannel('dglsp', { log: true });
  statusItem = vscode.window.createStatusBarItem('dglsp.status', vscode.StatusBarAlignment.Right, 100);
  statusItem.name = 'dglsp';
  statusItem.command = 'dglsp.showStats';
  setStatus('$(sync~spin) dglsp', 'dglsp: starting the server');
  statusItem.show();
  const statsDoc = new StatsDocument();

  context.subscriptions.push(
    log,
    statusItem,
    vscode.workspace.registerTextDocumentContentProvider(StatsDocument.scheme, statsDoc),
    vscode.commands.registerCommand('dglsp.rewriteSelection', () => runAction('rewrite')),
    vscode.commands.registerCommand('dglsp.fillHoles', () => runAction('holes')),
    vscode.commands.registerCommand('dglsp.completeBody', () => runAction('body')),
    vscode.commands.registerCommand('dglsp.toggle', toggle),
    vscode.commands.registerCommand('dglsp.showStats', () => showStats(statsDoc)),
    vscode.commands.registerCommand('dglsp.restartServer', restart),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration('dglsp.server')) {
        void restart();
      } else if (e.affectsConfiguration('dglsp')) {
        void client?.sendNotification(DidChangeConfigurationNotification.type, {
          settings: { dglsp: serverSettings() },
        });
        schedulePoll(500);
      }
    }),
    vscode.window.onDidChangeWindowState((s) => {
      if (s.focused) schedulePoll(0);
    }),
    { dispose: () => pollTimer && clearTimeout(pollTimer) },
  );

  await start();
}

export async function deactivate(): Promise<void> {
  if (pollTimer) clearTimeout(pollTimer);
  const c = client;
  client = undefined;
  await c?.stop();
}

// --- server process ------------------------------------------------------------------------------------------

interface Launch {
  command: string;
  args: string[];
  setting: string;
}

function launchFromSettings(): Launch {
  const cfg = vscode.workspace.getConfiguration('dglsp.server');
  const python = (cfg.get<string>('python') ?? '').trim();
  if (python) {
    return { command: python, args: ['-m', 'dglsp', '--stdio'], setting: 'dglsp.server.python' };
  }
  const command = (cfg.get<string>('command') ?? 'dglsp').trim() || 'dglsp';
  return { command, args: cfg.get<string[]>('args') ?? ['--stdio'], setting: 'dglsp.server.command' };
}

/** The executable a command name resolves to, or undefined when it is not there (PATH lookup, as spawn does). */
function findExecutable(command: string): string | undefined {
  const expanded = command.replace(/^~(?=$|[/\\])/, process.env.HOME ?? '~');
  const exts = process.platform === 'win32' ? ['', ...(process.env.PATHEXT ?? '.EXE;.CMD;.BAT').split(';')] : [''];
  const isFile = (p: string) => {
    try {
      return fs.statSync(p).isFile();
    } catch {
      return false;
    }
  };
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

async function reportMissing(launch: Launch, detail?: string): Promise<void> {
  const what = launch.setting === 'dglsp.server.python' ? `the Python interpreter "${launch.command}"` : `"${launch.command}"`;
  const message =
    `dglsp: cannot start the language server: ${what} was not found${detail ? ` (${detail})` : ''}. ` +
    `Install it with \`pip install dglsp\` (into a Python on your PATH), or set \`dglsp.server.command\` ` +
    `to the full path of the dglsp executable (or \`dglsp.server.python\` to a Python with dglsp installed).`;
  log.error(message);
  setStatus('$(error) dglsp', message, true);
  const choice = await vscode.window.showErrorMessage(message, 'Open Settings', 'Show Log');
  if (choice === 'Open Settings') {
    await vscode.commands.executeCommand('workbench.action.openSettings', 'dglsp.server');
  } else if (choice === 'Show Log') {
    log.show();
  }
}

function serverSettings(): Record<string, unknown> {
  // Only what the user set explicitly: the defaults stay the server's, and dglsp.toml keeps working.
  const cfg = vscode.workspace.getConfiguration('dglsp');
  const out: Record<string, unknown> = {};
  for (const key of SERVER_KEYS) {
    const i = cfg.inspect(key);
    const value = i?.workspaceFolderValue ?? i?.workspaceValue ?? i?.globalValue;
    if (value !== undefined) out[key] = value;
  }
  return out;
}

async function start(): Promise<void> {
  if (starting) return starting;
  starting = doStart().finally(() => {
    starting = undefined;
  });
  return starting;
}

async function doStart(): Promise<void> {
  const launch = launchFromSettings();
  const executable = findExecutable(launch.command);
  if (!executable) {
    await reportMissing(launch);
    return;
  }
  log.info(`starting ${executable} ${launch.args.join(' ')}`);
  const serverOptions: ServerOptions = { command: executable, args: launch.args };
  const clientOptions: LanguageClientOptions = {
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
        // Settings go out through serverSettings() (onDidChangeConfiguration above): the section also holds
        // the extension's own keys, which the server would refuse as unknown.
        didChangeConfiguration: () => Promise.resolve(),
      },
    },
  };
  const c = new LanguageClient('dglsp', 'dglsp', serverOptions, clientOptions);
  hideOwnCommands(c);
  c.onDidChangeState((e) => {
    if (e.newState === State.Stopped && client === c) {
      setStatus('$(error) dglsp: stopped', 'The dglsp server stopped. Click for details; run "dglsp: Restart server".', true);
    }
  });
  client = c;
  try {
    await c.start();
  } catch (err) {
    client = undefined;
    const text = err instanceof Error ? err.message : String(err);
    if (/ENOENT|EACCES|spawn/i.test(text)) {
      await reportMissing(launch, text);
    } else {
      log.error(`dglsp: the server failed to start: ${text}`);
      setStatus('$(error) dglsp', `The server failed to start: ${text}`, true);
      void vscode.window.showErrorMessage(`dglsp: the server failed to start: ${text}`, 'Show Log').then((x) => {
        if (x) log.show();
      });
    }
    return;
  }
  schedulePoll(0);
}

/** Keep the client from registering VS Code commands for server commands this extension owns (id clash). */
function hideOwnCommands(c: LanguageClient): void {
  const feature = c.getFeature(ExecuteCommandRequest.method);
  const initialize = feature.initialize.bind(feature);
  feature.initialize = (capabilities, selector) => {
    const provider = capabilities.executeCommandProvider;
    if (provider) {
      capabilities = {
        ...capabilities,
        executeCommandProvider: { ...provider, commands: provider.commands.filter((x) => !OWN_COMMANDS.has(x)) },
      };
    }
    initialize(capabilities, selector);
  };
}

async function restart(): Promise<void> {
  const c = client;
  client = undefined;
  if (c) {
    try {
      await c.stop();
    } catch (err) {
      log.warn(`stopping the server: ${String(err)}`);
    }
  }
  setStatus('$(sync~spin) dglsp', 'dglsp: starting the server');
  await start();
}

function running(): LanguageClient | undefined {
  if (client?.isRunning()) return client;
  void vscode.window.showWarningMessage('dglsp: the language server is not running.', 'Restart', 'Show Log').then((x) => {
    if (x === 'Restart') void restart();
    else if (x) log.show();
  });
  return undefined;
}

// --- status bar ----------------------------------------------------------------------------------------------

function setStatus(text: string, tooltip: string | vscode.MarkdownString, error = false): void {
  statusItem.text = text;
  statusItem.tooltip = tooltip;
  statusItem.backgroundColor = error ? new vscode.ThemeColor('statusBarItem.errorBackground') : undefined;
}

function schedulePoll(delayMs: number): void {
  if (pollTimer) clearTimeout(pollTimer);
  pollTimer = setTimeout(() => void poll(), delayMs);
}

async function poll(): Promise<void> {
  pollTimer = undefined;
  const seconds = vscode.workspace.getConfiguration('dglsp').get<number>('statusPollSeconds') ?? 5;
  const c = client;
  if (c?.isRunning()) {
    try {
      renderStatus(await requestStats(c));
    } catch (err) {
      log.debug(`dglsp/stats: ${String(err)}`);
    }
  }
  if (!c) return;
  const loading = lastStats?.model.state === 'loading' || lastStats?.model.state === 'idle';
  if (seconds > 0 && (vscode.window.state.focused || loading)) {
    schedulePoll(loading ? Math.min(1000, seconds * 1000) : seconds * 1000);
  }
}

/** `dglsp/stats`, with a time limit. Params are sent as null: the server's JSON-RPC layer (pygls) fails on a
 *  request that has no `params` member and never answers it. */
async function requestStats(c: LanguageClient, timeoutMs = 10000): Promise<Stats> {
  const cancel = new vscode.CancellationTokenSource();
  const timer = setTimeout(() => cancel.cancel(), timeoutMs);
  try {
    return await c.sendRequest<Stats>('dglsp/stats', null, cancel.token);
  } finally {
    clearTimeout(timer);
    cancel.dispose();
  }
}

function renderStatus(stats: Stats): void {
  lastStats = stats;
  const { model } = stats;
  const enabled = stats.settings.enabled !== false;
  const inline = stats.latency.inline;
  const tip = new vscode.MarkdownString(undefined, true);
  tip.appendMarkdown(`**dglsp ${stats.version}** — model ${model.state}`);
  if (model.path) tip.appendMarkdown(`\n\n$(file) \`${model.path}\``);
  if (model.device) tip.appendMarkdown(`\n\n$(chip) ${model.device}${model.load_ms ? `, loaded in ${Math.round(model.load_ms)} ms` : ''}`);
  if (inline) tip.appendMarkdown(`\n\ninline: p50 ${inline.p50_ms} ms, p95 ${inline.p95_ms} ms (n=${inline.n})`);
  if (model.error) tip.appendMarkdown(`\n\n$(error) ${model.error}`);
  if (!enabled) tip.appendMarkdown('\n\nCompletions are off ("dglsp: Toggle completions").');
  tip.appendMarkdown('\n\nClick for statistics.');
  switch (model.state) {
    case 'loading':
    case 'idle':
      setStatus(`$(sync~spin) dglsp: ${model.state === 'idle' ? 'starting' : 'loading'}`, tip);
      return;
    case 'error':
      setStatus('$(error) dglsp: model error', tip, true);
      return;
  }
  const parts = [model.device || 'ready'];
  if (inline) parts.push(`${Math.round(inline.p50_ms)} ms`);
  setStatus(`${enabled ? '$(sparkle)' : '$(circle-slash)'} dglsp${enabled ? '' : ' off'}: ${parts.join(' · ')}`, tip);
}

// --- commands ------------------------------------------------------------------------------------------------

async function toggle(): Promise<void> {
  const c = running();
  if (!c) return;
  const result = await c.sendRequest(ExecuteCommandRequest.type, { command: 'dglsp.toggle', arguments: [] });
  const enabled = (result as { enabled?: boolean } | null)?.enabled;
  void vscode.window.setStatusBarMessage(`dglsp: completions ${enabled ? 'on' : 'off'}`, 3000);
  schedulePoll(0);
}

async function showStats(doc: StatsDocument): Promise<void> {
  const c = running();
  if (!c) {
    log.show();
    return;
  }
  const stats = await requestStats(c);
  renderStatus(stats);
  const lines = [
    `# dglsp ${stats.version}`,
    '',
    `- model: **${stats.model.state}** ${stats.model.path ? `\`${stats.model.path}\`` : ''}`,
    `- device: ${stats.model.device || '-'}; load: ${stats.model.load_ms ? `${Math.round(stats.model.load_ms)} ms` : '-'}; generation ${stats.model.generation}`,
    ...(stats.model.error ? [`- error: ${stats.model.error}`] : []),
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
  ];
  doc.update(lines.join('\n'));
  const opened = await vscode.workspace.openTextDocument(StatsDocument.uri);
  await vscode.languages.setTextDocumentLanguage(opened, 'markdown');
  await vscode.window.showTextDocument(opened, { preview: true, viewColumn: vscode.ViewColumn.Beside });
}

type ActionKind = 'rewrite' | 'holes' | 'body';

const ACTION_TITLES: Record<ActionKind, (title: string) => boolean> = {
  rewrite: (t) => t === 'dglsp: Rewrite selection',
  holes: (t) => /^dglsp: Fill \d+ holes?$/.test(t),
  body: (t) => t === 'dglsp: Complete body',
};

const NOT_OFFERED: Record<ActionKind, string> = {
  rewrite: 'select some code first',
  holes: 'no holes (`...`, `pass`, TODO comments, `todo!()`, ...) in the enclosing function',
  body: 'the cursor is not in a function with an empty or stub body',
};

async function runAction(kind: ActionKind): Promise<void> {
  const editor = vscode.window.activeTextEditor;
  if (!editor) return;
  const c = running();
  if (!c) return;
  const document = editor.document;
  const selection = editor.selection;
  const version = document.version;
  const params = {
    textDocument: c.code2ProtocolConverter.asTextDocumentIdentifier(document),
    range: c.code2ProtocolConverter.asRange(selection),
    context: { diagnostics: [], only: [REWRITE], triggerKind: CodeActionTriggerKind.Invoked },
  };
  const listed = (await c.sendRequest(CodeActionRequest.type, params)) ?? [];
  const action = listed.find((a): a is LspCodeAction => LspCodeAction.is(a) && ACTION_TITLES[kind](a.title));
  if (!action) {
    void vscode.window.showInformationMessage(`dglsp: nothing to do here: ${NOT_OFFERED[kind]}.`);
    return;
  }
  let resolved: LspCodeAction;
  try {
    resolved = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: action.title, cancellable: true },
      async (_progress, token) =>
        action.edit || action.command ? action : await c.sendRequest(CodeActionResolveRequest.type, action, token),
    );
  } catch (err) {
    if (err instanceof ResponseError && err.code === CONTENT_MODIFIED) {
      void vscode.window.showWarningMessage(`dglsp: ${err.message}`);
    } else if (!(err instanceof ResponseError && err.code === -32800)) {
      // -32800: cancelled by the user
      void vscode.window.showErrorMessage(`dglsp: ${action.title.replace(/^dglsp: /, '')} failed: ${String(err)}`);
    }
    return;
  }
  if (resolved.edit) {
    await applyVersioned(c, resolved.edit, document, version);
  } else if (resolved.command && LspCommand.is(resolved.command)) {
    await c.sendRequest(ExecuteCommandRequest.type, {
      command: resolved.command.command,
      arguments: resolved.command.arguments,
    });
  } else {
    void vscode.window.showInformationMessage('dglsp: the model proposed no change.');
  }
}

async function applyVersioned(
  c: LanguageClient,
  edit: LspWorkspaceEdit,
  document: vscode.TextDocument,
  listedAt: number,
): Promise<void> {
  // The protocol converter drops document versions; check them here so a stale edit is never applied.
  for (const change of edit.documentChanges ?? []) {
    if (!TextDocumentEdit.is(change) || change.textDocument.version === null) continue;
    const uri = c.protocol2CodeConverter.asUri(change.textDocument.uri).toString();
    const open = vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri);
    if (open && open.version !== change.textDocument.version) {
      void vscode.window.showWarningMessage('dglsp: the document changed while the model ran; run the command again.');
      return;
    }
  }
  if (document.version !== listedAt && !edit.documentChanges) {
    void vscode.window.showWarningMessage('dglsp: the document changed while the model ran; run the command again.');
    return;
  }
  const converted = await c.protocol2CodeConverter.asWorkspaceEdit(edit);
  if (!converted || converted.size === 0) {
    void vscode.window.showInformationMessage('dglsp: the model proposed no change.');
    return;
  }
  const ok = await vscode.workspace.applyEdit(converted);
  if (!ok) void vscode.window.showWarningMessage('dglsp: VS Code refused the edit (the document changed?).');
}
