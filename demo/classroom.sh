#!/usr/bin/env bash
# The classroom walkthrough: doormat's vault, escrow and labs, step by step, in plain words.
#
#   demo/classroom.sh [--yes] [--dir DIR] [--script FILE] [--handout DIR] [--port-base N]
#
#   --yes           run straight through (no pauses, no colour); also when not on a terminal
#   --dir DIR       work in DIR and keep every file the class saw (else a temporary
#                   directory, removed at the end)
#   --script FILE   also write the whole walkthrough as one runnable, commented script
#                   (the commands, the "why it matters" as comments, the pauses as `read`)
#   --handout DIR   where handout.html and handout.pdf go (default: DIR with --dir, else
#                   build/handout in the source tree)
#   --port-base N   the services listen on 127.0.0.1 ports N, N+1, ... (default: free ports)
#
# Every step prints the exact command that runs, shell-quoted so that it pastes and
# runs, in the order the class would type it: every file the class sees is made by a
# shown command. Every step checks what it shows: if the tool misbehaves, the demo stops
# with exit 1 rather than narrate something that did not happen.
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
DOORMAT=${DOORMAT:-$ROOT/build/doormat}

YES=0
DIR=""
SCRIPT=""
HANDOUT=""
PORT_BASE=""
usage() {
  sed -n '2,19s/^# \{0,1\}//p' "$0"
}
need_arg() { [ "$2" -ge 2 ] || { echo "classroom.sh: $1 needs a value (see --help)" >&2; exit 2; }; }
while [ $# -gt 0 ]; do
  case $1 in
    -y|--yes) YES=1 ;;
    --dir) need_arg "$1" $#; DIR=$2; shift ;;
    --dir=*) DIR=${1#--dir=} ;;
    --script) need_arg "$1" $#; SCRIPT=$2; shift ;;
    --script=*) SCRIPT=${1#--script=} ;;
    --handout) need_arg "$1" $#; HANDOUT=$2; shift ;;
    --handout=*) HANDOUT=${1#--handout=} ;;
    --port-base) need_arg "$1" $#; PORT_BASE=$2; shift ;;
    --port-base=*) PORT_BASE=${1#--port-base=} ;;
    -h|--help) usage; exit 0 ;;
    *) echo "classroom.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
if [ -n "$PORT_BASE" ]; then
  case $PORT_BASE in
    '' | *[!0-9]*) echo "classroom.sh: --port-base wants a port number from 1024 to 65000" >&2; exit 2 ;;
  esac
  if [ "$PORT_BASE" -lt 1024 ] || [ "$PORT_BASE" -gt 65000 ]; then
    echo "classroom.sh: --port-base wants a port number from 1024 to 65000" >&2; exit 2
  fi
fi

if [ ! -x "$DOORMAT" ]; then
  echo "classroom.sh: $DOORMAT not found; run make first" >&2
  exit 1
