#!/usr/bin/env bash
# A log, or a witness's state, that another process holds: a second agent
# started on the log, and a second witness on the state, fail at once (exit
# 1, one line naming the first by its pid) instead of hanging with no output;
# escrow unwrap on the log gives up after its 10 s wait with the same line.
# The first agent and witness go on serving; a log let go (even by a process
# killed with -9, whose line stays in DIR/lock) opens again.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../service_lib.sh"
D=$DOORMAT
cd "$T" || exit 1
# Well above the time to start and fail (valgrind included), well below a hang.
bound=$((5 * SVC_SLOW))
TIME_RE='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z'

svc_authority fbi doj 1 1 1 || { fail "authority"; finish; }
svc_start_witness 1 fbi || { fail "the witness starts"; finish; }
svc_start_agent doj fbi || { fail "the agent starts"; finish; }
assert_match "$(cat fbi/logs/doj/lock)" "^$doj_pid $TIME_RE doormat escrow serve\$" \
  "the agent's line in its lock file"

# ---- a second agent on the same log
start=$(date +%s)
run timeout "$bound" "$D" escrow serve --authority fbi/authority.pub --agent fbi/agents/doj.key \
  --log fbi/logs/doj --listen 127.0.0.1:0
took=$(($(date +%s) - start))
assert_exit 1 "a second agent on the log (exit 124 is a hang cut by timeout)"
assert_err_line "^doormat: escrow serve: in use: fbi/logs/doj: the log is held by another process \\(pid $doj_pid, doormat escrow serve, since $TIME_RE\\); stop it first\$" \
  "a second agent on the log (exit 124 is a hang cut by timeout)"
assert_true "it gave up within $bound s (took $took s)" test "$took" -lt "$bound"
assert_true "the first agent still runs" kill -0 "$doj_pid"
assert_match "$(cat fbi/logs/doj/lock)" "^$doj_pid $TIME_RE doormat escrow serve\$" \
  "the loser left the holder's line alone"

# ---- a second witness on the same state
start=$(date +%s)
run timeout "$bound" "$D" escrow witness serve --key "$T/w1/witness.key" \
  --trust fbi/authority.pub --state "$T/w1/state" --listen 127.0.0.1:0
took=$(($(date +%s) - start))
assert_exit 1 "a second witness on the state"
assert_err_line "^doormat: escrow witness serve: in use: $T/w1/state: the witness state is held by another process \\(pid $w1_pid, doormat escrow witness serve, since $TIME_RE\\); stop it first\$" \
  "a second witness on the state"
assert_true "it gave up within $bound s (took $took s)" test "$took" -lt "$bound"

# ---- both first ones still serve: a release, cosigned by the witness
svc_memo fbi
run "$D" escrow request --timeout $((10 * SVC_SLOW)) --authority fbi/authority.pub --warrant w.txt \
  --identity inv.key -o out.txt memo.age
assert_exit 0 "a release through the first agent and witness"
assert_same out.txt memo.txt "the released file"
size=$(sed -n 2p fbi/logs/doj/checkpoint)
assert_eq "$size" 1 "one release logged"

# ---- escrow unwrap on the held log waits its 10 s, then names the agent
start=$(date +%s)
run timeout $((20 * SVC_SLOW)) "$D" escrow unwrap --authority fbi/authority.pub \
  --agent fbi/agents/doj.key --warrant w.txt --log fbi/logs/doj -o doj.share memo.age
took=$(($(date +%s) - start))
assert_exit 1 "escrow unwrap on the agent's log"
assert_err_line "^doormat: escrow unwrap: in use: fbi/logs/doj: the log is held by another process \\(pid $doj_pid, doormat escrow serve, since $TIME_RE\\), still after 10 s; stop it first\$" \
  "escrow unwrap on the agent's log"
assert_true "it waited its 10 s (took $took s)" test "$took" -ge 10
assert_absent doj.share "no share"
assert_eq "$(sed -n 2p fbi/logs/doj/checkpoint)" "$size" "nothing logged"

# ---- let go: stopped, the line is gone and the log opens again
svc_stop "$doj_pid"
assert_eq "$svc_rc" 0 "the agent stops cleanly"
assert_eq "$(stat -c %s fbi/logs/doj/lock)" 0 "a stopped agent leaves no line"
svc_start_agent doj fbi || fail "an agent starts on the log let go"
# killed with -9, its line stays, and keeps nobody out
kill -KILL "$doj_pid"
wait "$doj_pid" 2>/dev/null
assert_match "$(cat fbi/logs/doj/lock)" "^$doj_pid $TIME_RE doormat escrow serve\$" \
  "a killed agent's line stays"
old_pid=$doj_pid
svc_start_agent doj fbi || fail "an agent starts over a killed one's line"
assert_true "a new agent" test "$doj_pid" != "$old_pid"
assert_match "$(cat fbi/logs/doj/lock)" "^$doj_pid $TIME_RE doormat escrow serve\$" \
  "the new agent's line"
run "$D" escrow request --timeout $((10 * SVC_SLOW)) --authority fbi/authority.pub --warrant w.txt \
  --identity inv.key -o out2.txt memo.age
assert_exit 0 "a release through the new agent"

svc_stop_all
finish
