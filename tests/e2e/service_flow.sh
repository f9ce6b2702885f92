#!/usr/bin/env bash
# The authority as running services: three agents and three witnesses
# (2-of-3 cosigning) over loopback HTTPS. The investigator recovers a file;
# the monitor reads the logs over HTTPS and lists the access; a witness
# answers tlog-witness's status codes; releases stop -- and the client says
# why -- when the witnesses are down or the disk is full; a forking agent is
# refused by the witnesses and caught by the monitor (exit 9).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../service_lib.sh"
D=$DOORMAT
cd "$T" || exit 1

assert_true "authority with 3 witnesses" svc_authority fbi doj,court,vendor 2 3 2
for i in 1 2 3; do
  svc_start_witness $i fbi
  assert_true "witness w$i starts" test -n "${port:-}"
done
for a in doj court vendor; do
  svc_start_agent $a fbi
  assert_true "agent $a starts" test -n "${port:-}"
done
assert_true "each agent's first checkpoint is cosigned at start" \
  grep -q "log at size 0, checkpoint cosigned" "$T/doj.stderr"

svc_memo fbi

run "$D" escrow request --timeout $((10 * SVC_SLOW)) --authority fbi/authority.pub --warrant w.txt --identity inv.key \
  -o out.txt memo.age
assert_exit 0 "request over HTTPS with witnesses"
assert_same out.txt memo.txt "the recovered file"
assert_true "doj's receipt verified" grep -q "agent doj: share received, its receipt verified (entry 0" "$T/err"
assert_true "vendor not asked" grep -q "agent vendor: not asked" "$T/err"

run "$D" escrow monitor --authority fbi/authority.pub --logs https --state seen memo.age
assert_exit 0 "the owner's monitor over HTTPS"
assert_true "it lists doj's access" grep -q "doj #0 file" "$T/out"
assert_true "it lists court's access" grep -q "court #0 file" "$T/out"

# An armored file: the agents get its binary header, the client decrypts it.
run "$D" encrypt -a -r "$owner" --escrow fbi/authority.pub -o memo.asc memo.txt
run "$D" escrow warrant --court fbi/court.key --authority fbi/authority.pub --case 26-cr-9a \
  --expires 2099-12-31 -o wa.txt memo.asc
run "$D" escrow request --timeout $((10 * SVC_SLOW)) --authority fbi/authority.pub --warrant wa.txt --identity inv.key \
  -o outa.txt memo.asc
assert_exit 0 "request for an armored file"
assert_same outa.txt memo.txt "the armored file recovered"
assert_true "doj logged it as entry 1" grep -q "agent doj: share received, its receipt verified (entry 1 " "$T/err"
head -c 200 memo.asc >cut.asc
run "$D" escrow request --timeout $((10 * SVC_SLOW)) --authority fbi/authority.pub --warrant wa.txt --identity inv.key \
  -o outb.txt cut.asc
assert_exit 3 "a cut armored file"
assert_absent outb.txt "no output for a cut armored file"
assert_true "and nothing of vendor" sh -c "! grep -q 'vendor #' $T/out"

# The witness endpoint: tlog-witness's status codes, with reasons.
W=https://127.0.0.1:${w1_port:-1}
size=$(sed -n 2p fbi/logs/doj/checkpoint)
awk '/^$/ {print; getline; print; exit} {print}' fbi/logs/doj/checkpoint >cp-logsig
{ printf 'old 0\n\n'; cat cp-logsig; } >req-old0
hcurl --data-binary @req-old0 "$W/add-checkpoint"
assert_status 409 "^$size\$" "add-checkpoint from an old size the witness did not cosign"
assert_true "409 is text/x.tlog.size" grep -q . "$T/body"
ctype=$(curl -sk -o /dev/null -w '%{content_type}' --data-binary @req-old0 "$W/add-checkpoint")
assert_true "409 Content-Type is text/x.tlog.size ($ctype)" test "$ctype" = text/x.tlog.size
# The log's signature with one byte of the signature proper changed.
python3 -c 'import sys,base64
t=open(sys.argv[1],"rb").read().decode().split("\n")
name,sig=t[-2].rsplit(" ",1); b=bytearray(base64.b64decode(sig)); b[10]^=1
t[-2]=name+" "+base64.b64encode(bytes(b)).decode(); sys.stdout.write("\n".join(t))' cp-logsig >cp-badsig
{ printf 'old %s\n\n' "$size"; cat cp-badsig; } >req-badsig
hcurl --data-binary @req-badsig "$W/add-checkpoint"
assert_true "a bad log signature is 403 (HTTP $status)" test "$status" = 403
{ printf 'old %s\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n' "$size"; cat cp-logsig; } >req-proof
hcurl --data-binary @req-proof "$W/add-checkpoint"
assert_true "a proof where none fits is 422 (HTTP $status)" test "$status" = 422
svc_authority other a 1 0 0
{ printf 'old 0\n\n'; cat other/logs/a/checkpoint; } >req-unknown
hcurl --data-binary @req-unknown "$W/add-checkpoint"
assert_true "an unknown log is 404 (HTTP $status)" test "$status" = 404
hcurl --data-binary 'nonsense' "$W/add-checkpoint"
assert_true "a malformed body is 400 (HTTP $status)" test "$status" = 400
hcurl "$W/add-checkpoint"
assert_status 405 "is a POST" "GET /add-checkpoint"
hcurl "$W/elsewhere"
assert_status 404 "no such endpoint" "witness: unknown path"

