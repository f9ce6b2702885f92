#!/usr/bin/env bash
# demo/report.sh: assembles doormat's policy briefing. `doormat report` runs it:
#
#   report.sh --doormat BIN -o DIR [--quick]     measure with BIN, then write DIR
#   report.sh --doormat BIN -o DIR --from OLD    redraw from OLD/data (no measuring)
#
# It runs `doormat bench` and `doormat lab ...` (their JSON schemas are in
# docs/benchmarks.md and docs/labs.md), keeps their raw JSON in DIR/data, draws
# the charts with gnuplot's SVG terminal into DIR/charts, and writes
# DIR/briefing.html (self-contained: the SVG is inline, no external request),
# DIR/briefing.md and, when Chromium is installed, DIR/briefing.pdf (A4).
# Every number in the briefing is read from DIR/data; a
# figure whose measurement is missing says "not measured". What it contains and
# how each figure is made: docs/report.md.
#
# Exit codes: 0 written; 1 a measurement failed, a tool is missing, or DIR could
# not be written (one line on stderr each); 2 bad arguments.
set -u
set -o pipefail
# "&" in a ${s//x/y} replacement means the match in bash 5.2: not here.
shopt -u patsub_replacement 2>/dev/null || true

DOORMAT=""
OUT=""
QUICK=0
FROM=""
while [ $# -gt 0 ]; do
  case $1 in
    --doormat) DOORMAT=${2-}; shift ;;
    -o|--output) OUT=${2-}; shift ;;
    --quick) QUICK=1 ;;
    --from) FROM=${2-}; shift ;;
    -h|--help) sed -n '2,16s/^# \{0,1\}//p' "$0"; exit 0 ;;
    *) echo "doormat: report: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
[ -n "$OUT" ] || { echo "doormat: report: missing -o DIR" >&2; exit 2; }
[ -n "$DOORMAT" ] || DOORMAT=$(command -v doormat || true)
[ -x "$DOORMAT" ] || { echo "doormat: report: no doormat binary (--doormat BIN)" >&2; exit 2; }
if [ -n "$FROM" ] && [ ! -d "$FROM/data" ]; then
  echo "doormat: report: --from $FROM: no data directory $FROM/data (not an earlier report)" >&2
  exit 2
fi

fail() { echo "doormat: report: $*" >&2; exit 1; }
for tool in jq gnuplot; do
  command -v "$tool" >/dev/null 2>&1 ||
    fail "$tool is not installed (Debian: apt-get install jq gnuplot-nox, or make report-deps)"
done

mkdir -p "$OUT" 2>/dev/null || fail "cannot create $OUT"
OUT=$(cd "$OUT" && pwd) || fail "cannot enter $OUT"
STAGE=$(mktemp -d "$OUT/.briefing.XXXXXX" 2>/dev/null) || fail "cannot write in $OUT"
trap 'rm -rf "$STAGE"' EXIT
trap 'exit 130' INT TERM
DATA=$STAGE/data
CHARTS=$STAGE/charts
mkdir -p "$DATA" "$CHARTS" || fail "cannot write in $OUT"
if [ -n "$FROM" ]; then
  FROM=$(cd "$FROM" && pwd) || fail "cannot enter $FROM"
fi

# ------------------------------------------------------------------ progress

TTY=0
[ -t 2 ] && TTY=1
progress() {
  [ "$TTY" -eq 1 ] && printf '\r\033[Kdoormat report: %s' "$*" >&2
  return 0
}
progress_done() {
  [ "$TTY" -eq 1 ] && printf '\r\033[K' >&2
  return 0
}

# ------------------------------------------------------------------ measurements
#
# Each measurement is one command whose standard output is JSON. It lands in
# data/NAME.json; data/manifest.json records the exact command, its exit
# code, how long it ran and whether this build has the command at all.

MODE=full
[ "$QUICK" -eq 1 ] && MODE=quick

# The commands, quick and full. The labs' fast settings are their defaults
# (no flags); the full mode asks for every row measured and larger populations.
# Quick: up to 64 MiB, 3 runs (bench's own --quick stops at 1 MiB, too small to
# show where the fixed cost stops mattering). Full: bench's defaults, up to 1 GiB.
bench_cmd() {
  if [ "$QUICK" -eq 1 ]; then
    echo "bench --sizes 1KiB,64KiB,1MiB,16MiB --modes vault,escrow-1of1,escrow-2of3 --reps 3 --json --no-progress"
  else
    echo "bench --json --no-progress"
  fi
}
lab_cmd() {
  if [ "$QUICK" -eq 1 ]; then
    case $1 in
      leaf-forge | crumple) echo "lab $1 --budget 0.5 --json" ;;
      *) echo "lab $1 --json" ;;
    esac
    return
  fi
  case $1 in
    blast-radius) echo "lab blast-radius --users 32 --files 16 --json" ;;
    leaf-forge) echo "lab leaf-forge --all --json" ;;
    crumple) echo "lab crumple --all --json" ;;
    substitution | ghost) echo "lab $1 --files 64 --json" ;;
    clear) echo "lab clear --devices 1000 --json" ;;
    *) echo "lab $1 --json" ;;
  esac
}

MEASURES=(bench blast-radius leaf-forge strip crumple passcode substitution ghost clear retroactive
  insider volume unbound-id)
measure_cmd() {
  case $1 in
    bench) bench_cmd ;;
    *) lab_cmd "$1" ;;
  esac
}
# The word that must be a command of this build for NAME to be measurable.
measure_probe() {
  case $1 in
    bench) echo "bench --help" ;;
    *) echo "lab $1 --help" ;;
  esac
}

# Repetitions: every measurement runs REPS times, each an independent process
# with fresh keys and fresh random draws; data/runs/NAME.K.json keeps each one.
# The briefing reports the median of the repetitions and their range
# (docs/report.md, "Statistics").
REPS=5
[ "$QUICK" -eq 1 ] && REPS=5
if [ -n "${DOORMAT_REPORT_REPS:-}" ]; then
  case $DOORMAT_REPORT_REPS in
    [1-9] | [1-9][0-9]) REPS=$DOORMAT_REPORT_REPS ;;
    *) echo "doormat: report: DOORMAT_REPORT_REPS=$DOORMAT_REPORT_REPS: not a number from 1 to 99" >&2; exit 2 ;;
  esac
fi

FAILED=()
UNAVAILABLE=()
: >"$STAGE/manifest.lines"
# The runs are interleaved: round K runs every measurement once, so that each
# figure's N runs are spread over the whole report and its range takes in how
# the machine's load varied meanwhile (N runs of one measurement back to back
# would see one moment of the machine).
declare -A M_STATUS=() M_RC=() M_OK=() M_SECS=()
probe_measure() {
  local name=$1 probe
  probe=$(measure_probe "$name")
  # shellcheck disable=SC2086 # the command words are ours, split on purpose
  if "$DOORMAT" $probe >/dev/null 2>&1; then
    M_STATUS[$name]=measured
  else
    M_STATUS[$name]=unavailable
    UNAVAILABLE+=("$name")
  fi
  M_RC[$name]=0 M_OK[$name]=0 M_SECS[$name]=0
}
run_measure() {
  local name=$1 r=$2 i=$3 n=$4 cmd start end rc
  [ "${M_STATUS[$name]}" = unavailable ] && return 0
  cmd=$(measure_cmd "$name")
  progress "run $r of $REPS, measuring $i/$n: doormat $cmd"
  start=$(date +%s.%N)
  # shellcheck disable=SC2086
  "$DOORMAT" $cmd >"$DATA/runs/$name.$r.json" 2>"$DATA/runs/$name.$r.stderr"
  rc=$?
  end=$(date +%s.%N)
  M_SECS[$name]=$(awk -v s="${M_SECS[$name]}" -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", s + b - a }')
  if [ "$rc" -eq 0 ] && jq -e 'type == "object"' "$DATA/runs/$name.$r.json" >/dev/null 2>&1; then
    M_OK[$name]=$((M_OK[$name] + 1))
  else
    M_RC[$name]=$rc
    M_STATUS[$name]=failed
    rm -f "$DATA/runs/$name.$r.json"
  fi
  [ -s "$DATA/runs/$name.$r.stderr" ] || rm -f "$DATA/runs/$name.$r.stderr"
}
record_measure() {
  local name=$1 status=${M_STATUS[$1]} rc=${M_RC[$1]}
  [ "$status" = unavailable ] && rc=-1
  if [ "$status" = failed ]; then
    FAILED+=("$name")
    rm -f "$DATA/runs/$name".*.json
  fi
  jq -cn --arg name "$name" --arg cmd "doormat $(measure_cmd "$name")" --arg status "$status" \
    --argjson rc "$rc" --argjson reps "$([ "$status" = measured ] && echo "${M_OK[$name]}" || echo 0)" \
    --argjson secs "${M_SECS[$name]}" \
    '{name: $name, command: $cmd, status: $status, exit: $rc, repetitions: $reps,
      seconds: ($secs * 1000 | round / 1000)}' >>"$STAGE/manifest.lines"
}

machine_facts() {
  local cpu mem commit=""
  cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo 2>/dev/null | head -n 1)
  mem=$(sed -n 's/^MemTotal:[[:space:]]*\([0-9]*\) kB/\1/p' /proc/meminfo 2>/dev/null)
  ver() { "$@" 2>/dev/null | head -n 1 || true; }
  # The commit of the source tree the binary was built in, when it is one.
  local src
  src=$(cd "$(dirname "$DOORMAT")/.." 2>/dev/null && pwd)
  if [ -n "$src" ] && command -v git >/dev/null 2>&1 &&
    git -C "$src" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    commit=$(git -C "$src" rev-parse --short=12 HEAD 2>/dev/null)
    [ -n "$(git -C "$src" status --porcelain --untracked-files=no 2>/dev/null)" ] && commit="$commit (modified)"
  fi
  jq -n --arg date "$(date -u +%Y-%m-%dT%H:%M:%SZ)" --arg mode "$MODE" --argjson reps "$REPS" \
    --arg kernel "$(uname -sr)" --arg arch "$(uname -m)" --arg cpu "$cpu" \
    --arg cpus "$(nproc 2>/dev/null || echo 0)" --arg mem_kib "${mem:-0}" \
    --arg doormat "$(ver "$DOORMAT" --version)" --arg commit "${commit:-unknown}" \
    --arg openssl "$(ver openssl version)" \
    --arg age "$(ver age --version)" --arg gnuplot "$(ver gnuplot --version)" \
    --arg jq "$(ver jq --version)" --arg os "$(. /etc/os-release 2>/dev/null && echo "${PRETTY_NAME:-}")" \
    --arg load "$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)" \
    '{date_utc: $date, mode: $mode, repetitions: $reps, os: $os, kernel: $kernel, arch: $arch,
      cpu_model: $cpu, cpus_online: ($cpus | tonumber), mem_bytes: (($mem_kib | tonumber) * 1024),
      load_average: $load, commit: $commit,
      versions: {doormat: $doormat, openssl: $openssl, age: $age, gnuplot: $gnuplot, jq: $jq}}'
}

mkdir -p "$DATA/runs" || fail "cannot write in $OUT"
if [ -n "$FROM" ]; then
  progress "reading the measurements in $FROM/data"
  [ -f "$FROM/data/manifest.json" ] || fail "--from $FROM: no data/manifest.json"
  [ -f "$FROM/data/machine.json" ] || fail "--from $FROM: no data/machine.json"
  cp "$FROM/data/manifest.json" "$FROM/data/machine.json" "$DATA/" || fail "cannot copy $FROM/data"
  for f in "$FROM"/data/runs/*.json; do
    [ -f "$f" ] && cp "$f" "$DATA/runs/"
  done
  # A report from before the repetitions kept one run per measurement as data/NAME.json.
  for f in "$FROM"/data/*.json; do
    case ${f##*/} in manifest.json | machine.json | figures.json) continue ;; esac
    [ -f "$f" ] && [ ! -f "$DATA/runs/$(basename "$f" .json).1.json" ] &&
      cp "$f" "$DATA/runs/$(basename "$f" .json).1.json"
  done
else
  machine_facts >"$DATA/machine.json" || fail "cannot record the machine facts"
  for m in "${MEASURES[@]}"; do probe_measure "$m"; done
  for r in $(seq 1 "$REPS"); do
    i=0
    for m in "${MEASURES[@]}"; do
      i=$((i + 1))
      run_measure "$m" "$r" "$i" "${#MEASURES[@]}"
    done
  done
  for m in "${MEASURES[@]}"; do record_measure "$m"; done
  jq -s '{schema: "doormat-report-manifest/2", measurements: .}' "$STAGE/manifest.lines" \
    >"$DATA/manifest.json" || fail "cannot write the manifest"
fi
rm -f "$STAGE/manifest.lines"

# ------------------------------------------------------------------ the figures file
#
# data/figures.json is the one source of every number in the briefing: text,
# cards, tables and charts all read it (through the per-measurement views below).
#   .labs.NAME    the median over the repetitions, leaf by leaf: each number is
#                 the median of that number in the N runs (a count that does not
#                 vary stays itself); any other value is the most common one
#   .spread.NAME  the same tree with, for every number, {n, min, q1, median, q3, max}
#   .headline     the figures of the key points and cards, each with its unit,
#                 median, range and quartiles (and, for a random trial, the value
#                 theory expects)
progress "computing the figures"
FIGURES_JQ='
def med: sort | length as $n | if $n == 0 then null elif $n % 2 == 1 then .[($n - 1) / 2]
  else (.[$n / 2 - 1] + .[$n / 2]) / 2 end;
def quant($p): sort | length as $n | if $n == 0 then null else (($n - 1) * $p) as $h
  | ($h | floor) as $l | ($h | ceil) as $u | .[$l] + ($h - $l) * (.[$u] - .[$l]) end;
def keys_in_order: map(keys_unsorted) | add // []
  | reduce .[] as $k ([]; if any(.[]; . == $k) then . else . + [$k] end);
def mtree: map(select(. != null)) as $v
  | if ($v | length) == 0 then null
    elif ($v | all(type == "number")) then ($v | med)
    elif ($v | all(type == "object")) then
      reduce ($v | keys_in_order)[] as $k ({}; .[$k] = ([$v[] | .[$k]] | mtree))
    elif ($v | all(type == "array")) then
      [range(0; [$v[] | length] | max) as $i | [$v[] | .[$i]] | mtree]
    else ($v | group_by(tojson) | max_by(length) | .[0]) end;
def stree: map(select(. != null)) as $v
  | if ($v | length) == 0 then null
    elif ($v | all(type == "number")) then
      {n: ($v | length), min: ($v | min), q1: ($v | quant(0.25)), median: ($v | med),
       q3: ($v | quant(0.75)), max: ($v | max)}
    elif ($v | all(type == "object")) then
      reduce ($v | keys_in_order)[] as $k ({}; .[$k] = ([$v[] | .[$k]] | stree))
    elif ($v | all(type == "array")) then
      [range(0; [$v[] | length] | max) as $i | [$v[] | .[$i]] | stree]
    else null end;
# stat(UNIT; values): one headline figure from the values of the N runs.
def stat($unit; $v): ($v | map(select(. != null))) as $v
  | if ($v | length) == 0 then null else
    {unit: $unit, n: ($v | length), median: ($v | med), min: ($v | min), max: ($v | max),
     q1: ($v | quant(0.25)), q3: ($v | quant(0.75))} end;
