-- wrk script for the Bazaar/PostGraphile benchmark: POSTs the JSON bodies of $BODIES in turn,
-- counts bad responses (non-200, a body with "errors", or, when $EXPECT is set, a body without
-- that text), and prints one machine-readable line of figures.
--
-- $BODIES has one request a line: either a JSON body, or a session token, a tab and a JSON body
-- (that request is sent with `Authorization: Bearer <token>`; JSON text never holds a raw tab).
-- Lines without a token use $TOKEN when it is set. Every request is formatted once, in init.
--
-- Each of the $THREADS threads (default 1) takes every $THREADS-th line, its own slice. With
-- $ONCE set, a thread starts at its slice's first line (mutations: a request must never be sent
-- twice, so the driver gives wrk more lines than it can send); otherwise at a random line.
local threads = {}
local counter = 0

function setup(thread)
  thread:set("thread_index", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  local nthreads = tonumber(os.getenv("THREADS") or "1")
  local default_token = os.getenv("TOKEN")
  local expect = os.getenv("EXPECT")
  if expect == "" then expect = nil end
  expected = expect
  local function headers_for(token)
    local h = {}
    for k, v in pairs(wrk.headers) do h[k] = v end
    h["Content-Type"] = "application/json"
    h["Accept"] = "application/json"
    if token and token ~= "" then
      h["Authorization"] = "Bearer " .. token
    end
    return h
  end
  local once = os.getenv("ONCE") and os.getenv("ONCE") ~= ""
  local lines = {}
  for line in io.lines(os.getenv("BODIES")) do
    lines[#lines + 1] = line
  end
  -- Fewer lines than threads (a single request): every thread sends them all, unless ONCE.
  if #lines < nthreads and not once then
    nthreads = 1
  end
  requests = {}
  for n, line in ipairs(lines) do
    if (n - 1) % nthreads == thread_index % nthreads then
      local token, body = default_token, line
      local tab = string.find(line, "\t", 1, true)
      if tab then
        token, body = string.sub(line, 1, tab - 1), string.sub(line, tab + 1)
      end
      requests[#requests + 1] = wrk.format("POST", nil, headers_for(token), body)
    end
  end
  if #requests == 0 then
    error("no request lines for thread " .. thread_index)
  end
  if once then
    index = 0
  else
    index = math.random(#requests) - 1
  end
  bad = 0
end

function request()
  index = index % #requests + 1
  return requests[index]
end

function response(status, headers, body)
  if status ~= 200 or string.find(body, '"errors"', 1, true)
      or (expected and not string.find(body, expected, 1, true)) then
    bad = bad + 1
  end
end

function done(summary, latency, requests)
  local total_bad = 0
  for _, thread in ipairs(threads) do
    total_bad = total_bad + thread:get("bad")
  end
  io.write(string.format(
    "RESULT rps=%.1f p50_ms=%.3f p99_ms=%.3f bad=%d errors=%d requests=%d\n",
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000,
    latency:percentile(99) / 1000,
    total_bad,
    summary.errors.connect + summary.errors.read + summary.errors.write
      + summary.errors.status + summary.errors.timeout,
    summary.requests
  ))
end
