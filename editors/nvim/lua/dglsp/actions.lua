-- dglsp's code actions from user commands, one per entry of the server's contract (contract.lua), found in the
-- server's list by kind: titles are for people and may change, kinds are what the contract promises.
-- The edit comes from codeAction/resolve with the buffer version it was computed for; a buffer that changed
-- meanwhile gets the server's ContentModified error instead of an edit.
local client = require("dglsp.client")
local contract = require("dglsp.contract")

local M = {}

local function notify(message, level)
  vim.notify("dglsp: " .. message, level or vim.log.levels.INFO)
end

--- The contract's entry for the action `kind`, or nil.
function M.entry(kind)
  for _, entry in ipairs(contract.actions) do
    if entry.kind == kind then
      return entry
    end
  end
end

--- The `dglsp.runAction` command of one listed action, or nil. A client that does not resolve edits gets it as
--- a Command (its `command` field a string), or inside a CodeAction literal (`command` a Command), which lets
--- the server mark the preferred action; a client that resolves gets CodeActions without one.
function M.command_of(listed)
  if type(listed.command) == "string" then
    return listed
  end
  return type(listed.command) == "table" and listed.command or nil
end

--- The kind of one listed action: `data.kind` of a CodeAction to resolve, or of the command's first argument.
function M.kind_of(listed)
  local command = M.command_of(listed)
  local data = command and (command.arguments or {})[1] or listed.data
  return type(data) == "table" and data.kind or nil
end

--- The first listed action of `kind`: the server lists its actions in the contract's order, the one it means
--- first, so a later one of the same kind is never the one to run.
function M.pick(listed, kind)
  for _, candidate in ipairs(listed or {}) do
    if M.kind_of(candidate) == kind then
      return candidate
    end
  end
end

-- Whole lines first..last (1-based, inclusive), as a :'<,'> range gives them, or the cursor when they are nil.
local function range_of(bufnr, first, last, enc)
  if not (first and last) then
    return vim.lsp.util.make_range_params(0, enc).range
  end
  local last_line = vim.api.nvim_buf_get_lines(bufnr, last - 1, last, false)[1] or ""
  local width = vim.str_utfindex(last_line, enc)
  return { start = { line = first - 1, character = 0 }, ["end"] = { line = last - 1, character = width } }
end

-- A request answered in time without an error: its result, or nil and the reason. Not request_sync: it would
-- wait out the whole timeout (a minute for an edit) for a server that died meanwhile, the editor frozen.
local function request(lsp_client, bufnr, method, params, timeout_ms)
  local answer
  local sent, id = lsp_client:request(method, params, function(err, result)
    answer = { err = err, result = result }
  end, bufnr)
  if not sent then
    return nil, "the server is not running"
  end
  vim.wait(timeout_ms, function()
    return answer ~= nil or lsp_client:is_stopped()
  end, 10)
  if not answer then
    if lsp_client:is_stopped() then
      return nil, "the server stopped before answering " .. method -- nothing applied; run it again once it is back
    end
    lsp_client:cancel_request(id)
    return nil, "no answer to " .. method
  end
  if answer.err then
    return nil, answer.err.message
  end
  return answer.result or {}
end

local function listed_actions(lsp_client, bufnr, range, timeout_ms)
  local params = {
    textDocument = { uri = vim.uri_from_bufnr(bufnr) },
    range = range,
    context = { diagnostics = {}, only = { contract.action_kind } },
  }
  return request(lsp_client, bufnr, "textDocument/codeAction", params, timeout_ms)
end

-- A Command: the server runs it and applies the edit itself (workspace/applyEdit, answered while we wait).
local function run_command(lsp_client, bufnr, command, timeout_ms)
  local params = { command = command.command, arguments = command.arguments }
  return request(lsp_client, bufnr, "workspace/executeCommand", params, timeout_ms)
end

local function resolve_and_apply(lsp_client, bufnr, action, timeout_ms)
  local resolved, reason = request(lsp_client, bufnr, "codeAction/resolve", action, timeout_ms)
  if not resolved then
    return nil, reason
  end
  if resolved.edit then
    vim.lsp.util.apply_workspace_edit(resolved.edit, lsp_client.offset_encoding)
  end
  return resolved.edit
end

--- Run the dglsp action of `kind` over whole rows first..last (1-based, inclusive), or at the cursor when they
--- are nil. Returns the applied edit (a Command's answer for clients without resolve), or nil and the reason.
function M.run(kind, first, last, timeout_ms)
  local bufnr = vim.api.nvim_get_current_buf()
  local lsp_client = client.get(bufnr)
  if not lsp_client then
    return nil, "dglsp is not attached to this buffer"
  end
  local range = range_of(bufnr, first, last, lsp_client.offset_encoding)
  local listed, reason = listed_actions(lsp_client, bufnr, range, timeout_ms or 5000)
  if not listed then
    return nil, reason
  end
  local action = M.pick(listed, kind)
  if not action then
    local entry = M.entry(kind)
    return nil, entry and (entry.title .. ": " .. entry.not_offered) or ("no " .. kind .. " action here")
  end
  local command = M.command_of(action)
  if command then
    return run_command(lsp_client, bufnr, command, timeout_ms or 60000)
  end
  return resolve_and_apply(lsp_client, bufnr, action, timeout_ms or 60000)
end

--- The user command's function for the action `kind`: a range when one was given, else the cursor.
function M.command(kind)
  return function(opts)
    local first, last = opts.range > 0 and opts.line1 or nil, opts.range > 0 and opts.line2 or nil
    local edit, reason = M.run(kind, first, last)
    if not edit then
      notify(reason, vim.log.levels.WARN)
    end
  end
end

return M
