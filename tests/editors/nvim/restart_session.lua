-- Kills the dglsp server under the Neovim plugin (editors/nvim) in a real headless Neovim 0.11 and records how the
-- plugin recovers, as JSON for test_nvim_restart.py: SIGKILL while an inline fill and then while a rewrite is in
-- flight, stops the user asks for (no restart), and a server killed again and again (the restart limit).
-- nvim --headless -u NONE -i NONE -n -l restart_session.lua OUT_JSON PYTHON MODEL_DIR WORKDIR PLUGIN_DIR
-- WORKDIR holds inline.py and area.py.

local out_path, python, model_dir, workdir, plugin_dir = arg[1], arg[2], arg[3], arg[4], arg[5]

vim.opt.rtp:prepend(plugin_dir)
vim.cmd("filetype on") -- `-u NONE` leaves it off; vim.lsp.enable attaches on FileType
vim.o.virtualedit = "onemore" -- the cursor after a line's last character, where a user's is while typing

-- harness.lua sits beside this script.
package.path = debug.getinfo(1, "S").source:sub(2):match("(.*/)") .. "?.lua;" .. package.path
local harness = require("harness")
local fail, wait = harness.fail, harness.wait

local dglsp = require("dglsp")
local client = require("dglsp.client")
local ghost = require("dglsp.ghost")
local restart = require("dglsp.restart")
local notified = harness.capture_notify()
-- Fills that never end by themselves (a random model never converges and 100000 steps are allowed): a fill is
-- surely still running when the server is killed. QUICK ends them again.
local FOREVER, QUICK = { maxSteps = 100000 }, { maxSteps = 16 }
dglsp.setup({
  cmd = { python, "-m", "dglsp", "--stdio" },
  root_markers = { "inline.py" },
  -- Raw first-line fills (a random model's never parse) and no confidence gate, so every fill is shown.
  settings = { model = model_dir, parseTrim = false, debounceMs = 0, minConfidence = 0, sampler = QUICK },
  ghost = { debounce_ms = 0 },
  -- Two restarts, in a window no run of this script outlasts: the limit is reached by the count of kills alone.
  restart = { max = 2, window_s = 3600 },
})

local result = { notified = notified }

local lines, stats = harness.lines, harness.stats

local function open(name)
  vim.cmd.edit(vim.fn.fnameescape(workdir .. "/" .. name))
  return vim.api.nvim_get_current_buf()
end

--- The server's process: Neovim's only child (the plugin's client runs `python -m dglsp --stdio` directly).
local function server_pid()
  local children = vim.api.nvim_get_proc_children(vim.fn.getpid())
  if #children ~= 1 then
    fail("expected one server process, found " .. vim.inspect(children))
  end
  return children[1]
end

local function alive(pid)
  return vim.uv.kill(pid, 0) == 0
end

--- The running, initialized client on `bufnr` other than `old` (nil: any).
local function attached_client(bufnr, old, what)
  local c
  wait(what, function()
    c = client.get(bufnr)
    return c ~= nil and c.initialized and (old == nil or c.id ~= old.id)
  end)
  return c
end

--- The same, once its model is ready to fill.
local function ready_client(bufnr, old, what)
  local c = attached_client(bufnr, old, what)
  wait(what .. ": its model", function()
    local s = stats(c)
    return s and s.model.state == "ready"
  end)
  return c
end

--- The exits restart.lua has seen, and what it did about each: { client_id, code, signal, crash, outcome }.
local function exits()
  local out = {}
  for _, exit in ipairs(restart.report().exits) do
    out[#out + 1] = { client_id = exit.client_id, code = exit.code, signal = exit.signal, crash = exit.crash,
      outcome = exit.outcome }
  end
  return out
end

local function exit_of(c)
  for _, exit in ipairs(restart.report().exits) do
    if exit.client_id == c.id then
      return exit
    end
  end
end

local function set_sampler(c, sampler)
  dglsp.update_settings({ sampler = sampler })
  if c then
    wait("the server to take maxSteps " .. sampler.maxSteps, function()
      return stats(c).settings.sampler.max_steps == sampler.maxSteps -- the server keeps its own (snake_case) names
    end)
  end
end

--- The raw inline item the server gives for `text` at (row, col), from a scratch buffer of its own: what a
--- server that holds exactly `text` answers (the sampler is seeded, so a fill depends on its context alone).
local function fill_for(name, text, row, col)
  local bufnr = open(name)
  vim.api.nvim_buf_set_lines(bufnr, 0, -1, false, text)
  local c = ready_client(bufnr, nil, "the client on " .. name)
  local params = {
    textDocument = { uri = vim.uri_from_bufnr(bufnr) },
    position = { line = row, character = col },
    context = { triggerKind = 1 },
  }
  local response = c:request_sync("textDocument/inlineCompletion", params, 30000, bufnr)
  if not response or response.err then
    fail("inline completion on " .. name .. ": " .. vim.inspect(response))
  end
  local items = response.result.items or response.result
  local text_of = items[1] and items[1].insertText
  vim.cmd("bwipeout!")
  return type(text_of) == "table" and text_of.value or text_of or vim.NIL
end

local function health()
  vim.cmd("checkhealth dglsp")
  local out = lines(vim.api.nvim_get_current_buf())
  vim.cmd("bwipeout!")
  return out
end

local ok, err = pcall(function()
  local inline = open("inline.py")
  local first = ready_client(inline, nil, "the dglsp client")
  local area = open("area.py")
  wait("the client on area.py", function()
    return client.get(area) == first
  end)
  vim.cmd.buffer(inline)

  -- 1. An inline fill is running when SIGKILL comes; the user edits the buffer while the server is down.
  set_sampler(first, FOREVER)
  local pid = server_pid()
  vim.api.nvim_win_set_cursor(0, { 5, 11 })
  ghost.request(true)
  wait("the inline fill to run", function()
    return stats(first).worker_running ~= nil
  end)
  result.running_at_kill = stats(first).worker_running
  result.before = lines(inline)
  assert(vim.uv.kill(pid, "sigkill") == 0)
  -- Rename the parameter, as a user goes on typing: the cursor's line stays where it was, its context does not.
  vim.api.nvim_buf_set_text(inline, 3, 16, 3, 22, { "r" })
  result.edited = lines(inline)
  set_sampler(nil, QUICK) -- no server to tell: the restarted one must start with it
  local second = ready_client(inline, first, "the restarted client")
  result.pids = { killed = pid, killed_alive = alive(pid), restarted = server_pid() }
  result.clients = { first = first.id, second = second.id, area = client.get(area) and client.get(area).id or vim.NIL }
  result.sampler_after_restart = stats(second).settings.sampler
  result.lines_after_restart = lines(inline)
  result.ghost_after_restart = ghost.shown() or vim.NIL
  result.report_after_restart = restart.report()

  -- The next suggestion, asked for at the cursor as <M-\> would, comes from the new server for the edited text.
  ghost.request(true)
  wait("the next suggestion", ghost.visible)
  result.recovered = ghost.shown()
  ghost.accept()
  result.after_accept = lines(inline)
  wait("the acceptance to be counted", function()
    return (stats(second).counts.inline or {}).accepted == 1
  end)
  result.counts_after_accept = stats(second).counts
  result.health_after_one = health()
  -- What a server holding the edited text answers there, and what one still holding the old text would.
  result.fill_for_edited = fill_for("edited_copy.py", result.edited, 4, 11)
  result.fill_for_stale = fill_for("stale_copy.py", result.before, 4, 11)

  -- 2. A rewrite of area.py is being resolved when SIGKILL comes: the action gives up at once with nothing
  -- applied, and after the restart the same action applies its edit once, to the text as it is then.
  vim.cmd.buffer(area)
  set_sampler(second, FOREVER)
  result.area_before = lines(area)
  -- The action waits for its answer inside vim.wait, where timers and answers still run: a timer asks the
  -- server (without waiting) whether the model is working on the rewrite, and kills it once it is.
  local killed, asking = false, false
  local killer = vim.uv.new_timer()
  killer:start(20, 20, vim.schedule_wrap(function()
    if killed or asking then
      return
    end
    asking = true
    second:request("dglsp/stats", {}, function(_, s)
      asking = false
      if not killed and s and s.worker_running ~= vim.NIL and s.worker_running ~= nil then
        killed = true
        result.action_running_at_kill = s.worker_running
        vim.uv.kill(server_pid(), "sigkill")
      end
    end)
  end))
  -- A timeout longer than this test may run: the action must end on the server's exit, not wait it out.
  local edit, reason = require("dglsp.actions").run("rewrite", 2, 2, 3600 * 1000)
  killer:stop()
  killer:close()
  result.action_killed = killed
  result.action_edit = edit or vim.NIL
  result.action_reason = reason or vim.NIL
  result.area_after_killed_action = lines(area)
  set_sampler(nil, QUICK)
  local third = ready_client(area, second, "the client restarted after the action")
  result.clients.third = third.id
  result.area_version = vim.lsp.util.buf_versions[area]
  edit, reason = require("dglsp.actions").run("rewrite", 2, 2)
  result.rewrite_edit = edit or vim.NIL
  result.rewrite_reason = reason or vim.NIL
  result.area_after_rewrite = lines(area)
  result.encoding = third.offset_encoding
  vim.cmd.buffer(inline)

  -- 3. Stops the user asks for are not crashes: client:stop() (what :LspStop runs), then :DglspStop. Ghost text
  -- on screen when its client goes is cleared: accepting it would report to a server that is gone.
  vim.api.nvim_win_set_cursor(0, { 5, #vim.api.nvim_buf_get_lines(inline, 4, 5, false)[1] }) -- after the fill
  ghost.request(true)
  wait("ghost text before the stop", ghost.visible)
  result.ghost_before_stop = ghost.shown()
  third:stop()
  wait("the stopped client to go", function()
    return exit_of(third) ~= nil and vim.lsp.get_client_by_id(third.id) == nil
  end)
  result.after_lsp_stop = { clients = #vim.lsp.get_clients({ name = "dglsp" }), exit = exit_of(third),
    children = #vim.api.nvim_get_proc_children(vim.fn.getpid()), ghost = ghost.shown() or vim.NIL }
  vim.cmd("DglspRestart")
  local by_hand = attached_client(inline, nil, "the client :DglspRestart starts")
  result.clients.by_hand = by_hand.id
  vim.cmd("DglspStop")
  wait(":DglspStop's client to go", function()
    return exit_of(by_hand) ~= nil and vim.lsp.get_client_by_id(by_hand.id) == nil
  end)
  local other = open("other.py") -- FileType would start a client if dglsp were still enabled
  result.after_dglsp_stop = { clients = #vim.lsp.get_clients({ name = "dglsp" }), exit = exit_of(by_hand),
    enabled = vim.lsp.is_enabled("dglsp"), children = #vim.api.nvim_get_proc_children(vim.fn.getpid()),
    other_attached = client.get(other) ~= nil }
  vim.cmd.buffer(inline)
  result.restarts_after_stops = restart.report().restarts

  -- 4. Killed again and again: max (2) restarts, then no more, and the user is told once how to start it.
  vim.cmd("DglspRestart")
  local victim = attached_client(inline, nil, "the client for the limit")
  result.limit_clients = { victim.id }
  for _ = 1, 2 do
    assert(vim.uv.kill(server_pid(), "sigkill") == 0)
    victim = attached_client(inline, victim, "the client restarted within the limit")
    result.limit_clients[#result.limit_clients + 1] = victim.id
  end
  local before_last = #notified
  assert(vim.uv.kill(server_pid(), "sigkill") == 0)
  wait("the plugin to give up", function()
    return exit_of(victim) ~= nil and exit_of(victim).outcome ~= nil and vim.lsp.get_client_by_id(victim.id) == nil
  end)
  result.after_limit = { clients = #vim.lsp.get_clients({ name = "dglsp" }), enabled = vim.lsp.is_enabled("dglsp"),
    children = #vim.api.nvim_get_proc_children(vim.fn.getpid()), report = restart.report(),
    notified = vim.list_slice(notified, before_last + 1) }
  result.health_after_limit = health()

  -- 5. :DglspRestart, as the message says, starts it again.
  vim.cmd("DglspRestart")
  local again = attached_client(inline, nil, "the client started after the limit")
  result.clients.again = again.id
  result.health_after_restart_by_hand = health()

  -- 6. Neovim exiting: VimLeavePre's own handler stops every client (the one :qa runs; this script cannot quit
  -- and still write its result): a stop, not a crash.
  vim.api.nvim_exec_autocmds("VimLeavePre", {})
  wait("the client stopped on VimLeavePre to go", function()
    return exit_of(again) ~= nil and vim.lsp.get_client_by_id(again.id) == nil
  end)
  result.after_leave = { clients = #vim.lsp.get_clients({ name = "dglsp" }), exit = exit_of(again),
    children = #vim.api.nvim_get_proc_children(vim.fn.getpid()) }
  result.exits = exits()
end)

harness.finish(out_path, ok, err, result)