fi
# Paths given relative to where the demo was started.
abspath() { case $1 in /*) printf '%s' "$1" ;; *) printf '%s/%s' "$PWD" "$1" ;; esac; }
[ -z "$SCRIPT" ] || SCRIPT=$(abspath "$SCRIPT")
[ -z "$HANDOUT" ] || HANDOUT=$(abspath "$HANDOUT")

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
fi
[ -n "$HANDOUT" ] || { if [ -n "$DIR" ]; then HANDOUT=$WORK; else HANDOUT=$ROOT/build/handout; fi; }
STATE=$(mktemp -d "${TMPDIR:-/tmp}/doormat-classroom-state.XXXXXX") || exit 1
cleanup() {
  local p
  for p in $(jobs -p); do kill -TERM "$p" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$STATE"
  [ -n "$DIR" ] || rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
cd "$WORK" || exit 1
umask 077

# The commands run as the class types them: `doormat` is the binary under test,
# found on PATH (a link, not a function: a service started with `&` is then the
# doormat process itself, which `kill` stops).
mkdir -p "$STATE/bin" && ln -s "$DOORMAT" "$STATE/bin/doormat" || exit 1
PATH=$STATE/bin:$PATH

# ------------------------------------------------------------ the lesson script
# With --script, every shown command is written to the lesson script, the
# narration as comments and the pauses as `read`; it is built in $STATE and
# moved into place only when the walkthrough succeeded.
LESSON=$STATE/lesson.sh
cat >"$LESSON" <<'EOF'
#!/usr/bin/env bash
# doormat's classroom walkthrough, as one script (written by demo/classroom.sh --script).
# Run it in an empty directory: `bash lesson.sh`. It uses `doormat` from PATH, or the
# binary named by $DOORMAT; on a terminal it pauses between steps. Each command is
# followed by `check N`: the lesson stops if the command's exit code is not N.
set -u
if [ -n "${DOORMAT:-}" ]; then
  LESSON_BIN=$(mktemp -d) && ln -s "$DOORMAT" "$LESSON_BIN/doormat" && PATH=$LESSON_BIN:$PATH || exit 1
fi
check() {
  local rc=$?
  [ "$rc" -eq "$1" ] || { echo "lesson: expected exit code $1, got $rc" >&2; exit 1; }
}
pause() { if [ -t 0 ]; then read -r -p '[press Enter to go on] ' _ || true; fi; }
# The services started below are stopped when the lesson ends, even when it fails.
trap 'kill $(jobs -p) 2>/dev/null; wait; rm -rf "${LESSON_BIN:-}"' EXIT
umask 077
# ---- the lesson
EOF
lesson() { printf '%s\n' "$@" >>"$LESSON"; }
# shq WORD: WORD in single quotes, as a shell reads it back.
shq() { local q="'\\''"; printf "'%s'" "${1//\'/$q}"; }

# ------------------------------------------------------------ the handout
# Each step's number, title, commands with their output trimmed to what matters,
# its point and the question to ask the class, as HTML (escaped here).
HANDOUT_BODY=$STATE/handout-body.html
: >"$HANDOUT_BODY"
html_escape() { sed -e 's/&/\&amp;/g' -e 's/</\&lt;/g' -e 's/>/\&gt;/g' -e 's/"/\&quot;/g'; }
handout() { printf '%s\n' "$@" >>"$HANDOUT_BODY"; }
STEP_NO=0
STEP_OPEN=0

# ------------------------------------------------------------ narration helpers

title() {
  printf '\n%s== %s ==%s\n' "$C_TITLE" "$*" "$C_OFF"
  lesson "" "# == $* ==" "echo $(shq "== $* ==")"
  [ "$STEP_OPEN" -eq 0 ] || handout "</section>"
  STEP_NO=$((STEP_NO + 1)); STEP_OPEN=1
  # The handout numbers every step itself: "Step 1:", "Escrow 1:", "Lab 1:" go.
  handout "<section class=\"step\"><h2><span class=\"no\">$STEP_NO</span> $(printf '%s' "$*" |
    sed -E 's/^(Step|Escrow|Lab) [0-9]+: //' | html_escape)</h2>"
}
say() {
  printf '%s\n' "$@"
  local line
  for line in "$@"; do if [ -n "$line" ]; then lesson "# $line"; fi; done
}
# point SENTENCE: why the step matters, in one sentence (screen, script, handout).
point() {
  printf '\n%sWhy it matters:%s %s\n' "$C_OK" "$C_OFF" "$1"
  lesson "# Why it matters: $1"
  handout "<p class=\"point\"><b>Why it matters.</b> $(printf '%s' "$1" | html_escape)</p>"
}
# ask QUESTION: the question for the class (handout only).
ask() {
  [ -n "$1" ] || return 0
  handout "<p class=\"ask\"><b>Ask the class.</b> $(printf '%s' "$1" | html_escape)</p>"
}
# lab_question NAME: the "Ask the class" paragraph of lab NAME in docs/labs.md.
lab_question() {
  awk -v lab="### $1:" '
    /^## JSON output/ { exit }
    index($0, lab) == 1 { insec = 1; next }
    insec && /^###? / { exit }
    insec && /^\*Ask the class\.\*/ { inq = 1; sub(/^\*Ask the class\.\* */, "") }
    inq && /^$/ { exit }
    inq { printf "%s%s", sep, $0; sep = " " }
  ' "$ROOT/docs/labs.md"
}
pause() {
  lesson "pause"
  if [ "$INTERACTIVE" -eq 1 ]; then
    printf '\n[press Enter to go on] '
    read -r _ || true
  fi
}
die() { printf '%sdemo stopped: %s%s\n' "$C_BAD" "$*" "$C_OFF" >&2; exit 1; }

# run WANT CMD: prints the shell command CMD exactly as it runs (it pastes into a
# shell as it is), runs it, shows its output, and stops the demo unless it exits
# with WANT ("-": any exit code). The command goes to the lesson script, followed
# by `check WANT`, and to the handout with its output trimmed to 12 lines.
run() {
  local want=$1 cmd=$2 rc out=$STATE/out
  printf '%s$ %s%s\n' "$C_CMD" "$cmd" "$C_OFF"
  printf '%s\n' "$cmd" >>"$STATE/commands"
  eval "$cmd" >"$out" 2>&1 </dev/null
  rc=$?
  cat "$out"
  lesson "$cmd"
  [ "$want" = "-" ] || lesson "check $want"
  handout "<pre class=\"cmd\">\$ $(printf '%s' "$cmd" | html_escape)</pre>"
  if [ -s "$out" ]; then
    local lines
    lines=$(wc -l <"$out")
    { printf '<pre class="out">'
      head -n 12 "$out" | cut -c1-100 | html_escape
      [ "$lines" -le 12 ] || printf '[... %s more lines]\n' $((lines - 12))
      printf '</pre>\n'; } >>"$HANDOUT_BODY"
  fi
  if [ "$want" != "-" ]; then
    if [ "$rc" -ne "$want" ]; then die "expected exit code $want, got $rc"; fi
    [ "$rc" -eq 0 ] || printf '%s(exit code %s, as expected)%s\n' "$C_OK" "$rc" "$C_OFF"
  fi
  return 0
}

