-- What the headless session scripts share: failing with a reason, waiting on a condition (never on the clock),
-- keeping what the plugin tells the user, and handing the result to the Python side.
local M = {}

M.TIMEOUT_MS = 60000

function M.fail(message)
  error(message, 0)
end

function M.wait(what, predicate)
  if not vim.wait(M.TIMEOUT_MS, predicate, 20) then
    M.fail("timed out waiting for " .. what)
  end
end

--- vim.notify's messages from now on, in order (a headless Neovim would only print them).
function M.capture_notify()
  local notified = {}
  vim.notify = function(message, level)
    notified[#notified + 1] = { message = message, level = level or vim.log.levels.INFO }
  end
  return notified
end

--- Stop the LSP clients, then write `result` as JSON to `path` and exit 0, or, when the run failed (`ok` false),
--- the reason and what was gathered so far to stderr and exit 1.
function M.finish(path, ok, err, result)
  for _, client in ipairs(vim.lsp.get_clients()) do
    client:stop(true)
  end
  if not ok then
    io.stderr:write(tostring(err) .. "\n" .. vim.inspect(result) .. "\n")
    io.stderr:flush()
    os.exit(1)
  end
  local file = assert(io.open(path, "w"))
  file:write(vim.json.encode(result))
  file:close()
  os.exit(0)
end

return M