($runs | group_by(.name) | map({key: .[0].name, value: map(.json)}) | from_entries) as $by
| ($by | with_entries(.value |= mtree)) as $labs
| ($by | with_entries(.value |= stree)) as $spread
| def runs($n): $by[$n] // [];
  def bench($r; $m; $o; $f): [$r.results[]? | select(.mode == $m and .op == $o)]
    | (map(.size) | min) as $s | map(select(.size == $s))[0][$f];
{schema: "doormat-report-figures/1",
 repetitions: $machine.repetitions, mode: $machine.mode,
 machine: $machine, manifest: $manifest,
 headline: {
   escrow_encrypt_extra_us: (stat("µs"; [runs("bench")[]
     | bench(.; "escrow-2of3"; "encrypt"; "per_file_us") - bench(.; "vault"; "encrypt"; "per_file_us")])
     # the median is the difference of the two medians shown beside it; the
     # range is that of the per-run differences (widened to hold the median)
     | if . == null then . else
         .median = ([runs("bench")[] | bench(.; "escrow-2of3"; "encrypt"; "per_file_us")] | med)
                 - ([runs("bench")[] | bench(.; "vault"; "encrypt"; "per_file_us")] | med)
         | .min = ([.min, .median] | min) | .max = ([.max, .median] | max) end),
   escrow_per_gib_seconds: stat("s"; [runs("bench")[] | . as $r
     | ([$r.results[]? | .size] | max) as $L
     | [$r.results[]? | select(.size == $L and .op == "encrypt")] as $x
     | ($x | map(select(.mode == "escrow-2of3"))[0].median_s) as $e
     | ($x | map(select(.mode == "vault"))[0].median_s) as $v
     | select($e != null and $v != null) | ($e - $v) * 1073741824 / $L]),
   vault_per_gib_seconds: stat("s"; [runs("bench")[] | . as $r
     | ([$r.results[]? | .size] | max) as $L
     | [$r.results[]? | select(.size == $L and .op == "encrypt" and .mode == "vault")][0].median_s
     | select(. != null) * 1073741824 / $L]),
   vault_encrypt_us: stat("µs"; [runs("bench")[] | bench(.; "vault"; "encrypt"; "per_file_us")]),
   escrow_encrypt_us: stat("µs"; [runs("bench")[] | bench(.; "escrow-2of3"; "encrypt"; "per_file_us")]),
   escrow_check_us: stat("µs"; [runs("bench")[] | .escrow_fixed_cost_us[]? | select(.mode == "escrow-2of3") | .check]),
   master_key_files: stat("files"; [runs("blast-radius")[] | .rows[] | select(.stolen == "master") | .files_exposed]),
   master_key_escrowed: stat("files"; [runs("blast-radius")[] | .populations[] | select(.name == "escrow-1of1") | .files]),
   leaf_seconds_per_try: stat("s"; [runs("leaf-forge")[] | .seconds_per_try]),
   leaf_expected_seconds: stat("s"; [runs("leaf-forge")[] | select(.forgery.bits != null)
     | .seconds_per_try * pow(2; .forgery.bits)]),
   leaf_expected_tries: stat("tries"; [runs("leaf-forge")[] | select(.forgery.bits != null) | pow(2; .forgery.bits)]),
   leaf_tries: stat("tries"; [runs("leaf-forge")[] | .forgery.tries]),
   leaf_seconds: stat("s"; [runs("leaf-forge")[] | .forgery.seconds]),
   crumple_seconds_per_try: stat("s"; [runs("crumple")[] | .seconds_per_try]),
   passcode_ms_per_try: stat("ms"; [runs("passcode")[] | .calibrated.ms_per_try]),
   pin4_worst_seconds: stat("s"; [runs("passcode")[] | .rows[] | select(.space == "4-digit PIN") | .seconds_worst]),
   pin_crack_tries: stat("tries"; [runs("passcode")[] | .crack.tries]),
   pin_crack_expected_tries: stat("tries"; [runs("passcode")[] | select(.crack.digits != null)
     | (pow(10; .crack.digits) + 1) / 2]),
   clear_ms_per_try: stat("ms"; [runs("clear")[] | .calibrated.ms_per_try]),
   clear_brute_one_seconds: stat("s"; [runs("clear")[] | .rows[]
     | select(.method == "brute-force-real-device" and .target == "one") | .seconds]),
   clear_brute_tries: stat("tries"; [runs("clear")[] | .brute_force.tries]),
   clear_expected_tries: stat("tries"; [runs("clear")[] | select(.candidates != null) | (.candidates + 1) / 2]),
   crumple_seconds_per_try_top: stat("s"; [runs("crumple")[] | .rows | max_by(.bits) | .expected_seconds]),
   crumple_population_top: stat("s"; [runs("crumple")[] | .rows | max_by(.bits) | .population_seconds]),
   crumple_tries_16: stat("tries"; [runs("crumple")[] | .rows[] | select(.bits == 16 and .measured == true) | .tries]),
   crumple_expected_tries_16: stat("tries"; [runs("crumple")[] | . as $r | .rows[]
     | select(.bits == 16 and $r.seconds_per_try > 0) | .expected_seconds / $r.seconds_per_try | round]),
   service_releases_per_second: stat("releases/s"; [runs("volume")[] | .releases_per_second]),
   service_p50_ms: stat("ms"; [runs("volume")[] | .latency_ms.p50])
 } | with_entries(select(.value != null)),
 labs: $labs, spread: $spread}'
for f in "$DATA"/runs/*.json; do
  [ -f "$f" ] || continue
  b=${f##*/}
  jq -c --arg name "${b%.*.json}" '{name: $name, json: .}' "$f"
done >"$STAGE/runs.lines"
jq -n --slurpfile runs0 "$STAGE/runs.lines" --slurpfile machine "$DATA/machine.json" \
  --slurpfile manifest "$DATA/manifest.json" \
  "\$runs0 as \$runs | \$machine[0] as \$machine | \$manifest[0] as \$manifest | $FIGURES_JQ" \
  >"$DATA/figures.json" || fail "internal error: cannot compute data/figures.json"
rm -f "$STAGE/runs.lines"
# The views: one file per measurement, cut from data/figures.json, that the
# rest of this script reads (never the runs themselves).
VIEW=$STAGE/view
mkdir -p "$VIEW" || fail "cannot write in $OUT"
for n in $(jq -r '.labs | keys[]' "$DATA/figures.json"); do
  jq --arg n "$n" '.labs[$n]' "$DATA/figures.json" >"$VIEW/$n.json"
done
jq '.machine' "$DATA/figures.json" >"$VIEW/machine.json"
jq '.manifest' "$DATA/figures.json" >"$VIEW/manifest.json"
FIG=$DATA/figures.json
progress "drawing the charts"

# Every later step reads only data/: the same code serves fresh runs and --from.
have() { [ -f "$VIEW/$1.json" ]; }
B=$VIEW/bench.json
MACHINE=$VIEW/machine.json
MAN=$VIEW/manifest.json
# q FILE FILTER: one raw value, or the empty string when it is missing or null.
q() { jq -r "($2) // empty" "$1" 2>/dev/null | head -n 1; }
cmd_of() { jq -r --arg n "$1" '.measurements[] | select(.name == $n) | .command' "$MAN"; }
reps_of() { jq -r --arg n "$1" '.measurements[] | select(.name == $n) | .repetitions // 1' "$MAN"; }
status_of() {
  local s
  s=$(jq -r --arg n "$1" '.measurements[] | select(.name == $n) | .status' "$MAN")
  echo "${s:-unavailable}"
}

# ------------------------------------------------------------------ numbers in words

# dur SECONDS: a duration a reader can picture ("41 µs", "2.3 hours", "5 million years").
dur() {
  awk -v s="$1" 'function g(x) { return (x >= 100 ? sprintf("%.0f", x) : x >= 10 ? sprintf("%.1f", x) : sprintf("%.2f", x)) }
  BEGIN {
    if (s == "" ) { print "not measured"; exit }
    s += 0
    y = 365.25 * 86400
    if (s < 1e-3) print g(s * 1e6) " µs"
    else if (s < 1) print g(s * 1e3) " ms"
    else if (s < 120) print g(s) " seconds"
    else if (s < 7200) print g(s / 60) " minutes"
    else if (s < 2 * 86400) print g(s / 3600) " hours"
    else if (s < y) print g(s / 86400) " days"
    else if (s < 1e3 * y) print g(s / y) " years"
    else if (s < 1e6 * y) print g(s / y / 1e3) " thousand years"
    else if (s < 1e9 * y) print g(s / y / 1e6) " million years"
    else if (s < 1e12 * y) print g(s / y / 1e9) " billion years"
    else printf "%.1e years\n", s / y
  }'
}
# num X: three significant figures, thousands grouped ("1,234", "0.0512").
num() {
  awk -v x="$1" 'BEGIN {
    if (x == "") { print "not measured"; exit }
    x += 0
    a = x < 0 ? -x : x
    if (a >= 1000) { s = sprintf("%.0f", x); n = ""; neg = ""
      if (substr(s, 1, 1) == "-") { neg = "-"; s = substr(s, 2) }
      while (length(s) > 3) { n = "," substr(s, length(s) - 2) n; s = substr(s, 1, length(s) - 3) }
      print neg s n }
    else if (a >= 100) printf "%.0f\n", x
    else if (a >= 10) printf "%.1f\n", x
    else if (a >= 1) printf "%.2f\n", x
    else if (a == 0) print "0"
    else printf "%.3g\n", x
  }'
}
# count X: a count, rounded to a whole number, thousands grouped ("32", "41,432").
count() {
  awk -v x="$1" 'BEGIN { s = sprintf("%.0f", x); n = ""
    while (length(s) > 3) { n = "," substr(s, length(s) - 2) n; s = substr(s, 1, length(s) - 3) }
    print s n }'
}
# cnt X: count X, or "not measured" when X is empty.
cnt() { if [ -n "$1" ]; then count "$1"; else echo "not measured"; fi; }
# size BYTES: "1 KiB", "64 MiB".
size() {
  awk -v b="$1" 'BEGIN { b += 0
    if (b >= 2^30) printf "%.3g GiB\n", b / 2^30
    else if (b >= 2^20) printf "%.3g MiB\n", b / 2^20
    else if (b >= 2^10) printf "%.3g KiB\n", b / 2^10
    else printf "%d bytes\n", b }'
}
esc() {
  local s=$1
  s=${s//&/&amp;}
  s=${s//</&lt;}
  s=${s//>/&gt;}
  s=${s//\"/&quot;}
  printf '%s' "$s"
}

# ------------------------------------------------------------------ charts
#
# chart NAME: data/NAME.tsv and a gnuplot program on stdin -> charts/NAME.svg.
# The SVG gets ids prefixed with NAME so that several can live in one page.

GP_HEAD='set terminal svg size 760,380 dynamic noenhanced font "DejaVu Sans,12" background "#ffffff"
set border 3 lc rgb "#444444"
set tics nomirror textcolor rgb "#333333"
set grid ytics lc rgb "#dddddd" lt 1
set key top left textcolor rgb "#222222" box lc rgb "#cccccc" opaque
set style line 1 lc rgb "#1b6ca8" lw 2.5 pt 7 ps 0.8
set style line 2 lc rgb "#6fa8dc" lw 2.5 pt 5 ps 0.8 dt 2
set style line 3 lc rgb "#c0392b" lw 2.5 pt 9 ps 0.9
set style line 4 lc rgb "#e8998d" lw 2.5 pt 11 ps 0.9 dt 2
set style line 5 lc rgb "#7d3c98" lw 2.5 pt 13 ps 0.9
set style line 6 lc rgb "#b39ddb" lw 2.5 pt 15 ps 0.9 dt 2
set key Left reverse'

# Log-scale time axes are labelled in words, not powers of ten.
TIME_TICS='set ytics ("1 µs" 1e-6, "1 ms" 1e-3, "1 second" 1, "1 minute" 60, "1 hour" 3600, "1 day" 86400, "1 year" 31557600, "100 years" 3.15576e9, "10,000 years" 3.15576e11, "1 million years" 3.15576e13, "100 million years" 3.15576e15, "10 billion years" 3.15576e17)
set mytics 1'
# chart_src NAME...: the source line of a chart.
chart_src() {
  local n w=""
  for n in "$@"; do w+="${w:+; }$(cmd_of "$n" | sed 's/ --json.*//')"; done
  echo "$w; median of $(reps_of "$1") runs on this machine (data/figures.json)"
}
# gpstr TEXT: TEXT as a gnuplot string (double quotes; the terminal is
# noenhanced, so ^ _ @ ~ { } print as themselves).
gpstr() { local t=${1//\\/\\\\}; t=${t//\"/\\\"}; printf '"%s"' "$t"; }
# chart NAME TITLE SOURCE: every chart has its title on top and its source line
# at the bottom; the program is kept as charts/NAME.gp with its data
# charts/NAME.tsv, so that a reader can redraw it.
chart() {
  local name=$1 title=${2:-} source=${3:-} out=$CHARTS/$1.svg
  {
    printf '%s\n' "$GP_HEAD" | sed "1s/size 760,380/size ${CHART_SIZE:-760,380}/"
    printf 'set output "%s.svg"\n' "$name"
    [ -n "$title" ] && printf 'set title %s font ",13"\n' "$(gpstr "$title")"
    [ -n "$source" ] && printf 'set tmargin 4.5\nset label 99 %s at screen 0.01, screen 0.975 left front font ",9" textcolor rgb "#5b6673"\n' "$(gpstr "Data source: $source")"
    cat
  } >"$STAGE/$name.gp"
  if ! (cd "$STAGE" && gnuplot "$name.gp" 2>"$STAGE/$name.gperr" && mv -f "$name.svg" "$out"); then
    echo "doormat: report: gnuplot failed on the $name chart: $(head -n 3 "$STAGE/$name.gperr" | tr '\n' ' ')" >&2
    FAILED+=("chart-$name")
    rm -f "$out"
    return 1
  fi
  sed -i -e "s/id='gp/id='$name-gp/g; s/#gp/#$name-gp/g; s/id=\"gnuplot_canvas\"/id=\"$name-canvas\"/" \
    -e '/^<?xml/d; /^<!DOCTYPE/d; /^ *"http:\/\/www.w3.org\/Graphics/d' "$out"
  mv -f "$STAGE/$name.gp" "$CHARTS/$name.gp"
  [ -f "$STAGE/$name.tsv" ] && cp -f "$STAGE/$name.tsv" "$CHARTS/$name.tsv"
  rm -f "$STAGE/$name.gperr"
}
# not_measured NAME REASON: a placeholder in place of the chart.
not_measured() {
  local name=$1 reason=$2
  {
    printf '<svg class="not-measured" viewBox="0 0 760 90" xmlns="http://www.w3.org/2000/svg">\n'
    printf '<rect x="1" y="1" width="758" height="88" fill="#f6f6f6" stroke="#bbbbbb" stroke-dasharray="6 4"/>\n'
    printf '<text x="380" y="42" text-anchor="middle" font-family="DejaVu Sans, sans-serif" font-size="18" fill="#555555">Not measured</text>\n'
    printf '<text x="380" y="66" text-anchor="middle" font-family="DejaVu Sans, sans-serif" font-size="13" fill="#777777">%s</text>\n' "$(esc "$reason")"
    printf '</svg>\n'
  } >"$CHARTS/$name.svg"
  MISSING_FIGURES+=("$name")
}
MISSING_FIGURES=()
why_missing() {
  case $(status_of "$1") in
    unavailable) echo "this build of doormat cannot run \"doormat $(measure_probe "$1" | sed 's/ --help//')\"" ;;
    failed) echo "the measurement \"$(cmd_of "$1")\" failed" ;;
    *) echo "the measurement did not produce this figure" ;;
  esac
}

# mode_name MODE: how the briefing names a benchmark mode.
mode_name() {
  case $1 in
    vault) echo "Vault (no escrow)" ;;
    escrow-1of1) echo "Escrow, one master key" ;;
    escrow-2of3) echo "Escrow, 2 of 3 agents" ;;
    vault-passphrase) echo "Vault, passphrase" ;;
    *) echo "$1" ;;
  esac
}
op_name() {
  case $1 in
    encrypt) echo "encrypt" ;;
    decrypt) echo "decrypt" ;;
    decrypt-compliant) echo "decrypt, checking escrow" ;;
    *) echo "$1" ;;
  esac
}

