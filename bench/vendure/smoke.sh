#!/usr/bin/env bash
# Sends each sample request of requests/ once to a running Vendure (start.sh) and checks that it
# returns data: product page, category page (with and without facet counts), text search, and
# the cart flow (two addItemToOrder, then activeOrder) on the session token Vendure returns in
# the vendure-auth-token response header. Prints each request's time (curl time_total).
set -euo pipefail
cd "$(dirname "$0")/requests"
url="http://127.0.0.1:${VENDURE_PORT:-18482}/shop-api"
out=$(mktemp -d /tmp/vendure-smoke.XXXXXX)
trap 'rm -rf "$out"' EXIT

check() { # name, file with the response, python expression on the parsed body `d` that must hold
  python3 - "$1" "$2" "$3" <<'EOF'
import json, sys
name, path, expr = sys.argv[1:]
d = json.load(open(path))
if 'errors' in d or not eval(expr):
    sys.exit(f'{name}: unexpected answer: {json.dumps(d)[:500]}')
EOF
}
send() { # name, body file, expression, extra curl arguments...
  local name=$1 body=$2 expr=$3; shift 3
  local t
  t=$(curl -s -o "$out/$name.json" -D "$out/$name.headers" -w '%{time_total}' "$url" \
        -H 'content-type: application/json' "$@" --data-binary @"$body")
  check "$name" "$out/$name.json" "$expr"
  printf '%-16s %6.1f ms\n' "$name" "$(python3 -c "print($t * 1000)")"
}

send product product.json "d['data']['product']['variants'] and d['data']['product']['collections']"
send category category.json "len(d['data']['search']['items']) == 20"
send category-facets category-facets.json "len(d['data']['search']['items']) == 20 and d['data']['search']['facetValues']"
send search search.json "d['data']['search']['items']"
send add-item-1 add-item-1.json "d['data']['addItemToOrder']['__typename'] == 'Order'"
token=$(awk 'tolower($1) == "vendure-auth-token:" { print $2 }' "$out/add-item-1.headers" | tr -d '\r')
[[ -n $token ]] || { echo "no vendure-auth-token header in the addItemToOrder response" >&2; exit 1; }
send add-item-2 add-item-2.json "d['data']['addItemToOrder']['__typename'] == 'Order'" \
  -H "authorization: Bearer $token"
send active-order active-order.json "len(d['data']['activeOrder']['lines']) == 2" \
  -H "authorization: Bearer $token"
python3 -c "import json,sys; o=json.load(open(sys.argv[1]))['data']['activeOrder']; print('activeOrder:', o['totalQuantity'], 'items, subTotal', o['subTotal'], 'totalWithTax', o['totalWithTax'])" "$out/active-order.json"
