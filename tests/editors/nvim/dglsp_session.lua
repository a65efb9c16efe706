-- Drives `dglsp --stdio` from a real headless Neovim, the way a user's config would, and writes what happened as
-- JSON for pytest to check. The checks themselves live in test_nvim.py; this script only fails (exit 1, reason on
-- stderr) when the protocol itself breaks: no client, no model, a request that times out or errors unexpectedly.
--
-- nvim --headless -u NONE -i NONE -l dglsp_session.lua OUT_JSON PYTHON MODEL_DIR WORKDIR
-- WORKDIR holds inline.py (inline completion) and area.py, stale_top.py, stale_end.py (the same stub function, for
-- the code actions: resolved at once, and resolved after the user typed a line at the top or at the end).

local out_path, python, model_dir, workdir = arg[1], arg[2], arg[3], arg[4]
local TIMEOUT_MS = 60000
local REQUEST_MS = 30000

-- harness.lua sits beside this script.
package.path = debug.getinfo(1, "S").source:sub(2):match("(.*/)") .. "?.lua;" .. package.path
local harness = require("harness")
local fail = harness.fail

local function open(name)
  vim.cmd.edit(vim.fn.fnameescape(workdir .. "/" .. name))
  local bufnr = vim.api.nvim_get_current_buf()
  -- `-u NONE` leaves filetype detection off; the filetype is the languageId Neovim sends in didOpen.
  vim.bo[bufnr].filetype = "python"
  return bufnr
end

local function lines(bufnr)
  return vim.api.nvim_buf_get_lines(bufnr, 0, -1, false)
end

--- A request that must succeed: its result.
local function request(client, method, params, bufnr)
  local response, reason = client:request_sync(method, params, REQUEST_MS, bufnr)
  if not response then
    fail(method .. ": no response (" .. tostring(reason) .. ")")
  end
  if response.err then
    fail(method .. ": " .. vim.inspect(response.err))
  end
  return response.result
end

local function start(bufnr)
  -- Neovim 0.11 neither advertises inline completion nor has a client for it: add the capability by hand.
  local capabilities = vim.tbl_deep_extend("force", vim.lsp.protocol.make_client_capabilities(), {
    textDocument = { inlineCompletion = { dynamicRegistration = false } },
  })
  local client_id = vim.lsp.start({
    name = "dglsp",
    cmd = { python, "-m", "dglsp", "--stdio" },
    root_dir = workdir,
    -- Raw first-line fills: a random-weight model's fills never parse, so a tree-sitter cut would empty them.
    init_options = { model = model_dir, parseTrim = false, debounceMs = 0, minConfidence = 0 },
    capabilities = capabilities,
  }, { bufnr = bufnr })
  if not client_id then
    fail("vim.lsp.start returned no client")
  end
  local client = assert(vim.lsp.get_client_by_id(client_id))
  if not vim.wait(TIMEOUT_MS, function()
    return client.initialized
  end, 20) then
    fail("the client never initialized")
  end
  -- The model loads on the server's worker after `initialized` (a torch import: seconds); poll until it is done.
  local deadline = vim.uv.now() + TIMEOUT_MS
  local state
  repeat
    state = request(client, "dglsp/stats", {}, bufnr).model
    if state.state == "error" then
      fail("the model failed to load: " .. tostring(state.error))
    end
    if state.state ~= "ready" then
      vim.wait(100)
    end
  until state.state == "ready" or vim.uv.now() > deadline
  if state.state ~= "ready" then
    fail("the model was still " .. tostring(state.state) .. " after " .. TIMEOUT_MS .. " ms")
  end
  return client
end