# --- 1. throughput against file size (bench)
chart_throughput() {
  have bench && jq -e '.results | length > 0' "$B" >/dev/null 2>&1 ||
    { not_measured throughput "$(why_missing bench)"; return; }
  local plot="" idx=0 style=0 mode op title
  : >"$STAGE/throughput.tsv"
  for series in vault:encrypt vault:decrypt escrow-2of3:encrypt escrow-2of3:decrypt-compliant \
    escrow-1of1:encrypt escrow-1of1:decrypt-compliant; do
    mode=${series%%:*}; op=${series#*:}
    style=$((style + 1))
    jq -e --arg m "$mode" --arg o "$op" 'any(.results[]; .mode == $m and .op == $o)' "$B" \
      >/dev/null 2>&1 || continue
    jq -r --arg m "$mode" --arg o "$op" \
      '.results[] | select(.mode == $m and .op == $o) | "\(.size)\t\(.mib_per_s)"' "$B" \
      >>"$STAGE/throughput.tsv"
    printf '\n\n' >>"$STAGE/throughput.tsv"
    title="$(mode_name "$mode"), $(op_name "$op")"
    plot+="${plot:+, }\"throughput.tsv\" index $idx using 1:2 with linespoints ls $style title \"$title\""
    idx=$((idx + 1))
  done
  local tics
  tics=$(jq -r '[.results[].size] | unique | map("\"\(. as $b | if $b >= 1073741824 then "\($b / 1073741824) GiB" elif $b >= 1048576 then "\($b / 1048576) MiB" elif $b >= 1024 then "\($b / 1024) KiB" else "\($b) B" end)\" \(.)") | join(", ")' "$B")
  CHART_SIZE="760,460" chart throughput "How fast files are encrypted, by file size" "$(chart_src bench)" <<GP
set logscale x 2
set xtics ($tics)
set xlabel "file size (logarithmic scale)"
set ylabel "MiB per second (higher is faster)"
set yrange [0:*]
set bmargin 11
set offsets graph 0.03, graph 0.03, graph 0.05, 0
set key outside bottom center vertical maxrows 3 width -2
plot $plot
GP
}

# --- 2. fixed cost per file: the smallest size's time per file (bench)
chart_fixed_cost() {
  have bench && jq -e '.results | length > 0' "$B" >/dev/null 2>&1 ||
    { not_measured fixed-cost "$(why_missing bench)"; return; }
  local small
  small=$(jq -r '[.results[].size] | min' "$B")
  {
    for mode in vault escrow-1of1 escrow-2of3; do
      jq -e --arg m "$mode" 'any(.results[]; .mode == $m)' "$B" >/dev/null 2>&1 || continue
      printf '"%s"' "$(mode_name "$mode" | sed 's/ (/\\n(/; s/, /:\\n/')"
      for op in encrypt decrypt decrypt-compliant; do
        v=$(jq -r --arg m "$mode" --arg o "$op" --argjson s "$small" \
          '[.results[] | select(.mode == $m and .op == $o and .size == $s) | .per_file_us][0] // "?"' "$B")
        printf '\t%s' "$v"
      done
      printf '\n'
    done
  } >"$STAGE/fixed-cost.tsv"
  chart fixed-cost "Fixed cost per file" "$(chart_src bench)" <<GP
set datafile missing "?"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.9 border -1
set boxwidth 0.9
set xrange [-0.6:$(($(wc -l <"$STAGE/fixed-cost.tsv") - 1)).6]
set yrange [0:*]
set bmargin 5
set ylabel "µs per $(size "$small") file (lower is cheaper)"
set xlabel "benchmark mode" offset 0, -1.2
set key outside right top
plot "fixed-cost.tsv" using 2:xtic(1) title "encrypt" lc rgb "#1b6ca8", \
     "" using 3 title "decrypt" lc rgb "#6fa8dc", \
     "" using 4 title "decrypt, checking escrow" lc rgb "#c0392b"
GP
}

# --- 3. blast radius of a stolen key (lab blast-radius)
BR=$VIEW/blast-radius.json
chart_blast_radius() {
  have blast-radius && jq -e '.rows | length > 0' "$BR" >/dev/null 2>&1 ||
    { not_measured blast-radius "$(why_missing blast-radius)"; return; }
  {
    jq -r 'def wrap: reduce (split(" ")[]) as $w ([""]; if (.[-1] | length) == 0 then .[:-1] + [$w] elif (.[-1] | length) + ($w | length) < 16 then .[:-1] + [.[-1] + " " + $w] else . + [$w] end) | join("\\n");
      .rows[] | "\"\(.label | wrap)\"\t\(.by_population.vault // 0)\t\(.by_population["escrow-1of1"] // 0)\t\(.by_population["escrow-2of3"] // 0)"' "$BR"
  } >"$STAGE/blast-radius.tsv"
  local total
  total=$(q "$BR" '.population_files')
  chart blast-radius "Blast radius: what one stolen key opens" "$(chart_src blast-radius)" <<GP
set style data histograms
set style histogram rowstacked
set style fill solid 0.9 border -1
set boxwidth 0.6
set xrange [-0.6:$(($(jq '.rows | length' "$BR") - 1)).6]
set yrange [0:${total:-*}]
set ylabel "files the thief decrypted (of ${total:-all})"
set xlabel "the key stolen" offset 0, -0.8
set key top left
set bmargin 5
plot "blast-radius.tsv" using 2:xtic(1) title "vault users' files" lc rgb "#1b6ca8", \
     "" using 3 title "files escrowed to one master key" lc rgb "#c0392b", \
     "" using 4 title "files escrowed to 2 of 3 agents" lc rgb "#7d3c98"
GP
}

# --- 4. LEAF forgery time against checksum bits (lab leaf-forge), log scale
LF=$VIEW/leaf-forge.json
chart_leaf() {
  have leaf-forge && jq -e '.rows | length > 0' "$LF" >/dev/null 2>&1 ||
    { not_measured leaf-forge "$(why_missing leaf-forge)"; return; }
  {
    jq -r '.rows[] | select(.measured == true and .seconds != null) | "\(.bits)\t\(.seconds)"' "$LF"
    printf '\n\n'
    jq -r '(.rows + (.beyond // []))[] | select(.measured != true and .seconds != null) | "\(.bits)\t\(.seconds)"' "$LF"
    printf '\n\n'
    jq -r '.forgery | select(.bits != null and .seconds != null) | "\(.bits)\t\(.seconds)"' "$LF"
  } >"$STAGE/leaf-forge.tsv"
  CHART_SIZE="760,460" chart leaf-forge "Forging a Clipper-style escrow field" "$(chart_src leaf-forge)" <<GP
set logscale y 10
$TIME_TICS
set xlabel "bits of the checksum that protects the escrow field (Clipper: 16)"
set ylabel "time to forge a field that passes (log scale)"
set arrow from 16, graph 0 to 16, graph 1 nohead lc rgb "#999999" dt 3
set key outside bottom center vertical maxrows 3 width -4
set bmargin 10
plot "leaf-forge.tsv" index 0 using 1:2 with linespoints ls 1 title "measured", \
     "" index 1 using 1:2 with linespoints ls 2 title "extrapolated from the measured rate", \
     "" index 2 using 1:2 with points pt 7 ps 1.8 lc rgb "#c0392b" title "the forgery demonstrated in this run"
GP
}

# --- 5. crumple zones: recovery cost against puzzle bits (lab crumple), log scale
CR=$VIEW/crumple.json
chart_crumple() {
  have crumple && jq -e '.rows | length > 0' "$CR" >/dev/null 2>&1 ||
    { not_measured crumple "$(why_missing crumple)"; return; }
  {
    jq -r '.rows[] | select(.expected_seconds != null) | "\(.bits)\t\(.expected_seconds)"' "$CR"
    printf '\n\n'
    jq -r '.rows[] | select(.measured == true and .seconds != null) | "\(.bits)\t\(.seconds)"' "$CR"
    printf '\n\n'
    jq -r '.rows[] | select(.population_seconds != null) | "\(.bits)\t\(.population_seconds)"' "$CR"
  } >"$STAGE/crumple.tsv"
  local pop
  pop=$(num "$(q "$CR" '.population_files')")
  CHART_SIZE="760,460" chart crumple "Crumple zones: the price of recovering a key" "$(chart_src crumple)" <<GP
set logscale y 10
$TIME_TICS
set xlabel "puzzle size in bits (the cost dial of a crumple zone)"
set ylabel "computing time to recover (log scale)"
set key outside bottom center vertical maxrows 3
set bmargin 10
plot "crumple.tsv" index 0 using 1:2 with linespoints ls 2 title "one file, expected (from the measured rate)", \
     "" index 1 using 1:2 with points pt 7 ps 1.4 lc rgb "#1b6ca8" title "one file, recovered for real in this run", \
     "" index 2 using 1:2 with linespoints ls 3 title "all $pop files of a population (extrapolated)"
GP
}

# --- 6. passcode exhaustion times (lab passcode)
PC=$VIEW/passcode.json
chart_passcode() {
  have passcode && jq -e '.rows | length > 0' "$PC" >/dev/null 2>&1 ||
    { not_measured passcode "$(why_missing passcode)"; return; }
  : >"$STAGE/passcode.tsv"
  local i=0 space avg worst
  while IFS=$'\t' read -r space avg worst; do
    printf '%d\t"%s"\t%s\t%s\t"%s"\n' "$i" "$space" "$avg" "$worst" "$(dur "$worst")" >>"$STAGE/passcode.tsv"
    i=$((i + 1))
  done < <(jq -r '.rows[] | select(.seconds_worst != null) | "\(.space)\t\(.seconds_average)\t\(.seconds_worst)"' "$PC")
  chart passcode "Guessing a phone passcode" "$(chart_src passcode)" <<GP
set logscale y 10
$TIME_TICS
set style fill solid 0.9 border -1
set boxwidth 0.35
set ylabel "time to try passcodes (log scale)"
set xlabel "kind of passcode"
set bmargin 5
set xrange [-0.6:$((i - 1)).6]
set yrange [1:*]
set key top left
set xtics noenhanced
plot "passcode.tsv" using (\$1-0.18):3 with boxes lc rgb "#6fa8dc" title "on average (half the passcodes)", \
     "" using (\$1+0.18):4:xtic(2) with boxes lc rgb "#1b6ca8" title "at worst (every passcode)", \
     "" using (\$1+0.18):(\$4*2.2):5 with labels noenhanced font ",11" notitle
GP
}

chart_throughput
chart_fixed_cost
chart_blast_radius
chart_leaf
chart_crumple
chart_passcode

# ------------------------------------------------------------------ the access system
# Charts of the labs of the access system (docs/labs.md): files opened without
# a warrant, Ozzie's CLEAR against brute force, the service's latency, what the
# owner's monitor sees.
SB=$VIEW/substitution.json
GH=$VIEW/ghost.json
CL=$VIEW/clear.json
IN=$VIEW/insider.json
VO=$VIEW/volume.json
RT=$VIEW/retroactive.json

# --- 7. files opened without a warrant (substitution, ghost, insider)
chart_exposed() {
  : >"$STAGE/exposed.tsv"
  local i=0 label got of
  add_bar() { # LABEL GOT OF
    [ -n "$2" ] && [ -n "$3" ] && [ "$3" != 0 ] || return 0
    printf '%d\t"%s"\t%s\t"%s of %s"\n' "$i" "$1" "$(awk -v a="$2" -v b="$3" 'BEGIN { printf "%.4g", 100 * a / b }')" "$2" "$3" >>"$STAGE/exposed.tsv"
    i=$((i + 1))
  }
  if have substitution; then
    add_bar "a swapped\\nauthority.pub" "$(q "$SB" '.attacker_opened')" "$(q "$SB" '.files')"
  fi
  if have ghost; then
    add_bar "a ghost\\nrecipient" "$(q "$GH" '.rows[] | select(.client == "ghosted") | .ghost_opened')" \
      "$(q "$GH" '.rows[] | select(.client == "ghosted") | .files')"
  fi
  if have insider; then
    while IFS=$'\t' read -r label got of; do
      add_bar "$label" "$got" "$of"
    done < <(jq -r '.rows[] | select(.opened != null and .path != "service") | "an insider, \(.authority),\\n\(if .path == "service" then "through the service" elif .path == "two-key-files" then "with two key files" else "with a key file" end)\t\(.opened)\t\(.accesses)"' "$IN")
  fi
  [ "$i" -gt 0 ] || { not_measured exposed "$(why_missing substitution)"; return; }
  CHART_SIZE="760,420" chart exposed "Files opened without a warrant" "$(chart_src substitution ghost insider)" <<GP
set style fill solid 0.9 border -1
set boxwidth 0.55
set yrange [0:118]
set ytics 0, 25, 100
set xrange [-0.6:$((i - 1)).6]
set ylabel "files opened without a warrant (%)"
set xlabel "attack" offset 0, -1.2
set bmargin 7
set xtics noenhanced
unset key
plot "exposed.tsv" using 1:3:xtic(2) with boxes lc rgb "#c0392b", \
     "" using 1:(\$3 + 6):4 with labels noenhanced font ",11"
GP
}

# --- 8. Ozzie's CLEAR: opening devices with the vendor key or by brute force
chart_clear() {
  have clear && jq -e '.rows | length > 0' "$CL" >/dev/null 2>&1 ||
    { not_measured clear "$(why_missing clear)"; return; }
  local dev
  dev=$(q "$CL" '.devices')
  jq -r '
    def v(m; t): [.rows[] | select(.method == m and .target == t) | .seconds][0] // "?";
    "0\t\"one device\"\t\(v("vendor-key-real-device"; "one"))\t\(v("brute-force-real-device"; "one"))",
    "1\t\"all \(.devices) devices\"\t\(v("vendor-key-real-device"; "all"))\t\(v("brute-force-real-device"; "all"))"' \
    "$CL" >"$STAGE/clear.tsv"
  CHART_SIZE="760,420" chart clear "Ozzie's CLEAR: the vendor key against brute force" "$(chart_src clear)" <<GP
set datafile missing "?"
set logscale y 10
$TIME_TICS
set style fill solid 0.9 border -1
set boxwidth 0.3
set xrange [-0.6:1.6]
set ylabel "time to open (log scale)"
set xlabel "devices opened, at the measured cost of one passcode try"
set lmargin 14
set bmargin 9
set key outside bottom center vertical
plot "clear.tsv" using (\$1-0.16):3:xtic(2) with boxes lc rgb "#c0392b" title "with the vendor key (one try per device)", \
     "" using (\$1+0.16):4 with boxes lc rgb "#1b6ca8" title "by brute force, no retry limit (half the PINs on average)"
GP
}

# --- 9. the agent service's latency (volume)
chart_service() {
  have volume && jq -e '.latency_ms | type == "object"' "$VO" >/dev/null 2>&1 ||
    { not_measured service "$(why_missing volume)"; return; }
  jq -r '.latency_ms | to_entries | to_entries[] | "\(.key)\t\"\(.value.key)\"\t\(.value.value)"' "$VO" \
    >"$STAGE/service.tsv"
  local n
  n=$(wc -l <"$STAGE/service.tsv")
  chart service "The agent service: time per release" "$(chart_src volume)" <<GP
set style fill solid 0.9 border -1
set boxwidth 0.55
set yrange [0:*]
set xrange [-0.6:$((n - 1)).6]
set ylabel "milliseconds per release"
set xlabel "percentile of the releases timed (p50: median)"
set bmargin 5
set offsets 0, 0, graph 0.12, 0
unset key
plot "service.tsv" using 1:3:xtic(2) with boxes lc rgb "#7d3c98", \
     "" using 1:3:(sprintf("%.1f ms", \$3)) with labels offset 0,0.8 font ",11"
GP
}

# --- 10. what the owner's monitor sees (insider)
chart_monitor() {
  have insider && jq -e '.rows | length > 0' "$IN" >/dev/null 2>&1 ||
    { not_measured monitor "$(why_missing insider)"; return; }
  jq -r '.rows | to_entries[] | "\(.key)\t\"\(.value.authority),\\n\(if .value.path == "service" then "through the service" elif .value.path == "two-key-files" then "two key files" else "one key file" end)\"\t\(.value.opened)\t\(.value.monitor_saw)"' \
    "$IN" >"$STAGE/monitor.tsv"
  local n
  n=$(wc -l <"$STAGE/monitor.tsv")
  chart monitor "What the owner's monitor sees" "$(chart_src insider)" <<GP
set style fill solid 0.9 border -1
set boxwidth 0.3
set yrange [0:*]
set xrange [-0.6:$((n - 1)).6]
set ylabel "files (count)"
set xlabel "authority, and how the insider opened the files" offset 0, -0.8
set bmargin 7
set offsets 0, 0, graph 0.1, 0
set key outside top center horizontal
plot "monitor.tsv" using (\$1-0.16):3:xtic(2) with boxes lc rgb "#c0392b" title "opened by the insider", \
     "" using (\$1+0.16):4 with boxes lc rgb "#1b6ca8" title "seen by the owner's monitor"
GP
}

chart_exposed
chart_clear
chart_service
chart_monitor

# ------------------------------------------------------------------ the figures
#
# Each headline figure is read from data/ here, once; an empty value means
# "not measured" and is printed so.
progress "writing the briefing"

SMALL="" LARGE="" V_ENC_SMALL="" E_ENC_SMALL="" E11_ENC_SMALL="" V_DEC_SMALL="" E_DEC_SMALL=""
FIX23_ENC="" FIX23_DEC="" FIX23_CHECK="" FIX11_ENC="" V_MIBS_LARGE="" E_MIBS_LARGE="" V_DEC_MIBS_LARGE=""
PER_GIB="" VAULT_PER_GIB="" PER_GIB_NOISE="" BENCH_REPS="" BENCH_THREADS="" BENCH_SIZES=""
if have bench; then
  SMALL=$(q "$B" '[.results[].size] | min')
  LARGE=$(q "$B" '[.results[].size] | max')
  bench_val() { # MODE OP SIZE FIELD
    jq -r --arg m "$1" --arg o "$2" --argjson s "${3:-0}" --arg f "$4" \
      '[.results[] | select(.mode == $m and .op == $o and .size == $s) | .[$f]][0] // empty' "$B"
  }
  V_ENC_SMALL=$(bench_val vault encrypt "$SMALL" per_file_us)
  V_DEC_SMALL=$(bench_val vault decrypt "$SMALL" per_file_us)
  E_ENC_SMALL=$(bench_val escrow-2of3 encrypt "$SMALL" per_file_us)
  E_DEC_SMALL=$(bench_val escrow-2of3 decrypt-compliant "$SMALL" per_file_us)
  E11_ENC_SMALL=$(bench_val escrow-1of1 encrypt "$SMALL" per_file_us)
  V_MIBS_LARGE=$(bench_val vault encrypt "$LARGE" mib_per_s)
  V_DEC_MIBS_LARGE=$(bench_val vault decrypt "$LARGE" mib_per_s)
  E_MIBS_LARGE=$(bench_val escrow-2of3 encrypt "$LARGE" mib_per_s)
  FIX23_ENC=$(q "$B" '.escrow_fixed_cost_us[] | select(.mode == "escrow-2of3") | .encrypt')
  FIX23_DEC=$(q "$B" '.escrow_fixed_cost_us[] | select(.mode == "escrow-2of3") | .decrypt')
  FIX23_CHECK=$(q "$B" '.escrow_fixed_cost_us[] | select(.mode == "escrow-2of3") | .check')
  FIX11_ENC=$(q "$B" '.escrow_fixed_cost_us[] | select(.mode == "escrow-1of1") | .encrypt')
  v=$(bench_val vault encrypt "$LARGE" median_s)
  e=$(bench_val escrow-2of3 encrypt "$LARGE" median_s)
  if [ -n "$v" ] && [ -n "$e" ]; then
    PER_GIB=$(awk -v v="$v" -v e="$e" -v n="$LARGE" 'BEGIN { printf "%.9g", (e - v) * 2^30 / n }')
    VAULT_PER_GIB=$(awk -v v="$v" -v n="$LARGE" 'BEGIN { printf "%.9g", v * 2^30 / n }')
    # The difference is noise when it is smaller than the two runs' own ranges.
    PER_GIB_NOISE=$(awk -v a="$(bench_val vault encrypt "$LARGE" min_s)" -v b="$(bench_val vault encrypt "$LARGE" max_s)" \
      -v c="$(bench_val escrow-2of3 encrypt "$LARGE" min_s)" -v d="$(bench_val escrow-2of3 encrypt "$LARGE" max_s)" \
      -v n="$LARGE" 'BEGIN { printf "%.9g", ((b - a) + (d - c)) * 2^30 / n }')
  fi
  BENCH_REPS=$(q "$B" '[.results[].reps] | min')
  BENCH_THREADS=$(q "$B" '.config.threads')
  BENCH_SIZES=$(jq -r '[.config.sizes[]?] | length' "$B" 2>/dev/null)
fi
us() { [ -n "$1" ] && dur "$(awk -v u="$1" 'BEGIN { printf "%.9g", u / 1e6 }')" || echo "not measured"; }

BR_TOTAL="" BR_USER="" BR_MASTER="" BR_MASTER_S="" BR_ONE="" BR_TWO="" BR_ESC11="" BR_USERS="" BR_FPU=""
if have blast-radius; then
  BR_TOTAL=$(q "$BR" '.population_files')
  BR_USERS=$(q "$BR" '.users')
  BR_FPU=$(q "$BR" '.files_per_user')
  BR_USER=$(q "$BR" '.rows[] | select(.stolen == "user") | .files_exposed')
  BR_MASTER=$(q "$BR" '.rows[] | select(.stolen == "master") | .files_exposed')
  BR_MASTER_S=$(q "$BR" '.rows[] | select(.stolen == "master") | .seconds')
  BR_ONE=$(q "$BR" '.rows[] | select(.stolen == "one-agent") | .files_exposed')
  BR_TWO=$(q "$BR" '.rows[] | select(.stolen == "two-agents") | .files_exposed')
  BR_ESC11=$(q "$BR" '.populations[] | select(.name == "escrow-1of1") | .files')
fi

LF_BITS="" LF_TRIES="" LF_S="" LF_PASSES="" LF_REC="" LF_PER_TRY="" SH_TRIES="" SH_PASSED=""
if have leaf-forge; then
  LF_BITS=$(q "$LF" '.forgery.bits')
  LF_TRIES=$(q "$LF" '.forgery.tries')
  LF_S=$(q "$LF" '.forgery.seconds')
  LF_PASSES=$(q "$LF" '.forgery.passes_require_escrow | tostring')
  LF_REC=$(q "$LF" '.forgery.recovery_exit')
  LF_PER_TRY=$(q "$LF" '.seconds_per_try')
  SH_TRIES=$(q "$LF" '.shamir.tries')
  SH_PASSED=$(q "$LF" '.shamir.passed')
fi

CR_MBITS="" CR_MS="" CR_TOPBITS="" CR_TOPEXP="" CR_TOPPOP="" CR_TOPMEAS="" CR_POP="" CR_ENC="" CR_CHECK=""
if have crumple; then
  CR_MBITS=$(q "$CR" '[.rows[] | select(.measured == true and .found == true)] | max_by(.bits) | .bits')
  CR_MS=$(q "$CR" '[.rows[] | select(.measured == true and .found == true)] | max_by(.bits) | .seconds')
  CR_TOPBITS=$(q "$CR" '.rows | max_by(.bits) | .bits')
  CR_TOPEXP=$(q "$CR" '.rows | max_by(.bits) | .expected_seconds')
  CR_TOPPOP=$(q "$CR" '.rows | max_by(.bits) | .population_seconds')
  CR_TOPMEAS=$(q "$CR" '.rows | max_by(.bits) | .measured | tostring')
  CR_POP=$(q "$CR" '.population_files')
  CR_ENC=$(q "$CR" '.encrypt_seconds')
  CR_CHECK=$(q "$CR" '.check_seconds')
fi

PC_MS="" PC_CRACK_S="" PC_CRACK_D="" PC_CRACK_TRIES="" PC_CRACK_KDF="" PC_LIMIT="" PC_ERASED="" PC_LIMIT_FOUND=""
if have passcode; then
  PC_MS=$(q "$PC" '.calibrated.ms_per_try')
  PC_CRACK_S=$(q "$PC" '.crack.seconds')
  PC_CRACK_D=$(q "$PC" '.crack.digits')
  PC_CRACK_TRIES=$(q "$PC" '.crack.tries')
  PC_CRACK_KDF=$(q "$PC" '.crack.kdf')
  PC_CRACK_MS=$(q "$PC" '(if .crack.kdf == "calibrated" then .calibrated else .fast end).ms_per_try')
  PC_LIMIT=$(q "$PC" '.retry_limit.limit')
  PC_ERASED=$(q "$PC" '.retry_limit.erased | tostring')
  PC_LIMIT_FOUND=$(q "$PC" '.retry_limit.found | tostring')
fi
pc_row() { q "$PC" ".rows[] | select(.space == \"$1\") | .$2"; }

ST_AGE="" ST_REQ="" ST_REC="" ST_C_REQ="" ST_C_REC=""
if have strip; then
  ST_AGE=$(q "$VIEW/strip.json" '.rows[] | select(.file == "stripped") | .age_exit')
  ST_REQ=$(q "$VIEW/strip.json" '.rows[] | select(.file == "stripped") | .require_escrow_exit')
  ST_REC=$(q "$VIEW/strip.json" '.rows[] | select(.file == "stripped") | .recovery')
  ST_C_REQ=$(q "$VIEW/strip.json" '.rows[] | select(.file == "corrupted") | .require_escrow_exit')
  ST_C_REC=$(q "$VIEW/strip.json" '.rows[] | select(.file == "corrupted") | .recovery')
fi

# The access system.
SB_FILES="" SB_ATT="" SB_GEN="" SB_AGE="" SB_SW="" SB_GN="" SB_PIN="" SB_LOG=""
if have substitution; then
  SB_FILES=$(q "$SB" '.files')
  SB_ATT=$(q "$SB" '.attacker_opened')
  SB_GEN=$(q "$SB" '.genuine_opened')
  SB_AGE=$(q "$SB" '.age_exit')
  SB_SW=$(q "$SB" '.require_escrow_swapped_exit')
  SB_GN=$(q "$SB" '.require_escrow_genuine_exit')
  SB_PIN=$(q "$SB" '.pinned_exposed')
  SB_LOG=$(q "$SB" '.logged_exposed')
fi
GH_FILES="" GH_OPEN="" GH_RCV="" GH_ST_H="" GH_ST_B="" GH_ST_G="" GH_SHAPE="" GH_AGE=""
if have ghost; then
  GH_FILES=$(q "$GH" '.rows[] | select(.client == "ghosted") | .files')
  GH_OPEN=$(q "$GH" '.rows[] | select(.client == "ghosted") | .ghost_opened')
  GH_RCV=$(q "$GH" '.rows[] | select(.client == "ghosted") | .receiver_opened')
  GH_ST_H=$(q "$GH" '.rows[] | select(.client == "honest") | .inspect_stanzas')
  GH_ST_B=$(q "$GH" '.rows[] | select(.client == "bcc") | .inspect_stanzas')
  GH_ST_G=$(q "$GH" '.rows[] | select(.client == "ghosted") | .inspect_stanzas')
  GH_SHAPE=$(q "$GH" '.ghost_stanza_same_shape | tostring')
  GH_AGE=$(q "$GH" '.rows[] | select(.client == "ghosted") | .age_exit')
fi
CL_DEV="" CL_VOPEN="" CL_BRICK="" CL_V1="" CL_VALL="" CL_B1="" CL_BALL="" CL_BW="" CL_MS="" CL_ONE=""
if have clear; then
  CL_DEV=$(q "$CL" '.devices')
  CL_VOPEN=$(q "$CL" '.vendor.opened')
  CL_BRICK=$(q "$CL" '.vendor.bricked')
  CL_ONE=$(q "$CL" '.blast_radius.one_passcode')
  CL_MS=$(q "$CL" '.calibrated.ms_per_try')
  CL_V1=$(q "$CL" '.rows[] | select(.method == "vendor-key-real-device" and .target == "one") | .seconds')
  CL_VALL=$(q "$CL" '.rows[] | select(.method == "vendor-key-real-device" and .target == "all") | .seconds')
  CL_B1=$(q "$CL" '.rows[] | select(.method == "brute-force-real-device" and .target == "one") | .seconds')
  CL_BW=$(q "$CL" '.rows[] | select(.method == "brute-force-real-device" and .target == "one") | .seconds_worst')
  CL_BALL=$(q "$CL" '.rows[] | select(.method == "brute-force-real-device" and .target == "all") | .seconds')
fi
RT_FILES="" RT_FPS="" RT_REWRITTEN="" RT_ARCHIVE="" RT_S=""
if have retroactive; then
  RT_FILES=$(q "$RT" '.files')
  RT_FPS=$(q "$RT" '.files_per_second')
  RT_REWRITTEN=$(q "$RT" '.bytes_rewritten')
  RT_ARCHIVE=$(q "$RT" '.archive_bytes')
  RT_S=$(q "$RT" '.seconds')
fi
IN_KEY_SEEN="" IN_KEY_OPEN="" IN_SVC_SEEN="" IN_SVC_OPEN=""
if have insider; then
  IN_KEY_OPEN=$(q "$IN" '[.rows[] | select(.path != "service") | .opened] | add')
  IN_KEY_SEEN=$(q "$IN" '[.rows[] | select(.path != "service") | .monitor_saw] | add')
  IN_SVC_OPEN=$(q "$IN" '[.rows[] | select(.path == "service") | .opened] | add')
  IN_SVC_SEEN=$(q "$IN" '[.rows[] | select(.path == "service") | .monitor_saw] | add')
fi
VO_RPS="" VO_P50="" VO_P99=""
if have volume; then
  VO_RPS=$(q "$VO" '.releases_per_second')
  VO_P50=$(q "$VO" '.latency_ms.p50')
  VO_P99=$(q "$VO" '.latency_ms.p99')
fi

# Outcomes in words: an exit code of the age tool or of doormat's compliant client,
# and what the authority recovered.
opened_words() { case $1 in "") echo "";; 0) echo "opened it";; *) echo "refused it (exit code $1)";; esac; }
refused_words() { case $1 in "") echo "";; 7) echo "refused it";; 0) echo "accepted it";; *) echo "stopped with exit code $1";; esac; }
recovered_words() {
  case $1 in
    "") echo "" ;; ok) echo "the file" ;; no-stanza) echo "nothing (the escrow was gone)" ;;
    garbage) echo "only a useless key" ;; unopenable) echo "nothing (the escrow could not be opened)" ;;
    *) echo "\"$1\"" ;;
  esac
}
pct() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) print "?"; else printf "%.0f%%\n", 100 * a / b }'; }
NM="not measured"

