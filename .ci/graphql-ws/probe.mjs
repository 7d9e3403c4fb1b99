// Probes Bazaar's GraphQL over WebSocket against the graphql-transport-ws protocol: every close
// code (raw `ws` sockets), ping/pong, and round trips with the `graphql-ws` client (a query, the
// event log, storefront availability), then a logout closing its socket (4403).
//   node probe.mjs http://127.0.0.1:PORT/graphql ADMIN_EMAIL ADMIN_PASSWORD
import WebSocket from "ws";
import { createClient } from "graphql-ws";

const [httpUrl, adminEmail, adminPassword] = process.argv.slice(2);
const wsUrl = httpUrl.replace(/^http/, "ws");
const PROTOCOL = "graphql-transport-ws";
let failures = 0;

function check(name, ok, detail) {
  console.log(`${ok ? "PASS" : "FAIL"} ${name}${ok ? "" : `: ${detail}`}`);
  if (!ok) failures += 1;
}

async function http(query, variables = {}, token) {
  const headers = { "Content-Type": "application/json", Accept: "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  const response = await fetch(httpUrl, {
    method: "POST",
    headers,
    body: JSON.stringify({ query, variables }),
  });
  return response.json();
}

async function signIn() {
  const answer = await http(
    "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { session { token } } }",
    { e: adminEmail, p: adminPassword },
  );
  return answer.data.login.session.token;
}

const send = (socket, message) =>
  socket.send(typeof message === "string" ? message : JSON.stringify(message));
const init = (socket, payload) =>
  send(socket, { type: "connection_init", ...(payload ? { payload } : {}) });

// Opens a raw socket, runs `onOpen`, and resolves with how it closed and what it heard.
function session(protocols, onOpen, timeoutMs = 8000) {
  return new Promise((resolve) => {
    const socket = new WebSocket(wsUrl, protocols);
    const messages = [];
    const timer = setTimeout(() => {
      resolve({ code: null, reason: "no close within the time", messages });
      socket.terminate();
    }, timeoutMs);
    socket.on("open", () => onOpen(socket, messages));
    socket.on("message", (data) => messages.push(JSON.parse(data.toString())));
    socket.on("close", (code, reason) => {
      clearTimeout(timer);
      resolve({ code, reason: reason.toString(), messages });
    });
    socket.on("error", () => {});
  });
}

async function expectClose(name, expected, protocols, onOpen) {
  const result = await session(protocols, onOpen);
  check(`${name}: closes ${expected}`, result.code === expected, `closed ${result.code} ${result.reason}`);
}

const afterAck = (socket, then) =>
  socket.on("message", (data) => {
    if (JSON.parse(data.toString()).type === "connection_ack") then(socket);
  });
const STOCK = 'subscription { inventoryChanged(variantIds: ["gid://bazaar/Variant/1"]) { inStock } }';

// --- close codes
await expectClose("a socket without the subprotocol", 4406, [], () => {});
await expectClose("no connection_init in time", 4408, PROTOCOL, () => {});
await expectClose("a second connection_init", 4429, PROTOCOL, (s) => {
  init(s);
  init(s);
});
await expectClose("subscribe before the ack", 4401, PROTOCOL, (s) =>
  send(s, { id: "1", type: "subscribe", payload: { query: "{ __typename }" } }),
);
await expectClose("a duplicate operation id", 4409, PROTOCOL, (s) => {
  init(s);
  afterAck(s, () => {
    const subscribe = { id: "same", type: "subscribe", payload: { query: STOCK } };
    send(s, subscribe);
    send(s, subscribe);
  });
});
for (const bad of [
  "not json",
  '{"type":"nope"}',
  '{"type":"subscribe","id":"1"}',
  '{"type":"complete"}',
  '{"type":"connection_init","payload":"text"}',
]) {
  await expectClose(`an invalid message ${bad}`, 4400, PROTOCOL, (s) => send(s, bad));
}
await expectClose("credentials that prove nobody", 4403, PROTOCOL, (s) =>
  init(s, { Authorization: "Bearer bzs_forged" }),
);