# Two witnesses down: the release is logged but not released; the client says why.
# (Another investigator: the same request again would get its entry back.)
before=$(sed -n 2p fbi/logs/doj/checkpoint)
svc_stop "${w2_pid:-0}"
svc_stop "${w3_pid:-0}"
run "$D" keygen -o inv2.key
run "$D" escrow request --timeout $((10 * SVC_SLOW)) --authority fbi/authority.pub --warrant w.txt --identity inv2.key \
  -o out2.txt memo.age
assert_exit 4 "request with 2 of 3 witnesses down"
assert_true "the client names the refusal" \
  grep -q "agent doj: refused (HTTP 503): .*1 of the witnesses cosigned.*needs 2" "$T/err"
assert_true "and the witness that was down" grep -q "agent doj: .*no answer" "$T/err"
assert_absent out2.txt "no output without the cosignatures"
after=$(sed -n 2p fbi/logs/doj/checkpoint)
assert_true "the refused release is still in the log ($before -> $after)" test "$after" -gt "$before"
svc_start_witness 2 fbi
svc_start_witness 3 fbi
# The agents read authority.pub at start: restart them to learn the new witness ports.
for a in doj court vendor; do svc_stop "$(eval echo \${${a}_pid})"; svc_start_agent $a fbi; done
after=$(sed -n 2p fbi/logs/doj/checkpoint)
run "$D" escrow request --timeout $((10 * SVC_SLOW)) --authority fbi/authority.pub --warrant w.txt --identity inv2.key \
  -o out3.txt memo.age
assert_exit 0 "witnesses back: released again"
assert_true "the retried request got its entry, not a new one" \
  test "$(sed -n 2p fbi/logs/doj/checkpoint)" = "$after"

# A full disk: the agent's files may not grow past 2 KiB (RLIMIT_FSIZE).
svc_stop "${doj_pid:-0}"
( ulimit -f 2
  exec "$D" escrow serve --authority fbi/authority.pub --agent fbi/agents/doj.key --log fbi/logs/doj \
    --listen 127.0.0.1:0 --port-file "$T/full.port" 2> >(cat >>"$T/full.stderr") ) &
SVC_PIDS+=("$!")
full_pid=$!
port=$(svc_wait_port "$T/full.port" "$full_pid")
sed -i "\|^url: doj |d" fbi/authority.pub
echo "url: doj https://127.0.0.1:$port" >>fbi/authority.pub
n=0; full=0
while [ $n -lt 12 ] && [ $full = 0 ]; do
  # A new investigator each time: a new entry each time.
  run "$D" keygen -o "inv-full$n.key"
  run "$D" escrow request --timeout $((10 * SVC_SLOW)) --authority fbi/authority.pub --warrant w.txt \
    --identity "inv-full$n.key" -o out4.txt memo.age
  grep -q "agent doj: refused (HTTP 507): .*cannot be written" "$T/err" && full=1
  n=$((n + 1))
done
assert_true "a full disk is refused with a reason (507) after $n requests" test $full = 1
assert_true "the client got no share from doj then" sh -c "! grep -q 'agent doj: share received' $T/err"
svc_stop "$full_pid"
run "$D" escrow audit verify --authority fbi/authority.pub fbi/logs/doj
assert_exit 0 "the log verifies after the full disk"
svc_start_agent doj fbi
assert_true "the agent starts again on that log" test -n "${port:-}"

# A forking agent: a copy of doj's log, extended with other entries by a
# second doj process, is refused by the witnesses and caught by the monitor.
run "$D" escrow monitor --authority fbi/authority.pub --logs https --state seen
assert_exit 0 "monitor before the fork"
svc_stop "${doj_pid:-0}"
cp -r fbi/logs/doj forked
svc_start_agent doj fbi
run "$D" keygen -o inv5.key
run "$D" escrow request --timeout $((10 * SVC_SLOW)) --authority fbi/authority.pub --warrant w.txt --identity inv5.key \
  -o out5.txt memo.age
assert_exit 0 "the honest agent goes on"
cp fbi/authority.pub fork.pub
svc_start fork "$D" escrow serve --authority fbi/authority.pub --agent fbi/agents/doj.key \
  --log forked --listen 127.0.0.1:0
sed -i "\|^url: doj |d" fork.pub
echo "url: doj https://127.0.0.1:${fork_port:-1}" >>fork.pub
# Another case, so that the fork's entry differs from the honest one even
# within the same second (an identical entry would give the same root: no fork).
run "$D" escrow warrant --court fbi/court.key --authority fbi/authority.pub --case 26-cr-10 \
  --expires 2099-12-31 -o w2.txt memo.age
run "$D" escrow request --timeout $((10 * SVC_SLOW)) --authority fork.pub --warrant w2.txt --identity inv.key -o out6.txt memo.age
assert_true "the fork's log and the honest one have one size" \
  test "$(sed -n 2p forked/checkpoint)" = "$(sed -n 2p fbi/logs/doj/checkpoint)"
assert_true "and two roots" \
  test "$(sed -n 3p forked/checkpoint)" != "$(sed -n 3p fbi/logs/doj/checkpoint)"
assert_true "the witnesses refuse the fork's checkpoint" \
  grep -q "agent doj: refused (HTTP 503): .*witness" "$T/err"
assert_true "the witnesses say why" grep -q "POST /add-checkpoint 4[02][29]" "$T/w1.stderr"
run "$D" escrow monitor --authority fork.pub --logs https --state seen
assert_exit 9 "the monitor catches the forked log"
assert_true "and says which" grep -q "log of agent doj" "$T/err"

svc_stop_all
finish
