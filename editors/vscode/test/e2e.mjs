// End-to-end tests in a real editor: code-server (VS Code 1.100) driven by headless Chromium through playwright-core.
//
//   npm run e2e             # ghost text accepted with Tab, Ctrl+. lists and runs "Rewrite selection", stats;
//                           # then the server killed (SIGKILL) mid-fill: restarted, resynchronised, then given up on
//   DGLSP_E2E_CRASH=1 npm run e2e     # only the kill scenario
//   npm run e2e:throwaway   # an action added to a copy of the server works in the unchanged extension
//   DGLSP_E2E_MISSING=1 npm run e2e   # the error shown when the server command is missing
//
// Each scenario builds a .vsix, installs it into a throw-away code-server profile and opens a Python fixture.
// Screenshots go to test/artifacts/. Needs: Debian's chromium (apt-get install -y chromium libkrb5-dev pkg-config
// ripgrep) and code-server 4.100.3, which this script installs into $DGLSP_E2E_CACHE (default
// ~/.cache/dglsp-e2e) once. The server: DGLSP_SERVER (default: ../../.venv/bin/dglsp if present, else `dglsp`
// on PATH); the throwaway scenario runs ../../.venv/bin/python -m dglsp on the copy.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const extDir = path.resolve(here, '..');
const repo = path.resolve(extDir, '..', '..');
const artifacts = path.join(here, 'artifacts');
const cache = process.env.DGLSP_E2E_CACHE ?? path.join(os.homedir(), '.cache', 'dglsp-e2e');
const browserPath = process.env.CHROMIUM ?? '/usr/bin/chromium';
const timeoutMs = Number(process.env.DGLSP_E2E_TIMEOUT_MS ?? 180000);
const venvPython = path.join(repo, '.venv', 'bin', 'python');
const venvServer = path.join(repo, '.venv', 'bin', 'dglsp');
const server = process.env.DGLSP_SERVER ?? (fs.existsSync(venvServer) ? venvServer : 'dglsp');
const keep = Boolean(process.env.DGLSP_E2E_KEEP);

const log = (...a) => console.log('[e2e]', ...a);
fs.mkdirSync(artifacts, { recursive: true });

// --- setup shared by the scenarios ---------------------------------------------------------------------------

function sh(cmd, args, opts = {}) {
  log('$', cmd, args.join(' '));
  execFileSync(cmd, args, { stdio: 'inherit', ...opts });
}

function installCodeServer() {
  const bin = path.join(cache, 'node_modules', '.bin', 'code-server');
  if (fs.existsSync(bin)) return bin;
  fs.mkdirSync(cache, { recursive: true });
  const tmp = process.env.TMPDIR ?? os.tmpdir();
  const rgCache = path.join(tmp, 'vscode-ripgrep-cache-1.15.11');
  fs.mkdirSync(rgCache, { recursive: true });
  const rg = execFileSync('sh', ['-c', 'command -v rg']).toString().trim();
  // @vscode/ripgrep downloads from GitHub; give it Debian's rg as its cached download.
  sh('tar', ['czf', path.join(rgCache, 'ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz'), '-C', path.dirname(rg), 'rg']);
  fs.writeFileSync(path.join(cache, 'package.json'), '{"private":true}\n');
  sh('npm', ['install', 'code-server@4.100.3', '--foreground-scripts', '--no-audit', '--no-fund'], {
    cwd: cache,
    env: { ...process.env, npm_config_unsafe_perm: 'true', npm_config_yes: 'true' },
  });
  return bin;
}

/** Build the extension in `dir` and return its .vsix. */
function packageExtension(dir) {
  sh('npm', ['run', 'package'], { cwd: dir });
  const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
  return path.join(dir, `${pkg.name}-${pkg.version}.vsix`);
}

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function waitForPort(port, ms) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const ok = await new Promise((resolve) => {
      const c = net.connect(port, '127.0.0.1', () => {
        c.end();
        resolve(true);
      });
      c.on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`code-server did not listen on ${port}`);
}

