"""Bazaar against Vendure 3 on the shapes a storefront sends (issue 21 item 2), each server on
its own catalog of similar size (Bazaar's seed at scale 200, Vendure's sample shop plus 12,000
generated products, bench/vendure/populate.js). Run by bench/commerce; see bench/README.md.

Shapes: a product page by slug, a category page of 20 products, a text search, and a cart flow
(a new cart with one line, a second line added, the totals read) counted in complete flows. Each
server is asked what its own storefront would send (Vendure's: its Remix starter's queries, the
category page and search through its search index). Before timing, a gate sends each server
five of the shape's requests and checks that each answers data of the shape (the catalogs
differ, so the answers are not compared with each other).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

from driver import (
    HERE,
    backends_cpu_seconds,
    cpu_seconds,
    peak_rss_mib,
    post,
    sql,
    wrk,
    write_bodies,
)

BAZAAR_PRODUCT = """query ProductPage($slug: String!) { product(slug: $slug) {
  id name slug description category { id name slug }
  images { id url altText }
  options { name values }
  priceRange { minVariantPrice { amount currencyCode } maxVariantPrice { amount } }
  variants { id sku title selectedOptions { name value } price { amount currencyCode }
             compareAtPrice { amount } inStock } } }"""

BAZAAR_CATEGORY = """query CategoryPage($slug: String!) {
  category(slug: $slug) { id name slug parent { id name slug } children { id name slug } }
  products(first: 20, where: { categorySlug: $slug }) {
    edges { node { id name slug images(first: 1) { url altText }
      priceRange { minVariantPrice { amount currencyCode } maxVariantPrice { amount } }
      variants { id title price { amount } inStock } } }
    pageInfo { hasNextPage endCursor } } }"""

BAZAAR_SEARCH = """query Search($term: String!) {
  products(first: 20, where: { search: $term }) {
    edges { node { id name slug images(first: 1) { url altText }
      priceRange { minVariantPrice { amount currencyCode } maxVariantPrice { amount } } } }
    pageInfo { hasNextPage endCursor } } }"""


def vendure_query(name):
    with open(os.path.join(HERE, "vendure", "requests", f"{name}.json")) as f:
        return json.load(f)["query"]


DEPARTMENTS = ["t-shirts", "hoodies", "hats", "mugs", "cookware", "candles", "headphones",
               "chargers", "speakers", "backpacks", "tents", "water-bottles"]


def bazaar_requests(database_url, count):
    """(product slugs, category slugs, search terms, in-stock variant ids) of Bazaar's catalog."""
    slugs = [r[0] for r in sql(database_url, f"""
        SELECT slug FROM products WHERE status = 'ACTIVE' ORDER BY md5(slug) LIMIT {count}""")]
    categories = [r[0] for r in sql(database_url, """
        SELECT c.slug FROM categories c WHERE c.parent_id IS NOT NULL AND c.archived_at IS NULL
        AND (SELECT count(*) FROM products p WHERE p.category_id = c.id AND p.status = 'ACTIVE') >= 20
        ORDER BY c.slug""")]
    terms = [r[0] for r in sql(database_url, f"""
        SELECT lower(regexp_replace(name, ' [0-9]+$', '')) FROM products WHERE status = 'ACTIVE'
        GROUP BY 1 ORDER BY md5(lower(regexp_replace(name, ' [0-9]+$', ''))) LIMIT {count}""")]
    variants = [f"gid://bazaar/Variant/{r[0]}" for r in sql(database_url, f"""
        SELECT v.id FROM variants v JOIN products p ON p.id = v.product_id
        WHERE p.status = 'ACTIVE' AND v.archived_at IS NULL AND v.stock > 5
        ORDER BY md5(v.id::text) LIMIT {count}""")]
    return slugs, categories, terms, variants


def vendure_requests(database_url, count):
    """The same of Vendure's catalog (its enabled products and variants, the departments)."""
    slugs = [r[0] for r in sql(database_url, f"""
        SELECT t.slug FROM product p JOIN product_translation t ON t."baseId" = p.id
        WHERE p.enabled AND p."deletedAt" IS NULL ORDER BY md5(t.slug) LIMIT {count}""")]
    terms = [r[0] for r in sql(database_url, f"""
        SELECT lower(regexp_replace(t.name, ' [0-9]+$', '')) FROM product p
        JOIN product_translation t ON t."baseId" = p.id
        WHERE p.enabled AND p."deletedAt" IS NULL
        GROUP BY 1 ORDER BY md5(lower(regexp_replace(t.name, ' [0-9]+$', ''))) LIMIT {count}""")]
    variants = [r[0] for r in sql(database_url, f"""
        SELECT v.id FROM product_variant v JOIN product p ON p.id = v."productId"
        JOIN stock_level s ON s."productVariantId" = v.id
        WHERE p.enabled AND v.enabled AND v."deletedAt" IS NULL AND p."deletedAt" IS NULL
        AND s."stockOnHand" - s."stockAllocated" > 5
        ORDER BY md5(v.id::text) LIMIT {count}""")]
    return slugs, DEPARTMENTS, terms, variants


