#!/usr/bin/env bash
# The hybrid post-quantum recipient type (age 1.3's mlkem768x25519: age1pq1...
# recipients, AGE-SECRET-KEY-PQ-1... identities): keygen -pq and age-keygen's
# -pq, -y, encrypt to -r, -R and -i, decrypt, the wrong key, the refusal to mix
# post-quantum and classical recipients, inspect, and the plugin program
# age-plugin-pq (-identity, and both state machines, driven by doormat and by
# the Debian age command, which has no native hybrid type).
#
# A build without ML-KEM (OpenSSL older than 3.5, Debian 12) checks that every
# use says so in one line with exit 2, and reports the checks that need ML-KEM
# as skipped, by name.
. "$(dirname "$0")/lib.sh"
D=$DOORMAT
BUILD_DIR=${DOORMAT_BUILD:-$(dirname "$D")}
PLUGIN=$BUILD_DIR/age-plugin-pq
cd "$T" || exit 1
printf 'post-quantum plaintext\n' >plain
NEED='this build cannot use age1pq .*OpenSSL 3\.5 or later'
# The spec's example key pair (c2sp.org/age).
SPEC_ID=AGE-SECRET-KEY-PQ-1XX76JRALNLXDMEW0CRK45QMCCH4X06SE84UN3VPM33W6HWDX0H3SK3ZQFR
printf '%s\n' "$SPEC_ID" >spec.key
chmod 600 spec.key

if [ ! -x "$PLUGIN" ]; then
  echo "hybrid: $PLUGIN is missing (make builds it)" >&2
  exit 1
fi

run "$D" keygen -pq
if [ "$rc" -ne 0 ]; then
  # --------------------------------------------------- a build without ML-KEM
  assert_fails 2 "$NEED" "keygen -pq without ML-KEM"
  run "$D" keygen -pq -o k.txt
  assert_fails 2 "$NEED" "keygen -pq -o without ML-KEM"
  assert_absent k.txt "keygen -pq wrote nothing"
  run "$D" -r age1pq1qqqq <plain
  assert_fails 2 "$NEED" "encrypt -r age1pq1 without ML-KEM"
  run "$D" -d -i spec.key plain
  assert_fails 2 "$NEED" "decrypt -i AGE-SECRET-KEY-PQ-1 without ML-KEM"
  run "$D" -e -i spec.key plain
  assert_fails 2 "$NEED" "encrypt -i AGE-SECRET-KEY-PQ-1 without ML-KEM"
  run "$D" keygen -y spec.key
  assert_fails 2 "$NEED" "keygen -y of a hybrid identity without ML-KEM"
  run "$PLUGIN" -identity spec.key
  assert_exit 2 "age-plugin-pq -identity without ML-KEM"
  assert_err_line "^age-plugin-pq: $NEED" "age-plugin-pq -identity without ML-KEM: one line"
  for skipped in keygen-pq-round-trip encrypt-decrypt wrong-key no-mixing recipients-file \
                 inspect-names-post-quantum inspect-warns-mixed plugin-identity \
                 plugin-with-doormat plugin-with-age; do
    skip "$skipped" "this build has no ML-KEM (it needs OpenSSL 3.5 or later)"
  done
  finish
fi

# ----------------------------------------------------------------- keygen
assert_match "$(sed -n 2p "$T/out")" '^# public key: age1pq1[02-9ac-hj-np-z]{1946}[02-9ac-hj-np-z]{6}$' \
  "keygen -pq: the public key comment"
assert_match "$(sed -n 3p "$T/out")" '^AGE-SECRET-KEY-PQ-1[02-9AC-HJ-NP-Z]{58}$' "keygen -pq: the secret key"
run "$D" keygen -pq -o k.txt
assert_exit 0 "keygen -pq -o"
assert_eq "$(stat -c %a k.txt)" 600 "keygen -pq -o: mode 0600"
PUB=$(sed -n 's/^# public key: //p' k.txt)
assert_match "$(cat "$T/err")" "^Public key: $PUB\$" "keygen -pq -o: the public key on stderr"
run "$D" keygen -y k.txt
assert_eq "$(cat "$T/out")" "$PUB" "keygen-pq-round-trip: -y gives the recipient of the comment"
SPEC_PUB=$(sed -n '/^    age1pq1/{s/^ *//;p;q}' "$(dirname "$0")/../../../shared/specs/c2sp/age.md" 2>/dev/null)
run "$D" keygen -y spec.key
if [ -n "$SPEC_PUB" ]; then
  assert_eq "$(cat "$T/out")" "$SPEC_PUB" "keygen -y of the spec's identity gives the spec's recipient"
fi
SPEC_PUB=$(cat "$T/out")

# ------------------------------------------------------ encrypt and decrypt
run "$D" -r "$PUB" -o ct.age plain
assert_exit 0 "encrypt -r age1pq1"
assert_eq "$(grep -c '^-> mlkem768x25519 ' ct.age)" 1 "encrypt-decrypt: one mlkem768x25519 stanza"
run "$D" -d -i k.txt -o out ct.age
assert_exit 0 "encrypt-decrypt: decrypt -i"
assert_same out plain "encrypt-decrypt: the plaintext"
run "$D" -e -i k.txt -a -o ct2.age plain
assert_exit 0 "encrypt -i hybrid identity, armored"
run "$D" -d -i k.txt ct2.age
assert_same "$T/out" plain "encrypt -i: decrypts"
run "$D" -d -i spec.key -o never.out ct.age
assert_fails 4 "no identity matched" "wrong-key: another hybrid identity"
assert_absent never.out "wrong-key: nothing written"