/**
 * Install `vsix` into a fresh code-server profile with `settings`, open a project folder holding `files`
 * (name -> text) in headless Chromium, open the file `open`, and run `scenario({ page, shot, folder, codeServer })`
 * (`codeServer`: its pid, the root of the processes it starts).
 * `env` is added to code-server's environment (the extension host and the server inherit it). Returns whether
 * the scenario passed; everything it started is stopped and its temporary files removed.
 */
async function inEditor({ vsix, settings, files, open, env: extraEnv = {} }, scenario) {
  const codeServer = installCodeServer();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dglsp-e2e-'));
  const userData = path.join(tmp, 'user-data');
  const folder = path.join(tmp, 'project');
  fs.mkdirSync(path.join(userData, 'User'), { recursive: true });
  fs.mkdirSync(folder, { recursive: true });
  const editorSettings = {
    'security.workspace.trust.enabled': false,
    'workbench.startupEditor': 'none',
    'telemetry.telemetryLevel': 'off',
    'extensions.autoUpdate': false,
    'update.mode': 'none',
    'files.autoSave': 'off',
    'editor.inlineSuggest.enabled': true,
    'editor.quickSuggestions': { other: false, comments: false, strings: false },
    'editor.autoClosingBrackets': 'never',
    'dglsp.statusPollSeconds': 1,
    ...settings,
  };
  fs.writeFileSync(path.join(userData, 'User', 'settings.json'), JSON.stringify(editorSettings, null, 2));
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(folder, name), text);

  const env = {
    ...process.env,
    ...extraEnv,
    XDG_CONFIG_HOME: path.join(tmp, 'config'),
    XDG_DATA_HOME: path.join(tmp, 'data'),
  };
  const common = ['--user-data-dir', userData, '--extensions-dir', path.join(tmp, 'extensions')];
  sh(codeServer, [...common, '--install-extension', vsix], { env });

  const port = await freePort();
  const cs = spawn(
    codeServer,
    ['--bind-addr', `127.0.0.1:${port}`, '--auth', 'none', '--disable-telemetry', '--disable-update-check',
      '--disable-workspace-trust', ...common, folder],
    { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true },
  );
  const csLog = fs.createWriteStream(path.join(artifacts, 'code-server.log'));
  cs.stdout.pipe(csLog);
  cs.stderr.pipe(csLog);
  let browser;
  let page;
  const shot = async (name) => {
    if (page) await page.screenshot({ path: path.join(artifacts, `${name}.png`) }).catch(() => {});
  };
  try {
    await waitForPort(port, 30000);
    browser = await chromium.launch({
      executablePath: browserPath,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    page.setDefaultTimeout(60000);
    await page.goto(`http://127.0.0.1:${port}/?folder=${encodeURIComponent(folder)}`);
    await page.waitForSelector('.explorer-folders-view .monaco-list-row');
    await page.locator('.explorer-folders-view .monaco-list-row', { hasText: open }).click();
    await page.waitForSelector('.monaco-editor .view-lines');
    await shot('01-opened');
    await scenario({ page, shot, folder, codeServer: cs.pid });
    log('PASS');
    return true;
  } catch (err) {
    console.error('[e2e] FAIL:', err);
    await shot('99-failure');
    return false;
  } finally {
    await browser?.close().catch(() => {});
    try {
      process.kill(-cs.pid, 'SIGTERM');
    } catch {
      cs.kill('SIGTERM');
    }
    // The extension's output channel (its log and the server's stderr), kept with the screenshots.
    const outputs = fs.readdirSync(path.join(userData, 'logs'), { recursive: true }).filter((f) => f.endsWith('dglsp.log'));
    for (const f of outputs) fs.copyFileSync(path.join(userData, 'logs', f), path.join(artifacts, 'dglsp-output.log'));
    if (!keep) fs.rmSync(tmp, { recursive: true, force: true });
  }
}

// --- steps in the editor -------------------------------------------------------------------------------------

/** Wait for the status bar to say the model is ready (it loads on start-up, and after a restart). */
async function waitForModel(page) {
  const status = page.locator('.statusbar-item', { hasText: 'dglsp' }).first();
  await status.waitFor({ timeout: 30000 });
  const readyBy = Date.now() + timeoutMs;
  for (;;) {
    const text = (await status.innerText().catch(() => '')).trim();
    if (/error|stopped/.test(text) && !/restarting/.test(text)) throw new Error(`status bar: ${text}`);
    if (!/starting|loading/.test(text) && /dglsp.*:/.test(text)) {
      log('status bar:', JSON.stringify(text));
      return;
    }
    if (Date.now() > readyBy) throw new Error(`model not ready: ${text}`);
    await page.waitForTimeout(1000);
  }
}

/** Poll `check` every 50 ms until it returns something truthy (returned) or `ms` pass (an error naming `what`). */
async function until(what, check, ms = timeoutMs) {
  const by = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > by) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The pids of the live `dglsp --stdio` processes under `root` (code-server's process tree), from /proc: other
 *  dglsp servers on the machine (another editor, another test) are not ours to kill. */
function serverPids(root) {
  const procs = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
      const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const argv = fs.readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0');
      procs.push({ pid: Number(name), ppid: Number(ppid), state, argv });
    } catch {
      // it exited while we looked
    }
  }
  const under = new Set([root]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const p of procs) {
      if (!under.has(p.pid) && under.has(p.ppid)) {
        under.add(p.pid);
        grew = true;
      }
    }
  }
  const isServer = (argv) => argv.includes('--stdio') && argv.some((a) => a === server || path.basename(a) === 'dglsp');
  return procs.filter((p) => under.has(p.pid) && p.state !== 'Z' && isServer(p.argv)).map((p) => p.pid);
}

