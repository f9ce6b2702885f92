#!/usr/bin/env bash
# The services' metrics and health port (--metrics-listen, plain HTTP on
# loopback): Prometheus text format that a scraper parses (every sample line
# NAME{LABELS} VALUE, HELP and TYPE before each family); an agent's releases,
# refusals by reason, answer-time histogram, log size, checkpoint age and
# witness failures by witness move as the service works; /healthz says ok, and
# 503 with why while the checkpoint lacks its witnesses; a witness's
# cosignatures counted; bad --metrics-listen refused. Loopback only, bounded.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../service_lib.sh"
D=$DOORMAT
cd "$T" || exit 1
command -v curl >/dev/null || { echo "service_metrics.sh: curl is missing (make deps)" >&2; exit 1; }

# scrape PORT PATH: GET over plain HTTP; body in $T/scrape, status in $code.
scrape() {
  code=$(curl -sS --max-time $((5 * SVC_SLOW)) -o "$T/scrape" -w '%{http_code}' "http://127.0.0.1:$1$2" 2>"$T/scrape.err")
}
# metric NAME_AND_LABELS: its value in the last scrape (empty when absent).
metric() {
  awk -v k="$1 " 'index($0, k) == 1 { print $NF; exit }' "$T/scrape"
}
# well_formed: every line is a comment (# HELP / # TYPE) or NAME[{...}] VALUE,
# and every family has a TYPE line before its samples.
well_formed() {
  python3 - "$T/scrape" <<'PY'
import re, sys
typed = set()
bad = []
for n, line in enumerate(open(sys.argv[1]), 1):
    line = line.rstrip("\n")
    m = re.match(r"# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$", line)
    if m:
        typed.add(m.group(1)); continue
    if re.match(r"# HELP [a-zA-Z_:][a-zA-Z0-9_:]* .+$", line):
        continue
    m = re.match(r'([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\})? (-?[0-9.e+]+|\+Inf|NaN)$', line)
    if not m:
        bad.append("%d: %s" % (n, line)); continue
    fam = re.sub(r"_(bucket|sum|count)$", "", m.group(1))
    if m.group(1) not in typed and fam not in typed:
        bad.append("%d: no TYPE before %s" % (n, m.group(1)))
print("\n".join(bad))
sys.exit(1 if bad else 0)
PY
}

svc_authority fbi doj 1 2 2 || { fail "authority"; finish; }
svc_start_witness 1 fbi --metrics-listen 127.0.0.1:0 --metrics-port-file "$T/w1.mport"
assert_true "witness w1 starts" test -n "${w1_port:-}"
svc_start_witness 2 fbi
svc_start_agent doj fbi --witness-timeout $((2 * SVC_SLOW)) --metrics-listen 127.0.0.1:0 \
  --metrics-port-file "$T/doj.mport"
assert_true "agent doj starts" test -n "${doj_port:-}"
M=$(cat "$T/doj.mport" 2>/dev/null)
WM=$(cat "$T/w1.mport" 2>/dev/null)
assert_true "the metrics port file is written" test -n "$M"
assert_true "the start line names the metrics port" grep -q "agent doj: metrics on http://127.0.0.1:$M/metrics" "$T/doj.stderr"