# listen NAME INDEX: the --listen/--port-file flags of a service, as shown.
listen() {
  if [ -n "$PORT_BASE" ]; then
    printf -- '--listen 127.0.0.1:%s --port-file %s.port' $((PORT_BASE + $2)) "$1"
  else
    printf -- '--listen 127.0.0.1:0 --port-file %s.port' "$1"
  fi
}

# lab_ports OFFSET: a lab's --port-base flag, as shown (none with free ports).
lab_ports() {
  [ -z "$PORT_BASE" ] || printf -- ' --port-base %s' $((PORT_BASE + $1))
}

# ------------------------------------------------------------ vault steps

step_vault_intro() {
  title "The vault: encryption with no back door"
  say "doormat encrypts files in the age format, the same format as the 'age' tool." \
      "Each person has a key pair: a public key (the 'recipient', starting age1...)" \
      "that anyone may know, and a secret key (the 'identity') that stays with them." \
      "A file encrypted to Bob's public key opens only with Bob's secret key." \
      "Every command below can be typed as it is shown, in the same order."
  point "Strong encryption is an everyday tool: a key pair and one command."
  ask "Who should be able to read a letter sealed to Bob: Bob alone, or Bob and someone else?"
}

step_vault_keys() {
  title "Step 1: Alice and Bob each make a key pair"
  run 0 'doormat keygen -o alice.key'
  run 0 'doormat keygen -o bob.key'
  say "" "The file holds the secret key; only its owner can read it (mode 600):"
  run 0 'ls -l bob.key'
  say "" "Bob's public key is the line everyone may see. He gives it to Alice:"
  run 0 'doormat keygen -y bob.key'
  run 0 'BOB_PUB=$(doormat keygen -y bob.key)'
  run 0 'ALICE_PUB=$(doormat keygen -y alice.key)'
  point "The secret half never leaves its owner; only the public half is shared."
  ask "What happens to Bob's letters if he loses bob.key? And if someone copies it?"
}

step_vault_encrypt() {
  title "Step 2: Alice encrypts a letter to Bob"
  run 0 "printf 'Dear Bob,\\nThe meeting is moved to Thursday at noon.\\nAlice\\n' > letter.txt"
  run 0 'cat letter.txt'
  run 0 'doormat encrypt -r "$BOB_PUB" -o letter.age letter.txt'
  say "" "The encrypted file is unreadable. Here it is in its text ('armored') form:"
  run 0 'doormat encrypt -a -r "$BOB_PUB" -o letter.txt.asc letter.txt'
  run 0 'cat letter.txt.asc'
  say "" "Alice can delete letter.txt now: not even she can read letter.age back," \
      "because she encrypted it to Bob's key, not her own."
  point "Once sealed to Bob's key, the letter is readable by Bob alone, not even by its writer."
  ask "Alice encrypted to Bob only. What would she change to keep a copy she can read?"
}

step_vault_inspect() {
  title "Step 3: anyone can see WHO can open the file, but not what it says"
  run 0 'doormat inspect letter.age'
  say "" "No key was needed for that. The header lists one 'stanza' per way in:" \
      "here one X25519 stanza, Bob's. An eavesdropper learns how many people can" \
      "open the file and how big it is; nothing more."
  point "The header shows how many ways in a file has: an added way in is visible to anyone who looks."
  ask "What does an eavesdropper learn from the header, and what not?"
}

step_vault_decrypt() {
  title "Step 4: Bob decrypts with his secret key"
  run 0 'doormat decrypt -i bob.key -o letter-for-bob.txt letter.age'
  run 0 'cat letter-for-bob.txt'
  run 0 'cmp letter.txt letter-for-bob.txt'
  point "The right key gives back exactly the letter that was written."
  ask "Bob's key opened the file. Which other key in this room could?"
}

step_vault_wrong_key() {
  title "Step 5: anyone else fails, even Alice"
  say "Eve makes her own key and tries. So does Alice, with hers:"
  run 0 'doormat keygen -o eve.key'
  run 4 'doormat decrypt -i eve.key letter.age'
  run 4 'doormat decrypt -i alice.key letter.age'
  say "" "Exit code 4 means: no identity matched. There is no master key, no vendor" \
      "key, no way around it."
  point "This is what 'no exceptional access' looks like: no master key, no vendor key, no way around it."
  ask "Is a file that nobody else can open a problem, a protection, or both?"
}

