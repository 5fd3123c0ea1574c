#!/usr/bin/env bash
# Runs the process-level suite N times back to back, then checks the host
# for what the runs left: no mount under any test root, no per-container
# iptables rule or chain whose token no attachment record names, no bth-*
# bridge or veth (scripts/host_check.ts; what was there before is left out).
#
# Usage: scripts/stress.sh [-n N] [--check-only] [deno test args or e2e files...]
#   -n N           runs (default 5; BERTH_STRESS_RUNS)
#   --check-only   only the host check, against nothing (everything berth-like counts)
#   files/args     what `deno test -A --parallel` runs (default tests/e2e/)
# BERTH_STRESS_SETTLE (default 20): seconds the check waits before its second look.
# Exit status: 1 when a run failed or the host check found something.
set -uo pipefail
cd "$(dirname "$0")/.."

runs=${BERTH_STRESS_RUNS:-5}
check_only=0
while [ $# -gt 0 ]; do
  case $1 in
    -n) runs=$2; shift 2 ;;
    --check-only) check_only=1; shift ;;
    *) break ;;
  esac
done
[ $# -gt 0 ] || set -- tests/e2e/
if ! [[ $runs =~ ^[0-9]+$ ]]; then echo "stress: -n needs a number, not '$runs'" >&2; exit 2; fi

if [ "$check_only" = 1 ]; then
  exec deno run -A --quiet scripts/host_check.ts --settle "${BERTH_STRESS_SETTLE:-20}"
fi

baseline=$(mktemp)
trap 'rm -f "$baseline"' EXIT
deno run -A --quiet scripts/host_check.ts --save "$baseline" || exit 1

failed=0
for i in $(seq 1 "$runs"); do
  start=$(date +%s)
  log=$(mktemp)
  deno test -A --parallel "$@" >"$log" 2>&1
  code=$?
  summary=$(sed 's/\x1b\[[0-9;]*m//g' "$log" | grep -E '^(ok|FAILED) \| [0-9]+ passed' | tail -1)
  echo "stress: run $i/$runs: exit $code, ${summary:-no summary} ($(( $(date +%s) - start )) s)"
  if [ "$code" != 0 ]; then
    failed=$((failed + 1))
    # The failures, for the record.
    sed 's/\x1b\[[0-9;]*m//g' "$log" | sed -n '/^ ERRORS/,/^ FAILURES/p' | head -60
  fi
  rm -f "$log"
done

# What a test still running elsewhere on the host holds goes within the settle time.
deno run -A --quiet scripts/host_check.ts --against "$baseline" --settle "${BERTH_STRESS_SETTLE:-20}"
check=$?
echo "stress: $runs run(s), $failed failed; host check $([ "$check" = 0 ] && echo clean || echo found leftovers)"
[ "$failed" = 0 ] && [ "$check" = 0 ]
