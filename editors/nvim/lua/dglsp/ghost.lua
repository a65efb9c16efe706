-- Ghost text for Neovim 0.11, which has no vim.lsp.inline_completion: ask dglsp for an inline completion,
-- draw it with extmarks (the first line inline at the cursor, the rest as virtual lines), and accept it whole,
-- by word or by line. While the user types what is shown, the rest stays on screen: no flicker, no request.
local client = require("dglsp.client")
local config = require("dglsp.config")

local M = {}

M.ns = vim.api.nvim_create_namespace("dglsp.ghost")
-- What is on screen: bufnr, row, col (0-based byte column of the cursor), shown (text still to insert),
-- replaced (auto-closed characters after the cursor the item covers), command (run once on accept),
-- low_confidence (the server marks a fill under its confidence threshold, shown because the user asked).
local current = nil
local pending = nil -- { client, id } of the request in flight
local timer = nil

local function item_text(item)
  local text = item.insertText
  return type(text) == "table" and text.value or text or ""
end

function M.visible()
  return current ~= nil and current.shown ~= ""
end

--- What is shown, for tests and statuslines: { row, col, text, low_confidence } or nil.
function M.shown()
  return current
      and { row = current.row, col = current.col, text = current.shown, low_confidence = current.low_confidence }
    or nil
end

function M.clear()
  if current then
    pcall(vim.api.nvim_buf_clear_namespace, current.bufnr, M.ns, 0, -1)
  end
  current = nil
end

