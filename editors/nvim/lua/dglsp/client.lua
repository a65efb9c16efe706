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

function M.start()
  local opts = config.options
  vim.lsp.config(M.name, {
    cmd = opts.cmd,
    filetypes = opts.filetypes,
    root_markers = opts.root_markers,
    init_options = opts.settings,
    settings = { dglsp = opts.settings },
    capabilities = capabilities(),
  })
  vim.lsp.enable(M.name)
end

--- The dglsp client attached to `bufnr` (default: the current buffer), or nil.
function M.get(bufnr)
  return vim.lsp.get_clients({ name = M.name, bufnr = bufnr or 0 })[1]
end

--- The dglsp client to run a server command on: the current buffer's, else any (the commands are not per file).
local function any_client()
  return M.get() or vim.lsp.get_clients({ name = M.name })[1]
end

--- Run the server's command `name` (workspace/executeCommand); `on_answer(result)` gets its answer.
--- Returns false when no dglsp server is running.
function M.execute(name, on_answer)
  local lsp_client = any_client()
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

--- Send new settings to the running server (it reloads what changed and reports bad values).
function M.update_settings(settings)
  config.options.settings = vim.tbl_deep_extend("force", config.options.settings, settings)
  for _, client in ipairs(vim.lsp.get_clients({ name = M.name })) do
    client.settings = { dglsp = config.options.settings }
    client:notify("workspace/didChangeConfiguration", { settings = client.settings })
  end
end

return M