// --- ping and pong
{
  const result = await session(PROTOCOL, (s) => {
    send(s, { type: "ping", payload: { n: 1 } });
    s.on("message", () => s.close(1000));
  });
  const pong = result.messages[0];
  check("a ping is answered by a pong with its payload", pong?.type === "pong" && pong?.payload?.n === 1,
    JSON.stringify(result.messages));
}

// --- round trips with the graphql-ws client
const adminToken = await signIn();
const client = (token) =>
  createClient({
    url: wsUrl,
    webSocketImpl: WebSocket,
    connectionParams: token ? { Authorization: `Bearer ${token}` } : {},
    retryAttempts: 0,
  });
const admin = client(adminToken);
const anonymous = client();

{
  const results = admin.iterate({ query: "{ categories(first: 1) { slug } }" });
  const first = await results.next();
  check("a query runs over graphql-ws", first.value?.data?.categories?.length === 1, JSON.stringify(first));
  const end = await results.next();
  check("and completes", end.done === true, JSON.stringify(end));
}

const catalog = await http(
  "{ products(first: 10) { edges { node { status variants { id stock archivedAt } } } } }",
  {},
  adminToken,
);
if (!catalog.data) throw new Error(`the catalog query failed: ${JSON.stringify(catalog)}`);
const variant = catalog.data.products.edges
  .filter((edge) => edge.node.status === "ACTIVE")
  .flatMap((edge) => edge.node.variants)
  .find((v) => v.archivedAt === null && v.stock > 0);
const adjust = (from, to) =>
  http(
    "mutation($id: ID!, $from: Int!, $to: Int!) { inventoryAdjust(variantId: $id, expectedQuantity: $from, quantity: $to) { userErrors { code } } }",
    { id: variant.id, from, to },
    adminToken,
  );

{
  const events = admin.iterate({
    query: "subscription { events(types: [INVENTORY_CHANGED]) { cursor node { name payload } } }",
  });
  const availability = anonymous.iterate({
    query: "subscription($v: [ID!]!) { inventoryChanged(variantIds: $v) { variantId inStock } }",
    variables: { v: [variant.id] },
  });
  // Both subscriptions are live once a later operation on the same sockets has answered.
  for (const c of [admin, anonymous]) {
    const probe = c.iterate({ query: "{ __typename }" });
    await probe.next();
    await probe.return();
  }
  const started = Date.now();
  await adjust(variant.stock, 0);
  const event = await events.next();
  check("the event log reaches a graphql-ws subscriber",
    event.value?.data?.events?.node?.name === "inventory.changed" &&
      event.value.data.events.node.payload.quantity === 0,
    JSON.stringify(event));
  const out = await availability.next();
  check("a storefront hears the variant is out of stock, not how many are left",
    out.value?.data?.inventoryChanged?.inStock === false &&
      !JSON.stringify(out.value).includes('"quantity"'),
    JSON.stringify(out));
  console.log(`     (change to subscriber: ${Date.now() - started} ms)`);
  await adjust(0, variant.stock);
  const back = await availability.next();
  check("and back in stock", back.value?.data?.inventoryChanged?.inStock === true, JSON.stringify(back));
  await events.return();
  await availability.return();
}
await admin.dispose();
await anonymous.dispose();

// --- a logout closes the session's sockets
{
  const token = await signIn();
  let loggedOutAt = 0;
  const result = await session(PROTOCOL, (s) => {
    init(s, { Authorization: `Bearer ${token}` });
    afterAck(s, async () => {
      loggedOutAt = Date.now();
      await http("mutation { logout { endedSessions } }", {}, token);
    });
  });
  const took = Date.now() - loggedOutAt;
  check("a logout closes its socket within a second", result.code === 4403 && took < 1000,
    `closed ${result.code} after ${took} ms`);
}

if (failures > 0) {
  console.error(`graphql-ws probe: ${failures} failed`);
  process.exit(1);
}
console.log("graphql-ws probe: every check passed");
