-- dglsp's code actions from commands: rewrite a range, fill the holes of the function at the cursor.
-- The edit comes from codeAction/resolve with the buffer version it was computed for; a buffer that changed
-- meanwhile gets the server's ContentModified error instead of an edit.
local client = require("dglsp.client")

local M = {}

local function notify(message, level)
  vim.notify("dglsp: " .. message, level or vim.log.levels.INFO)
end

--- Run the dglsp code action whose title starts with `prefix` over whole rows first..last (1-based, inclusive),
--- or at the cursor when they are nil. Returns the applied edit, or nil and the reason.
function M.run(prefix, first, last, timeout_ms)
  local bufnr = vim.api.nvim_get_current_buf()
  local lsp_client = client.get(bufnr)
  if not lsp_client then
    return nil, "dglsp is not attached to this buffer"
  end
  local enc = lsp_client.offset_encoding
  local range
  if first and last then -- whole lines, as a :'<,'> range gives them
    local last_line = vim.api.nvim_buf_get_lines(bufnr, last - 1, last, false)[1] or ""
    local width = vim.str_utfindex(last_line, enc)
    range = { start = { line = first - 1, character = 0 }, ["end"] = { line = last - 1, character = width } }
  else
    range = vim.lsp.util.make_range_params(0, enc).range
  end
  local params = { textDocument = { uri = vim.uri_from_bufnr(bufnr) }, range = range, context = { diagnostics = {} } }
  local listed = lsp_client:request_sync("textDocument/codeAction", params, timeout_ms or 5000, bufnr)
  if not listed or listed.err then
    return nil, listed and listed.err.message or "no answer to textDocument/codeAction"
  end
  local action
  for _, candidate in ipairs(listed.result or {}) do
    if candidate.title:sub(1, #prefix) == prefix then
      action = candidate
    end
  end
  if not action then
    return nil, "nothing to " .. prefix:lower():gsub("^dglsp: ", "") .. " here"
  end
  if action.command and not action.edit and not action.data then
    lsp_client:exec_cmd(action.command, { bufnr = bufnr }) -- the server applies the edit itself
    return action
  end
  local resolved = lsp_client:request_sync("codeAction/resolve", action, timeout_ms or 60000, bufnr)
  if not resolved or resolved.err then
    return nil, resolved and resolved.err.message or "no answer to codeAction/resolve"
  end
  local edit = resolved.result.edit
  if edit then
    vim.lsp.util.apply_workspace_edit(edit, enc)
  end
  return edit
end

function M.command(prefix)
  return function(opts)
    local first, last = opts.range > 0 and opts.line1 or nil, opts.range > 0 and opts.line2 or nil
    local edit, reason = M.run(prefix, first, last)
    if not edit then
      notify(reason, vim.log.levels.WARN)
    end
  end
end

return M
