#!/usr/bin/env bash
# Every command and subcommand answers -h and --help with its usage on
# standard output, nothing on standard error and exit 0, and does nothing
# else: the escrow log subcommands (audit verify|prove, witness
# init|add-checkpoint, monitor) once went on after printing it, to a usage
# error (exit 2) or a crash. The escrow subcommands' usage is the escrow
# group's, byte for byte.
. "$(dirname "$0")/lib.sh"
D=$DOORMAT
cd "$T" || exit 1

run "$D" escrow --help
assert_exit 0 "doormat escrow --help"
cp "$T/out" escrow-usage.txt
assert_true "the escrow usage says what it is" grep -q '^Usage:' escrow-usage.txt

for sub in init warrant unwrap recover tamper "audit verify" "audit prove" "witness init" \
  "witness add-checkpoint" monitor; do
  for h in -h --help; do
    # shellcheck disable=SC2086 # the subcommand is two words
    run "$D" escrow $sub $h
    assert_exit 0 "escrow $sub $h"
    assert_no_stderr "escrow $sub $h"
    assert_same "$T/out" escrow-usage.txt "escrow $sub $h prints the escrow usage"
  done
done
# -h comes first: a bad flag after it is never read, a missing one never missed.
run "$D" escrow monitor -h --no-such-flag
assert_exit 0 "escrow monitor -h --no-such-flag"
assert_same "$T/out" escrow-usage.txt "escrow monitor -h --no-such-flag prints the usage"
# ...and a bad flag before it is said as ever.
run "$D" escrow monitor --no-such-flag -h
assert_fails 2 "escrow monitor: unknown option --no-such-flag" "escrow monitor --no-such-flag -h"
assert_absent witness.key "no witness key was made by witness init -h"

for cmd in encrypt decrypt rekey keygen inspect; do
  for h in -h --help; do
    run "$D" $cmd $h
    assert_exit 0 "$cmd $h"
    assert_no_stderr "$cmd $h"
    assert_true "$cmd $h prints its usage" grep -q "^  doormat $cmd" "$T/out"
  done
  # The flag parser stops at -h: nothing after it is read.
  run "$D" $cmd -h --no-such-flag
  assert_exit 0 "$cmd -h --no-such-flag"
  run "$D" $cmd --no-such-flag -h
  assert_fails 2 "$cmd: unknown option --no-such-flag" "$cmd --no-such-flag -h"
done
finish
