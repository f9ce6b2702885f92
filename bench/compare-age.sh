#!/usr/bin/env bash
# doormat against age 1.1.1 on one large file: encrypt and decrypt, from tmpfs
# to /dev/null, with wall time, throughput and peak RSS from /usr/bin/time -v.
#
#   bench/compare-age.sh [--size MIB] [--runs N] [--dir DIR]
#
# Defaults: 1024 MiB, 1 run per cell (the best of N is reported), DIR=/dev/shm.
# Needs about twice the file size free in DIR. Not part of make check.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DOORMAT=${DOORMAT:-$ROOT/build/doormat}
AGE=${AGE:-/usr/bin/age}
AGE_KEYGEN=${AGE_KEYGEN:-/usr/bin/age-keygen}
TIME=/usr/bin/time
SIZE_MIB=1024
RUNS=1
BASE=/dev/shm

while [ $# -gt 0 ]; do
  case $1 in
    --size) SIZE_MIB=$2; shift ;;
    --runs) RUNS=$2; shift ;;
    --dir) BASE=$2; shift ;;
    -h|--help) sed -n '2,8s/^# \{0,1\}//p' "$0"; exit 0 ;;
    *) echo "compare-age.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
for tool in "$DOORMAT" "$AGE" "$AGE_KEYGEN" "$TIME"; do
  [ -x "$tool" ] || { echo "compare-age.sh: $tool not found (make all; make deps)" >&2; exit 1; }
done

W=$(mktemp -d "$BASE/doormat-bench.XXXXXX") || exit 1
trap 'rm -rf "$W"' EXIT
umask 077
"$AGE_KEYGEN" -o "$W/key.txt" 2>/dev/null
PUB=$("$AGE_KEYGEN" -y "$W/key.txt")
echo "making a $SIZE_MIB MiB file in $W ..." >&2
head -c $((SIZE_MIB * 1048576)) /dev/urandom >"$W/plain"

# measure NAME OUTFILE CMD...: runs CMD RUNS times with /usr/bin/time -v; prints
# "seconds max_rss_kib" of the fastest run. OUTFILE receives CMD's stdout.
measure() {
  local out=$1; shift
  local best_s="" best_rss=""
  for _ in $(seq "$RUNS"); do
    # time -v reports wall time in centiseconds only: take it from the clock instead.
    local t0 t1 rss s
    t0=$(date +%s%N)
    "$TIME" -v -o "$W/time.txt" "$@" >"$out" || { echo "compare-age.sh: $* failed" >&2; exit 1; }
    t1=$(date +%s%N)
    rss=$(sed -n 's/^\tMaximum resident set size (kbytes): //p' "$W/time.txt")
    s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
    if [ -z "$best_s" ] || awk -v a="$s" -v b="$best_s" 'BEGIN { exit !(a < b) }'; then
      best_s=$s; best_rss=$rss
    fi
  done
  echo "$best_s $best_rss"
}

row() {
  local tool=$1 op=$2 s=$3 rss=$4
  awk -v tool="$tool" -v op="$op" -v s="$s" -v rss="$rss" -v mib="$SIZE_MIB" 'BEGIN {
    printf "%-8s %-8s %10.3f %12.0f %14.1f\n", tool, op, s, (s > 0 ? mib / s : 0), rss / 1024 }'
}

read -r d_enc_s d_enc_rss < <(measure /dev/null "$DOORMAT" encrypt -r "$PUB" "$W/plain")
"$DOORMAT" encrypt -r "$PUB" -o "$W/ct.age" "$W/plain" || exit 1
read -r d_dec_s d_dec_rss < <(measure /dev/null "$DOORMAT" decrypt -i "$W/key.txt" "$W/ct.age")
read -r a_dec_s a_dec_rss < <(measure /dev/null "$AGE" -d -i "$W/key.txt" "$W/ct.age")
rm -f "$W/ct.age"
read -r a_enc_s a_enc_rss < <(measure /dev/null "$AGE" -e -r "$PUB" "$W/plain")
"$AGE" -e -r "$PUB" -o "$W/ct.age" "$W/plain" || exit 1
read -r d_dec2_s d_dec2_rss < <(measure /dev/null "$DOORMAT" decrypt -i "$W/key.txt" "$W/ct.age")

echo
echo "file: $SIZE_MIB MiB of random data on $(df --output=fstype "$W" | tail -1), output to /dev/null;" \
     "best of $RUNS; $(nproc) CPUs; $("$AGE" --version | head -1 | sed 's/^/age /')"
printf '%-8s %-8s %10s %12s %14s\n' tool op seconds "MiB/s" "peak RSS MiB"
row doormat encrypt "$d_enc_s" "$d_enc_rss"
row age     encrypt "$a_enc_s" "$a_enc_rss"
row doormat decrypt "$d_dec_s" "$d_dec_rss"
row age     decrypt "$a_dec_s" "$a_dec_rss"
echo "(doormat also decrypted age's own ciphertext: $d_dec2_s s, peak RSS $((d_dec2_rss / 1024)) MiB)"