/** Record every text the dglsp status bar item shows from now on (a MutationObserver in the page), so a text
 *  that is shown only briefly (e.g. while the server restarts) is not missed. Returns a reader of the list. */
async function recordStatus(page) {
  /* global window, document, MutationObserver -- this function runs in the page */
  await page.evaluate(() => {
    const seen = [];
    window.dglspStatus = seen;
    const read = () => {
      const item = [...document.querySelectorAll('.statusbar-item')].find((e) => e.innerText.includes('dglsp'));
      const text = item ? item.innerText.trim() : '';
      if (seen[seen.length - 1] !== text) seen.push(text);
    };
    new MutationObserver(read).observe(document.querySelector('.part.statusbar') ?? document.body, {
      subtree: true,
      childList: true,
      characterData: true,
      attributes: true,
    });
    read();
  });
  return () => page.evaluate(() => window.dglspStatus);
}

/** The ghost text shown now ('' when none). */
async function ghostText(page) {
  return (await page.locator('.ghost-text-decoration').allInnerTexts()).join('').replace(/\u00a0/g, ' ');
}

/**
 * A stand-in for llama.cpp's `llama-server` (the server's `llamacpp:URL` backend): `/infill` answers
 * `probe_<n>`, n counting its requests, so a ghost text names the request it came from, and each request's
 * prefix and suffix (the server's view of the document) are kept. While `hold` is set, fills are not answered:
 * they stay in flight until the server cancels them (it closes the connection) or dies.
 */
async function fakeLlamaServer() {
  const fake = { requests: [], connects: [], hold: true, port: 0, close: () => {} };
  const reply = (res, body) => res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
  const srv = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      if (req.method === 'GET' && req.url === '/props') {
        fake.connects.push(Date.now()); // a server loading its "model"
        return reply(res, { default_generation_settings: { n_ctx: 4096 } });
      }
      if (req.method !== 'POST' || req.url !== '/infill') return res.writeHead(404).end('{}');
      const asked = JSON.parse(body);
      const r = { n: fake.requests.length + 1, prefix: asked.input_prefix, suffix: asked.input_suffix, open: true };
      fake.requests.push(r);
      res.on('close', () => {
        r.open = false;
        r.closedAt = Date.now();
      });
      if (fake.hold) return;
      r.fill = `probe_${r.n}`;
      reply(res, { content: r.fill, tokens_predicted: 2, tokens_evaluated: 10, stop_type: 'eos' });
    });
  });
  await new Promise((resolve) => srv.listen(0, '127.0.0.1', resolve));
  fake.port = srv.address().port;
  fake.close = () => {
    srv.closeAllConnections();
    srv.close();
  };
  return fake;
}

