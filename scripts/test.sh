#!/usr/bin/env bash
# Runs the whole test suite (real runc) and ends with a plain summary line.
#
# Two passes: every test against `deno run -A main.ts` (the checkout), then
# the tests that run berth as a process again against dist/berth.js, the
# bundle `deno task build` makes and `deno task compile` embeds, so the
# shipped code is held to the same contract.
# Usage: scripts/test.sh [deno test args...]
set -uo pipefail
cd "$(dirname "$0")/.."

total_passed=0
total_failed=0
status=0

# run_pass LABEL [env...] -- [deno test args...]: one `deno task test` run.
run_pass() {
  local label=$1 log code summary passed failed
  shift
  log=$(mktemp)
  env "$@" 2>&1 | tee "$log"
  code=${PIPESTATUS[0]}
  summary=$(sed 's/\x1b\[[0-9;]*m//g' "$log" | grep -E '^(ok|FAILED) \| [0-9]+ passed' | tail -1)
  rm -f "$log"
  if [ -z "$summary" ]; then
    echo "tests ($label): no summary from deno test (exit $code)"
    status=1
    return
  fi
  passed=$(sed -E 's/.*\| ([0-9]+) passed.*/\1/' <<<"$summary")
  failed=$(sed -E 's/.*\| ([0-9]+) failed.*/\1/' <<<"$summary")
  echo "tests ($label): ${passed:-0} passed, ${failed:-0} failed"
  total_passed=$((total_passed + ${passed:-0}))
  total_failed=$((total_failed + ${failed:-0}))
  [ "$code" = 0 ] || status=$code
}

run_pass "checkout: deno run -A main.ts" deno task test "$@"

if deno task build >/dev/null 2>&1; then
  # The process-level suites (tests/e2e/) run berth as a process.
  run_pass "bundle: deno run -A dist/berth.js" BERTH_TEST_BINARY="$PWD/dist/berth.js" \
    deno test -A --parallel tests/e2e/ "$@"
else
  echo "tests (bundle): deno task build failed"
  status=1
fi

echo "tests: ${total_passed} passed, ${total_failed} failed"
exit "$status"
