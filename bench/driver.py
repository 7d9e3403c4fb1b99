#!/usr/bin/env python3
"""Bazaar against PostGraphile, shape by shape: a gate that compares both servers' answers, then
wrk rounds alternating between the servers; writes results.csv and results.md.

Called by bench/run with the servers already running. Standard library only.
"""

import argparse
import csv
import json
import os
import random
import statistics
import subprocess
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))


def post(url, query, variables, token=None):
    body = json.dumps({"query": query, "variables": variables}).encode()
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    with urllib.request.urlopen(urllib.request.Request(url, body, headers), timeout=60) as r:
        return json.load(r)


def sql(database_url, statement):
    out = subprocess.run(
        ["psql", database_url, "-qAtc", statement], check=True, capture_output=True, text=True
    )
    return [line.split("|") for line in out.stdout.splitlines() if line]


class Shape:
    """One kind of request, asked of both servers for the same data.

    `variables` lists the requests: (bazaar vars, postgraphile vars) pairs, or triples whose
    third item is the session token Bazaar is asked with (a customer's own orders). Without a
    token, Bazaar is asked as staff when `staff` is set, else as an anonymous shopper.

    A mutation shape has `fresh` instead: fresh(n, sides) makes n new requests that were never
    sent (each places a new order), as lists of vars for each side in `sides` ("bazaar",
    "postgraphile"); spent(requests) says how many of those were sent; `reset` runs before it;
    `expect` is text each good response must contain.
    """

    def __init__(
        self, name, bazaar, postgraphile, variables, normalize_bazaar, normalize_pg, staff=False,
        fresh=None, spent=None, reset=None, expect=None,
    ):
        self.name = name
        self.staff = staff
        self.bazaar = bazaar
        self.postgraphile = postgraphile
        self.variables = variables
        self.normalize_bazaar = normalize_bazaar
        self.normalize_pg = normalize_pg
        self.fresh = fresh
        self.spent = spent
        self.reset = reset
        self.expect = expect or {}

    def bazaar_token(self, request, staff_token):
        if len(request) > 2:
            return request[2]
        return staff_token if self.staff else None


def login_all(bazaar_url, emails, password):
    """Session tokens for these accounts (logins run a few at a time: bcrypt is slow)."""
    from concurrent.futures import ThreadPoolExecutor

    query = ("mutation($email: String!, $password: String!) { login(email: $email, "
             "password: $password) { session { token } userErrors { code } } }")

    def login(email):
        answer = post(bazaar_url, query, {"email": email, "password": password})
        session = ((answer.get("data") or {}).get("login") or {}).get("session")
        if not session:
            raise RuntimeError(f"cannot sign in {email}: {answer}")
        return session["token"]

    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        return list(pool.map(login, emails))


def pg_order_cursors(pg_url, offsets):
    """PostGraphile's own cursor of the order at each offset (newest first): its edge cursor."""
    cursors = {}
    for start in range(0, len(offsets), 20):
        batch = offsets[start:start + 20]
        query = "{ " + " ".join(
            f"o{i}: allOrders(first: 1, offset: {offset - 1}, orderBy: ROW_ID_DESC) "
            "{ edges { cursor } }"
            for i, offset in enumerate(batch)
        ) + " }"
        answer = post(pg_url, query, {})
        for i, offset in enumerate(batch):
            cursors[offset] = answer["data"][f"o{i}"]["edges"][0]["cursor"]
    return cursors


def search_requests(database_url, count):
    """(phrase, min, max) triples: a phrase of the seeded product names (the adjective and
    noun, "Alpine Mug", or the adjective alone, which finds products of every department) as
    the names spell it, every other one upper-cased in spaces (both servers trim and lower-case
    it), and the middle half of the prices of the variants of the products it finds, in whole
    units; only triples that find something."""
    rows = sql(
        database_url,
        r"""
        WITH phrases AS (
          SELECT regexp_replace(name, ' [0-9]+$', '') AS phrase FROM products
          WHERE status = 'ACTIVE'
          UNION
          SELECT split_part(name, ' ', 1) FROM products WHERE status = 'ACTIVE'),
        spans AS (
          SELECT ph.phrase, min(v.price) AS low, max(v.price) AS high
          FROM phrases ph
          JOIN products p ON p.status = 'ACTIVE' AND p.search_text LIKE '%' || lower(ph.phrase) || '%'
          JOIN variants v ON v.product_id = p.id
          GROUP BY ph.phrase),
        ranges AS (
          SELECT phrase, (low + (high - low) / 4) / 100 * 100 AS min_price,
                 (high - (high - low) / 4 + 99) / 100 * 100 AS max_price
          FROM spans)
        SELECT phrase, min_price, max_price FROM ranges r
        WHERE EXISTS (SELECT 1 FROM search_products(r.phrase, r.min_price, r.max_price))
        ORDER BY md5(phrase)
        """,
    )
    return [
        (phrase if n % 2 == 0 else f"  {phrase.upper()} ", int(low), int(high))
        for n, (phrase, low, high) in enumerate(rows[:count])
    ]


