#!/usr/bin/env bash
# Runs libFuzzer targets one after the other (the machine is shared: nice'd).
#   tools/fuzz.sh BUILD SECONDS TARGET...
# Each target TARGET=fuzz_NAME starts from the seeds in fuzz/corpus/NAME and the
# regression inputs in fuzz/regressions/NAME (inputs that once crashed, kept so
# every run replays them); what it learns goes to BUILD/corpus/NAME, and any
# crash to BUILD/artifacts/. Fails if any target finds anything.
set -u
build=$1 seconds=$2
shift 2
cd "$(dirname "$0")/.." || exit 1
mkdir -p "$build/artifacts"
failed=()
for t in "$@"; do
  name=${t#fuzz_}
  work=$build/corpus/$name
  mkdir -p "$work"
  dirs=("$work" "fuzz/corpus/$name")
  [ -d "fuzz/regressions/$name" ] && dirs+=("fuzz/regressions/$name")
  echo "== $t: ${seconds}s from ${dirs[*]}"
  start=$(date +%s)
  nice -n "${FUZZ_NICE:-19}" "$build/fuzz/$t" -max_total_time="$seconds" -timeout=20 \
    -rss_limit_mb=2048 -max_len="${FUZZ_MAX_LEN:-16384}" -print_final_stats=1 \
    -artifact_prefix="$build/artifacts/$t-" "${dirs[@]}" >"$build/$t.log" 2>&1
  rc=$?
  grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb|#[0-9]+ +DONE)' "$build/$t.log" | tr '\n' ' '
  echo "($(( $(date +%s) - start ))s, exit $rc)"
  if [ "$rc" -ne 0 ]; then
    failed+=("$t")
    grep -E 'ERROR|SUMMARY|Test unit written' "$build/$t.log" | head -5 >&2
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: findings in ${failed[*]} (see $build/artifacts/ and $build/*.log)" >&2
  exit 1
fi
echo "fuzz: $# targets, no findings"
