#!/usr/bin/env bash
# The classroom walkthrough: doormat's vault, step by step, in plain words.
#
#   demo/classroom.sh [--yes] [--dir DIR]
#
# On a terminal it pauses for Enter between steps and uses colour; not on a
# terminal, or with --yes, it runs straight through. It works in a fresh
# temporary directory (removed at the end) unless --dir DIR names one (kept).
# Every step checks what it shows: if the tool misbehaves, the demo stops with
# exit 1 rather than narrate something that did not happen.
#
# Later sections (escrow, labs) add their step functions and append their names
# to STEPS at the bottom of this file.
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
DOORMAT=${DOORMAT:-$ROOT/build/doormat}

YES=0
DIR=""
usage() {
  sed -n '2,13s/^# \{0,1\}//p' "$0"
}
while [ $# -gt 0 ]; do
  case $1 in
    -y|--yes) YES=1 ;;
    --dir) [ $# -ge 2 ] || { echo "classroom.sh: --dir needs a directory" >&2; exit 2; }
           DIR=$2; shift ;;
    --dir=*) DIR=${1#--dir=} ;;
    -h|--help) usage; exit 0 ;;
    *) echo "classroom.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

if [ ! -x "$DOORMAT" ]; then
  echo "classroom.sh: $DOORMAT not found; run make first" >&2
  exit 1
fi

INTERACTIVE=0
if [ "$YES" -eq 0 ] && [ -t 0 ] && [ -t 1 ]; then INTERACTIVE=1; fi
if [ "$INTERACTIVE" -eq 1 ]; then
  C_TITLE=$'\e[1;36m'; C_CMD=$'\e[1;33m'; C_OK=$'\e[32m'; C_BAD=$'\e[31m'; C_OFF=$'\e[0m'
else
  C_TITLE=""; C_CMD=""; C_OK=""; C_BAD=""; C_OFF=""
fi

if [ -n "$DIR" ]; then
  mkdir -p "$DIR" || exit 1
  WORK=$(cd "$DIR" && pwd)
else
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/doormat-classroom.XXXXXX") || exit 1
  trap 'rm -rf "$WORK"' EXIT
fi
cd "$WORK" || exit 1
umask 077

# ------------------------------------------------------------ narration helpers

title() { printf '\n%s== %s ==%s\n' "$C_TITLE" "$*" "$C_OFF"; }
say() { printf '%s\n' "$@"; }
pause() {
  if [ "$INTERACTIVE" -eq 1 ]; then
    printf '\n[press Enter to go on] '
    read -r _ || true
  fi
}
die() { printf '%sdemo stopped: %s%s\n' "$C_BAD" "$*" "$C_OFF" >&2; exit 1; }

