#!/usr/bin/env bash
# Runs the README's curl walkthrough, exactly as printed, against a fresh sandbox server.
# Usage: scripts/walkthrough.sh [path/to/hygge]   (default .build/debug/hygge)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-.build/debug/hygge}
PORT=$(scripts/free-port)
DATA=$(mktemp -d)
LOG="$DATA/server.log"
"$BIN" serve --sandbox --port "$PORT" --data-dir "$DATA/data" >"$LOG" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null || true; wait $PID 2>/dev/null || true; rm -rf "$DATA"' EXIT
for _ in $(seq 1 100); do
  curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && break
  sleep 0.1
done
# The block between the walkthrough markers, with only the server address changed to this run's port.
BLOCK=$(sed -n '/<!-- walkthrough:start -->/,/<!-- walkthrough:end -->/p' README.md | sed '/^<!--/d;/^```/d' \
  | sed "s#^H=http://127.0.0.1:8080#H=http://127.0.0.1:$PORT#")
OUT=$(bash -euo pipefail -c "$BLOCK" 2>&1)
echo "$OUT"
echo "$OUT" | grep -q '"status":"order_synced"' || { echo "walkthrough: checkout did not reach order_synced"; cat "$LOG"; exit 1; }
echo "$OUT" | grep -Eq '^#1001 258\.00 hygge-checkout chk_[0-9a-f]{24}$' || { echo "walkthrough: order line missing"; exit 1; }
echo "$OUT" | grep -q 'mismatch: True' || { echo "walkthrough: tampered client total not flagged"; exit 1; }
echo "walkthrough: ok"