/** Select line `n` (1-based) of the focused editor, from its first character to its end. */
async function selectLine(page, n) {
  await page.keyboard.press('Control+Home');
  for (let i = 1; i < n; i++) await page.keyboard.press('ArrowDown');
  await page.keyboard.press('Home');
  await page.keyboard.press('Shift+End');
}

/** Open the code action menu (Ctrl+.) and return the titles it lists; the menu stays open. */
async function codeActionTitles(page) {
  await page.keyboard.press('Control+Period');
  const actions = page.locator('.action-widget .monaco-list-row');
  await actions.first().waitFor({ timeout: 20000 });
  const titles = await actions.allInnerTexts();
  log('code actions:', JSON.stringify(titles));
  return titles;
}

/** Run a command by its palette title (F1). */
async function runCommand(page, title) {
  await page.keyboard.press('F1');
  await page.keyboard.type(title);
  await page.waitForTimeout(500);
  await page.keyboard.press('Enter');
}

/** Save until the file differs from `before` and return its text, or null once `toast` appears instead. */
async function saveUntilChanged(page, file, before, toast, what) {
  const by = Date.now() + timeoutMs;
  // Read the file, not the screen: the screen also shows ghost text.
  for (;;) {
    await page.waitForTimeout(500);
    await page.keyboard.press('Control+S');
    await page.waitForTimeout(300);
    const now = fs.readFileSync(file, 'utf8');
    if (now !== before) return now;
    if (toast && (await toast.count())) return null;
    if (Date.now() > by) throw new Error(`${what} neither changed the file nor said why`);
  }
}

// --- scenarios -----------------------------------------------------------------------------------------------

/** Ghost text accepted with Tab; Ctrl+. lists "dglsp: Rewrite selection" and runs it; the stats count the accept. */
async function mainScenario() {
  const original = 'import math\n\n\n';
  const passed = await inEditor(
    // minConfidence 0: the shipped model is not confident of anything, and this scenario is about showing ghost text.
    { vsix: packageExtension(extDir), settings: { 'dglsp.server.command': server, 'dglsp.minConfidence': 0 }, files: { 'demo.py': original }, open: 'demo.py' },
    async ({ page, shot, folder }) => {
      const fixture = path.join(folder, 'demo.py');
      await waitForModel(page);
      await shot('02-ready');

      await page.locator('.monaco-editor .view-lines').click();
      await page.keyboard.press('Control+End');
      // The editor indents after the colon itself.
      const typed = 'def area_of_circle(radius):\n    return ';
      await page.keyboard.type('def area_of_circle(radius):\nreturn ', { delay: 30 });
      const ghost = page.locator('.ghost-text-decoration, .ghost-text-decoration-preview, .ghost-text').first();
      try {
        await ghost.waitFor({ state: 'visible', timeout: timeoutMs });
      } catch {
        // An automatic request may have been dropped while typing; ask explicitly once.
        log('no ghost text yet; triggering an inline suggestion');
        await page.keyboard.press('Alt+Backslash');
        await ghost.waitFor({ state: 'visible', timeout: timeoutMs });
      }
      const ghostText = await page.locator('.ghost-text-decoration').allInnerTexts();
      log('ghost text:', JSON.stringify(ghostText.join('')));
      await shot('03-ghost');
      await page.keyboard.press('Tab');
      await page.waitForTimeout(500);
      await shot('04-accepted');
      await page.keyboard.press('Control+S');
      await page.waitForTimeout(1500);

      const after = fs.readFileSync(fixture, 'utf8');
      log('file after accept:\n' + after);
      const body = after.split('return ')[1] ?? '';
      if (!after.startsWith(original + typed)) throw new Error('the typed text is not in the file');
      if (!body.split('\n')[0].trim()) throw new Error('Tab accepted nothing: the return line is empty');
      if (after.includes('\t')) log('note: the fill used tabs');

      // Code actions: with line 5 selected, Ctrl+. lists the dglsp ones (without running the model).
      await page.keyboard.press('Escape');
      await selectLine(page, 5);
      const titles = await codeActionTitles(page);
      await shot('05-code-actions');
      if (!titles.some((t) => t.includes('dglsp: Rewrite selection'))) throw new Error('no dglsp: Rewrite selection action listed');

      // Run it: the server resolves it to an edit for this document version, and VS Code applies it. With the
      // shipped model the rewrite may be empty; then no edit comes and the user is told so.
      const beforeRewrite = fs.readFileSync(fixture, 'utf8');
      // The menu focuses its first action, which is dglsp's only one here (a click is caught by the menu's overlay).
      await page.keyboard.press('Enter');
      const nothing = page.locator('.notification-list-item-message', { hasText: 'nothing to put there' });
      const now = await saveUntilChanged(page, fixture, beforeRewrite, nothing, 'Rewrite selection');
      const rewritten = now === null ? null : now.split('\n')[4];
      await shot('05b-rewritten');
      const afterRewrite = fs.readFileSync(fixture, 'utf8');
      const head = beforeRewrite.split('\n').slice(0, 4).join('\n');
      if (!afterRewrite.startsWith(head + '\n')) throw new Error('the rewrite touched lines outside the selection');
      if (rewritten !== null && !rewritten.startsWith('    ')) throw new Error('the rewrite lost the indentation');
      if (rewritten === null && afterRewrite !== beforeRewrite) throw new Error('an empty rewrite changed the file');
      log('rewrite:', rewritten === null ? '(the model had nothing; told the user)' : JSON.stringify(rewritten));

      // The acceptance reached the server (dglsp.accepted), seen through "dglsp: Show statistics".
      await runCommand(page, 'dglsp: Show statistics');
      const statsTab = page.locator('.tab', { hasText: 'dglsp stats' });
      await statsTab.waitFor({ timeout: 20000 });
      await page.waitForTimeout(1000);
      await shot('06-stats');
      const statsText = (await page.locator('.editor-group-container').last().locator('.view-lines').innerText())
        .replace(/\u00a0/g, ' ');
      // The counts line may wrap in a narrow editor: read from "**inline**" to the next heading.
      const inlineCounts = (statsText.split('**inline**')[1] ?? '').split('#')[0].replace(/\s+/g, ' ');
      log('stats: inline', inlineCounts.trim());
      if (!/accepted [1-9]/.test(inlineCounts)) throw new Error('dglsp/stats counts no accepted inline completion');
    },
  );
  return passed;
}