# ------------------------------------------------------------ no mixing
run "$D" -r "$PUB" -r age1zvkyg2lqzraa2lnjvqej32nkuu0ues2s82hzrye869xeexvn73equnujwj -o mixed.age plain
assert_fails 2 "incompatible recipients" "no-mixing: -r age1pq1 -r age1"
assert_absent mixed.age "no-mixing: nothing written"
printf '%s\n%s\n' "$SPEC_PUB" "$PUB" >both.txt
run "$D" -R both.txt -o r.age plain
assert_exit 0 "recipients-file: two age1pq1 lines"
run "$D" -d -i spec.key r.age
assert_same "$T/out" plain "recipients-file: the first opens it"
run "$D" -d -i k.txt r.age
assert_same "$T/out" plain "recipients-file: the second opens it"

# --------------------------------------------------------------- inspect
run "$D" inspect ct.age
assert_exit 0 "inspect"
assert_match "$(grep '^stanza:' "$T/out")" '^stanza: mlkem768x25519 x1 \(post-quantum\)$' \
  "inspect-names-post-quantum"
assert_no_stderr "inspect: no warning for a post-quantum-only file"
run "$D" inspect --json r.age
assert_match "$(cat "$T/out")" '"type":"mlkem768x25519","count":2,"post_quantum":true' "inspect --json: post_quantum"
assert_match "$(cat "$T/out")" '"mixes_post_quantum":false' "inspect --json: not mixed"

# --------------------------------------------------------- age-plugin-pq
run "$PLUGIN" -identity -o k-plugin.txt k.txt
assert_exit 0 "plugin-identity: age-plugin-pq -identity -o"
assert_eq "$(stat -c %a k-plugin.txt)" 600 "plugin-identity: mode 0600"
assert_match "$(grep -v '^#' k-plugin.txt)" '^AGE-PLUGIN-PQ-1[02-9AC-HJ-NP-Z]{58}$' "plugin-identity: AGE-PLUGIN-PQ-1"
run "$PLUGIN" -identity plain
assert_exit 1 "age-plugin-pq -identity of a file with no hybrid identity"
export PATH="$BUILD_DIR:$PATH"
run "$D" -d -i k-plugin.txt ct.age
assert_exit 0 "plugin-with-doormat: decrypt through the plugin"
assert_same "$T/out" plain "plugin-with-doormat: the plaintext"
run "$D" -e -i k-plugin.txt -o p.age plain
assert_exit 0 "plugin-with-doormat: encrypt to the plugin identity"
run "$D" -d -i k.txt p.age
assert_same "$T/out" plain "plugin-with-doormat: the native identity opens it"
assert_eq "$(grep -c '^-> mlkem768x25519 ' p.age)" 1 "plugin-with-doormat: a native stanza"
# Through the plugin the recipient is post-quantum all the same (its stanzas say so).
run "$D" -e -i k-plugin.txt -r "$SPEC_PUB" -o p2.age plain
assert_exit 0 "plugin-with-doormat: the plugin's recipient beside a native age1pq1 one"
run "$D" -e -i k-plugin.txt -r age1zvkyg2lqzraa2lnjvqej32nkuu0ues2s82hzrye869xeexvn73equnujwj -o never.age plain
assert_fails 2 "incompatible recipients: a post-quantum \(mlkem768x25519\) recipient can't be mixed with a classical \(X25519\) one" \
  "plugin-with-doormat: the plugin's recipient is not mixed with X25519"
assert_absent never.age "plugin-with-doormat: nothing written"

if command -v age >/dev/null; then
  # The Debian age command has no hybrid type: age1pq1... is a recipient of
  # plugin "pq" to it, and AGE-PLUGIN-PQ-1... an identity of that plugin.
  run age -r "$PUB" -o a.age plain
  assert_exit 0 "plugin-with-age: age -r age1pq1 through age-plugin-pq"
  run "$D" -d -i k.txt a.age
  assert_same "$T/out" plain "plugin-with-age: doormat opens what age made"
  run age -d -i k-plugin.txt ct.age
  assert_exit 0 "plugin-with-age: age -d through age-plugin-pq"
  assert_same "$T/out" plain "plugin-with-age: age opens what doormat made"
  # age without the label extension mixes the kinds; inspect warns.
  run age -r "$PUB" -r age1zvkyg2lqzraa2lnjvqej32nkuu0ues2s82hzrye869xeexvn73equnujwj -o mixed.age plain
  if [ "$rc" -eq 0 ]; then
    run "$D" inspect mixed.age
    assert_exit 0 "inspect-warns-mixed: exit 0"
    assert_err_line '^doormat: inspect: warning: the file mixes post-quantum \(mlkem768x25519\) and classical \(X25519\)' \
      "inspect-warns-mixed: one warning line"
    run "$D" inspect --json mixed.age
    assert_match "$(cat "$T/out")" '"mixes_post_quantum":true' "inspect --json: mixed"
  else
    assert_match "$(cat "$T/err")" "incompatible" "age refuses to mix, as age 1.3 does"
  fi
else
  skip plugin-with-age "no age command (make deps installs it)"
fi
finish
