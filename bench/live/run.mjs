// The live bench's driver (see bench/live/run): opens idle sockets and measuring sockets on
// instance B, makes stock changes at a steady rate on instance A, and reports how long each
// change took to reach B's subscribers, B's RSS per 1,000 sockets, and the checkout latency.
import { readFileSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import WebSocket from "ws";

const { values: args } = parseArgs({
  options: {
    a: { type: "string" }, b: { type: "string" }, "b-pid": { type: "string" },
    sockets: { type: "string" }, rate: { type: "string" }, seconds: { type: "string" },
    email: { type: "string" }, password: { type: "string" }, out: { type: "string" },
  },
});
const sockets = Number(args.sockets);
const rate = Number(args.rate);
const seconds = Number(args.seconds);
const MEASURING = 10;

async function http(url, query, variables = {}, token) {
  const headers = { "Content-Type": "application/json", Accept: "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  const response = await fetch(url, { method: "POST", headers, body: JSON.stringify({ query, variables }) });
  const body = await response.json();
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return body.data;
}

const rssKib = () =>
  Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${args["b-pid"]}/status`, "utf8"))[1]);

function subscribe(token, query, variables, onNext) {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(args.b.replace(/^http/, "ws"), "graphql-transport-ws");
    socket.on("open", () =>
      socket.send(JSON.stringify({ type: "connection_init", payload: token ? { Authorization: `Bearer ${token}` } : {} })));
    socket.on("message", (data) => {
      const message = JSON.parse(data.toString());
      if (message.type === "connection_ack") {
        socket.send(JSON.stringify({ id: "1", type: "subscribe", payload: { query, variables } }));
        // Live once the server has answered a later message.
        socket.send(JSON.stringify({ type: "ping" }));
      } else if (message.type === "pong") {
        resolve(socket);
      } else if (message.type === "next") {
        onNext(message.payload);
      } else if (message.type === "error") {
        reject(new Error(JSON.stringify(message.payload)));
      }
    });
    socket.on("error", reject);
  });
}

const quantile = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];

const login = await http(args.a,
  "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { session { token } } }",
  { e: args.email, p: args.password });
const token = login.login.session.token;
const catalog = await http(args.a,
  "{ products(first: 20) { edges { node { status variants { id stock archivedAt } } } } }", {}, token);
const variants = catalog.products.edges
  .filter((edge) => edge.node.status === "ACTIVE")
  .flatMap((edge) => edge.node.variants)
  .filter((variant) => variant.archivedAt === null && variant.stock > 10);
const [idle, bought, ...rest] = variants;
const changing = rest.slice(0, 4);

// Idle sockets: storefront pages following a variant that never changes.
const rssBefore = rssKib();
const idleSockets = [];
for (let i = 0; i < sockets; i += 100) {
  const batch = [];
  for (let j = i; j < Math.min(sockets, i + 100); j++) {
    batch.push(subscribe(null,
      "subscription($v: [ID!]!) { inventoryChanged(variantIds: $v) { inStock } }", { v: [idle.id] }, () => {}));
  }
  idleSockets.push(...(await Promise.all(batch)));
}
await new Promise((r) => setTimeout(r, 2000));
const rssIdle = rssKib();

// Measuring sockets: staff following the event log's stock changes, from the log's last event
// before the changes begin (a subscription without `after` starts when the server takes it,
// which the client cannot see: the first changes could be written before).
const last = await http(args.a, "{ events(last: 1) { edges { cursor } } }", {}, token);
const after = last.events.edges[0]?.cursor ?? null;
const sentAt = new Map();
const perSocket = new Array(MEASURING).fill(0);
const latencies = [];
let delivered = 0;
const measuring = [];
for (let i = 0; i < MEASURING; i++) {
  measuring.push(await subscribe(token,
    "subscription($after: String) { events(types: [INVENTORY_CHANGED, ORDER_CREATED], after: $after) { node { name payload } } }", { after },
    (payload) => {
      const node = payload.data?.events?.node;
      if (node?.name !== "inventory.changed") return;
      const sent = sentAt.get(`${node.payload.variant.id}:${node.payload.quantity}`);
      if (sent !== undefined) { latencies.push(performance.now() - sent); delivered += 1; perSocket[i] += 1; }
    }));
}

// Stock changes on A at `rate` a second, from CHAINS variants changed in turn (one request in
// flight per variant, so a slow answer does not hold the others back).
const CHAINS = 4;
const adjust = "mutation($id: ID!, $from: Int!, $to: Int!) { inventoryAdjust(variantId: $id, expectedQuantity: $from, quantity: $to) { userErrors { code } } }";
const started = performance.now();
let made = 0;
let refused = 0;
async function chain(variant, offset) {
  let stock = variant.stock;
  for (let n = 0; performance.now() - started < seconds * 1000; n++) {
    const due = started + ((n * CHAINS + offset) * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const next = stock + 1;
    sentAt.set(`${variant.id}:${next}`, performance.now());
    const answer = await http(args.a, adjust, { id: variant.id, from: stock, to: next }, token);
    if (answer.inventoryAdjust.userErrors.length) {
      // STALE: someone else changed the stock (the shop's own jobs release the stock of unpaid
      // seeded orders); no change, no event. Read the stock again and go on.
      sentAt.delete(`${variant.id}:${next}`);
      refused += 1;
      stock = (await http(args.a, "query($id: ID!) { node(id: $id) { ... on Variant { stock } } }",
        { id: variant.id }, token)).node.stock;
      continue;
    }
    stock = next;
    made += 1;
  }
}
await Promise.all(changing.map((variant, offset) => chain(variant, offset)));
const elapsed = (performance.now() - started) / 1000;
await new Promise((r) => setTimeout(r, 2000));
const rssLoaded = rssKib();

// Checkouts on A, heard on B: from the checkout request to the order.created event.
const restocked = await http(args.a, adjust, { id: bought.id, from: bought.stock, to: 1000 }, token);
if (restocked.inventoryAdjust.userErrors.length) throw new Error(JSON.stringify(restocked));
const checkoutLatencies = [];
const heardAt = new Map();
const orderWatcher = await subscribe(token,
  "subscription { events(types: [ORDER_CREATED]) { node { payload } } }", {},
  (payload) => heardAt.set(payload.data.events.node.payload.id, performance.now()));
for (let i = 0; i < 30; i++) {
  const cart = await http(args.a, "mutation { cartCreate { cart { id } } }");
  const cartId = cart.cartCreate.cart.id;
  await http(args.a, "mutation($c: ID!, $v: ID!) { cartLinesAdd(cartId: $c, lines: [{ variantId: $v, quantity: 1 }]) { userErrors { code } } }",
    { c: cartId, v: bought.id });
  const at = performance.now();
  const placed = await http(args.a,
    `mutation($c: ID!) { checkoutComplete(input: { cartId: $c, email: "live${i}@example.com", shippingAddress: { firstName: "A", lastName: "B", line1: "1 Road", city: "Town", postalCode: "1000", countryCode: "GB" }, idempotencyKey: "live-${i}" }) { order { id } userErrors { code message } } }`,
    { c: cartId });
  const order = placed.checkoutComplete.order;
  if (!order) throw new Error(`checkout ${i} of ${bought.id}: ${JSON.stringify(placed)}`);
  for (let waited = 0; !heardAt.has(order.id) && waited < 5000; waited += 1) {
    await new Promise((r) => setTimeout(r, 1));
  }
  if (heardAt.has(order.id)) checkoutLatencies.push(heardAt.get(order.id) - at);
}

for (const s of [...idleSockets, ...measuring, orderWatcher]) s.terminate();
latencies.sort((x, y) => x - y);
checkoutLatencies.sort((x, y) => x - y);
const expected = made * MEASURING;
const perThousand = ((rssIdle - rssBefore) / 1024) * (1000 / sockets);
const report = `# Live: subscription fan-out across two instances

Instance B holds ${sockets} idle sockets (each following a variant that does not change) and
${MEASURING} sockets following the event log; instance A makes ${made} stock changes in ${elapsed.toFixed(1)} s
(${(made / elapsed).toFixed(0)} events/s). Every change reaches every measuring socket on B.

- delivered: ${delivered} of ${expected} (${made} changes × ${MEASURING} sockets; per socket ${perSocket.join(", ")}; ${refused} changes refused as stale, not counted)
- change on A → subscriber on B: p50 ${quantile(latencies, 0.5).toFixed(1)} ms, p99 ${quantile(latencies, 0.99).toFixed(1)} ms, max ${latencies[latencies.length - 1].toFixed(1)} ms
- B's RSS: ${(rssBefore / 1024).toFixed(1)} MiB before the sockets, ${(rssIdle / 1024).toFixed(1)} MiB with them idle, ${(rssLoaded / 1024).toFixed(1)} MiB after the events: ${perThousand.toFixed(1)} MiB per 1,000 sockets
- checkout on A → \`order.created\` on B: median ${quantile(checkoutLatencies, 0.5).toFixed(1)} ms, max ${checkoutLatencies[checkoutLatencies.length - 1].toFixed(1)} ms (${checkoutLatencies.length} of 30 heard)

Goals: p99 < 100 ms — ${quantile(latencies, 0.99) < 100 ? "PASS" : "FAIL"}; < 20 MiB per 1,000 sockets — ${perThousand < 20 ? "PASS" : "FAIL"}; every change delivered — ${delivered === expected ? "PASS" : "FAIL"}.
`;
writeFileSync(`${args.out}/live.md`, report);
console.log(report);
process.exit(0);
