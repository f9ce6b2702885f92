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

# ------------------------------------------------------------ escrow steps

step_escrow_intro() {
  title "Escrow: the same vault, plus exceptional access"
  say "Now we build what 'lawful access' proposals ask for, as well as it can be built:" \
      "an escrow authority with three agents (the Justice Department, a court, the" \
      "software vendor), any two of whom can recover a file's key, and a court key that" \
      "signs warrants. Every release is an entry in a transparency log that an outside" \
      "witness cosigns and anyone can monitor."
}

step_escrow_init() {
  title "Escrow 1: the authority is created"
  say "First, an outside witness (a newspaper, a civil-liberties group), with its own key:"
  expect_exit 0 "$DOORMAT" escrow witness init --name witness.example/press -o press || return
  expect_exit 0 "$DOORMAT" escrow init --name FBI --agents doj,court,vendor --threshold 2 \
    --witness press/witness.vkey -o fbi || return
  cp fbi/logs/doj/checkpoint doj-empty.checkpoint # the empty log, signed: for later
  say "" "authority.pub is public: every sender's software would carry it."
  show cat fbi/authority.pub
  say "" "The secret keys: one per agent, and the court's. Whoever holds two agent keys" \
      "holds every escrowed file ever written."
  show ls -l fbi fbi/agents
}

step_escrow_encrypt() {
  title "Escrow 2: Alice's letter, now with escrow"
  expect_exit 0 "$DOORMAT" encrypt -r "$BOB_PUB" -r "$ALICE_PUB" --escrow fbi/authority.pub \
    -o escrowed.age letter.txt || return
  expect_exit 0 "$DOORMAT" inspect escrowed.age || return
  say "" "Three more stanzas: one share of the file key for each agent. Bob still opens it," \
      "and his compliant client checks that the escrow is really there:"
  expect_exit 0 "$DOORMAT" decrypt -i bob.key --require-escrow fbi/authority.pub \
    -o escrowed-for-bob.txt escrowed.age || return
  cmp -s letter.txt escrowed-for-bob.txt || die "Bob's copy differs"
  if command -v age >/dev/null; then
    say "" "The standard age tool opens it too, and never notices the escrow:"
    expect_exit 0 age -d -i bob.key escrowed.age || return
  fi
}

step_escrow_warrant() {
  title "Escrow 3: a warrant, and two agents release their shares"
  local fid
  fid=$("$DOORMAT" inspect escrowed.age | sed -n 's/^file id: //p')
  say "The court names the file by its id ($fid), a case and an expiry date:"
  expect_exit 0 "$DOORMAT" escrow warrant --court fbi/court.key --authority fbi/authority.pub \
    --case "SDNY 26-cr-42" --expires 2999-12-31 -o warrant.txt escrowed.age || return
  show cat warrant.txt
  for agent in doj vendor; do
    expect_exit 0 "$DOORMAT" escrow unwrap --authority fbi/authority.pub \
      --agent fbi/agents/$agent.key --warrant warrant.txt --log fbi/logs/$agent \
      --witness press --requester "SA Jones" -o $agent.share escrowed.age || return
  done
  say "" "Each release is now an entry in the agent's log; its checkpoint is signed by the" \
      "agent and cosigned by the witness:"
  show cat fbi/logs/doj/checkpoint
  say "" "Anyone can monitor the logs. Alice, who has her own letter, sees that it was opened:"
  expect_exit 0 "$DOORMAT" escrow monitor --authority fbi/authority.pub --state alice-seen \
    escrowed.age || return
}

step_escrow_recover() {
  title "Escrow 4: one share is not enough; two are"
  expect_exit 4 "$DOORMAT" escrow recover --authority fbi/authority.pub --share doj.share \
    escrowed.age || return
  expect_exit 0 "$DOORMAT" escrow recover --authority fbi/authority.pub --share doj.share \
    --share vendor.share -o recovered.txt escrowed.age || return
  show cat recovered.txt
  cmp -s letter.txt recovered.txt || die "the recovered letter differs"
  say "" "Nobody asked Alice or Bob. The only protection left is procedure."
}

