#!/usr/bin/env bash
# Regenerates the fuzz seed corpora (fuzz/corpus/<target>/) and the escrow
# fixture (fuzz/escrow_fixture.h) from the age testkit and from files made by
# the doormat command. Run from the repository root after `make`:
#   fuzz/make-corpus.sh [build/doormat]
# The escrow seeds (keys, warrant, shares, log) belong to the authority in the
# fixture, so both are always regenerated together. Seeds are kept small: the
# whole corpus is a few hundred KB.
set -euo pipefail
cd "$(dirname "$0")/.."
D=$(realpath "${1:-build/doormat}")
KIT=tests/testkit/age
C=fuzz/corpus
# The identity and passphrase the decrypt target uses (those of the testkit).
ID=AGE-SECRET-KEY-1EGTZVFFV20835NWYV6270LXYVK2VKNX2MMDKWYKLMGR48UAWX40Q2P2LM0
RCPT=$("$D" keygen -y <(printf '%s\n' "$ID"))

rm -rf "$C"
mkdir -p "$C/format" "$C/keys" "$C/decrypt" "$C/escrow" "$C/tlog" "$C/plugin"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

# Testkit files: the age file is what follows the first blank line. Large
# vectors (many chunks) are left out; hybrid ones are kept (header shapes).
for f in "$KIT"/*; do
  name=$(basename "$f")
  [ "$(stat -c %s "$f")" -le 8192 ] || continue
  if grep -q '^compressed: zlib' "$f"; then continue; fi
  # byte-exact: everything after the first "\n\n"
  perl -0777 -ne 'print substr($_, index($_, "\n\n") + 2)' "$f" >"$T/$name"
  cp "$T/$name" "$C/format/$name"
  cp "$T/$name" "$C/decrypt/$name"
done

# Generated files for the decrypt target: X25519, passphrase (work factor 2^10,
# which the fuzz identity accepts), armored, escrowed, empty and 2-chunk-edge.
printf 'hello, fuzzer\n' >"$T/msg"
: >"$T/empty"
head -c 3000 /dev/urandom >"$T/chunk"
"$D" encrypt -r "$RCPT" -o "$C/decrypt/gen_x25519" "$T/msg"
"$D" encrypt -r "$RCPT" -o "$C/decrypt/gen_empty" "$T/empty"
"$D" encrypt -a -r "$RCPT" -o "$C/decrypt/gen_armor" "$T/msg"
"$D" encrypt -r "$RCPT" -o "$C/decrypt/gen_3000" "$T/chunk"
"$D" keygen -o "$T/other.key" 2>/dev/null
"$D" encrypt -r "$RCPT" -r "$("$D" keygen -y "$T/other.key")" -o "$C/decrypt/gen_two" "$T/msg"

# Keys and recipients.
"$D" keygen -o "$T/k.txt" 2>/dev/null
cp "$T/k.txt" "$C/keys/identity_file"
printf '%s\n' "$ID" >"$C/keys/identity_bare"
cat "$T/k.txt" "$T/other.key" >"$C/keys/identity_two"
printf '# team\n\n%s\n%s\n' "$RCPT" "$("$D" keygen -y "$T/other.key")" >"$C/keys/recipients_file"
printf '%s' "$RCPT" >"$C/keys/recipient"
printf '%s' "$ID" >"$C/keys/secret"
printf 'a12uel5l' >"$C/keys/bech32_short"
# The spec's hybrid post-quantum key pair (c2sp.org/age), whatever this build supports.
printf '%s' AGE-SECRET-KEY-PQ-1XX76JRALNLXDMEW0CRK45QMCCH4X06SE84UN3VPM33W6HWDX0H3SK3ZQFR \
  >"$C/keys/identity_pq"
if "$D" keygen -y "$C/keys/identity_pq" >"$T/pq.pub" 2>/dev/null; then
  tr -d '\n' <"$T/pq.pub" >"$C/keys/recipient_pq"
fi

# Escrow: a 2-of-3 authority, its keys, a file, a warrant, two shares, a log.
(
  cd "$T"
  "$D" escrow init --name FUZZ --agents doj,court,vendor --threshold 2 -o auth >/dev/null
  "$D" encrypt -r "$RCPT" --escrow auth/authority.pub -o esc.age msg
  "$D" encrypt -r "$RCPT" --escrow auth/authority.pub --leaf-bits 16 -o leaf.age msg
  "$D" encrypt -r "$RCPT" --escrow auth/authority.pub --crumple-bits 4 -o crumple.age msg
  "$D" escrow warrant --court auth/court.key --authority auth/authority.pub --case "fuzz 1" \
    --issued 2026-01-15 --expires 2030-01-01 -o warrant.txt esc.age
  for a in doj vendor; do
    "$D" escrow unwrap --authority auth/authority.pub --agent auth/agents/$a.key \
      --warrant warrant.txt --log auth/logs/$a -o $a.share esc.age 2>/dev/null
  done
  # doj's log at size 3, for the tlog seeds (receipts, proofs, tiles)
  cp auth/logs/doj/checkpoint doj-1.cp
  for i in 2 3; do
    "$D" escrow unwrap --authority auth/authority.pub --agent auth/agents/doj.key \
      --warrant warrant.txt --log auth/logs/doj --requester "seed $i" -o doj$i.share esc.age 2>/dev/null
  done
  "$D" escrow audit prove --authority auth/authority.pub --since 1 auth/logs/doj >since1.body
  "$D" escrow audit prove --authority auth/authority.pub --index 1 auth/logs/doj >index1.proof
)
cp "$T/esc.age" "$C/decrypt/gen_escrow"
cp "$T/leaf.age" "$C/decrypt/gen_escrow_leaf16"
cp "$T/crumple.age" "$C/decrypt/gen_escrow_crumple4"
printf 'correct horse\n' >"$T/pw"
# Work factor 2^10 keeps the fuzzer fast: write the stanza by hand is not
# needed, the testkit's scrypt vectors already use 10. An escrowed passphrase
# file adds the scrypt-beside-escrow extension.
"$D" encrypt --passphrase-file "$T/pw" --escrow "$T/auth/authority.pub" -o "$T/pp.age" "$T/msg"
head -c 400 "$T/pp.age" >"$C/format/gen_scrypt_escrow_head"
cp "$T/esc.age" "$C/format/gen_escrow"

# Escrow seeds: the first byte picks the parser (see fuzz_escrow.c).
seed() { { printf "\\$(printf '%03o' "$1")"; cat "$2"; } >"$C/escrow/$3"; }
seed 0 "$T/auth/authority.pub" authority
seed 1 "$T/auth/agents/doj.key" agent_key
seed 2 "$T/auth/court.key" court_key
seed 3 "$T/warrant.txt" warrant
seed 4 "$T/doj.share" share_doj
seed 4 "$T/vendor.share" share_vendor
sed -n 's/^extra //p' "$T/doj.share" | base64 -d >"$T/entry"
seed 5 "$T/entry" release_entry
seed 6 "$T/esc.age" escrow_header
seed 6 "$T/leaf.age" escrow_header_leaf16
seed 6 "$T/crumple.age" escrow_header_crumple4

# Transparency-log seeds: the first byte picks the parser (see fuzz_tlog.c).
tseed() { { printf "\\$(printf '%03o' "$1")"; cat "$2"; } >"$C/tlog/$3"; }
tseed 0 "$T/auth/logs/doj/checkpoint" checkpoint
tseed 0 "$T/doj-1.cp" checkpoint_1
tseed 1 "$T/auth/logs/doj/checkpoint" note
printf 'tile/0/x001/x234/067' >"$T/p1"; tseed 2 "$T/p1" tile_path
printf 'tile/entries/000.p/3' >"$T/p2"; tseed 2 "$T/p2" tile_path_partial
{ printf '\003'; cat "$T/auth/logs/doj/tile/entries/000.p/3"; } >"$T/b"; tseed 3 "$T/b" bundle
tseed 4 "$T/index1.proof" tlog_proof
sed -n '/^c2sp.org\/tlog-proof@v1$/,$p' "$T/doj3.share" >"$T/r3"; tseed 4 "$T/r3" receipt
tseed 5 "$T/since1.body" add_checkpoint
sed -n 's/^log: doj //p' "$T/auth/authority.pub" | tr -d '\n' >"$T/vk"; tseed 6 "$T/vk" vkey
tseed 7 "$T/auth/logs/doj/tile/0/000.p/3" tile

# Plugin seeds: what a plugin says, after two bytes (bit 0: with a user
# interface, bit 1: identity-v1 instead of recipient-v1; then the read size).
plugin_seeds() {
  local P=$1
  pseed() { { printf "\\$(printf '%03o' "$1")\\$(printf '%03o' "$2")"; printf '%b' "$3"; } >"$P/$4"; }
  pseed 0 7 '-> recipient-stanza 0 X25519 abc\nWUVMTE9XIFNVQk1BUklORQ\n-> done\n\n' wrap
  pseed 1 3 '-> msg\naGkbWzMxbQ\n-> request-secret\nUElOOg\n-> confirm WWVz Tm8\nU3VyZT8\n-> recipient-stanza 0 t\n\n-> done\n\n' wrap_ui
  pseed 0 64 '-> error internal\nbm9wZQ\n' wrap_error
  pseed 2 5 '-> file-key 0\nWUVMTE9XIFNVQk1BUklORQ\n-> done\n\n' unwrap
  pseed 3 1 '-> request-public\nTGFiZWw6\n-> grease x\nAAAA\n-> file-key 0\nWUVMTE9XIFNVQk1BUklORQ\n-> done\n\n' unwrap_ui
  printf '%s' "age1test10qdmzv9q" >"$P/recipient"
  printf '%s' "AGE-PLUGIN-TEST-10Q32NLXM" >"$P/identity"
  printf '%s' "doormattest" >"$P/name"
}
plugin_seeds "$C/plugin"

{
  echo "/* Generated by fuzz/make-corpus.sh: the authority the escrow seeds belong to. */"
  echo "static const char fuzz_authority_text[] ="
  sed 's/\\/\\\\/g; s/"/\\"/g; s/^/    "/; s/$/\\n"/' "$T/auth/authority.pub"
  echo "    ;"
} >fuzz/escrow_fixture.h
du -sh "$C"
