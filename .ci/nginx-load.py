"""Storefront shoppers through nginx, for .ci/nginx: every request must succeed.

Each client runs shoppers one after another, as the demo storefront's pages ask: the home page
(category tree, newest products), a category page, a product page (over GET, as a CDN-cacheable
query), a new cart, lines added, a guest checkout, payment with the test gateway's tok_success
and the order read back with its access token. Each shopper comes from a loopback address of
its own (127.x.y.z: all of 127/8 is loopback on Linux), so nginx's X-Forwarded-For gives
Bazaar (with --trusted-proxies 127.0.0.1) a client address per shopper, and the per-address
limits (20 guest checkouts an hour, the cost bucket) hold with their production defaults.

Before and after the shoppers, one WebSocket through nginx speaks graphql-transport-ws
(connection_init, a query subscribed, its result and completion): nginx passes the upgrade on.

A request fails unless it is answered 200 with JSON, without `errors`, without `userErrors`,
and with the data the next step needs; nothing is retried. The phase (written by .ci/nginx to
PHASE_FILE while it stops and starts instances) is read at each request, and the counts are
reported per phase. Runs until DONE_FILE exists, at most MAX_SECONDS; exits 1 on any failure.

usage: nginx-load.py URL PHASE_FILE DONE_FILE CLIENTS MAX_SECONDS
"""

import base64
import hashlib
import http.client
import json
import os
import random
import socket
import struct
import sys
import threading
import time
import urllib.parse
import uuid

URL, PHASE_FILE, DONE_FILE = sys.argv[1], sys.argv[2], sys.argv[3]
CLIENTS, MAX_SECONDS = int(sys.argv[4]), float(sys.argv[5])
TARGET = urllib.parse.urlsplit(URL)

HOME = """query Home {
  categories(first: 10) { id name slug children(first: 10) { id name slug } }
  products(first: 8, sortBy: { field: CREATED_AT, direction: DESC }) { edges { node { id name slug } } }
}"""
CATEGORY = """query Category($slug: String!) {
  category(slug: $slug) {
    id name slug children(first: 20) { id name slug }
    products(first: 12, sortBy: { field: NAME, direction: ASC }) {
      edges { cursor node { id name slug } } pageInfo { hasNextPage endCursor }
    }
  }
}"""
PRODUCT = """query Product($slug: String!) {
  product(slug: $slug) {
    id name description
    variants(first: 20) { id sku title inStock price { amount currencyCode } }
  }
}"""
CART_CREATE = "mutation { cartCreate { cart { id } userErrors { field message code } } }"
LINES_ADD = """mutation AddToCart($cartId: ID!, $lines: [CartLineInput!]!) {
  cartLinesAdd(cartId: $cartId, lines: $lines) { cart { id itemCount } userErrors { field message code } }
}"""
CHECKOUT = """mutation Checkout($input: CheckoutInput!) {
  checkoutComplete(input: $input) { order { id number status } orderAccessToken userErrors { field message code } }
}"""
PAY = """mutation Pay($id: ID!, $key: String!, $token: String) {
  orderPay(id: $id, paymentToken: "tok_success", idempotencyKey: $key, accessToken: $token) {
    order { id status } payment { status } userErrors { field message code }
  }
}"""
ORDER = """query OrderByToken($token: String!) {
  orderByToken(token: $token) { id number status lines { quantity sku } totals { total { amount } } }
}"""
ADDRESS = {"firstName": "Ada", "lastName": "Lovelace", "line1": "12 St James Square",
           "city": "London", "postalCode": "SW1Y 4JH", "countryCode": "GB"}

lock = threading.Lock()
phases = {}  # phase -> {"requests", "failures", "orders", "latencies"}
order_of_phases = []
failures = []
websockets = []  # True for each graphql-transport-ws round trip that went through


class Failed(Exception):
    pass


def phase():
    try:
        with open(PHASE_FILE) as f:
            return f.read().strip() or "start"
    except OSError:
        return "start"


def record(name, ok, seconds, detail=None, request=True):
    current = phase()
    with lock:
        if current not in phases:
            phases[current] = {"requests": 0, "failures": 0, "orders": 0, "latencies": []}
            order_of_phases.append(current)
        counts = phases[current]
        if request:
            counts["requests"] += 1
            counts["latencies"].append(seconds)
        if not ok:
            counts["failures"] += 1
            failures.append(f"[{current}] {name}: {detail}")
    if not ok:
        raise Failed(detail)


