#!/usr/bin/env bash
# Runs the whole test suite (real runc) and ends with a plain summary line.
# Usage: scripts/test.sh [deno test args...]
set -uo pipefail
cd "$(dirname "$0")/.."
log=$(mktemp)
deno task test "$@" 2>&1 | tee "$log"
code=${PIPESTATUS[0]}
summary=$(sed 's/\x1b\[[0-9;]*m//g' "$log" | grep -E '^(ok|FAILED) \| [0-9]+ passed' | tail -1)
passed=$(sed -E 's/.*\| ([0-9]+) passed.*/\1/' <<<"$summary")
failed=$(sed -E 's/.*\| ([0-9]+) failed.*/\1/' <<<"$summary")
rm -f "$log"
if [ -z "$summary" ]; then
  echo "tests: no summary from deno test (exit $code)"
  [ "$code" = 0 ] && code=1
else
  echo "tests: ${passed:-0} passed, ${failed:-0} failed"
fi
exit "$code"
