#!/usr/bin/env bash
# Publishing a log is serving its directory. A stock lighttpd from Debian,
# configured by deploy/lighttpd/doormat-logs.conf.in (the configuration
# docs/operating.md shows, "Publishing a log"), serves an authority's logs
# over HTTPS on 127.0.0.1 with a self-signed certificate, and
# `escrow monitor --logs https://127.0.0.1:PORT/ --logs-ca cert.pem` verifies
# them as it verifies the directory: the same listing, byte for byte, and the
# same --state. A tampered tile on the server, or an older copy served after
# the monitor kept a newer checkpoint, is exit 9; a certificate not
# trusted is exit 8, one line; an agent's directory missing (404) is exit 1,
# one line; a URL that is not https:// (plain http:// included) is exit 2.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../service_lib.sh"
D=$DOORMAT
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
CONF_IN=$ROOT/deploy/lighttpd/doormat-logs.conf.in
need_tools lighttpd openssl curl python3
cd "$T" || exit 1

# ---- the configuration in the guide is the one tested here (its example
# paths and port put back as the template's @PLACEHOLDERS@)
awk '/^# lighttpd publishing the logs/{p=1} /^```$/{if(p)exit} p{print}' "$ROOT/docs/operating.md" |
  sed 's|/srv/doormat/logs|@LOGS@|g; s|"0.0.0.0"|"@ADDRESS@"|; s|^server.port = 443$|server.port = @PORT@|;
       s|/etc/lighttpd/logs.example.pem|@PEMFILE@|' >guide.conf
assert_same guide.conf "$CONF_IN" "docs/operating.md shows deploy/lighttpd/doormat-logs.conf.in as it is"

# ---- an authority of three agents and a witness; releases cosigned in-process
witnessed_authority /dev/null memo.age
release() { logged_release memo.age "$@"; } # AGENT N
release doj 1
release doj 2
release vendor 1

# ---- a self-signed certificate for 127.0.0.1, and lighttpd on a free port
run openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
  -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 -keyout key.pem -out cert.pem
assert_exit 0 "openssl makes a self-signed certificate"
cat cert.pem key.pem >server.pem
chmod 600 server.pem key.pem

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
# serve DOCROOT: (re)starts lighttpd serving DOCROOT (stopped by the EXIT
# trap whatever happens); sets $web_port, or returns 1. A port taken between
# free_port and lighttpd's bind is tried again, at most 5 times; each start
# waits at most 5 s (50 s under valgrind) for an answer.
web_pid=
serve() {
  local try n
  [ -n "$web_pid" ] && svc_stop "$web_pid"
  web_pid=
  for try in 1 2 3 4 5; do
    web_port=$(free_port) || return 1
    sed "s|@LOGS@|$1|; s|@ADDRESS@|127.0.0.1|; s|@PORT@|$web_port|; s|@PEMFILE@|$T/server.pem|" \
      "$CONF_IN" >lighttpd.conf
    lighttpd -D -f lighttpd.conf 2>>lighttpd.stderr &
    web_pid=$!
    SVC_PIDS+=("$web_pid")
    n=0
    while kill -0 "$web_pid" 2>/dev/null && [ $n -lt $((50 * SVC_SLOW)) ]; do
      if curl -s -o /dev/null --max-time 2 --cacert cert.pem "https://127.0.0.1:$web_port/"; then
        return 0
      fi
      sleep 0.1; n=$((n + 1))
    done
    svc_stop "$web_pid"
    web_pid=
  done
  return 1
}

sed "s|@LOGS@|$T/fbi/logs|; s|@ADDRESS@|127.0.0.1|; s|@PORT@|1|; s|@PEMFILE@|$T/server.pem|" \
  "$CONF_IN" >check.conf
run lighttpd -tt -f check.conf
assert_exit 0 "lighttpd accepts the configuration (lighttpd -tt)"
assert_true "lighttpd starts, serving fbi/logs" serve "$T/fbi/logs"
URL=https://127.0.0.1:$web_port/

