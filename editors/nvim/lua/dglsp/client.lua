-- The dglsp client: started with vim.lsp.config / vim.lsp.enable (Neovim 0.11+), found again by name.
local config = require("dglsp.config")

local M = {}

M.name = "dglsp"

--- Neovim 0.11 does not advertise inline completion (0.12 does): add it, or the server is never asked.
local function capabilities()
  local caps = vim.lsp.protocol.make_client_capabilities()
  caps.textDocument = caps.textDocument or {}
  caps.textDocument.inlineCompletion = caps.textDocument.inlineCompletion or { dynamicRegistration = false }
  return caps
end

--- `on_exit(code, signal, client_id)` runs when a server exits, whatever the reason (restart.lua tells which).
function M.start(on_exit)
  local opts = config.options
  vim.lsp.config(M.name, {
    cmd = opts.cmd,
    filetypes = opts.filetypes,
    root_markers = opts.root_markers,
    init_options = opts.settings,
    settings = { dglsp = opts.settings },
    capabilities = capabilities(),
    on_exit = on_exit,
  })
  vim.lsp.enable(M.name)
end

-- The first of `clients` whose server is still running: Neovim keeps a client whose server died listed until a
-- scheduled clean-up, and a request sent to it goes nowhere.
local function running(clients)
  for _, lsp_client in ipairs(clients) do
    if not lsp_client:is_stopped() then
      return lsp_client
    end
  end
end

--- The dglsp client attached to `bufnr` (default: the current buffer), or nil.
function M.get(bufnr)
  return running(vim.lsp.get_clients({ name = M.name, bufnr = bufnr or 0 }))
end

--- The dglsp client to run a server command on: the current buffer's, else any (the commands are not per file).
function M.any()
  return M.get() or running(vim.lsp.get_clients({ name = M.name }))
end

--- Start the client for `bufnr` in `root_dir` (or join the one running there), from the configuration setup()
--- made, as vim.lsp.enable does on FileType: attaching sends didOpen with the buffer's text as it is now.
function M.attach(bufnr, root_dir)
  local cfg = vim.deepcopy(vim.lsp.config[M.name])
  cfg.root_dir = root_dir or (cfg.root_markers and vim.fs.root(bufnr, cfg.root_markers)) or nil
  return vim.lsp.start(cfg, { bufnr = bufnr })
end

--- The loaded file buffers of the filetypes the server is for: the ones a (re)started client attaches to.
function M.buffers()
  local out = {}
  for _, bufnr in ipairs(vim.api.nvim_list_bufs()) do
    local bo = vim.bo[bufnr]
    local ours = vim.tbl_contains(config.options.filetypes, bo.filetype)
    if vim.api.nvim_buf_is_loaded(bufnr) and bo.buftype == "" and ours then
      out[#out + 1] = bufnr
    end
  end
  return out
end

--- Stop every dglsp server and start none for new buffers (vim.lsp.enable(name, false)): a stop asked for,
--- which restart.lua never undoes.
function M.stop()
  vim.lsp.enable(M.name, false)
end

--- Run `fn` once every client in `ids` is gone from Neovim's list (it drops a stopped or dead client in a
--- scheduled callback): a client started before that could be joined to the dying one's buffers twice.
function M.when_gone(ids, fn)
  for _, id in ipairs(ids) do
    if vim.lsp.get_client_by_id(id) then
      vim.defer_fn(function()
        M.when_gone(ids, fn)
      end, 20)
      return
    end
  end
  fn()
end

--- Run the server's command `name` (workspace/executeCommand); `on_answer(result)` gets its answer.
--- Returns false when no dglsp server is running.
function M.execute(name, on_answer)
  local lsp_client = M.any()
  if not lsp_client then
    vim.notify("dglsp: not attached", vim.log.levels.WARN)
    return false
  end
  lsp_client:exec_cmd({ title = name, command = name, arguments = {} }, {}, function(err, result)
    if err then
      vim.notify("dglsp: " .. name .. ": " .. err.message, vim.log.levels.ERROR)
    elseif on_answer then
      on_answer(result)
    end
  end)
  return true
end

--- Send new settings to the running server (it reloads what changed and reports bad values), and keep them in
--- the configuration a client starts from, so a server restarted after a crash starts with them too.
function M.update_settings(settings)
  config.options.settings = vim.tbl_deep_extend("force", config.options.settings, settings)
  vim.lsp.config(M.name, { init_options = config.options.settings, settings = { dglsp = config.options.settings } })
  for _, client in ipairs(vim.lsp.get_clients({ name = M.name })) do
    client.settings = { dglsp = config.options.settings }
    client:notify("workspace/didChangeConfiguration", { settings = client.settings })
  end
end

return M
