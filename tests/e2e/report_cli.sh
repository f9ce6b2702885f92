#!/usr/bin/env bash
# doormat report: arguments, exit codes, finding the assembly script, and the
# man page. The briefing itself (jq, gnuplot, Chromium) is checked by
# make check-report (tests/check-report.sh), which make check does not need.
. "$(dirname "$0")/lib.sh"
D=$DOORMAT
ROOT=$(cd "$(dirname "$0")/../.." && pwd)

run "$D" report --help
assert_exit 0 "report --help"
if grep -q -- '--quick' "$T/out" && grep -q 'Exit codes' "$T/out"; then ok; else fail "help text"; fi
run "$D" --help
if grep -Eq '^  report +write the policy briefing' "$T/out"; then ok; else fail "report in doormat --help"; fi

run "$D" report
assert_fails 2 "report: missing -o DIR" "no -o"
run "$D" report -o
assert_fails 2 "needs an argument" "-o without DIR"
run "$D" report --bogus -o "$T/x"
assert_fails 2 "unknown option --bogus" "unknown option"
run "$D" report -o "$T/x" extra
assert_fails 2 "unexpected argument \"extra\"" "stray argument"
run "$D" report -o "$T/x" -o "$T/y"
assert_fails 2 "-o given twice" "-o twice"
run "$D" report --quick --from "$T" -o "$T/x"
assert_fails 2 "--quick does not apply" "--quick with --from"
run "$D" report --from "$T/none" -o "$T/x"
assert_fails 2 "not a directory" "--from a missing directory"
: >"$T/file"
run "$D" report -o "$T/file"
assert_fails 2 "not a directory" "-o names a file"

# The assembly script: an explicit one that is missing is one clear line (exit 1);
# an explicit one is run with the binary, the directory and the mode.
DOORMAT_REPORT_SCRIPT=$T/missing.sh run "$D" report -o "$T/x"
assert_fails 1 "DOORMAT_REPORT_SCRIPT=.*is not a file" "missing script"
cat >"$T/fake.sh" <<'EOF'
printf '%s\n' "$@" >"$FAKE_ARGS"
exit 3
EOF
FAKE_ARGS=$T/args DOORMAT_REPORT_SCRIPT=$T/fake.sh run "$D" report --quick -o "$T/out dir"
assert_exit 3 "the script's exit code is report's"
if [ "$(sed -n 1p "$T/args")" = --doormat ] && [ -x "$(sed -n 2p "$T/args")" ] &&
  [ "$(sed -n 3,5p "$T/args" | tr '\n' '|')" = "-o|$T/out dir|--quick|" ]; then ok
else fail "script arguments: $(tr '\n' '|' <"$T/args")"; fi

# Without the variable, the binary finds demo/report.sh of its source tree, or
# share/doormat/report.sh of an installed tree (make install lays it out so).
# (Only with the real binary: under make memcheck DOORMAT is a wrapper script.)
if [ "$(head -c 4 "$D" | od -An -c | tr -d ' ')" = '177ELF' ]; then
  mkdir -p "$T/inst/bin" "$T/inst/share/doormat"
  cp "$D" "$T/inst/bin/doormat"
  cp "$T/fake.sh" "$T/inst/share/doormat/report.sh"
  FAKE_ARGS=$T/args2 run "$T/inst/bin/doormat" report -o "$T/x"
  assert_exit 3 "installed layout finds share/doormat/report.sh"
  rm "$T/inst/share/doormat/report.sh"
  run "$T/inst/bin/doormat" report -o "$T/x"
  assert_fails 1 "report.sh is missing" "no script anywhere"
else
  skip "installed layout" "DOORMAT is not the binary itself (make memcheck's valgrind wrapper)"
fi
if [ -f "$ROOT/demo/report.sh" ] && [ "$(dirname "$D")" = "$ROOT/build" ]; then
  if bash -n "$ROOT/demo/report.sh"; then ok; else fail "demo/report.sh has a syntax error"; fi
else
  skip "demo/report.sh syntax" "DOORMAT is not the source tree's build/doormat"
fi

# The man page names every command and every long option of every --help.
MAN=$ROOT/docs/doormat.1
if [ -f "$MAN" ]; then
  # (escrow audit has no --help of its own: "escrow --help" shows its options.)
  for cmd in "" keygen encrypt decrypt inspect rekey -e escrow "escrow init" "escrow warrant" \
    "escrow unwrap" "escrow recover" "escrow tamper" bench lab report; do
    # shellcheck disable=SC2086
    if ! "$D" $cmd --help >"$T/help" 2>/dev/null; then fail "doormat $cmd --help"; continue; fi
    for opt in $(grep -Eo -- '--[a-z][a-z-]+' "$T/help" | sort -u); do
      if grep -q -- "$(printf '%s' "$opt" | sed 's/-/\\\\-/g')" "$MAN"; then ok
      else fail "docs/doormat.1 does not mention $opt (from doormat $cmd --help)"; fi
    done
  done
  # EXIT STATUS lists every code of cli_exit_codes_help, each as ".B N" after ".TP".
  for code in 0 1 2 3 4 5 6 7 8; do
    if sed -n '/^\.SH EXIT STATUS/,/^\.SH /p' "$MAN" | grep -qx "\.B $code"; then ok
    else fail "docs/doormat.1 EXIT STATUS does not list $code"; fi
  done
  if ! command -v man >/dev/null; then
    skip "man -l docs/doormat.1" "no man command (Debian: man-db)"
  elif man -l "$MAN" >/dev/null 2>"$T/err"; then ok
  else fail "man -l docs/doormat.1"; fi
else
  fail "docs/doormat.1 is missing"
fi

finish