def count_order():
    current = phase()
    with lock:
        if current in phases:
            phases[current]["orders"] += 1


class Shopper:
    """One shopper: a connection from a loopback address of its own, kept alive."""

    def __init__(self, address):
        self.conn = http.client.HTTPConnection(
            TARGET.hostname, TARGET.port, timeout=30, source_address=(address, 0))

    def close(self):
        self.conn.close()

    def graphql(self, name, query, variables=None, get=False):
        headers = {"Accept": "application/graphql-response+json"}
        if get:
            params = {"query": query}
            if variables:
                params["variables"] = json.dumps(variables)
            method, path, body = "GET", f"{TARGET.path}?{urllib.parse.urlencode(params)}", None
        else:
            headers["Content-Type"] = "application/json"
            method, path = "POST", TARGET.path
            body = json.dumps({"query": query, "variables": variables or {}})
        started = time.monotonic()
        try:
            self.conn.request(method, path, body, headers)
            response = self.conn.getresponse()
            raw = response.read()
            status = response.status
        except (OSError, http.client.HTTPException) as error:
            self.conn.close()
            record(name, False, time.monotonic() - started, f"{type(error).__name__}: {error}")
        seconds = time.monotonic() - started
        if status != 200:
            record(name, False, seconds, f"HTTP {status}: {raw[:300]!r}")
        try:
            answer = json.loads(raw)
        except ValueError:
            record(name, False, seconds, f"not JSON: {raw[:300]!r}")
        if answer.get("errors") or not answer.get("data"):
            record(name, False, seconds, f"errors: {json.dumps(answer)[:400]}")
        data = answer["data"]
        payload = next(iter(data.values()))
        if isinstance(payload, dict) and payload.get("userErrors"):
            record(name, False, seconds, f"userErrors: {json.dumps(payload['userErrors'])[:400]}")
        record(name, True, seconds)
        return data


def expect(name, condition, detail):
    if not condition:
        record(name, False, 0.0, detail, request=False)


def shop(shopper, rng):
    home = shopper.graphql("home", HOME)
    categories = [c for top in home["categories"] for c in [top, *top["children"]]]
    expect("home", categories, "no categories")
    products = []
    for _ in range(3):
        category = shopper.graphql("category", CATEGORY, {"slug": rng.choice(categories)["slug"]})
        products = [edge["node"] for edge in category["category"]["products"]["edges"]]
        if products:
            break
    if not products:
        products = [edge["node"] for edge in home["products"]["edges"]]
    lines = {}
    for slug in {rng.choice(products)["slug"] for _ in range(2)}:
        product = shopper.graphql("product", PRODUCT, {"slug": slug}, get=True)["product"]
        variants = [v for v in product["variants"] if v["inStock"]]
        expect("product", variants, f"no variant of {slug} in stock")
        lines[rng.choice(variants)["id"]] = rng.randint(1, 2)
    cart = shopper.graphql("cartCreate", CART_CREATE)["cartCreate"]["cart"]["id"]
    added = shopper.graphql("cartLinesAdd", LINES_ADD, {
        "cartId": cart,
        "lines": [{"variantId": v, "quantity": q} for v, q in lines.items()],
    })["cartLinesAdd"]["cart"]
    expect("cartLinesAdd", added["itemCount"] == sum(lines.values()), f"itemCount {added}")
    placed = shopper.graphql("checkoutComplete", CHECKOUT, {"input": {
        "cartId": cart, "email": "guest@example.com", "shippingAddress": ADDRESS,
        "idempotencyKey": str(uuid.uuid4()),
    }})["checkoutComplete"]
    order, token = placed["order"], placed["orderAccessToken"]
    expect("checkoutComplete", order and token, f"no order: {placed}")
    paid = shopper.graphql("orderPay", PAY, {
        "id": order["id"], "key": str(uuid.uuid4()), "token": token})["orderPay"]
    expect("orderPay", paid["order"]["status"] == "PAID", f"not paid: {paid}")
    read = shopper.graphql("orderByToken", ORDER, {"token": token})["orderByToken"]
    expect("orderByToken", read and read["id"] == order["id"] and read["status"] == "PAID"
           and sum(line["quantity"] for line in read["lines"]) == sum(lines.values()),
           f"order read back as {read}")
    count_order()


