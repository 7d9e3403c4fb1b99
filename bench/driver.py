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
    """One kind of request, asked of both servers for the same data."""

    def __init__(
        self, name, bazaar, postgraphile, variables, normalize_bazaar, normalize_pg, staff=False
    ):
        self.name = name
        self.staff = staff  # Bazaar is asked as staff (orders); else as an anonymous shopper
        self.bazaar = bazaar
        self.postgraphile = postgraphile
        self.variables = variables  # list of (bazaar vars, postgraphile vars)
        self.normalize_bazaar = normalize_bazaar
        self.normalize_pg = normalize_pg


def shapes(database_url, quick):
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
        Shape(
            "50 orders, nested",
            "{ orders(first: 50) { edges { node { number customer { email } lines { quantity "
            "variant { sku product { name } } } } } } }",
            "{ allOrders(first: 50, orderBy: ROW_ID_DESC) { nodes { rowId userByUserId { email } "
            "orderLinesByOrderId(orderBy: ROW_ID_ASC) { nodes { quantity variantByVariantId { sku "
            "productByProductId { name } } } } } } }",
            [({}, {})],
            lambda d: [
                (
                    e["node"]["number"],
                    e["node"]["customer"]["email"],
                    [(l["quantity"], l["variant"]["sku"], l["variant"]["product"]["name"]) for l in e["node"]["lines"]],
                )
                for e in d["orders"]["edges"]
            ],
            lambda d: [
                (
                    f"#{1000 + int(n['rowId'])}",
                    n["userByUserId"]["email"],
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
            "query($after: String!) { orders(first: 20, after: $after) { edges { node { number "
            "totals { total { minorUnits } } } } } }",
            "query($offset: Int!) { allOrders(first: 20, offset: $offset, orderBy: ROW_ID_DESC) "
            "{ nodes { rowId total } } }",
            [
                ({"after": cursor(max_order - offset + 1)}, {"offset": offset})
                for offset in offsets
            ],
            lambda d: [
                (e["node"]["number"], e["node"]["totals"]["total"]["minorUnits"])
                for e in d["orders"]["edges"]
            ],
            lambda d: [(f"#{1000 + int(n['rowId'])}", int(n["total"])) for n in d["allOrders"]["nodes"]],
            staff=True,
        ),
    ]


def cursor(order_id):
    """Bazaar's opaque cursor for an order list position: base64url of the JSON id."""
    import base64

    return base64.urlsafe_b64encode(json.dumps(order_id).encode()).decode().rstrip("=")


def gate(shape, bazaar_url, pg_url, token):
    """Both servers answer a sample of the shape's requests with the same data."""
    sample = random.Random(7).sample(shape.variables, min(5, len(shape.variables)))
    for bazaar_vars, pg_vars in sample:
        ours = post(bazaar_url, shape.bazaar, bazaar_vars, token)
        theirs = post(pg_url, shape.postgraphile, pg_vars)
        if "errors" in ours or "errors" in theirs:
            return False, f"errors: {ours.get('errors')} / {theirs.get('errors')}"
        if shape.normalize_bazaar(ours["data"]) != shape.normalize_pg(theirs["data"]):
            if os.environ.get("BENCH_DEBUG"):
                print(shape.normalize_bazaar(ours["data"]), shape.normalize_pg(theirs["data"]), file=sys.stderr)
            return False, f"answers differ for {bazaar_vars}"
    statements = ours.get("extensions", {}).get("sql", {}).get("statements")
    return True, statements


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def wrk(url, bodies_path, token, connections, seconds):
    env = dict(os.environ, BODIES=bodies_path, TOKEN=token or "")
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "-s", os.path.join(HERE, "wrk.lua"), url],
        env=env, check=True, capture_output=True, text=True,
    ).stdout
    line = next(l for l in out.splitlines() if l.startswith("RESULT"))
    return {k: float(v) for k, v in (kv.split("=") for kv in line.split()[1:])}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bazaar", required=True)
    parser.add_argument("--bazaar-pid", type=int, required=True)
    parser.add_argument("--postgraphile", required=True)
    parser.add_argument("--postgraphile-pid", type=int, required=True)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--token", required=True, help="a staff session token for Bazaar")
    parser.add_argument("--out", required=True)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    seconds, rounds, connections = (3, 1, 32) if args.quick else (15, 3, 32)

    rows = []
    for shape in shapes(args.database_url, args.quick):
        token = args.token if shape.staff else None
        ok, detail = gate(shape, args.bazaar, args.postgraphile, token)
        if not ok:
            print(f"{shape.name}: NOT TIMED, {detail}", file=sys.stderr)
            rows.append({"shape": shape.name, "gate": f"failed: {detail}"})
            continue
        paths = {}
        for server, query, pick in (
            ("bazaar", shape.bazaar, 0),
            ("postgraphile", shape.postgraphile, 1),
        ):
            path = os.path.join(args.out, f"{shape.name.replace(' ', '_').replace(',', '')}.{server}.jsonl")
            with open(path, "w") as f:
                for pair in shape.variables:
                    f.write(json.dumps({"query": query, "variables": pair[pick]}) + "\n")
            paths[server] = path
        results = {"bazaar": [], "postgraphile": []}
        cpu = {"bazaar": 0.0, "postgraphile": 0.0}
        targets = {
            "bazaar": (args.bazaar, args.bazaar_pid, token),
            "postgraphile": (args.postgraphile, args.postgraphile_pid, None),
        }
        for server, (url, pid, token) in targets.items():
            wrk(url, paths[server], token, connections, 1)  # warm-up
        for _ in range(rounds):
            for server, (url, pid, token) in targets.items():
                before = cpu_seconds(pid)
                results[server].append(wrk(url, paths[server], token, connections, seconds))
                cpu[server] += cpu_seconds(pid) - before
        row = {"shape": shape.name, "gate": "ok", "bazaar_statements": detail}
        for server in ("bazaar", "postgraphile"):
            runs = results[server]
            row[f"{server}_rps"] = statistics.median(r["rps"] for r in runs)
            row[f"{server}_p50_ms"] = statistics.median(r["p50_ms"] for r in runs)
            row[f"{server}_p99_ms"] = statistics.median(r["p99_ms"] for r in runs)
            row[f"{server}_bad"] = int(sum(r["bad"] + r["errors"] for r in runs))
            row[f"{server}_cpu_s"] = round(cpu[server], 1)
        row["ratio_rps"] = round(row["bazaar_rps"] / max(row["postgraphile_rps"], 1e-9), 2)
        rows.append(row)
        print(json.dumps(row), flush=True)

    peaks = {
        "bazaar_peak_rss_mib": round(peak_rss_mib(args.bazaar_pid), 1),
        "postgraphile_peak_rss_mib": round(peak_rss_mib(args.postgraphile_pid), 1),
    }
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
        f.write(f"\nPeak RSS: Bazaar {peaks['bazaar_peak_rss_mib']} MiB, "
                f"PostGraphile {peaks['postgraphile_peak_rss_mib']} MiB.\n")
    print(json.dumps(peaks))


if __name__ == "__main__":
    main()