# ------------------------------------------------------------------ the writer
#
# Every block goes to both files: HTML (escaped; **x** becomes <strong>) and Markdown.
HTML=$STAGE/briefing.html
MD=$STAGE/briefing.md
: >"$HTML"
: >"$MD"
H() { printf '%s\n' "$@" >>"$HTML"; }
M() { printf '%s\n' "$@" >>"$MD"; }
inline() { esc "$1" | sed -e 's/\*\*\([^*]*\)\*\*/<strong>\1<\/strong>/g' -e 's/`\([^`]*\)`/<code>\1<\/code>/g'; }
para() { H "<p>$(inline "$*")</p>"; M "$*" ""; }
note() { H "<p class=\"note\">$(inline "$*")</p>"; M "*$**" ""; }
section() { # ID TITLE
  [ -n "${IN_SECTION:-}" ] && H "</section>"
  IN_SECTION=1
  H "<section id=\"$1\">" "<h2>$(esc "$2")</h2>"
  M "## $2" ""
}
sub() { H "<h3>$(esc "$1")</h3>"; M "### $1" ""; }
bullets() {
  local it
  H "<ul>"
  for it in "$@"; do
    H "<li>$(inline "$it")</li>"
    M "- $it"
  done
  H "</ul>"
  M ""
}
cards_start() { H '<div class="cards">'; }
cards_end() { H '</div>'; M ""; }
card() { # VALUE WHAT DETAIL
  local cls=card
  [ "$1" = "$NM" ] && cls="card missing"
  H "<div class=\"$cls\"><div class=\"value\">$(esc "$1")</div><div class=\"what\">$(inline "$2")</div><div class=\"detail\">$(inline "$3")</div></div>"
  M "- **$1** — $2. $3"
}
table_start() { # CLASS HEADER...
  local cls=$1 h
  shift
  H "<table class=\"$cls\"><thead><tr>"
  for h in "$@"; do H "<th>$(inline "$h")</th>"; done
  H "</tr></thead><tbody>"
  local line="|" sep="|"
  for h in "$@"; do line+=" $h |"; sep+=" --- |"; done
  M "$line" "$sep"
}
table_row() {
  local c line="|" first=1
  H "<tr>"
  for c in "$@"; do
    if [ "$first" -eq 1 ]; then H "<th scope=\"row\">$(inline "$c")</th>"; first=0
    else H "<td>$(inline "$c")</td>"; fi
    line+=" ${c//|/\\|} |"
  done
  H "</tr>"
  M "$line"
}
table_end() { H "</tbody></table>"; M ""; }
# Figures are numbered: "Figure N." opens each title, once in the whole page,
# and every caption ends with its source line; make check-report finds both
# on one printed page to prove that no chart is cut across pages.
FIG_N=0
figure() { # NAME TITLE CAPTION SOURCE
  local name=$1 title=$2 caption=$3 source=$4 cls=""
  FIG_N=$((FIG_N + 1))
  title="Figure $FIG_N. $title"
  [[ " ${MISSING_FIGURES[*]:-} " == *" $name "* ]] && cls=" class=\"missing\""
  H "<figure id=\"chart-$name\"$cls>" "<h3>$(esc "$title")</h3>"
  sed 's/^<svg /<svg role="img" aria-label="'"$(esc "$title" | sed 's/[\/&]/\\&/g')"'" /' "$CHARTS/$name.svg" >>"$HTML"
  H "<figcaption>$(inline "$caption") <span class=\"source\">Source: $(inline "$source")</span></figcaption>" "</figure>"
  M "### $title" "" "![$title](charts/$name.svg)" "" "$caption *Source: $source*" ""
}
src() { # NAME: where a figure came from
  local c
  c=$(cmd_of "$1")
  if [ "$(status_of "$1")" = measured ]; then echo "\`$c\`, $(reps_of "$1") runs → data/figures.json (labs.$1)"
  else echo "not measured ($(why_missing "$1"))"; fi
}

# ------------------------------------------------------------------ statistics and references
#
# hs KEY FIELD: one field of a headline figure in data/figures.json (empty when missing).
declare -A HEADLINE=()
while IFS=$'\t' read -r k f v; do
  HEADLINE[$k.$f]=$v
done < <(jq -r '.headline | to_entries[] | .key as $k | .value | to_entries[]
  | [$k, .key, (.value | tostring)] | @tsv' "$FIG")
hs() { printf '%s' "${HEADLINE[$1.$2]:-}"; }
# fmt UNIT VALUE: a value in the words the briefing uses for its unit.
fmt() {
  [ -n "$2" ] || { echo "$NM"; return; }
  case $1 in
    µs) us "$2" ;;
    s) dur "$2" ;;
    ms) echo "$(num "$2") ms" ;;
    files | tries) count "$2" ;;
    *) num "$2" ;;
  esac
}
# hv KEY: the headline figure (its median), in words.
hv() { fmt "$(hs "$1" unit)" "$(hs "$1" median)"; }
# hr KEY: what stands beside it: the range of the N runs.
hr() {
  local n lo hi u
  n=$(hs "$1" n)
  [ -n "$n" ] || { echo "not measured"; return; }
  u=$(hs "$1" unit)
  lo=$(fmt "$u" "$(hs "$1" min)")
  hi=$(fmt "$u" "$(hs "$1" max)")
  if [ "$lo" = "$hi" ]; then echo "the same in all $n runs"
  else echo "median of $n runs; range $lo to $hi"; fi
}
# hq KEY: a random trial's distribution: median and quartiles over the runs.
hq() {
  local n u
  n=$(hs "$1" n)
  [ -n "$n" ] || { echo "not measured"; return; }
  u=$(hs "$1" unit)
  local w=""
  case $u in files | tries) w=" $u" ;; esac
  echo "a median of $(fmt "$u" "$(hs "$1" median)")$w (quartiles $(fmt "$u" "$(hs "$1" q1)") to $(fmt "$u" "$(hs "$1" q3)"), $n runs)"
}