# show CMD...: prints the command as the class would type it, then runs it.
# "doormat" is shown for the binary's full path.
show() {
  local shown="$*"
  shown=${shown//$DOORMAT/doormat}
  printf '%s$ %s%s\n' "$C_CMD" "$shown" "$C_OFF"
  "$@"
}

# expect_exit N CMD...: runs CMD (shown), and stops the demo unless it exits with N.
expect_exit() {
  local want=$1; shift
  show "$@"
  local got=$?
  if [ "$got" -ne "$want" ]; then die "expected exit code $want, got $got"; fi
  printf '%s(exit code %s)%s\n' "$C_OK" "$got" "$C_OFF"
}

# ------------------------------------------------------------ vault steps

step_vault_intro() {
  title "The vault: encryption with no back door"
  say "doormat encrypts files in the age format, the same format as the 'age' tool." \
      "Each person has a key pair: a public key (the 'recipient', starting age1...)" \
      "that anyone may know, and a secret key (the 'identity') that stays with them." \
      "A file encrypted to Bob's public key opens only with Bob's secret key." \
      "We are working in $WORK."
}

step_vault_keys() {
  title "Step 1: Alice and Bob each make a key pair"
  expect_exit 0 "$DOORMAT" keygen -o alice.key || return
  expect_exit 0 "$DOORMAT" keygen -o bob.key || return
  say "" "The file holds the secret key; only its owner can read it (mode 600):"
  show ls -l bob.key
  say "" "Bob's public key is the line everyone may see. He gives it to Alice:"
  BOB_PUB=$("$DOORMAT" keygen -y bob.key) || die "keygen -y failed"
  ALICE_PUB=$("$DOORMAT" keygen -y alice.key) || die "keygen -y failed"
  show "$DOORMAT" keygen -y bob.key
}

step_vault_encrypt() {
  title "Step 2: Alice encrypts a letter to Bob"
  printf 'Dear Bob,\nThe meeting is moved to Thursday at noon.\nAlice\n' >letter.txt
  show cat letter.txt
  say ""
  expect_exit 0 "$DOORMAT" encrypt -r "$BOB_PUB" -o letter.age letter.txt || return
  say "" "The encrypted file is unreadable. Here it is in its text ('armored') form:"
  "$DOORMAT" encrypt -a -r "$BOB_PUB" -o letter.txt.asc letter.txt || die "encrypt -a failed"
  show cat letter.txt.asc
  say "" "Alice can delete letter.txt now: not even she can read letter.age back," \
      "because she encrypted it to Bob's key, not her own."
}

step_vault_inspect() {
  title "Step 3: anyone can see WHO can open the file, but not what it says"
  expect_exit 0 "$DOORMAT" inspect letter.age || return
  say "" "No key was needed for that. The header lists one 'stanza' per way in:" \
      "here one X25519 stanza, Bob's. An eavesdropper learns how many people can" \
      "open the file and how big it is; nothing more."
}

step_vault_decrypt() {
  title "Step 4: Bob decrypts with his secret key"
  expect_exit 0 "$DOORMAT" decrypt -i bob.key -o letter-for-bob.txt letter.age || return
  show cat letter-for-bob.txt
  cmp -s letter.txt letter-for-bob.txt || die "Bob's copy differs from Alice's letter"
}

step_vault_wrong_key() {
  title "Step 5: anyone else fails, even Alice"
  say "Eve makes her own key and tries. So does Alice, with hers:"
  "$DOORMAT" keygen -o eve.key 2>/dev/null || die "keygen failed"
  expect_exit 4 "$DOORMAT" decrypt -i eve.key letter.age || return
  expect_exit 4 "$DOORMAT" decrypt -i alice.key letter.age || return
  say "" "Exit code 4 means: no identity matched. There is no master key, no vendor" \
      "key, no way around it. That is what 'no exceptional access' looks like."
}

step_vault_tamper() {
  title "Step 6: changing even one byte is detected"
  cp letter.age tampered.age
  local size
  size=$(stat -c %s tampered.age)
  # Flip one bit of a byte near the end: inside the encrypted payload.
  local byte
  byte=$(od -An -tu1 -j $((size - 5)) -N1 tampered.age | tr -d ' ')
  printf "$(printf '\\%03o' $((byte ^ 1)))" |
    dd of=tampered.age bs=1 seek=$((size - 5)) conv=notrunc status=none
  expect_exit 6 "$DOORMAT" decrypt -i bob.key -o forged.txt tampered.age || return
  [ ! -e forged.txt ] || die "a forged output was left behind"
  say "" "Exit code 6: the payload failed authentication, and no output file was" \
      "written. Encryption here protects integrity as well as secrecy."
}

# ------------------------------------------------------------ the sequence
# Later sections append their step function names here.
STEPS=(step_vault_intro step_vault_keys step_vault_encrypt step_vault_inspect
       step_vault_decrypt step_vault_wrong_key step_vault_tamper)

for step in "${STEPS[@]}"; do
  "$step" || die "$step failed"
  pause
done
title "Done"
say "The walkthrough ran in $WORK."
