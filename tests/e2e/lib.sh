#!/usr/bin/env bash
# Small assertion helpers for the end-to-end tests; source it, don't run it.
# (tests/run-e2e.sh runs every tests/e2e/*.sh, so run directly this file does nothing.)
if [ "${BASH_SOURCE[0]}" = "$0" ]; then exit 0; fi

set -u
: "${DOORMAT:?set DOORMAT to the doormat binary}"

E2E_NAME=$(basename "$0" .sh)
T=$(mktemp -d "${TMPDIR:-/tmp}/doormat-$E2E_NAME.XXXXXX")
# E2E_KEEP=1 keeps the test's directory (its path on stderr) for a post-mortem.
e2e_cleanup() {
  if [ -n "${E2E_KEEP:-}" ]; then echo "kept: $T" >&2; else rm -rf "$T"; fi
}
trap e2e_cleanup EXIT
umask 022
checks=0
failures=0
e2e_skipped=0

ok() { checks=$((checks + 1)); }
fail() {
  checks=$((checks + 1)); failures=$((failures + 1))
  echo "  FAIL: $*" >&2
  if [ -s "$T/err" ]; then sed 's/^/    stderr: /' "$T/err" | head -5 >&2; fi
}

# run CMD...: runs it with stdout in $T/out and stderr in $T/err, status in $rc.
# Standard input is whatever the caller redirects into run.
# Every run's stderr is also kept in $E2E_ALL_ERR, and every secret the run was
# given (key, share and passphrase files, secret keys as arguments) or printed
# (keygen) is noted in $E2E_SECRETS: finish checks that no message ever held one.
run() {
  "$@" >"$T/out" 2>"$T/err"
  rc=$?
  cat "$T/err" >>"$E2E_ALL_ERR"
  note_secrets "$@"
}

E2E_ALL_ERR=$T/.all-stderr
E2E_SECRETS=$T/.secrets
: >"$E2E_ALL_ERR"
: >"$E2E_SECRETS"
SECRET_KEY_RE='AGE-SECRET-KEY-(PQ-)?1[0-9A-Z]{20,}'

# secret_tokens FILE...: the secrets written in key, share and escrow key files
# (AGE-SECRET-KEY-1..., and the base64 of "seed:" and "share:" lines).
secret_tokens() {
  grep -ahoE -- "$SECRET_KEY_RE" "$@" 2>/dev/null
  grep -ahoE -- '^(seed|share): [A-Za-z0-9+/]{20,}' "$@" 2>/dev/null | sed 's/^[a-z]*: //'
  return 0
}

# note_secrets ARG...: notes the secrets in the files named after -i, --agent,
# --court, --share and --passphrase-file (its first line, when 8 bytes or more:
# shorter words could match ordinary text), in the arguments, and in $T/out.
note_secrets() {
  local prev="" a
  for a in "$@"; do
    if [ -f "$a" ] && [ -r "$a" ]; then
      case $prev in
        -i | --identity | --agent | --court | --share) secret_tokens "$a" >>"$E2E_SECRETS" ;;
        --passphrase-file) head -n 1 "$a" | tr -d '\r' | awk 'length >= 8' >>"$E2E_SECRETS" ;;
      esac
    fi
    prev=$a
  done
  printf '%s\n' "$@" | grep -oE -- "$SECRET_KEY_RE" >>"$E2E_SECRETS"
  secret_tokens "$T/out" >>"$E2E_SECRETS"
}

# secret_leaks ERRORS SECRETS: prints (the start of) every secret listed in
# the file SECRETS that occurs in the file ERRORS; fails if there is any.
secret_leaks() {
  sort -u "$2" | grep -v '^$' >"$2.sorted"
  [ -s "$2.sorted" ] || return 0
  local found
  found=$(grep -aoFf "$2.sorted" "$1" | sort -u | cut -c1-16)
  [ -z "$found" ] && return 0
  printf '%s...\n' $found
  return 1
}

# assert_exit N WHAT: the last run exited with N.
assert_exit() {
  if [ "$rc" -eq "$1" ]; then ok; else fail "$2: exit $rc, want $1"; fi
}

# assert_same FILE1 FILE2 WHAT: byte-identical.
assert_same() {
  if cmp -s "$1" "$2"; then ok; else fail "$3: $1 and $2 differ"; fi
}

# assert_err_line REGEX WHAT: stderr of the last run is exactly one line matching REGEX.
assert_err_line() {
  local lines
  lines=$(wc -l <"$T/err")
  if [ "$lines" -ne 1 ] || [ -n "$(tail -c1 "$T/err")" ]; then
    fail "$2: stderr has $lines lines, want exactly 1"; return
  fi
  if grep -Eq -- "$1" "$T/err"; then ok; else fail "$2: stderr does not match /$1/"; fi
}

# assert_fails N REGEX WHAT: exit N, and one "doormat: ..." line matching REGEX.
assert_fails() {
  assert_exit "$1" "$3"
  assert_err_line "^doormat: .*$2" "$3"
}

# assert_no_stderr WHAT
assert_no_stderr() {
  if [ -s "$T/err" ]; then fail "$1: unexpected stderr"; else ok; fi
}

# assert_true WHAT CMD...: CMD succeeds.
assert_true() {
  local what=$1; shift
  if "$@"; then ok; else fail "$what"; fi
}

# assert_absent PATH WHAT
assert_absent() {
  if [ -e "$1" ]; then fail "$2: $1 exists"; else ok; fi
}

# assert_eq GOT WANT WHAT
assert_eq() {
  if [ "$1" = "$2" ]; then ok; else fail "$3: got '$1', want '$2'"; fi
}

