#!/usr/bin/env bash
# The transparency log's figures for docs/benchmarks.md (make bench-tlog):
# append rate and proof sizes at 1,000 / 100,000 / 1,000,000 entries, storage
# per entry, a monitor verifying the 1,000,000-entry log from nothing and
# catching up on 1,000 new entries, and 100+ kill -9 runs.
#   bench/tlog.sh BUILD [--quick]      (--quick: up to 100,000 entries, 20 kills)
# The rate at a size is the median of 5 runs of the same work on a log of that
# size: 1,000 entries in one batch (one durable commit), and 20 releases of
# one entry each (20 commits: what a release costs).
set -u
B=${1:-build}
SIZES="1000 100000 1000000" KILLS=120
[ "${2:-}" = "--quick" ] && SIZES="1000 100000" KILLS=20
BENCH=$B/bench/tlog-bench
W=$(mktemp -d "${BENCH_TMPDIR:-/var/tmp}/doormat-tlog-bench.XXXXXX")
trap 'rm -rf "$W"' EXIT
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
rate() { sed -n 's/^appended .* (\([0-9]*\)\/s).*/\1/p'; }
echo "== machine: $(nproc) CPUs, $(uname -r), $(df -T "$W" | awk 'NR==2{print $2}') at $W"
printf '%-10s %-16s %-16s %-10s %-12s %s\n' size "1000 in a batch" "20 single" inclusion consistency "bytes/entry"
at=0
for S in $SIZES; do
  [ "$at" -lt "$S" ] && "$BENCH" append "$W/log" "$S" 10000 >/dev/null
  at=$S
  batch=$(for r in 1 2 3 4 5; do "$BENCH" append "$W/log" $((at + r * 1000)) 1000 | rate; done | median)
  at=$((at + 5000))
  single=$(for r in 1 2 3 4 5; do "$BENCH" append "$W/log" $((at + r * 20)) 1 | rate; done | median)
  at=$((at + 100))
  last=$("$BENCH" append "$W/log" "$at" 1)
  inc=$(echo "$last" | sed -n 's/^inclusion proof: \([0-9]*\) hashes.*/\1/p')
  con=$(echo "$last" | sed -n 's/.*consistency proof: \([0-9]*\) hashes.*/\1/p')
  per=$(echo "$last" | sed -n 's/.*, \([0-9.]*\) bytes per entry.*/\1/p')
  printf '%-10s %-16s %-16s %-10s %-12s %s\n' "$S" "$batch/s" "$single/s" "$inc hashes" "$con hashes" "$per"
done
echo "== monitor: from nothing, then catching up on 1000 new entries"
"$BENCH" monitor "$W/log" 1000
echo "== kill -9"
bash "$(dirname "$0")/tlog-kill.sh" "$(realpath "$B/doormat")" "$KILLS" "$W/kill"