--- Inline completion at the end of `    return `, applied as an inline-completion client applies an item.
local function inline_scenario(client, bufnr)
  -- Past the last character, as in insert mode; normal mode would clamp the cursor onto the trailing space.
  vim.wo.virtualedit = "onemore"
  vim.api.nvim_win_set_cursor(0, { 5, #"    return " })
  local params = vim.lsp.util.make_position_params(0, client.offset_encoding)
  params.context = { triggerKind = 1 } -- Invoked
  local before = lines(bufnr)
  local result = request(client, "textDocument/inlineCompletion", params, bufnr)
  local items = result.items or result -- InlineCompletionList or InlineCompletionItem[]
  if #items == 0 then
    fail("textDocument/inlineCompletion returned no item")
  end
  local item = items[1]
  vim.lsp.util.apply_text_edits(
    { { range = item.range, newText = item.insertText } },
    bufnr,
    client.offset_encoding
  )
  local after = lines(bufnr)
  -- Taking the suggestion runs its command, which is how the server counts acceptances.
  local command_result = item.command
      and request(client, "workspace/executeCommand", {
        command = item.command.command,
        arguments = item.command.arguments,
      }, bufnr)
    or nil
  return {
    position = params.position,
    items = #items,
    item = item,
    before = before,
    after = after,
    command_result = command_result,
    stats = request(client, "dglsp/stats", {}, bufnr),
  }
end

local USER_LINE = "# typed by the user"

--- The "Complete body" action on `pass`: list, let the user type (user_edit "top" or "end"), resolve, apply.
local function body_scenario(client, bufnr, user_edit)
  -- Rewrite the first line with itself: the buffer's version moves past 0, the didOpen version, so Neovim's own
  -- "Buffer newer than edits" check in apply_workspace_edit (skipped for version 0) is live as well.
  vim.api.nvim_buf_set_lines(bufnr, 0, 1, false, { vim.api.nvim_buf_get_lines(bufnr, 0, 1, false)[1] })
  vim.api.nvim_win_set_cursor(0, { 2, 4 }) -- on `pass`
  local params = vim.lsp.util.make_range_params(0, client.offset_encoding)
  params.context = { diagnostics = {} }
  local before = lines(bufnr)
  local listed_version = vim.lsp.util.buf_versions[bufnr]
  local actions = request(client, "textDocument/codeAction", params, bufnr) or {}
  local titles, action = {}, nil
  for _, candidate in ipairs(actions) do
    titles[#titles + 1] = candidate.title
    if candidate.title == "dglsp: Complete body" then
      action = candidate
    end
  end
  if not action then
    fail("no 'dglsp: Complete body' action among " .. vim.inspect(titles))
  end
  local listed = vim.deepcopy(action)
  local user_lines
  if user_edit then
    -- The user types between the menu and the choice; Neovim sends the didChange before the next request. At the
    -- top the listed offsets move; at the end they still point at `pass`, so only the version can tell.
    local at = user_edit == "top" and 0 or -1
    vim.api.nvim_buf_set_lines(bufnr, at, at, false, { USER_LINE })
    user_lines = lines(bufnr)
  end
  -- The version the server holds when it resolves: request() flushes pending didChange notifications first.
  local resolve_version, changedtick = vim.lsp.util.buf_versions[bufnr], vim.b[bufnr].changedtick
  local response, reason = client:request_sync("codeAction/resolve", action, REQUEST_MS, bufnr)
  if not response then
    fail("codeAction/resolve: no response (" .. tostring(reason) .. ")")
  end
  local resolved = response.result
  if resolved and resolved.edit then
    -- Apply whatever came back, as Neovim's code-action menu would: a wrong edit must show in the buffer.
    -- (A copy: apply_workspace_edit writes its own bookkeeping into the edits it is given.)
    vim.lsp.util.apply_workspace_edit(vim.deepcopy(resolved.edit), client.offset_encoding)
  end
  return {
    titles = titles,
    listed = listed,
    params = params,
    before = before,
    user_lines = user_lines or vim.NIL,
    listed_version = listed_version,
    resolve_version = resolve_version,
    changedtick = changedtick,
    error = response.err or vim.NIL,
    resolved = resolved or vim.NIL,
    after = lines(bufnr),
    after_version = vim.lsp.util.buf_versions[bufnr],
  }
end

local function main()
  local inline_buf = open("inline.py")
  local client = start(inline_buf)
  local results = { offset_encoding = client.offset_encoding }
  results.inline = inline_scenario(client, inline_buf)
  local area_buf = open("area.py")
  vim.lsp.buf_attach_client(area_buf, client.id)
  results.body = body_scenario(client, area_buf, false)
  for _, where in ipairs({ "top", "end" }) do
    local stale_buf = open("stale_" .. where .. ".py")
    vim.lsp.buf_attach_client(stale_buf, client.id)
    results["stale_" .. where] = body_scenario(client, stale_buf, where)
  end
  return client, results
end

local ok, client_or_error, results = xpcall(main, debug.traceback)
harness.finish(out_path, ok, "dglsp nvim test failed: " .. tostring(client_or_error), results)