# What the server serves: a log's files, with the cache headers the guide
# gives; not the agent's lock file.
head_of() { curl -sS -I --max-time 5 --cacert cert.pem "$URL$1" | tr -d '\r' >head.txt; }
head_of doj/checkpoint
assert_true "the checkpoint is served, not cached" grep -qx 'cache-control: no-cache' head.txt
head_of doj/tile/0/000.p/2
assert_true "a tile is served, cached for good" \
  grep -qx 'cache-control: public, max-age=31536000, immutable' head.txt
head_of doj/lock
assert_true "the agent's lock file is not served" grep -q '^HTTP/[0-9.]* 403' head.txt
curl -sS --max-time 5 --cacert cert.pem -o served.cp "${URL}doj/checkpoint"
assert_same served.cp fbi/logs/doj/checkpoint "the checkpoint is served as it is"

# ---- the monitor over HTTPS lists what it lists from the directory
run "$D" escrow monitor --authority fbi/authority.pub
assert_exit 0 "the monitor over the directory"
cp "$T/out" dir.out
assert_eq "$(grep -c ' doj #\| vendor #' dir.out)" 3 "three releases listed"
run "$D" escrow monitor --authority fbi/authority.pub --logs "$URL" --logs-ca cert.pem
assert_exit 0 "the monitor over https://, the self-signed certificate given"
assert_no_stderr "nothing on stderr"
assert_same "$T/out" dir.out "the same listing from the web server as from the directory"
run "$D" escrow monitor --authority fbi/authority.pub --logs "${URL%/}" --logs-ca cert.pem
assert_same "$T/out" dir.out "the URL without its trailing slash"

# --state is the same whatever the source: kept from the directory, caught up
# over HTTPS after one more release.
run "$D" escrow monitor --authority fbi/authority.pub --state st
assert_exit 0 "the monitor keeps its state from the directory"
cp -r fbi/logs before3
release doj 3
run "$D" escrow monitor --authority fbi/authority.pub --logs "$URL" --logs-ca cert.pem --state st
assert_exit 0 "caught up over https:// from the kept state"
assert_true "the new release is listed" grep -q ' doj #2 .* requester SA 3$' "$T/out"
assert_true "consistent with the kept size" \
  grep -qx 'log doj: OK at size 3, consistent with the kept size 2 (1 new entry, 1 listed)' "$T/out"

# ---- a certificate not trusted: one line, exit 8, whatever the number of logs
run "$D" escrow monitor --authority fbi/authority.pub --logs "$URL"
assert_fails 8 "log of agent doj: .*https://127.0.0.1:$web_port/doj/checkpoint: the server's certificate is not trusted \(the system's certificate authorities\): .*self-signed" \
  "without --logs-ca, the self-signed certificate"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=other \
  -keyout other.key -out other.pem 2>/dev/null
run "$D" escrow monitor --authority fbi/authority.pub --logs "$URL" --logs-ca other.pem
assert_fails 8 "the server's certificate is not trusted \(other.pem\)" "another CA's certificate"
run "$D" escrow monitor --authority fbi/authority.pub --logs "https://localhost:$web_port/" \
  --logs-ca cert.pem
assert_fails 8 "not trusted \(cert.pem\): .*localhost" "a name the certificate does not hold"

# ---- a tampered tile on the server: exit 9, one line, the other logs still read
cp -r fbi/logs tampered
tile=tampered/doj/tile/entries/000.p/3
put_byte "$tile" 200 $(($(get_byte "$tile" 200) ^ 1))
assert_true "lighttpd serves the tampered copy" serve "$T/tampered"
URL=https://127.0.0.1:$web_port/
run "$D" escrow monitor --authority fbi/authority.pub --logs tampered
assert_fails 9 "log of agent doj: " "the tampered copy as a directory"
cp "$T/out" tampered-dir.out
run "$D" escrow monitor --authority fbi/authority.pub --logs "$URL" --logs-ca cert.pem
assert_fails 9 "log of agent doj: " "the tampered copy over https://"
assert_same "$T/out" tampered-dir.out "the same output as from the directory"
assert_true "the other logs are verified" grep -qx 'log vendor: OK at size 1, verified from nothing (1 listed)' "$T/out"
cp -r fbi/logs tampered2
tile=tampered2/vendor/tile/0/000.p/1
put_byte "$tile" 5 $(($(get_byte "$tile" 5) ^ 128))
assert_true "lighttpd serves a copy with a hash tile tampered" serve "$T/tampered2"
run "$D" escrow monitor --authority fbi/authority.pub --logs "https://127.0.0.1:$web_port/" \
  --logs-ca cert.pem
