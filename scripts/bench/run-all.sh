#!/usr/bin/env bash
# Reproduces every number of BENCHMARKS.md in one run and writes artifacts/bench/results.md (the table, with the
# ratios against issue 7's goals). Run it on an idle machine: a concurrent build slows fsync-bound work ~20×.
#
# Usage: scripts/bench/run-all.sh
# env: CLIENTS (50), SECONDS_EACH (20), MERCHANTS (10000), CHECKOUTS (100000), SKIP_BUILD=1, OUT (artifacts/bench)
set -euo pipefail
cd "$(dirname "$0")/../.."
export OUT=${OUT:-artifacts/bench}
export HYGGE_BIN=${HYGGE_BIN:-.build/release/hygge}
mkdir -p "$OUT"
rm -f "$OUT"/peers.jsonl "$OUT"/ratios.jsonl "$OUT"/flow.jsonl "$OUT"/memory.jsonl
command -v wrk >/dev/null || { SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"; $SUDO apt-get update -qq; DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq wrk >/dev/null; }
[ "${SKIP_BUILD:-0}" = 1 ] || swift build -c release
{
  echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(uname -sr)"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
  echo "disk: $(df -hT . | awk 'NR==2 {print $2, $1}')"
  echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "date: $(date -u +%FT%TZ)  commit: $(git rev-parse --short HEAD)"
} | tee "$OUT/machine.txt"
echo "== peers (Redis, PostgreSQL, Hygge durable acks)"; scripts/bench/peers.sh
echo "== endpoint ratios"; scripts/bench/hygge-bench.py ratios
echo "== full flow"; scripts/bench/hygge-bench.py flow
echo "== memory"; scripts/bench/hygge-bench.py memory
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/machine.txt"
scripts/bench/summarize.py "$OUT" | tee "$OUT/results.md"
