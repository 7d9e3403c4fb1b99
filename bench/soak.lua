-- wrk script for the soak (bench/soak): POSTs the JSON bodies of $BODIES, each request from a
-- client address in X-Forwarded-For (Bazaar trusts loopback as its proxy in the soak), and
-- prints one machine-readable line of figures.
--
-- $ADDRESSES > 0: the requests cycle through that many addresses (shoppers behind a proxy);
-- 0: every request comes from a fresh random address (an address spray).
-- $EXPECT set: a response is bad unless it is a 200 with no "errors" (the storefront); unset:
-- any answer below 500 is as expected (abuse is meant to be refused).
-- $PACE_MS > 0: each connection waits a random time (exponential, mean $PACE_MS ms) before each
-- request, so that N connections offer about N * 1000 / $PACE_MS requests a second whatever
-- the server's speed (an open pace, as independent shoppers have); unset: back to back.
-- Every thread counts 5xx answers and bad ones; `done` adds them up.
local threads = {}
local pace_ms = tonumber(os.getenv("PACE_MS") or "0")
if pace_ms > 0 then
  function delay()
    return math.floor(-math.log(1 - math.random()) * pace_ms)
  end
end
local counter = 0

function setup(thread)
  thread:set("thread_index", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  bodies = {}
  for line in io.lines(os.getenv("BODIES")) do
    bodies[#bodies + 1] = line
  end
  addresses = tonumber(os.getenv("ADDRESSES") or "0")
  strict = (os.getenv("EXPECT") or "") ~= ""
  math.randomseed(os.time() + thread_index * 7919)
  index = math.random(#bodies) - 1
  sent = thread_index * 1000003
  bad, server_errors = 0, 0
end

local function address()
  if addresses > 0 then
    sent = sent + 1
    local n = sent % addresses
    return string.format("10.%d.%d.%d", 100 + math.floor(n / 65536), math.floor(n / 256) % 256,
      n % 256)
  end
  return string.format("172.%d.%d.%d", 16 + math.random(0, 15), math.random(0, 255),
    math.random(1, 254))
end

function request()
  index = index % #bodies + 1
  return wrk.format("POST", nil, {
    ["Content-Type"] = "application/json",
    ["Accept"] = "application/json",
    ["X-Forwarded-For"] = address(),
  }, bodies[index])
end

function response(status, headers, body)
  if status >= 500 then
    server_errors = server_errors + 1
  end
  if strict and (status ~= 200 or string.find(body, '"errors"', 1, true)) then
    bad = bad + 1
  end
end

function done(summary, latency, requests)
  local total_bad, total_5xx = 0, 0
  for _, thread in ipairs(threads) do
    total_bad = total_bad + thread:get("bad")
    total_5xx = total_5xx + thread:get("server_errors")
  end
  io.write(string.format(
    "RESULT rps=%.1f p50_ms=%.3f p99_ms=%.3f bad=%d server_errors=%d errors=%d requests=%d\n",
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000,
    latency:percentile(99) / 1000,
    total_bad,
    total_5xx,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.requests
  ))
end
