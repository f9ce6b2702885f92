#!/usr/bin/env bash
# The rooms of the house, as the linker sees them: the installed library
# (build/libdoormat.a: the vault and the escrow variant) defines no lab,
# attack or benchmark symbol; those live in build/libdoormat-labs.a and
# build/libdoormat-bench.a, which the command links and make install leaves
# out. Every global symbol of each archive carries its room's prefix, and
# no two files of escrow/ call each other (one table of modes, not a circle).
# In every room (each directory of build/obj/ that holds objects) the files
# that use one another make no circle of any length, and every room includes
# headers only of the rooms below it (docs/architecture.md). One file calls
# dlopen, and the command exports nothing and maps no service library.
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
# circles DIR: every circle of files among the objects of DIR, one line each
# ("a -> b (sym) -> a (sym)": a uses sym that b defines, ...), shortest
# through each file, each circle once. Nothing when there is none.
circles() {
  set -- "$1"/*.o
  [ -e "$1" ] || return 0
  # nm -A: "DIR/FILE.o:ADDRESS T SYMBOL", "DIR/FILE.o: U SYMBOL".
  { nm -A --defined-only -g "$@" | awk '{ print "D", $1, $NF }'
    nm -A -u "$@" | awk '{ print "U", $1, $NF }'; } | awk '
    { sub(/:[^:]*$/, "", $2); sub(/.*\//, "", $2); sub(/\.o$/, "", $2); files[$2] = 1 }
    $1 == "D" { def[$3] = $2; next }
    { use[++n] = $2; sym[n] = $3 }
    END {
      for (i = 1; i <= n; i++) {
        a = use[i]; b = def[sym[i]]
        if (b == "" || b == a || ((a, b) in why)) continue
        why[a, b] = sym[i]; out[a] = out[a] " " b
      }
      # From each file, the shortest way back to it (breadth first).
      for (s in files) {
        split("", prev); split("", seen); head = 1; tail = 0; found = 0
        queue[++tail] = s
        while (head <= tail && !found) {
          v = queue[head++]
          m = split(out[v], next_, " ")
          for (j = 1; j <= m && !found; j++) {
            w = next_[j]
            if (w == s) { last = v; found = 1 }
            else if (!(w in seen)) { seen[w] = 1; prev[w] = v; queue[++tail] = w }
          }
        }
        if (!found) continue
        k = 0; v = last
        while (v != s) { path[++k] = v; v = prev[v] }
        path[++k] = s
        # path[k] = s, path[k-1], ..., path[1] = last: the circle in order;
        # written from its smallest file, so each circle is told once.
        low = k
        for (j = 1; j <= k; j++) if (path[j] < path[low]) low = j
        line = path[low]; j = low
        do {
          nx = j > 1 ? j - 1 : k
          line = line " -> " path[nx] " (" why[path[j], path[nx]] ")"
          j = nx
        } while (j != low)
        if (!(line in told)) { told[line] = 1; print line }
      }
    }' | sort
}

# Every room, as the build makes it (a new room is checked when it appears).
rooms=""
for d in "$B"/obj/*/; do
  ls "$d"*.o >/dev/null 2>&1 && rooms="$rooms $(basename "$d")"
done
for r in vault escrow labs service bench cli; do
  assert_true "room $r has objects in $B/obj" test -n "$(ls "$B/obj/$r/"*.o 2>/dev/null)"
done
for r in $rooms; do
  assert_eq "$(circles "$B/obj/$r")" "" "no circle of files in $r/"
done

# The circle finder sees circles where there are some: two files that call
# each other, three in a ring, and, beside them, a file that only calls.
mkdir -p knot
# knot F CALLEE...: knot/F.o, whose knot_F calls knot_CALLEE for each CALLEE.
knot() {
  local f=$1 c calls=0
  shift
  for c; do
    echo "int knot_$c(int);"
    calls="$calls + knot_$c(n - 1)"
  done >"knot/$f.c"
  echo "int knot_$f(int n) { return n > 0 ? $calls : 0; }" >>"knot/$f.c"
  ${DOORMAT_CC:-cc} -c -o "knot/$f.o" "knot/$f.c" 2>>"$T/err"
}
knot a b
knot b a
knot c d
knot d e
knot e c
knot f a c
assert_eq "$(circles knot)" "a -> b (knot_b) -> a (knot_a)
c -> d (knot_d) -> e (knot_e) -> c (knot_c)" "the circle finder names both circles, and only them"
rm knot/a.o knot/d.o
assert_eq "$(circles knot)" "" "and none once each circle is broken"

# The arrows between rooms, in the sources: what each room's files (and its
# public header, include/doormat/ROOM.h) may include besides its own. A
# header "doormat/NAME.h" is room NAME's; any other is the room's whose
# directory holds it. base/ is under every room and includes none.
declare -A may_include=(
  [base]=""
  [vault]="base"
  [tlog]="base"
  [escrow]="tlog vault base"
  [labs]="escrow tlog vault base"
  [service]="escrow tlog vault base"
  [bench]="escrow tlog vault base"
  [cli]="labs service bench escrow tlog vault base"
)
# header_room TREE FROM HEADER: the room of HEADER as a file of room FROM sees it.
header_room() {
  case $3 in
    doormat/*.h) basename "$3" .h; return ;;
  esac
  local r
  for r in "$2" base vault tlog escrow labs service bench cli; do
    [ -f "$1/$r/$3" ] && { echo "$r"; return; }
  done
  echo "?"
}
# wrong_includes TREE: every include that breaks the arrows, as FILE:HEADER(ROOM).
wrong_includes() {
  local r f h hr
  for r in base vault tlog escrow labs service bench cli; do
    [ -d "$1/$r" ] || continue
    for f in "$1/$r"/*.[ch] "$1/include/doormat/$r.h"; do
      [ -f "$f" ] || continue
      for h in $(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$f"); do
        hr=$(header_room "$1" "$r" "$h")
        case " $r ${may_include[$r]} " in
          *" $hr "*) ;;
          *) printf '%s\n' "${f#"$1"/}:$h($hr)" ;;
        esac
      done
    done
  done
}
assert_eq "$(wrong_includes "$ROOT" | tr '\n' ' ')" "" \
  "every room includes only its own headers and those of the rooms below it"
# The check sees a wrong arrow where there is one: a vault that knows the
# log, a log that knows the vault or escrow, a base that knows the vault, a
# room that includes what no room holds.
mkdir -p house/base house/vault house/tlog house/escrow house/include/doormat
printf '#include "doormat/vault.h"\n' >house/base/z.c
printf '#include "internal.h"\n#include "doormat/tlog.h"\n' >house/vault/a.c
printf '#include "x.h"\n' >house/vault/internal.h
printf '#include "doormat/vault.h"\n#include "escrow_internal.h"\n' >house/tlog/b.c
printf '#include "doormat/tlog.h"\n#include "doormat/vault.h"\n' >house/escrow/c.c
: >house/escrow/escrow_internal.h
printf '#include "doormat/escrow.h"\n' >house/include/doormat/tlog.h
assert_eq "$(wrong_includes house | tr '\n' ' ')" \
  "base/z.c:doormat/vault.h(vault) vault/a.c:doormat/tlog.h(tlog) vault/internal.h:x.h(?) tlog/b.c:doormat/vault.h(vault) tlog/b.c:escrow_internal.h(escrow) include/doormat/tlog.h:doormat/escrow.h(escrow) " \
  "the include check names each wrong arrow"

# The same arrow in the objects: the log calls nothing the vault defines (its
# errors, guarded memory and file writes are base's), and the check sees such
# a call where there is one.
# needs_from USES_DIR DEFINES_DIR: the symbols USES' objects take from DEFINES'.
needs_from() {
  comm -12 <(nm -u "$1"/*.o | awk '{ print $NF }' | sort -u) \
    <(nm -g --defined-only "$2"/*.o | awk 'NF == 3 { print $3 }' | sort -u)
}
assert_eq "$(needs_from "$B/obj/tlog" "$B/obj/vault" | tr '\n' ' ')" "" "tlog/ calls nothing of vault/"
mkdir -p calls/tlog calls/vault
printf 'int dm_vault_thing(void);\nint dm_tlog_thing(void) { return dm_vault_thing(); }\n' >calls/tlog/t.c
printf 'int dm_vault_thing(void) { return 1; }\n' >calls/vault/v.c
${DOORMAT_CC:-cc} -c -o calls/tlog/t.o calls/tlog/t.c 2>>"$T/err"
${DOORMAT_CC:-cc} -c -o calls/vault/v.o calls/vault/v.c 2>>"$T/err"
assert_eq "$(needs_from calls/tlog calls/vault)" "dm_vault_thing" "and the call check names a call of the vault"
# The one loader: in the library rooms, dlopen is called by vault/lazylib.c
# alone, in the sources and as the linker sees the objects (each check finds
# the loader itself, so it can see a second one).
assert_eq "$(grep -l 'dlopen(' "$ROOT"/base/*.c "$ROOT"/vault/*.c "$ROOT"/tlog/*.c \
  "$ROOT"/escrow/*.c | sed "s|$ROOT/||" | tr '\n' ' ')" "vault/lazylib.c " \
  "vault/lazylib.c is the only library file that calls dlopen"
assert_eq "$(for o in "$B"/obj/base/*.o "$B"/obj/vault/*.o "$B"/obj/tlog/*.o "$B"/obj/escrow/*.o; do
  nm -u "$o" | awk '$2 == "dlopen"' | grep -q . && basename "$o"; done | tr '\n' ' ')" "lazylib.o " \
  "lazylib.o is the only library object that needs dlopen"
# ...and in the whole tree: the command runs doormat-net (cli/net.c: execv), it
# loads nothing by hand.
assert_eq "$(grep -l 'dlopen(' "$ROOT"/base/*.[ch] "$ROOT"/vault/*.[ch] "$ROOT"/tlog/*.[ch] \
  "$ROOT"/escrow/*.[ch] "$ROOT"/service/*.[ch] "$ROOT"/labs/*.[ch] "$ROOT"/bench/*.[ch] \
  "$ROOT"/cli/*.[ch] "$ROOT"/plugins/*.c | sed "s|$ROOT/||" | tr '\n' ' ')" "vault/lazylib.c " \
  "vault/lazylib.c is the only file of the tree that calls dlopen"
assert_eq "$(for o in "$B"/obj/*/*.o; do nm -u "$o" | awk '$2 == "dlopen"' | grep -q . &&
  basename "$o"; done | tr '\n' ' ')" "lazylib.o " "lazylib.o is the only object that needs dlopen"

# Plain linking (docs/architecture.md, "The libraries"): the command links
# the archives and exports none of its own symbols but cli_wordlist (the hook of age's
# command-line tests, tests/testscript_fixed_word.c; a sanitizer's runtime exports
# its own); no library binds back to it.
assert_eq "$(grep -c -- '-rdynamic\|--export-dynamic\([^-]\|$\)' "$ROOT/Makefile")" 0 "the Makefile links nothing with -rdynamic"
for x in doormat doormat-net; do
  assert_true "$x is built" test -x "$B/$x"
  assert_eq "$(nm -D --defined-only "$B/$x" | awk '$3 ~ /^cli_/ { print $3 }' | tr '\n' ' ')" \
    "cli_wordlist " "$x exports cli_wordlist alone of the command's own"
  assert_eq "$(nm -D --defined-only "$B/$x" | awk '$3 ~ /^dm_/' | wc -l)" 0 \
    "$x exports no dm_ symbol (nm -D --defined-only)"
done
# The check sees an exported dm_ symbol where there is one.
printf 'int dm_exported(void) { return 1; }\nint main(void) { return dm_exported() - 1; }\n' >exp.c
${DOORMAT_CC:-cc} -rdynamic -o exp exp.c 2>>"$T/err"
assert_eq "$(nm -D --defined-only exp | awk '$3 ~ /^dm_/ { print $3 }')" "dm_exported" \
  "and nm -D sees what -rdynamic exports"
# doormat maps no TLS, HTTP or event library: the service room is doormat-net's.
assert_eq "$(readelf -d "$B/doormat" | grep NEEDED | grep -cE 'libssl|libcrypto|libevent|libcurl|libdoormat')" 0 \
  "doormat needs no libssl, libcrypto, libevent, libcurl or libdoormat at start"
assert_true "doormat-net links the service room" sh -c "readelf -d '$B/doormat-net' | grep NEEDED | grep -q libevent"
assert_eq "$(nm "$B/doormat" | grep -c ' T dm_service_')" 0 "doormat holds none of the service room"
assert_absent "$ROOT/cli/service_lib.c" "the command's loader of the service library is gone"
# doormat hands a network command to doormat-net (which maps libevent: the
# loader says so with LD_DEBUG=libs), and keeps every other command.
# maps_libevent ARGS...: true when doormat ARGS... ran with libevent mapped.
maps_libevent() {
  LD_DEBUG=libs "$B/doormat" "$@" >/dev/null 2>"$T/ld" </dev/null
  grep -q 'libevent' "$T/ld"
}
for c in "escrow request" "escrow serve" "escrow witness serve" "escrow init" "lab insider --files 0" \
  "escrow monitor --logs https" "escrow monitor --logs=https://logs.invalid"; do
  # shellcheck disable=SC2086
  assert_true "doormat $c runs as doormat-net" maps_libevent $c
done
for c in "--version" "escrow monitor --logs logs" "escrow warrant" "escrow serve --help" "lab list"; do
  # shellcheck disable=SC2086
  if maps_libevent $c; then fail "doormat $c runs in doormat"; else ok; fi
done
finish