local function render()
  vim.api.nvim_buf_clear_namespace(current.bufnr, M.ns, 0, -1)
  if current.shown == "" then
    return
  end
  local hl = config.options.ghost.hl_group
  local lines = vim.split(current.shown, "\n", { plain = true })
  local virt_lines = {}
  for i = 2, #lines do
    virt_lines[#virt_lines + 1] = { { lines[i], hl } }
  end
  vim.api.nvim_buf_set_extmark(current.bufnr, M.ns, current.row, current.col, {
    virt_text = { { lines[1], hl } },
    virt_text_pos = "inline",
    virt_lines = #virt_lines > 0 and virt_lines or nil,
    hl_mode = "combine",
  })
  if current.low_confidence then -- at the end of the line, not between the ghost and the text after the cursor
    vim.api.nvim_buf_set_extmark(current.bufnr, M.ns, current.row, current.col, {
      virt_text = { { "  dglsp: low confidence", "Comment" } },
      virt_text_pos = "eol",
    })
  end
end

local function cursor()
  local pos = vim.api.nvim_win_get_cursor(0)
  return pos[1] - 1, pos[2]
end

local function show(bufnr, row, col, lsp_client, item)
  local line = vim.api.nvim_buf_get_lines(bufnr, row, row + 1, false)[1] or ""
  local range = item.range
  local enc = lsp_client.offset_encoding
  local start_col = range and vim.str_byteindex(line, enc, range.start.character, false) or col
  local end_col = range and vim.str_byteindex(line, enc, range["end"].character, false) or col
  if start_col ~= col or (range and range.start.line ~= row) then
    return -- an item that does not start at the cursor is not one this plugin asked for
  end
  local text = item_text(item)
  local replaced = line:sub(col + 1, end_col)
  -- The item ends with the auto-closed characters it covers: show them once, where they already are.
  if replaced ~= "" and text:sub(-#replaced) == replaced then
    text = text:sub(1, #text - #replaced)
  end
  local info = item.command and item.command.arguments and item.command.arguments[1]
  current = { bufnr = bufnr, row = row, col = col, shown = text, replaced = replaced, command = item.command,
    client = lsp_client, low_confidence = type(info) == "table" and info.low_confidence == true }
  render()
end

--- The client `client_id` left (its server died or was stopped): what it showed stays valid text, but accepting
--- it would report to a server that is gone, and its request in flight will never be answered. Drop both.
function M.forget(client_id)
  if current and current.client.id == client_id then
    M.clear()
  end
  if pending and pending.client.id == client_id then
    pending = nil
  end
end

--- Ask the server now; `invoked` (a key press) skips the server's debounce and word checks.
function M.request(invoked)
  local bufnr = vim.api.nvim_get_current_buf()
  local lsp_client = client.get(bufnr)
  if not lsp_client or vim.fn.pumvisible() == 1 then
    return
  end
  if pending then
    pcall(function() pending.client:cancel_request(pending.id) end)
    pending = nil
  end
  local row, col = cursor()
  local tick = vim.api.nvim_buf_get_changedtick(bufnr)
  local params = vim.lsp.util.make_position_params(0, lsp_client.offset_encoding)
  params.context = { triggerKind = invoked and 1 or 2 }
  local ok, id = lsp_client:request("textDocument/inlineCompletion", params, function(err, result)
    pending = nil
    local r, c = cursor()
    -- A late answer for text that changed or a cursor that moved is dropped, never drawn in the wrong place.
    if err or not result or vim.api.nvim_buf_get_changedtick(bufnr) ~= tick or r ~= row or c ~= col then
      return
    end
    local items = result.items or result
    if items[1] then
      show(bufnr, row, col, lsp_client, items[1])
    end
  end, bufnr)
  if ok then
    pending = { client = lsp_client, id = id }
  end
end

--- Typing: keep what is shown minus what was typed, or clear it and ask again after the debounce.
function M.on_text_changed()
  local row, col = cursor()
  if current and current.bufnr == vim.api.nvim_get_current_buf() and row == current.row and col > current.col then
    local line = vim.api.nvim_buf_get_lines(current.bufnr, row, row + 1, false)[1] or ""
    local typed = line:sub(current.col + 1, col)
    if current.shown:sub(1, #typed) == typed and not typed:find("\n", 1, true) then
      current.shown, current.col = current.shown:sub(#typed + 1), col
      if current.shown == "" then
        M.clear()
      else
        render()
      end
      return
    end
  end
  M.clear()
  M.schedule()
end

function M.schedule()
  if not config.options.ghost.enabled then
    return
  end
  if timer then
    timer:stop()
  end
  timer = vim.defer_fn(function()
    timer = nil
    if vim.api.nvim_get_mode().mode:sub(1, 1) == "i" then
      M.request(false)
    end
  end, config.options.ghost.debounce_ms)
end

--- Insert `text` at the ghost's place and move the cursor after it; the rest stays shown.
local function insert(text, finished)
  local ghost = current
  local lines = vim.split(text, "\n", { plain = true })
  local cover = finished and #ghost.replaced or 0
  local tail = finished and ghost.replaced or ""
  local new_lines = vim.deepcopy(lines)
  new_lines[#new_lines] = new_lines[#new_lines] .. tail
  vim.api.nvim_buf_set_text(ghost.bufnr, ghost.row, ghost.col, ghost.row, ghost.col + cover, new_lines)
  local row = ghost.row + #lines - 1
  local col = (#lines == 1 and ghost.col or 0) + #lines[#lines]
  vim.api.nvim_win_set_cursor(0, { row + 1, col })
  ghost.shown, ghost.row, ghost.col = ghost.shown:sub(#text + 1), row, col
end

function M.accept()
  if not M.visible() then
    return false
  end
  local ghost = current
  insert(ghost.shown, true)
  M.clear()
  if ghost.command then
    ghost.client:exec_cmd(ghost.command, { bufnr = ghost.bufnr })
  end
  return true
end

--- Accept the first of `patterns` that matches what is shown (all of it when none does or it is the rest).
local function accept_part(patterns)
  if not M.visible() then
    return false
  end
  local part
  for _, pattern in ipairs(patterns) do
    part = part or current.shown:match(pattern)
  end
  if not part or part == current.shown then
    return M.accept()
  end
  insert(part, false)
  render()
  return true
end

function M.accept_word()
  return accept_part({ "^%s*[%w_]+", "^%s*[^%w_%s]+" })
end

function M.accept_line()
  return accept_part({ "^[^\n]*\n" })
end

return M
