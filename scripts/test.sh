#!/usr/bin/env bash
# The project's test command (README, CI): warnings-as-errors build, swift test, process-level scripts.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== build (warnings as errors)"
swift build --build-tests -Xswiftc -warnings-as-errors
echo "== swift test"
swift test --skip-build
echo "== README walkthrough"
scripts/walkthrough.sh .build/debug/hygge
for script in scripts/ci.d/*; do
  [ -x "$script" ] || continue
  echo "== $script"
  "$script"
done
echo "== all tests passed"