# assert_match TEXT REGEX WHAT
assert_match() {
  if printf '%s' "$1" | grep -Eq -- "$2"; then ok; else fail "$3: '$1' does not match /$2/"; fi
}

# make_file PATH SIZE: SIZE random bytes.
make_file() {
  head -c "$2" /dev/urandom >"$1"
}

# need_tools TOOL...: ends the test (exit 1, one line) when a tool it needs is missing.
need_tools() {
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null || { echo "$E2E_NAME: $tool is missing (make deps)" >&2; exit 1; }
  done
}

# skip CHECK REASON...: a check that cannot run here says so, with the reason,
# on one line "SKIP <test>: CHECK: REASON" (counted in finish's tally): no
# check is ever left out silently.
skip() {
  local what=$1
  shift
  e2e_skipped=$((e2e_skipped + 1))
  echo "SKIP $E2E_NAME: $what: $*"
}

# finish: prints the tally; the script's exit status says whether all passed.
finish() {
  # Keys made along the way count as secrets too, wherever they were written.
  grep -rahoE --exclude=.all-stderr --exclude='.secrets*' -- "$SECRET_KEY_RE" "$T" >>"$E2E_SECRETS"
  grep -rahoE --exclude=.all-stderr --exclude='.secrets*' -- '^(seed|share): [A-Za-z0-9+/]{20,}' "$T" |
    sed 's/^[a-z]*: //' >>"$E2E_SECRETS"
  local leaked
  if leaked=$(secret_leaks "$E2E_ALL_ERR" "$E2E_SECRETS"); then
    ok
  else
    fail "a secret appeared on standard error:" $leaked
  fi
  local tally="$checks checks, $failures failed"
  if [ "$e2e_skipped" -gt 0 ]; then tally="$tally, $e2e_skipped skipped"; fi
  echo "$E2E_NAME: $tally"
  [ "$failures" -eq 0 ]
  exit $?
}

# put_byte FILE OFFSET DECIMAL: overwrites one byte in place.
put_byte() {
  printf "$(printf '\\%03o' "$3")" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

# get_byte FILE OFFSET: the byte's decimal value.
get_byte() {
  od -An -tu1 -j "$2" -N1 "$1" | tr -d ' \n'
}

# mac_offset FILE: offset of the first base64 character of the header MAC.
mac_offset() {
  local line
  line=$(grep -boa -- '^--- ' "$1" | head -1 | cut -d: -f1)
  echo $((line + 4))
}

# write_pty_script FILE [LOG_USER]: an expect script that runs its arguments on a
# pseudo-terminal (age reads passphrases only from a terminal), types $PW at each
# passphrase prompt and exits with the command's status. LOG_USER 1 echoes the session.
write_pty_script() {
  {
    echo "set timeout 60"
    echo "log_user ${2:-0}"
    cat <<'EXP'
spawn -noecho {*}$argv
expect {
  -re {passphrase[^\n]*: $} { send -- "$env(PW)\r"; exp_continue }
  eof
}
exit [lindex [wait] 3]
EXP
  } >"$1"
}

# pty PASSPHRASE CMD...: CMD on a pseudo-terminal through the expect script pty.exp
# (write_pty_script), PASSPHRASE typed at every prompt; the session in $T/pty.log,
# the status in $rc.
pty() {
  local pw=$1; shift
  PW=$pw expect pty.exp "$@" </dev/null >"$T/pty.log" 2>&1
  rc=$?
}

# need_json_reader: ends the test (exit 1, one line) when python3, which jget and
# one_json run, is missing.
need_json_reader() {
  command -v python3 >/dev/null ||
    { echo "$E2E_NAME.sh: python3 is needed to read the JSON" >&2; exit 1; }
}

# jget FILE EXPR: evaluates a Python expression over the JSON object j.
jget() {
  python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

# one_json WHAT: the last run printed exactly one JSON object and nothing on stderr.
one_json() {
  if python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$T/out" 2>/dev/null &&
     [ "$(wc -l <"$T/out")" -eq 1 ]; then ok; else fail "$1: stdout is not one JSON object"; fi
  assert_no_stderr "$1"
}

# witnessed_authority IN OUT: the authority fbi/ (FBI; agents doj, court and vendor,
# 2 of 3) with the witness w1/, a user key key.txt, IN encrypted to it with escrow
# as OUT, and the court's warrant w.txt for OUT (case 26-cr-42).
witnessed_authority() {
  "$DOORMAT" escrow witness init --name witness.example/w1 -o w1 >/dev/null
  run "$DOORMAT" escrow init --name FBI --agents doj,court,vendor --threshold 2 \
    --witness w1/witness.vkey -o fbi
  assert_exit 0 "init with a witness"
  "$DOORMAT" keygen -o key.txt 2>/dev/null
  "$DOORMAT" encrypt -r "$("$DOORMAT" keygen -y key.txt)" --escrow fbi/authority.pub -o "$2" "$1"
  "$DOORMAT" escrow warrant --court fbi/court.key --authority fbi/authority.pub --case "26-cr-42" \
    --expires 2999-12-31 -o w.txt "$2"
}

# logged_release FILE AGENT N: fbi's agent AGENT releases its share of FILE under
# w.txt to AGENT-N.share, logged in fbi/logs/AGENT and cosigned by w1 ("SA N" asks).
logged_release() {
  run "$DOORMAT" escrow unwrap --authority fbi/authority.pub --agent "fbi/agents/$2.key" \
    --warrant w.txt --log "fbi/logs/$2" --witness w1 --requester "SA $3" -o "$2-$3.share" "$1"
  assert_exit 0 "release $3 by $2"
}
