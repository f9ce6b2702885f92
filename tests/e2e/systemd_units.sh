#!/usr/bin/env bash
# The systemd units of deploy/systemd (doormat-agent@.service, doormat-witness@.service):
# `systemd-analyze verify` accepts them with no warning (and refuses a broken copy, so the
# check can fail); they hold the hardening an operator expects (a dedicated user,
# StateDirectory, ProtectSystem=strict, NoNewPrivileges, PrivateTmp, restart on failure);
# and their ExecStart lines, with the instance name, the environment and the paths a
# machine would give them, start a witness and an agent that answer on loopback.
# Where systemd is not the running init (containers, chroots), the units are verified and
# their commands run by hand: the line "SKIP: ..." says so.
. "$(dirname "$0")/lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$T" || exit 1
command -v systemd-analyze >/dev/null || { echo "systemd_units.sh: systemd-analyze is missing (Debian: systemd; make deps)" >&2; exit 1; }
BINDIR=$(cd "$(dirname "$DOORMAT")" && pwd)
[ "$(basename "$DOORMAT")" = doormat ] || { mkdir bin; ln -s "$DOORMAT" bin/doormat; BINDIR=$T/bin; }

mkdir units
for u in doormat-agent@ doormat-witness@; do
  sed "s|@BINDIR@|$BINDIR|g" "$ROOT/deploy/systemd/$u.service.in" >"units/$u.service"
done

# ---- systemd-analyze verify: no error, no warning
(cd units && systemd-analyze verify --man=no doormat-agent@doj.service doormat-witness@press.service) >verify.out 2>&1
rc=$?
assert_exit 0 "systemd-analyze verify"
assert_eq "$(cat verify.out)" "" "systemd-analyze verify says nothing"
# ... and it does refuse a broken unit (the check above can fail).
mkdir broken
sed 's/^NoNewPrivileges=/NoNewPrivilegez=/' units/doormat-agent@.service >broken/doormat-agent@.service
(cd broken && systemd-analyze verify --man=no doormat-agent@doj.service) >broken.out 2>&1
assert_true "a misspelt key is reported" grep -q "Unknown key 'NoNewPrivilegez'" broken.out

# ---- what an operator expects in each unit
for u in units/doormat-agent@.service units/doormat-witness@.service; do
  for want in '^User=doormat$' '^Group=doormat$' '^StateDirectory=doormat/' '^ProtectSystem=strict$' \
    '^NoNewPrivileges=yes$' '^PrivateTmp=yes$' '^Restart=on-failure$' '^KillSignal=SIGTERM$' \
    '^WantedBy=multi-user.target$'; do
    assert_true "$(basename "$u"): $want" grep -Eq "$want" "$u"
  done
done
assert_true "agent: a log that does not verify is not restarted in a loop" \
  grep -q '^RestartPreventExitStatus=9$' units/doormat-agent@.service

# ---- the ExecStart lines, run by hand as systemd would run them
# exec_start UNIT INSTANCE: the unit's ExecStart with %i, /etc/doormat, the state
# directory and the environment's defaults put in, one shell line.
exec_start() {
  local listen
  listen=$(sed -n 's/^Environment=DOORMAT_LISTEN=//p' "$1")
  sed -n '/^ExecStart=/,/[^\\]$/p' "$1" | sed 's/\\$//' | tr -d '\n' | sed -e 's/^ExecStart=//' -e 's/  */ /g' |
    sed -e "s|%i|$2|g" -e "s|/etc/doormat|$T/etc|g" -e "s|\${STATE_DIRECTORY}|$T/state-$2|g" \
      -e "s|\${DOORMAT_LISTEN}|127.0.0.1:0|g" -e 's|\$DOORMAT_[A-Z]*_FLAGS||g'
  [ "$listen" != "" ] || echo "no DOORMAT_LISTEN default in $1" >&2
}
mkdir -p etc/agents state-doj state-press
run "$DOORMAT" escrow witness init --name witness.example/press -o etc/witness-press
assert_exit 0 "witness init"
run "$DOORMAT" escrow init --name FBI --agents doj --threshold 1 --witness etc/witness-press/witness.vkey -o auth
assert_exit 0 "escrow init"
cp auth/authority.pub etc/authority.pub
cp auth/authority.pub etc/witness-press/authority.pub
cp auth/agents/doj.key auth/agents/doj.tls.pem etc/agents/
cp -a auth/logs/doj state-doj/log

PIDS=()
stop_all() { local p; for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done; for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done; PIDS=(); }
trap 'stop_all; e2e_cleanup' EXIT
# start NAME CMDLINE: runs the line in the background; its port in $port.
start() {
  local n=0
  # exec: the background job is the service itself, which stop_all then stops
  eval "exec $2 --port-file $T/$1.port" >"$T/$1.log" 2>&1 &
  PIDS+=("$!")
  while [ ! -s "$T/$1.port" ] && [ $n -lt 300 ] && kill -0 "${PIDS[-1]}" 2>/dev/null; do sleep 0.1; n=$((n + 1)); done
  port=$(cat "$T/$1.port" 2>/dev/null)
}
wline=$(exec_start units/doormat-witness@.service press)
assert_match "$wline" "escrow witness serve --key $T/etc/witness-press/witness.key" "the witness's command"
start witness "$wline"
assert_true "the witness unit's command starts a witness (see $T/witness.log)" test -n "$port"
assert_true "its TLS key is made in the state directory" test -s state-press/witness.tls.pem
wport=$port
pin=$(grep -o 'sha256//[A-Za-z0-9+/=]*' witness.log | head -1)
printf 'url: witness.example/press https://127.0.0.1:%s\ntls: witness.example/press %s\n' "$wport" "$pin" >>etc/authority.pub
aline=$(exec_start units/doormat-agent@.service doj)
assert_match "$aline" "escrow serve --authority $T/etc/authority.pub --agent $T/etc/agents/doj.key" "the agent's command"
start agent "$aline"
assert_true "the agent unit's command starts an agent (see $T/agent.log)" test -n "$port"
if [ -n "$port" ]; then
  code=$(curl -sk -o checkpoint.txt -w "%{http_code}" --max-time 60 "https://127.0.0.1:$port/log/checkpoint")
  assert_eq "$code" 200 "the agent answers GET /log/checkpoint"
fi
stop_all

if [ -d /run/systemd/system ]; then
  echo "systemd_units: systemd is running here; the units were verified and their commands run by hand"
else
  skip started-by-systemd "systemd is not the running init here (no /run/systemd/system): the units were verified and their commands run by hand, not started by systemd"
fi
finish
