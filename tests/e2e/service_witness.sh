#!/usr/bin/env bash
# An agent's witnesses misbehaving: three witnesses, two needed, one of them
# a stand-in (tests/witness_standin.py) that hangs, lies or is slow as told.
# A hung witness does not hold releases up (a release within
# --witness-timeout + 1 s, the hung witness named); a witness that is down,
# then back: the error says so in words, the same request retried gets its
# entry (the log does not grow), and the monitor passes again without an
# agent restart; a lying witness (a cosignature that does not verify) is
# named with the reason, and releases go on with the two honest ones; a
# requester that hangs up is logged as undelivered.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../service_lib.sh"
D=$DOORMAT
STANDIN=$(cd "$(dirname "$0")/.." && pwd)/witness_standin.py
cd "$T" || exit 1
WT=2 # --witness-timeout
BOUND=$((WT + 1))
# Under valgrind every doormat process (the agent, each client) is tens of
# times slower and a TLS handshake alone can take seconds: the witnesses get
# longer, and the bound is the client's own timeout (the timing claim is the
# normal run's; valgrind is there for the memory).
if [ "$SVC_SLOW" -gt 1 ]; then WT=8; BOUND=$((10 * SVC_SLOW)); fi

assert_true "authority: one agent, 3 witnesses, 2 needed" svc_authority fbi doj 1 3 2
for i in 1 2 3; do
  svc_start_witness $i fbi
  assert_true "witness w$i starts" test -n "${port:-}"
done
# w1, the first the agent would ask, is reached through the stand-in, with
# w1's own TLS identity.
echo honest >w1.mode
svc_start standin python3 "$STANDIN" "$T/w1.mode" "$T/w1/witness.tls.pem" \
  "https://127.0.0.1:${w1_port:-1}"
assert_true "the stand-in starts" test -n "${standin_port:-}"
sed -i "\|^url: witness.test/w1 |d" fbi/authority.pub
echo "url: witness.test/w1 https://127.0.0.1:${standin_port:-1}" >>fbi/authority.pub

run "$D" keygen -o owner.key
owner=$(grep -o 'age1[0-9a-z]*' owner.key | head -1)
printf 'the memo\n' >memo.txt
run "$D" encrypt -r "$owner" --escrow fbi/authority.pub -o memo.age memo.txt
run "$D" escrow warrant --court fbi/court.key --authority fbi/authority.pub --case 26-cr-11 \
  --expires 2099-12-31 -o w.txt memo.age

# request NAME: escrow request as investigator NAME (a key of its own: a
# request of its own); $secs gets the time it took.
request() {
  [ -f "$1.key" ] || "$D" keygen -o "$1.key" 2>/dev/null
  local t0 t1
  t0=$(date +%s%N)
  run "$D" escrow request --timeout $((10 * SVC_SLOW)) --authority fbi/authority.pub \
    --warrant w.txt --identity "$1.key" -o "$1.txt" memo.age
  t1=$(date +%s%N)
  secs=$(((t1 - t0) / 1000000000))
}
# wait_log FILE REGEX SECONDS: true once FILE has a line matching REGEX.
wait_log() {
  local n=0
  while ! grep -Eq -- "$2" "$1" && [ "$n" -lt $((10 * $3 * SVC_SLOW)) ]; do sleep 0.1; n=$((n + 1)); done
  grep -Eq -- "$2" "$1"
}
size() { sed -n 2p fbi/logs/doj/checkpoint; }

run "$D" escrow serve --authority fbi/authority.pub --agent fbi/agents/doj.key --log fbi/logs/doj \
  --listen 127.0.0.1:0 --witness-timeout 0
assert_fails 2 "escrow serve: --witness-timeout wants a number from 1 to 3600, not \"0\"" \
  "--witness-timeout 0"

# ---- a witness that accepts connections and never answers
echo hang >w1.mode
svc_start_agent doj fbi --witness-timeout $WT
assert_true "agent starts" test -n "${port:-}"
request inv1
assert_exit 0 "a release with w1 hung"
assert_true "within --witness-timeout + 1 s (${secs}s)" test "$secs" -le "$BOUND"
assert_true "the hung witness is named in the agent's log" \
  wait_log doj.stderr "witness witness.test/w1: no answer within $WT s" $((WT + 2))

# ---- one honest witness down as well: too few, said in words, within the bound
svc_stop "${w2_pid:-0}"
request inv2
assert_exit 4 "w2 down, w1 hung: no release"
assert_true "answered within --witness-timeout + 1 s (${secs}s)" test "$secs" -le "$BOUND"
assert_true "the client says what happened" \
  grep -q "agent doj: refused (HTTP 503): not enough witness cosignatures" "$T/err"
