-- POST /auth/refresh with a queue of refresh cookies per thread: each
-- request takes the cookie at the head of the queue, each 200 response's
-- Set-Cookie (the rotated token) goes to the tail. So every session always
-- presents its own current token, and no two requests of a session overlap
-- as long as the queue is longer than the connections.
--
-- Environment: BENCH_COOKIES (one cookie value per line, split over the
-- threads), BENCH_COOKIES_OUT (where done() writes the queues back),
-- BENCH_THREADS, BENCH_COOKIE_NAME.
local common = dofile(os.getenv("BENCH_LUA") .. "/common.lua")
local cookie_name = os.getenv("BENCH_COOKIE_NAME") or "portcullis_refresh"

setup = common.setup

function init(args)
  local nthreads = tonumber(os.getenv("BENCH_THREADS"))
  queue, head, tail = {}, 1, 0
  ok, lost, nocookie, starved = 0, 0, 0, 0
  local i = 0
  for line in io.lines(os.getenv("BENCH_COOKIES")) do
    if line ~= "" then
      if i % nthreads == id then
        tail = tail + 1
        queue[tail] = line
      end
      i = i + 1
    end
  end
  pattern = cookie_name .. "=([^;]+)"
end

function request()
  local cookie = "none"
  if head <= tail then
    cookie = queue[head]
    queue[head] = nil
    head = head + 1
  else
    starved = starved + 1
  end
  return wrk.format("POST", "/auth/refresh",
    { ["Cookie"] = cookie_name .. "=" .. cookie, ["X-CSRF"] = "1" }, nil)
end

function response(status, headers, body)
  if status ~= 200 then
    lost = lost + 1
    return
  end
  local set = headers["set-cookie"] or headers["Set-Cookie"]
  local value = set and set:match(pattern)
  if value then
    ok = ok + 1
    tail = tail + 1
    queue[tail] = value
  else
    nocookie = nocookie + 1
  end
end

function done(summary, latency, requests)
  -- the queues go back to the file for the next run; cookies in flight
  -- when wrk stopped are dropped from the pool (not counted as lost)
  local out = assert(io.open(os.getenv("BENCH_COOKIES_OUT"), "w"))
  local left = 0
  for _, t in ipairs(common.threads) do
    local q, h, tl = t:get("queue"), t:get("head"), t:get("tail")
    for i = h, tl do
      out:write(q[i], "\n")
      left = left + 1
    end
  end
  out:close()
  common.report(summary, latency, {
    ok = common.sum("ok"),
    lost = common.sum("lost"),
    nocookie = common.sum("nocookie"),
    starved = common.sum("starved"),
    pool_left = left,
  })
end
