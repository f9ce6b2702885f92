#!/usr/bin/env bash
# bench/service.sh: releases per second of one escrow agent over loopback
# HTTPS, keep-alive, durable logging, 2-of-3 witness cosigning, at 1, 8 and
# 64 concurrent clients (bench/service_load.c); median and 99th-percentile
# latency; CPU per release and where the agent's time goes. Not a test: the
# figures are recorded in docs/benchmarks.md. With SERVICE_PROFILE=1 (and
# perf installed), the agent is profiled at the highest level and its CPU
# split by part of a release: TLS, parsing, warrant check, unwrap, log, fsync,
# witnesses, receipt, sealing.
#   bench/service.sh BUILD_DIR [SECONDS] [CLIENTS...]     (make bench-service)
set -u
build=${1:?usage: bench/service.sh BUILD_DIR [SECONDS] [CLIENTS...]}
secs=${2:-10}
shift 2 2>/dev/null || shift $#
levels=${*:-1 8 64}
D=$(cd "$build" && pwd)/doormat
LOAD=$(cd "$build" && pwd)/bench/service_load
T=$(mktemp -d "${TMPDIR:-/tmp}/doormat-bench-service.XXXXXX")
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
  sleep 0.5
  for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
cd "$T" || exit 1

wait_port() { local n=0; while [ ! -s "$1" ] && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done; cat "$1"; }
cpu_of() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
tck=$(getconf CLK_TCK)

for i in 1 2 3; do "$D" escrow witness init --name "witness.bench/w$i" -o "w$i" >/dev/null; done
"$D" escrow init --name FBI --agents doj,court,vendor --threshold 2 --witness w1/witness.vkey \
  --witness w2/witness.vkey --witness w3/witness.vkey --witness-threshold 2 -o fbi >/dev/null
WPIDS=()
for i in 1 2 3; do
  "$D" escrow witness serve --key "w$i/witness.key" --trust fbi/authority.pub --state "w$i/state" \
    --listen 127.0.0.1:0 --port-file "w$i.port" --log-file /dev/null 2>"w$i.err" &
  PIDS+=("$!"); WPIDS+=("$!")
  p=$(wait_port "w$i.port")
  sleep 0.2
  pin=$(grep -o 'sha256//[A-Za-z0-9+/=]*' "w$i.err" | head -1)
  [ -n "$pin" ] || pin=$(openssl x509 -in "w$i/witness.tls.pem" -pubkey -noout |
    openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64 | sed 's|^|sha256//|')
  printf 'url: witness.bench/w%s https://127.0.0.1:%s\ntls: witness.bench/w%s %s\n' "$i" "$p" "$i" "$pin" >>fbi/authority.pub
done
"$D" keygen -o inv.key 2>/dev/null
inv=$(grep -o 'age1[0-9a-z]*' inv.key | head -1)
printf 'the memo\n' >memo.txt
"$D" encrypt -r "$inv" --escrow fbi/authority.pub -o memo.age memo.txt
"$D" escrow warrant --court fbi/court.key --authority fbi/authority.pub --case bench \
  --expires 2099-12-31 -o w.txt memo.age
python3 - "$inv" <<'PY' >req
import base64, sys
d = open("memo.age", "rb").read(); i = d.index(b"\n---"); j = d.index(b"\n", i + 1)
w = open("w.txt", "rb").read()
sys.stdout.write("doormat-escrow-release-request/v1\nrecipient: %s\nwarrant: %s\nheader: %s\n" % (
    sys.argv[1], base64.b64encode(w).decode(), base64.b64encode(d[:j + 1]).decode()))
PY
pin=$(grep '^tls: doj ' fbi/authority.pub | cut -d' ' -f3)
# A recipient of its own for every request: the agent gives a request it has
# seen (same warrant, file and recipient) its earlier entry, so identical
# requests would measure a lookup, not a release. Fresh X25519 keys (python3-
# cryptography), Bech32 as age writes them; more than any level can use.
python3 - $((4000 * secs * $(echo $levels | wc -w))) <<'PY' >recipients
import sys
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives import serialization
CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
def polymod(values):
    gen = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3]
    chk = 1
    for v in values:
        b = chk >> 25
        chk = (chk & 0x1ffffff) << 5 ^ v
        for i in range(5):
            chk ^= gen[i] if ((b >> i) & 1) else 0
    return chk
def bech32(hrp, data):
    acc = bits = 0; five = []
    for b in data:
        acc = (acc << 8) | b; bits += 8
        while bits >= 5:
            bits -= 5; five.append((acc >> bits) & 31)
    if bits: five.append((acc << (5 - bits)) & 31)
    hrpx = [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]
    pm = polymod(hrpx + five + [0] * 6) ^ 1
    return hrp + "1" + "".join(CHARSET[d] for d in five + [(pm >> 5 * (5 - i)) & 31 for i in range(6)])
raw = serialization.Encoding.Raw, serialization.PublicFormat.Raw
out = sys.stdout
for _ in range(int(sys.argv[1])):
    out.write(bech32("age", X25519PrivateKey.generate().public_key().public_bytes(*raw)) + "\n")
PY

