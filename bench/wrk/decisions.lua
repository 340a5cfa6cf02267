-- wrk script for bench/throughput.py: POST a rotation of decision bodies.
--
--   wrk -t1 -c16 -d10s --latency -s bench/wrk/decisions.lua URL -- BODIES_FILE API_KEY
--
-- BODIES_FILE holds one JSON body per line; request i sends line (i mod n). Every request is
-- pre-formatted once in init(), so the generator spends its CPU on sockets, not on Lua.
-- response() counts every status outside 2xx (wrk's own count starts at 400), and done()
-- prints one JSON line, prefixed "RESULT ", for the Python side to read.

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

local requests, n, i = {}, 0, 0

function init(args)
  local headers = {["Content-Type"] = "application/json",
                   ["Authorization"] = "Bearer " .. args[2]}
  for line in io.lines(args[1]) do
    n = n + 1
    requests[n] = wrk.format("POST", wrk.path, headers, line)
  end
  non2xx = 0
end

function request()
  i = i % n + 1
  return requests[i]
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
  end
end

function done(summary, latency, requests)
  local non2xx = 0
  for _, thread in ipairs(threads) do
    non2xx = non2xx + thread:get("non2xx")
  end
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests": %d, "duration_us": %d, "non2xx": %d, "socket_errors": %d, ' ..
    '"p50_us": %d, "p99_us": %d, "max_us": %d}\n',
    summary.requests, summary.duration, non2xx, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