# Connections per shape where not the bench's 32: Vendure's search costs seconds of database
# time each (see bench/README.md), so 32 at once finish none within a 15 s round; 4, as many
# as each server has database connections, measure its rate.
CONNECTIONS = {"text search": 4}


def shapes(bazaar, vendure):
    """(name, {server: (query, [variables…], text a good answer holds)})."""
    (b_slugs, b_categories, b_terms, _), (v_slugs, v_categories, v_terms, _) = bazaar, vendure
    return [
        ("product page by slug", {
            "bazaar": (BAZAAR_PRODUCT, [{"slug": s} for s in b_slugs], '"variants":[{'),
            "vendure": (vendure_query("product"), [{"slug": s} for s in v_slugs], '"variants":[{'),
        }),
        ("category page, 20 products", {
            "bazaar": (BAZAAR_CATEGORY, [{"slug": s} for s in b_categories], '"edges":[{'),
            "vendure": (vendure_query("category"),
                        [{"slug": s, "take": 20, "skip": 0} for s in v_categories], '"items":[{'),
        }),
        ("text search", {
            "bazaar": (BAZAAR_SEARCH, [{"term": t} for t in b_terms], '"edges":[{'),
            "vendure": (vendure_query("search"), [{"term": t} for t in v_terms], '"items":[{'),
        }),
    ]


def gate(url, query, variables, expect):
    for vars_ in variables[:5]:
        answer = post(url, query, vars_)
        if "errors" in answer or expect not in json.dumps(answer, separators=(",", ":")):
            return False, json.dumps(answer)[:300]
    return True, ""


def flow_run(url, variants_path, flow, connections, seconds):
    env = dict(os.environ, FLOW=flow, VARIANTS=variants_path)
    done = subprocess.run(
        ["wrk", f"-t{connections}", f"-c{connections}", f"-d{seconds}s", "--timeout", "30s",
         "-s", os.path.join(HERE, "flow.lua"), url],
        env=env, capture_output=True, text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stdout}{done.stderr}")
    line = next(l for l in done.stdout.splitlines() if l.startswith("RESULT"))
    return {k: float(v) for k, v in (kv.split("=") for kv in line.split()[1:])}