# The references: KEY|citation|URL. Numbered in this order; cite KEY... prints
# "[n, m]". The URLs were checked on REFS_CHECKED. Checked against the
# publishers' own pages: nasem7 (NAP's OpenBook page read/25010/chapter/9 is
# chapter 7, pages 83-94), ghostletter (published by Lawfare with the OTI's
# introduction; 47 signatories), carnegie (the Encryption Working Group's paper
# of 10 September 2019 on carnegieendowment.org/research).
REFS_CHECKED="7 December 2026"
REFS=(
  "fbi|Federal Bureau of Investigation. Warrant-Proof Encryption and Lawful Access.|https://www.fbi.gov/about/mission/lawful-access/lawful-access"
  "comey|Comey, J. B. Going Dark: Are Technology, Privacy, and Public Safety on a Collision Course? Speech at the Brookings Institution, 16 October 2014.|https://www.fbi.gov/news/speeches/going-dark-are-technology-privacy-and-public-safety-on-a-collision-course"
  "wapo|Barrett, D. FBI repeatedly overstated encryption threat figures to Congress, public. The Washington Post, 22 May 2018.|https://www.washingtonpost.com/world/national-security/fbi-repeatedly-overstated-encryption-threat-figures-to-congress-public/2018/05/22/5b68ae90-5dce-11e8-a4a4-c070ef53f315_story.html"
  "europol|Europol. European Police Chiefs call for industry and governments to take action against end-to-end encryption roll-out. News release, 21 April 2024.|https://www.europol.europa.eu/media-press/newsroom/news/european-police-chiefs-call-for-industry-and-governments-to-take-action-against-end-to-end-encryption-roll-out"
  "ecroadmap|European Commission, Migration and Home Affairs. Lawful access to data (the Roadmap for lawful and effective access to data for law enforcement, 24 June 2025).|https://home-affairs.ec.europa.eu/policies/internal-security/lawful-access-data_en"
  "council|Council of the European Union. Council Resolution on Encryption: Security through encryption and security despite encryption. Document 13084/1/20 REV 1, 24 November 2020.|https://data.consilium.europa.eu/doc/document/ST-13084-2020-REV-1/en/pdf"
  "ipa|Investigatory Powers Act 2016 (UK), section 253: Technical capability notices.|https://www.legislation.gov.uk/ukpga/2016/25/section/253"
  "ipa2024|Investigatory Powers (Amendment) Act 2024 (UK).|https://www.legislation.gov.uk/ukpga/2024/9/contents"
  "doormats|Abelson, H., Anderson, R., Bellovin, S. M., Benaloh, J., Blaze, M., Diffie, W., Gilmore, J., Green, M., Landau, S., Neumann, P. G., Rivest, R. L., Schiller, J. I., Schneier, B., Specter, M., Weitzner, D. J. Keys Under Doormats: Mandating insecurity by requiring government access to all data and communications. MIT CSAIL Technical Report MIT-CSAIL-TR-2015-026, 6 July 2015.|https://dspace.mit.edu/handle/1721.1/97690"
  "nasem|National Academies of Sciences, Engineering, and Medicine. Decrypting the Encryption Debate: A Framework for Decision Makers. The National Academies Press, 2018. doi:10.17226/25010.|https://doi.org/10.17226/25010"
  "nasem7|National Academies of Sciences, Engineering, and Medicine. Chapter 7: A Framework for Evaluating Approaches to Access Plaintext, pages 83-94 of Decrypting the Encryption Debate: A Framework for Decision Makers. Washington, DC: The National Academies Press, 2018. doi:10.17226/25010.|https://nap.nationalacademies.org/read/25010/chapter/9"
  "blaze|Blaze, M. Protocol Failure in the Escrowed Encryption Standard. Proceedings of the 2nd ACM Conference on Computer and Communications Security, 1994.|https://www.mattblaze.org/papers/eesproto.pdf"
  "fips185|National Institute of Standards and Technology. FIPS PUB 185: Escrowed Encryption Standard. February 1994 (withdrawn).|https://csrc.nist.gov/pubs/fips/185/final"
  "adk|CERT Coordination Center. Vulnerability Note VU#747124: ADK flaw in recent versions of PGP. 6 October 2000.|https://www.kb.cert.org/vuls/id/747124"
  "apple|Cook, T. A Message to Our Customers. Apple, 16 February 2016.|https://www.apple.com/customer-letter/"
  "oig|U.S. Department of Justice, Office of the Inspector General. A Special Inquiry Regarding the Accuracy of FBI Statements Concerning its Capabilities to Exploit an iPhone Seized During the San Bernardino Terror Attack Investigation. March 2018.|https://oig.justice.gov/reports/2018/o1803.pdf"
  "wired|Levy, S. Cracking the Crypto War (Ray Ozzie's CLEAR proposal). Wired, 25 April 2018.|https://www.wired.com/story/crypto-war-clear-encryption/"
  "green|Green, M. A few thoughts on Ray Ozzie's \"Clear\" Proposal. A Few Thoughts on Cryptographic Engineering, 26 April 2018.|https://blog.cryptographyengineering.com/2018/04/26/a-few-thoughts-on-ray-ozzies-clear-proposal/"
  "ghost|Levy, I., Robinson, C. Principles for a More Informed Exceptional Access Debate. Lawfare, 29 November 2018.|https://www.lawfaremedia.org/article/principles-more-informed-exceptional-access-debate"
  "ghostletter|Bradford Franklin, S., Wilson Thompson, A. (New America's Open Technology Institute). Open Letter to GCHQ on the Threats Posed by the Ghost Proposal: the letter of 47 civil society organisations, technology companies and experts. Lawfare, 30 May 2019.|https://www.lawfaremedia.org/article/open-letter-gchq-threats-posed-ghost-proposal"
  "crumple|Wright, C. V., Varia, M. Crypto Crumple Zones: Enabling Limited Access without Mass Surveillance. IEEE European Symposium on Security and Privacy, 2018.|https://eprint.iacr.org/2018/288"
  "hacking|Bellovin, S. M., Blaze, M., Clark, S., Landau, S. Lawful Hacking: Using Existing Vulnerabilities for Wiretapping on the Internet. Northwestern Journal of Technology and Intellectual Property 12(1), 2014.|https://scholarlycommons.law.northwestern.edu/njtip/vol12/iss1/1/"
  "bugs|Abelson, H., Anderson, R., Bellovin, S. M., Benaloh, J., Blaze, M., Callas, J., Diffie, W., Landau, S., Neumann, P. G., Rivest, R. L., Schiller, J. I., Schneier, B., Teague, V., Troncoso, C. Bugs in our Pockets: The Risks of Client-Side Scanning. arXiv:2110.07450, 2021.|https://arxiv.org/abs/2110.07450"
  "carnegie|Encryption Working Group (Carnegie Endowment for International Peace and Princeton University). Moving the Encryption Policy Conversation Forward. Carnegie Endowment for International Peace, 10 September 2019.|https://carnegieendowment.org/research/2019/09/moving-the-encryption-policy-conversation-forward"
  "age|C2SP. The age-encryption.org/v1 file format.|https://c2sp.org/age"
  "tlog|C2SP. Transparency log checkpoints (tlog-checkpoint) and witness cosignatures (tlog-cosignature).|https://c2sp.org/tlog-checkpoint"
  "shamir|Shamir, A. How to Share a Secret. Communications of the ACM 22(11), 612-613, 1979.|https://doi.org/10.1145/359168.359176"
)
cite() {
  local k i out=""
  for k in "$@"; do
    for i in "${!REFS[@]}"; do
      if [ "${REFS[$i]%%|*}" = "$k" ]; then out+="${out:+, }$((i + 1))"; continue 2; fi
    done
    echo "doormat: report: internal error: no reference \"$k\"" >&2
    out+="${out:+, }?"
  done
  echo "[$out]"
}

# ------------------------------------------------------------------ the page
M_DATE=$(q "$MACHINE" '.date_utc')
M_WHEN=$(date -u -d "$M_DATE" '+%-d %B %Y at %H:%M UTC' 2>/dev/null || echo "$M_DATE")
M_CPU=$(q "$MACHINE" '.cpu_model')
M_CPUS=$(q "$MACHINE" '.cpus_online')
M_OS=$(q "$MACHINE" '.os')
M_MODE=$(q "$MACHINE" '.mode')
M_MEM=$(q "$MACHINE" '.mem_bytes / 1073741824 | . * 10 | round / 10')
MODE_WORDS="quick (classroom) measurements: small files, few repetitions"
[ "$M_MODE" = full ] && MODE_WORDS="full measurements (publication settings)"
[ -n "$FROM" ] && MODE_WORDS="$MODE_WORDS; redrawn from the data of an earlier run"

H '<!DOCTYPE html>' '<html lang="en">' '<head>' '<meta charset="utf-8">' \
  '<meta name="viewport" content="width=device-width, initial-scale=1">' \
  "<title>Exceptional access, measured — doormat briefing ${M_DATE%%T*}</title>" '<style>'
