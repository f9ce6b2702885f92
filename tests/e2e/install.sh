#!/usr/bin/env bash
# make install, as another program sees it: the library, its public
# headers and doormat.pc land under DESTDIR/PREFIX (with the right prefix in
# the .pc file), no lab or attack code is installed, and a program outside the
# tree builds against the installed library with pkg-config alone and runs:
# a file encrypted to a key and an escrow authority opens, and the compliant
# check passes.
. "$(dirname "$0")/lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
B=${DOORMAT_BUILD:-$(dirname "$DOORMAT")}
[ -f "$B/libdoormat.a" ] || B=$ROOT/build
cd "$T" || exit 1
DEST=$T/root

# Install what is built (-o all: nothing is rebuilt here, whatever the flags of the build).
run make -s -C "$ROOT" -o all install BUILD="$B" DESTDIR="$DEST" PREFIX=/usr
assert_exit 0 "make install DESTDIR=... PREFIX=/usr"
for f in bin/doormat bin/age-plugin-pq bin/age-plugin-batchpass lib/libdoormat.a lib/pkgconfig/doormat.pc include/doormat/vault.h \
  include/doormat/escrow.h share/man/man1/doormat.1 lib/systemd/system/doormat-agent@.service \
  lib/systemd/system/doormat-witness@.service; do
  assert_true "installed: /usr/$f" test -f "$DEST/usr/$f"
done
assert_true "the installed units run /usr/bin/doormat" \
  grep -q '^ExecStart=/usr/bin/doormat escrow serve ' "$DEST/usr/lib/systemd/system/doormat-agent@.service"
assert_eq "$(cd "$DEST/usr/include/doormat" && LC_ALL=C ls | tr '\n' ' ')" \
  "README.md base.h escrow.h service.h tlog.h vault.h " \
  "only the public headers and their ownership rule are installed (no labs.h)"
assert_eq "$(find "$DEST" -name escrow_lab.h | wc -l)" 0 "the lab-only escrow header is not installed"
# The lab-only operations (escrow/escrow_lab.h) are declared in no installed header.
for f in $(sed -n 's/^int \(dm_[a-z_]*\)(.*/\1/p' "$ROOT/escrow/escrow_lab.h"); do
  assert_eq "$(grep -c "\b$f\b" "$DEST"/usr/include/doormat/*.h | awk -F: '{ s += $2 } END { print s }')" 0 \
    "no installed header declares $f"
done
assert_true "escrow_lab.h declares the lab-only operations" grep -q '^int dm_escrow_agent_open(' \
  "$ROOT/escrow/escrow_lab.h"
assert_absent "$DEST/usr/lib/libdoormat-labs.a" "the labs archive is not installed"
assert_absent "$DEST/usr/lib/libdoormat-bench.a" "the bench archive is not installed"
assert_eq "$(grep -c -E ' T (dm_lab_|dm_bench_)' <(nm "$DEST/usr/lib/libdoormat.a" 2>/dev/null))" 0 \
  "the installed library defines no lab or benchmark symbol"
assert_true "doormat.pc: prefix=/usr" grep -qx 'prefix=/usr' "$DEST/usr/lib/pkgconfig/doormat.pc"
assert_true "doormat.pc: the version of vault.h" grep -qx \
  "Version: $(sed -n 's/^#define DM_VERSION "\(.*\)"$/\1/p' "$ROOT/include/doormat/vault.h")" \
  "$DEST/usr/lib/pkgconfig/doormat.pc"

export PKG_CONFIG_PATH=$DEST/usr/lib/pkgconfig PKG_CONFIG_SYSROOT_DIR=$DEST
run pkg-config --static --cflags --libs doormat
assert_exit 0 "pkg-config knows doormat"
FLAGS=$(cat "$T/out")
assert_match "$FLAGS" "-I$DEST/usr/include" "pkg-config: the installed headers"
assert_match "$FLAGS" "-L$DEST/usr/lib -ldoormat" "pkg-config: the installed library"
assert_match "$FLAGS" "-lsodium" "pkg-config --static: libsodium (Requires.private)"
assert_match "$FLAGS" "-lcrypto" "pkg-config --static: libcrypto (Requires.private)"