/**
 * The server killed with SIGKILL while a fill is in flight, in the real editor: the status bar says so, a fresh
 * server starts, the document (typed on while no server ran) is reopened with its current text, and the next
 * ghost text answers that text and is accepted once. Then four more deaths within the window: the extension
 * stops restarting, says so with a "Restart server" button, and the button brings the server back.
 * The model is a stand-in llama.cpp server (fakeLlamaServer): it holds the first fill open for as long as the
 * test needs, and each answer names the request (and so the text) it came from.
 */
async function crashScenario() {
  const llama = await fakeLlamaServer();
  const original = 'import math\n\n\n';
  const settings = {
    'dglsp.server.command': server,
    'dglsp.backend': `llamacpp:http://127.0.0.1:${llama.port}`,
    'dglsp.minConfidence': 0,
  };
  try {
    return await inEditor(
      { vsix: packageExtension(extDir), settings, files: { 'crash.py': original }, open: 'crash.py' },
      async ({ page, shot, folder, codeServer }) => {
        const fixture = path.join(folder, 'crash.py');
        await waitForModel(page);
        const statuses = await recordStatus(page);
        const sawStatus = (what, re) => until(what, async () => (await statuses()).some((t) => re.test(t)));
        const killed = [];
        const kill = (pid) => {
          killed.push(pid);
          process.kill(pid, 'SIGKILL');
          log('SIGKILL', pid);
          return Date.now();
        };
        const nextServer = (what) => until(what, () => serverPids(codeServer).find((p) => !killed.includes(p)));
        /** Wait for ghost text that is the answer to a request for exactly `text` before the cursor. */
        const ghostFor = async (text) => {
          let seen = '';
          try {
            return await until('ghost text', async () => {
              const ghost = (await ghostText(page)).trim();
              const r = llama.requests.find((x) => x.fill && x.fill === ghost);
              seen = r ? `${ghost}, the answer to ${JSON.stringify(r.prefix)}` : ghost;
              return r && r.prefix === text ? r : undefined;
            });
          } catch {
            throw new Error(`no ghost text answering ${JSON.stringify(text)}; last seen: ${JSON.stringify(seen)}`);
          }
        };

        const first = await nextServer('the dglsp server process');
        await page.locator('.monaco-editor .view-lines').click();
        await page.keyboard.press('Control+End');
        await page.keyboard.type('def area(radius):\nreturn ', { delay: 30 });
        let text = original + 'def area(radius):\n    return '; // the editor indents after the colon
        const held = await until('a fill in flight for the typed text', () =>
          llama.requests.find((r) => r.open && r.prefix === text),
        );
        const killedAt = kill(first);
        llama.hold = false;
        // Typed while no server runs: the new server can only know it from the reopened document. At once, so
        // that writes to the dead server's stdin (and their errors) can come before its close is seen.
        await page.keyboard.type('2 * ');
        const editedAt = Date.now();
        text += '2 * ';
        await sawStatus('the status bar to say the server is restarting', /server stopped unexpectedly, restarting \(1\/4\)/);
        await until('the fill in flight to end', () => !held.open);
        if (held.closedAt < killedAt || held.fill) throw new Error('the fill was not in flight when the server was killed');
        const second = await nextServer('a restarted dglsp server');
        await waitForModel(page);
        const connectedAt = llama.connects.find((t) => t > killedAt);
        log(`edited ${editedAt - killedAt} ms after the kill; the new server loaded its model ${connectedAt - killedAt} ms after`);
        await shot('10-restarted');

        // The next suggestion, asked for after the restart, answers the whole current text.
        await page.keyboard.type('radius + ', { delay: 30 });
        text += 'radius + ';
        const answered = await ghostFor(text);
        log('after the restart:', answered.fill, 'for', JSON.stringify(answered.prefix.split('\n').at(-1)));
        await shot('11-ghost-after-restart');
        await page.keyboard.press('Tab');
        await page.keyboard.press('Control+S');
        const saved = await until('the accepted suggestion to be saved', () => {
          const now = fs.readFileSync(fixture, 'utf8');
          return now !== original && now;
        });
        const expected = answered.prefix + answered.fill + answered.suffix;
        if (saved !== expected) throw new Error(`expected ${JSON.stringify(expected)}, saved ${JSON.stringify(saved)}`);
        if (llama.requests.some((r) => r.fill && r !== answered && saved.includes(r.fill))) throw new Error('another fill was applied');

        // Four more deaths, each as soon as the new server runs (mostly while it starts): 2/4 to 4/4, then no more.
        let pid = second;
        for (let n = 2; n <= 5; n++) {
          kill(pid);
          if (n > 4) break;
          await sawStatus(`restart ${n}/4 in the status bar`, new RegExp(`restarting \\(${n}/4\\)`));
          pid = await nextServer(`the server of restart ${n}`);
        }
        const toast = page.locator('.notification-toast', { hasText: 'stopped unexpectedly 5 times' });
        await toast.waitFor({ timeout: 30000 });
        await sawStatus('the status bar to say the server stopped', /dglsp: server stopped$/);
        log('gave up:', JSON.stringify(await toast.locator('.notification-list-item-message').innerText()));
        if (serverPids(codeServer).length) throw new Error('a server was started past the restart limit');
        await shot('12-gave-up');
        await toast.locator('.monaco-button', { hasText: 'Restart server' }).click();
        await nextServer('the server started by the "Restart server" button');
        // The process can be seen before the status bar hears of it.
        await until('the status bar to leave "server stopped"', async () => !/server stopped$/.test((await statuses()).at(-1)));
        await waitForModel(page);
        // The button had the focus: back to the editor, at the end of the text.
        await page.locator('.monaco-editor .view-lines').click();
        await page.keyboard.press('Control+End');
        await page.keyboard.type(' + ', { delay: 30 });
        const again = await ghostFor(expected + ' + ');
        log('after "Restart server":', again.fill);
        await shot('13-restarted-by-hand');
        // The library's own pop-ups say less than the status bar and the message above, and only add noise.
        const generic = page.locator('.notification-toast', { hasText: /couldn't create connection|connection to server is erroring/ });
        if (await generic.count()) throw new Error(`the library's pop-up: ${await generic.first().innerText()}`);
        log('status bar texts:', JSON.stringify(await statuses()));
      },
    );
  } finally {
    llama.close();
  }
}

/** A server command that does not exist: the extension must say how to fix it. */
async function missingScenario() {
  return inEditor(
    { vsix: packageExtension(extDir), settings: { 'dglsp.server.command': '/nonexistent/dglsp' }, files: { 'demo.py': 'import math\n' }, open: 'demo.py' },
    async ({ page, shot }) => {
      const toast = page.locator('.notification-toast', { hasText: 'pip install dglsp' });
      await toast.waitFor({ timeout: 30000 });
      log('missing server:', JSON.stringify(await toast.locator('.notification-list-item-message').innerText()));
      await shot('07-missing-server');
    },
  );
}

/**
 * A code action added the way a newcomer adds one (tests/editors/throwaway.py: an action module, a contract
 * entry, the editors' files regenerated, all in a copy) works in the extension built from that copy, with no
 * edit to the extension's code: listed by Ctrl+., and run from the palette as "dglsp: Shout selection".
 */
async function throwawayScenario() {
  const copy = fs.mkdtempSync(path.join(os.tmpdir(), 'dglsp-throwaway-'));
  try {
    sh(venvPython, [path.join(repo, 'tests', 'editors', 'throwaway.py'), copy]);
    const vsix = packageExtension(path.join(copy, 'editors', 'vscode'));
    const original = '# a throwaway action\nhello = 1\nworld = 2\n';
    const pythonPath = { PYTHONPATH: copy };
    return await inEditor(
      { vsix, settings: { 'dglsp.server.python': venvPython }, env: pythonPath, files: { 'shout.py': original }, open: 'shout.py' },
      async ({ page, shot, folder }) => {
        // The server runs `python -m dglsp` in the workspace folder: it must import the copy, not the checkout.
        const imported = execFileSync(venvPython, ['-c', 'import dglsp; print(dglsp.__file__)'], {
          cwd: folder,
          env: { ...process.env, ...pythonPath },
        }).toString().trim();
        log('python -m dglsp imports', imported);
        if (!imported.startsWith(copy + path.sep)) throw new Error(`the server would import ${imported}, not the copy`);

        await waitForModel(page);
        await page.locator('.monaco-editor .view-lines').click();
        await selectLine(page, 2);
        const titles = await codeActionTitles(page);
        await shot('08-throwaway-actions');
        if (!titles.some((t) => t.includes('dglsp: Shout selection'))) throw new Error('no dglsp: Shout selection action listed');
        await page.keyboard.press('Escape');

        // The menu may have taken the selection with it: select again, then run the extension's command.
        await selectLine(page, 2);
        await runCommand(page, 'dglsp: Shout selection');
        // Any message from dglsp but the progress notification, which is titled with the action.
        const told = page.locator('.notification-list-item-message', { hasText: /dglsp: (?!Shout selection)/ });
        const after = await saveUntilChanged(page, path.join(folder, 'shout.py'), original, told, 'Shout selection');
        await shot('09-shouted');
        if (after === null) throw new Error(`Shout selection changed nothing: ${await told.first().innerText()}`);
        log('file after shout:\n' + after);
        const expected = original.replace('hello = 1', 'HELLO = 1');
        if (after !== expected) throw new Error(`expected ${JSON.stringify(expected)}, got ${JSON.stringify(after)}`);
      },
    );
  } finally {
    if (!keep) fs.rmSync(copy, { recursive: true, force: true });
  }
}

const scenario = process.env.DGLSP_E2E_THROWAWAY
  ? throwawayScenario
  : process.env.DGLSP_E2E_MISSING
    ? missingScenario
    : process.env.DGLSP_E2E_CRASH
      ? crashScenario
      : async () => (await mainScenario()) && (await crashScenario());
scenario().then(
  (passed) => process.exit(passed ? 0 : 1),
  (err) => {
    console.error('[e2e] FAIL:', err);
    process.exit(1);
  },
);