H "$(cat <<'CSS'
:root { --ink: #1d2733; --muted: #5b6673; --line: #d8dde3; --accent: #1b6ca8; --warn: #c0392b; }
* { box-sizing: border-box; }
body { margin: 0; background: #eef1f4; color: var(--ink);
  font: 17px/1.55 "DejaVu Sans", "Segoe UI", Helvetica, Arial, sans-serif; }
main { max-width: 960px; margin: 0 auto; background: #fff; padding: 48px 56px 64px; }
header.cover { border-bottom: 4px solid var(--accent); padding-bottom: 18px; margin-bottom: 8px; }
header.cover .kicker { text-transform: uppercase; letter-spacing: .08em; color: var(--accent); font-size: 14px; font-weight: bold; }
h1 { font-size: 38px; line-height: 1.15; margin: 6px 0 10px; }
header.cover .sub { font-size: 20px; color: var(--muted); margin: 0 0 12px; }
header.cover .meta { font-size: 14px; color: var(--muted); margin: 0; }
h2 { font-size: 27px; margin: 44px 0 12px; padding-top: 10px; border-top: 1px solid var(--line); }
h3 { font-size: 19px; margin: 26px 0 8px; }
section#summary h2 { border-top: none; margin-top: 22px; padding-top: 0; }
p, li { max-width: 46em; }
.note { color: var(--muted); font-size: 15px; }
.cards { display: grid; grid-template-columns: repeat(3, 1fr); gap: 14px; margin: 18px 0 22px; }
.card { border: 1px solid var(--line); border-top: 5px solid var(--accent); border-radius: 6px; padding: 12px 14px; background: #fbfcfd; }
.card:nth-child(n+3) { border-top-color: var(--warn); }
.card .value { font-size: 27px; font-weight: bold; line-height: 1.2; }
.card .what { font-size: 15px; font-weight: bold; margin: 4px 0; }
.card .detail { font-size: 13.5px; color: var(--muted); line-height: 1.4; }
.card.missing .value { color: #999; font-size: 20px; }
table { border-collapse: collapse; width: 100%; margin: 12px 0 18px; font-size: 14.5px; }
th, td { border: 1px solid var(--line); padding: 7px 9px; text-align: left; vertical-align: top; }
thead th { background: #f0f3f6; }
tbody th { background: #f7f9fa; width: 17%; }
table.compare td { width: 12%; }
table.compare { font-size: 13px; }
figure { margin: 22px 0 30px; padding: 0; break-inside: avoid; page-break-inside: avoid; }
figure svg { display: block; width: 100%; height: auto; border: 1px solid var(--line); border-radius: 4px; }
figcaption { font-size: 15px; color: var(--muted); margin-top: 8px; }
figcaption .source { display: block; font-size: 13px; margin-top: 4px; }
code { font-family: "DejaVu Sans Mono", monospace; font-size: .88em; background: #f0f3f6; padding: 1px 4px; border-radius: 3px; }
table.coverfacts { font-size: 14px; margin-top: 16px; }
table.coverfacts th { width: 24%; background: #f7f9fa; white-space: nowrap; }
ol.refs { font-size: 14px; padding-left: 2em; }
ol.refs li { margin: 0 0 5px; max-width: none; }
ol.refs .url { font-family: "DejaVu Sans Mono", monospace; font-size: .85em; overflow-wrap: anywhere; color: var(--muted); }
table.framework td, table.options td { font-size: 13.5px; }
table.framework tbody th, table.options tbody th { width: 18%; }
footer { margin-top: 40px; font-size: 13px; color: var(--muted); border-top: 1px solid var(--line); padding-top: 10px; }
@media screen and (max-width: 760px) { main { padding: 20px; } .cards { grid-template-columns: 1fr; } }
@page { size: A4; margin: 17mm 13mm 15mm; }
@media print {
  body { background: #fff; font-size: 9.5pt; line-height: 1.35; }
  main { max-width: none; padding: 0; }
  h1 { font-size: 22pt; margin: 2px 0 4px; }
  header.cover { padding-bottom: 8px; }
  header.cover .sub { font-size: 12pt; margin-bottom: 6px; }
  .cards { margin: 10px 0 10px; }
  p { margin: 6px 0; }
  ul { margin: 6px 0; }
  h2 { font-size: 15pt; margin-bottom: 6px; padding-top: 0; }
  h3 { font-size: 12pt; margin: 14px 0 6px; break-after: avoid; page-break-after: avoid; }
  p, li { max-width: none; }
  .card { padding: 7px 9px; }
  .card .what { font-size: 9.5pt; }
  .card .detail { font-size: 8.5pt; }
  table { font-size: 8.5pt; }
  table.compare { font-size: 7pt; }
  table.compare th, table.compare td { padding: 3px 3px; }
  th, td { padding: 4px 5px; }
  figcaption { font-size: 9pt; }
  figcaption .source { font-size: 8pt; }
  section { break-before: page; page-break-before: always; }
  header.cover { break-after: page; page-break-after: always; border-bottom: none; padding-top: 40mm; }
  h1 { font-size: 30pt; }
  table.coverfacts { font-size: 10pt; margin-top: 14mm; }
  section#keypoints { break-before: auto; page-break-before: auto; }
  section#keypoints li { margin-bottom: 5px; }
  ol.refs { font-size: 8.5pt; }
  table.framework, table.options { font-size: 8pt; }
  table.framework td, table.options td { font-size: 8pt; }
  h2 { border-top: none; margin-top: 0; }
  .cards { gap: 8px; }
  .card .value { font-size: 16pt; }
  figure, table, tr, .card { break-inside: avoid; page-break-inside: avoid; }
  figure { margin: 10px 0 16px; }
  figure svg { width: 100%; max-height: 100mm; }
  a { color: inherit; text-decoration: none; }
}
CSS
)"
H '</style>' '</head>' '<body>' '<main>'
M_COMMIT=$(q "$MACHINE" '.commit')
M_VERSION=$(q "$MACHINE" '.versions.doormat')
M_DAY=$(date -u -d "$M_DATE" '+%-d %B %Y' 2>/dev/null || echo "${M_DATE%%T*}")
M_YEAR=$(date -u -d "$M_DATE" '+%Y' 2>/dev/null || echo "${M_DATE%%-*}")
M_REPS=$(jq -r '.repetitions // 1' "$FIG")
MACHINE_WORDS="${M_CPU:-an unknown processor} (${M_CPUS:-?} cores, ${M_MEM:-?} GiB of memory), ${M_OS:-unknown system}"
REPS_WORDS="Every measured figure is the median of $M_REPS independent runs, with their range."
[ "$M_MODE" = quick ] && REPS_WORDS="Quick mode: small workloads and fast lab settings ($M_REPS runs per figure), for a classroom, not for citation. $REPS_WORDS"
[ "$M_MODE" = full ] && REPS_WORDS="Full measurements (publication settings). $REPS_WORDS"
[ -n "$FROM" ] && REPS_WORDS="$REPS_WORDS Redrawn from the data of an earlier run."
CITATION="doormat project, Exceptional access, measured: a briefing on lawful access to encrypted data (doormat ${M_VERSION#doormat }, commit ${M_COMMIT:-unknown}; measured ${M_DAY}), ${M_YEAR}."
H '<header class="cover" id="cover">' '<div class="kicker">Policy briefing · prepared with doormat</div>' \
  '<h1>Exceptional access, measured</h1>' \
  '<p class="sub">Lawful access to encrypted data: the case for it and against it, one design built and timed, and the options.</p>' \
  '<table class="coverfacts"><tbody>' \
  "<tr><th scope=\"row\">Date</th><td>$(esc "${M_WHEN:-an unknown date}")</td></tr>" \
  "<tr><th scope=\"row\">Version</th><td>$(esc "${M_VERSION:-doormat, unknown version}"), commit $(esc "${M_COMMIT:-unknown}")</td></tr>" \
  "<tr><th scope=\"row\">Machine measured</th><td>$(esc "$MACHINE_WORDS")</td></tr>" \
  "<tr><th scope=\"row\">Measurements</th><td>$(esc "$REPS_WORDS")</td></tr>" \
  "<tr><th scope=\"row\">Prepared with</th><td>doormat report, an open-source teaching tool: age v1 file encryption and an escrow variant built for policy analysis</td></tr>" \
  "<tr><th scope=\"row\">Suggested citation</th><td>$(esc "$CITATION")</td></tr>" \
  '</tbody></table>' '</header>'
M "# Exceptional access, measured" "" \
  "*Policy briefing, prepared with doormat. Lawful access to encrypted data: the case for it and against it, one design built and timed, and the options.*" "" \
  "- **Date**: ${M_WHEN:-an unknown date}" \
  "- **Version**: ${M_VERSION:-doormat, unknown version}, commit ${M_COMMIT:-unknown}" \
  "- **Machine measured**: $MACHINE_WORDS" \
  "- **Measurements**: $REPS_WORDS" \
  "- **Prepared with**: doormat report" \
  "- **Suggested citation**: $CITATION" ""

# ---- key points: one page, both sides in their own terms, then what was measured
N_REPS=$(jq -r '.repetitions // 1' "$FIG")
section keypoints "Key points"
bullets \
  "**The question.** Should the law require that encrypted data and devices can be opened for the authorities under a warrant (\"exceptional access\")? This briefing sets out the case made for it and against it, then tests one such design, built and measured here." \
  "**The case for access, as its proponents make it.** The FBI says that default encryption on phones and in messaging leaves evidence out of reach even when a court has authorised access, a problem it calls \"going dark\": providers comply with warrants for what they can read, and encryption they cannot open removes that option; it asks for \"lawful access\" designed in by providers $(cite fbi comey). European police chiefs, with Europol, called in April 2024 on industry and governments to keep the ability to read content under lawful authority as end-to-end encryption spreads $(cite europol); the European Commission's June 2025 roadmap on lawful access to data for law enforcement plans work on access to encrypted data $(cite ecroadmap), after the Council's 2020 call for \"security through encryption and security despite encryption\" $(cite council). In the UK, the Investigatory Powers Act lets the Secretary of State give a provider a technical capability notice, which may require it to be able to remove electronic protection it applied $(cite ipa ipa2024)." \
  "**The case against, as its proponents make it.** Fifteen computer scientists argued in Keys Under Doormats that any exceptional access makes systems more complex, undoes protections such as forward secrecy, and creates keys and procedures whose compromise opens everything $(cite doormats). Earlier attempts failed in practice: Clipper's escrow field could be forged $(cite blaze), and PGP's additional decryption keys could be added by anyone $(cite adk). The FBI's own count of locked phones in 2017 was overstated several-fold $(cite wapo)." \
  "**What we measured on this machine** (each figure the median of $N_REPS independent runs, with the range beside it; Section \"Method\" says how):" \
  "Adding 2-of-3 escrow costs **$(hv escrow_encrypt_extra_us)** of computing per file ($(hr escrow_encrypt_extra_us)): cost is not the obstacle." \
  "One stolen escrow master key opened **all $(hv master_key_files) of the $(hv master_key_escrowed) files** escrowed to it, with no warrant and no log entry; split among 2 of 3 agents, one stolen agent key opened ${BR_ONE:-$NM}." \
  "A Clipper-style 16-bit check is forged in **$(hv leaf_expected_seconds)** expected ($(hr leaf_expected_seconds)); the forgeries observed took $(hq leaf_tries), against $(hv leaf_expected_tries) expected from theory." \
  "Without a retry limit, every 4-digit PIN on a phone-like device is tried in **$(hv pin4_worst_seconds)** ($(hr pin4_worst_seconds)); the retry limit, not the PIN, protects the device." \
  "A sender who will not comply can strip or spoil the escrow: only software built to insist on escrow notices; the authority recovers nothing." \
  "**What this cannot settle.** The measurements show what a design costs and how it fails technically. Whether the residual risk is acceptable for the investigative benefit is a judgement for Parliament or Congress; the National Academies' framework $(cite nasem) lists the questions to ask, answered for this design in Section \"The framework\"."

# ---- background: what encryption and exceptional access are, and the record
section background "Background"
sub "Encryption and exceptional access"
para "Encryption turns a file or a message into data that only the holder of a key can read. Modern tools, such as the open age file format used here $(cite age), give each file a fresh random key and lock that key for each addressee; nobody else, including the software's maker, can open the file." \
  "\"Exceptional access\" means adding one more way in for the authorities. The simplest, key escrow, locks each file's key a second time for an authority, whose key may be split between several agents so that no single one can use it alone (Shamir's secret sharing $(cite shamir)). Other designs leave the file alone and give a vendor a key to unlock devices (CLEAR), or add a silent extra participant to a conversation (the \"ghost\")."
sub "The record"
bullets \
  "**1993 to 1996, the Clipper chip.** The US Escrowed Encryption Standard put a chip in phones whose keys were held by two government agencies; every call carried a Law Enforcement Access Field (LEAF) protected by a 16-bit checksum $(cite fips185). In 1994 Matt Blaze showed that a forged LEAF passing the check could be found by trial, so the encryption worked while the escrow silently did not $(cite blaze). The programme was abandoned." \
  "**2000, PGP's Additional Decryption Key flaw.** PGP versions 5.5.x to 6.5.3 honoured additional decryption keys placed in the unsigned part of a public key, so anyone could add a decryption key to someone else's key $(cite adk). Ralf Senderek found the flaw." \
  "**July 2015, Keys Under Doormats.** The report's authors argued that exceptional access adds complexity, undoes forward secrecy and concentrates targets $(cite doormats)." \
  "**February to March 2016, Apple and the FBI.** After the San Bernardino shooting a court ordered Apple to write software that would switch off the passcode protections of the shooter's iPhone 5C so the passcode could be guessed; Apple refused publicly $(cite apple). The case ended when the FBI obtained a way in from an outside party; the Justice Department's Inspector General later examined what the FBI had known of its own capabilities $(cite oig)." \
  "**2017 to 2018, the FBI's count.** The FBI Director cited nearly 7,800 devices the FBI could not open in 2017; the Washington Post reported on 22 May 2018 that the correct number was probably between 1,000 and 2,000 $(cite wapo)." \
  "**2018, Ray Ozzie's CLEAR.** A device encrypts its passcode to its vendor's public key; under a warrant, with the device in hand, the vendor decrypts it and the device is made unusable $(cite wired). Critics said the vendor key becomes a master key for every device $(cite green)." \
  "**2018, crypto crumple zones.** Wright and Varia proposed making each file's key recoverable only by a costly computation, affordable for a few targets but not for mass surveillance $(cite crumple)." \
  "**November 2018, GCHQ's \"ghost\".** Ian Levy and Crispin Robinson of GCHQ proposed that a provider could silently add a law-enforcement participant to a conversation $(cite ghost); an open letter from companies, civil society and experts replied that this requires suppressing notifications and undermines users' trust in authentication $(cite ghostletter)."

# ---- what we built and measured
section summary "What we built and measured"
para "We built two versions of the same file-encryption tool and measured them on this computer." \
  "The **vault** is ordinary strong encryption, in the open age file format $(cite age): only the people a file" \
  "is addressed to can open it, and nobody else, not even the maker of the software." \
  "The **escrow** version adds exceptional access the way policy proposals describe it: an authority" \
  "can also open every file, but only when enough of its officials (here any 2 of 3) release their" \
  "part of the key under a signed warrant, and every release is written to a tamper-evident log $(cite tlog)." \
  "We also rebuilt the Clipper chip's escrow field $(cite blaze), crumple zones $(cite crumple), Ozzie's CLEAR $(cite wired)," \
  "a ghost recipient $(cite ghost) and a phone passcode attack like the one at the centre of the 2016" \
  "dispute between Apple and the FBI $(cite apple). Each card gives the median of ${N_REPS} independent runs and, beside it, their range."
cards_start
if [ -n "$(hs escrow_encrypt_extra_us median)" ]; then
  card "$(hv escrow_encrypt_extra_us)" "extra computer time per file to add 2-of-3 escrow" \
    "Encrypting a $(size "${SMALL:-0}") file took $(hv vault_encrypt_us) without escrow and $(hv escrow_encrypt_us) with it (medians); $(hr escrow_encrypt_extra_us). Checking the escrow on receipt: $(hv escrow_check_us)."
else
  card "$NM" "extra computer time per file to add escrow" "$(why_missing bench)."
fi
if [ -n "$(hs escrow_per_gib_seconds median)" ]; then
  if awk -v a="$(hs escrow_per_gib_seconds min)" -v b="$(hs escrow_per_gib_seconds max)" 'BEGIN { exit !(a <= 0 && b >= 0) }'; then
    card "no measurable cost" "extra time per GiB of data, with escrow" \
      "In $(size "$LARGE") files the difference between escrow and vault ranged from $(dur "$(hs escrow_per_gib_seconds min | tr -d -)") faster to $(dur "$(hs escrow_per_gib_seconds max)") slower per GiB over ${N_REPS} runs: no cost that stands out of the noise. The encryption itself: $(hv vault_per_gib_seconds) per GiB. Escrow costs per file, not per byte."
  else
    card "$(hv escrow_per_gib_seconds)" "extra time per GiB of data, with escrow" \
      "In $(size "$LARGE") files ($(hr escrow_per_gib_seconds)), on top of $(hv vault_per_gib_seconds) for the encryption itself. Escrow costs per file, not per byte."
  fi
else
  card "$NM" "extra time per GiB of data, with escrow" "$(why_missing bench)."
fi
if [ -n "$BR_MASTER" ]; then
  card "all $(hv master_key_files) files" "opened by a thief who steals the one escrow master key" \
    "Every one of the $(hv master_key_escrowed) files escrowed to it, opened in $(dur "$BR_MASTER_S"). One user's stolen key opened ${BR_USER:-?} of the ${BR_TOTAL:-?} files of the test; one of the 2-of-3 agents' keys ${BR_ONE:-?}; two of them ${BR_TWO:-?}."
else
  card "$NM" "files opened with a stolen master key" "$(why_missing blast-radius)."
fi
if [ -n "$(hs leaf_expected_seconds median)" ]; then
  card "$(hv leaf_expected_seconds)" "expected time to forge a Clipper-style escrow field (${LF_BITS}-bit check)" \
    "$(hv leaf_expected_tries) tries expected, at the measured rate ($(hr leaf_expected_seconds)). Forgeries observed: $(hq leaf_tries). The forged file $( [ "$LF_PASSES" = true ] && echo "passed" || echo "did not pass") the compliance check, yet the authority recovered only a useless key."
else
  card "$NM" "to forge a Clipper-style escrow field" "$(why_missing leaf-forge)."
fi
if [ -n "$(hs crumple_seconds_per_try_top median)" ]; then
  card "$(hv crumple_seconds_per_try_top)" "expected time to recover one file's key from a ${CR_TOPBITS}-bit crumple zone" \
    "$(hr crumple_seconds_per_try_top); $(hv crumple_population_top) for $(num "$CR_POP") files. The search is random: at 16 bits it took $(hq crumple_tries_16), against $(hv crumple_expected_tries_16) expected."
else
  card "$NM" "to recover one file's key from a crumple zone" "$(why_missing crumple)."
fi
if [ -n "$(hs pin4_worst_seconds median)" ]; then
  card "$(hv pin4_worst_seconds)" "to try every 4-digit PIN on a phone-like device" \
    "At $(hv passcode_ms_per_try) per guess ($(hr passcode_ms_per_try)). Cracked live with a fast setting: $(hq pin_crack_tries), against $(hv pin_crack_expected_tries) expected. With a ${PC_LIMIT:-10}-try erase limit the attack $( [ "$PC_LIMIT_FOUND" = false ] && echo "failed" || echo "succeeded")."
else
  card "$NM" "to try every passcode" "$(why_missing passcode)."
fi
cards_end
sub "What the measurements show"
takeaways=()
[ -n "$BR_MASTER" ] && takeaways+=("**A single escrow key is a single point of failure.** Whoever steals it opens every file escrowed to it (all $(hv master_key_files) of the $(hv master_key_escrowed) in our test), with no warrant and no trace in the log. Split among 2 of 3 agents, one stolen agent key opened ${BR_ONE:-?} files, two opened ${BR_TWO:-?}.")
[ -n "$ST_REQ" ] && takeaways+=("**Escrow binds only those who want to be bound.** A sender removed the escrow from a file. The standard age tool $(opened_words "$ST_AGE" | sed 's/^$/was not available to try it/'); only software that insists on escrow $(refused_words "$ST_REQ"); the authority, with a warrant and its agents' keys, recovered $(recovered_words "$ST_REC").")
[ -n "$LF_S" ] && takeaways+=("**A short check is no check.** Clipper protected its escrow field with a 16-bit checksum. At the measured rate a forged field that passes is expected in $(hv leaf_expected_seconds); the forgeries observed took $(hq leaf_tries). With the escrow stanzas derived from the file key, as doormat does, $(num "${SH_TRIES:-0}") random forgeries all failed (${SH_PASSED:-?} passed).")
[ -n "$CR_MS" ] && takeaways+=("**\"Crumple zones\" turn access into a cost, and the cost is a dial.** Each added bit doubles the work per file (${CR_TOPBITS} bits: $(hv crumple_seconds_per_try_top) expected here). Affordable for one file but not for a million ($(dur "$CR_TOPPOP") at ${CR_TOPBITS} bits) holds only until hardware gets faster.")
[ -n "$PC_MS" ] && takeaways+=("**Passcodes alone do not protect a phone; the retry limit does.** A 4-digit PIN falls in $(dur "$(pc_row "4-digit PIN" seconds_worst)") once guessing is unlimited. This is what the FBI asked Apple to switch off in 2016.")
if [ ${#takeaways[@]} -gt 0 ]; then bullets "${takeaways[@]}"
else para "No measurement was available in this run, so there is nothing to summarise: see the method section."; fi

# ---- side by side
section comparison "The designs side by side"
para "Seven ways to build encryption, from no exceptional access at all to the historical designs and two later proposals." \
  "**Bold** figures were measured in this run (the method section says how); the rest describes how each design works."
fig() { [ -n "$1" ] && echo "**$2**" || echo "($NM)"; }
table_start compare "" "Vault (no escrow)" "Escrow: one master key" "Escrow: 2 of 3 agents" "Clipper-style LEAF (1993)" "Crumple zones (2018)" "Ozzie's CLEAR (2018)" "2 of 3 with a witnessed transparency log"
table_row "Who can decrypt" \
  "Only the people the file is addressed to." \
  "The addressees, and whoever holds the one master key." \
  "The addressees, and any 2 of the 3 agents acting together." \
  "The addressees, and the escrow agents, if the escrow field is genuine." \
  "The addressees, and anyone willing to pay the computing cost of the puzzle, file by file." \
  "The device's owner; and the vendor, for every device it holds in its hands, with the one vendor key." \
  "The addressees, and any 2 of the 3 agents; each release through the agents' services is an entry in a public log that witnesses cosign."
table_row "Single points of failure" \
  "None shared: a stolen key opens only its owner's files ($(fig "$BR_USER" "$BR_USER of ${BR_TOTAL:-?} files")). Lose the key and the files are lost." \
  "The master key: stolen, it opened $(fig "$BR_MASTER" "$BR_MASTER of ${BR_TOTAL:-?} files (all it escrowed)")." \
  "No single one: one agent's key opened $(fig "$BR_ONE" "$BR_ONE files"), but two opened $(fig "$BR_TWO" "$BR_TWO files"). The agents' keys and the court's warrant key become targets." \
  "The agents' database of device keys, and the short checksum that protects the escrow field." \
  "No master key. The only brake on mass decryption is the cost per file." \
  "The vendor key: it opened $(fig "$CL_VOPEN" "$CL_VOPEN of ${CL_DEV:-?} devices"), one device's own passcode $(fig "$CL_ONE" "$CL_ONE")." \
  "As 2 of 3: two agents' keys open everything. The authority's public file too: swapped, it let an attacker open $(fig "$SB_ATT" "$SB_ATT of ${SB_FILES:-?} files") unless pinned by its id or checked against the log."
table_row "Enforceable against a sender who will not comply?" \
  "Not applicable: there is nothing to enforce." \
  "No. With the escrow stripped out, standard software $(fig "$ST_AGE" "$(opened_words "$ST_AGE")"); only escrow-checking software $(fig "$ST_REQ" "$(refused_words "$ST_REQ")")." \
  "No, the same: the sender holds the file key and can remove or spoil the escrow; from a spoiled escrow the authority recovered $(fig "$ST_C_REC" "$(recovered_words "$ST_C_REC")")." \
  "No: forged fields passed the check after $(fig "$LF_TRIES" "$(hq leaf_tries)") (Blaze, 1994 $(cite blaze))." \
  "No: the puzzle is made by the sender's software, which the sender controls." \
  "Built into the device by its maker, so the owner cannot remove it; it covers the device's passcode, not what apps encrypt on it (not measured here)." \
  "No, as any escrow: the sender holds the file key and can strip the escrow (see the strip lab)."
table_row "Abuse detectable?" \
  "Not applicable: there is no access path to abuse." \
  "Releases through the procedure are logged; a thief with the key leaves no trace." \
  "Every release is a signed, chained log entry whose edits are detected; a log cut at its end is not, unless its last hash was kept elsewhere. Stolen keys leave no trace." \
  "No: decryption by the agency leaves no trace the user can see." \
  "No: a recovery leaves no trace; the cost is the only signal." \
  "The device bricks itself, so its owner learns of a lawful access; a copy of the vendor key, used on seized devices, leaves no trace with the vendor (bricked in this run: $(fig "$CL_BRICK" "$CL_BRICK of ${CL_DEV:-?}"))." \
  "Releases through the services: $(fig "$IN_SVC_SEEN" "$IN_SVC_SEEN of ${IN_SVC_OPEN:-?} seen by the owner's monitor"). Keys used directly: $(fig "$IN_KEY_SEEN" "$IN_KEY_SEEN of ${IN_KEY_OPEN:-?} seen"). The log sees the procedure, not the key."
table_row "Measured performance cost" \
  "Baseline: $(fig "$V_ENC_SMALL" "$(us "$V_ENC_SMALL") per $(size "${SMALL:-0}") file"); $(fig "$V_MIBS_LARGE" "$(num "$V_MIBS_LARGE") MiB/s in $(size "${LARGE:-0}") files")." \
  "$(fig "$FIX11_ENC" "+$(us "$FIX11_ENC") per file") to encrypt." \
  "$(fig "$FIX23_ENC" "+$(us "$FIX23_ENC") per file") to encrypt; $(fig "$FIX23_CHECK" "$(us "$FIX23_CHECK")") to check on receipt." \
  "$(fig "$LF_PER_TRY" "$(dur "$LF_PER_TRY") per escrow-field check") (our reconstruction)." \
  "$(fig "$CR_ENC" "$(dur "$CR_ENC") per file") to encrypt, $(fig "$CR_CHECK" "$(dur "$CR_CHECK")") to check; recovery as in the chart below." \
  "With the vendor key $(fig "$CL_V1" "$(dur "$CL_V1") per device") at $(num "${CL_MS:-0}") ms a passcode try; by brute force $(fig "$CL_B1" "$(dur "$CL_B1") on average")." \
  "$(fig "$VO_RPS" "$(num "$VO_RPS") releases per second") from one agent's service ($(fig "$VO_P50" "$(num "$VO_P50") ms") each, median)."
table_end

# ---- charts
section charts "The measurements in pictures"
para "Every chart is drawn by gnuplot from data/figures.json, kept next to this page: each point is the median over the runs of its measurement. The program and the data of each chart are in the charts folder."
figure throughput "How fast files are encrypted, by file size" \
  "Higher is faster. Small files are dominated by fixed costs (reading keys, building the header); large files by the encryption of the data itself, over which escrow's fixed cost is spread. Each point is the median of at least ${BENCH_REPS:-several} runs, on ${BENCH_THREADS:-all} threads." \
  "$(src bench)"
figure fixed-cost "Fixed cost per file" \
  "Computer time for one small file. The red bars are the escrow-checking (compliant) client, which rebuilds the escrow to compare it. Escrow's cost is paid once per file." \
  "$(src bench)"
figure blast-radius "Blast radius: what one stolen key opens" \
  "${BR_USERS:-Several} users with ${BR_FPU:-a few} files each, in three populations (vault, one master key, 2 of 3 agents). The thief tried every file with the stolen keys; a file counts when its content came out intact." \
  "$(src blast-radius)"
figure leaf-forge "Forging a Clipper-style escrow field" \
  "How long a rogue sender needs to find a fake escrow field that passes the check, against the size of the check (logarithmic scale: each line is 10 to 100 times the one below). Solid: measured; dashed: computed from the measured rate of tries." \
  "$(src leaf-forge)"
figure crumple "Crumple zones: the price of recovering a key" \
  "Computing time to recover keys by solving each file's puzzle, by puzzle size (logarithmic scale). Each added bit doubles the cost; the red line is a whole population of files." \
  "$(src crumple)"
figure passcode "Guessing a phone passcode" \
  "Time to try passcodes at the measured cost of one guess on a device that slows guessing to about 80 ms, with no limit on the number of tries (logarithmic scale). A limit of ${PC_LIMIT:-10} tries followed by erasing the key stops the attack." \
  "$(src passcode)"

# ---- the access system
section access "The access system"
para "The labs above break exceptional access in its cryptography. Since 2016 the debate has turned on how it fails as a system: who can swap or add a key, what an insider can do unseen, whether access can be imposed on files written before it existed, and whether a key held by a device's vendor is any different. Each lab below does the real thing with the same vault, escrow and service code."
sub "What the labs found"
note "Every measured number below is the median over the ${N_REPS} runs; data/figures.json gives each one's range and quartiles (spread.NAME)."
access=()
if [ -n "$SB_ATT" ]; then
  access+=("**A swapped authority file opens everything, and almost nobody notices.** The sender's authority.pub was replaced by one with the same name, agents and threshold, whose agents are an attacker's. The attacker then opened $SB_ATT of $SB_FILES files without any warrant; the genuine authority opened ${SB_GEN:-?}. The standard age tool $(opened_words "$SB_AGE" | sed 's/^$/was not available to try it/'); a compliant client given the same swapped file $(refused_words "$SB_SW"); only one checking against the genuine authority $(refused_words "$SB_GN") (exit code ${SB_GN:-?}). A sender whose software pins the genuine authority by its id sent ${SB_PIN:-?} files the attacker could open; one that accepts only an authority file published in a transparency log, with a witness's cosignature on its receipt, sent ${SB_LOG:-?}.")
else
  access+=("**A swapped authority file**: $NM ($(why_missing substitution)).")
fi
if [ -n "$GH_OPEN" ]; then
  access+=("**A ghost is invisible to the people it watches.** A client silently added one more recipient to every file: the ghost opened $GH_OPEN of $GH_FILES files, and the receiver opened all $GH_RCV without a warning. The ghost's entry in the file $( [ "$GH_SHAPE" = true ] && echo "has exactly the shape of the receiver's" || echo "differs from the receiver's"); only counting the entries (doormat inspect: ${GH_ST_H:-?} for an honest file, ${GH_ST_G:-?} with the ghost) shows one, and a blind copy the sender chose on purpose counts the same (${GH_ST_B:-?}).")
else
  access+=("**A ghost recipient**: $NM ($(why_missing ghost)).")
fi
if [ -n "$CL_V1" ]; then
  access+=("**A vendor key is a master key.** With Ozzie's CLEAR, the vendor key opened $CL_VOPEN of $CL_DEV devices; one device's own passcode opened ${CL_ONE:-?}. At the measured $(num "$CL_MS") ms per passcode try of a real device's setting, the vendor needs $(dur "$CL_V1") per device and $(dur "$CL_VALL") for all of them; brute force needs $(dur "$CL_B1") per device on average, $(dur "$CL_BALL") for all (extrapolated from the measured rate). The search is random: the lab's own brute force took $(hq clear_brute_tries), against $(hv clear_expected_tries) expected.")
else
  access+=("**Ozzie's CLEAR**: $NM ($(why_missing clear)).")
fi
if [ -n "$RT_FPS" ]; then
  access+=("**A mandate reaches files written before it.** Escrow was added to an archive of $RT_FILES files after the fact, at $(num "$RT_FPS") files per second: $(size "$RT_REWRITTEN") of headers rewritten for an archive of $(size "$RT_ARCHIVE"); the encrypted contents were not touched.")
else
  access+=("**Escrow added after the fact**: $NM ($(why_missing retroactive)).")
fi
if [ -n "$IN_SVC_SEEN" ]; then
  access+=("**The log sees the procedure, not the key.** An insider who went through the agents' procedure (a warrant, a release logged by each agent) was seen by the owner's monitor for $IN_SVC_SEEN of the $IN_SVC_OPEN files opened; insiders who used agents' key files directly opened $IN_KEY_OPEN files and were seen for $IN_KEY_SEEN. With 2 of 3, one agent's key file opened $(q "$IN" '.rows[] | select(.authority == "2-of-3" and .path == "key-file") | .opened'); two opened $(q "$IN" '.rows[] | select(.path == "two-key-files") | .opened').")
else
  access+=("**Insiders and the log**: $NM ($(why_missing insider)).")
fi
UB=$DATA/unbound-id.json
if have unbound-id && [ -n "$(q "$UB" '.rows[0].monitor_saw')" ]; then
  access+=("**A careful log still had a bypass.** A requester rebuilt an escrowed file's header (a new header id) and got a warrant for it. When the agents named a release by the header they were sent, $(q "$UB" '.rows[0].released') agents released, their shares opened the file, and the owner's monitor saw $(q "$UB" '.rows[0].monitor_saw') of the $(q "$UB" '.rows[0].log_entries') log entries. With the escrow stanzas binding an id derived from the file key, the agents released $(q "$UB" '.rows[1].released') shares to the same request, and the owner's monitor saw $(q "$UB" '.bound_warrant.monitor_saw') of the $(q "$UB" '.bound_warrant.released') releases made under a warrant for the file's real id. Only an adversarial read found it.")
else
  access+=("**The log's file id**: $NM ($(why_missing unbound-id)).")
fi
if [ -n "$VO_RPS" ]; then
  access+=("**Capacity is no brake.** One agent's service released $(num "$VO_RPS") shares per second ($(num "$VO_P50") ms each, median; $(num "$VO_P99") ms at the 99th percentile). The 7,800 devices the FBI first cited for 2017 $(cite wapo) would take it $(dur "$(q "$VO" '.rows[] | select(.per_year == 7800) | .service_seconds')"): only the procedure and the cost per access limit how often access is used.")
else
  access+=("**Request volume**: $NM ($(why_missing volume)).")
fi
bullets "${access[@]}"
figure exposed "Files opened without a warrant" \
  "Share of the files each attack opened, with no warrant and no log entry: a sender's authority.pub swapped for an attacker's, a client that adds a ghost recipient, and insiders. Every file counted was really decrypted and compared with its plaintext." \
  "$(src substitution); $(src ghost); $(src insider)"
figure clear "Ozzie's CLEAR: the vendor key against brute force" \
  "Time to open one device and all ${CL_DEV:-the} devices of the lab at a real device's cost of about 80 ms per passcode try (logarithmic scale): with the vendor key, one try per device; without it, by guessing with no retry limit. Both computed from rates measured in this run." \
  "$(src clear)"
figure service "The agent service: time per release" \
  "Latency of one share release by an agent's HTTPS service, measured on this machine over loopback; the service released ${VO_RPS:+$(num "$VO_RPS") }shares per second." \
  "$(src volume)"
figure monitor "What the owner's monitor sees" \
  "Files an insider opened, and how many of those accesses the monitor that reads the agents' transparency logs saw: through the service, or with an agent's key file, for one key and for 2 of 3." \
  "$(src insider)"
# ---- the framework: the National Academies' questions, answered for the design built here
section framework "The framework: questions to ask of any proposal"
para "Chapter 7 of the National Academies' 2018 report sets out a framework for evaluating any proposal for access to plaintext $(cite nasem7). It asks how decision makers can \"assess the effect of each approach on law enforcement and national security, computer and data security, privacy and civil liberties, competitiveness, and other important values\", and it starts from a trade-off: \"exceptional access necessarily weakens security to some degree, while the absence of exceptional access necessarily hampers government investigations to some degree\" $(cite nasem7). The table below puts the framework's questions in our words, one row each and in the chapter's order; the committee's own wording, and the narrower questions it discusses, are in the chapter. Each is answered for the design built and measured here: key escrow with any 2 of 3 agents, signed warrants and a witnessed transparency log. The last column says what a measurement on one machine cannot tell."
table_start framework "Question (in our words)" "For the escrow design built here" "Evidence" "What the measurement cannot say"
table_row "1. Would it give the authorities access at the scale, timeliness and reliability its proponents seek?" \
  "For files made by compliant software, yes: one agent's service released $(num "${VO_RPS:-}") shares a second${VO_P50:+, each in $(num "$VO_P50") ms (median)}. Not for a sender who strips or spoils the escrow: the authority then recovers $(recovered_words "${ST_REC:-}" | sed 's/^$/nothing/')." \
  "Figure 9 (lab volume); lab strip" \
  "How many targets would use non-compliant tools; how courts would treat a refused file."
table_row "2. How would it affect the security of the data or devices concerned?" \
  "It adds keys whose theft opens everything escrowed to them: the 1-of-1 master key opened $(cnt "${BR_MASTER:-}") files; a swapped authority file let an attacker open $(cnt "${SB_ATT:-}") of $(cnt "${SB_FILES:-}") files." \
  "Figures 3 and 7 (labs blast-radius, substitution)" \
  "The chance that keys or procedures are in fact compromised, which depends on people and institutions."
table_row "3. How would it affect privacy, civil liberties and human rights?" \
  "Every escrowed file becomes openable, including files written before the rule (the retroactive lab rewrote $(cnt "${RT_FILES:-}") files' headers); the log records releases made through the procedure." \
  "Figure 10 (labs insider, retroactive)" \
  "Chilling effects, and use of the same capability by less careful governments."
table_row "4. How would it affect commerce, competitiveness and innovation?" \
  "The computing cost is small: $(hv escrow_encrypt_extra_us) per file ($(hr escrow_encrypt_extra_us)). The format must carry and check escrow, which constrains designs such as forward secrecy." \
  "Figures 1 and 2 (doormat bench)" \
  "Market effects, export and trust in products sold abroad."
table_row "5. What would it cost, and who would pay?" \
  "Running agents, warrant keys, witnesses and monitors; the agents' capacity is not the limit (Figure 9)." \
  "Lab volume; the service benchmark." \
  "Staff, audits, incident response and key ceremonies, which dominate the cost and are not measured."
table_row "6. Is it consistent with existing law and other government priorities?" \
  "It presumes a legal duty on software makers to add escrow, comparable to a technical capability notice $(cite ipa)." \
  "None: a legal question." \
  "Everything: compatibility with data-protection and cybersecurity duties is for lawyers."
table_row "7. How would it affect the international landscape?" \
  "An authority's key is national; files cross borders. Other states would ask for their own agents, multiplying the keys of Question 2." \
  "None measured." \
  "The diplomatic and market response; which states would demand the same."
table_row "8. Would it be subject to effective oversight?" \
  "Releases through the agents are logged and witnessed: the owner's monitor saw $(cnt "${IN_SVC_SEEN:-}") of $(cnt "${IN_SVC_OPEN:-}") such accesses. Keys used outside the procedure are not: $(cnt "${IN_KEY_SEEN:-}") of $(cnt "${IN_KEY_OPEN:-}") seen." \
  "Figure 10 (lab insider)" \
  "Whether auditors act on what the log shows; whether a court can review it."
table_end

# ---- policy options
section options "Policy options"
para "Six options that legislators have been offered or that the literature proposes, from no mandate to escrow as built here. For each: what it would take, what our measurements say, its main risks, and who supports it. The order implies no preference."
table_start options "Option" "What it would take" "What our measurements say" "Risks" "Who supports it"
table_row "1. No mandate: strong encryption without exceptional access" \
  "Nothing new; investigators rely on other evidence (metadata, cloud data, informants, device seizures)." \
  "A thief's stolen user key opened only its owner's ${BR_USER:-?} files; nothing to forge, strip or swap." \
  "Some evidence stays unreadable; the FBI and European police chiefs say investigations are harmed $(cite fbi europol)." \
  "Most security researchers $(cite doormats); technology companies such as Apple $(cite apple)."
table_row "2. Lawful hacking and device forensics" \
  "Funding for exploitation of existing vulnerabilities and forensic tools, under warrant and with rules on disclosing vulnerabilities $(cite hacking)." \
  "Without a retry limit a 4-digit PIN falls in $(hv pin4_worst_seconds); with one, the lab's attack failed. Forensics works on weak passcodes and unpatched devices." \
  "Keeps vulnerabilities open for everyone; costly per case; uneven between agencies $(cite hacking)." \
  "Proposed by Bellovin, Blaze, Clark and Landau as an alternative to mandates $(cite hacking); the Commission's 2025 roadmap invests in forensics $(cite ecroadmap)."
table_row "3. Device-unlock mandates in the CLEAR style" \
  "A duty on device makers to hold a key that unlocks a seized device under a warrant $(cite wired)." \
  "The vendor key opened $(cnt "${CL_VOPEN:-}") of $(cnt "${CL_DEV:-}") devices; one device's passcode opened $(cnt "${CL_ONE:-}")." \
  "The vendor key is a master key for every device; its theft is not detectable $(cite green)." \
  "Proposed by Ray Ozzie (2018) $(cite wired); the Carnegie working group set out how to evaluate proposals for access to locked phones $(cite carnegie)."
table_row "4. Key escrow with k-of-n agents and a transparency log (built here)" \
  "A duty on software makers to add escrow stanzas; agents, warrant keys, witnesses and monitors run by the state." \
  "Cheap to compute ($(hv escrow_encrypt_extra_us) per file); a master key opened all $(hv master_key_escrowed) files escrowed to it; a non-compliant sender defeats it; the log sees the procedure, not stolen keys." \
  "Concentrated keys; non-compliant senders; retroactive reach; authority-file substitution $(cite doormats)." \
  "The aim of lawful-access proposals in the US, EU and UK $(cite fbi ecroadmap ipa), though none names this design."
table_row "5. Client-side scanning (out of scope: not measured)" \
  "Software on the device checks content before encryption and reports matches." \
  "Not measured: doormat does not implement it." \
  "Turns every device into a surveillance point; false matches; scope creep $(cite bugs)." \
  "Proposed in the EU debate on child sexual abuse material; opposed by many security researchers $(cite bugs)."
table_row "6. Crumple zones: access by computing cost" \
  "Software makes each file's key recoverable by a costly puzzle $(cite crumple)." \
  "At ${CR_TOPBITS:-?} bits a file costs $(hv crumple_seconds_per_try_top) expected ($(hr crumple_seconds_per_try_top)), a population $(hv crumple_population_top); a rogue sender can skip the puzzle." \
  "The cost falls as hardware improves; a state with money pays it $(cite crumple)." \
  "An academic proposal $(cite crumple); no government has adopted it."
table_end

# ---- limits
section limits "Limits of this work"
limits=("One machine: other computers give other numbers. Each figure is the median of ${N_REPS} runs on this machine; its range shows the spread here, not on other hardware."
  "Speeds are of the encryption inside the program, not of disks or networks."
  "Extrapolated figures assume the measured rate stays constant; real attackers use many machines and special hardware, so the times to forge or to exhaust are upper bounds for a determined attacker."
  "The historical designs are reconstructions of their logic on today's code, not the original hardware or protocols."
  "Nothing here measures the human side: who guards the keys, how warrants are reviewed, how often procedures fail, or what any option costs in staff."
  "Client-side scanning, lawful hacking in practice and the legal questions are described from the sources cited, not measured.")
[ "$M_MODE" = quick ] && limits=("Quick mode: small files and fast lab settings, ${N_REPS} runs per figure, for a classroom. Run \`doormat report\` without --quick for publication figures." "${limits[@]}")
[ ${#MISSING_FIGURES[@]} -gt 0 ] && limits=("Not measured in this run: ${MISSING_FIGURES[*]}." "${limits[@]}")
bullets "${limits[@]}"

# ---- method
section method "Method and machine"
para "Everything in this briefing was measured by the doormat program on the machine below, in the run that wrote this page, unless it is marked extrapolated (computed from a rate measured in the same run) or historical. Each measurement is one command; its raw output is kept in the data folder next to this page."
table_start provenance "Measurement" "Command" "Result" "Run time" "Raw data"
while IFS=$'\t' read -r name command status secs; do
  case $status in
    measured) result="measured" ;;
    unavailable) result="not measured: this build has no such command" ;;
    *) result="not measured: the command failed" ;;
  esac
  raw="data/runs/$name.*.json"
  [ "$status" = measured ] || raw="none"
  table_row "$name" "\`$command\`" "$result" "$(dur "$secs")" "$raw"
done < <(jq -r '.measurements[] | "\(.name)\t\(.command)\t\(.status)\t\(.seconds)"' "$MAN")
table_end
sub "How each figure is made"
bullets \
  "**Speed and fixed cost** (\`doormat bench\`): whole encryptions and decryptions inside one process, from memory to nowhere, after a warm-up; the median of at least ${BENCH_REPS:-several} timed runs per file size (more for small files). The escrow cost per file is the median time of building the escrow; the cost per GiB is the difference between escrow and vault at the largest size, scaled to a GiB. The method is in docs/benchmarks.md." \
  "**Blast radius** (\`doormat lab blast-radius\`): real files encrypted to real keys; the thief's count is of files actually decrypted and compared with the original." \
  "**LEAF forgery** (\`doormat lab leaf-forge\`): random escrow fields tried against a checksum of N bits until one passes the same check that escrow-checking software runs; larger N computed from the measured time per try." \
  "**Crumple zones** (\`doormat lab crumple\`): keys really recovered by search for the sizes that fit in the time budget; larger sizes and whole populations computed from the measured time per try." \
  "**The access system** (\`doormat lab substitution\`, \`ghost\`, \`clear\`, \`retroactive\`, \`insider\`, \`volume\`, \`unbound-id\`): every file counted as opened was decrypted and compared with its plaintext; the receivers' reactions are the exit codes of the real commands (\`age\`, \`doormat decrypt --require-escrow\`, \`doormat inspect\`) run as separate processes; CLEAR's times for a real device multiply the measured ~80 ms passcode try; the service's rate and latency are measured over loopback on this machine." \
  "**Passcodes** (\`doormat lab passcode\`): the key-stretching setting that costs about 80 ms per guess on this machine is found and timed; the exhaustion times are that time multiplied by the number of passcodes. A real PIN is cracked live with a fast setting, and a retry limit is tested."
sub "The machine"
table_start machine "Fact" "Value"
table_row "Date (UTC)" "${M_DATE:-$NM}"
table_row "Processor" "${M_CPU:-$NM}"
table_row "Cores online" "${M_CPUS:-$NM}"
table_row "Memory" "${M_MEM:-?} GiB"
table_row "Operating system" "${M_OS:-$NM}, $(q "$MACHINE" '.kernel') ($(q "$MACHINE" '.arch'))"
table_row "Measurement mode" "$MODE_WORDS"
while IFS=$'\t' read -r k v; do
  table_row "Version: $k" "${v:-not installed}"
done < <(jq -r '.versions | to_entries[] | "\(.key)\t\(.value)"' "$MACHINE")
[ -n "$(q "$B" '.machine.libsodium')" ] && table_row "Version: libsodium" "$(q "$B" '.machine.libsodium')"
table_end
# ---- glossary
section glossary "Glossary"
bullets \
  "**Agent**: one of the officials (here 3) who each hold part of the authority's key; any 2 together can release a file's key." \
  "**Blast radius**: how many files one stolen key opens." \
  "**Compliant client**: software that refuses a file whose escrow is missing or wrong." \
  "**Crumple zone**: a design that makes each file's key recoverable only by a costly computation." \
  "**End-to-end encryption**: encryption where only the communicating users hold the keys, not the service in between." \
  "**Escrow**: a copy of each file's key, locked for an authority, carried inside the file." \
  "**Exceptional access**: any way for the authorities to read encrypted data other than through its owner." \
  "**Ghost**: an extra, hidden recipient added to a conversation or file by the software." \
  "**Key**: the secret number that locks and unlocks data. **Recipient**: a person a file is encrypted for." \
  "**LEAF**: the Law Enforcement Access Field of the Clipper chip, carrying the escrowed key." \
  "**Median, range, quartiles**: the middle of the runs; the lowest to the highest; the middle half of the runs lies between the quartiles." \
  "**Technical capability notice**: a UK notice requiring a provider to keep the ability to assist with interception or equipment interference $(cite ipa)." \
  "**Transparency log**: a public, append-only record whose entries cannot be changed unseen; witnesses cosign its state $(cite tlog)." \
  "**Units**: GiB, MiB, KiB are about a billion, a million, a thousand bytes; ms is a thousandth of a second; µs a millionth."

# ---- references
section references "References"
para "Every factual claim that is not a measurement of this run carries the number of its source. Web addresses were checked on $REFS_CHECKED."
H '<ol class="refs">'
for r in "${REFS[@]}"; do
  rest=${r#*|}
  H "<li id=\"ref-${r%%|*}\">$(esc "${rest%|*}") <span class=\"url\">$(esc "${rest##*|}")</span> (accessed $REFS_CHECKED).</li>"
done
H '</ol>'
i=0
for r in "${REFS[@]}"; do
  i=$((i + 1))
  rest=${r#*|}
  M "$i. ${rest%|*} <${rest##*|}> (accessed $REFS_CHECKED)."
done
M ""
H "</section>"
H "<footer>Written by <code>doormat report</code>$( [ -n "$M_MODE" ] && echo " ($M_MODE mode)") on $(esc "${M_DATE:-?}"). doormat implements the age v1 format (c2sp.org/age) and an escrow variant for teaching and policy analysis.</footer>"
H '</main>' '</body>' '</html>'
M "---" "" "*Written by doormat report (${M_MODE:-?} mode) on ${M_DATE:-?}.*"

# ------------------------------------------------------------------ self-check
# The page must be self-contained: no src or href that leaves the file.
if grep -Eiq '(src|href)[[:space:]]*=[[:space:]]*["'"'"']?[[:space:]]*(https?:|//|ftp:)' "$HTML"; then
  fail "internal error: the briefing would load something from the network"
fi

# ------------------------------------------------------------------ the PDF
# Briefings travel as PDFs: headless Chromium prints the page (A4, from the
# page's own @page rule) when it is installed. A fresh profile, no network
# (a proxy that leads nowhere, background services off), a bounded run.
CHROMIUM=${DOORMAT_CHROMIUM:-chromium}
PDF_NOTE=""
# The PDF is printed through Chromium's DevTools protocol on a pipe
# (--remote-debugging-pipe; Page.printToPDF), the one way headless Chromium
# prints a running header and page numbers: its print ignores CSS @page margin
# boxes, and --print-to-pdf has no header or footer of one's own.
PRINT_PY=$(cat <<'PY'
import base64, json, os, select, subprocess, sys, time
chrome, url, out, header, footer = sys.argv[1:6]
flags = sys.argv[6:]
cmd_r, cmd_w = os.pipe()
res_r, res_w = os.pipe()
def child():
    os.dup2(cmd_r, 3)
    os.dup2(res_w, 4)
proc = subprocess.Popen([chrome, "--headless", "--remote-debugging-pipe"] + flags + ["about:blank"],
                        preexec_fn=child, pass_fds=(3, 4), stdin=subprocess.DEVNULL,
                        stdout=subprocess.DEVNULL, stderr=sys.stderr)
os.close(cmd_r)
os.close(res_w)
deadline = time.time() + float(os.environ.get("PRINT_TIMEOUT", "120"))
buf = b""
n = 0
def send(method, params=None, session=None):
    global n
    n += 1
    msg = {"id": n, "method": method, "params": params or {}}
    if session:
        msg["sessionId"] = session
    os.write(cmd_w, json.dumps(msg).encode() + b"\0")
    return n
def messages():
    global buf
    while True:
        while b"\0" in buf:
            raw, buf = buf.split(b"\0", 1)
            yield json.loads(raw)
        left = deadline - time.time()
        if left <= 0:
            raise SystemExit("print: timed out")
        ready, _, _ = select.select([res_r], [], [], left)
        if ready:
            chunk = os.read(res_r, 1 << 20)
            if not chunk:
                raise SystemExit("print: chromium closed the pipe")
            buf += chunk
def call(method, params=None, session=None):
    i = send(method, params, session)
    for m in messages():
        if m.get("id") == i:
            if "error" in m:
                raise SystemExit("print: %s: %s" % (method, m["error"].get("message")))
            return m.get("result", {})
def wait_event(name, session):
    for m in messages():
        if m.get("method") == name and m.get("sessionId") == session:
            return m
try:
    target = call("Target.createTarget", {"url": "about:blank"})["targetId"]
    session = call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
    call("Page.enable", session=session)
    call("Page.navigate", {"url": url}, session=session)
    wait_event("Page.loadEventFired", session)
    pdf = call("Page.printToPDF", {"displayHeaderFooter": True, "headerTemplate": header,
                                   "footerTemplate": footer, "printBackground": True,
                                   "preferCSSPageSize": True}, session=session)
    with open(out, "wb") as f:
        f.write(base64.b64decode(pdf["data"]))
    try:
        send("Browser.close")
    except OSError:
        pass
finally:
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
PY
)
pdf_header() {
  printf '<div style="font: 7.5pt DejaVu Sans, sans-serif; width: 100%%; margin: 0 13mm; color: #5b6673; display: flex; justify-content: space-between; border-bottom: 0.5pt solid #d8dde3; padding-bottom: 1mm"><span>Exceptional access, measured: a doormat briefing</span><span>%s</span></div>' "$(esc "$1")"
}
pdf_footer() {
  printf '<div style="font: 7.5pt DejaVu Sans, sans-serif; width: 100%%; margin: 0 13mm; color: #5b6673; display: flex; justify-content: space-between"><span>%s</span><span>Page <span class="pageNumber"></span> of <span class="totalPages"></span></span></div>' "$(esc "$1")"
}
print_pdf() {
  if ! command -v "$CHROMIUM" >/dev/null 2>&1; then
    PDF_NOTE="briefing.pdf not written: $CHROMIUM is not installed (Debian: chromium; make report-deps)"
    return 0
  fi
  if ! command -v python3 >/dev/null 2>&1; then
    PDF_NOTE="briefing.pdf not written: python3 is not installed (Debian: python3; make report-deps)"
    return 0
  fi
  progress "printing briefing.pdf"
  local profile sandbox=()
  profile=$(mktemp -d "$STAGE/.chromium.XXXXXX") || fail "cannot write in $OUT"
  sandbox=(--no-sandbox)
  PRINT_TIMEOUT=180 timeout 200 python3 -c "$PRINT_PY" "$CHROMIUM" "file://$HTML" "$STAGE/briefing.pdf" \
    "$(pdf_header "${M_DAY:-} · ${M_MODE:-?} mode")" "$(pdf_footer "doormat ${M_VERSION#doormat }, commit ${M_COMMIT:-unknown}")" \
    "${sandbox[@]}" --disable-gpu --disable-background-networking \
    --disable-component-update --disable-sync --no-first-run --disable-extensions \
    --disable-default-apps --no-pings --disable-domain-reliability --disable-quic \
    --proxy-server=socks5://127.0.0.1:9 --user-data-dir="$profile" >"$STAGE/chromium.log" 2>&1
  local rc=$?
  rm -rf "$profile"
  if [ "$rc" -ne 0 ] || [ "$(head -c 5 "$STAGE/briefing.pdf" 2>/dev/null)" != "%PDF-" ]; then
    { echo "printing with $CHROMIUM exited $rc"; cat "$STAGE/chromium.log"; } >"$DATA/pdf.stderr"
    rm -f "$STAGE/briefing.pdf"
    FAILED+=("pdf")
  fi
  rm -f "$STAGE/chromium.log"
}
print_pdf

# ------------------------------------------------------------------ publish
publish() {
  progress "writing $OUT"
  mkdir -p "$OUT/data" "$OUT/charts" || fail "cannot write in $OUT"
  rm -f "$OUT"/data/*.json "$OUT"/data/*.stderr "$OUT"/charts/*.svg "$OUT"/charts/*.gp "$OUT"/charts/*.tsv
  rm -rf "$OUT/data/runs"
  local f
  for f in "$DATA"/* "$CHARTS"/*; do
    [ -e "$f" ] || continue
    mv -f "$f" "$OUT/${f#"$STAGE"/}" || fail "cannot write $OUT/${f#"$STAGE"/}"
  done
  rm -f "$OUT/briefing.pdf"
  for f in briefing.md briefing.html briefing.pdf; do
    [ -f "$STAGE/$f" ] || continue
    mv -f "$STAGE/$f" "$OUT/$f" || fail "cannot write $OUT/$f"
  done
  progress_done
}
publish
[ -n "$PDF_NOTE" ] && echo "doormat: report: $PDF_NOTE" >&2
if [ ${#UNAVAILABLE[@]} -gt 0 ]; then
  words=()
  for m in "${UNAVAILABLE[@]}"; do words+=("doormat $(measure_probe "$m" | sed 's/ --help//')"); done
  echo "doormat: report: briefing written to $OUT; not measured, as this build has no such command: $(IFS=,; echo "${words[*]}" | sed 's/,/, /g')" >&2
fi
if [ ${#FAILED[@]} -gt 0 ]; then
  echo "doormat: report: briefing written to $OUT, but these failed: ${FAILED[*]} (details in $OUT/data/runs/*.stderr)" >&2
  exit 1
fi
exit 0