step_vault_tamper() {
  title "Step 6: changing even one bit is detected"
  say "A copy of the letter, with one bit flipped near its end, inside the encrypted payload:"
  run 0 'cp letter.age tampered.age'
  run 0 "perl -0777 -pi -e 'substr(\$_, -5, 1) ^= \"\\x01\"' tampered.age"
  run 1 'cmp letter.age tampered.age'
  run 6 'doormat decrypt -i bob.key -o forged.txt tampered.age'
  run 2 'ls forged.txt'
  say "" "Exit code 6: the payload failed authentication, and no output file was written."
  point "Encryption here protects integrity as well as secrecy: a changed file is refused, never half-shown."
  ask "Why is it important that no partial output was written?"
}

# ------------------------------------------------------------ escrow steps

step_escrow_intro() {
  title "Escrow: the same vault, plus exceptional access"
  say "Now we build what 'lawful access' proposals ask for, as well as it can be built:" \
      "an escrow authority with three agents (the Justice Department, a court, the" \
      "software vendor), any two of whom can recover a file's key, and a court key that" \
      "signs warrants. Every release is an entry in a transparency log that an outside" \
      "witness cosigns and anyone can monitor."
  point "Exceptional access done as well as its best proponents would do it: split keys, warrants, a public log."
  ask "Who would you trust to hold one of the three agent keys?"
}

step_escrow_init() {
  title "Escrow 1: the authority is created"
  say "First, an outside witness (a newspaper, a civil-liberties group), with its own key:"
  run 0 'doormat escrow witness init --name witness.example/press -o press'
  run 0 'doormat escrow init --name FBI --agents doj,court,vendor --threshold 2 --witness press/witness.vkey -o fbi'
  say "" "A copy of the DOJ agent's empty log, signed: a later step rolls the log back to it."
  run 0 'cp fbi/logs/doj/checkpoint doj-empty.checkpoint'
  say "" "authority.pub is public: every sender's software would carry it."
  run 0 'cat fbi/authority.pub'
  say "" "The secret keys: one per agent, and the court's. Whoever holds two agent keys" \
      "holds every escrowed file ever written."
  run 0 'ls -l fbi fbi/agents'
  point "A handful of key files now stand between every escrowed file and whoever holds them."
  ask "Where would these key files live, and who could read them?"
}

step_escrow_encrypt() {
  title "Escrow 2: Alice's letter, now with escrow"
  run 0 'doormat encrypt -r "$BOB_PUB" -r "$ALICE_PUB" --escrow fbi/authority.pub -o escrowed.age letter.txt'
  run 0 'doormat inspect escrowed.age'
  say "" "Three more stanzas: one share of the file key for each agent. Bob still opens it," \
      "and his compliant client checks that the escrow is really there:"
  run 0 'doormat decrypt -i bob.key --require-escrow fbi/authority.pub -o escrowed-for-bob.txt escrowed.age'
  run 0 'cmp letter.txt escrowed-for-bob.txt'
  if command -v age >/dev/null; then
    say "" "The standard age tool opens it too, and never notices the escrow:"
    run 0 'age -d -i bob.key escrowed.age'
  fi
  point "Escrow is one more recipient in every file: the file works as before, with more ways in."
  ask "Bob's software checked the escrow. Who decides what software Bob runs?"
}

step_escrow_warrant() {
  title "Escrow 3: a warrant, and two agents release their shares"
  say "The court names the file by its id, a case and an expiry date:"
  run 0 'doormat inspect escrowed.age | grep "escrow file id"'
  run 0 'doormat escrow warrant --court fbi/court.key --authority fbi/authority.pub --case "SDNY 26-cr-42" --expires 2999-12-31 -o warrant.txt escrowed.age'
  run 0 'cat warrant.txt'
  say "" "The DOJ and the vendor each release their share to agent Jones:"
  run 0 'doormat escrow unwrap --authority fbi/authority.pub --agent fbi/agents/doj.key --warrant warrant.txt --log fbi/logs/doj --witness press --requester "SA Jones" -o doj.share escrowed.age'
  run 0 'doormat escrow unwrap --authority fbi/authority.pub --agent fbi/agents/vendor.key --warrant warrant.txt --log fbi/logs/vendor --witness press --requester "SA Jones" -o vendor.share escrowed.age'
  say "" "Each release is now an entry in the agent's log; its checkpoint is signed by the" \
      "agent and cosigned by the witness:"
  run 0 'cat fbi/logs/doj/checkpoint'
  say "" "Anyone can monitor the logs. Alice, who has her own letter, sees that it was opened:"
  run 0 'doormat escrow monitor --authority fbi/authority.pub --state alice-seen escrowed.age'
  point "Every release leaves a signed, cosigned entry that the file's owner can find."
  ask "Alice learns her letter was opened. When should she learn it: now, or after the case?"
}

