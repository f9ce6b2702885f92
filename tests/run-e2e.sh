#!/usr/bin/env bash
# Runs every end-to-end shell test in tests/e2e/ (or in DIR) with DOORMAT set
# to the binary; fails if any fails, and fails when no test ran at all.
#   tests/run-e2e.sh [DIR]
# E2E_JOBS=N runs up to N tests at once (default: as many as the machine has
# cores; E2E_JOBS=1 runs them one after the other, printing as they go); the
# output of each test is then printed whole, with its time, when it ends.
set -u
cd "$(dirname "$0")/.." || exit 1
: "${DOORMAT:?set DOORMAT to the doormat binary}"
export DOORMAT
dir=${1:-tests/e2e}
jobs=${E2E_JOBS:-$(nproc 2>/dev/null || echo 1)}
case "$jobs" in '' | *[!0-9]* | 0) echo "e2e: E2E_JOBS must be a whole number from 1" >&2; exit 2 ;; esac
tests=()
for t in "$dir"/*.sh; do
  [ -f "$t" ] || continue
  case "$t" in */lib.sh) continue ;; esac  # helpers sourced by the tests, not a test
  tests+=("$t")
done
pass=0; fail=0
if [ "$jobs" -eq 1 ]; then
  for t in "${tests[@]}"; do
    echo "== $t"
    if bash "$t"; then pass=$((pass+1)); else echo "FAILED: $t" >&2; fail=$((fail+1)); fi
  done
else
  out=$(mktemp -d "${TMPDIR:-/tmp}/doormat-e2e.XXXXXX")
  trap 'rm -rf "$out"' EXIT
  i=0
  for t in "${tests[@]}"; do
    while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
    i=$((i + 1))
    ( start=$(date +%s)
      bash "$t" >"$out/$i.log" 2>&1; rc=$?
      { echo "== $t ($(( $(date +%s) - start )) s)"; cat "$out/$i.log"; } | flock "$out" cat
      echo "$rc" >"$out/$i.rc" ) &
  done
  wait
  i=0
  for t in "${tests[@]}"; do
    i=$((i + 1))
    if [ "$(cat "$out/$i.rc" 2>/dev/null)" = 0 ]; then pass=$((pass+1)); else echo "FAILED: $t" >&2; fail=$((fail+1)); fi
  done
fi
echo "e2e: $pass passed, $fail failed"
if [ $((pass + fail)) -eq 0 ]; then echo "e2e: no test ran (nothing in $dir)" >&2; exit 1; fi
[ "$fail" -eq 0 ]