# ---- before any release
scrape "$M" /metrics
assert_eq "$code" 200 "GET /metrics"
assert_true "the page is Prometheus text format: $(well_formed 2>&1 | head -3)" well_formed
assert_eq "$(metric 'doormat_up{service="agent doj"}')" 1 "doormat_up"
assert_eq "$(metric doormat_releases_total)" 0 "no release yet"
assert_eq "$(metric doormat_log_entries)" 0 "an empty log"
assert_eq "$(metric doormat_checkpoint_cosigned)" 1 "the empty checkpoint cosigned at start"
assert_eq "$(metric 'doormat_witness_failures_total{witness="witness.test/w1"}')" 0 "w1: no failure"
assert_true "checkpoint age is a number" grep -Eq '^doormat_checkpoint_age_seconds [0-9]+$' "$T/scrape"
scrape "$M" /healthz
assert_eq "$code $(cat "$T/scrape")" "200 ok" "healthy"
scrape "$M" /nope
assert_eq "$code" 404 "unknown path on the metrics port"
code=$(curl -sS --max-time 5 -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$M/metrics")
assert_eq "$code" 405 "POST /metrics"

# ---- two releases and two refusals
"$D" keygen -o inv.key 2>/dev/null
"$D" keygen -o inv2.key 2>/dev/null
"$D" keygen -o owner.key 2>/dev/null
owner=$(grep -o 'age1[0-9a-z]*' owner.key | head -1)
printf 'memo\n' >memo.txt
run "$D" encrypt -r "$owner" --escrow fbi/authority.pub -o memo.age memo.txt
run "$D" escrow warrant --court fbi/court.key --authority fbi/authority.pub --case 26-cr-9 \
  --expires 2099-12-31 -o w.txt memo.age
for k in inv inv2; do
  run "$D" escrow request --authority fbi/authority.pub --warrant w.txt --identity "$k.key" -o "got-$k.txt" memo.age
  assert_exit 0 "escrow request ($k)"
done
hcurl --data-binary 'not a request' "https://127.0.0.1:$doj_port/release"
assert_eq "$status" 400 "a malformed request"
hcurl "https://127.0.0.1:$doj_port/nowhere"
assert_eq "$status" 404 "an unknown path"
scrape "$M" /metrics
assert_true "still well formed" well_formed
assert_eq "$(metric doormat_releases_total)" 2 "two releases"
assert_eq "$(metric doormat_log_entries)" 2 "two entries in the log"
assert_eq "$(metric 'doormat_responses_total{code="400"}')" 1 "one 400"
assert_eq "$(metric 'doormat_refusals_total{reason="malformed_request",code="400"}')" 1 "refusal by reason: malformed"
assert_eq "$(metric 'doormat_refusals_total{reason="not_found",code="404"}')" 1 "refusal by reason: not found"
n200=$(metric 'doormat_responses_total{code="200"}')
assert_true "answers 200 counted ($n200)" test "${n200:-0}" -ge 2
assert_eq "$(metric 'doormat_answer_seconds_bucket{le="+Inf"}')" "$(metric doormat_answer_seconds_count)" "histogram: +Inf bucket = count"
assert_true "histogram: counts every answer" test "$(metric doormat_answer_seconds_count)" -ge 4
scrape "$WM" /metrics
assert_true "witness page well formed" well_formed
assert_eq "$(metric doormat_cosigned_total)" 3 "the witness cosigned the start and two releases"
assert_eq "$(metric doormat_trusted_logs)" 1 "one log trusted"

# ---- a witness down: failures by witness, and health says why
svc_stop "${w2_pid:-0}"
run "$D" keygen -o inv3.key
run "$D" escrow request --authority fbi/authority.pub --warrant w.txt --identity inv3.key -o got3.txt memo.age
assert_exit 4 "a release with one witness of two down"
scrape "$M" /metrics
assert_true "w2's failures counted: $(grep witness_failures "$T/scrape" | tr '\n' ' ')" \
  test "$(metric 'doormat_witness_failures_total{witness="witness.test/w2"}')" -ge 1
assert_eq "$(metric 'doormat_witness_failures_total{witness="witness.test/w1"}')" 0 "w1 never failed"
assert_eq "$(metric doormat_checkpoint_cosigned)" 0 "the checkpoint lacks its cosignatures"
assert_true "a 503 counted as witnesses_unavailable" \
  test "$(metric 'doormat_refusals_total{reason="witnesses_unavailable",code="503"}')" -ge 1
scrape "$M" /healthz
assert_eq "$code" 503 "unhealthy while uncosigned"
assert_true "health says why: $(cat "$T/scrape")" grep -q "lacks the witness cosignatures" "$T/scrape"

# ---- bad flags (the agent stopped first: a second agent must not share its log)
svc_stop "${doj_pid:-0}"
run "$D" escrow serve --authority fbi/authority.pub --agent fbi/agents/doj.key --log fbi/logs/doj \
  --listen 127.0.0.1:0 --metrics-listen nocolon
assert_exit 2 "--metrics-listen without a port"
assert_err_line 'metrics-listen wants HOST:PORT' "--metrics-listen without a port: one line"
finish
