#!/usr/bin/env bash
# Durable small writes at the same concurrency, same disk, same run (issue 7 §2):
#   Redis    appendonly yes, appendfsync always   — redis-benchmark SET, -c CLIENTS
#   Postgres synchronous_commit=on, fsync=on      — pgbench, a one-row INSERT script, -c CLIENTS
#   Hygge    HYGGE_FSYNC=always                   — hygge loadtest --mode webhook (signed deliveries, each acked
#                                                    only once its journal record is fdatasync'ed), CLIENTS senders
# Servers come from Debian packages (installed when missing), run on loopback with their data under BENCH_DIR, and
# are stopped at the end. Prints one JSON object per system on stdout (and into OUT/peers.jsonl).
#
# Usage: scripts/bench/peers.sh            env: HYGGE_BIN (.build/release/hygge), CLIENTS (50), SECONDS_EACH (20),
#                                               BENCH_DIR (./.bench-data, same disk as the repo), OUT (artifacts/bench)
set -euo pipefail
cd "$(dirname "$0")/../.."
HYGGE_BIN=${HYGGE_BIN:-.build/release/hygge}
CLIENTS=${CLIENTS:-50}
SECONDS_EACH=${SECONDS_EACH:-20}
BENCH_DIR=${BENCH_DIR:-$PWD/.bench-data}
OUT=${OUT:-artifacts/bench}
mkdir -p "$OUT"
: > "$OUT/peers.jsonl"