def client(index, deadline):
    rng = random.Random(index)
    flows = 0
    while time.monotonic() < deadline and not os.path.exists(DONE_FILE):
        # 127.(10 + client).x.y: thousands of addresses per client, none shared.
        address = f"127.{10 + index}.{flows // 250 % 250}.{flows % 250 + 1}"
        shopper = Shopper(address)
        try:
            shop(shopper, rng)
        except Failed:
            pass
        finally:
            shopper.close()
        flows += 1


class WebSocket:
    """Just enough of RFC 6455 for one graphql-transport-ws exchange: masked text frames out,
    unmasked frames in."""

    def __init__(self):
        self.sock = socket.create_connection((TARGET.hostname, TARGET.port), timeout=10)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            f"GET {TARGET.path} HTTP/1.1\r\nHost: {TARGET.netloc}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            "Sec-WebSocket-Protocol: graphql-transport-ws\r\n\r\n".encode())
        self.buffer = b""
        while b"\r\n\r\n" not in self.buffer:
            self.buffer += self.receive()
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        accept = base64.b64encode(hashlib.sha1(
            (key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode()
        lines = head.decode("latin-1").lower().split("\r\n")
        if not lines[0].startswith("http/1.1 101") or f"sec-websocket-accept: {accept}".lower() not in lines:
            raise OSError(f"no upgrade: {head[:300]!r}")

    def receive(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise OSError("closed")
        return chunk

    def take(self, count):
        while len(self.buffer) < count:
            self.buffer += self.receive()
        taken, self.buffer = self.buffer[:count], self.buffer[count:]
        return taken

    def send(self, message):
        payload = json.dumps(message).encode()
        mask = os.urandom(4)
        length = (bytes([0x80 | len(payload)]) if len(payload) < 126
                  else bytes([0x80 | 126]) + struct.pack("!H", len(payload)))
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(bytes([0x81]) + length + mask + masked)

    def next_message(self):
        while True:
            first, second = self.take(2)
            length = second & 0x7F
            if length == 126:
                (length,) = struct.unpack("!H", self.take(2))
            elif length == 127:
                (length,) = struct.unpack("!Q", self.take(8))
            payload = self.take(length)
            if first & 0x0F == 0x8:
                raise OSError(f"closed by the server: {payload[:2].hex()} {payload[2:]!r}")
            if first & 0x0F == 0x1:
                return json.loads(payload)

    def close(self):
        self.sock.close()


def websocket_round_trip():
    started = time.monotonic()
    try:
        ws = WebSocket()
        try:
            ws.send({"type": "connection_init", "payload": {}})
            ack = ws.next_message()
            ws.send({"id": "1", "type": "subscribe", "payload": {"query": "{ __typename }"}})
            result, complete = ws.next_message(), ws.next_message()
        finally:
            ws.close()
    except (OSError, ValueError) as error:
        websockets.append(False)
        record("websocket", False, time.monotonic() - started, f"{type(error).__name__}: {error}")
    ok = (ack.get("type") == "connection_ack" and result.get("type") == "next"
          and result["payload"].get("data") == {"__typename": "Query"}
          and complete == {"id": "1", "type": "complete"})
    websockets.append(ok)
    record("websocket", ok, time.monotonic() - started, f"{ack} {result} {complete}")


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))] if ordered else 0.0


def main():
    deadline = time.monotonic() + MAX_SECONDS
    try:
        websocket_round_trip()
    except Failed:
        pass
    threads = [threading.Thread(target=client, args=(i, deadline)) for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        websocket_round_trip()
    except Failed:
        pass
    total = {"requests": 0, "failures": 0, "orders": 0, "latencies": []}
    print(f"{'phase':<28} {'requests':>8} {'failures':>8} {'orders':>6} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7}")
    for name in [*order_of_phases, "total"]:
        counts = phases.get(name, total)
        if name != "total":
            for key in ("requests", "failures", "orders"):
                total[key] += counts[key]
            total["latencies"] += counts["latencies"]
        lat = counts["latencies"]
        print(f"{name:<28} {counts['requests']:>8} {counts['failures']:>8} {counts['orders']:>6} "
              f"{percentile(lat, 0.5) * 1000:>7.1f} {percentile(lat, 0.99) * 1000:>7.1f} "
              f"{max(lat, default=0) * 1000:>7.1f}")
    print(f"WebSocket (graphql-transport-ws) through nginx: {websockets.count(True)} of "
          f"{len(websockets)} round trips answered")
    for line in failures[:20]:
        print("FAILED", line)
    if total["failures"] or not total["orders"] or not all(websockets):
        sys.exit(1)


main()
