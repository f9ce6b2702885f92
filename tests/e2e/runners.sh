#!/usr/bin/env bash
# The test runners themselves: tests/run-e2e.sh and tests/run-unit.sh fail
# when a test fails and when no test ran at all (an empty or mistyped
# directory must not pass as "all green").
# A runner that ignored DIR would run the whole suite, this file included:
# the nested copy stops at once, and every run is bounded in time.
[ -n "${DOORMAT_RUNNERS_NESTED:-}" ] && exit 0
export DOORMAT_RUNNERS_NESTED=1
. "$(dirname "$0")/lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$T" || exit 1

mkdir empty one-pass one-fail only-lib
printf 'exit 0\n' >one-pass/ok.sh
printf 'exit 0\n' >one-fail/ok.sh
printf 'exit 3\n' >one-fail/bad.sh
printf 'exit 0\n' >only-lib/lib.sh

run timeout 120 "$ROOT/tests/run-e2e.sh" "$T/empty"
assert_exit 1 "run-e2e.sh with no test"
assert_true "run-e2e.sh says no test ran" grep -q "^e2e: no test ran" "$T/err"
run timeout 120 "$ROOT/tests/run-e2e.sh" "$T/only-lib"
assert_exit 1 "run-e2e.sh with only lib.sh (not a test)"
run timeout 120 "$ROOT/tests/run-e2e.sh" "$T/one-pass"
assert_exit 0 "run-e2e.sh with one passing test"
assert_true "run-e2e.sh counts it" grep -qx "e2e: 1 passed, 0 failed" "$T/out"
run timeout 120 "$ROOT/tests/run-e2e.sh" "$T/one-fail"
assert_exit 1 "run-e2e.sh with a failing test"
assert_true "run-e2e.sh names the failing test" grep -q "FAILED: .*one-fail/bad.sh" "$T/err"

mkdir -p unit-empty/tests
run timeout 120 "$ROOT/tests/run-unit.sh" "$T/unit-empty"
assert_exit 1 "run-unit.sh with no test binary"
finish
