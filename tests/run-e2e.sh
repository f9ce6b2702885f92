#!/usr/bin/env bash
# Runs every end-to-end shell test in tests/e2e/ with DOORMAT set to the binary.
set -u
cd "$(dirname "$0")/.." || exit 1
: "${DOORMAT:?set DOORMAT to the doormat binary}"
export DOORMAT
pass=0; fail=0
for t in tests/e2e/*.sh; do
  [ -f "$t" ] || continue
  case "$t" in */lib.sh) continue ;; esac  # helpers sourced by the tests, not a test
  echo "== $t"
  if bash "$t"; then pass=$((pass+1)); else echo "FAILED: $t" >&2; fail=$((fail+1)); fi
done
echo "e2e: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