cat >prog.c <<'C'
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <doormat/escrow.h>
#include <doormat/vault.h>

int main(void) {
    static const char msg[] = "built against the installed library";
    char *sk = NULL, *pk = NULL;
    dm_recipient *r = NULL;
    dm_identity *id = NULL;
    dm_escrow_authority *auth = NULL;
    dm_escrow_agent_key **keys = NULL;
    dm_escrow_court_key *court = NULL;
    dm_membuf plain = {.data = (const uint8_t *)msg, .len = sizeof msg - 1}, ct = {0}, out = {0};
    if (dm_init() != DM_OK || dm_x25519_keygen(&sk, &pk) != DM_OK ||
        dm_x25519_recipient_parse(pk, &r) != DM_OK || dm_x25519_identity_parse(sk, &id) != DM_OK ||
        dm_escrow_authority_new("PKG", NULL, 0, 1, &auth, &keys, &court) != DM_OK ||
        dm_escrow_encrypt(dm_source_mem(&plain), dm_sink_mem(&ct), &r, 1, auth, NULL, NULL) !=
            DM_OK) {
        fprintf(stderr, "prog: %s\n", dm_err_detail());
        return 1;
    }
    dm_escrow_policy pol = {.auth = auth};
    id->beside = dm_escrow_beside;
    dm_decrypt_opts o = {.policy = dm_escrow_policy_check,
                         .policy_ctx = &pol};
    dm_membuf in = {.data = ct.buf, .len = ct.len};
    if (dm_decrypt(dm_source_mem(&in), dm_sink_mem(&out), &id, 1, &o) != DM_OK) {
        fprintf(stderr, "prog: %s\n", dm_err_detail());
        return 1;
    }
    int same = out.len == sizeof msg - 1 && memcmp(out.buf, msg, out.len) == 0;
    printf("%s %s\n", DM_VERSION, same ? "same" : "different");
    free(ct.buf);
    free(out.buf);
    dm_escrow_agent_key_free(keys[0]);
    free(keys);
    dm_escrow_court_key_free(court);
    dm_escrow_authority_free(auth);
    dm_recipient_free(r);
    dm_identity_free(id);
    dm_secret_free(sk);
    free(pk);
    return same ? 0 : 1;
}
C
# DOORMAT_CC: the compiler and link flags the library was built with
# (make sanitize passes its own); a plain cc otherwise.
# shellcheck disable=SC2086
run ${DOORMAT_CC:-cc} -std=c17 -Wall -Werror -o prog prog.c $FLAGS
assert_exit 0 "an out-of-tree program builds with pkg-config's flags"
run ./prog
assert_exit 0 "and runs"
assert_eq "$(cat "$T/out")" "$(sed -n 's/^#define DM_VERSION "\(.*\)"$/\1/p' "$ROOT/include/doormat/vault.h") same" \
  "its escrowed file opens under the compliant check"

run make -s -C "$ROOT" uninstall DESTDIR="$DEST" PREFIX=/usr
assert_exit 0 "make uninstall"
assert_absent "$DEST/usr/lib/pkgconfig/doormat.pc" "uninstall removes doormat.pc"
assert_absent "$DEST/usr/lib/libdoormat.a" "uninstall removes the library"
assert_absent "$DEST/usr/lib/systemd/system/doormat-agent@.service" "uninstall removes the units"
assert_absent "$DEST/usr/bin/age-plugin-pq" "uninstall removes age-plugin-pq"
assert_absent "$DEST/usr/bin/age-plugin-batchpass" "uninstall removes age-plugin-batchpass"
finish