step_escrow_recover() {
  title "Escrow 4: one share is not enough; two are"
  run 4 'doormat escrow recover --authority fbi/authority.pub --share doj.share escrowed.age'
  run 0 'doormat escrow recover --authority fbi/authority.pub --share doj.share --share vendor.share -o recovered.txt escrowed.age'
  run 0 'cat recovered.txt'
  run 0 'cmp letter.txt recovered.txt'
  say "" "Nobody asked Alice or Bob. The only protection left is procedure."
  point "Two shares open the letter without its writer or its reader: from here on only procedure protects it."
  ask "What stops two agents from doing this without a warrant?"
}

step_escrow_procedure() {
  title "Escrow 5: the procedure, checked by machines"
  say "A warrant that expired is refused (here dated back to January 2020):"
  run 0 'doormat escrow warrant --court fbi/court.key --authority fbi/authority.pub --case old --issued 2020-01-01 --expires 2020-01-31 -o expired.txt escrowed.age'
  run 8 'doormat escrow unwrap --authority fbi/authority.pub --agent fbi/agents/court.key --warrant expired.txt --log fbi/logs/court --witness press -o late.share escrowed.age'
  say "" "The log verifies; roll it back to hide the releases, and the monitor who kept" \
      "the last checkpoint sees it (exit 9):"
  run 0 'doormat escrow audit verify --authority fbi/authority.pub fbi/logs/doj'
  run 0 'cp fbi/logs/doj/checkpoint doj-checkpoint.saved'
  run 0 'cp doj-empty.checkpoint fbi/logs/doj/checkpoint'
  run 9 'doormat escrow audit verify --authority fbi/authority.pub --since doj-checkpoint.saved fbi/logs/doj'
  run 0 'cp doj-checkpoint.saved fbi/logs/doj/checkpoint'
  say "" "But a log sees only what goes through it: whoever holds two agents' keys opens" \
      "a file without a warrant, and no log ever hears of it. The insider lab measures it."
  point "Machines check the procedure, but only for the accesses that go through it."
  ask "Who keeps the old checkpoint that caught the rollback, and why would they?"
}

step_escrow_rogue() {
  title "Escrow 6: a sender who will not comply"
  say "Alice holds the file key, so she can strip the escrow out and fix the header's" \
      "MAC herself. The file is perfectly valid:"
  run 0 'doormat escrow tamper --strip -i alice.key -o stripped.age escrowed.age'
  run 0 'doormat decrypt -i bob.key -o stripped-for-bob.txt stripped.age'
  say "" "Only a client that insists on escrow notices, and refuses to show the letter:"
  run 7 'doormat decrypt -i bob.key --require-escrow fbi/authority.pub -o refused.txt stripped.age'
  run 2 'ls refused.txt'
  say "" "Everyone else, including anyone with something to hide, just uses the plain vault."
  point "Escrow binds only those who choose to be bound."
  ask "Who runs the compliant client: the sender, the recipient, or nobody?"
}

# ------------------------------------------------------------ escrow over the network

# wait_port NAME: the shown wait for a service's port file (at most 30 s).
wait_port() {
  run 0 "timeout 30 sh -c 'until [ -s $1.port ]; do sleep 0.1; done'"
}

step_escrow_network() {
  title "Escrow 7: the authority as running services"
  say "Real proposals end in an online system: agents that answer warrant requests" \
      "over the network, log every release, and have each log checkpoint cosigned by" \
      "an independent witness. Three agents and one witness, on this computer."
  say "" "The witness and the authority are created, then the witness starts; each" \
      "service writes its port to NAME.port once it listens:"
  run 0 'doormat escrow witness init --name witness.example/w1 -o wit'
  run 0 'doormat escrow init --name FBI-online --agents doj,court,vendor --threshold 2 --witness wit/witness.vkey -o online'
  run 0 "doormat escrow witness serve --key wit/witness.key --trust online/authority.pub --state wit/state $(listen wit 0) --log-file wit.log >>wit.log 2>&1 &"
  wait_port wit
  say "" "The witness printed the pin of its TLS key; its address and that pin go into" \
      "authority.pub, outside the part the authority's id covers:"
  run 0 "WIT_PIN=\$(grep -o 'sha256//[A-Za-z0-9+/=]*' wit.log | head -1)"
  run 0 'doormat escrow authority endpoint --authority online/authority.pub --url "witness.example/w1=https://127.0.0.1:$(cat wit.port)" --tls "witness.example/w1=$WIT_PIN"'
  say "" "The three agents start, and their addresses go into authority.pub too:"
  local a i=1
  for a in doj court vendor; do
    run 0 "doormat escrow serve --authority online/authority.pub --agent online/agents/$a.key --log online/logs/$a $(listen "$a" $i) --log-file $a.log >>$a.log 2>&1 &"
    wait_port "$a"
    run 0 "doormat escrow authority endpoint --authority online/authority.pub --url \"$a=https://127.0.0.1:\$(cat $a.port)\""
    i=$((i + 1))
  done
  say "" "authority.pub now says where each one answers, and pins the witness's TLS key:"
  run 0 "grep -E '^(url|tls):' online/authority.pub"
  run 0 'doormat encrypt -r "$BOB_PUB" --escrow online/authority.pub -o online.age letter.txt'
  run 0 'doormat escrow warrant --court online/court.key --authority online/authority.pub --case "SDNY 26-cr-43" --expires 2999-12-31 -o online-warrant.txt online.age'
  say "" "The investigator asks over HTTPS; each share comes sealed to her key, with a" \
      "receipt proving its release is in the agent's log and cosigned by the witness:"
  run 0 'doormat keygen -o investigator.key'
  run 0 'doormat escrow request --authority online/authority.pub --warrant online-warrant.txt --identity investigator.key -o online-recovered.txt online.age'
  run 0 'cmp letter.txt online-recovered.txt'
  say "" "Alice (or anyone) reads the agents' logs over HTTPS and sees her letter opened:"
  run 0 'doormat escrow monitor --authority online/authority.pub --logs https online.age'
  say "" "One line per request in each service's log:"
  run 0 'tail -n 2 doj.log'
  say "" "The services are stopped:"
  run 0 'kill $(jobs -p); wait'
  say "" "The log catches an access after the fact; it does not stop one, and the agents'" \
      "keys still open every file ever escrowed."
  point "Online, every release is logged and cosigned, yet the agents' keys still open every file ever escrowed."
  ask "If the witness's computer were switched off, should releases stop or go on unwitnessed?"
}

