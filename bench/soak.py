#!/usr/bin/env python3
"""The soak: the shop's capacity (storefront traffic back to back), then shoppers at an open pace
of --shop-share of it alone for a baseline, then the same shoppers under abuse (bcrypt floods,
alias floods, oversized documents, an address spray, each at an offered rate) for --minutes, in
one-minute slices; the server's RSS sampled every 5 s. Writes soak.md, slices.csv and rss.csv to
--out.

Called by bench/soak with Bazaar already running. Standard library only.
"""

import argparse
import json
import os
import subprocess
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))


def post(url, query, variables=None):
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    with urllib.request.urlopen(urllib.request.Request(url, body, headers), timeout=60) as r:
        return json.load(r)


def line(query, variables=None):
    return json.dumps({"query": query, "variables": variables or {}})


def storefront_bodies(url):
    """What shoppers ask: home page, category pages, product pages, searches."""
    categories = post(url, "{ categories(first: 20) { slug children(first: 20) { slug } } }")
    categories = categories["data"]["categories"]
    slugs = [c["slug"] for c in categories] + [k["slug"] for c in categories for k in c["children"]]
    products = post(url, "{ products(first: 100) { edges { node { id slug } } } }")["data"]
    nodes = [e["node"] for e in products["products"]["edges"]]
    bodies = [line("{ categories(first: 10) { name slug children(first: 10) { name slug } } }")]
    for slug in slugs:
        bodies.append(line(
            "query($slug: String!) { products(first: 20, where: { categorySlug: $slug }, "
            "sortBy: { field: NAME, direction: ASC }) { edges { node { name slug "
            "priceRange { minVariantPrice { amount currencyCode } } } } "
            "pageInfo { hasNextPage endCursor } } }", {"slug": slug}))
    for node in nodes:
        bodies.append(line(
            "query($slug: String!) { product(slug: $slug) { id name description "
            "category { name } images(first: 5) { url altText } variants(first: 10) { sku title "
            "price { amount currencyCode } inStock } } }", {"slug": node["slug"]}))
    for term in ["mug", "shirt", "lamp", "bag", "tea", "classic", "cotton", "steel"]:
        bodies.append(line(
            "query($q: String!) { products(first: 10, where: { search: $q }) "
            "{ edges { node { name slug } } } }", {"q": term}))
    return bodies


def abuse_bodies(kind):
    """What an attacker sends, each from a fresh address: every kind is refused or throttled
    by design, none may cost a 5xx. `bcrypt`: wrong sign-ins for many accounts, sign-ups and
    reset requests; `documents`: alias floods over the cost limit, documents over the alias,
    field and depth limits."""
    bodies = []
    if kind == "bcrypt":
        for n in range(200):
            bodies.append(line(
                "mutation($e: String!) { login(email: $e, password: \"wrong password 1\") "
                "{ userErrors { code } } }", {"e": f"victim{n}@example.com"}))
            bodies.append(line(
                "mutation($e: String!) { accountRegister(input: { email: $e, "
                "password: \"flood password 1\" }) { accepted userErrors { code } } }",
                {"e": f"flood{n}-{time.time_ns()}@example.com"}))
            bodies.append(line(
                "mutation($e: String!) { passwordResetRequest(email: $e) { accepted } }",
                {"e": f"victim{n}@example.com"}))
    elif kind == "documents":
        expensive = " ".join(
            f"a{n}: products(first: 100) {{ edges {{ node {{ name variants {{ sku }} }} }} }}"
            for n in range(30))
        too_many = " ".join(f"b{n}: __typename" for n in range(500))
        deep = "{ categories " + "{ children " * 40 + "{ name }" + " }" * 41
        for _ in range(100):
            bodies.append(line("{ " + expensive + " }"))
            bodies.append(line("{ " + too_many + " }"))
            bodies.append(line(deep))
    else:
        raise ValueError(f"unknown kind of abuse: {kind}")
    return bodies