step_escrow_procedure() {
  title "Escrow 5: the procedure, checked by machines"
  say "A warrant that expired is refused (here dated back to January 2020):"
  "$DOORMAT" escrow warrant --court fbi/court.key --authority fbi/authority.pub \
    --case old --issued 2020-01-01 --expires 2020-01-31 -o expired.txt \
    escrowed.age || die "warrant failed"
  expect_exit 8 "$DOORMAT" escrow unwrap --authority fbi/authority.pub \
    --agent fbi/agents/court.key --warrant expired.txt --log fbi/logs/court \
    --witness press -o late.share escrowed.age || return
  say "" "The log verifies; roll it back to hide the releases, and the monitor who kept" \
      "the last checkpoint sees it (exit 9):"
  expect_exit 0 "$DOORMAT" escrow audit verify --authority fbi/authority.pub fbi/logs/doj || return
  cp fbi/logs/doj/checkpoint doj-checkpoint.saved
  cp doj-empty.checkpoint fbi/logs/doj/checkpoint
  expect_exit 9 "$DOORMAT" escrow audit verify --authority fbi/authority.pub \
    --since doj-checkpoint.saved fbi/logs/doj || return
  cp doj-checkpoint.saved fbi/logs/doj/checkpoint
  say "" "But a log sees only what goes through it: whoever holds two agents' keys opens" \
      "a file without a warrant, and no log ever hears of it. The insider lab measures it."
}

step_escrow_rogue() {
  title "Escrow 6: a sender who will not comply"
  say "Alice holds the file key, so she can strip the escrow out and fix the header's" \
      "MAC herself. The file is perfectly valid:"
  expect_exit 0 "$DOORMAT" escrow tamper --strip -i alice.key -o stripped.age escrowed.age || return
  expect_exit 0 "$DOORMAT" decrypt -i bob.key -o stripped-for-bob.txt stripped.age || return
  say "" "Only a client that insists on escrow notices, and refuses to show the letter:"
  expect_exit 7 "$DOORMAT" decrypt -i bob.key --require-escrow fbi/authority.pub \
    -o refused.txt stripped.age || return
  [ ! -e refused.txt ] || die "output left behind"
  say "" "Escrow binds only those who choose to be bound. Everyone else, including" \
      "anyone with something to hide, just uses the plain vault."
}

# ------------------------------------------------------------ escrow over the network

# Services started by the demo, stopped at the end and on Ctrl-C.
DEMO_PIDS=()
demo_stop_services() {
  local p n
  for p in "${DEMO_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
  for p in "${DEMO_PIDS[@]}"; do
    n=0
    while kill -0 "$p" 2>/dev/null && [ $n -lt 50 ]; do sleep 0.1; n=$((n + 1)); done
    kill -KILL "$p" 2>/dev/null
    wait "$p" 2>/dev/null
  done
  DEMO_PIDS=()
}

# demo_start NAME CMD...: starts a service in the background (log in NAME.log,
# port in NAME.port); sets $demo_port.
demo_start() {
  local name=$1 n=0; shift
  "$@" --listen 127.0.0.1:0 --port-file "$name.port" --log-file "$name.log" \
    >>"$name.log" 2>&1 </dev/null &
  DEMO_PIDS+=("$!")
  while [ ! -s "$name.port" ] && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
  [ -s "$name.port" ] || die "$name did not start: $(tail -1 "$name.log")"
  demo_port=$(cat "$name.port")
}

