#!/bin/bash
# Request latency while snapshots are taken back to back (BENCHMARKS.md, eighth session).
# usage: scripts/bench/snapshot-under-load.sh [BIN] [PORT]   (env FSYNC=always|no, default always)
# Seeds 10,000 merchants and 300,000 checkouts in a sandbox server, takes one snapshot, then runs create-from-cart at
# 16 clients for 8 s twice: once quiet, once while POST /admin/snapshot runs in a loop.
set -u
BIN=${1:-.build/release/hygge}; PORT=${2:-18600}; D=$(pwd)/.bench-data/snapload-$PORT
rm -rf $D; mkdir -p $D
HYGGE_DATA_DIR=$D/data HYGGE_PORT=$PORT HYGGE_FSYNC=${FSYNC:-always} HYGGE_SNAPSHOT_INTERVAL=1h HYGGE_SNAPSHOT_RECORDS=100000000 HYGGE_ADMIN_TOKEN=t LOG_LEVEL=warning $BIN serve --sandbox > $D/log 2>&1 &
PID=$!
for i in $(seq 50); do curl -sf http://127.0.0.1:$PORT/readyz >/dev/null && break; sleep 0.2; done
curl -s -X POST -H 'Authorization: Bearer t' -H 'Content-Type: application/json' http://127.0.0.1:$PORT/sandbox/load-merchants -d '{"count":9999}' > /dev/null
$BIN loadtest --url http://127.0.0.1:$PORT --mode create-from-cart --merchants 10000 --checkouts 300000 --concurrency 32 --json 2>/dev/null | python3 -c "import json,sys; d=json.load(sys.stdin); print('seeded', d['completed'])"
t0=$(date +%s.%N); curl -s -X POST -H 'Authorization: Bearer t' http://127.0.0.1:$PORT/admin/snapshot -d '{}' ; t1=$(date +%s.%N); echo; echo "one snapshot: $(echo "$t1 - $t0" | bc) s"
for mode in quiet snapshots; do
  SP=
  if [ $mode = snapshots ]; then ( end=$((SECONDS+9)); n=0; while [ $SECONDS -lt $end ]; do curl -s -o /dev/null -X POST -H 'Authorization: Bearer t' http://127.0.0.1:$PORT/admin/snapshot -d '{}'; n=$((n+1)); done; echo "snapshots taken: $n" ) & SP=$!; fi
  $BIN loadtest --url http://127.0.0.1:$PORT --mode create-from-cart --merchants 10000 --concurrency 16 --duration 8s --json 2>/dev/null | python3 -c "import json,sys; d=json.load(sys.stdin); r=d['steps']['request']; print('$mode', round(d['throughput_per_s']), 'p50', r['p50_ms'], 'p99', r['p99_ms'], 'p99.9', r['p99_9_ms'], 'max', r['max_ms'])"
  [ -n "$SP" ] && wait $SP
done
kill -TERM $PID; wait $PID; rm -rf $D
