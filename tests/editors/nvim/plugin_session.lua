-- Drives the dglsp Neovim plugin (editors/nvim) in a real headless Neovim 0.11 against `dglsp --stdio`, the way a
-- user's config would (require("dglsp").setup{...}), and writes what happened as JSON for test_nvim_plugin.py.
-- nvim --headless -u NONE -i NONE -n -l plugin_session.lua OUT_JSON PYTHON MODEL_DIR WORKDIR PLUGIN_DIR

local out_path, python, model_dir, workdir, plugin_dir = arg[1], arg[2], arg[3], arg[4], arg[5]

vim.opt.rtp:prepend(plugin_dir)
vim.cmd("filetype on") -- `-u NONE` leaves it off; vim.lsp.enable attaches on FileType
-- A script runs in normal mode, where the cursor cannot sit after a line's last character as it does while
-- typing in insert mode: allow it, so the cursor can be where a user's is.
vim.o.virtualedit = "onemore"

-- harness.lua sits beside this script.
package.path = debug.getinfo(1, "S").source:sub(2):match("(.*/)") .. "?.lua;" .. package.path
local harness = require("harness")
local fail, wait = harness.fail, harness.wait

local dglsp = require("dglsp")
local ghost = require("dglsp.ghost")
local config = require("dglsp.config")
-- What the plugin tells the user, in order (a headless Neovim would only print it).
local notified = harness.capture_notify()
dglsp.setup({
  cmd = { python, "-m", "dglsp", "--stdio" },
  root_markers = { "inline.py" },
  -- Raw first-line fills: a random-weight model's fills never parse, so a tree-sitter cut would empty them. No
  -- minConfidence: the model is never confident, so an asked-for fill comes marked low-confidence (step 1).
  settings = { model = model_dir, parseTrim = false, debounceMs = 0 },
  ghost = { debounce_ms = 0 },
})

local result = { notified = notified }

local lines, stats = harness.lines, harness.stats

local function ghost_marks(bufnr)
  local marks = {}
  for _, mark in ipairs(vim.api.nvim_buf_get_extmarks(bufnr, ghost.ns, 0, -1, { details = true })) do
    local details = mark[4]
    local virt_lines = {}
    for _, chunks in ipairs(details.virt_lines or {}) do
      virt_lines[#virt_lines + 1] = chunks[1][1]
    end
    marks[#marks + 1] = {
      row = mark[2], col = mark[3], text = details.virt_text and details.virt_text[1][1] or "",
      pos = details.virt_text_pos, virt_lines = virt_lines,
    }
  end
  return marks
end

local ok, err = pcall(function()
  -- The user commands setup() made: their range ("." for a range, none without) and description.
  result.commands = {}
  for name, command in pairs(vim.api.nvim_get_commands({ builtin = false })) do
    if name:match("^Dglsp") then
      result.commands[name] = { range = command.range or vim.NIL, desc = command.definition }
    end
  end
  result.filetypes = config.options.filetypes

  vim.cmd.edit(vim.fn.fnameescape(workdir .. "/inline.py"))
  local bufnr = vim.api.nvim_get_current_buf()
  wait("the dglsp client to attach", function()
    local c = require("dglsp.client").get(bufnr)
    return c ~= nil and c.initialized
  end)
  local client = require("dglsp.client").get(bufnr)
  wait("the model to load", function()
    local s = stats(client)
    return s and s.model.state ~= "loading" and s.model.state ~= "idle"
  end)
  result.model = stats(client).model

  -- 1. Ghost text: ask at the end of `    return `, as <M-\> would; it is drawn as extmarks, the buffer untouched.
  vim.api.nvim_win_set_cursor(0, { 5, 11 })
  result.before = lines(bufnr)
  ghost.request(true)
  wait("ghost text", ghost.visible)
  result.shown = ghost.shown()
  result.marks = ghost_marks(bufnr)
  result.lines_while_shown = lines(bufnr)

  -- 2. The user types the first character of the suggestion: the rest stays shown, no new request.
  local first = result.shown.text:sub(1, 1)
  vim.api.nvim_buf_set_text(bufnr, 4, 11, 4, 11, { first })
  vim.api.nvim_win_set_cursor(0, { 5, 12 })
  ghost.on_text_changed()
  result.typed = first
  result.shown_after_typing = ghost.shown()
  result.marks_after_typing = ghost_marks(bufnr)

  -- 3. Accept one word, then the rest.
  ghost.accept_word()
  result.after_word = lines(bufnr)
  result.shown_after_word = ghost.shown()
  ghost.accept()
  result.after_accept = lines(bufnr)
  result.marks_after_accept = ghost_marks(bufnr)
  result.cursor_after_accept = vim.api.nvim_win_get_cursor(0)
  wait("the acceptance to be counted", function()
    local counts = stats(client).counts.inline or {}
    return counts.accepted == 1
  end)
  result.counts = stats(client).counts

  -- 4. :DglspRewrite over line 2 of area.py applies the server's versioned edit; first minConfidence 0, or the
  -- server would say the random model is not confident of its rewrite instead of editing.
  dglsp.update_settings({ minConfidence = 0 })
  wait("the server to take minConfidence 0", function()
    return stats(client).settings.min_confidence == 0
  end)
  vim.cmd.edit(vim.fn.fnameescape(workdir .. "/area.py"))
  local area = vim.api.nvim_get_current_buf()
  wait("the client on area.py", function()
    return require("dglsp.client").get(area) ~= nil
  end)
  result.area_before = lines(area)
  result.area_version = vim.lsp.util.buf_versions[area] -- the version the action is listed and resolved for
  local edit, reason = require("dglsp.actions").run("rewrite", 2, 2)
  result.rewrite_edit = edit or vim.NIL
  result.rewrite_reason = reason or vim.NIL
  result.area_after = lines(area)
  result.encoding = client.offset_encoding

  -- 4b. :DglspFillHoles where there is no hole: nothing changes, the user is told why, in the contract's words.
  local before_holes = #notified
  vim.api.nvim_win_set_cursor(0, { 2, 4 })
  vim.cmd("DglspFillHoles")
  result.holes_notified = vim.list_slice(notified, before_holes + 1)
  result.area_after_holes = lines(area)

  -- 5. :checkhealth dglsp finds the server, its version and the model's state.
  vim.cmd("checkhealth dglsp")
  result.health = lines(vim.api.nvim_get_current_buf())
  vim.cmd("bwipeout!")

  -- 6. Toggling goes through the server's dglsp.toggle; the ghost text follows the server's answer.
  result.toggle_started = dglsp.toggle()
  wait("the ghost text to follow the toggle", function()
    return config.options.ghost.enabled == false
  end)
  result.enabled_after_toggle = stats(client).settings.enabled
  result.ghost_after_toggle = config.options.ghost.enabled
  vim.cmd("DglspToggle")
  wait("the ghost text to follow the second toggle", function()
    return config.options.ghost.enabled == true
  end)
  result.enabled_after_second_toggle = stats(client).settings.enabled
  result.ghost_after_second_toggle = config.options.ghost.enabled
  -- Nothing went through didChangeConfiguration: the settings the plugin sends never learnt `enabled`.
  result.settings_after_toggles = config.options.settings

  -- 7. :DglspReloadModel reads the model again: a new load, so a new generation.
  local generation = stats(client).model.generation
  vim.cmd("DglspReloadModel")
  wait("the reloaded model", function()
    local model = stats(client).model
    return model.generation > generation and model.state == "ready"
  end)
  result.generations = { generation, stats(client).model.generation }
end)

harness.finish(out_path, ok, err, result)