assert_true "it names the witness that is down" \
  grep -q "witness witness.test/w2: no answer (.*onnect" "$T/err"
assert_true "and the hung one" grep -Eq "witness witness.test/w1: (no answer|still no answer)" "$T/err"
assert_true "never 'inconsistent'" sh -c "! grep -q inconsistent '$T/err'"
assert_true "and not cut: the whole reason to its end" \
  grep -q "the same request sent again gets the same entry)$" "$T/err"
assert_absent inv2.txt "no output without the cosignatures"
logged=$(size)
run "$D" escrow monitor --authority fbi/authority.pub --logs https --state seen
assert_exit 9 "the monitor sees a checkpoint without enough cosignatures"

# ---- w2 back (on its port): the agent cosigns by itself; the retry gets its entry
echo honest >w1.mode
svc_start w2 "$D" escrow witness serve --key "$T/w2/witness.key" --trust fbi/authority.pub \
  --state "$T/w2/state" --listen "127.0.0.1:${w2_port:-1}"
assert_true "w2 is back on its port" test "${port:-}" = "${w2_port:-x}"
assert_true "the agent has its checkpoint cosigned again by itself" \
  wait_log doj.stderr "log at size $logged, checkpoint cosigned" 15
run "$D" escrow monitor --authority fbi/authority.pub --logs https --state seen
assert_exit 0 "the monitor passes again, no agent restart"
request inv2
assert_exit 0 "the same request again: released"
assert_same inv2.txt memo.txt "the file recovered"
assert_true "with the entry it was given before" \
  grep -q "agent doj: share received, its receipt verified (entry 1 " "$T/err"
assert_true "the log did not grow ($logged -> $(size))" test "$(size)" = "$logged"

# ---- a witness that lies: its cosignature does not verify
echo lie >w1.mode
request inv3
assert_exit 0 "a release with the two honest witnesses"
assert_true "the liar is named in the agent's log, with the reason" \
  wait_log doj.stderr "witness witness.test/w1: returned a cosignature that does not verify \(the signature of witness.test/w1 .*does not verify\)" $((WT + 2))
svc_stop "${w2_pid:-0}"
request inv4
assert_exit 4 "w2 down and w1 lying: no release"
assert_true "the answer names the liar, with the reason" \
  grep -q "witness witness.test/w1: returned a cosignature that does not verify" "$T/err"
assert_true "and w2, down" grep -q "witness witness.test/w2: no answer" "$T/err"

# ---- a requester that hangs up before the answer (w1 answers after 1.5 s)
echo slow >w1.mode
# release_body KEY: a raw release request (the wire format) for investigator KEY.
release_body() {
  "$D" keygen -o "$1" 2>/dev/null
  python3 - "$(grep -o 'age1[0-9a-z]*' "$1" | head -1)" <<'PY'
import base64, sys
d = open("memo.age", "rb").read(); i = d.index(b"\n---"); j = d.index(b"\n", i + 1)
w = open("w.txt", "rb").read()
sys.stdout.write("doormat-escrow-release-request/v1\nrecipient: %s\nwarrant: %s\nheader: %s\n" % (
    sys.argv[1], base64.b64encode(w).decode(), base64.b64encode(d[:j + 1]).decode()))
PY
}
release_body inv5.key >req5
release_body inv6.key >req6
before=$(size)
curl -sk --max-time 0.5 --data-binary @req5 "https://127.0.0.1:${doj_port:-1}/release" >/dev/null 2>&1
assert_true "the release is logged as undelivered" \
  wait_log doj.stderr "POST /release 499 0 undelivered: the requester hung up before the answer; entry $before is logged and cosigned" $((WT + 3))
assert_true "and its entry is in the log ($before -> $(size))" test "$(size)" -gt "$before"
assert_true "the agent never says it released that entry" \
  sh -c "! grep -q 'released entry $before,' '$T/doj.stderr'"
# A requester still there gets its answer, with the failing witness in a header.
hcurl -D "$T/headers" --data-binary @req6 "https://127.0.0.1:${doj_port:-1}/release"
assert_true "a requester that waits: 200 (HTTP $status)" test "$status" = 200
assert_true "the answer names w2, down" grep -qi "^Doormat-Witness-Failures: witness witness.test/w2: no answer" "$T/headers"

svc_stop "${doj_pid:-0}"
assert_true "the agent stops cleanly (exit $svc_rc)" test "$svc_rc" = 0
svc_stop_all
finish
