#!/usr/bin/env bash
# Kill -9 share releases at random points (bench/tlog-kill.sh, 20 kills here;
# docs/benchmarks.md records a run of 100+): the log always verifies, never
# two roots for one size, every share on disk has its entry, no share is left
# in a hidden temporary file.
. "$(dirname "$0")/lib.sh"
HERE=$(cd "$(dirname "$0")/../.." && pwd)
kills=20
# Under valgrind each run is ~30 times slower: fewer runs, the same checks.
if [ "${DOORMAT_MEMCHECK:-0}" = 1 ]; then
  kills=6
  export KILL_WINDOW_MS=4000 # a release under valgrind takes seconds
fi
run bash "$HERE/bench/tlog-kill.sh" "$DOORMAT" "$kills" "$T/work"
assert_exit 0 "kill -9 at random points of $kills releases"
assert_true "it reports no problem" grep -q ", 0 problems$" "$T/out"
sed 's/^/    /' "$T/out"
finish
