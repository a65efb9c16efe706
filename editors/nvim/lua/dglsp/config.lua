-- The plugin's options: defaults, merged with what setup() is given.
local M = {}

M.defaults = {
  -- How Neovim starts the server; `{ "python3", "-m", "dglsp", "--stdio" }` for a venv without the script.
  cmd = { "dglsp", "--stdio" },
  -- The language ids the server has a grammar for, as it describes itself.
  filetypes = require("dglsp.contract").languages,
  root_markers = { "dglsp.toml", ".git" },
  -- The server's settings (see dglsp's README): sent as initializationOptions and didChangeConfiguration.
  settings = {},
  ghost = {
    enabled = true, -- ask as you type; false: only on <M-\> (or `keys.trigger`)
    debounce_ms = 120,
    hl_group = "Comment",
  },
  -- After a crash (not a stop you asked for) the server is started again, at most `max` times within
  -- `window_s` seconds; then it stays off until :DglspRestart.
  restart = { max = 4, window_s = 180 },
  keys = {
    accept = "<Tab>",
    accept_word = "<M-w>",
    accept_line = "<M-l>",
    next = "<M-]>",
    dismiss = "<C-]>",
    trigger = "<M-\\>",
  },
}

M.options = vim.deepcopy(M.defaults)

function M.set(opts)
  M.options = vim.tbl_deep_extend("force", vim.deepcopy(M.defaults), opts or {})
  return M.options
end

return M