# ------------------------------------------------------------ lab steps

step_labs_intro() {
  title "The labs: how exceptional access fails, measured"
  say "Each lab does the real thing with the same vault and escrow code, on this" \
      "computer, and prints what it measured. Figures that were not run for real are" \
      "extrapolated from a rate measured in the same run, and say so."
  point "Each failure of exceptional access below is measured here, not asserted."
  ask ""
}

step_lab_blast() {
  title "Lab 1: the blast radius of a stolen key"
  run 0 'doormat lab blast-radius --dir lab-blast'
  point "One stolen set of agent keys opens every escrowed file; one stolen user key opens one user's."
  ask "$(lab_question blast-radius)"
}

step_lab_leaf() {
  title "Lab 2: Clipper's LEAF, forged (Blaze, 1994)"
  run 0 'doormat lab leaf-forge --dir lab-leaf'
  say "" "The forged file really passes Bob's compliant client:"
  run 0 'doormat decrypt -i lab-leaf/user.key --require-escrow lab-leaf/authority/authority.pub --leaf-bits 16 lab-leaf/forged-leaf-16.age'
  point "A short check on an escrow field can be forged by trial, as Blaze showed for Clipper in 1994."
  ask "$(lab_question leaf-forge)"
}

step_lab_strip() {
  title "Lab 3: stripping the escrow"
  run 0 'doormat lab strip --dir lab-strip'
  point "Removing the escrow leaves a valid file that every ordinary client opens."
  ask "$(lab_question strip)"
}

step_lab_crumple() {
  title "Lab 4: crumple zones, priced"
  run 0 'doormat lab crumple --dir lab-crumple'
  point "Crumple zones make each recovery cost real work: cheap enough for one case is cheap at scale too."
  ask "$(lab_question crumple)"
}

step_lab_passcode() {
  title "Lab 5: the San Bernardino passcode"
  run 0 'doormat lab passcode --dir lab-passcode'
  point "A short passcode is protected by the retry limit, not by the cryptography."
  ask "$(lab_question passcode)"
}

# ------------------------------------------------------------ the access system

step_access_intro() {
  title "The access system: who can swap a key, add a reader, or hold a master key"
  say "The labs so far broke exceptional access in its cryptography. Since 2016 the" \
      "debate has turned on how it fails as a system: who can swap or add a key, what" \
      "an insider can do unseen, and whether a vendor-held key is any different."
  point "The system around the keys fails in ways the cryptography cannot prevent."
  ask ""
}

step_lab_subst() {
  title "Lab 6: the swapped authority (PGP's ADK flaw, 2000)"
  run 0 'doormat lab substitution --dir lab-subst'
  say "" "Bob's compliant client, given the genuine authority, refuses the file:"
  run 7 'doormat decrypt -i lab-subst/receiver.key --require-escrow lab-subst/genuine/authority.pub -o /dev/null lab-subst/files/message-0001.age'
  point "Whoever can swap the authority's key reads the files, unless every client checks it."
  ask "$(lab_question substitution)"
}

step_lab_ghost() {
  title "Lab 7: the ghost user (GCHQ, 2018)"
  run 0 'doormat lab ghost --dir lab-ghost'
  say "" "What the receiver sees of a ghosted file is a count, and nothing more:"
  run 0 'doormat inspect lab-ghost/ghosted/message-0001.age'
  point "A silent extra recipient shows only as a count that nobody checks."
  ask "$(lab_question ghost)"
}

