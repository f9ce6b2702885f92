#!/usr/bin/env bash
# Restarting an agent keeps one cosignature per witness on its checkpoint.
# Every start asks the witnesses to cosign the checkpoint it starts on; each
# answer used to be appended, so that after 34 restarts the checkpoint held
# 63 signature lines and then no more cosignatures at all. Here: 40 restarts
# (3 under valgrind) with two witnesses, the checkpoint always the agent's
# signature and one line per witness, and a release still cosigned after.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../service_lib.sh"
D=$DOORMAT
cd "$T" || exit 1
restarts=40
if [ "${DOORMAT_MEMCHECK:-0}" = 1 ]; then restarts=3; fi

svc_authority fbi doj 1 2 2 || { fail "authority"; finish; }
svc_start_witness 1 fbi
svc_start_witness 2 fbi
svc_start_agent doj fbi || { fail "the agent starts"; finish; }
svc_memo fbi
run "$D" escrow request --timeout $((10 * SVC_SLOW)) --authority fbi/authority.pub --warrant w.txt \
  --identity inv.key -o out.txt memo.age
assert_exit 0 "a release before the restarts"

# Signature lines ("— NAME ...") of the checkpoint, and those of one signer.
sig_lines() { grep -c '^— ' fbi/logs/doj/checkpoint; }
signer_lines() { grep -c "^— $1 " fbi/logs/doj/checkpoint; }
want=3
assert_eq "$(sig_lines)" "$want" "the agent's signature and two cosignatures"
bad=0 i=0
while [ "$i" -lt "$restarts" ]; do
  svc_stop "${doj_pid:-0}"
  : >"$T/doj.stderr"
  svc_start_agent doj fbi || { bad=$((bad + 1)); break; }
  # The start's cosigning is done once it says so (bounded wait).
  n=0
  while ! grep -q "checkpoint cosigned" "$T/doj.stderr" && [ $n -lt $((50 * SVC_SLOW)) ]; do
    sleep 0.1; n=$((n + 1))
  done
  grep -q "checkpoint cosigned" "$T/doj.stderr" || { bad=$((bad + 1)); break; }
  lines=$(sig_lines)
  if [ "$lines" != "$want" ] || [ "$(signer_lines witness.test/w1)" != 1 ] ||
     [ "$(signer_lines witness.test/w2)" != 1 ]; then
    bad=$((bad + 1))
    fail "restart $((i + 1)): $lines signature lines (want $want, one per witness)"
    break
  fi
  i=$((i + 1))
done
assert_eq "$bad" 0 "$restarts restarts, each cosigned, each time $want signature lines"
assert_eq "$i" "$restarts" "every restart done"

run "$D" escrow request --timeout $((10 * SVC_SLOW)) --authority fbi/authority.pub --warrant w.txt \
  --identity inv.key -o out2.txt memo.age
assert_exit 0 "a release after $restarts restarts"
assert_true "its receipt verified" grep -q "agent doj: share received, its receipt verified" "$T/err"
assert_eq "$(sig_lines)" "$want" "and its checkpoint carries one cosignature per witness"
run "$D" escrow monitor --authority fbi/authority.pub --logs https --state seen memo.age
assert_exit 0 "the monitor accepts the cosigned log"
run "$D" escrow audit verify --authority fbi/authority.pub fbi/logs/doj
assert_exit 0 "the log verifies"
echo "agent_restarts: $i restarts, the checkpoint kept $(sig_lines) signature lines"

svc_stop_all
finish
