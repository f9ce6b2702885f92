#!/usr/bin/env bash
# make install, as another program sees it: the shared libraries
# (libdoormat.so.1, libdoormat-service.so.1, with their soname links), their
# public headers and .pc files land under DESTDIR/PREFIX (with the right
# prefix in the .pc files), no lab or attack code is installed, and programs
# outside the tree build against each installed library with pkg-config alone
# (no --static) and run: a file encrypted to a key and an escrow authority
# opens, and the compliant check passes; a service TLS identity is made and
# its pin read back. The libraries export only dm_ symbols, none of the
# lab-only operations, and the service library takes every dm_ symbol it
# needs from libdoormat.so.1 (docs/architecture.md, "The libraries").
. "$(dirname "$0")/lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
B=${DOORMAT_BUILD:-$(dirname "$DOORMAT")}
[ -f "$B/libdoormat.a" ] || B=$ROOT/build
cd "$T" || exit 1
DEST=$T/root

# Install what is built (-o all: nothing is rebuilt here, whatever the flags of the build).
run make -s -C "$ROOT" -o all install BUILD="$B" DESTDIR="$DEST" PREFIX=/usr
assert_exit 0 "make install DESTDIR=... PREFIX=/usr"
for f in bin/doormat lib/doormat/doormat-net bin/age-plugin-pq bin/age-plugin-batchpass \
  lib/libdoormat.so.1.0.0 lib/libdoormat-service.so.1.0.0 lib/pkgconfig/doormat.pc \
  lib/pkgconfig/doormat-service.pc include/doormat/vault.h include/doormat/service.h \
  include/doormat/escrow.h share/man/man1/doormat.1 lib/systemd/system/doormat-agent@.service \
  lib/systemd/system/doormat-witness@.service; do
  assert_true "installed: /usr/$f" test -f "$DEST/usr/$f"
done
for l in libdoormat libdoormat-service; do
  assert_eq "$(readlink "$DEST/usr/lib/$l.so.1")" "$l.so.1.0.0" "$l.so.1 links to $l.so.1.0.0"
  assert_eq "$(readlink "$DEST/usr/lib/$l.so")" "$l.so.1" "$l.so links to $l.so.1"
  assert_eq "$(readelf -d "$DEST/usr/lib/$l.so.1.0.0" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')" \
    "$l.so.1" "$l.so.1.0.0's soname"
done
assert_true "libdoormat-service.so.1 needs libdoormat.so.1" sh -c \
  "readelf -d '$DEST/usr/lib/libdoormat-service.so.1.0.0' | grep NEEDED | grep -qF '[libdoormat.so.1]'"
# The archives hold the lab-only operations: they stay in the build.
assert_absent "$DEST/usr/lib/libdoormat.a" "libdoormat.a is not installed"
assert_absent "$DEST/usr/lib/libdoormat-service.a" "libdoormat-service.a is not installed"
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

# What the installed libraries export (nm -D --defined-only): dm_ symbols
# only, none of the labs, the benchmark engine or the lab-only operations.
nm -D --defined-only "$DEST/usr/lib/libdoormat.so.1" | awk '{ print $NF }' | sort -u >lib.dyn
nm -D --defined-only "$DEST/usr/lib/libdoormat-service.so.1" | awk '{ print $NF }' | sort -u >svc.dyn
assert_true "libdoormat.so.1 exports the vault's, the log's and escrow's API" \
  sh -c 'grep -qx dm_encrypt lib.dyn && grep -qx dm_tlog_note_verify lib.dyn && grep -qx dm_escrow_encrypt lib.dyn'
assert_true "libdoormat-service.so.1 exports the services" grep -qx dm_service_agent_run svc.dyn
for l in lib svc; do
  assert_eq "$(grep -v '^dm_' $l.dyn | tr '\n' ' ')" "" "every symbol $l.dyn exports starts with dm_"
  assert_eq "$(grep -E '^dm_(lab|bench|svc)_' $l.dyn | tr '\n' ' ')" "" \
    "$l.dyn exports no lab, benchmark or internal service symbol"
done
for f in $(sed -n 's/^int \(dm_[a-z_]*\)(.*/\1/p' "$ROOT/escrow/escrow_lab.h"); do
  assert_eq "$(grep -cx "$f" lib.dyn svc.dyn | awk -F: '{ s += $2 } END { print s }')" 0 \
    "no installed library exports the lab-only $f"
  assert_true "and libdoormat.a still defines $f (for the labs)" sh -c "nm '$B/libdoormat.a' | grep -q ' T $f\$'"
done
# The service library binds to libdoormat.so.1, never to a program.
nm -D --undefined-only "$DEST/usr/lib/libdoormat-service.so.1" | awk '$NF ~ /^dm_/ { print $NF }' |
  sort -u >svc.und
assert_true "libdoormat-service.so.1 calls into libdoormat.so.1" test -s svc.und
assert_eq "$(comm -23 svc.und lib.dyn | tr '\n' ' ')" "" \
  "every dm_ symbol libdoormat-service.so.1 needs is one libdoormat.so.1 exports"
