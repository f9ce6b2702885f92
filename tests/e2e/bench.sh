#!/usr/bin/env bash
# doormat bench, smoke only (speed is never asserted here): the JSON schema
# (doormat-bench/1, docs/benchmarks.md), CSV and table shapes, and exit codes.
. "$(dirname "$0")/lib.sh"
D=$DOORMAT

# ---------------------------------------------------------------- usage (0, 2)
run "$D" bench --help
assert_exit 0 "bench --help"
assert_true "bench --help has the exit-code table" grep -q '^  6  payload authentication failed' "$T/out"
assert_true "bench --help starts with Usage" grep -q '^  doormat bench' "$T/out"
run "$D" --help
assert_true "doormat --help lists bench" grep -Eq '^  bench +time encrypt and decrypt' "$T/out"

run "$D" bench --sizes 1KB --no-progress
assert_fails 2 "--sizes wants sizes" "size with a decimal suffix"
run "$D" bench --sizes 5GiB --no-progress
assert_fails 2 "--sizes wants sizes" "size above 4 GiB"
run "$D" bench --sizes 1KiB, --no-progress
assert_fails 2 "--sizes wants sizes" "empty size"
run "$D" bench --modes vault,frob --no-progress
assert_fails 2 '--modes wants .* not "vault,frob"' "unknown mode"
run "$D" bench --reps 0 --no-progress
assert_fails 2 "--reps wants a number" "zero reps"
run "$D" bench --reps many --no-progress
assert_fails 2 "--reps wants a number" "non-numeric reps"
run "$D" bench --backend gcrypt --no-progress
assert_fails 2 '--backend wants openssl, sodium or auto' "unknown backend"
run "$D" bench --sink disk --no-progress
assert_fails 2 '--sink wants null, memory or devnull' "unknown sink"
run "$D" bench --threads -1 --no-progress
assert_fails 2 "--threads wants a number" "negative threads"
run "$D" bench --json --csv --no-progress
assert_fails 2 "--json and --csv" "two output formats"
run "$D" bench --no-such-flag
assert_fails 2 "unknown option --no-such-flag" "unknown option"
run "$D" bench extra
assert_fails 2 'unexpected argument "extra"' "stray argument"

# ---------------------------------------------------------------- JSON
run "$D" bench --sizes 1KiB,64KiB --reps 3 --modes vault,escrow-2of3 --threads 2 --json --no-progress
assert_exit 0 "bench --json"
assert_no_stderr "bench --json"
cp "$T/out" "$T/bench.json"
if command -v python3 >/dev/null; then
  run python3 - "$T/bench.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
def need(cond, what):
    if not cond:
        sys.exit("bad JSON: " + what)
need(d["schema"] == "doormat-bench/1", "schema")
need(isinstance(d["doormat"], str) and d["doormat"], "doormat version")
m = d["machine"]
need(m["cpus_online"] >= 1 and m["openssl"].startswith("OpenSSL") and m["libsodium"], "machine")
c = d["config"]
need(c["sizes"] == [1024, 65536] and c["reps"] == 3 and c["threads"] == 2, "config sizes/reps/threads")
need(c["backend"] == "openssl" and c["sink"] == "null" and c["quick"] is False, "config backend/sink")
need(c["modes"] == ["vault", "escrow-2of3"], "config modes")
rows = d["results"]
want = [(s, m, o) for s in (1024, 65536) for m, ops in
        (("vault", ("encrypt", "decrypt")),
         ("escrow-2of3", ("encrypt", "decrypt", "decrypt-compliant"))) for o in ops]
