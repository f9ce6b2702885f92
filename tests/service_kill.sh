#!/usr/bin/env bash
# kill -9 at random moments: three agents and three witnesses (2-of-3) serve
# clients that keep asking for the same file while one service after another
# is killed with SIGKILL and started again on its port. Afterwards: every log
# verifies; no checkpoint was ever seen with two roots for one size (agents'
# checkpoints sampled all along, and the witnesses' cosigned state); and every
# share a client received has its entry in the final logs, as the monitor
# lists them.
#   DOORMAT=build/doormat tests/service_kill.sh [KILLS]     (default 50)
# tests/e2e/service_kill.sh runs it with 50 kills in make check (4 under valgrind).
set -u
KILLS=${1:-50}
cd "$(dirname "$0")/.." || exit 1
: "${DOORMAT:?set DOORMAT to the doormat binary}"
DOORMAT=$(cd "$(dirname "$DOORMAT")" && pwd)/$(basename "$DOORMAT")
E2E_NAME=service_kill
. tests/e2e/lib.sh
. tests/service_lib.sh
D=$DOORMAT
cd "$T" || exit 1
CLIENTS=${SERVICE_KILL_CLIENTS:-3}
REQUEST_CAP=$((KILLS * 20 + 50)) # requests per client at most
deadline=$(($(date +%s) + 600 * SVC_SLOW)) # set again once everything runs

svc_authority fbi doj,court,vendor 2 3 2 || { echo "setup failed" >&2; exit 1; }
declare -A PORT CMD
for i in 1 2 3; do
  svc_start_witness $i fbi || { echo "witness w$i did not start" >&2; exit 1; }
  PORT[w$i]=$port
done
for a in doj court vendor; do
  svc_start_agent $a fbi || { echo "agent $a did not start" >&2; exit 1; }
  PORT[$a]=$port
done
"$D" keygen -o inv.key 2>/dev/null
owner=$("$D" keygen -o owner.key 2>&1 | grep -o 'age1[0-9a-z]*')
printf 'the memo\n' >memo.txt
"$D" encrypt -r "$owner" --escrow fbi/authority.pub -o memo.age memo.txt
"$D" escrow warrant --court fbi/court.key --authority fbi/authority.pub --case kill-test \
  --expires 2099-12-31 -o w.txt memo.age

# restart NAME: starts the service again on the port it had.
restart() {
  local n=$1 p=${PORT[$1]} pid tries=0
  while [ $tries -lt 20 ]; do
    rm -f "$T/$n.port"
    case $n in
      w*) "$D" escrow witness serve --key "$T/$n/witness.key" --trust fbi/authority.pub \
            --state "$T/$n/state" --listen "127.0.0.1:$p" --port-file "$T/$n.port" 2>>"$T/$n.stderr" & ;;
      *) "$D" escrow serve --authority fbi/authority.pub --agent "fbi/agents/$n.key" \
           --log "fbi/logs/$n" --listen "127.0.0.1:$p" --timeout $((10 * SVC_SLOW)) --port-file "$T/$n.port" \
           2>>"$T/$n.stderr" & ;;
    esac
    pid=$!
    SVC_PIDS+=("$pid")
    eval "${n}_pid=$pid"
    svc_wait_port "$T/$n.port" "$pid" >/dev/null && return 0
    tries=$((tries + 1)); sleep 0.2   # the port may be held a moment longer
  done
  return 1
}

# sample: every agent's checkpoint as served now: origin size root.
sample() {
  local a
  for a in doj court vendor; do
    curl -sk --max-time 2 "https://127.0.0.1:${PORT[$a]}/log/checkpoint" 2>/dev/null |
      head -3 | paste -sd' ' >>"$T/seen-checkpoints"
  done
}