step_lab_clear() {
  title "Lab 8: Ozzie's CLEAR, one vendor key for every device"
  run 0 'doormat lab clear --dir lab-clear'
  point "One vendor key for every device is one key to steal for all of them."
  ask "$(lab_question clear)"
}

step_lab_retro() {
  title "Lab 9: escrow after the fact"
  run 0 'doormat lab retroactive --dir lab-retro'
  say "" "The payload of an archived file, after its header was rewritten, is the same:"
  run 0 "OLD=\$(doormat inspect lab-retro/archive/file-0001.age | sed -n 's/^payload bytes: //p')"
  run 0 "NEW=\$(doormat inspect lab-retro/escrowed/file-0001.age | sed -n 's/^payload bytes: //p')"
  run 0 'tail -c "$OLD" lab-retro/archive/file-0001.age > archive.payload'
  run 0 'tail -c "$NEW" lab-retro/escrowed/file-0001.age > escrowed.payload'
  run 0 'cmp archive.payload escrowed.payload'
  say "(no difference: only the header was rewritten)"
  point "Whoever holds a file key can add escrow to old files without touching their contents."
  ask "$(lab_question retroactive)"
}

step_lab_insider() {
  title "Lab 10: the insider, and what the log sees"
  run 0 "doormat lab insider --dir lab-insider$(lab_ports 10)"
  say "" "The owner's monitor lists the releases made through the procedure, and only those:"
  run 0 'doormat escrow monitor --authority lab-insider/authority-2of3/authority.pub --logs lab-insider/authority-2of3/logs'
  point "The log sees the releases that go through the procedure, and none that do not."
  ask "$(lab_question insider)"
}

step_lab_volume() {
  title "Lab 11: request volume, against the FBI's count"
  run 0 "doormat lab volume --dir lab-volume$(lab_ports 20)"
  point "The machines are not the brake on how many files are opened: procedure is."
  ask "$(lab_question volume)"
}

step_lab_unbound() {
  title "Lab 12: the log must name the file whose key a release opens"
  run 0 'doormat lab unbound-id --dir lab-unbound'
  say "" "With the stanzas binding the file key's id, the owner's monitor finds the release:"
  run 0 'doormat escrow monitor --authority lab-unbound/authority/authority.pub lab-unbound/g.age'
  point "A careful log still had a bypass until the escrow bound the file key's id: only an adversarial read found it."
  ask "$(lab_question unbound-id)"
}

# ------------------------------------------------------------ the sequence
STEPS=(step_vault_intro step_vault_keys step_vault_encrypt step_vault_inspect
       step_vault_decrypt step_vault_wrong_key step_vault_tamper)
STEPS+=(step_escrow_intro step_escrow_init step_escrow_encrypt step_escrow_warrant
       step_escrow_recover step_escrow_procedure step_escrow_rogue)
STEPS+=(step_escrow_network)
STEPS+=(step_labs_intro step_lab_blast step_lab_leaf step_lab_strip step_lab_crumple
       step_lab_passcode)
STEPS+=(step_access_intro step_lab_subst step_lab_ghost step_lab_clear step_lab_retro
       step_lab_insider step_lab_volume step_lab_unbound)
# For the tests: DEMO_STEPS="step_a step_b" runs only those steps, and
# DEMO_STEPS=walkthrough every step but the briefing.
if [ -n "${DEMO_STEPS:-}" ] && [ "$DEMO_STEPS" != walkthrough ]; then
  read -r -a STEPS <<<"$DEMO_STEPS"
fi

# ------------------------------------------------------------ the briefing
# Always the last step, after every section's STEPS (unless DEMO_STEPS names the
# steps): the same story, measured on this computer and written up for readers
# who never open a terminal. Kept after the walkthrough: DIR/briefing with --dir,
# else build/briefing in the source tree.
BRIEFING_OUT=$ROOT/build/briefing
[ -z "$DIR" ] || BRIEFING_OUT=briefing
step_briefing() {
  title "Last step: the policy briefing"
  say "doormat now measures what we just saw (speed, stolen keys, forged escrow fields," \
      "crumple zones, passcodes) and writes it up as a web page with charts."
  run 0 "doormat report --quick -o $(shq "$BRIEFING_OUT")"
  [ -s "$BRIEFING_OUT/briefing.html" ] || die "no briefing was written"
  [ -s "$BRIEFING_OUT/briefing.pdf" ] || die "no briefing.pdf was written (make report-deps installs Chromium)"
  say "" "Read $(abspath "$BRIEFING_OUT")/briefing.pdf (A4, numbered pages), or open briefing.html" \
      "beside it in a web browser. Every number in it comes from $BRIEFING_OUT/data/figures.json," \
      "the median of several runs of each measurement."
  point "Every number in the briefing was measured on this computer, just now."
  ask "Which figure would you quote to a legislator, and how would they check it?"
}
[ -n "${DEMO_STEPS:-}" ] || STEPS+=(step_briefing)

