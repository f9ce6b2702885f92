#!/usr/bin/env bash
# make memcheck: every end-to-end test (tests/run-e2e.sh) with the doormat
# command run under valgrind memcheck. Any memory error (invalid read or write,
# use of uninitialised memory, bad free) or definite leak in any run fails:
# valgrind exits 99 (which the tests see as a wrong exit code) and its log,
# one per process, is kept and printed here. Tests that would take minutes
# under valgrind scale themselves down when DOORMAT_MEMCHECK=1 (see
# tests/e2e/faults.sh); nothing is skipped.
#   tests/memcheck.sh /abs/path/to/doormat
set -u
bin=${1:?usage: tests/memcheck.sh /abs/path/to/doormat}
cd "$(dirname "$0")/.." || exit 1
command -v valgrind >/dev/null || { echo "memcheck: valgrind is missing (make deps)" >&2; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/doormat-memcheck.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir "$work/logs"
# faults.sh runs the command as nobody (a read-only directory that holds for
# root too): the wrapper must be reachable and the logs writable by anyone.
chmod 755 "$work"
chmod 1777 "$work/logs"
# A copy of the binary, so that nobody can run it even from a clone under /root;
# beside it, doormat-net (built beside the command), which doormat runs for the
# network commands (cli/net.c) and which is wrapped the same way.
cp "$bin" "$work/doormat.bin"
net=$(dirname "$bin")/doormat-net
[ -x "$net" ] || { echo "memcheck: $net is missing (make)" >&2; exit 1; }
cp "$net" "$work/doormat-net.bin"
for x in doormat doormat-net; do
  cat >"$work/$x" <<WRAP
#!/bin/sh
exec valgrind --quiet --tool=memcheck --error-exitcode=99 --leak-check=full \\
  --errors-for-leak-kinds=definite --show-leak-kinds=definite --num-callers=30 \\
  --log-file="$work/logs/vg.%p.log" "$work/$x.bin" "\$@"
WRAP
  chmod 755 "$work/$x"
done
start=$(date +%s)
# As many tests at a time as there are cores: each test runs its commands one
# by one, and valgrind keeps a command on one core.
DOORMAT="$work/doormat" DOORMAT_MEMCHECK=1 E2E_JOBS=${E2E_JOBS:-$(nproc)} ./tests/run-e2e.sh
rc=$?
runs=$(find "$work/logs" -name 'vg.*.log' | wc -l)
# --quiet logs nothing for a clean run; a process killed by a signal (the
# signal tests) gets a few lines saying so, which are not errors.
bad=0
for log in "$work"/logs/vg.*.log; do
  [ -s "$log" ] || continue
  if grep -Eq 'Invalid (read|write|free)|uninitialised|Conditional jump|Mismatched free|definitely lost in|Syscall param|overlap|ERROR SUMMARY: [1-9]' "$log"; then
    bad=$((bad + 1))
    echo "---- $log" >&2
    head -60 "$log" >&2
  fi
done
echo "memcheck: $runs doormat runs under valgrind, $bad with errors or definite leaks, $(( $(date +%s) - start ))s"
[ "$rc" -eq 0 ] && [ "$bad" -eq 0 ] && [ "$runs" -gt 0 ]
