#!/usr/bin/env bash
# `hygge keys rotate-master` round trips. Offline: a sandbox server seeds its demo merchant under master key OLD and
# stops; the data keys are re-wrapped under NEW; a start with OLD is refused, a start with NEW opens every sealed
# secret (a checkout needs the Shopify token). Online: that server rotates to NEW2 through the admin API
# (`--url`) while buyers create checkouts, none of which fails; a retry is a no-op; after a restart NEW is refused
# and NEW2 works. Then a sandbox server without HYGGE_MASTER_KEY rotates online and starts again from its key
# file. No secret or key is in the journal dump.
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
NEW2=$(head -c 32 /dev/urandom | base64)
NEW3=$(head -c 32 /dev/urandom | base64)
TOKEN=admin_$(head -c 12 /dev/urandom | base64 | tr -dc 'a-zA-Z0-9')
port() { scripts/free-port; }
start() { # key → starts a sandbox server, waits until ready
  PORT=$(port)
  if [ -n "$1" ]; then export HYGGE_MASTER_KEY=$1; else unset HYGGE_MASTER_KEY; fi
  HYGGE_ADMIN_TOKEN=$TOKEN "$BIN" serve --sandbox --port "$PORT" --data-dir "$DATA" >"$WORK/server.log" 2>&1 &
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
checkout() {
  curl -s -o /dev/null -w '%{http_code}\n' -X POST "http://127.0.0.1:$PORT/api/checkout/create-from-cart" \
    -H 'Content-Type: application/json' \
    -d "{\"shop\":\"hygge-demo.myshopify.com\",\"currency\":\"USD\",\"items\":[{\"variant_id\":$VARIANT,\"quantity\":1}]}"
}

# Online, while buyers keep creating checkouts.
( for _ in $(seq 1 60); do checkout; done > "$WORK/during.txt" ) &
BUYERS=$!
"$BIN" keys rotate-master --url "http://127.0.0.1:$PORT" --admin-token "$TOKEN" --new-key "$NEW2" >"$WORK/online.txt" \
  || fail "online rotation failed: $(cat "$WORK/online.txt")"
wait $BUYERS
grep -q '"rewrapped":1' "$WORK/online.txt" || fail "online rotation did not re-wrap the demo merchant: $(cat "$WORK/online.txt")"
[ "$(grep -c '^201$' "$WORK/during.txt")" = 60 ] || fail "checkouts failed during the online rotation: $(sort "$WORK/during.txt" | uniq -c)"
HYGGE_NEW_MASTER_KEY=$NEW2 HYGGE_ADMIN_TOKEN=$TOKEN "$BIN" keys rotate-master --url "http://127.0.0.1:$PORT" >"$WORK/again.txt" \
  || fail "repeated online rotation failed"
grep -q '"already_current":true' "$WORK/again.txt" || fail "repeated online rotation was not a no-op: $(cat "$WORK/again.txt")"
[ "$(checkout)" = 201 ] || fail "checkout after the online rotation failed"
stop
if HYGGE_MASTER_KEY=$NEW timeout 20 "$BIN" serve --sandbox --port "$(port)" --data-dir "$DATA" >"$WORK/new.log" 2>&1; then
  fail "the rotated-away key still starts the server"
fi
grep -q "does not open the data keys" "$WORK/new.log" || fail "no message for the rotated-away key: $(tail -3 "$WORK/new.log")"
start "$NEW2" || fail "start with the online-rotated key failed"
[ "$(checkout)" = 201 ] || fail "checkout after restarting with the online-rotated key failed"
stop
"$BIN" journal dump --data-dir "$DATA" > "$WORK/dump.jsonl"
for secret in shpat_sandbox_demo apik_sandbox_demo ws_sandbox_demo "$OLD" "$NEW" "$NEW2"; do
  grep -q -- "$secret" "$WORK/dump.jsonl" && fail "the journal dump shows a secret"
done
grep -q -- "$NEW2" "$WORK/server.log" "$WORK/online.txt" && fail "the new master key was logged or echoed"

# Sandbox without HYGGE_MASTER_KEY: the generated key file follows an online rotation.
DATA="$WORK/data-sandbox"
start "" || fail "sandbox start without a master key failed"
"$BIN" keys rotate-master --url "http://127.0.0.1:$PORT" --admin-token "$TOKEN" --new-key "$NEW3" >/dev/null \
  || fail "online rotation of the sandbox key failed"
stop
[ "$(cat "$DATA/sandbox-master.key")" = "$NEW3" ] || fail "the sandbox key file was not replaced"
start "" || fail "sandbox restart from the rotated key file failed"
[ "$(checkout)" = 201 ] || fail "checkout after the sandbox key rotation failed"
stop
echo "rotate-master-check: ok"
