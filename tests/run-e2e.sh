#!/usr/bin/env bash
# Runs every end-to-end shell test in tests/e2e/ (or in DIR) with DOORMAT set
# to the binary; fails if any fails, and fails when no test ran at all.
#   tests/run-e2e.sh [DIR]
set -u
cd "$(dirname "$0")/.." || exit 1
: "${DOORMAT:?set DOORMAT to the doormat binary}"
export DOORMAT
dir=${1:-tests/e2e}
pass=0; fail=0
for t in "$dir"/*.sh; do
  [ -f "$t" ] || continue
  case "$t" in */lib.sh) continue ;; esac  # helpers sourced by the tests, not a test
  echo "== $t"
  if bash "$t"; then pass=$((pass+1)); else echo "FAILED: $t" >&2; fail=$((fail+1)); fi
done
echo "e2e: $pass passed, $fail failed"
if [ $((pass + fail)) -eq 0 ]; then echo "e2e: no test ran (nothing in $dir)" >&2; exit 1; fi
[ "$fail" -eq 0 ]