step_escrow_network() {
  title "Escrow 7: the authority as running services"
  trap 'demo_stop_services; if [ -z "$DIR" ]; then rm -rf "$WORK"; fi' EXIT
  trap 'exit 130' INT TERM
  say "Real proposals end in an online system: agents that answer warrant requests" \
      "over the network, log every release, and have each log checkpoint cosigned by" \
      "an independent witness. Three agents and one witness, on this computer:"
  expect_exit 0 "$DOORMAT" escrow witness init --name witness.example/w1 -o wit >/dev/null || return
  expect_exit 0 "$DOORMAT" escrow init --name FBI-online --agents doj,court,vendor --threshold 2 \
    --witness wit/witness.vkey -o online || return
  local pin a
  demo_start wit "$DOORMAT" escrow witness serve --key wit/witness.key \
    --trust online/authority.pub --state wit/state
  pin=$(grep -o 'sha256//[A-Za-z0-9+/=]*' wit.log | head -1)
  printf 'url: witness.example/w1 https://127.0.0.1:%s\ntls: witness.example/w1 %s\n' \
    "$demo_port" "$pin" >>online/authority.pub
  for a in doj court vendor; do
    demo_start "$a" "$DOORMAT" escrow serve --authority online/authority.pub \
      --agent "online/agents/$a.key" --log "online/logs/$a"
    echo "url: $a https://127.0.0.1:$demo_port" >>online/authority.pub
  done
  say "" "authority.pub now says where each one answers, and pins its TLS key:"
  show grep -E '^(url|tls):' online/authority.pub
  expect_exit 0 "$DOORMAT" encrypt -r "$BOB_PUB" --escrow online/authority.pub -o online.age \
    letter.txt || return
  expect_exit 0 "$DOORMAT" escrow warrant --court online/court.key \
    --authority online/authority.pub --case "SDNY 26-cr-43" --expires 2999-12-31 \
    -o online-warrant.txt online.age || return
  say "" "The investigator asks over HTTPS; each share comes sealed to her key, with a" \
      "receipt proving its release is in the agent's log and cosigned by the witness:"
  "$DOORMAT" keygen -o investigator.key 2>/dev/null || die "keygen failed"
  expect_exit 0 "$DOORMAT" escrow request --authority online/authority.pub \
    --warrant online-warrant.txt --identity investigator.key -o online-recovered.txt \
    online.age || return
  cmp -s letter.txt online-recovered.txt || die "the recovered letter differs"
  say "" "Alice (or anyone) reads the agents' logs over HTTPS and sees her letter opened:"
  expect_exit 0 "$DOORMAT" escrow monitor --authority online/authority.pub --logs https \
    online.age || return
  say "" "One line per request in each service's log:"
  show tail -n 2 doj.log
  demo_stop_services
  say "" "Everything is stopped. The log catches an access after the fact; it does not" \
      "stop one, and the agents' keys still open every file ever escrowed."
}

# ------------------------------------------------------------ lab steps

step_labs_intro() {
  title "The labs: how exceptional access fails, measured"
  say "Each lab does the real thing with the same vault and escrow code, on this" \
      "computer, and prints what it measured. Figures that were not run for real are" \
      "extrapolated from a rate measured in the same run, and say so."
}

step_lab_blast() {
  title "Lab 1: the blast radius of a stolen key"
  expect_exit 0 "$DOORMAT" lab blast-radius --dir lab-blast || return
}

step_lab_leaf() {
  title "Lab 2: Clipper's LEAF, forged (Blaze, 1994)"
  expect_exit 0 "$DOORMAT" lab leaf-forge --dir lab-leaf || return
  say "" "The forged file really passes Bob's compliant client:"
  expect_exit 0 "$DOORMAT" decrypt -i lab-leaf/user.key --require-escrow \
    lab-leaf/authority/authority.pub --leaf-bits 16 lab-leaf/forged-leaf-16.age || return
}

step_lab_strip() {
  title "Lab 3: stripping the escrow"
  expect_exit 0 "$DOORMAT" lab strip --dir lab-strip || return
}

step_lab_crumple() {
  title "Lab 4: crumple zones, priced"
  expect_exit 0 "$DOORMAT" lab crumple --dir lab-crumple || return
}

step_lab_passcode() {
  title "Lab 5: the San Bernardino passcode"
  expect_exit 0 "$DOORMAT" lab passcode --dir lab-passcode || return
}

# ------------------------------------------------------------ the access system

step_access_intro() {
  title "The access system: who can swap a key, add a reader, or hold a master key"
  say "The labs so far broke exceptional access in its cryptography. Since 2016 the" \
      "debate has turned on how it fails as a system: who can swap or add a key, what" \
      "an insider can do unseen, and whether a vendor-held key is any different."
}

