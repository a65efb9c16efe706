-- Drives a copy of the Neovim plugin whose contract.lua was regenerated for a server with one more action, `shout`
-- (tests/editors/throwaway.py), against that server, and writes what happened as JSON for
-- test_nvim_throwaway.py. The plugin's code is the repository's, unchanged: only the generated table differs.
-- nvim --headless -u NONE -i NONE -n -l throwaway_session.lua OUT_JSON PYTHON MODEL_DIR WORKDIR PLUGIN_DIR
-- WORKDIR holds hello.py, decoy.py and commands.py, each `hello = 1` then `print(hello)`.

local out_path, python, model_dir, workdir, plugin_dir = arg[1], arg[2], arg[3], arg[4], arg[5]

vim.opt.rtp:prepend(plugin_dir)
vim.cmd("filetype on") -- `-u NONE` leaves it off; vim.lsp.enable attaches on FileType

-- harness.lua sits beside this script.
package.path = debug.getinfo(1, "S").source:sub(2):match("(.*/)") .. "?.lua;" .. package.path
local harness = require("harness")
local fail, wait = harness.fail, harness.wait

-- What the plugin tells the user, in order (a headless Neovim would only print it).
local notified = harness.capture_notify()

require("dglsp").setup({
  cmd = { python, "-m", "dglsp", "--stdio" },
  root_markers = { "hello.py" },
  settings = { model = model_dir, debounceMs = 0, minConfidence = 0 },
})
local dglsp_client = require("dglsp.client")

local result = {
  notified = notified,
  -- Which contract.lua `require` found: the copy's, or this test shows nothing about the copy.
  contract_files = vim.api.nvim_get_runtime_file("lua/dglsp/contract.lua", true),
}

local function lines(bufnr)
  return vim.api.nvim_buf_get_lines(bufnr, 0, -1, false)
end

local function request(client, method, params, bufnr)
  local response = client:request_sync(method, params, 10000, bufnr)
  if not response or response.err then
    fail(method .. ": " .. vim.inspect(response and response.err))
  end
  return response.result
end

--- Open `name` and wait until a dglsp client is attached and its model loaded; the client.
local function open(name)
  vim.cmd.edit(vim.fn.fnameescape(workdir .. "/" .. name))
  local bufnr = vim.api.nvim_get_current_buf()
  wait("the dglsp client on " .. name, function()
    local c = dglsp_client.get(bufnr)
    return c ~= nil and c.initialized
  end)
  local client = dglsp_client.get(bufnr)
  wait("the model", function()
    local state = request(client, "dglsp/stats", {}, bufnr).model.state
    if state == "error" then
      fail("the model failed to load")
    end
    return state == "ready"
  end)
  return client, bufnr
end

--- What the server lists for line 1, in the form it sends to this client.
local function listed_on_line_one(client, bufnr)
  local width = #vim.api.nvim_buf_get_lines(bufnr, 0, 1, false)[1]
  local params = {
    textDocument = { uri = vim.uri_from_bufnr(bufnr) },
    range = { start = { line = 0, character = 0 }, ["end"] = { line = 0, character = width } },
    context = { diagnostics = {} },
  }
  return request(client, "textDocument/codeAction", params, bufnr)
end

local function user_command(name)
  local command = vim.api.nvim_get_commands({ builtin = false })[name]
  return command and { range = command.range or vim.NIL, desc = command.definition } or vim.NIL
end

local ok, err = pcall(function()
  result.shout_command = user_command("DglspShout")

  -- 1. The copy's server describes and lists `shout`: the server imported the copy, not the repository.
  local client, hello = open("hello.py")
  result.described_kinds = vim.tbl_map(function(a)
    return a.kind
  end, request(client, "dglsp/describe", {}, hello).actions)
  result.listed = listed_on_line_one(client, hello)

  -- 2. :1DglspShout upper-cases line 1 and only it.
  result.hello_before = lines(hello)
  vim.cmd("1DglspShout")
  result.hello_after = lines(hello)

  -- 3. Without a range there is nothing to shout: the contract's reason, no change.
  local told = #notified
  vim.api.nvim_win_set_cursor(0, { 2, 0 })
  vim.cmd("DglspShout")
  result.not_offered_notified = vim.list_slice(notified, told + 1)
  result.hello_after_not_offered = lines(hello)

  -- 4. The list holds a second shout action after the real one, with the same title and offsets into line 2:
  -- the first must run. Matching titles and keeping the last would shout line 2 instead.
  local decoy_client, decoy = open("decoy.py")
  local real_request = decoy_client.request
  decoy_client.request = function(self, method, params, handler, bufnr)
    if method ~= "textDocument/codeAction" then
      return real_request(self, method, params, handler, bufnr)
    end
    return real_request(self, method, params, function(err, listed, ...)
      for _, action in ipairs(vim.deepcopy(listed or {})) do
        if action.data and action.data.kind == "shout" then
          local second_line = vim.api.nvim_buf_get_lines(bufnr, 1, 2, false)[1]
          action.data.start = #vim.api.nvim_buf_get_lines(bufnr, 0, 1, false)[1] + 1
          action.data["end"] = action.data.start + #second_line
          listed[#listed + 1] = action
        end
      end
      result.decoy_listed = listed
      return handler(err, listed, ...)
    end, bufnr)
  end
  vim.cmd("1DglspShout")
  decoy_client.request = nil -- the class's method again
  result.decoy_after = lines(decoy)

  -- 5. A client that cannot resolve edits gets dglsp.runAction Commands: the server applies the edit itself.
  for _, c in ipairs(vim.lsp.get_clients({ name = "dglsp" })) do
    c:stop()
    wait("the first server to stop", function()
      return c:is_stopped()
    end)
  end
  vim.lsp.config("dglsp", { capabilities = { textDocument = { codeAction = {
    resolveSupport = { properties = { "command" } }, -- a list: it replaces { "edit", "command" }
  } } } })
  local command_client, commands_buf = open("commands.py")
  result.command_client_is_new = command_client.id ~= client.id
  result.command_listed = listed_on_line_one(command_client, commands_buf)
  vim.cmd("1DglspShout")
  result.commands_after = lines(commands_buf)
end)

harness.finish(out_path, ok, err, result)
