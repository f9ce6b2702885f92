#!/usr/bin/env bash
# The agent service under bad input: malformed and oversized bodies, wrong
# methods, unknown paths, slow clients, a full agent, a refused
# warrant -- each a 4xx with its reason, never a crash, never a share, never
# a log entry; and the investigator's client over HTTPS, reporting agents
# that are down or refuse by name.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../service_lib.sh"
D=$DOORMAT
cd "$T" || exit 1

run "$D" escrow init --name FBI --agents doj,court,vendor --threshold 2 -o fbi
assert_exit 0 "init"
for a in doj court vendor; do
  assert_true "init writes $a's TLS key, private" test "$(stat -c %a fbi/agents/$a.tls.pem)" = 600
  assert_true "authority.pub pins $a's TLS key" grep -q "^tls: $a sha256//" fbi/authority.pub
done
pin=$(openssl x509 -in fbi/agents/doj.tls.pem -pubkey -noout | openssl pkey -pubin -outform der |
  openssl dgst -sha256 -binary | base64)
assert_true "the pin is the SHA-256 of the key's SubjectPublicKeyInfo" \
  grep -qx "tls: doj sha256//$pin" fbi/authority.pub
run "$D" escrow init --name X --agents a,b --url c=https://127.0.0.1:1 -o x
assert_fails 2 '"c" is not an agent or a witness' "init --url for an unknown agent"
run "$D" escrow init --name X --agents a,b --url a=http://127.0.0.1:1 -o x
assert_fails 2 "https://" "init --url that is not https"

run "$D" keygen -o inv.key
run "$D" keygen -o owner.key
owner=$(grep -o 'age1[0-9a-z]*' owner.key | head -1)
printf 'the memo\n' >memo.txt
run "$D" encrypt -r "$owner" --escrow fbi/authority.pub -o memo.age memo.txt
printf 'another\n' >other.txt
run "$D" encrypt -r "$owner" --escrow fbi/authority.pub -o other.age other.txt
run "$D" escrow warrant --court fbi/court.key --authority fbi/authority.pub --case 26-cr-7 \
  --expires 2099-12-31 -o w.txt memo.age
assert_exit 0 "warrant"

svc_start doj "$D" escrow serve --authority fbi/authority.pub --agent fbi/agents/doj.key \
  --log fbi/logs/doj --listen 127.0.0.1:0 --max-body 4096 --timeout $((2 * SVC_SLOW)) --max-connections 4
assert_true "agent doj starts" test -n "${doj_port:-}"
U=https://127.0.0.1:${doj_port:-1}
entries() { sed -n 2p fbi/logs/doj/checkpoint; }
before=$(entries)

hcurl "$U/"
assert_status 200 "agent doj of authority FBI" "GET /"
hcurl "$U/nowhere"
assert_status 404 "no such endpoint" "unknown path"
hcurl --path-as-is "$U/log/../authority.pub"
assert_status 404 "no such log resource" "a path out of the log"
hcurl "$U/log/.hidden"
assert_status 404 "no such log resource" "a hidden file"
hcurl "$U/release"
assert_status 405 "a release is a POST" "GET /release"
hcurl -X PUT --data x "$U/release"
assert_status 405 "a release is a POST" "PUT /release"
hcurl -X DELETE "$U/log/checkpoint"
assert_status 405 "read with GET" "DELETE /log/..."
hcurl --data-binary 'garbage' "$U/release"
assert_status 400 "not a release request" "a malformed body"
hcurl --data-binary '' "$U/release"
assert_status 400 "not a release request" "an empty body"
head -c 5000 /dev/zero | tr '\0' 'a' >big
hcurl --data-binary @big "$U/release"
assert_true "an oversized body is 413 (HTTP $status)" test "$status" = 413

# A well-formed request, then broken copies of it.
hdr_len=$(python3 -c 'import sys; d=open("memo.age","rb").read(); print(d.index(b"\n---")+d[d.index(b"\n---")+1:].index(b"\n")+2)')
inv=$(grep -o 'age1[0-9a-z]*' inv.key | head -1)
assert_true "header length known" test "$hdr_len" -gt 0
mkreq "$inv" w.txt other.age >req-other
hcurl --data-binary @req-other "$U/release"
assert_status 403 "warrant" "a warrant for another file"
mkreq "age1notarecipient" w.txt memo.age >req-badrcpt
hcurl --data-binary @req-badrcpt "$U/release"
assert_status 400 "not an age1" "a bad recipient"
mkreq "$inv" w.txt memo.age | sed 's/^warrant: ./warrant: !/' >req-badb64
hcurl --data-binary @req-badb64 "$U/release"
assert_status 400 "canonical base64" "bad base64"
{ mkreq "$inv" w.txt memo.age; echo extra; } >req-trailing
hcurl --data-binary @req-trailing "$U/release"
assert_status 400 "unexpected bytes" "bytes after the request"
sed 's/issued: /issued: 1/' w.txt >w-forged.txt
mkreq "$inv" w-forged.txt memo.age >req-forged
hcurl --data-binary @req-forged "$U/release"
assert_true "a forged warrant is a 4xx (HTTP $status)" test "$status" -ge 400 -a "$status" -lt 500
assert_true "no refusal wrote a log entry" test "$(entries)" = "$before"
assert_true "no refusal sent a share" sh -c "! grep -l '^sealed:' $T/body"

