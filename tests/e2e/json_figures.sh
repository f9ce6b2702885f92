#!/usr/bin/env bash
# How the figures of the lab and bench JSON documents are written (jansson;
# docs/labs.md, docs/benchmarks.md): a whole figure is an integer, never 3.0;
# a figure of 6 significant digits reads back as exactly those digits; the
# leaf lab's 2^64 and 2^80 read back exactly; bench's fixed-decimal figures
# read back as exactly their decimals (a real, even when whole); the lab
# documents are one line, bench's indented; a document has no duplicate key.
. "$(dirname "$0")/lib.sh"
D=$DOORMAT
cd "$T" || exit 1
need_json_reader

# figures FILE EXPR: the Python expression over j, with sig6(x) (x has at most
# 6 significant digits) and fixed(x, n) (x is a real of at most n decimals),
# the document read with duplicate keys refused.
figures() {
  python3 -c '
import json, sys
def no_dups(pairs):
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        sys.exit("duplicate key")
    return dict(pairs)
def sig6(x):
    return isinstance(x, int) or float("%.6g" % x) == x
def fixed(x, n):
    return isinstance(x, float) and float("%.*f" % (n, x)) == x
j = json.load(open(sys.argv[1]), object_pairs_hook=no_dups)
print(eval(sys.argv[2]))' "$1" "$2"
}

run "$D" lab leaf-forge --bits 8 --budget 0.01 --shamir-tries 16 --json --dir leaf
one_json "leaf-forge json"
cp "$T/out" leaf.json
assert_eq "$(figures leaf.json '[b["expected_tries"] == 2**b["bits"] for b in j["beyond"]]')" \
  "[True, True, True, True]" "2^32 to 2^80 read back exactly"
assert_eq "$(figures leaf.json '[type(r["expected_tries"]).__name__ for r in j["rows"]]')" \
  "['int', 'int', 'int', 'int', 'int']" "whole counts are integers"
assert_eq "$(figures leaf.json 'all(sig6(x) for x in [j["seconds_total"], j["seconds_per_try"]] + [r["seconds"] for r in j["rows"] + j["beyond"]])')" \
  "True" "times have 6 significant digits"
assert_eq "$(figures leaf.json '(j["forgery"]["recovery_exit"], j["shamir"]["forgery_chance_log2"])')" \
  "(5, -128)" "integers stay integers"

run "$D" lab passcode --digits 2 --json
one_json "passcode json"
cp "$T/out" pass.json
assert_eq "$(figures pass.json '[r["candidates"] for r in j["rows"]]')" "[10000, 1000000, 2176782336]" \
  "candidates are integers"
assert_eq "$(figures pass.json 'all(sig6(r[k]) for r in j["rows"] for k in ("seconds_average", "seconds_worst"))')" \
  "True" "extrapolated times have 6 significant digits"
assert_true "no count is written as a real" test -z "$(grep -o '"candidates":[0-9]*\.' pass.json)"

run "$D" bench --quick --sizes 1KiB --modes vault,escrow-1of1 --json --no-progress
assert_exit 0 "bench --json"
cp "$T/out" bench.json
assert_true "bench JSON is indented" test "$(wc -l <bench.json)" -gt 20
assert_eq "$(figures bench.json 'all(fixed(r[k], n) for r in j["results"] for k, n in (("median_s", 9), ("min_s", 9), ("max_s", 9), ("spread_pct", 2), ("mib_per_s", 2), ("per_file_us", 3)))')" \
  "True" "result figures are reals of their decimals"
assert_eq "$(figures bench.json 'all(fixed(f[k], 3) for f in j["escrow_fixed_cost_us"] for k in ("encrypt", "decrypt", "check"))')" \
  "True" "fixed costs are reals of 3 decimals"
assert_eq "$(figures bench.json '[type(j["config"][k]).__name__ for k in ("reps", "warmup", "threads")] + [type(r["size"]).__name__ for r in j["results"]][:1]')" \
  "['int', 'int', 'int', 'int']" "counts are integers"

# The checks can fail: a duplicate key, a figure of 7 digits, a whole real.
printf '{"a":1,"a":2}\n' >dup.json
assert_eq "$(figures dup.json 'True' 2>&1)" "duplicate key" "a duplicate key is refused"
printf '{"x":0.1234567,"y":2.0}\n' >bad.json
assert_eq "$(figures bad.json '(sig6(j["x"]), fixed(j["y"], 3), fixed(1, 3))')" "(False, True, False)" \
  "sig6 and fixed see a wrong figure"

finish
