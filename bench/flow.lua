-- wrk script for the cart flow of bench/commerce: each thread drives one connection (run wrk
-- with as many threads as connections) through complete flows, one request after another:
-- a new cart holding one line, a second line added, the totals read. A flow whose request goes
-- wrong (not 200, "errors" in the body, a mutation's user errors, no cart or session) is
-- abandoned and counted bad; the next starts afresh.
--
-- $FLOW is `bazaar` or `vendure`; $VARIANTS a file of variant ids (one a line, in stock) from
-- which each flow takes two different ones at random.
--   bazaar:  cartCreate with its first line (as Shopify's cartCreate(input: { lines })),
--            cartLinesAdd, cart(id:) { totals } (the cart's id carries the flow)
--   vendure: addItemToOrder (opens the session and its order), addItemToOrder, activeOrder
--            (the `vendure-auth-token` header of the first answer carries the flow)
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

local BAZAAR = {
  'mutation($variant: ID!) { cartCreate(input: { lines: [{ variantId: $variant, quantity: 1 }] }) { cart { id } userErrors { message } } }',
  'mutation($cart: ID!, $variant: ID!) { cartLinesAdd(cartId: $cart, lines: [{ variantId: $variant, quantity: 1 }]) { cart { id } userErrors { message } } }',
  'query($cart: ID!) { cart(id: $cart) { totals { subtotal { amount } discount { amount } tax { amount } total { amount currencyCode } } lines { quantity variant { sku } lineTotal { amount } } } }',
}

local VENDURE = {
  'mutation($variant: ID!) { addItemToOrder(productVariantId: $variant, quantity: 1) { __typename ... on Order { id code totalQuantity subTotal totalWithTax } ... on ErrorResult { errorCode message } } }',
  'mutation($variant: ID!) { addItemToOrder(productVariantId: $variant, quantity: 1) { __typename ... on Order { id code totalQuantity subTotal totalWithTax } ... on ErrorResult { errorCode message } } }',
  'query { activeOrder { id code currencyCode totalQuantity subTotal subTotalWithTax shipping totalWithTax lines { quantity productVariant { sku } linePriceWithTax } } }',
}

local function json_string(text)
  return '"' .. text:gsub('\\', '\\\\'):gsub('"', '\\"') .. '"'
end

function init(args)
  flow = os.getenv("FLOW")
  steps = flow == "vendure" and VENDURE or BAZAAR
  variants = {}
  for line in io.lines(os.getenv("VARIANTS")) do
    if line ~= "" then variants[#variants + 1] = line end
  end
  if #variants < 2 then error("VARIANTS needs two ids at least") end
  step, flows, bad = 1, 0, 0
  math.randomseed(os.time() + #tostring({}))
end

local function start_flow()
  step, cart, session = 1, nil, nil
  local first = math.random(#variants)
  local second = (first + math.random(#variants - 1) - 1) % #variants + 1
  picked = { variants[first], variants[second] }
end

function request()
  if step == 1 then start_flow() end
  local variables
  if flow == "vendure" then
    variables = step <= 2 and ('{"variant":' .. json_string(picked[step]) .. '}') or '{}'
  else
    if step == 1 then
      variables = '{"variant":' .. json_string(picked[1]) .. '}'
    elseif step == 2 then
      variables = '{"cart":' .. json_string(cart) .. ',"variant":' .. json_string(picked[2]) .. '}'
    else
      variables = '{"cart":' .. json_string(cart) .. '}'
    end
  end
  local headers = { ["Content-Type"] = "application/json", ["Accept"] = "application/json" }
  if session then headers["Authorization"] = "Bearer " .. session end
  local body = '{"query":' .. json_string(steps[step]) .. ',"variables":' .. variables .. '}'
  return wrk.format("POST", nil, headers, body)
end

function response(status, headers, body)
  local ok = status == 200 and not string.find(body, '"errors"', 1, true)
  if ok and flow == "vendure" then
    if step == 1 then
      session = headers["vendure-auth-token"] or headers["Vendure-Auth-Token"]
      ok = session ~= nil
    end
    ok = ok and not string.find(body, '"errorCode"', 1, true)
    if step == #steps then ok = ok and string.find(body, '"totalQuantity":2', 1, true) ~= nil end
  elseif ok then
    if step < #steps then ok = string.find(body, '"userErrors":[]', 1, true) ~= nil end
    if step == 1 and ok then
      cart = string.match(body, '"id":"([^"]+)"')
      ok = cart ~= nil
    end
    if step == #steps then ok = select(2, string.gsub(body, '"quantity":1', '')) == 2 end
  end
  if not ok then
    bad = bad + 1
    step = 1
  elseif step == #steps then
    flows = flows + 1
    step = 1
  else
    step = step + 1
  end
end

function done(summary, latency, requests)
  local total_flows, total_bad = 0, 0
  for _, thread in ipairs(threads) do
    total_flows = total_flows + thread:get("flows")
    total_bad = total_bad + thread:get("bad")
  end
  local seconds = summary.duration / 1e6
  io.write(string.format(
    "RESULT rps=%.1f flows_per_s=%.1f p50_ms=%.3f p99_ms=%.3f bad=%d errors=%d requests=%d\n",
    summary.requests / seconds,
    total_flows / seconds,
    latency:percentile(50) / 1000,
    latency:percentile(99) / 1000,
    total_bad,
    summary.errors.connect + summary.errors.read + summary.errors.write
      + summary.errors.status + summary.errors.timeout,
    summary.requests
  ))
end
