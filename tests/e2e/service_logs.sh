#!/usr/bin/env bash
# What the services and the command write about a release: a --log-file is
# created 0600 (an existing one keeps its mode), and a case reference never
# appears in the clear in a log line or a message, only as the hex of its
# SHA-256, the "case:" of the log entry (docs/escrow-format.md).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../service_lib.sh"
D=$DOORMAT
cd "$T" || exit 1

CASE="SDNY 26-cr-9 (Doe)"
case_hex=$(printf '%s' "$CASE" | sha256sum | cut -d' ' -f1)

run "$D" escrow init --name FBI --agents doj,court --threshold 2 -o fbi
assert_exit 0 "init"
run "$D" keygen -o inv.key
run "$D" keygen -o owner.key
inv=$(grep -o 'age1[0-9a-z]*' inv.key | head -1)
owner=$(grep -o 'age1[0-9a-z]*' owner.key | head -1)
printf 'the memo\n' >memo.txt
printf 'another\n' >other.txt
run "$D" encrypt -r "$owner" --escrow fbi/authority.pub -o memo.age memo.txt
run "$D" encrypt -r "$owner" --escrow fbi/authority.pub -o other.age other.txt
run "$D" escrow warrant --court fbi/court.key --authority fbi/authority.pub --case "$CASE" \
  --expires 2099-12-31 -o w.txt memo.age
assert_exit 0 "warrant"


# The agent, logging to a new file (umask 022: a plain fopen would make it 0644).
svc_start doj "$D" escrow serve --authority fbi/authority.pub --agent fbi/agents/doj.key \
  --log fbi/logs/doj --listen 127.0.0.1:0 --log-file doj.log
assert_true "agent doj starts" test -n "${doj_port:-}"
U=https://127.0.0.1:${doj_port:-1}
assert_eq "$(stat -c %a doj.log)" 600 "a new --log-file is created 0600"

# release FILE: asks the agent for FILE's share under the warrant w.txt.
release() { mkreq "$inv" w.txt "$1" >"req-$1" && hcurl --data-binary "@req-$1" "$U/release"; }
release memo.age
assert_status 200 "^doormat-escrow-release/v1$" "a release"
release other.age
assert_status 403 "case $case_hex\) does not cover file" "a warrant for another file names the case by its digest"
svc_stop "${doj_pid:-0}"
assert_true "the release's log line names the case by its digest" \
  grep -q "POST /release 200 [0-9]* released entry 0, case $case_hex\$" doj.log
assert_true "the refusal's log line too" grep -q "POST /release 403 .*(case $case_hex)" doj.log
assert_true "the case is nowhere in the clear in the log file" sh -c "! grep -F '26-cr-9' doj.log"
assert_true "nor on the agent's standard error" sh -c "! grep -F '26-cr-9' '$T/doj.stderr'"
assert_eq "$(stat -c %a doj.log)" 600 "the log file stays 0600"

# An existing log file keeps its mode: never widened.
: >court.log
chmod 0640 court.log
svc_start court "$D" escrow serve --authority fbi/authority.pub --agent fbi/agents/court.key \
  --log fbi/logs/court --listen 127.0.0.1:0 --log-file court.log
assert_true "agent court starts" test -n "${court_port:-}"
hcurl "https://127.0.0.1:${court_port:-1}/"
assert_status 200 "agent court" "GET / on court"
svc_stop "${court_pid:-0}"
assert_eq "$(stat -c %a court.log)" 640 "an existing --log-file keeps its mode"
assert_true "and is appended to" grep -q "GET / 200" court.log

# A witness's log file too.
run "$D" escrow witness init --name witness.test/w1 -o w1
svc_start w1 "$D" escrow witness serve --key w1/witness.key --trust fbi/authority.pub \
  --state w1/state --listen 127.0.0.1:0 --log-file w1.log
assert_true "witness w1 starts" test -n "${w1_port:-}"
svc_stop "${w1_pid:-0}"
assert_eq "$(stat -c %a w1.log)" 600 "a witness's new --log-file is created 0600"

# The command's own messages: escrow unwrap names the case by its digest.
run "$D" escrow unwrap --authority fbi/authority.pub --agent fbi/agents/court.key \
  --warrant w.txt --log fbi/logs/court -o court.share memo.age
assert_exit 0 "escrow unwrap"
assert_true "unwrap's message names the case by its digest" grep -q "case $case_hex" "$T/err"
assert_true "and not in the clear" sh -c "! grep -F '26-cr-9' '$T/err'"
run "$D" escrow unwrap --authority fbi/authority.pub --agent fbi/agents/court.key \
  --warrant w.txt --log fbi/logs/court -o other.share other.age
assert_fails 8 "case $case_hex\) does not cover file" "unwrap of a file the warrant does not cover"
assert_true "its refusal does not show the case" sh -c "! grep -F '26-cr-9' '$T/err'"

finish
