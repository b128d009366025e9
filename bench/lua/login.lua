-- POST /auth/login over a pool of distinct users (the threads take
-- disjoint halves, round-robin), each request with its own
-- X-Forwarded-For address (the gateway trusts 127.0.0.1 as a proxy), so
-- neither the per-user nor the per-address throttle sees repeated attempts.
--
-- Environment: BENCH_USER_PREFIX, BENCH_USERS, BENCH_PASSWORD,
-- BENCH_THREADS, BENCH_SALT (varies the addresses between runs).
local common = dofile(os.getenv("BENCH_LUA") .. "/common.lua")

setup = common.setup

function init(args)
  local nthreads = tonumber(os.getenv("BENCH_THREADS"))
  local prefix = os.getenv("BENCH_USER_PREFIX")
  local password = os.getenv("BENCH_PASSWORD")
  salt = tonumber(os.getenv("BENCH_SALT") or "0")
  bodies = {}
  for i = 0, tonumber(os.getenv("BENCH_USERS")) - 1 do
    if i % nthreads == id then
      table.insert(bodies, string.format('{"username":"%s%04d","password":"%s"}',
        prefix, i, password))
    end
  end
  n, ok, throttled, other = 0, 0, 0, 0
end

function request()
  n = n + 1
  local body = bodies[(n - 1) % #bodies + 1]
  local addr = string.format("10.%d.%d.%d", (salt * 8 + id) % 256,
    math.floor(n / 250) % 250 + 1, n % 250 + 1)
  return wrk.format("POST", "/auth/login",
    { ["Content-Type"] = "application/json", ["X-Forwarded-For"] = addr }, body)
end

function response(status, headers, body)
  if status == 200 then
    ok = ok + 1
  elseif status == 429 then
    throttled = throttled + 1
  else
    other = other + 1
  end
end

function done(summary, latency, requests)
  common.report(summary, latency, {
    ok = common.sum("ok"),
    throttled = common.sum("throttled"),
    other = common.sum("other"),
  })
end
