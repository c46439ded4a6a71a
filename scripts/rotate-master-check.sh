#!/usr/bin/env bash
# `hygge keys rotate-master` round trip: a sandbox server seeds its demo merchant under master key OLD and stops;
# the data keys are re-wrapped under NEW (offline); a start with OLD is refused, a start with NEW opens every sealed
# secret (a checkout needs the Shopify token), and no secret is in the journal dump.
# Usage: scripts/rotate-master-check.sh [path/to/hygge]
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-.build/debug/hygge}
WORK=$(mktemp -d)
DATA="$WORK/data"
PID=
trap '[ -n "$PID" ] && kill $PID 2>/dev/null; [ -n "$PID" ] && wait $PID 2>/dev/null; rm -rf "$WORK"' EXIT
fail() { echo "rotate-master-check: $*"; [ -f "$WORK/server.log" ] && tail -20 "$WORK/server.log"; exit 1; }
OLD=$(head -c 32 /dev/urandom | base64)
NEW=$(head -c 32 /dev/urandom | base64)
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
start() { # key → starts a sandbox server, waits until ready
  PORT=$(port)
  HYGGE_MASTER_KEY=$1 "$BIN" serve --sandbox --port "$PORT" --data-dir "$DATA" >"$WORK/server.log" 2>&1 &
  PID=$!
  for _ in $(seq 1 150); do
    curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && return 0
    kill -0 $PID 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}
stop() { kill -TERM $PID; wait $PID || true; PID=; }

start "$OLD" || fail "first start failed"
stop
"$BIN" keys rotate-master --data-dir "$DATA" --master-key "$OLD" --new-key "$NEW" || fail "rotation failed"
if HYGGE_MASTER_KEY=$OLD timeout 20 "$BIN" serve --sandbox --port "$(port)" --data-dir "$DATA" >"$WORK/old.log" 2>&1; then
  fail "the old master key still starts the server"
fi
grep -q "does not open the data keys" "$WORK/old.log" || fail "no message for the old master key: $(tail -3 "$WORK/old.log")"
start "$NEW" || fail "start with the new key failed"
VARIANT=$(curl -s "http://127.0.0.1:$PORT/sandbox/shopify/hygge-demo.myshopify.com/admin/api/2026-10/products.json" \
  -H 'X-Shopify-Access-Token: shpat_sandbox_demo' | python3 -c 'import json,sys; print(json.load(sys.stdin)["products"][0]["variants"][0]["id"])')
STATUS=$(curl -s -o "$WORK/created.json" -w '%{http_code}' -X POST "http://127.0.0.1:$PORT/api/checkout/create-from-cart" \
  -H 'Content-Type: application/json' \
  -d "{\"shop\":\"hygge-demo.myshopify.com\",\"currency\":\"USD\",\"items\":[{\"variant_id\":$VARIANT,\"quantity\":1}]}")
[ "$STATUS" = 201 ] || fail "checkout after rotation answered $STATUS: $(cat "$WORK/created.json")"
stop
"$BIN" journal dump --data-dir "$DATA" > "$WORK/dump.jsonl"
for secret in shpat_sandbox_demo apik_sandbox_demo ws_sandbox_demo "$OLD" "$NEW"; do
  grep -q -- "$secret" "$WORK/dump.jsonl" && fail "the journal dump shows a secret"
done
echo "rotate-master-check: ok"