need=()
command -v redis-server >/dev/null || need+=(redis-server)
command -v redis-benchmark >/dev/null || need+=(redis-tools)
[ -x /usr/lib/postgresql/*/bin/initdb ] 2>/dev/null || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
command -v pgbench >/dev/null || need+=(postgresql-contrib)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
[ -x "$HYGGE_BIN" ] || { echo "build first: swift build -c release" >&2; exit 1; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
rm -rf "$BENCH_DIR"; mkdir -p "$BENCH_DIR"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]:-}"; do [ -n "$pid" ] && kill "$pid" 2>/dev/null || true; done
  if [ -n "${PGDATA_DIR:-}" ] && [ -f "$PGDATA_DIR/postmaster.pid" ]; then
    runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PGDATA_DIR" -m fast stop >/dev/null 2>&1 || true
  fi
  for pid in "${PIDS[@]:-}"; do [ -n "$pid" ] && wait "$pid" 2>/dev/null || true; done
  rm -rf "$BENCH_DIR"
}
trap cleanup EXIT
emit() { echo "$1" | tee -a "$OUT/peers.jsonl"; }
FS=$(df -T "$BENCH_DIR" | awk 'NR==2 {print $2" "$1}')

# --- Redis: appendonly yes, appendfsync always -------------------------------------------------------------------
RPORT=$(free_port)
mkdir -p "$BENCH_DIR/redis"
redis-server --port "$RPORT" --bind 127.0.0.1 --dir "$BENCH_DIR/redis" --appendonly yes --appendfsync always \
  --save "" --protected-mode no --daemonize no --logfile "$BENCH_DIR/redis/redis.log" &
PIDS+=($!)
for _ in $(seq 100); do redis-cli -p "$RPORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
# Warm-up, then a fixed-time run: -n large, stopped by timeout is not supported, so size -n from a short probe.
redis-benchmark -p "$RPORT" -t set -c "$CLIENTS" -n 20000 -r 1000000 -d 64 -q >/dev/null
PROBE=$(redis-benchmark -p "$RPORT" -t set -c "$CLIENTS" -n 20000 -r 1000000 -d 64 --csv | awk -F'","' '/SET/ {gsub(/"/,"",$2); print int($2)}')
N=$(( PROBE * SECONDS_EACH )); [ "$N" -lt 20000 ] && N=20000
REDIS_CSV=$(redis-benchmark -p "$RPORT" -t set -c "$CLIENTS" -n "$N" -r 1000000 -d 64 --csv)
REDIS_RPS=$(echo "$REDIS_CSV" | awk -F'","' '/SET/ {gsub(/"/,"",$2); print $2}')
REDIS_P50=$(echo "$REDIS_CSV" | awk -F'","' '/SET/ {gsub(/"/,"",$5); print $5}')
REDIS_P99=$(echo "$REDIS_CSV" | awk -F'","' '/SET/ {gsub(/"/,"",$7); print $7}')
AOF_SYNC=$(redis-cli -p "$RPORT" config get appendfsync | tail -1)
emit "{\"system\":\"redis\",\"what\":\"SET 64 B, appendonly yes, appendfsync $AOF_SYNC\",\"clients\":$CLIENTS,\"requests\":$N,\"ops_per_s\":$REDIS_RPS,\"p50_ms\":$REDIS_P50,\"p99_ms\":$REDIS_P99,\"version\":\"$(redis-server --version | awk '{print $3}' | cut -d= -f2)\",\"fs\":\"$FS\",\"command\":\"redis-benchmark -t set -c $CLIENTS -n $N -r 1000000 -d 64\"}"
kill "${PIDS[-1]}"; wait "${PIDS[-1]}" 2>/dev/null || true; unset 'PIDS[-1]'

# --- PostgreSQL: synchronous_commit=on, one-row INSERT -----------------------------------------------------------
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
PGDATA_DIR="$BENCH_DIR/pg"
PPORT=$(free_port)
mkdir -p "$PGDATA_DIR" "$BENCH_DIR/pgsock"
chown postgres "$PGDATA_DIR" "$BENCH_DIR/pgsock"
chmod o+x "$BENCH_DIR"
runuser -u postgres -- "$PGBIN/initdb" -D "$PGDATA_DIR" -A trust -U postgres >/dev/null
runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PGDATA_DIR" -l "$PGDATA_DIR/server.log" -w \
  -o "-p $PPORT -k $BENCH_DIR/pgsock -c listen_addresses=127.0.0.1 -c synchronous_commit=on -c fsync=on -c max_connections=200 -c shared_buffers=256MB" start >/dev/null
PSQL=(runuser -u postgres -- psql -h 127.0.0.1 -p "$PPORT" -U postgres -q -X)
"${PSQL[@]}" -c "CREATE TABLE acks (id bigserial PRIMARY KEY, delivery text NOT NULL, body text NOT NULL)" postgres
cat > "$BENCH_DIR/insert.sql" <<'SQL'
INSERT INTO acks (delivery, body) VALUES (md5(random()::text), '{"type":"payment.succeeded","data":{"id":"pay_x"}}');
SQL
chmod o+r "$BENCH_DIR/insert.sql"
runuser -u postgres -- pgbench -h 127.0.0.1 -p "$PPORT" -U postgres -n -f "$BENCH_DIR/insert.sql" -c "$CLIENTS" -j 2 -T 3 postgres >/dev/null 2>&1
PGB=$(runuser -u postgres -- pgbench -h 127.0.0.1 -p "$PPORT" -U postgres -n -f "$BENCH_DIR/insert.sql" -c "$CLIENTS" -j 2 -T "$SECONDS_EACH" postgres 2>&1)
PG_TPS=$(echo "$PGB" | awk '/^tps/ {print $3; exit}')
PG_LAT=$(echo "$PGB" | awk '/latency average/ {print $4}')
SC=$("${PSQL[@]}" -At -c "SHOW synchronous_commit" postgres)
emit "{\"system\":\"postgresql\",\"what\":\"one-row INSERT, synchronous_commit=$SC, fsync=on\",\"clients\":$CLIENTS,\"seconds\":$SECONDS_EACH,\"ops_per_s\":$PG_TPS,\"latency_avg_ms\":$PG_LAT,\"version\":\"$("$PGBIN/postgres" --version | awk '{print $3}')\",\"fs\":\"$FS\",\"command\":\"pgbench -n -f insert.sql -c $CLIENTS -j 2 -T $SECONDS_EACH\"}"
runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PGDATA_DIR" -m fast stop >/dev/null
PGDATA_DIR=""

# --- Hygge: durable webhook acks, HYGGE_FSYNC=always -------------------------------------------------------------
HPORT=$(free_port)
mkdir -p "$BENCH_DIR/hygge"
HYGGE_FSYNC=always HYGGE_ADMIN_TOKEN=bench LOG_LEVEL=${HYGGE_BENCH_LOG_LEVEL:-info} \
  "$HYGGE_BIN" serve --sandbox --port "$HPORT" --data-dir "$BENCH_DIR/hygge/data" >"$BENCH_DIR/hygge/server.log" 2>&1 &
PIDS+=($!)
"$HYGGE_BIN" loadtest --url "http://127.0.0.1:$HPORT" --mode webhook --merchants 10 --concurrency "$CLIENTS" \
  --warmup 3s --duration "${SECONDS_EACH}s" --json > "$BENCH_DIR/hygge/webhook.json" 2>"$BENCH_DIR/hygge/webhook.txt" || true
FSYNCS=$(curl -s "http://127.0.0.1:$HPORT/metrics" | awk '/^hygge_journal_fsync_seconds_count/ {print $2}')
BATCH=$(curl -s "http://127.0.0.1:$HPORT/metrics" | awk '/^hygge_journal_batch_records_sum/ {s=$2} /^hygge_journal_batch_records_count/ {c=$2} END {if (c>0) printf "%.1f", s/c; else print 0}')
python3 - "$BENCH_DIR/hygge/webhook.json" "$CLIENTS" "$SECONDS_EACH" "$FS" "$FSYNCS" "$BATCH" <<'PY' | tee -a "$OUT/peers.jsonl"
import json, sys
r = json.load(open(sys.argv[1]))
s = r["steps"].get("request", {})
print(json.dumps({"system": "hygge", "what": "signed webhook, acked after fdatasync (HYGGE_FSYNC=always)",
                  "clients": int(sys.argv[2]), "seconds": int(sys.argv[3]), "ops_per_s": round(r["throughput_per_s"], 1),
                  "p50_ms": s.get("p50_ms"), "p99_ms": s.get("p99_ms"), "errors": sum(r["errors"].values()),
                  "fsyncs_total": float(sys.argv[5] or 0), "records_per_write_avg": float(sys.argv[6] or 0),
                  "fs": sys.argv[4],
                  "command": f"hygge loadtest --mode webhook --merchants 10 --concurrency {sys.argv[2]} --warmup 3s --duration {sys.argv[3]}s"}))
PY
