-- Restart the dglsp server after a crash: Neovim 0.11 leaves a dead server dead, and the user would only see the
-- ghost text stop. A stop someone asked for is never undone (exits.lua tells the two apart). At most
-- `restart.max` restarts within `restart.window_s` seconds, so a server that dies on every start (a model too big
-- for the memory) is not started forever: then dglsp stays off and the user is told, once, how to start it.
local client = require("dglsp.client")
local config = require("dglsp.config")
local exits = require("dglsp.exits")

local M = {}

local recent = {} -- when (vim.uv.now(), ms) each restart inside the window was made
local state = { restarts = 0, crashes = 0, gave_up = false, last = nil, exits = {} }

--- What happened so far, for :checkhealth and tests: restarts and crashes since Neovim started, the last
--- crash, whether the limit was reached, and every exit seen with what was done about it.
function M.report()
  local limit = config.options.restart
  return vim.tbl_extend("force", vim.deepcopy(state), { max = limit.max, window_s = limit.window_s })
end

local function notify(message, level)
  vim.notify("dglsp: " .. message, level)
end

-- Restarts made within the last window_s seconds, the old ones dropped.
local function in_window(now)
  local window_ms = config.options.restart.window_s * 1000
  recent = vim.tbl_filter(function(at)
    return now - at < window_ms
  end, recent)
  return #recent
end

local function give_up(exit)
  state.gave_up = true
  -- Off for new buffers too: each would start a server into the same crash.
  client.stop()
  local limit = config.options.restart
  notify(("the server crashed again (%s) after %d restarts within %d s: not restarting it. Start it with "
    .. ":DglspRestart once the cause is fixed (see :checkhealth dglsp and %s)")
    :format(exits.describe(exit.code, exit.signal), limit.max, limit.window_s, vim.lsp.get_log_path()),
    vim.log.levels.ERROR)
end

-- Start the client again for the buffers the dead one had, once Neovim has dropped it: each gets didOpen with
-- its text as it is now, edits made while the server was down included.
local function restart(exit)
  client.when_gone({ exit.client_id }, function()
    for _, bufnr in ipairs(exit.buffers) do
      if vim.api.nvim_buf_is_loaded(bufnr) then
        client.attach(bufnr, exit.root_dir)
      end
    end
  end)
end

-- What to do about one exit; it runs scheduled, where the editor's state may be read.
local function handle(exit)
  state.exits[#state.exits + 1] = exit
  if not exit.crash then
    exit.outcome = "stopped"
    return
  end
  state.crashes = state.crashes + 1
  state.last = { code = exit.code, signal = exit.signal, at = exit.at, client_id = exit.client_id }
  if vim.v.exiting ~= vim.NIL or not vim.lsp.is_enabled(client.name) or state.gave_up then
    exit.outcome = "not restarted"
    return
  end
  if in_window(exit.at) >= config.options.restart.max then
    exit.outcome = "gave up"
    give_up(exit)
    return
  end
  recent[#recent + 1] = exit.at
  state.restarts = state.restarts + 1
  exit.outcome = "restarted"
  notify(("the server crashed (%s); restarted it (%d of at most %d within %d s)"):format(
    exits.describe(exit.code, exit.signal), #recent, config.options.restart.max, config.options.restart.window_s))
  restart(exit)
end

--- The client's on_exit. Neovim runs it in a libuv callback, where most of its API may not be called: read what
--- the dead client knew (whether a stop was asked for, its buffers and root) now, before Neovim drops it, and
--- act on it scheduled.
function M.on_exit(code, signal, client_id)
  local dead = vim.lsp.get_client_by_id(client_id)
  local exit = {
    client_id = client_id,
    code = code,
    signal = signal,
    at = vim.uv.now(),
    crash = exits.is_crash(dead, code, signal),
    buffers = dead and vim.tbl_keys(dead.attached_buffers) or {},
    root_dir = dead and dead.root_dir,
  }
  vim.schedule(function()
    handle(exit)
  end)
end

--- :DglspRestart: stop any running server, forget the crashes counted against the limit, and start the server
--- again for every buffer it is for (after :DglspStop, or after it gave up).
function M.by_hand()
  recent, state.gave_up = {}, false
  local ids = {}
  for _, lsp_client in ipairs(vim.lsp.get_clients({ name = client.name })) do
    ids[#ids + 1] = lsp_client.id
    -- Forced (SIGTERM): a restart should not wait on a server too busy to answer shutdown. Asked for, so its
    -- exit is not a crash.
    lsp_client:stop(true)
  end
  client.when_gone(ids, function()
    vim.lsp.enable(client.name)
    for _, bufnr in ipairs(client.buffers()) do
      client.attach(bufnr)
    end
  end)
end

return M