assert_fails 9 "log of agent vendor: " "a tampered hash tile over https://"

# ---- a server that goes back to an older copy: a rollback against --state
assert_true "lighttpd serves the copy taken before release 3" serve "$T/before3"
cp -r st st-rollback
run "$D" escrow monitor --authority fbi/authority.pub --logs "https://127.0.0.1:$web_port/" \
  --logs-ca cert.pem --state st-rollback
assert_fails 9 "log of agent doj: .*rollback" "an older copy served after a newer one was seen"
assert_true "the kept state is not moved back" diff -r st st-rollback

# ---- an agent's directory missing: 404, one line, exit 1
cp -r fbi/logs partial
rm -r partial/court
: >partial/doj/checkpoint.new
: >partial/doj/tile/0/000.p/3.tmp
assert_true "lighttpd serves a copy without court's log" serve "$T/partial"
URL=https://127.0.0.1:$web_port/
for f in doj/checkpoint.new doj/tile/0/000.p/3.tmp doj/ doj/tile/0/000.p/; do
  head_of "$f"
  assert_true "$f is not served" grep -q '^HTTP/[0-9.]* 403' head.txt
done
run "$D" escrow monitor --authority fbi/authority.pub --logs "$URL" --logs-ca cert.pem
assert_fails 1 "log of agent court: input/output error: https://127.0.0.1:$web_port/court/checkpoint: not found \(HTTP 404\)$" \
  "court's log not published"
assert_eq "$(grep -c '^log ' "$T/out")" 2 "the two other logs are verified"
run "$D" escrow monitor --authority fbi/authority.pub --logs "${URL}nothing/here/" --logs-ca cert.pem
assert_exit 1 "a path with no logs under it"
assert_eq "$(wc -l <"$T/err")" 3 "one line per log"

# ---- no server at all: exit 1, one line per log
svc_stop "$web_pid"
web_pid=
run "$D" escrow monitor --authority fbi/authority.pub --logs "$URL" --logs-ca cert.pem
assert_exit 1 "the server stopped"
assert_true "connection refused, said for doj" grep -q "log of agent doj: input/output error: .*127.0.0.1" "$T/err"

# ---- what is not a published log's URL: exit 2 before anything is read
for bad in "http://127.0.0.1:$web_port/" "https://" "https:///logs" "https://127.0.0.1/logs?x=1" \
  "https://127.0.0.1/logs#top" "https://127.0.0.1/a b" "ftp://127.0.0.1/logs" "https://[::1/"; do
  run "$D" escrow monitor --authority fbi/authority.pub --logs "$bad"
  assert_fails 2 "escrow monitor: --logs: invalid argument: " "--logs $bad"
done
run "$D" escrow monitor --authority fbi/authority.pub --logs "http://127.0.0.1:$web_port/"
assert_fails 2 "plain http:// is refused" "plain http:// says why"
run "$D" escrow monitor --authority fbi/authority.pub --logs-ca cert.pem
assert_fails 2 "escrow monitor: --logs-ca applies to --logs https://URL only" "--logs-ca without a URL"
run "$D" escrow monitor --authority fbi/authority.pub --logs https --logs-ca cert.pem
assert_fails 2 "--logs-ca applies to --logs https://URL only" "--logs-ca with the agents' own HTTPS"
run "$D" escrow monitor --authority fbi/authority.pub --logs "https://127.0.0.1:1/" --logs-ca nothing.pem
assert_fails 1 "escrow monitor: --logs / --logs-ca: input/output error: CA file nothing.pem: cannot be read$" \
  "a CA file that is not there"
run "$D" escrow monitor --authority fbi/authority.pub --logs "https://127.0.0.1:1/" --logs-ca w.txt
assert_fails 1 "CA file w.txt: no PEM certificate in it$" "a CA file without a certificate"
run "$D" escrow monitor --authority fbi/authority.pub --logs "https://127.0.0.1:1/" \
  --logs-ca cert.pem --logs-ca cert.pem
assert_fails 2 "escrow monitor: --logs-ca given twice$" "--logs-ca twice"

finish