step_lab_subst() {
  title "Lab 6: the swapped authority (PGP's ADK flaw, 2000)"
  expect_exit 0 "$DOORMAT" lab substitution --dir lab-subst || return
  say "" "Bob's compliant client, given the genuine authority, refuses the file:"
  expect_exit 7 "$DOORMAT" decrypt -i lab-subst/receiver.key --require-escrow \
    lab-subst/genuine/authority.pub -o /dev/null lab-subst/files/message-0001.age || return
}

step_lab_ghost() {
  title "Lab 7: the ghost user (GCHQ, 2018)"
  expect_exit 0 "$DOORMAT" lab ghost --dir lab-ghost || return
  say "" "What the receiver sees of a ghosted file is a count, and nothing more:"
  expect_exit 0 "$DOORMAT" inspect lab-ghost/ghosted/message-0001.age || return
}

step_lab_clear() {
  title "Lab 8: Ozzie's CLEAR, one vendor key for every device"
  expect_exit 0 "$DOORMAT" lab clear --dir lab-clear || return
}

step_lab_retro() {
  title "Lab 9: escrow after the fact"
  expect_exit 0 "$DOORMAT" lab retroactive --dir lab-retro || return
  say "" "The payload of an archived file, after its header was rewritten, is the same:"
  local old new
  old=$("$DOORMAT" inspect --json lab-retro/archive/file-0001.age | sed -n 's/.*"payload_bytes":\([0-9]*\).*/\1/p')
  new=$("$DOORMAT" inspect --json lab-retro/escrowed/file-0001.age | sed -n 's/.*"payload_bytes":\([0-9]*\).*/\1/p')
  show cmp <(tail -c "$old" lab-retro/archive/file-0001.age) <(tail -c "$new" lab-retro/escrowed/file-0001.age) ||
    die "the payload changed"
  say "(no difference: only the header was rewritten)"
}

step_lab_insider() {
  title "Lab 10: the insider, and what the log sees"
  expect_exit 0 "$DOORMAT" lab insider --dir lab-insider || return
  say "" "The owner's monitor lists the releases made through the procedure, and only those:"
  expect_exit 0 "$DOORMAT" escrow monitor --authority lab-insider/authority-2of3/authority.pub \
    --logs lab-insider/authority-2of3/logs || return
}

step_lab_volume() {
  title "Lab 11: request volume, against the FBI's count"
  expect_exit 0 "$DOORMAT" lab volume --dir lab-volume || return
}

# ------------------------------------------------------------ the sequence
# Later sections append their step function names here.
STEPS=(step_vault_intro step_vault_keys step_vault_encrypt step_vault_inspect
       step_vault_decrypt step_vault_wrong_key step_vault_tamper)
STEPS+=(step_escrow_intro step_escrow_init step_escrow_encrypt step_escrow_warrant
       step_escrow_recover step_escrow_procedure step_escrow_rogue)
STEPS+=(step_escrow_network)
STEPS+=(step_labs_intro step_lab_blast step_lab_leaf step_lab_strip step_lab_crumple
       step_lab_passcode)
STEPS+=(step_access_intro step_lab_subst step_lab_ghost step_lab_clear step_lab_retro
       step_lab_insider step_lab_volume)

# ------------------------------------------------------------ the briefing
# Always the last step, after every section's STEPS: the same story, measured on
# this computer and written up for readers who never open a terminal. Kept after
# the walkthrough: DIR/briefing with --dir, else build/briefing in the source tree.
step_briefing() {
  title "Last step: the policy briefing"
  local out=$ROOT/build/briefing
  [ -n "$DIR" ] && out=$WORK/briefing
  say "doormat now measures what we just saw (speed, stolen keys, forged escrow fields," \
      "crumple zones, passcodes) and writes it up as a web page with charts."
  expect_exit 0 "$DOORMAT" report --quick -o "$out" || return
  [ -s "$out/briefing.html" ] || die "no briefing was written"
  [ -s "$out/briefing.pdf" ] || die "no briefing.pdf was written (make report-deps installs Chromium)"
  say "" "Read $out/briefing.pdf (A4, numbered pages), or open $out/briefing.html in a web browser." \
      "Every number in it comes from $out/data/figures.json, the median of several runs of each measurement."
}

for step in "${STEPS[@]}" step_briefing; do
  "$step" || die "$step failed"
  pause
done
title "Done"
say "The walkthrough ran in $WORK."
