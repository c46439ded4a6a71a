#!/usr/bin/env bash
# Fuzzes every parser of untrusted bytes with libFuzzer (issue 9): the targets of Sources/FuzzTargets, built into
# the `hygge-fuzz` product with `-sanitize=fuzzer` in a separate scratch path (.build-fuzz). Each target starts from
# its seeds (made by the production encoders) plus the regression inputs in Fuzz/corpus/<target>/, runs for a bounded
# time, and prints its executions. A crash or property violation fails the run and leaves the input in
# .build-fuzz/findings/<target>/ (copy it into Fuzz/corpus/<target>/ with the fix, so `swift test` replays it).
#
# Usage: scripts/fuzz.sh [--long] [--seconds N] [target …]
#   default: 12 s per target (CI smoke); --long: 300 s per target.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=12
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --long) seconds=300 ;;
    --seconds) seconds="$2"; shift ;;
    -*) echo "unknown option $1" >&2; exit 2 ;;
    *) targets+=("$1") ;;
  esac
  shift
done

echo "== building hygge-fuzz (-sanitize=fuzzer, .build-fuzz)"
mkdir -p .build-fuzz
if ! HYGGE_FUZZ=1 swift build --build-path .build-fuzz --sanitize=fuzzer --product hygge-fuzz >.build-fuzz/build.log 2>&1; then
  grep -E "error" .build-fuzz/build.log | head -20
  echo "fuzz: build failed (.build-fuzz/build.log)" >&2
  exit 1
fi
bin=.build-fuzz/debug/hygge-fuzz

export SWIFT_BACKTRACE=enable=no   # let libFuzzer's own crash handler save the input
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(HYGGE_FUZZ_LIST=1 "$bin" 2>/dev/null | cut -f1)
  [ ${#targets[@]} -gt 0 ] || { echo "fuzz: hygge-fuzz lists no targets" >&2; exit 1; }
fi

work=$(mktemp -d /tmp/hygge-fuzz.XXXXXX)
trap 'rm -rf "$work"' EXIT
export TMPDIR=/dev/shm   # the storage targets write scratch files per input
[ -d "$TMPDIR" ] && [ -w "$TMPDIR" ] || export TMPDIR=/tmp
findings=.build-fuzz/findings
failed=()
total=0
printf '%-18s %12s %10s %8s  %s\n' target executions exec/s corpus result
for target in "${targets[@]}"; do
  seeds="$work/$target-seeds"; corpus="$work/$target-corpus"
  mkdir -p "$seeds" "$corpus" "$findings/$target"
  HYGGE_FUZZ_TARGET="$target" HYGGE_FUZZ_WRITE_SEEDS="$seeds" "$bin" >/dev/null 2>&1
  regressions=()
  [ -d "Fuzz/corpus/$target" ] && regressions=("Fuzz/corpus/$target")
  log="$work/$target.log"
  set +e
  HYGGE_FUZZ_TARGET="$target" "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=8192 \
    -print_final_stats=1 -artifact_prefix="$findings/$target/" \
    "$corpus" "$seeds" "${regressions[@]}" >"$log" 2>&1
  rc=$?
  set -e
  runs=$(grep -h "stat::number_of_executed_units" "$log" | awk '{s+=$2} END {print s+0}')
  [ "$runs" -eq 0 ] && runs=$(grep -oE "^Done [0-9]+ runs" "$log" | awk '{print $2}' | tail -1)
  runs=${runs:-0}
  rate=$(( runs / (seconds > 0 ? seconds : 1) ))
  size=$(ls "$corpus" | wc -l)
  if [ "$rc" -eq 0 ]; then result=ok; else result="FAIL (exit $rc)"; failed+=("$target"); fi
  printf '%-18s %12s %10s %8s  %s\n' "$target" "$runs" "$rate" "$size" "$result"
  total=$(( total + runs ))
  if [ "$rc" -ne 0 ]; then
    grep -E "Fatal error|property violated|SUMMARY|Test unit written|ERROR:" "$log" | head -8 | sed 's/^/    /'
  fi
done
echo "fuzz: ${#targets[@]} targets, $total executions, ${seconds}s each"
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: findings in ${failed[*]} (inputs under $findings/)"
  exit 1
fi
echo "fuzz: ok"