echo "# bench/service.sh: $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), ${secs}s per level"
echo "| clients | releases/s | p50 ms | p90 ms | p99 ms | max ms | failed | commits | agent CPU ms/release | witnesses CPU ms/release |"
echo "|---|---|---|---|---|---|---|---|---|---|"
top=$(echo $levels | tr ' ' '\n' | sort -n | tail -1)
for c in $levels; do
  rm -f doj.port
  "$D" escrow serve --authority fbi/authority.pub --agent fbi/agents/doj.key --log fbi/logs/doj \
    --listen 127.0.0.1:0 --port-file doj.port --max-connections 1024 \
    --max-per-address 1024 --log-file "doj.$c.err" 2>/dev/null &
  apid=$!; PIDS+=("$apid")
  p=$(wait_port doj.port)
  sleep 0.3
  a0=$(cpu_of "$apid"); w0=0; for w in "${WPIDS[@]}"; do w0=$((w0 + $(cpu_of "$w"))); done
  prof_pid=""
  if [ -n "${SERVICE_PROFILE:-}" ] && [ "$c" = "$top" ] && command -v perf >/dev/null; then
    # The agent's CPU by function (call graphs), over the middle of the run.
    ( sleep 1; perf record -q -F 999 --call-graph dwarf,16384 -p "$apid" -o "$T/perf.data" \
        -- sleep $((secs > 3 ? secs - 2 : 1)) >/dev/null 2>&1 ) &
    prof_pid=$!
  fi
  # Each level its own recipients (the log remembers the requests of the last).
  n_rec=$((4000 * secs)); lvl=$(( ${lvl:-0} + 1 ))
  sed -n "$(( (lvl - 1) * n_rec + 1 )),$(( lvl * n_rec ))p" recipients >"recipients.$c"
  line=$("$LOAD" "https://127.0.0.1:$p/release" "$pin" req "$c" "$secs" "recipients.$c")
  [ -n "$prof_pid" ] && wait "$prof_pid"
  a1=$(cpu_of "$apid"); w1=0; for w in "${WPIDS[@]}"; do w1=$((w1 + $(cpu_of "$w"))); done
  kill -TERM "$apid"; wait "$apid"
  ok=$(echo "$line" | awk '{print $6}')
  commits=$(grep -o '[0-9]* commits' "doj.$c.err" | awk '{print $1}')
  awk -v l="$line" -v a=$((a1 - a0)) -v w=$((w1 - w0)) -v ok="$ok" -v t="$tck" -v cm="$commits" 'BEGIN {
    split(l, f, " "); ok = ok > 0 ? ok : 1
    printf "| %s | %.0f | %.1f | %.1f | %.1f | %.1f | %s | %s | %.3f | %.3f |\n",
      f[2], f[12], f[14], f[16], f[18], f[20], f[8], cm, a * 1000 / t / ok, w * 1000 / t / ok }'
  grep 'seconds: cpu' "doj.$c.err" | sed "s/^/    ($c clients) /" >>phases
  [ "$c" = "$top" ] && top_ms=$(awk -v a=$((a1 - a0)) -v t="$tck" -v ok="$ok" 'BEGIN {
    ok = ok > 0 ? ok : 1; printf "%.4f", a * 1000 / t / ok }')
done
echo
echo "Where the agent's time went (seconds over each run; the rest of its CPU is TLS, HTTP and the event loop):"
cat phases

if [ -s "$T/perf.data" ]; then
  # Inclusive shares of the agent's samples, by the function that does each
  # part of a release; microseconds per release from the CPU measured above.
  perf report -i "$T/perf.data" --children --sort symbol --stdio -g none 2>/dev/null |
    awk -v ms="${top_ms:-0}" -v c="$top" '
    /^ +[0-9.]+%/ { pct = $1; sub("%", "", pct); name = $4
      if (!(name in p) || pct + 0 > p[name]) p[name] = pct + 0 }
    function g(n) { return (n in p) ? p[n] : 0 }
    function row(what, v) { printf "| %s | %.1f | %.0f |\n", what, v, v * ms * 10; sum += v }
    END {
      printf "\nWhere the agent'"'"'s CPU went at %s clients (perf, call graphs; %% of its samples, us per release):\n\n", c
      print "| part | % of CPU | us/release |"; print "|---|---|---|"
      row("TLS (SSL_read, SSL_write)", g("SSL_read") + g("SSL_write"))
      row("request parsing (body, header, warrant text)", g("dm_svc_release_req_parse") + g("dm_header_parse") + g("dm_escrow_warrant_parse"))
      row("warrant check (court signature, dates, file)", g("dm_escrow_warrant_check"))
      row("unwrap (the share for this file)", g("dm_escrow_share_prepare") - g("dm_escrow_warrant_check"))
      row("log entry and append", g("dm_escrow_release_add") - g("dm_escrow_share_prepare"))
      row("commit: tiles, checkpoint, signature", g("dm_tlog_log_commit") - g("__x64_sys_fsync"))
      row("fsync", g("__x64_sys_fsync"))
      row("witnesses (curl transfers, their TLS also counted above; requests, checking cosignatures)", g("curl_multi_socket_action") + g("curl_multi_add_handle") + g("dm_escrow_round_new") + g("dm_escrow_round_request") + g("dm_escrow_round_answer") + g("dm_escrow_round_finish"))
      row("receipt (inclusion proof)", g("dm_escrow_release_receipt"))
      row("sealing the share to the requester (age)", g("dm_encrypt"))
      rest = 100 - sum
      printf "| the rest: event loop, HTTP, allocation, samples without a whole call graph | %.1f | %.0f |\n", rest, rest * ms * 10
    }'
fi