need([(r["size"], r["mode"], r["op"]) for r in rows] == want, "result rows and their order")
for r in rows:
    need(r["reps"] >= 100, "small sizes get at least 100 runs")
    need(0 < r["min_s"] <= r["median_s"] <= r["max_s"], "min <= median <= max")
    need(abs(r["mib_per_s"] - r["size"] / r["median_s"] / 1048576) <= 0.01 * r["mib_per_s"] + 0.01,
         "mib_per_s is size / median")
    need(abs(r["per_file_us"] - r["median_s"] * 1e6) < 0.01, "per_file_us is the median")
    spread = (r["max_s"] - r["min_s"]) / r["median_s"] * 100  # from times rounded to 1 ns
    need(abs(r["spread_pct"] - spread) <= 0.01 + 0.001 * spread, "spread")
    need(r["threads"] == 2 and r["backend"] == "openssl", "row threads/backend")
fc = d["escrow_fixed_cost_us"]
need(len(fc) == 1 and fc[0]["mode"] == "escrow-2of3", "one fixed-cost row")
need(fc[0]["encrypt"] > 0 and fc[0]["check"] > 0 and isinstance(fc[0]["decrypt"], float), "fixed costs")
ov = d["escrow_overhead"]
need([(o["size"], o["op"]) for o in ov] ==
     [(s, o) for s in (1024, 65536) for o in ("encrypt", "decrypt", "decrypt-compliant")],
     "overhead rows")
# The decrypt difference of two medians may fall below zero within noise; the wrap can't.
need(all(isinstance(o["fixed_share_pct"], (int, float)) for o in ov), "fixed share")
need(all(o["fixed_share_pct"] > 0 for o in ov if o["op"] != "decrypt"), "fixed share of a wrap")
print("ok")
EOF
  assert_exit 0 "bench JSON has the documented shape: $(cat "$T/err")"
  assert_eq "$(cat "$T/out")" "ok" "bench JSON checker"
else
  assert_true "bench JSON names its schema" grep -q '"schema": "doormat-bench/1"' "$T/bench.json"
  skip "JSON shape" "no python3 to read the JSON (make deps installs it): only its schema name was checked"
fi

# ---------------------------------------------------------------- quick, CSV, table
run "$D" bench --quick --sizes 1KiB --modes vault --json --no-progress
assert_exit 0 "bench --quick --json"
assert_true "quick is recorded" grep -q '"quick": true' "$T/out"
assert_true "quick keeps 5 runs" grep -q '"reps": 5,' "$T/out"

run "$D" bench --sizes 1KiB --modes vault,escrow-1of1 --reps 2 --csv --backend sodium --no-progress
assert_exit 0 "bench --csv"
assert_eq "$(head -1 "$T/out")" \
  "mode,op,size,threads,backend,reps,median_s,min_s,max_s,spread_pct,mib_per_s,per_file_us" "CSV header"
assert_eq "$(tail -n +2 "$T/out" | cut -d, -f1,2,3,5 | tr '\n' ' ')" \
  "vault,encrypt,1024,sodium vault,decrypt,1024,sodium escrow-1of1,encrypt,1024,sodium escrow-1of1,decrypt,1024,sodium escrow-1of1,decrypt-compliant,1024,sodium " \
  "CSV rows"

run "$D" bench --sizes 64KiB --modes escrow-1of1 --reps 2 --sink memory --no-progress
assert_exit 0 "bench table"
assert_true "table header" grep -Eq '^mode +op +size +median +min +max +spread +MiB/s +runs$' "$T/out"
assert_true "table names the sink" grep -q 'memory to memory sink' "$T/out"
assert_true "table has the compliant decrypt" grep -Eq '^escrow-1of1 +decrypt-compliant +64 KiB ' "$T/out"
assert_true "table has the fixed cost" grep -Eq '^escrow-1of1 +[0-9.]+ +-?[0-9.]+ +[0-9.]+$' "$T/out"

run "$D" bench --sizes 1KiB --modes vault --reps 1 --sink devnull --threads 1 --backend auto --no-progress
assert_exit 0 "bench to /dev/null"
assert_true "one thread" grep -q '1 payload thread, auto ChaCha20-Poly1305' "$T/out"

# No progress line when standard error is not a terminal, even without --no-progress.
run "$D" bench --sizes 1KiB --modes vault --reps 1
assert_exit 0 "bench without a terminal"
assert_no_stderr "no progress line off a terminal"

finish
