-- What the headless session scripts share: failing with a reason, waiting on a condition (never on the clock),
-- keeping what the plugin tells the user, and handing the result to the Python side.
local M = {}

M.TIMEOUT_MS = 60000

function M.fail(message)
  error(message, 0)
end

function M.wait(what, predicate)
  -- A deadline of its own: vim.wait's timeout stops counting while a predicate waits inside (request_sync), so a
  -- predicate that asks the server would otherwise let a wait outlive the test's own timeout, with no reason given.
  local deadline, met = vim.uv.hrtime() + M.TIMEOUT_MS * 1e6, false
  vim.wait(M.TIMEOUT_MS, function()
    met = predicate() and true or false
    return met or vim.uv.hrtime() > deadline
  end, 20)
  if not met then
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

--- A buffer's lines.
function M.lines(bufnr)
  return vim.api.nvim_buf_get_lines(bufnr, 0, -1, false)
end

--- The server's dglsp/stats, asked through `client` (nil when it does not answer).
function M.stats(client)
  local response = client:request_sync("dglsp/stats", {}, 10000)
  return response and response.result
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