# The check can fail: a name the library does not export is seen.
assert_eq "$(printf 'dm_escrow_agent_open\n' | comm -23 - lib.dyn)" "dm_escrow_agent_open" \
  "and the check sees a symbol that libdoormat.so.1 does not export"

for p in doormat doormat-service; do
  assert_true "$p.pc: prefix=/usr" grep -qx 'prefix=/usr' "$DEST/usr/lib/pkgconfig/$p.pc"
  assert_true "$p.pc: the version of vault.h" grep -qx \
    "Version: $(sed -n 's/^#define DM_VERSION "\(.*\)"$/\1/p' "$ROOT/include/doormat/vault.h")" \
    "$DEST/usr/lib/pkgconfig/$p.pc"
done

export PKG_CONFIG_PATH=$DEST/usr/lib/pkgconfig PKG_CONFIG_SYSROOT_DIR=$DEST
run pkg-config --cflags --libs doormat
assert_exit 0 "pkg-config knows doormat"
FLAGS=$(cat "$T/out")
assert_match "$FLAGS" "-I$DEST/usr/include" "pkg-config: the installed headers"
assert_match "$FLAGS" "-L$DEST/usr/lib -ldoormat" "pkg-config: the installed library"
run pkg-config --cflags --libs doormat-service
assert_exit 0 "pkg-config knows doormat-service"
SVC_FLAGS=$(cat "$T/out")
assert_match "$SVC_FLAGS" "-ldoormat-service" "pkg-config: the installed service library"
assert_match "$SVC_FLAGS" "-ldoormat" "pkg-config: and libdoormat (Requires: doormat)"
run pkg-config --print-requires doormat-service
assert_eq "$(cat "$T/out")" "doormat" "doormat-service.pc requires doormat"

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
assert_true "it is linked against the installed libdoormat.so.1" sh -c \
  "readelf -d prog | grep NEEDED | grep -qF '[libdoormat.so.1]'"
export LD_LIBRARY_PATH=$DEST/usr/lib
run ./prog
assert_exit 0 "and runs"
assert_eq "$(cat "$T/out")" "$(sed -n 's/^#define DM_VERSION "\(.*\)"$/\1/p' "$ROOT/include/doormat/vault.h") same" \
  "its escrowed file opens under the compliant check"

# A program of the service library: a service's TLS identity, made in memory,
# and its pin read back from the PEM; an HTTPS tile fetcher made and freed
# (nothing is fetched: no network).
cat >svcprog.c <<'C'
#include <stdio.h>
#include <string.h>

#include <doormat/service.h>

int main(void) {
    char *pem = NULL;
    size_t pem_len = 0;
    char pin[DM_ESCROW_TLS_PIN_LEN + 1], again[DM_ESCROW_TLS_PIN_LEN + 1];
    dm_tlog_fetcher f = {0};
    if (dm_init() != DM_OK || dm_service_tls_new("prog.doormat-escrow", &pem, &pem_len, pin) != DM_OK ||
        dm_service_tls_pin(pem, pem_len, again) != DM_OK ||
        dm_service_fetcher_new("https://127.0.0.1:9/log", pin, 5, &f) != DM_OK) {
        fprintf(stderr, "svcprog: %s\n", dm_err_detail());
        return 1;
    }
    int same = strcmp(pin, again) == 0 && strncmp(pin, "sha256//", 8) == 0 &&
               strstr(pem, "-----BEGIN CERTIFICATE-----") != NULL;
    printf("%s\n", same ? "pinned" : "different");
    dm_tlog_fetcher_clear(&f);
    dm_secret_free(pem);
    return same ? 0 : 1;
}
C
# shellcheck disable=SC2086
run ${DOORMAT_CC:-cc} -std=c17 -Wall -Werror -o svcprog svcprog.c $SVC_FLAGS
assert_exit 0 "an out-of-tree program builds against doormat-service with pkg-config's flags"
assert_true "it needs libdoormat-service.so.1" sh -c \
  "readelf -d svcprog | grep NEEDED | grep -qF '[libdoormat-service.so.1]'"
run ./svcprog
assert_exit 0 "and runs"
assert_eq "$(cat "$T/out")" "pinned" "its TLS identity's pin reads back from the PEM"
unset LD_LIBRARY_PATH

run make -s -C "$ROOT" uninstall DESTDIR="$DEST" PREFIX=/usr
assert_exit 0 "make uninstall"
assert_absent "$DEST/usr/lib/pkgconfig/doormat.pc" "uninstall removes doormat.pc"
for f in lib/libdoormat.so lib/libdoormat.so.1 lib/libdoormat.so.1.0.0 lib/libdoormat-service.so \
  lib/libdoormat-service.so.1 lib/libdoormat-service.so.1.0.0 lib/pkgconfig/doormat-service.pc \
  lib/doormat/doormat-net; do
  assert_absent "$DEST/usr/$f" "uninstall removes /usr/$f"
done
assert_absent "$DEST/usr/lib/systemd/system/doormat-agent@.service" "uninstall removes the units"
assert_absent "$DEST/usr/bin/age-plugin-pq" "uninstall removes age-plugin-pq"
assert_absent "$DEST/usr/bin/age-plugin-batchpass" "uninstall removes age-plugin-batchpass"
finish
