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

--- Send new settings to the running server (it reloads what changed and reports bad values).
function M.update_settings(settings)
  config.options.settings = vim.tbl_deep_extend("force", config.options.settings, settings)
  for _, client in ipairs(vim.lsp.get_clients({ name = M.name })) do
    client.settings = { dglsp = config.options.settings }
    client:notify("workspace/didChangeConfiguration", { settings = client.settings })
  end
end

return M
