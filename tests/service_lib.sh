# Helpers for the end-to-end tests of the HTTPS services (tests/e2e/service_*.sh);
# source it after tests/e2e/lib.sh. Every service is started on 127.0.0.1 with
# an ephemeral port (--listen 127.0.0.1:0 --port-file), remembered, and
# stopped by the EXIT trap even when a test fails; every wait is bounded.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then exit 0; fi

SVC_PIDS=()
# Under valgrind a service takes seconds to start: waits scale with this.
SVC_SLOW=1
if [ "${DOORMAT_MEMCHECK:-}" = 1 ]; then SVC_SLOW=10; fi

svc_stop_all() {
  local p n
  for p in "${SVC_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
  for p in "${SVC_PIDS[@]}"; do
    n=0
    while kill -0 "$p" 2>/dev/null && [ $n -lt $((50 * SVC_SLOW)) ]; do sleep 0.1; n=$((n + 1)); done
    kill -KILL "$p" 2>/dev/null
    wait "$p" 2>/dev/null
  done
  SVC_PIDS=()
}
trap 'svc_stop_all; e2e_cleanup' EXIT
trap 'exit 130' INT TERM

# svc_wait_port FILE PID: waits (bounded) for the port file; prints the port.
svc_wait_port() {
  local n=0
  while [ ! -s "$1" ] && [ $n -lt $((100 * SVC_SLOW)) ]; do
    kill -0 "$2" 2>/dev/null || return 1
    sleep 0.1; n=$((n + 1))
  done
  [ -s "$1" ] && cat "$1"
}

# svc_start NAME CMD...: starts CMD (a doormat service given --port-file
# $T/NAME.port) in the background with its stderr in $T/NAME.stderr; sets
# $port, or returns 1 when it did not come up.
svc_start() {
  local name=$1; shift
  rm -f "$T/$name.port"
  "$@" --port-file "$T/$name.port" 2>>"$T/$name.stderr" &
  local pid=$!
  SVC_PIDS+=("$pid")
  eval "${name}_pid=$pid"
  port=$(svc_wait_port "$T/$name.port" "$pid") || return 1
  eval "${name}_port=$port"
}

# svc_stop PID: SIGTERM, bounded wait; sets $svc_rc.
svc_stop() {
  local n=0
  kill -TERM "$1" 2>/dev/null
  while kill -0 "$1" 2>/dev/null && [ $n -lt $((50 * SVC_SLOW)) ]; do sleep 0.1; n=$((n + 1)); done
  kill -KILL "$1" 2>/dev/null
  wait "$1" 2>/dev/null
  svc_rc=$?
}

# hcurl ARGS...: curl to a service, TLS not checked (the tests look at the
# server's answers), bounded; prints the body, status in $T/status.
hcurl() {
  curl -sS -k --max-time $((5 * SVC_SLOW)) -o "$T/body" -w '%{http_code}' "$@" >"$T/status" 2>"$T/curl.err"
  hrc=$?
  status=$(cat "$T/status")
}

# assert_status CODE REGEX WHAT: the last hcurl got CODE and a body matching REGEX.
assert_status() {
  if [ "$status" = "$1" ] && grep -Eq -- "$2" "$T/body"; then ok; else
    fail "$3: HTTP $status (want $1), body: $(head -c 200 "$T/body")"
  fi
}

# svc_authority DIR AGENTS K WITNESSES WK: an authority in DIR (agents "a,b,c",
# threshold K) with WITNESSES witnesses w1..wN in $T/wN (WK must cosign; 0: none).
svc_authority() {
  local dir=$1 agents=$2 k=$3 nw=$4 wk=$5 i args=()
  for i in $(seq 1 "$nw"); do
    "$DOORMAT" escrow witness init --name "witness.test/w$i" -o "$T/w$i" >/dev/null || return 1
    args+=(--witness "$T/w$i/witness.vkey")
  done
  [ "$nw" -gt 0 ] && args+=(--witness-threshold "$wk")
  "$DOORMAT" escrow init --name FBI --agents "$agents" --threshold "$k" "${args[@]}" -o "$dir" >/dev/null
}

