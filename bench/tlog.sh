#!/usr/bin/env bash
# The transparency log's figures for docs/benchmarks.md (make bench-tlog):
# append rate and proof sizes at 1,000 / 100,000 / 1,000,000 entries, storage
# per entry, a monitor verifying the 1,000,000-entry log from nothing and
# catching up on 1,000 new entries, and 100+ kill -9 runs.
#   bench/tlog.sh BUILD [--quick]      (--quick: 100,000 entries, 20 kills)
set -u
B=${1:-build}
N=1000000 KILLS=120
[ "${2:-}" = "--quick" ] && N=100000 KILLS=20
BENCH=$B/bench/tlog-bench
W=$(mktemp -d "${BENCH_TMPDIR:-/var/tmp}/doormat-tlog-bench.XXXXXX")
trap 'rm -rf "$W"' EXIT
echo "== machine: $(nproc) CPUs, $(uname -r), $(df -T "$W" | awk 'NR==2{print $2}') at $W"
echo "== one commit per entry (an fsync'd checkpoint per release), fresh log"
"$BENCH" append "$W/single" 1000 1
echo "== batches of 1000 entries, up to $N"
"$BENCH" append "$W/big" "$N" 1000
echo "== one commit per entry on top of the $N-entry log"
"$BENCH" append "$W/big" $((N + 1000)) 1
echo "== monitor"
"$BENCH" monitor "$W/big" 1000
echo "== kill -9"
bash "$(dirname "$0")/tlog-kill.sh" "$(realpath "$B/doormat")" "$KILLS" "$W/kill"
