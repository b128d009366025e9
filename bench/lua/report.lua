-- A static request (headers from wrk -H); only the result line is added,
-- so wrk does no per-request Lua work.
local common = dofile(os.getenv("BENCH_LUA") .. "/common.lua")

function done(summary, latency, requests)
  common.report(summary, latency)
end
