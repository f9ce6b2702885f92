#!/usr/bin/env bash
# HTTP framing at the services' door (issue 18, section 5): where a request
# ends must never be in doubt (conflicting Content-Length headers, an unknown
# Transfer-Encoding, or both framings: 400 and the connection closed, nothing
# after it served), and a request refused for its size gets its answer even
# while the client is still sending (a lingering close, not a reset).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../service_lib.sh"
D=$DOORMAT
RAW=$(cd "$(dirname "$0")/.." && pwd)/raw_https.py
cd "$T" || exit 1

ROUNDS=10
if [ "${DOORMAT_MEMCHECK:-}" = 1 ]; then ROUNDS=2; fi

run "$D" escrow init --name FBI --agents doj,court --threshold 2 -o fbi
assert_exit 0 "init"
svc_start doj "$D" escrow serve --authority fbi/authority.pub --agent fbi/agents/doj.key \
  --log fbi/logs/doj --listen 127.0.0.1:0
assert_true "agent doj starts" test -n "${doj_port:-}"
P=${doj_port:-1}

# raw NAME: sends $T/NAME raw; $answers is the status codes then how it ended.
raw() {
  answers=$(python3 "$RAW" "$P" "$1" $((10 * SVC_SLOW)) | tr '\n' ' ')
  answers=${answers% }
}

# Two Content-Length headers that disagree: a request-smuggling shape. The
# first says the body is "hello"; the second that it also holds a GET.
printf 'POST /release HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 31\r\n\r\nhelloGET / HTTP/1.1\r\nHost: x\r\n\r\n' >cl2
raw cl2
assert_eq "$answers" "400 closed" "conflicting Content-Length: one 400, then closed"
assert_true "it says why" grep -q "conflicting Content-Length headers" cl2.body
# The other order: the longer first (libevent reads by the first).
printf 'POST /release HTTP/1.1\r\nHost: x\r\nContent-Length: 31\r\nContent-Length: 5\r\n\r\nhelloGET / HTTP/1.1\r\nHost: x\r\n\r\n' >cl2b
raw cl2b
assert_eq "$answers" "400 closed" "conflicting Content-Length, longer first"
# The same length twice is one length: served (here 404, POST / is no endpoint).
printf 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello' >cl-same
raw cl-same
assert_eq "$answers" "404 closed" "the same Content-Length twice"
# Both framings at once, and a coding libevent does not read.
printf 'POST /release HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n' >te-cl
raw te-cl
assert_eq "$answers" "400 closed" "Transfer-Encoding and Content-Length"
printf 'POST /release HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\nContent-Length: 5\r\n\r\nhello' >te-gzip
raw te-gzip
assert_eq "$answers" "400 closed" "Transfer-Encoding gzip"
printf 'POST /release HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n' >te2
raw te2
assert_eq "$answers" "400 closed" "Transfer-Encoding twice"
# A plain chunked request still works (404: POST / is no endpoint).
printf 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n' >chunked
raw chunked
assert_eq "$answers" "404 closed" "a chunked body"

# A 100 KiB request line: 400, every time, though the client is still
# sending when the agent has read enough to refuse it.
long=$(head -c 102400 /dev/zero | tr '\0' a)
good=0
for i in $(seq 1 "$ROUNDS"); do
  code=$(curl -sk --max-time $((5 * SVC_SLOW)) -o /dev/null -w '%{http_code}' "https://127.0.0.1:$P/$long")
  [ "$code" = 400 ] && good=$((good + 1))
done
assert_eq "$good" "$ROUNDS" "a 100 KiB request line is answered 400 every time"
{ printf 'GET /'; printf '%s' "$long"; printf ' HTTP/1.1\r\nHost: x\r\n\r\n'; } >longline
raw longline
assert_eq "$answers" "400 closed" "a 100 KiB request line, raw"
# A 64 KiB header: 400 too.
{ printf 'GET / HTTP/1.1\r\nHost: x\r\nX-Big: '; head -c 65536 /dev/zero | tr '\0' a; printf '\r\n\r\n'; } >bighdr
raw bighdr
assert_eq "$answers" "400 closed" "a 64 KiB header"
# A 64 KiB trailer: it belongs to the chunked body, and libevent answers it
# 413, the status of a body too large; the answer arrives.
{ printf 'POST /release HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-T: '
  head -c 65536 /dev/zero | tr '\0' a; printf '\r\n\r\n'; } >trailer
good=0
for i in $(seq 1 $((ROUNDS / 2))); do
  raw trailer
  [ "$answers" = "413 closed" ] && good=$((good + 1))
done
assert_eq "$good" $((ROUNDS / 2)) "a 64 KiB trailer is answered 413 every time"
# A body over --max-body, sent whole: 413, read to its end first.
{ printf 'POST /release HTTP/1.1\r\nHost: x\r\nContent-Length: 200000\r\n\r\n'; head -c 200000 /dev/zero; } >bigbody
raw bigbody
assert_eq "$answers" "413 closed" "a body over --max-body"

hcurl "https://127.0.0.1:$P/"
assert_status 200 "agent doj" "the agent still serves"
svc_stop "${doj_pid:-0}"
assert_eq "$svc_rc" 0 "the agent stops cleanly"
assert_true "the smuggling shape is logged as refused" \
  grep -q "POST /release 400 [0-9]* conflicting Content-Length headers" "$T/doj.stderr"

finish
