-- dglsp for Neovim 0.11+: starts `dglsp --stdio`, shows its inline completions as ghost text, and adds a user
-- command for each code action and command in the server's contract (contract.lua: :DglspRewrite,
-- :DglspToggle, ...), :DglspStats, :DglspStop and :DglspRestart. A server that crashes is restarted (restart.lua).
--   require("dglsp").setup({ settings = { model = "~/models/dg" }, keys = { accept = "<Tab>" } })
local actions = require("dglsp.actions")
local client = require("dglsp.client")
local config = require("dglsp.config")
local contract = require("dglsp.contract")
local ghost = require("dglsp.ghost")
local restart = require("dglsp.restart")

local M = {}

-- 0.12 draws inline completions itself; 0.11 needs this plugin's ghost text.
local native = vim.lsp.inline_completion ~= nil

local function map_insert(key, fn)
  if not key or key == "" then
    return
  end
  local fallback = vim.api.nvim_replace_termcodes(key, true, false, true)
  vim.keymap.set("i", key, function()
    if (native and fn == ghost.accept and vim.lsp.inline_completion.get()) or (not native and ghost.visible()) then
      -- Expression mappings may not change the buffer (textlock): do it right after.
      vim.schedule(fn)
      return ""
    end
    return fallback
  end, { expr = true, replace_keycodes = false, desc = "dglsp" })
end

local function keymaps()
  local keys = config.options.keys
  map_insert(keys.accept, ghost.accept)
  if not native then
    map_insert(keys.accept_word, ghost.accept_word)
    map_insert(keys.accept_line, ghost.accept_line)
    map_insert(keys.dismiss, ghost.clear)
  end
  for _, key in ipairs({ keys.next, keys.trigger }) do
    if key and key ~= "" then
      vim.keymap.set("i", key, function()
        ghost.clear()
        ghost.request(true)
      end, { desc = "dglsp: ask now" })
    end
  end
end

local function autocmds()
  local group = vim.api.nvim_create_augroup("dglsp", { clear = true })
  vim.api.nvim_create_autocmd("LspDetach", {
    group = group,
    callback = function(args)
      ghost.forget(args.data.client_id)
    end,
  })
  if native then
    vim.api.nvim_create_autocmd("LspAttach", {
      group = group,
      callback = function(args)
        local attached = vim.lsp.get_client_by_id(args.data.client_id)
        if attached and attached.name == client.name then
          vim.lsp.inline_completion.enable(true, { bufnr = args.buf })
        end
      end,
    })
    return
  end
  vim.api.nvim_create_autocmd({ "TextChangedI", "TextChangedP" }, { group = group, callback = ghost.on_text_changed })
  vim.api.nvim_create_autocmd("InsertEnter", { group = group, callback = ghost.schedule })
  vim.api.nvim_create_autocmd({ "InsertLeave", "BufLeave", "CompleteChanged" }, { group = group, callback = ghost.clear })
  vim.api.nvim_create_autocmd("CursorMovedI", {
    group = group,
    callback = function()
      local shown = ghost.shown()
      local pos = vim.api.nvim_win_get_cursor(0)
      if shown and (pos[1] - 1 ~= shown.row or pos[2] ~= shown.col) then
        ghost.clear()
        ghost.schedule()
      end
    end,
  })
end

-- The toggle's answer says where the server's switch is now: the ghost text follows it rather than flipping
-- on its own, so the two cannot drift apart (two quick toggles end where the server ends).
local function on_toggled(answer)
  if type(answer) ~= "table" or type(answer.enabled) ~= "boolean" then
    return
  end
  config.options.ghost.enabled = answer.enabled
  ghost.clear()
  vim.notify("dglsp: completions " .. (answer.enabled and "on" or "off"))
end

-- What the plugin does with a server command's answer; a command not named here needs nothing more than running.
local answers = { ["dglsp.toggle"] = on_toggled }

local function action_commands()
  for _, entry in ipairs(contract.actions) do
    local opts = { desc = "dglsp: " .. entry.title }
    if entry.selection then
      opts.range = true
    end
    vim.api.nvim_create_user_command(entry.command, actions.command(entry.kind), opts)
  end
end

local function server_commands()
  for _, entry in ipairs(contract.commands) do
    vim.api.nvim_create_user_command(entry.command, function()
      client.execute(entry.name, answers[entry.name])
    end, { desc = "dglsp: " .. entry.title })
  end
end

local function commands()
  action_commands()
  server_commands()
  vim.api.nvim_create_user_command("DglspStats", function()
    local lsp_client = client.get()
    local stats = lsp_client and lsp_client:request_sync("dglsp/stats", {}, 5000)
    print(stats and stats.result and vim.inspect(stats.result) or "dglsp: not attached")
  end, { desc = "dglsp: latency and counts" })
  vim.api.nvim_create_user_command("DglspStop", client.stop, { desc = "dglsp: stop the server (no restart)" })
  vim.api.nvim_create_user_command("DglspRestart", restart.by_hand, { desc = "dglsp: start the server again" })
end

--- Completions off / on, through the server's `dglsp.toggle` (so no model time is spent while off); the ghost
--- text follows its answer. Returns false when no dglsp server is running.
function M.toggle()
  return client.execute("dglsp.toggle", on_toggled)
end

--- Change the server's settings at run time (didChangeConfiguration).
M.update_settings = client.update_settings

function M.setup(opts)
  config.set(opts)
  client.start(restart.on_exit)
  keymaps()
  autocmds()
  commands()
end

return M