def decimal(minor_units):
    return f"{minor_units // 100}.{minor_units % 100:02d}"


class Carts:
    """Ready carts for the "place order" shape, made with SQL (far faster than through either
    API): cart i of a batch holds the same 1 to 3 lines (random sellable variants, 1 to 3 units)
    for each side, so both servers price the same contents. Bazaar's cart id is
    `gid://bazaar/Cart/<token>`; PostGraphile's place_order takes the token."""

    ADDRESS = {
        "firstName": "Ada", "lastName": "Lovelace", "company": "", "line1": "12 St James Square",
        "line2": "", "city": "London", "region": "", "postalCode": "SW1Y 4JH",
        "countryCode": "GB", "phone": "",
    }

    def __init__(self, database_url):
        self.database_url = database_url
        self.variants = [
            int(row[0])
            for row in sql(
                database_url,
                "SELECT v.id FROM variants v JOIN products p ON p.id = v.product_id "
                "WHERE p.status = 'ACTIVE' AND v.archived_at IS NULL ORDER BY v.id",
            )
        ]
        self.random = random.Random(11)
        self.batch = 0

    def reset(self):
        """Enough stock that no order fails for it, whatever ran before. Retried: Bazaar's
        background job may be returning the stock of the seed's expired unpaid orders, and
        PostgreSQL ends one of two updates that wait for each other (a deadlock)."""
        for attempt in range(5):
            try:
                sql(self.database_url, "UPDATE variants SET stock = 1000000")
                return
            except subprocess.CalledProcessError:
                if attempt == 4:
                    raise
                time.sleep(1)

    def spent(self, requests):
        """How many of these requests' carts have been checked out."""
        tokens = [r["input"].get("cartToken") or r["input"]["cartId"].rsplit("/", 1)[1]
                  for r in requests]
        listed = ", ".join(f"'{t}'" for t in tokens)
        return int(sql(self.database_url, "SELECT count(*) FROM carts WHERE order_id IS NOT "
                                          f"NULL AND token IN ({listed})")[0][0])

    def make(self, n, sides=("bazaar", "postgraphile")):
        self.batch += 1
        plan = []
        for i in range(n):
            for variant in self.random.sample(self.variants, self.random.randint(1, 3)):
                plan.append(f"{i}\t{variant}\t{self.random.randint(1, 3)}")
        prefixes = {"bazaar": "bz", "postgraphile": "pg"}
        tag = {side: f"bench-{prefixes[side]}-{os.getpid()}-{self.batch}-" for side in sides}
        tags = ", ".join(f"'{t}'" for t in tag.values())
        script = (
            "BEGIN;\n"
            "CREATE TEMP TABLE plan (i int, variant_id bigint, quantity int) ON COMMIT DROP;\n"
            "COPY plan FROM STDIN;\n" + "\n".join(plan) + "\n\\.\n"
            "INSERT INTO carts (token, created_at, updated_at) "
            "SELECT t || i, now() AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC' "
            f"FROM generate_series(0, {n - 1}) i, unnest(ARRAY[{tags}]) t;\n"
            "INSERT INTO cart_lines (cart_id, variant_id, quantity, created_at) "
            "SELECT c.id, p.variant_id, p.quantity, now() AT TIME ZONE 'UTC' "
            f"FROM plan p CROSS JOIN unnest(ARRAY[{tags}]) t JOIN carts c ON c.token = t || p.i "
            "ORDER BY c.id, p.variant_id;\n"
            "COMMIT;\n"
            # Thousands of carts in one go, which no shop sees: without fresh statistics both
            # servers' plans would price cart_lines as the seed left it (empty), and join every
            # variant by hash for one cart's lines.
            "ANALYZE carts, cart_lines;\n"
        )
        done = subprocess.run(["psql", self.database_url, "-qX", "-v", "ON_ERROR_STOP=1"],
                              input=script, text=True, capture_output=True)
        if done.returncode != 0:
            raise RuntimeError(f"making carts failed: {done.stderr}")
        out = {}
        for side in sides:
            requests = []
            for i in range(n):
                token = f"{tag[side]}{i}"
                if side == "bazaar":
                    requests.append({"input": {
                        "cartId": f"gid://bazaar/Cart/{token}", "email": f"shopper{i}@example.com",
                        "shippingAddress": self.ADDRESS, "idempotencyKey": f"{token}-key"}})
                else:
                    requests.append({"input": {
                        "cartToken": token, "email": f"shopper{i}@example.com",
                        "shippingAddress": self.ADDRESS, "idempotencyKey": f"{token}-key"}})
            out[side] = requests
        return out


