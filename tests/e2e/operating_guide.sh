#!/usr/bin/env bash
# docs/operating.md is a tested guide: every `sh` block of it runs, in order, in one
# shell and an empty directory, with `doormat` on PATH and free loopback ports put in
# for the ones it shows, and every `output` block must appear in the output of the
# block before it (tests/guide_run.py). The guide starts witnesses and agents in the
# background and stops them in its last block; whatever it leaves running (a block
# that failed half-way) is stopped here, even when the test fails.
. "$(dirname "$0")/lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
mkdir "$T/bin" "$T/work"
ln -s "$DOORMAT" "$T/bin/doormat"
command -v curl >/dev/null || { echo "operating_guide.sh: curl is missing (make deps)" >&2; exit 1; }

# A base port with the guide's 29 ports after it free (8441-8469 shifted).
base=$(python3 -c '
import random, socket
for _ in range(50):
    b = random.randrange(20000, 60000)
    try:
        socks = []
        for p in range(b, b + 29):
            s = socket.socket(); s.bind(("127.0.0.1", p)); socks.append(s)
        print(b); break
    except OSError:
        pass
    finally:
        for s in socks: s.close()
')

# The guide's shell runs in its own process group, so that every service it
# started in the background is stopped at the end whatever happened.
stop_guide() {
  [ -n "${gpid:-}" ] || return 0
  kill -TERM -- -"$gpid" 2>/dev/null
  local n=0
  while kill -0 -- -"$gpid" 2>/dev/null && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
  kill -KILL -- -"$gpid" 2>/dev/null
  gpid=
}
trap 'stop_guide; e2e_cleanup' EXIT
PATH="$T/bin:$PATH" TMPDIR="$T" DOORMAT_SRC="$ROOT" setsid python3 "$ROOT/tests/guide_run.py" "$ROOT/docs/operating.md" \
  "$T/work" "$base" >"$T/guide.out" 2>&1 &
gpid=$!
# bounded: the guide takes well under a minute natively, a few under valgrind
n=0
while kill -0 "$gpid" 2>/dev/null && [ $n -lt 9000 ]; do sleep 0.1; n=$((n + 1)); done
if kill -0 "$gpid" 2>/dev/null; then
  fail "the guide did not finish within 15 minutes"
  stop_guide
else
  wait "$gpid"
  rc=$?
  gpid=
  assert_exit 0 "every block of docs/operating.md ran and showed its output"
fi
cat "$T/guide.out"
# every block ran: the summary line says so, and there is more than a handful
blocks=$(sed -n 's/^guide_run: \([0-9]*\) blocks, \([0-9]*\) ran, 0 failures$/\1 \2/p' "$T/guide.out")
assert_true "the summary says every block ran ($blocks)" test -n "$blocks" -a "${blocks% *}" = "${blocks#* }"
assert_true "the guide has at least 12 sh blocks" test "${blocks% *}" -ge 12 2>/dev/null
[ "$failures" -eq 0 ] || { E2E_KEEP=1; echo "operating_guide: the guide's outputs are in $T/work/.guide" >&2; }
finish