client() {
  local c=$1 n=0
  while [ $n -lt $REQUEST_CAP ] && [ "$(date +%s)" -lt "$deadline" ] && [ ! -e "$T/stop" ]; do
    "$D" escrow request --authority fbi/authority.pub --warrant w.txt --identity inv.key \
      --timeout $((10 * SVC_SLOW)) -o "$T/out.$c" memo.age 2>"$T/client.$c.err" >/dev/null
    if [ $? = 0 ] && ! cmp -s "$T/out.$c" memo.txt; then echo "client $c: wrong plaintext" >>"$T/bad"; fi
    grep -o 'agent [a-z]*: share received, its receipt verified (entry [0-9]*' "$T/client.$c.err" |
      sed 's/agent \([a-z]*\): .*entry \([0-9]*\)/\1 \2/' >>"$T/received.$c"
    n=$((n + 1))
  done
}
CLIENT_PIDS=()
for c in $(seq 1 "$CLIENTS"); do client "$c" & CLIENT_PIDS+=("$!"); done
# The kills begin once a first share has been received (a bounded wait).
n=0
while [ -z "$(cat "$T"/received.* 2>/dev/null)" ] && [ $n -lt $((300 * SVC_SLOW)) ]; do
  sleep 0.2; n=$((n + 1))
done
deadline=$(($(date +%s) + KILLS * 5 * SVC_SLOW + 60))

names=(doj court vendor w1 w2 w3)
kills=0
while [ $kills -lt "$KILLS" ] && [ "$(date +%s)" -lt "$deadline" ]; do
  sleep "0.$((RANDOM % 4 + 1))"
  n=${names[$((RANDOM % 6))]}
  pid=$(eval echo "\${${n}_pid:-}")
  kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  kills=$((kills + 1))
  restart "$n" || { fail "$n did not come back after kill $kills"; break; }
  sample
done
touch "$T/stop"
for p in "${CLIENT_PIDS[@]}"; do wait "$p"; done
# A commit whose cosigning failed (a witness was down) leaves a checkpoint
# without cosignatures until the next: an agent cosigns its checkpoint when
# it starts, so each is restarted once with every witness up.
for a in doj court vendor; do
  pid=$(eval echo "\${${a}_pid:-}")
  svc_stop "$pid"
  restart "$a" || fail "$a did not restart at the end"
done
sample
svc_stop_all

assert_true "$kills kills of the $KILLS asked" test "$kills" -eq "$KILLS"
assert_true "no client got a wrong plaintext" test ! -e "$T/bad"
cat "$T"/received.* 2>/dev/null | sort -u >received
got=$(wc -l <received)
assert_true "clients received shares ($got)" test "$got" -gt 0
for a in doj court vendor; do
  run "$D" escrow audit verify --authority fbi/authority.pub "fbi/logs/$a"
  assert_exit 0 "the log of $a verifies after $kills kills"
done
# One root per size per log, over everything seen: sampled checkpoints and
# what each witness last cosigned.
for w in 1 2 3; do
  for f in "$T/w$w/state"/*; do [ -f "$f" ] && head -3 "$f" | paste -sd' ' >>"$T/seen-checkpoints"; done
done
for a in doj court vendor; do head -3 "fbi/logs/$a/checkpoint" | paste -sd' ' >>"$T/seen-checkpoints"; done
forks=$(awk 'NF==3 {k=$1" "$2; if (k in r && r[k]!=$3) print k; r[k]=$3}' "$T/seen-checkpoints" | sort -u)
assert_true "no size of any log was seen with two roots ${forks:+($forks)}" test -z "$forks"
run "$D" escrow monitor --authority fbi/authority.pub --logs fbi/logs
assert_exit 0 "the monitor verifies the final logs"
missing=0
while read -r a i; do
  grep -q "^[^ ]* $a #$i file " "$T/out" || { missing=$((missing + 1)); echo "  missing: $a #$i" >&2; }
done <received
assert_true "every share received has its entry in the final log ($got shares, $missing missing)" \
  test "$missing" = 0
echo "service_kill: $kills kills, $(cat "$T"/seen-checkpoints | sort -u | wc -l) checkpoints seen, $got shares received"
finish
