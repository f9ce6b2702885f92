#!/usr/bin/env bash
# Runs every CMocka unit test binary in BUILD/tests; fails if any fails.
set -u
build=${1:-build}
cd "$(dirname "$0")/.." || exit 1
fail=0; ran=0
for t in "$build"/tests/test_*; do
  [ -x "$t" ] || continue
  ran=$((ran+1))
  echo "== $t"
  if ! "$t"; then echo "FAILED: $t" >&2; fail=$((fail+1)); fi
done
echo "unit: $ran binaries, $fail failed"
[ "$fail" -eq 0 ] && [ "$ran" -gt 0 ]
