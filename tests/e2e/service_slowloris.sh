#!/usr/bin/env bash
# Slow clients do not lock everyone out (issue 18, section 4). 512 TLS
# connections, each sending one byte of a request header every 3 s (made
# again when closed), aimed at an agent and then at the witness the agent
# needs: a normal client is served within 1 s all the while, and a release
# still gets its cosignature. Then the whole-request deadline: a client that
# sends a byte every half second, never idle, is closed at --request-timeout;
# and the per-address limit. Under valgrind: fewer connections, longer waits.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../service_lib.sh"
D=$DOORMAT
SLOW=$(cd "$(dirname "$0")/.." && pwd)/slowloris.py
cd "$T" || exit 1

# The defaults (--max-connections 256, --max-per-address 32) against 512
# from 16 loopback addresses (32 each), the normal client from 127.0.0.1.
# Under valgrind, where a TLS handshake takes a good part of a second, 24
# from 4 addresses against a limit of 16, made again 5 s after each close,
# so that room is still made but the handshakes do not take all the CPU.
N=512 HOLD=12 LIMIT=1 LIMITS=() AGAIN=0.5
SOURCES=$(seq -f '127.0.0.%g' 2 17)
# Under AddressSanitizer (make sanitize) every request costs a few times more:
# the bound is 3 s there, and half the clients.
if grep -qa __asan_init "$DOORMAT" 2>/dev/null; then
  N=256 LIMIT=3
fi
if [ "${DOORMAT_MEMCHECK:-}" = 1 ]; then
  N=24 HOLD=40 LIMIT=$SVC_SLOW LIMITS=(--max-connections 16 --max-per-address 8) AGAIN=5
  SOURCES=$(seq -f '127.0.0.%g' 2 5)
fi

svc_authority fbi doj,court 2 1 1 || fail "authority"
svc_start_witness 1 fbi "${LIMITS[@]}"
assert_true "witness w1 starts" test -n "${w1_port:-}"
svc_start_agent doj fbi "${LIMITS[@]}"
assert_true "agent doj starts" test -n "${doj_port:-}"
A=https://127.0.0.1:${doj_port:-1}
W=https://127.0.0.1:${w1_port:-1}

run "$D" keygen -o inv.key
run "$D" keygen -o inv2.key
run "$D" keygen -o owner.key
inv=$(grep -o 'age1[0-9a-z]*' inv.key | head -1)
inv2=$(grep -o 'age1[0-9a-z]*' inv2.key | head -1)
owner=$(grep -o 'age1[0-9a-z]*' owner.key | head -1)
printf 'the memo\n' >memo.txt
run "$D" encrypt -r "$owner" --escrow fbi/authority.pub -o memo.age memo.txt
run "$D" escrow warrant --court fbi/court.key --authority fbi/authority.pub --case 26-cr-9 \
  --expires 2099-12-31 -o w.txt memo.age
# Two requests for two requesters: the same request twice would get its
# first entry again (a retry), and the second release must need a new entry
# cosigned by the witness under attack.
for who in "$inv" "$inv2"; do python3 - "$who" <<'PY'
import base64, sys
d = open("memo.age", "rb").read(); i = d.index(b"\n---"); j = d.index(b"\n", i + 1)
w = open("w.txt", "rb").read()
sys.stdout.write("doormat-escrow-release-request/v1\nrecipient: %s\nwarrant: %s\nheader: %s\n" % (
    sys.argv[1], base64.b64encode(w).decode(), base64.b64encode(d[:j + 1]).decode()))
PY
done >reqs
head -n 4 reqs >req
tail -n 4 reqs >req2

# attack PORT NAME: starts the slow clients against PORT, waits (bounded)
# until every connection has sent its first byte; their pid in $attack_pid.
attack() {
  rm -f "$T/$2.ready"
  python3 "$SLOW" "$1" "$N" "$HOLD" $SOURCES --again "$AGAIN" --ready "$T/$2.ready" \
    >"$T/$2.out" 2>"$T/$2.err" &
  attack_pid=$!
  SVC_PIDS+=("$attack_pid")
  local n=0
  while [ ! -s "$T/$2.ready" ] && [ $n -lt $((HOLD * 10)) ]; do sleep 0.1; n=$((n + 1)); done
  assert_true "the $2 attack is under way" test -s "$T/$2.ready"
  sleep 3.5 # a round of header bytes
}

