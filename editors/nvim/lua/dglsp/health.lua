-- :checkhealth dglsp — is the server installed, which version, has it crashed and been restarted, is it
-- attached, does it offer the actions this plugin knows, is its model loaded.
local M = {}

-- The names in `list` (each entry's `key`) joined in order, to compare two lists of entries at a glance.
local function names(list, key)
  local out = {}
  for _, entry in ipairs(list or {}) do
    out[#out + 1] = entry[key]
  end
  return table.concat(out, ", ")
end

-- The plugin's user commands come from contract.lua, generated from one dglsp version: a server of another
-- version may offer actions no command runs, or lack ones a command asks for.
local function check_contract(lsp_client)
  local contract = require("dglsp.contract")
  local described = lsp_client:request_sync("dglsp/describe", {}, 5000)
  local server = described and described.result
  if not server then
    vim.health.warn("the server did not answer dglsp/describe: it may be older than this plugin")
    return
  end
  local ours, theirs = names(contract.actions, "kind"), names(server.actions, "kind")
  if ours == theirs then
    vim.health.ok("the plugin's contract matches the server's actions: " .. ours)
  else
    local advice = { "install the plugin and the server from the same dglsp version" }
    local message = ("the plugin knows the actions %s, the server offers %s"):format(ours, theirs)
    vim.health.warn(message, advice)
  end
end

-- A server restarted after a crash works again, but the crash had a cause (memory, a native library) worth
-- looking into: say how often, and how the last one ended.
local function check_restarts()
  local report = require("dglsp.restart").report()
  if report.crashes == 0 then
    vim.health.ok("the server has not crashed (restarts: 0)")
    return
  end
  local exits = require("dglsp.exits")
  local last = report.last
  local ago = math.floor((vim.uv.now() - last.at) / 1000)
  local summary = ("restarts after a crash: %d (crashes: %d; at most %d restarts within %d s); "
    .. "last crash %d s ago: %s"):format(report.restarts, report.crashes, report.max, report.window_s, ago,
    exits.describe(last.code, last.signal))
  local advice = { "the server's log: " .. vim.lsp.get_log_path() }
  if report.gave_up then
    table.insert(advice, 1, ":DglspRestart starts it again")
    vim.health.error(summary .. "; not restarted again", advice)
  else
    vim.health.warn(summary, advice)
  end
end

function M.check()
  local opts = require("dglsp.config").options
  vim.health.start("dglsp")
  local exe = opts.cmd[1]
  if vim.fn.executable(exe) ~= 1 then
    vim.health.error(exe .. " not found", { "pip install dglsp (in the Python the editor sees)", "or set cmd in setup()" })
    return
  end
  local version_cmd = vim.tbl_filter(function(arg)
    return arg ~= "--stdio"
  end, opts.cmd)
  version_cmd[#version_cmd + 1] = "--version"
  local out = vim.system(version_cmd, { text = true }):wait(30000)
  if out.code == 0 then
    vim.health.ok(vim.trim(out.stdout) .. " (" .. vim.fn.exepath(exe) .. ")")
  else
    vim.health.error("`" .. table.concat(version_cmd, " ") .. "` failed: " .. vim.trim(out.stderr or ""))
  end
  check_restarts()
  local lsp_client = require("dglsp.client").any()
  if not lsp_client then
    vim.health.warn("no dglsp client is running", { "open a file of a supported filetype", "check :LspInfo" })
    return
  end
  vim.health.ok("client " .. lsp_client.id .. " running, position encoding " .. lsp_client.offset_encoding)
  check_contract(lsp_client)
  local stats = lsp_client:request_sync("dglsp/stats", {}, 5000)
  local model = stats and stats.result and stats.result.model
  if not model then
    vim.health.error("the server did not answer dglsp/stats")
  elseif model.state == "ready" then
    vim.health.ok(("model ready: %s on %s (loaded in %d ms)"):format(model.path, model.device, model.load_ms))
  elseif model.state == "error" then
    vim.health.error("the model failed to load: " .. model.error, { "set settings.model in setup() to a model directory" })
  else
    vim.health.info("model " .. model.state .. ": " .. model.path)
  end
end

return M
