#!/usr/bin/env bash
# Hybrid post-quantum interop with the TypeScript age implementation by age's
# author (age-encryption on npm, under nodejs): doormat encrypts to a key that
# age-encryption made (generateHybridIdentity) and it decrypts; age-encryption
# encrypts to a key doormat made (keygen -pq) and doormat decrypts; a file made
# by age-encryption for both kinds is named by doormat inspect (doormat refuses
# to make one), and the wrong key fails on both sides.
#
# The package is installed at test time (npm, into a cache under the build
# directory). It needs nodejs 20.19 or later (its @noble dependencies say so):
# Debian 13 has it, Debian 12's nodejs is 18. Skipped by name, with the reason,
# where nodejs or npm is too old or missing, where the build has no ML-KEM, or
# where the npm registry can't be reached; never silently.
. "$(dirname "$0")/lib.sh"
D=$DOORMAT
BUILD_DIR=$(cd "${DOORMAT_BUILD:-$(dirname "$D")}" && pwd)
PKG=age-encryption@0.3.1
CHECKS="doormat-to-age-encryption age-encryption-to-doormat wrong-key-both-ways mixing"
skip_all() {
  for c in $CHECKS; do skip "$c" "$1"; done
  finish
}
cd "$T" || exit 1

command -v node >/dev/null && command -v npm >/dev/null || skip_all "no nodejs and npm (make deps installs them)"
node_version=$(node -p 'process.versions.node')
if ! node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a==20&&b>=19)?0:1)'; then
  skip_all "nodejs $node_version is older than 20.19, which $PKG needs (Debian 13 has it)"
fi
run "$D" keygen -pq -o dm.key
if [ "$rc" -ne 0 ]; then
  skip_all "this build has no ML-KEM (it needs OpenSSL 3.5 or later)"
fi

# The package, once per build directory, from the registry (or npm's cache there).
NPM_DIR=$BUILD_DIR/npm-age
if [ ! -f "$NPM_DIR/node_modules/age-encryption/package.json" ]; then
  mkdir -p "$NPM_DIR"
  if ! (cd "$NPM_DIR" && timeout 180 npm install --no-audit --no-fund --loglevel=error --prefix . \
          --cache ./cache "$PKG") >npm.log 2>&1; then
    # No route, no name, or no TLS we can trust (a proxy's own certificate
    # authority that this machine does not hold): the registry can't be reached.
    re='ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENETUNREACH|SELF_SIGNED_CERT|UNABLE_TO_(GET|VERIFY)_ISSUER|CERT_'
    if grep -Eq "$re" npm.log; then
      skip_all "the npm registry can't be reached ($(grep -Eom1 "$re[A-Z_]*" npm.log))"
    fi
    cat npm.log >&2
    fail "npm install $PKG"
    finish
  fi
fi
assert_eq "$(node -p "require('$NPM_DIR/node_modules/age-encryption/package.json').version")" 0.3.1 "$PKG installed"

# ts.mjs keygen | encrypt RECIPIENT... | decrypt IDENTITY: stdin to stdout.
cat >ts.mjs <<EOF
import * as age from "$NPM_DIR/node_modules/age-encryption/dist/index.js";
import { readFileSync, writeSync } from "node:fs";
const [cmd, ...args] = process.argv.slice(2);
const input = () => new Uint8Array(readFileSync(0));
const out = (b) => { for (let o = 0; o < b.length; ) o += writeSync(1, b, o); };
try {
  if (cmd === "keygen") {
    const id = await age.generateHybridIdentity();
    out(new TextEncoder().encode(id + "\n" + (await age.identityToRecipient(id)) + "\n"));
  } else if (cmd === "encrypt") {
    const e = new age.Encrypter();
    for (const r of args) e.addRecipient(r);
    out(await e.encrypt(input()));
  } else if (cmd === "decrypt") {
    const d = new age.Decrypter();
    d.addIdentity(args[0]);
    out(await d.decrypt(input()));
  } else throw new Error("unknown command " + cmd);
} catch (err) {
  process.stderr.write("age-encryption: " + (err && err.message ? err.message : err) + "\n");
  process.exit(1);
}
EOF
ts() { node ts.mjs "$@"; }
make_file plain 100000

# Keys made by each side.
run ts keygen
assert_exit 0 "age-encryption: generateHybridIdentity"
TS_ID=$(sed -n 1p "$T/out")
TS_PUB=$(sed -n 2p "$T/out")
assert_match "$TS_ID" '^AGE-SECRET-KEY-PQ-1[02-9AC-HJ-NP-Z]{58}$' "age-encryption's identity"
printf '# made by age-encryption\n%s\n' "$TS_ID" >ts.key
chmod 600 ts.key
run "$D" keygen -y ts.key
assert_eq "$(cat "$T/out")" "$TS_PUB" "doormat keygen -y gives age-encryption's recipient"
DM_ID=$(grep '^AGE-SECRET-KEY-PQ-1' dm.key)
DM_PUB=$(sed -n 's/^# public key: //p' dm.key)

# doormat encrypts, age-encryption decrypts (binary and armored input to doormat).
run "$D" -r "$TS_PUB" -o d2t.age plain
assert_exit 0 "doormat-to-age-encryption: doormat encrypts to age-encryption's key"
ts decrypt "$TS_ID" <d2t.age >d2t.out 2>"$T/err"
assert_eq "$?" 0 "doormat-to-age-encryption: age-encryption decrypts"
assert_same d2t.out plain "doormat-to-age-encryption: the plaintext"

# age-encryption encrypts, doormat decrypts.
ts encrypt "$DM_PUB" <plain >t2d.age 2>"$T/err"
assert_eq "$?" 0 "age-encryption-to-doormat: age-encryption encrypts to doormat's key"
assert_eq "$(grep -ac '^-> mlkem768x25519 ' t2d.age)" 1 "age-encryption-to-doormat: one mlkem768x25519 stanza"
run "$D" -d -i dm.key -o t2d.out t2d.age
assert_exit 0 "age-encryption-to-doormat: doormat decrypts"
assert_same t2d.out plain "age-encryption-to-doormat: the plaintext"

# The wrong key, both ways.
ts decrypt "$DM_ID" <d2t.age >/dev/null 2>"$T/err"
assert_eq "$?" 1 "wrong-key-both-ways: age-encryption refuses doormat's file to another key"
run "$D" -d -i ts.key -o never.out t2d.age
assert_fails 4 "no identity matched" "wrong-key-both-ways: doormat refuses age-encryption's file to another key"

# Mixing post-quantum and classical recipients: doormat refuses; age-encryption
# 0.3.1 does not, and doormat inspect warns about what it made.
X=age1zvkyg2lqzraa2lnjvqej32nkuu0ues2s82hzrye869xeexvn73equnujwj
run "$D" -r "$TS_PUB" -r "$X" -o mixed.age plain
assert_fails 2 "incompatible recipients" "mixing: doormat refuses age1pq1 with age1"
if ts encrypt "$DM_PUB" "$X" <plain >mixed.age 2>/dev/null; then
  run "$D" inspect mixed.age
  assert_err_line '^doormat: inspect: warning: the file mixes post-quantum \(mlkem768x25519\) and classical \(X25519\)' \
    "mixing: inspect warns about age-encryption's mixed file"
  run "$D" -d -i dm.key mixed.age
  assert_same "$T/out" plain "mixing: doormat still opens it with the hybrid key"
else
  ok
fi
finish
