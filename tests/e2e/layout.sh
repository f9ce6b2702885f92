#!/usr/bin/env bash
# The rooms of the house, as the linker sees them: the installed library
# (build/libdoormat.a: the vault and the escrow variant) defines no lab,
# attack or benchmark symbol; those live in build/libdoormat-labs.a and
# build/libdoormat-bench.a, which the command links and make install leaves
# out. Every global symbol of each archive carries its room's prefix, and
# no two files of escrow/ call each other (one table of modes, not a circle).
. "$(dirname "$0")/lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
B=${DOORMAT_BUILD:-$(dirname "$DOORMAT")}
[ -f "$B/libdoormat.a" ] || B=$ROOT/build
cd "$T" || exit 1

# defined_globals ARCHIVE: the names of the global symbols it defines.
defined_globals() {
  nm -g --defined-only "$1" | awk 'NF == 3 { print $3 }' | sort -u
}

# Symbols of the teaching and attack code, and of the benchmark engine.
ATTACK_RE='^dm_lab_|^dm_bench_|tamper|splice|forge|recover_with_keys|random_fields'

for a in libdoormat.a libdoormat-labs.a libdoormat-bench.a; do
  assert_true "$a is built" test -s "$B/$a"
done
defined_globals "$B/libdoormat.a" >lib.syms 2>"$T/err"
defined_globals "$B/libdoormat-labs.a" >labs.syms 2>>"$T/err"
defined_globals "$B/libdoormat-bench.a" >bench.syms 2>>"$T/err"

assert_true "libdoormat.a defines the vault's and the escrow's API" \
  grep -qxE 'dm_encrypt|dm_escrow_verify_header' lib.syms
assert_eq "$(grep -E "$ATTACK_RE" lib.syms | tr '\n' ' ')" "" \
  "libdoormat.a defines no lab, attack or benchmark symbol"
assert_eq "$(grep -v '^dm_' lib.syms | tr '\n' ' ')" "" "every global of libdoormat.a starts with dm_"

# The same pattern finds the attack code where it lives: the check can fail.
for s in dm_lab_tamper dm_lab_leaf_forge dm_lab_recover_with_keys dm_lab_random_fields dm_lab_blast; do
  assert_true "libdoormat-labs.a defines $s" grep -qx "$s" labs.syms
done
assert_eq "$(grep -v '^dm_lab_' labs.syms | tr '\n' ' ')" "" \
  "every global of libdoormat-labs.a starts with dm_lab_"
assert_true "libdoormat-bench.a defines dm_bench_run" grep -qx dm_bench_run bench.syms
assert_eq "$(grep -v '^dm_bench_' bench.syms | tr '\n' ' ')" "" \
  "every global of libdoormat-bench.a starts with dm_bench_"

# The arrows, in the sources: vault includes no escrow header, escrow no lab
# or bench header, labs and bench only public headers and their own.
assert_eq "$(grep -lE '#include "(doormat/escrow|escrow_internal|labs|lab_internal|engine)\.h"' \
  "$ROOT"/vault/*.[ch] | tr '\n' ' ')" "" "vault/ includes nothing of escrow, labs or bench"
assert_eq "$(grep -lE '#include "(labs|lab_internal|engine|cli)\.h"' "$ROOT"/escrow/*.[ch] |
  tr '\n' ' ')" "" "escrow/ includes nothing of labs, bench or cli"
assert_eq "$(grep -hoE '#include "[^"]+"' "$ROOT"/labs/*.[ch] "$ROOT"/bench/engine.[ch] |
  grep -vE '"(doormat/[a-z]+|labs|lab_internal|engine|escrow_lab)\.h"' | sort -u | tr '\n' ' ')" \
  "" "labs/ and bench/ include only public headers, their own and escrow/escrow_lab.h"
# ...nor any escrow word or stanza type in its strings (its error words, its mixing rules).
assert_eq "$(grep -in '"[^"]*escrow' "$ROOT"/vault/*.[ch] "$ROOT"/include/doormat/vault.h |
  tr '\n' ' ')" "" "vault/ names no escrow word or stanza type"
# The lab-only escrow header: labs/ alone, through lab_internal.h.
assert_eq "$(grep -l '#include "escrow_lab.h"' "$ROOT"/labs/*.[ch] "$ROOT"/bench/*.[ch] \
  "$ROOT"/cli/*.[ch] "$ROOT"/service/*.[ch] | sed "s|$ROOT/||" | tr '\n' ' ')" "labs/lab_internal.h " \
  "escrow_lab.h is included by labs/lab_internal.h alone"
# No two escrow objects call each other: for every pair, at most one uses
# what the other defines.
mkdir -p objs
for o in "$B"/obj/escrow/*.o; do
  n=$(basename "$o" .o)
  nm --defined-only -g "$o" | awk 'NF == 3 { print $3 }' | sort -u >"objs/$n.def"
  nm -u "$o" | awk '{ print $NF }' | sort -u >"objs/$n.use"
done
assert_true "escrow objects to look at" test -s objs/escrow_stanza.def
circles=""
for a in objs/*.def; do
  for b in objs/*.def; do
    [ "$a" \< "$b" ] || continue
    ua=${a%.def}.use ub=${b%.def}.use
    if [ -n "$(comm -12 "$ua" "$b")" ] && [ -n "$(comm -12 "$ub" "$a")" ]; then
      circles="$circles $(basename "$a" .def)<->$(basename "$b" .def)"
    fi
  done
done
assert_eq "$circles" "" "no two escrow files call each other"
# The check sees a circle where there is one: two objects that call each other.
printf 'f\n' >objs/x.def; printf 'g\n' >objs/x.use; printf 'g\n' >objs/y.def; printf 'f\n' >objs/y.use
assert_true "the circle check can fail" test -n "$(comm -12 objs/x.use objs/y.def)$(comm -12 objs/y.use objs/x.def)"
finish