# timed WHAT CODE CURL-ARGS...: one normal request; asserts its status and
# that it was answered within $LIMIT seconds.
timed() {
  local what=$1 code=$2; shift 2
  hcurl -w '%{http_code} %{time_total}' "$@"
  local got=${status% *} took=${status#* }
  assert_eq "$got" "$code" "$what: status"
  assert_true "$what: answered in $took s (at most $LIMIT)" \
    awk -v t="$took" -v l="$LIMIT" 'BEGIN { exit !(t + 0 > 0 && t + 0 <= l) }'
}

attack "${doj_port:-1}" agent
timed "GET / of the agent under attack" 200 "$A/"
timed "a release from the agent under attack" 200 --data-binary @req "$A/release"
timed "GET / again" 200 "$A/"
wait "$attack_pid"
assert_true "the attack ran whole: $(cat "$T/agent.out")" grep -q "^made [0-9]" "$T/agent.out"

attack "${w1_port:-1}" witness
timed "GET / of the witness under attack" 200 "$W/"
timed "a release cosigned by the witness under attack" 200 --data-binary @req2 "$A/release"
wait "$attack_pid"
assert_eq "$(sed -n 2p fbi/logs/doj/checkpoint)" 2 "both releases logged"
svc_stop "${w1_pid:-0}"
assert_true "the witness says it made room: $(grep 'connections closed' "$T/w1.stderr")" \
  grep -q "w1: [1-9][0-9]* connections closed to make room" "$T/w1.stderr"

# The whole-request deadline: a byte every half second is never idle for
# --timeout (2 s), and is still cut at --request-timeout (3 s), TLS included.
svc_start slow "$D" escrow serve --authority fbi/authority.pub --agent fbi/agents/court.key \
  --log fbi/logs/court --listen 127.0.0.1:0 --timeout $((2 * SVC_SLOW)) \
  --request-timeout $((3 * SVC_SLOW))
assert_true "agent court starts" test -n "${slow_port:-}"
timeout $((30 * SVC_SLOW)) python3 "$SLOW" "${slow_port:-1}" 1 $((6 * SVC_SLOW)) 127.0.0.1 \
  --interval 0.5 >drip.out 2>&1
# The TLS handshake counts too: a ClientHello sent a byte every half second.
python3 - "${slow_port:-1}" $((12 * SVC_SLOW)) >hello.out 2>&1 <<'PY'
import socket, sys, time
port, limit = int(sys.argv[1]), float(sys.argv[2])
s = socket.create_connection(("127.0.0.1", port))
s.settimeout(0.5)
hello = bytes([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]) + bytes(500)
start = time.monotonic()
for b in hello:
    if time.monotonic() - start > limit:
        break
    try:
        s.send(bytes([b]))
        if s.recv(1) == b"":
            break
    except socket.timeout:
        continue
    except OSError:
        break
print("%.1f" % (time.monotonic() - start))
PY
took=$(tail -1 hello.out)
svc_stop "${slow_pid:-0}"
assert_true "a slow TLS handshake is cut at the request deadline too ($took s)" \
  awk -v t="$took" -v l=$((3 * SVC_SLOW)) 'BEGIN { exit !(t + 0 >= l - 1 && t + 0 < l + 3) }'
assert_true "the trickling client was closed: $(cat drip.out)" grep -q "^made [0-9]* closed [1-9]" drip.out
assert_true "at the request deadline: $(grep 'connections closed' "$T/slow.stderr")" \
  grep -Eq "0 connections closed to make room for newer ones, ([2-9]|[1-9][0-9]+) at the request deadline" \
  "$T/slow.stderr"

# Per address: with --max-per-address 2, a third connection from one address
# makes the oldest of that address give way; another address's stays.
svc_start per "$D" escrow serve --authority fbi/authority.pub --agent fbi/agents/court.key \
  --log fbi/logs/court --listen 127.0.0.1:0 --max-per-address 2
assert_true "agent court starts again" test -n "${per_port:-}"
exec 5<>/dev/tcp/127.0.0.1/${per_port:-1}
sleep 0.2
exec 6<>/dev/tcp/127.0.0.1/${per_port:-1}
python3 -c 'import socket,sys,time
s=socket.create_connection(("127.0.0.1",int(sys.argv[1])),source_address=("127.0.0.2",0))
time.sleep(4)' "${per_port:-1}" &
other=$!
SVC_PIDS+=("$other")
sleep 0.2
hcurl "https://127.0.0.1:${per_port:-1}/"
assert_status 200 "agent court" "a third connection from one address"
assert_gave_way "the oldest of that address gave way" "the other one of that address stays"
assert_true "the other address's connection stays" kill -0 "$other"
exec 5>&- 6>&-
svc_stop "${per_pid:-0}"

finish
