-- Why a dglsp server exited: a crash (a segfault, the OOM killer, kill -9) or a stop someone asked for. Only a
-- crash is worth a restart: restarting a server the user stopped would undo what they did.
local M = {}

-- The signals whose numbers are the same on Linux and macOS (SIGBUS and others differ, so they stay numbers).
local names = { [1] = "SIGHUP", [2] = "SIGINT", [4] = "SIGILL", [6] = "SIGABRT", [8] = "SIGFPE", [9] = "SIGKILL",
  [11] = "SIGSEGV", [15] = "SIGTERM" }

--- Did the client ask its server to stop? Every stop goes through Client:stop(), which sets `_is_stopping`:
--- :LspStop, vim.lsp.enable(name, false), vim.lsp.stop_client(), :DglspStop, Neovim exiting (VimLeavePre). The
--- field is Neovim 0.11's own and private, and the only record of a stop that was asked for: read it in on_exit,
--- before Neovim drops the client.
function M.asked_to_stop(lsp_client)
  return lsp_client ~= nil and lsp_client._is_stopping == true
end

--- Neovim's own rule for an exit that is not normal (the one it warns about in on_client_exit): a stop it asks
--- for ends with 0 (shutdown, then exit) or SIGTERM (a forced stop). So a stop is recognised by its status too,
--- should a later Neovim rename the private field.
function M.abnormal(code, signal)
  return code ~= 0 or (signal ~= 0 and signal ~= 15)
end

--- A crash: nobody asked for the exit and its status is not a normal one. A SIGTERM nobody asked for (a shell's
--- `kill`, the system shutting down) is someone stopping the server on purpose, not a crash.
function M.is_crash(lsp_client, code, signal)
  return not M.asked_to_stop(lsp_client) and M.abnormal(code, signal)
end

--- "exit code 0, signal 9 (SIGKILL)", for messages and :checkhealth.
function M.describe(code, signal)
  local text = "exit code " .. tostring(code)
  if signal and signal ~= 0 then
    text = text .. ", signal " .. signal .. (names[signal] and (" (" .. names[signal] .. ")") or "")
  end
  return text
end

return M