# svc_start_witness I DIR [ARGS...]: starts witness wI for DIR/authority.pub;
# adds its url: and tls: lines to DIR/authority.pub (once).
svc_start_witness() {
  local i=$1 dir=$2 pin
  shift 2
  svc_start "w$i" "$DOORMAT" escrow witness serve --key "$T/w$i/witness.key" \
    --trust "$dir/authority.pub" --state "$T/w$i/state" --listen 127.0.0.1:0 "$@" || return 1
  # The port file comes just before the line with the pin: wait for it too.
  local n=0
  while ! grep -q 'sha256//' "$T/w$i.stderr" && [ $n -lt $((50 * SVC_SLOW)) ]; do
    sleep 0.1; n=$((n + 1))
  done
  pin=$(grep -o 'sha256//[A-Za-z0-9+/=]*' "$T/w$i.stderr" | tail -1)
  sed -i "\|^url: witness.test/w$i |d; \|^tls: witness.test/w$i |d" "$dir/authority.pub"
  printf 'url: witness.test/w%s https://127.0.0.1:%s\ntls: witness.test/w%s %s\n' "$i" "$port" \
    "$i" "$pin" >>"$dir/authority.pub"
}

# svc_start_agent NAME DIR [ARGS...]: starts agent NAME of DIR on its log; adds
# or replaces its url: line in DIR/authority.pub.
svc_start_agent() {
  local a=$1 dir=$2; shift 2
  svc_start "$a" "$DOORMAT" escrow serve --authority "$dir/authority.pub" \
    --agent "$dir/agents/$a.key" --log "$dir/logs/$a" --listen 127.0.0.1:0 \
    --timeout $((10 * SVC_SLOW)) "$@" || return 1
  sed -i "\|^url: $a |d" "$dir/authority.pub"
  echo "url: $a https://127.0.0.1:$port" >>"$dir/authority.pub"
}

# svc_memo DIR [CASE]: the file most service tests release: the investigator's
# inv.key, the owner's owner.key ($owner its recipient), memo.txt escrowed to
# DIR/authority.pub as memo.age, and w.txt, a warrant for it (case CASE,
# default 26-cr-9, expiring 2099-12-31).
svc_memo() {
  local dir=$1
  run "$DOORMAT" keygen -o inv.key
  run "$DOORMAT" keygen -o owner.key
  owner=$(grep -o 'age1[0-9a-z]*' owner.key | head -1)
  printf 'the memo\n' >memo.txt
  run "$DOORMAT" encrypt -r "$owner" --escrow "$dir/authority.pub" -o memo.age memo.txt
  run "$DOORMAT" escrow warrant --court "$dir/court.key" --authority "$dir/authority.pub" \
    --case "${2:-26-cr-9}" --expires 2099-12-31 -o w.txt memo.age
}

# mkreq RECIPIENT WARRANT_FILE AGE_FILE: a release request for AGE_FILE's header,
# as the agent's /release takes it, on standard output.
mkreq() {
  local h
  h=$(python3 -c 'import sys; d=open(sys.argv[1],"rb").read(); i=d.index(b"\n---"); j=d.index(b"\n",i+1); sys.stdout.write(__import__("base64").b64encode(d[:j+1]).decode())' "$3")
  printf 'doormat-escrow-release-request/v1\nrecipient: %s\nwarrant: %s\nheader: %s\n' "$1" \
    "$(base64 -w0 "$2")" "$h"
}

# assert_gave_way CLOSED OPEN: the connection on descriptor 5 was closed by the
# service (within a second), the one on descriptor 6 stays open.
assert_gave_way() {
  timeout $((1 * SVC_SLOW)) cat <&5 >/dev/null
  assert_eq "$?" 0 "$1"
  timeout 0.3 cat <&6 >/dev/null
  assert_eq "$?" 124 "$2"
}