# ------------------------------------------------------------ the handout, written
# handout.html (large type, high contrast, printable) and handout.pdf (headless
# Chromium, when installed: make report-deps), written at the end of a run.
write_handout() {
  [ "$STEP_OPEN" -eq 0 ] || handout "</section>"
  mkdir -p "$HANDOUT" || die "cannot create $HANDOUT"
  local html=$HANDOUT/handout.html
  { cat <<EOF
<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>doormat in the classroom: the walkthrough, step by step</title>
<style>
  @page { size: A4; margin: 14mm; }
  body { font-family: "DejaVu Sans", sans-serif; font-size: 20px; line-height: 1.4;
         color: #000; background: #fff; margin: 0 auto; max-width: 60em; padding: 1em; }
  h1 { font-size: 1.8em; margin: 0 0 .3em; }
  h2 { font-size: 1.3em; border-top: 3px solid #000; padding-top: .4em; margin: 1.2em 0 .4em; }
  .no { display: inline-block; min-width: 1.6em; padding: 0 .3em; margin-right: .3em;
        background: #000; color: #fff; text-align: center; border-radius: .2em; }
  pre { font-family: "DejaVu Sans Mono", monospace; font-size: 15px; white-space: pre-wrap;
        word-break: break-all; margin: .3em 0; padding: .4em .6em; }
  pre.cmd { background: #ffe; border-left: 6px solid #000; font-weight: bold; }
  pre.out { background: #f2f2f2; border-left: 6px solid #777; }
  .point { font-size: 1.05em; }
  .ask { border: 2px solid #000; padding: .4em .6em; }
  .step { break-inside: auto; }
  h2, pre.cmd { break-after: avoid; }
</style></head><body>
<h1>doormat in the classroom</h1>
<p>The walkthrough, step by step: each command as it was typed (it pastes into a shell
as it is, in this order), its output trimmed to what matters, why it matters, and a
question for the class. Made by <code>demo/classroom.sh</code> on $(date -u '+%Y-%m-%d %H:%M UTC')
with $("$DOORMAT" --version 2>/dev/null | head -1 | html_escape).</p>
EOF
    cat "$HANDOUT_BODY"
    printf '</body></html>\n'; } >"$html.part" && mv "$html.part" "$html" || die "cannot write $html"
  local chromium=${DOORMAT_CHROMIUM:-chromium}
  if ! command -v "$chromium" >/dev/null 2>&1; then
    HANDOUT_NOTE="handout.pdf not written: $chromium is not installed (Debian: chromium; make report-deps)"
    return 0
  fi
  local profile rc
  profile=$(mktemp -d "$STATE/chromium.XXXXXX") || die "cannot make a Chromium profile"
  timeout 120 "$chromium" --headless --no-sandbox --disable-gpu --disable-background-networking \
    --disable-component-update --disable-sync --no-first-run --disable-extensions \
    --disable-default-apps --no-pings --disable-domain-reliability --disable-quic \
    --proxy-server=socks5://127.0.0.1:9 --user-data-dir="$profile" --no-pdf-header-footer \
    --print-to-pdf="$HANDOUT/handout.pdf.part" "file://$html" >"$STATE/chromium.log" 2>&1
  rc=$?
  if [ "$rc" -ne 0 ] || [ "$(head -c 5 "$HANDOUT/handout.pdf.part" 2>/dev/null)" != "%PDF-" ]; then
    rm -f "$HANDOUT/handout.pdf.part"
    die "handout.pdf: $chromium exited $rc ($(tail -1 "$STATE/chromium.log"))"
  fi
  mv "$HANDOUT/handout.pdf.part" "$HANDOUT/handout.pdf"
}

HANDOUT_NOTE=""
for step in "${STEPS[@]}"; do
  "$step" || die "$step failed"
  pause
done
write_handout
if [ -n "$SCRIPT" ]; then
  mv "$LESSON" "$SCRIPT" || die "cannot write $SCRIPT"
  chmod 0755 "$SCRIPT"
fi
title "Done"
say "The handout: $HANDOUT/handout.html${HANDOUT_NOTE:+ ($HANDOUT_NOTE)}"
[ -z "$HANDOUT_NOTE" ] && say "            $HANDOUT/handout.pdf"
[ -z "$SCRIPT" ] || say "The whole walkthrough as one script: $SCRIPT (run it in an empty directory)"
if [ -n "$DIR" ]; then
  say "Every file the class saw is kept in $WORK."
else
  say "The files of the walkthrough were in a temporary directory, now removed;" \
      "run it with --dir DIR to keep them."
fi