def wrk(url, bodies_path, connections, seconds, addresses, strict, pace_ms=0.0, idle=False):
    """Runs wrk with bench/soak.lua; `idle` runs it in the idle scheduling class (`SCHED_IDLE`),
    on CPU time nothing else wants."""
    env = dict(os.environ, BODIES=bodies_path, ADDRESSES=str(addresses),
               EXPECT="1" if strict else "", PACE_MS=f"{pace_ms:.3f}")
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", "-s",
               os.path.join(HERE, "soak.lua"), url]
    done = subprocess.run(
        (["chrt", "--idle", "0"] if idle else []) + command,
        env=env, capture_output=True, text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stdout}{done.stderr}")
    result = next(l for l in done.stdout.splitlines() if l.startswith("RESULT"))
    return {k: float(v) for k, v in (kv.split("=") for kv in result.split()[1:])}


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for row in f:
            if row.startswith("VmRSS:"):
                return int(row.split()[1])
    return 0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--pid", type=int, required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--minutes", type=int, default=10)
    parser.add_argument("--slice-seconds", type=int, default=60)
    parser.add_argument("--baseline-seconds", type=int, default=60)
    parser.add_argument("--abuse", default="bcrypt,documents",
                        help="the kinds of abuse: bcrypt, documents, or both (the default)")
    parser.add_argument("--shop-share", type=float, default=0.5,
                        help="the shoppers' pace, as a share of the shop's measured capacity")
    parser.add_argument("--bcrypt-rate", type=float, default=200,
                        help="bcrypt flood requests offered per second")
    parser.add_argument("--documents-rate", type=float, default=1000,
                        help="document flood requests offered per second")
    parser.add_argument("--abusers", choices=["idle", "normal"], default="idle",
                        help="the scheduling class of the abuse generators: idle (the default) "
                        "stands for attackers on their own machines, whose CPU is not the "
                        "shop's; normal lets them take the shop's cores")
    args = parser.parse_args()
    kinds = args.abuse.split(",")
    offered = {"bcrypt": args.bcrypt_rate, "documents": args.documents_rate}

    storefront = os.path.join(args.out, "storefront.jsonl")
    with open(storefront, "w") as f:
        f.write("\n".join(storefront_bodies(args.url)) + "\n")
    for kind in kinds:
        with open(os.path.join(args.out, f"abuse-{kind}.jsonl"), "w") as f:
            f.write("\n".join(abuse_bodies(kind)) + "\n")

    started = time.time()
    rss = []
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            rss.append((round(time.time() - started, 1), rss_kib(args.pid)))
            stop.wait(5)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()

    # The shop's capacity: 8 connections back to back, cycling through 20,000 addresses (each
    # address's cost bucket refills faster than one shopper spends it, as with real shoppers
    # behind a proxy).
    print("soak: capacity, storefront back to back for 20 s", flush=True)
    capacity = wrk(args.url, storefront, connections=8, seconds=20, addresses=20000, strict=True)
    # Shoppers from then on: 32 connections at an open pace of --shop-share of that capacity.
    shop_rate = capacity["rps"] * args.shop_share
    shoppers = dict(connections=32, addresses=20000, strict=True, pace_ms=32 * 1000 / shop_rate)
    print(f"soak: capacity {capacity['rps']:.0f} req/s; shoppers offer {shop_rate:.0f} req/s",
          flush=True)
    print(f"soak: baseline, storefront alone for {args.baseline_seconds} s", flush=True)
    baseline = wrk(args.url, storefront, seconds=args.baseline_seconds, **shoppers)
    print(f"soak: baseline p99 {baseline['p99_ms']:.1f} ms at {baseline['rps']:.0f} req/s",
          flush=True)

    abuse_seconds = args.minutes * 60
    abuse_results = {}

    def attack(kind):
        abuse_results[kind] = wrk(
            args.url, os.path.join(args.out, f"abuse-{kind}.jsonl"), connections=16,
            seconds=abuse_seconds, addresses=0, strict=False, pace_ms=16 * 1000 / offered[kind],
            idle=args.abusers == "idle")

    attackers = [threading.Thread(target=attack, args=(kind,)) for kind in kinds]
    for attacker in attackers:
        attacker.start()
    time.sleep(2)
    slices = []
    while (any(a.is_alive() for a in attackers)
           and len(slices) * args.slice_seconds < abuse_seconds - 5):
        result = wrk(args.url, storefront, seconds=args.slice_seconds, **shoppers)
        result["minute"] = len(slices) + 1
        result["rss_mib"] = rss_kib(args.pid) / 1024
        slices.append(result)
        print(f"soak: slice {result['minute']}: p99 {result['p99_ms']:.1f} ms, "
              f"{result['rps']:.0f} req/s, bad {int(result['bad'])}, "
              f"5xx {int(result['server_errors'])}, RSS {result['rss_mib']:.1f} MiB", flush=True)
    for attacker in attackers:
        attacker.join()
    stop.set()
    sampler.join()

    with open(os.path.join(args.out, "rss.csv"), "w") as f:
        f.write("seconds,rss_kib\n")
        f.writelines(f"{s},{k}\n" for s, k in rss)
    with open(os.path.join(args.out, "slices.csv"), "w") as f:
        keys = ["minute", "rps", "p50_ms", "p99_ms", "bad", "server_errors", "errors",
                "requests", "rss_mib"]
        f.write(",".join(keys) + "\n")
        f.writelines(",".join(str(s[k]) for k in keys) + "\n" for s in slices)

    worst = max(s["p99_ms"] for s in slices)
    ratio = worst / baseline["p99_ms"]
    storefront_5xx = sum(s["server_errors"] for s in slices) + baseline["server_errors"]
    storefront_bad = sum(s["bad"] for s in slices)
    after_first = [k for s, k in rss if s >= args.baseline_seconds + 60]
    first_minute = after_first[:12] or [k for _, k in rss]
    last_minute = [k for _, k in rss][-12:]
    growth = (max(last_minute) - max(first_minute)) / 1024
    verdict = {
        "storefront p99 within 2x of unabused": ratio <= 2.0,
        "zero 5xx (storefront and abuse)":
            storefront_5xx == 0
            and all(abuse_results.get(k, {}).get("server_errors", 1) == 0 for k in kinds),
        "RSS flat (last minute within 16 MiB of the first minute under abuse)": growth <= 16,
    }
    rows = "\n".join(
        f"| {s['minute']} | {s['rps']:.0f} | {s['p50_ms']:.1f} | {s['p99_ms']:.1f} | "
        f"{int(s['bad'])} | {int(s['server_errors'])} | {s['rss_mib']:.1f} |" for s in slices)
    curve = " ".join(f"{k / 1024:.0f}" for _, k in rss[::12])
    abuse_rows = "\n".join(
        f"- {kind}: offered {offered[kind]:.0f}/s on 16 connections, "
        f"{abuse_results.get(kind, {}).get('requests', 0):.0f} requests "
        f"({abuse_results.get(kind, {}).get('rps', 0):.0f}/s answered), "
        f"5xx {int(abuse_results.get(kind, {}).get('server_errors', 0))}, "
        f"connection errors {int(abuse_results.get(kind, {}).get('errors', 0))}"
        for kind in kinds)
    report = f"""# Soak: storefront under abuse

Capacity (storefront alone, 8 connections back to back, 20 s): {capacity['rps']:.0f} req/s,
p99 {capacity['p99_ms']:.1f} ms. Shoppers from then on: 32 connections offering
{args.shop_share:.0%} of it ({shop_rate:.0f} req/s).

Baseline (shoppers alone, {args.baseline_seconds} s): {baseline['rps']:.0f} req/s, p50
{baseline['p50_ms']:.1f} ms, p99 {baseline['p99_ms']:.1f} ms, bad {int(baseline['bad'])}, 5xx
{int(baseline['server_errors'])}.

Abuse for {args.minutes} min, every request from a fresh address, the generators in the
{args.abusers} scheduling class:
{abuse_rows}

| minute | req/s | p50 ms | p99 ms | bad | 5xx | RSS MiB |
|---|---|---|---|---|---|---|
{rows}

Worst storefront p99 under abuse: {worst:.1f} ms, {ratio:.2f}x the unabused p99.
RSS every minute (MiB): {curve}; growth from the first to the last minute of abuse:
{growth:.1f} MiB.

""" + "\n".join(f"- {'PASS' if ok else 'FAIL'}: {what}" for what, ok in verdict.items()) + "\n"
    with open(os.path.join(args.out, "soak.md"), "w") as f:
        f.write(report)
    print(report)
    if storefront_bad:
        print(f"note: {int(storefront_bad)} storefront answers had errors (see bazaar.log)")


if __name__ == "__main__":
    main()