def shapes(args, quick):
    database_url = args.database_url
    count = 50 if quick else 500
    active = [
        int(row[0])
        for row in sql(
            database_url,
            f"SELECT id FROM products WHERE status = 'ACTIVE' ORDER BY id LIMIT {count}",
        )
    ]
    max_order = int(sql(database_url, "SELECT COALESCE(MAX(id), 0) FROM orders")[0][0])
    depth = 900 if quick else 90_000
    offsets = list(range(depth // 2, depth, 20))[:count]
    leaves = [
        (row[0], int(row[1]))
        for row in sql(
            database_url,
            "SELECT c.slug, c.id FROM categories c WHERE NOT EXISTS "
            "(SELECT 1 FROM categories k WHERE k.parent_id = c.id) ORDER BY c.id",
        )
    ]
    customers = sql(
        database_url,
        "SELECT u.id, u.email FROM users u WHERE u.role = 'CUSTOMER' AND EXISTS "
        f"(SELECT 1 FROM orders o WHERE o.user_id = u.id) ORDER BY u.id LIMIT {20 if quick else 50}",
    )
    customer_ids = [int(row[0]) for row in customers]
    customer_tokens = login_all(args.bazaar, [row[1] for row in customers], "demo password")
    searches = search_requests(database_url, count)
    carts = Carts(database_url)
    pg_cursors = pg_order_cursors(args.postgraphile, offsets)
    return [
        Shape(
            "product by id",
            "query($id: ID!) { node(id: $id) { ... on Product { name slug category { name } } } }",
            "query($id: BigInt!) { productByRowId(rowId: $id) { name slug categoryByCategoryId { name } } }",
            [({"id": f"gid://bazaar/Product/{i}"}, {"id": str(i)}) for i in active],
            lambda d: (d["node"]["name"], d["node"]["slug"], d["node"]["category"]["name"]),
            lambda d: (
                d["productByRowId"]["name"],
                d["productByRowId"]["slug"],
                d["productByRowId"]["categoryByCategoryId"]["name"],
            ),
        ),
        Shape(
            "list page",
            "query($slug: String!) { products(first: 20, where: { categorySlug: $slug }, "
            "sortBy: { field: NAME, direction: ASC }) { edges { node { name slug "
            "priceRange { minVariantPrice { minorUnits } } } } } }",
            "query($category: BigInt!) { allProducts(first: 20, condition: { categoryId: $category, "
            'status: "ACTIVE" }, orderBy: [NAME_ASC, ROW_ID_ASC]) { nodes { name slug priceMin } } }',
            [({"slug": slug}, {"category": str(cid)}) for slug, cid in leaves],
            lambda d: [
                (e["node"]["name"], e["node"]["slug"], e["node"]["priceRange"]["minVariantPrice"]["minorUnits"])
                for e in d["products"]["edges"]
            ],
            lambda d: [(n["name"], n["slug"], int(n["priceMin"])) for n in d["allProducts"]["nodes"]],
        ),
        # 40 orders of (at most) 3 lines: 802 cost points, within the default bucket of 1,000.
        # Fifty with every line came back as 1,002 fields: more than one query may cost.
        Shape(
            "40 orders, nested",
            "{ orders(first: 40) { edges { node { number customer { email } lines(first: 3) { quantity "
            "variant { sku product { name } } } } } } }",
            "{ allOrders(first: 40, orderBy: ROW_ID_DESC) { nodes { rowId userByUserId { email } "
            "orderLinesByOrderId(first: 3, orderBy: ROW_ID_ASC) { nodes { quantity variantByVariantId { sku "
            "productByProductId { name } } } } } } }",
            [({}, {})],
            lambda d: [
                (
                    e["node"]["number"],
                    (e["node"]["customer"] or {}).get("email"),  # guest orders (placed by a rerun) have none
                    [(l["quantity"], l["variant"]["sku"], l["variant"]["product"]["name"]) for l in e["node"]["lines"]],
                )
                for e in d["orders"]["edges"]
            ],
            lambda d: [
                (
                    f"#{1000 + int(n['rowId'])}",
                    (n["userByUserId"] or {}).get("email"),
                    [
                        (l["quantity"], l["variantByVariantId"]["sku"], l["variantByVariantId"]["productByProductId"]["name"])
                        for l in n["orderLinesByOrderId"]["nodes"]
                    ],
                )
                for n in d["allOrders"]["nodes"]
            ],
            staff=True,
        ),
        Shape(
            "deep page (offset)",
            DEEP_PAGE_BAZAAR,
            "query($offset: Int!) { allOrders(first: 20, offset: $offset, orderBy: ROW_ID_DESC) "
            "{ nodes { rowId total } } }",
            [
                ({"after": cursor(max_order - offset + 1)}, {"offset": offset})
                for offset in offsets
            ],
            deep_page_bazaar,
            deep_page_pg,
            staff=True,
        ),
        Shape(
            "deep page (cursor)",
            DEEP_PAGE_BAZAAR,
            "query($after: Cursor!) { allOrders(first: 20, after: $after, orderBy: ROW_ID_DESC) "
            "{ nodes { rowId total } } }",
            [
                ({"after": cursor(max_order - offset + 1)}, {"after": pg_cursors[offset]})
                for offset in offsets
            ],
            deep_page_bazaar,
            deep_page_pg,
            staff=True,
        ),
        Shape(
            "customer's 10 orders",
            "{ orders(first: 10) { edges { node { number lines(first: 3) { quantity variant { sku "
            "product { name } } } } } } }",
            "query($id: BigInt!) { userByRowId(rowId: $id) { ordersByUserId(first: 10, "
            "orderBy: ROW_ID_DESC) { nodes { rowId orderLinesByOrderId(first: 3, orderBy: ROW_ID_ASC) "
            "{ nodes { quantity variantByVariantId { sku productByProductId { name } } } } } } } }",
            [({}, {"id": str(uid)}, token) for uid, token in zip(customer_ids, customer_tokens)],
            lambda d: [
                (
                    e["node"]["number"],
                    [
                        (l["quantity"], (l["variant"] or {}).get("sku"),
                         ((l["variant"] or {}).get("product") or {}).get("name"))
                        for l in e["node"]["lines"]
                    ],
                )
                for e in d["orders"]["edges"]
            ],
            lambda d: [
                (
                    f"#{1000 + int(n['rowId'])}",
                    [
                        (l["quantity"], l["variantByVariantId"]["sku"],
                         l["variantByVariantId"]["productByProductId"]["name"])
                        for l in n["orderLinesByOrderId"]["nodes"]
                    ],
                )
                for n in d["userByRowId"]["ordersByUserId"]["nodes"]
            ],
        ),
        Shape(
            "search + price",
            "query($q: String!, $min: Decimal!, $max: Decimal!) { products(first: 20, where: "
            "{ search: $q, price: { min: $min, max: $max } }, sortBy: { field: NAME, direction: ASC }) "
            "{ edges { node { name slug } } } }",
            "query($q: String!, $min: BigInt!, $max: BigInt!) { searchProducts(phrase: $q, "
            "minPrice: $min, maxPrice: $max, first: 20) { nodes { name slug } } }",
            [
                ({"q": q, "min": decimal(low), "max": decimal(high)},
                 {"q": q, "min": str(low), "max": str(high)})
                for q, low, high in searches
            ],
            lambda d: [(e["node"]["name"], e["node"]["slug"]) for e in d["products"]["edges"]],
            lambda d: [(n["name"], n["slug"]) for n in d["searchProducts"]["nodes"]],
        ),
        # Last: it adds orders (the order shapes above count on the seeded ones) and takes stock.
        Shape(
            "place order",
            "mutation($input: CheckoutInput!) { checkoutComplete(input: $input) { order { number "
            "totals { subtotal { minorUnits } shipping { minorUnits } total { minorUnits } } "
            "lines { sku quantity unitPrice { minorUnits } } } userErrors { code message } } }",
            "mutation($input: PlaceOrderInput!) { placeOrder(input: $input) { result { rowId "
            "subtotal shippingTotal total orderLinesByOrderId(orderBy: ROW_ID_ASC) { nodes { sku "
            "quantity unitPrice } } } } }",
            None,
            lambda d: (
                d["checkoutComplete"]["userErrors"],
                d["checkoutComplete"]["order"]["totals"]["subtotal"]["minorUnits"],
                d["checkoutComplete"]["order"]["totals"]["shipping"]["minorUnits"],
                d["checkoutComplete"]["order"]["totals"]["total"]["minorUnits"],
                [(l["sku"], l["quantity"], l["unitPrice"]["minorUnits"])
                 for l in d["checkoutComplete"]["order"]["lines"]],
            ),
            lambda d: (
                [],
                int(d["placeOrder"]["result"]["subtotal"]),
                int(d["placeOrder"]["result"]["shippingTotal"]),
                int(d["placeOrder"]["result"]["total"]),
                [(l["sku"], l["quantity"], int(l["unitPrice"]))
                 for l in d["placeOrder"]["result"]["orderLinesByOrderId"]["nodes"]],
            ),
            fresh=carts.make,
            spent=carts.spent,
            reset=carts.reset,
            expect={"bazaar": '"userErrors":[]', "postgraphile": '"rowId"'},
        ),
    ]


# The deep-page shapes: Bazaar always by its cursor; PostGraphile by offset or by its cursor.
DEEP_PAGE_BAZAAR = (
    "query($after: String!) { orders(first: 20, after: $after) { edges { node { number "
    "totals { total { minorUnits } } } } } }"
)


def deep_page_bazaar(data):
    return [
        (e["node"]["number"], e["node"]["totals"]["total"]["minorUnits"])
        for e in data["orders"]["edges"]
    ]


def deep_page_pg(data):
    return [(f"#{1000 + int(n['rowId'])}", int(n["total"])) for n in data["allOrders"]["nodes"]]


def cursor(order_id):
    """Bazaar's opaque cursor for an order list position: base64url of the JSON id."""
    import base64

    return base64.urlsafe_b64encode(json.dumps(order_id).encode()).decode().rstrip("=")


def gate(shape, bazaar_url, pg_url, staff_token):
    """Both servers answer a sample of the shape's requests with the same data. For a mutation,
    five fresh requests of the same cart contents: both must place an order with the same
    lines (SKU, units, unit price) and totals; order numbers differ and are not compared.
    Returns Bazaar's statements per request: the fewest over the sample (a request that
    happens to refresh its session's last use, at most once a minute per session, runs one
    more)."""
    if shape.fresh:
        made = shape.fresh(5)
        sample = list(zip(made["bazaar"], made["postgraphile"]))
    else:
        sample = random.Random(7).sample(shape.variables, min(5, len(shape.variables)))
        if os.environ.get("BENCH_GATE_ALL"):  # compare every request, not five
            sample = shape.variables
    statements = []
    for request in sample:
        bazaar_vars, pg_vars = request[0], request[1]
        ours = post(bazaar_url, shape.bazaar, bazaar_vars, shape.bazaar_token(request, staff_token))
        statements.append(ours.get("extensions", {}).get("sql", {}).get("statements", 0))
        theirs = post(pg_url, shape.postgraphile, pg_vars)
        if "errors" in ours or "errors" in theirs:
            return False, f"errors: {ours.get('errors')} / {theirs.get('errors')}"
        if shape.normalize_bazaar(ours["data"]) != shape.normalize_pg(theirs["data"]):
            if os.environ.get("BENCH_DEBUG"):
                print(shape.normalize_bazaar(ours["data"]), shape.normalize_pg(theirs["data"]), file=sys.stderr)
            return False, f"answers differ for {bazaar_vars}"
    if not shape.fresh:  # once more: a one-request shape would otherwise report the refresh
        request = sample[0]
        again = post(bazaar_url, shape.bazaar, request[0], shape.bazaar_token(request, staff_token))
        statements.append(again.get("extensions", {}).get("sql", {}).get("statements", 0))
    return True, min(statements)


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def backends_cpu_seconds(database_url):
    """CPU seconds so far of each PostgreSQL backend connected to the bench database (the two
    servers' pools, kept open), by pid."""
    pids = [int(row[0]) for row in sql(
        database_url,
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
        "AND pid <> pg_backend_pid()")]
    seconds = {}
    for pid in pids:
        try:
            seconds[pid] = cpu_seconds(pid)
        except (FileNotFoundError, ProcessLookupError):
            pass
    return seconds


def peak_rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


WRK_THREADS = 2


def write_bodies(path, query, variables, tokens):
    """One request a line for wrk.lua: the JSON body, after `<token>\t` when it has a token."""
    with open(path, "w") as f:
        for vars_, token in zip(variables, tokens):
            body = json.dumps({"query": query, "variables": vars_})
            f.write(f"{token}\t{body}\n" if token else body + "\n")
    return path


def wrk(url, bodies_path, connections, seconds, expect=None, once=False, timeout="2s"):
    """One wrk run of the bodies in `bodies_path`; a request unanswered after `timeout` counts
    as an error (wrk's default, 2 s; the commerce bench gives Vendure's slow search longer)."""
    env = dict(os.environ, BODIES=bodies_path, THREADS=str(WRK_THREADS), EXPECT=expect or "",
               ONCE="1" if once else "", TOKEN="")
    done = subprocess.run(
        ["wrk", f"-t{WRK_THREADS}", f"-c{connections}", f"-d{seconds}s", "--timeout", timeout,
         "-s", os.path.join(HERE, "wrk.lua"), url],
        env=env, capture_output=True, text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stdout}{done.stderr}")
    out = done.stdout
    line = next(l for l in out.splitlines() if l.startswith("RESULT"))
    return {k: float(v) for k, v in (kv.split("=") for kv in line.split()[1:])}


PRODUCT_COLUMNS = (
    "products.id, products.category_id, products.name, products.slug, products.description, "
    "products.status, products.price_min, products.price_max, products.search_text, "
    "products.created_at, products.updated_at"
)
CATEGORY_COLUMNS = (
    "categories.id, categories.parent_id, categories.name, categories.slug, categories.path, "
    "categories.position, categories.created_at, categories.updated_at, categories.archived_at"
)


def pgbench(database_url, scripts, clients, seconds):
    """Transactions/s of pgbench running these scripts (picked at random, equal weights; a
    script is one transaction) with `clients` connections, prepared statements, as diesel
    sends them. With the servers' pool size this is the most any GraphQL server could get from
    this PostgreSQL for the same statements on this machine (pgbench shares its cores)."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        files = []
        for n, script in enumerate(scripts):
            path = os.path.join(tmp, f"{n}.sql")
            with open(path, "w") as f:
                f.write(script)
            files += ["-f", path]
        out = subprocess.run(
            ["pgbench", "-n", "-M", "prepared", "-c", str(clients), "-j", str(min(clients, 2)),
             "-T", str(seconds), *files, database_url],
            check=True, capture_output=True, text=True,
        ).stdout
    for line in out.splitlines():
        if line.startswith("tps ="):
            return float(line.split()[2])
    raise RuntimeError(f"no tps in pgbench output:\n{out}")


def ceiling_product_by_id(database_url, ids, clients, seconds):
    """Bazaar's statement for "product by id" (every column of products LEFT JOIN categories,
    by id, ACTIVE only) for a random id of the shape's: pgbench maps a random index to an id
    through the runs of consecutive ids."""
    ids = sorted(ids)
    runs = []  # runs of consecutive ids: (first id, index of it in `ids`)
    for k, i in enumerate(ids):
        if k == 0 or i != ids[k - 1] + 1:
            runs.append((i, k))
    expression = "case " + " ".join(
        f"when :k < {runs[r + 1][1] if r + 1 < len(runs) else len(ids)} then {first} + :k - {index}"
        for r, (first, index) in enumerate(runs)
    ) + " end"
    script = (
        f"\\set k random(0, {len(ids) - 1})\n"
        f"\\set id {expression}\n"
        f"SELECT {PRODUCT_COLUMNS}, {CATEGORY_COLUMNS} FROM (products LEFT OUTER JOIN categories "
        "ON (products.category_id = categories.id)) WHERE (products.status = 'ACTIVE') "
        "AND (products.id = :id);\n"
    )
    return pgbench(database_url, [script], clients, seconds)


def ceiling_list_page(database_url, slugs, clients, seconds):
    """Bazaar's statement for "list page" (the first page of the ACTIVE products of a category by
    name and id, one row more than the page; the server knows the category's subtree from the
    category tree it keeps, and a leaf's is the leaf alone): a script per leaf category, picked
    at random."""
    ids = dict(sql(database_url, "SELECT slug, id FROM categories WHERE slug IN ("
                   + ", ".join(f"'{slug}'" for slug in slugs) + ")"))
    scripts = [
        f"SELECT {PRODUCT_COLUMNS}, {CATEGORY_COLUMNS} FROM (products LEFT OUTER JOIN categories "
        "ON (products.category_id = categories.id)) WHERE (products.status = 'ACTIVE') "
        f"AND (products.category_id = {ids[slug]}) "
        "ORDER BY products.name ASC, products.id ASC LIMIT 21;\n"
        for slug in slugs
    ]
    return pgbench(database_url, scripts, clients, seconds)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bazaar", required=True)
    parser.add_argument("--bazaar-pid", type=int, required=True)
    parser.add_argument("--postgraphile", required=True)
    parser.add_argument("--postgraphile-pid", type=int, required=True)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--token", required=True, help="a staff session token for Bazaar")
    parser.add_argument("--pool", type=int, default=4, help="database connections of each server")
    parser.add_argument("--out", required=True)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", help="run only the shapes whose names contain one of these comma-separated texts")
    args = parser.parse_args()
    seconds, rounds, connections = (3, 1, 32) if args.quick else (15, 3, 32)

    rows = []
    ceilings = {}
    for shape in shapes(args, args.quick):
        if args.only and not any(part in shape.name for part in args.only.split(",")):
            continue
        if shape.reset:
            shape.reset()
        ok, detail = gate(shape, args.bazaar, args.postgraphile, args.token)
        if not ok:
            print(f"{shape.name}: NOT TIMED, {detail}", file=sys.stderr)
            rows.append({"shape": shape.name, "gate": f"failed: {detail}"})
            continue
        if os.environ.get("BENCH_GATE_ONLY"):
            rows.append({"shape": shape.name, "gate": "ok (gate only)", "bazaar_statements": detail})
            print(json.dumps(rows[-1]), flush=True)
            continue
        stem = os.path.join(args.out, shape.name.replace(" ", "_").replace(",", "").replace("'", ""))
        queries = {"bazaar": shape.bazaar, "postgraphile": shape.postgraphile}
        targets = {
            "bazaar": (args.bazaar, args.bazaar_pid),
            "postgraphile": (args.postgraphile, args.postgraphile_pid),
        }
        if not shape.fresh:
            paths = {
                "bazaar": write_bodies(
                    f"{stem}.bazaar.jsonl", shape.bazaar, [r[0] for r in shape.variables],
                    [shape.bazaar_token(r, args.token) for r in shape.variables]),
                "postgraphile": write_bodies(
                    f"{stem}.postgraphile.jsonl", shape.postgraphile,
                    [r[1] for r in shape.variables], [None] * len(shape.variables)),
            }
        rates = {"bazaar": 0.0, "postgraphile": 0.0}

        def run(server, secs):
            """One wrk run; a mutation gets requests never sent before, more than it can send."""
            url = targets[server][0]
            if not shape.fresh:
                return wrk(url, paths[server], connections, secs)
            # Fewer requests than this leaves a thread without work before the end; the first
            # run (the warm-up) guesses, the others go by the rate seen so far.
            n = int(max(rates[server] * secs * 2, 2000 if args.quick else 5000)) + 2 * connections
            requests = shape.fresh(n, (server,))[server]
            path = write_bodies(f"{stem}.{server}.jsonl", queries[server], requests, [None] * n)
            result = wrk(url, path, connections, secs, shape.expect.get(server), once=True)
            rates[server] = max(rates[server], result["rps"])
            # Each thread's last request was sent: that thread may have started over.
            if shape.spent(requests[-WRK_THREADS:]):
                print(f"{shape.name}: {server} ran out of fresh requests", file=sys.stderr)
                result["bad"] += 1
            return result

        results = {"bazaar": [], "postgraphile": []}
        cpu = {"bazaar": 0.0, "postgraphile": 0.0}
        db_cpu = {"bazaar": 0.0, "postgraphile": 0.0}
        for server in targets:
            run(server, 1)  # warm-up
        for _ in range(rounds):
            for server, (url, pid) in targets.items():
                db_before = backends_cpu_seconds(args.database_url)
                before = cpu_seconds(pid)
                results[server].append(run(server, seconds))
                cpu[server] += cpu_seconds(pid) - before
                # Only this server sends load now: the backends' work is on its behalf.
                db_after = backends_cpu_seconds(args.database_url)
                db_cpu[server] += sum(db_after[p] - db_before.get(p, 0.0) for p in db_after)
        row = {"shape": shape.name, "gate": "ok", "bazaar_statements": detail}
        for server in ("bazaar", "postgraphile"):
            runs = results[server]
            row[f"{server}_rps"] = statistics.median(r["rps"] for r in runs)
            row[f"{server}_p50_ms"] = statistics.median(r["p50_ms"] for r in runs)
            row[f"{server}_p99_ms"] = statistics.median(r["p99_ms"] for r in runs)
            row[f"{server}_bad"] = int(sum(r["bad"] + r["errors"] for r in runs))
            row[f"{server}_requests"] = int(sum(r["requests"] for r in runs))
            row[f"{server}_cpu_s"] = round(cpu[server], 1)
            row[f"{server}_req_per_cpu_s"] = round(
                row[f"{server}_requests"] / max(cpu[server], 1e-9))
            row[f"{server}_db_cpu_s"] = round(db_cpu[server], 1)
            row[f"{server}_req_per_total_cpu_s"] = round(
                row[f"{server}_requests"] / max(cpu[server] + db_cpu[server], 1e-9))
        row["ratio_rps"] = round(row["bazaar_rps"] / max(row["postgraphile_rps"], 1e-9), 2)
        if shape.name == "product by id":
            ids = [int(r[1]["id"]) for r in shape.variables]
            ceilings[shape.name] = ceiling_product_by_id(args.database_url, ids, args.pool, seconds)
        elif shape.name == "list page":
            slugs = [r[0]["slug"] for r in shape.variables]
            ceilings[shape.name] = ceiling_list_page(args.database_url, slugs, args.pool, seconds)
        if shape.name in ceilings:
            row["pgbench_tps"] = round(ceilings[shape.name])
        rows.append(row)
        print(json.dumps(row), flush=True)

    peaks = {
        "bazaar_peak_rss_mib": round(peak_rss_mib(args.bazaar_pid), 1),
        "postgraphile_peak_rss_mib": round(peak_rss_mib(args.postgraphile_pid), 1),
    }
    for row in rows:
        row.update(peaks)
    fields = sorted({key for row in rows for key in row})
    with open(os.path.join(args.out, "results.csv"), "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    with open(os.path.join(args.out, "results.md"), "w") as f:
        f.write(f"Machine: {os.cpu_count()} cores, {os.uname().release}; {connections} connections, "
                f"{rounds} round(s) of {seconds} s, medians.\n\n")
        f.write("| shape | Bazaar req/s | PostGraphile req/s | ratio | Bazaar p50/p99 ms | "
                "PostGraphile p50/p99 ms | Bazaar SQL/request | bad (B/P) |\n|---|---|---|---|---|---|---|---|\n")
        for row in rows:
            if row["gate"] != "ok":
                f.write(f"| {row['shape']} | not timed: {row['gate']} |||||||\n")
                continue
            f.write(
                f"| {row['shape']} | {row['bazaar_rps']:.0f} | {row['postgraphile_rps']:.0f} | "
                f"{row['ratio_rps']} | {row['bazaar_p50_ms']:.2f}/{row['bazaar_p99_ms']:.2f} | "
                f"{row['postgraphile_p50_ms']:.2f}/{row['postgraphile_p99_ms']:.2f} | "
                f"{row['bazaar_statements']} | {row['bazaar_bad']}/{row['postgraphile_bad']} |\n"
            )
        f.write("\nCPU over the timed rounds (user + system seconds): the server process, and the "
                "PostgreSQL backends of the bench database while that server alone was loaded; "
                "requests per CPU second of the server alone, and of server + database:\n\n"
                "| shape | Bazaar CPU s (+DB) | PostGraphile CPU s (+DB) | Bazaar req/CPU s "
                "(+DB) | PostGraphile req/CPU s (+DB) |\n|---|---|---|---|---|\n")
        for row in rows:
            if row["gate"] == "ok":
                f.write(
                    f"| {row['shape']} | {row['bazaar_cpu_s']} (+{row['bazaar_db_cpu_s']}) | "
                    f"{row['postgraphile_cpu_s']} (+{row['postgraphile_db_cpu_s']}) | "
                    f"{row['bazaar_req_per_cpu_s']} ({row['bazaar_req_per_total_cpu_s']}) | "
                    f"{row['postgraphile_req_per_cpu_s']} ({row['postgraphile_req_per_total_cpu_s']}) |\n")
        if ceilings:
            f.write(f"\nDatabase ceiling (pgbench, {args.pool} connections, prepared, "
                    f"{seconds} s, the statements Bazaar sends for one request, on the same "
                    "machine):\n\n")
            for name, tps in ceilings.items():
                f.write(f"- {name}: {tps:.0f} transactions (requests) /s\n")
        f.write(f"\nPeak RSS: Bazaar {peaks['bazaar_peak_rss_mib']} MiB, "
                f"PostGraphile {peaks['postgraphile_peak_rss_mib']} MiB.\n")
    print(json.dumps(peaks))


if __name__ == "__main__":
    main()