# Slow clients: a connection that sends nothing is closed after --timeout.
start=$(date +%s)
timeout $((10 * SVC_SLOW)) bash -c "exec 3<>/dev/tcp/127.0.0.1/${doj_port:-1}; cat <&3 >/dev/null"
took=$(($(date +%s) - start))
assert_true "an idle connection is closed by the agent ($took s)" test "$took" -lt $((10 * SVC_SLOW))
# ... and one that sends half a request too.
start=$(date +%s)
timeout $((10 * SVC_SLOW)) sh -c "printf 'POST /release HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc' |
  openssl s_client -quiet -connect 127.0.0.1:${doj_port:-1} >/dev/null 2>&1; true"
took=$(($(date +%s) - start))
assert_true "a half-sent body is cut off ($took s)" test "$took" -lt $((10 * SVC_SLOW))

# A full agent makes room: with 4 connections held open doing nothing (its
# --max-connections), a fifth is served, and the one that has waited longest
# is closed for it, well before the idle timeout; the others stay.
exec 5<>/dev/tcp/127.0.0.1/${doj_port:-1}
sleep 0.2
exec 6<>/dev/tcp/127.0.0.1/${doj_port:-1}
exec 7<>/dev/tcp/127.0.0.1/${doj_port:-1} 8<>/dev/tcp/127.0.0.1/${doj_port:-1}
sleep 0.2
hcurl "$U/"
assert_status 200 "agent doj" "a new connection to a full agent"
assert_gave_way "the connection that waited longest was closed to make room" "the next one stays open"
exec 5>&- 6>&- 7>&- 8>&-

# The real release, sealed to the investigator.
mkreq "$inv" w.txt memo.age >req-good
hcurl --data-binary @req-good "$U/release"
assert_status 200 "^doormat-escrow-release/v1$" "a valid release"
assert_true "the release is logged" test "$(entries)" = $((before + 1))
sed -n 's/^sealed: //p' "$T/body" | base64 -d >sealed.age
run "$D" decrypt -i inv.key -o share.txt sealed.age
assert_exit 0 "the sealed share opens with the investigator's key"
assert_true "it holds doj's share" grep -q '^agent: doj$' share.txt
assert_true "and its receipt" grep -qx 'c2sp.org/tlog-proof@v1' share.txt
run "$D" decrypt -i owner.key -o /dev/null sealed.age
assert_exit 4 "the sealed share does not open with another key"

# The client: agents down or refusing are named, fewer than k is exit 4.
{ cat fbi/authority.pub
  echo "url: doj $U"
  echo "url: court https://127.0.0.1:1"
  echo "url: vendor https://127.0.0.1:2"; } >net.pub
run "$D" escrow request --timeout $((10 * SVC_SLOW)) --authority net.pub --warrant w.txt --identity inv.key -o out.txt memo.age
assert_exit 4 "request with one agent up"
assert_true "doj's share is counted" grep -q "agent doj: share received, its receipt verified" "$T/err"
assert_true "court is named as down" grep -q "agent court: no answer: .*onnect" "$T/err"
assert_true "vendor is named as down" grep -q "agent vendor: no answer" "$T/err"
assert_true "the shortfall is said" grep -q "not enough shares: 1 good share of the 2 needed" "$T/err"
assert_absent out.txt "no output with fewer than k shares"

svc_start court "$D" escrow serve --authority fbi/authority.pub --agent fbi/agents/court.key \
  --log fbi/logs/court --listen 127.0.0.1:0
sed -i "s|^url: court .*|url: court https://127.0.0.1:${court_port:-1}|" net.pub
run "$D" escrow request --timeout $((10 * SVC_SLOW)) --authority net.pub --warrant w.txt --identity inv.key -o out.txt memo.age
assert_exit 0 "request with two agents up"
assert_same out.txt memo.txt "the file recovered over the network"
run "$D" escrow request --timeout $((10 * SVC_SLOW)) --authority net.pub --warrant w.txt --identity inv.key -o other-out.txt other.age
assert_exit 4 "a warrant for another file"
assert_true "the refusal is the agent's reason" grep -q "agent doj: refused (HTTP 403): access not authorised" "$T/err"
assert_absent other-out.txt "no output when refused"

# A wrong pin: the client refuses to talk.
sed "s|^tls: doj .*|tls: doj sha256//$(printf '%032d' 0 | base64 -w0 | head -c 43)=|" net.pub >badpin.pub
run "$D" escrow request --timeout $((10 * SVC_SLOW)) --authority badpin.pub --warrant w.txt --identity inv.key -o out2.txt memo.age
assert_true "a pin mismatch is reported" grep -q "agent doj: no answer: .*not the one authority.pub pins" "$T/err"

# A clean stop, and a log that does not verify stops the agent at start.
svc_stop "${doj_pid:-0}"
assert_true "SIGTERM: the agent exits 0 (rc $svc_rc)" test "$svc_rc" = 0
assert_true "one log line per request" grep -q 'POST /release 200 ' "$T/doj.stderr"
bundle=$(find fbi/logs/doj/tile/entries -type f | head -1)
cp "$bundle" bundle.bak
sed -i 's/requester: age1/requester: age2/' "$bundle"
run "$D" escrow serve --authority fbi/authority.pub --agent fbi/agents/doj.key --log fbi/logs/doj \
  --listen 127.0.0.1:0
assert_exit 9 "an agent on a log that does not verify"
assert_true "it says why" grep -q "transparency log is inconsistent: fbi/logs/doj: .*nothing will be released" "$T/err"
cp bundle.bak "$bundle"

run "$D" escrow serve --help
assert_exit 0 "serve --help"
assert_true "serve --help is its manual" grep -q "POST /release" "$T/out"
run "$D" escrow serve --authority fbi/authority.pub
assert_fails 2 "missing --agent" "serve without --agent"

finish
