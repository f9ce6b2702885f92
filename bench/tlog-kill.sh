#!/usr/bin/env bash
# Kill -9 share releases at random points and check, after every kill, that
#   - the agent's log still verifies from nothing (escrow audit verify);
#   - no two checkpoints of one size with different roots were ever published
#     (every checkpoint seen, and any checkpoint.new a kill left, is recorded);
#   - every share on disk has its entry in the log, at the index its receipt
#     names (escrow audit prove --index gives back the same entry);
#   - no share, whole or partial, is left in a hidden or temporary file;
# and, at the end, that the log still takes releases and monitors clean.
#   bench/tlog-kill.sh DOORMAT KILLS [WORKDIR]
# (tests/e2e/log_kill.sh runs it with a few kills; docs/benchmarks.md records a
# run of 100+.)
set -u
D=${1:?usage: tlog-kill.sh DOORMAT KILLS [WORKDIR]}
KILLS=${2:?usage: tlog-kill.sh DOORMAT KILLS [WORKDIR]}
W=${3:-$(mktemp -d "${TMPDIR:-/tmp}/doormat-kill.XXXXXX")}
mkdir -p "$W" && cd "$W" || exit 1
bad=0
problem() { echo "tlog-kill: FAIL: $*" >&2; bad=$((bad + 1)); }

"$D" escrow witness init --name witness.example/k -o wit >/dev/null || exit 1
"$D" escrow init --name K --witness wit/witness.vkey -o auth >/dev/null || exit 1
"$D" keygen -o key.txt 2>/dev/null || exit 1
R=$("$D" keygen -y key.txt)
head -c 3000 /dev/urandom >msg.bin
"$D" encrypt -r "$R" --escrow auth/authority.pub -o msg.age msg.bin || exit 1
"$D" escrow warrant --court auth/court.key --authority auth/authority.pub --case kill \
  --expires 2999-01-01 -o w.txt msg.age || exit 1
mkdir shares
: >seen.txt # "SIZE ROOT" of every checkpoint observed
record() { # FILE
  [ -s "$1" ] || return 0
  local size root
  size=$(sed -n 2p "$1")
  root=$(sed -n 3p "$1")
  [ -n "$size" ] && [ -n "$root" ] && echo "$size $root" >>seen.txt
}

released=0 killed=0
for i in $(seq 1 "$KILLS"); do
  "$D" escrow unwrap --authority auth/authority.pub --agent auth/agents/master.key --warrant w.txt \
    --log auth/logs/master --witness wit --requester "kill $i" -o "shares/s$i.share" msg.age \
    2>/dev/null &
  pid=$!
  # A random point in the release: 0 to 89 ms (a release takes about 100 ms
  # on a disk that honours fsync; KILL_WINDOW_MS widens it for slow runs).
  ms=$((RANDOM % ${KILL_WINDOW_MS:-90}))
  sleep "$((ms / 1000)).$(printf '%03d' $((ms % 1000)))"
  kill -9 "$pid" 2>/dev/null && killed=$((killed + 1))
  wait "$pid" 2>/dev/null
  record auth/logs/master/checkpoint
  record auth/logs/master/checkpoint.new
  [ -f "shares/s$i.share" ] && released=$((released + 1))
  if ! "$D" escrow audit verify --authority auth/authority.pub auth/logs/master >verify.out 2>&1; then
    problem "kill $i: the log does not verify: $(tail -1 verify.out)"
  fi
  record auth/logs/master/checkpoint # a crash left for the next opener is finished or dropped
done
# The log still works: one more release, to its end.
"$D" escrow unwrap --authority auth/authority.pub --agent auth/agents/master.key --warrant w.txt \
  --log auth/logs/master --witness wit -o shares/final.share msg.age 2>/dev/null ||
  problem "a release after the kills fails"
record auth/logs/master/checkpoint
"$D" escrow audit verify --authority auth/authority.pub auth/logs/master >/dev/null 2>&1 ||
  problem "the log does not verify at the end"
"$D" escrow monitor --authority auth/authority.pub >/dev/null 2>&1 ||
  problem "monitor fails at the end"

# One root per size.
forks=$(sort -u seen.txt | awk '{print $1}' | uniq -d)
[ -z "$forks" ] || problem "two roots for size(s) $forks"
# Every share has its entry in the log.
for s in shares/*.share; do
  [ -f "$s" ] || continue
  idx=$(sed -n 's/^index //p' "$s")
  extra=$(sed -n 's/^extra //p' "$s")
  if [ -z "$idx" ] || [ -z "$extra" ]; then problem "$s has no receipt"; continue; fi
  got=$("$D" escrow audit prove --authority auth/authority.pub --index "$idx" auth/logs/master 2>/dev/null |
    sed -n 's/^extra //p')
  [ "$got" = "$extra" ] || problem "$s: entry $idx of the log is not its release"
done
# Nothing hidden: every file in shares/ is a whole share.
for f in shares/* shares/.[!.]*; do
  [ -e "$f" ] || continue
  case $f in
    shares/*.share) grep -q '^c2sp.org/tlog-proof@v1$' "$f" || problem "$f is not a whole share" ;;
    *) problem "a stray file is left: $f" ;;
  esac
done
size=$(sed -n 2p auth/logs/master/checkpoint)
echo "tlog-kill: $KILLS runs, $killed killed mid-release, $released shares written before the kill;" \
  "log at $size entries, $(sort -u seen.txt | wc -l) distinct checkpoints seen, $bad problems"
[ "$bad" -eq 0 ]