def settle(pid, limit_s=120):
    """Waits until the server `pid` is idle (under 5 % of a core over half a second): a request
    the load generator gave up on may still be running (Vendure's searches queue behind each
    other), and must not count against the next run."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        before = cpu_seconds(pid)
        time.sleep(0.5)
        if cpu_seconds(pid) - before < 0.025:
            return


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bazaar", required=True)
    parser.add_argument("--bazaar-pid", type=int, required=True)
    parser.add_argument("--bazaar-database-url", required=True)
    parser.add_argument("--vendure", required=True)
    parser.add_argument("--vendure-pid", type=int, required=True)
    parser.add_argument("--vendure-database-url", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", help="only the shapes whose names contain one of these comma-separated texts")
    args = parser.parse_args()
    seconds, rounds, connections = (3, 1, 32) if args.quick else (15, 3, 32)
    flow_connections = 16

    sides = {
        "bazaar": (args.bazaar, args.bazaar_pid, args.bazaar_database_url),
        "vendure": (args.vendure, args.vendure_pid, args.vendure_database_url),
    }
    catalog = {
        "bazaar": bazaar_requests(args.bazaar_database_url, 500),
        "vendure": vendure_requests(args.vendure_database_url, 500),
    }
    runs = [(name, servers, None) for name, servers in shapes(catalog["bazaar"], catalog["vendure"])]
    runs.append(("cart flow (create, add 2 lines, totals)", None, "flow"))
    rows = []
    for name, servers, kind in runs:
        if args.only and not any(part in name for part in args.only.split(",")):
            continue
        stem = os.path.join(args.out, name.split(" (")[0].replace(" ", "_").replace(",", ""))
        run = {}
        for server, (url, _, _) in sides.items():
            if kind == "flow":
                path = os.path.join(args.out, f"variants.{server}.txt")
                with open(path, "w") as f:
                    f.write("\n".join(catalog[server][3]) + "\n")
                run[server] = (lambda url=url, path=path, server=server, secs=seconds:
                               flow_run(url, path, server, flow_connections, secs))
                continue
            query, variables, expect = servers[server]
            ok, detail = gate(url, query, variables, expect)
            if not ok:
                print(f"{name}: {server} NOT TIMED, {detail}", file=sys.stderr)
                run = None
                break
            path = write_bodies(f"{stem}.{server}.jsonl", query, variables, [None] * len(variables))
            shape_connections = CONNECTIONS.get(name, connections)
            run[server] = (lambda url=url, path=path, expect=expect, secs=seconds,
                           shape_connections=shape_connections:
                           wrk(url, path, shape_connections, secs, expect, timeout="30s"))
        if run is None:
            rows.append({"shape": name, "gate": "failed"})
            continue
        results = {server: [] for server in sides}
        cpu = dict.fromkeys(sides, 0.0)
        db_cpu = dict.fromkeys(sides, 0.0)
        for server, (_, pid, _) in sides.items():
            run[server](secs=1)  # warm-up
            settle(pid)
        for _ in range(rounds):
            for server, (url, pid, database_url) in sides.items():
                settle(pid)
                db_before = backends_cpu_seconds(database_url)
                before = cpu_seconds(pid)
                results[server].append(run[server](secs=seconds))
                cpu[server] += cpu_seconds(pid) - before
                db_after = backends_cpu_seconds(database_url)
                db_cpu[server] += sum(db_after[p] - db_before.get(p, 0.0) for p in db_after)
        row = {"shape": name, "gate": "ok"}
        for server, (_, pid, _) in sides.items():
            done = results[server]
            unit = "flows_per_s" if kind == "flow" else "rps"
            row[f"{server}_per_s"] = statistics.median(r[unit] for r in done)
            row[f"{server}_p50_ms"] = statistics.median(r["p50_ms"] for r in done)
            row[f"{server}_p99_ms"] = statistics.median(r["p99_ms"] for r in done)
            row[f"{server}_bad"] = int(sum(r["bad"] + r["errors"] for r in done))
            units = sum(r[unit] for r in done) * seconds
            row[f"{server}_cpu_ms_per"] = round(1000 * cpu[server] / units, 2) if units else None
            row[f"{server}_db_cpu_ms_per"] = round(1000 * db_cpu[server] / units, 2) if units else None
            row[f"{server}_peak_rss_mib"] = round(peak_rss_mib(pid), 1)
        row["ratio"] = round(row["bazaar_per_s"] / row["vendure_per_s"], 1) if row["vendure_per_s"] else None
        rows.append(row)
        print(json.dumps(row), flush=True)

    with open(os.path.join(args.out, "commerce.json"), "w") as f:
        json.dump(rows, f, indent=1)
    with open(os.path.join(args.out, "commerce.md"), "w") as f:
        f.write("| shape | Bazaar /s | Vendure /s | ratio | p50 ms B / V | p99 ms B / V | "
                "CPU ms per (server + db) B | V | bad B / V | peak RSS MiB B / V |\n")
        f.write("|---|---|---|---|---|---|---|---|---|---|\n")
        for row in rows:
            if row["gate"] != "ok":
                f.write(f"| {row['shape']} | gate {row['gate']} | | | | | | | | |\n")
                continue
            f.write(
                f"| {row['shape']} | {row['bazaar_per_s']:,.1f} | {row['vendure_per_s']:,.1f} | "
                f"{row['ratio']}× | {row['bazaar_p50_ms']:.1f} / {row['vendure_p50_ms']:.1f} | "
                f"{row['bazaar_p99_ms']:.1f} / {row['vendure_p99_ms']:.1f} | "
                f"{row['bazaar_cpu_ms_per']} + {row['bazaar_db_cpu_ms_per']} | "
                f"{row['vendure_cpu_ms_per']} + {row['vendure_db_cpu_ms_per']} | "
                f"{row['bazaar_bad']} / {row['vendure_bad']} | "
                f"{row['bazaar_peak_rss_mib']} / {row['vendure_peak_rss_mib']} |\n")


if __name__ == "__main__":
    main()
