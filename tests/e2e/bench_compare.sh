#!/usr/bin/env bash
# bench/compare and bench/feed.c, smoke only (speed is never asserted here): a tiny run side by
# side with age, gpg and the cipher-alone floor, the shape of every table and
# verdict, --update-docs rewriting exactly the results section, and usage errors.
. "$(dirname "$0")/lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
C=$ROOT/bench/compare

if [ "${DOORMAT_MEMCHECK:-0}" = 1 ]; then
  # Under valgrind every doormat run takes seconds, and this test is about the
  # script, whose doormat runs the other tests already cover.
  skip "every check" "not run under memcheck (tests/memcheck.sh)"
  finish
fi

# ---------------------------------------------------------------- usage (2, 1)
run "$C" --size many
assert_exit 2 "--size many"
assert_err_line '^bench/compare: --size, --rounds and --files want numbers$' "--size many"
run "$C" --rounds 0
assert_exit 2 "--rounds 0"
assert_err_line '^bench/compare: --size, --rounds and --files must be at least 1$' "--rounds 0"
run "$C" --frob
assert_exit 2 "unknown argument"
assert_err_line '^bench/compare: unknown argument --frob \(see --help\)$' "unknown argument"
run "$C" --update-docs "$T/none.md"
assert_exit 1 "--update-docs on a missing file"
assert_err_line "^bench/compare: $T/none.md: no such file\$" "--update-docs on a missing file"
run "$C" --help
assert_exit 0 "--help"
assert_true "--help names every option" grep -q -- '--update-docs FILE' "$T/out"

# ---------------------------------------------------------------- a tiny run
outside() { awk '/<!-- results:begin -->/ { print; skip = 1 } /<!-- results:end -->/ { skip = 0 } !skip' "$1"; }
inside() { awk '/<!-- results:end -->/ { skip = 0 } skip { print } /<!-- results:begin -->/ { skip = 1 }' "$1"; }
cp "$ROOT/docs/benchmarks.md" "$T/bench.md"
outside "$T/bench.md" >"$T/bench.outside"
run env DOORMAT="$DOORMAT" "$C" --quick --size 4 --rounds 1 --files 3 --dir "$T" --update-docs "$T/bench.md"
assert_exit 0 "bench/compare --size 4"
R=$T/out
for row in "encrypt 4 MiB, tmpfs to /dev/null" "decrypt 4 MiB, tmpfs to /dev/null" \
  "encrypt 4 MiB, file to file" "decrypt 4 MiB, file to file" \
  "encrypt 3 files of 1 KiB (per file)" "decrypt 3 files of 1 KiB (per file)" \
  "peak RSS, encrypt 4 MiB / 1 MiB" "peak RSS, decrypt 4 MiB / 1 MiB"; do
  # doormat, age and gpg each have a number in the row.
  assert_true "row: $row" grep -Eq "^\| ${row//[()]/.} \| [0-9.]+ [^|]*\| [0-9.]+ [^|]*\| [^|]*[0-9][^|]*\|" "$R"
done
assert_true "the one-thread cached figure" \
  grep -Eq '^\| one thread, in-process \(`doormat bench`, 8 MiB: stays in the cache\) \| [0-9.]+ MiB/s \| [0-9.]+ MiB/s \|$' "$R"
# The decrypt figure is a difference of two medians: on a busy machine it can
# come out a little below zero.
assert_true "escrow fixed cost in microseconds" \
  grep -Eq '^\| escrow 2-of-3 fixed cost per file \(in-process\) \| [0-9.]+ us \| -?[0-9.]+ us \+ check [0-9.]+ us \|$' "$R"
assert_true "openssl speed, one thread and all" \
  grep -Eq '^\| `openssl speed -evp chacha20-poly1305 -bytes 65536` \(`-multi [0-9]+`\) \| [0-9.]+ \| [0-9.]+ \|$' "$R"
for c in "one hot 64 KiB buffer" "4 MiB from memory" "opening 4 MiB from memory" \
  "the 4 MiB tmpfs file, pread per thread" "the 4 MiB tmpfs file, mapped job by job" \
  "the 4 MiB tmpfs file, mapped whole"; do
  assert_true "ceiling: $c" grep -Eq "^\| bench/aead-ceiling.c, $c[^|]* \| [0-9.]+ \| [0-9.]+ \|\$" "$R"
done
assert_true "the floor, as whole processes" \
  grep -Eq '^memory, as a whole process in the same rounds, took [0-9.]+ s \(pread\) and [0-9.]+ s \(mapped$' "$R"
# Every target has its line and a verdict.
for t in "encrypt 4 MiB >= 3x age's throughput" "decrypt 4 MiB >= 3x age's throughput" \
  "one thread >= 0.8x the openssl speed ceiling" "escrow 2-of-3 <= 0.5 % at 4 MiB" \
  "peak RSS for 4 MiB <= 16 MiB" "1 KiB files, whole process <= 0.8x age's time"; do
  assert_true "target: $t" grep -Eq "^\| ${t//[()]/.}[^|]* \| [^|]*[0-9][^|]* \| (met|MISSED[^|]*) \|\$" "$R"
done
assert_eq "$(grep -c '| \(met\|MISSED[^|]*\) |$' "$R")" 6 "six verdicts"
assert_true "peak RSS is a number" grep -Eq '^\| peak RSS for 4 MiB <= 16 MiB \| [0-9]+ MiB \([0-9]+ KiB\) \|' "$R"
assert_true "no stray awk or shell error" test ! -s "$T/err" -o -z "$(grep -Ev '^bench/compare: ' "$T/err")"

# --update-docs: the results section is the report, the rest is untouched.
assert_true "the text around the results is kept" cmp -s "$T/bench.outside" <(outside "$T/bench.md")
assert_true "the results section was not empty before" test -n "$(inside "$ROOT/docs/benchmarks.md")"
assert_true "the results section is the printed report" cmp -s <(inside "$T/bench.md") "$R"
assert_true "the scratch directory is gone" test -z "$(ls -d "$T"/doormat-compare.* 2>/dev/null)"

# ---------------------------------------------------------------- bench/feed.c
# Builds, refuses bad arguments (2), and every way seals the whole file.
if cc -std=c17 -O2 -Wall -Werror -o "$T/feed" "$ROOT/bench/feed.c" -lcrypto -lpthread 2>"$T/err"; then ok; else fail "bench/feed.c builds"; fi
make_file "$T/feed.in" $((4 * 1048576 + 100))
for bad in "0 pread 512" "2 frob 512" "2 pread 100" "2 pread 32"; do
  run "$T/feed" $bad "$T/feed.in"
  assert_exit 2 "feed $bad"
  assert_err_line '^usage: feed THREADS WAY JOB_KIB PATH' "feed $bad"
done
run "$T/feed" 2 pread 512 "$T/none"
assert_exit 1 "feed on a missing file"
assert_err_line "^feed: can't read $T/none\$" "feed on a missing file"
for way in pread preadv window window-willneed window-fault window-prefetch job-map map-keep; do
  run "$T/feed" 2 "$way" 512 "$T/feed.in"
  assert_exit 0 "feed $way"
  assert_true "feed $way prints its figures" \
    grep -Eq "^$way, 2 threads, 512 KiB jobs: [0-9.]+ ms, [0-9]+ MiB/s, peak RSS [0-9]+ KiB\$" "$T/out"
done

finish
