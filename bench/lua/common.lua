-- Shared by the wrk scripts: one machine-readable result line per run.
local M = {}

-- Prints "BENCHJSON {...}" with wrk's summary, latency percentiles (µs)
-- and any extra integer counters.
function M.report(summary, latency, extra)
  local e = summary.errors
  local parts = {
    string.format('"requests":%d', summary.requests),
    string.format('"duration_us":%d', summary.duration),
    string.format('"p50_us":%d', latency:percentile(50)),
    string.format('"p90_us":%d', latency:percentile(90)),
    string.format('"p99_us":%d', latency:percentile(99)),
    string.format('"p999_us":%d', latency:percentile(99.9)),
    string.format('"max_us":%d', latency.max),
    string.format('"mean_us":%.1f', latency.mean),
    string.format('"err_connect":%d', e.connect),
    string.format('"err_read":%d', e.read),
    string.format('"err_write":%d', e.write),
    string.format('"err_status":%d', e.status),
    string.format('"err_timeout":%d', e.timeout),
  }
  for k, v in pairs(extra or {}) do
    table.insert(parts, string.format('"%s":%d', k, v))
  end
  io.write("BENCHJSON {" .. table.concat(parts, ",") .. "}\n")
end

-- Remembers the threads so done() can read their counters.
M.threads = {}
function M.setup(thread)
  thread:set("id", #M.threads)
  table.insert(M.threads, thread)
end

-- The sum of a numeric global over every thread.
function M.sum(name)
  local total = 0
  for _, t in ipairs(M.threads) do
    total = total + (t:get(name) or 0)
  end
  return total
end

return M
