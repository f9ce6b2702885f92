#!/usr/bin/env bash
# Secret hygiene: key files are created 0600 whatever the umask and never
# replaced without --force; identity, key and share files readable by group
# or others are refused with a message saying how to fix them; core dumps are
# off (and the process not dumpable) while the command holds secrets; and the
# check every e2e file ends with (lib.sh: no secret on standard error) can
# really fail.
. "$(dirname "$0")/lib.sh"
D=$DOORMAT
cd "$T" || exit 1
chmod 755 "$T"

# ---------------------------------------------------------------- the leak check itself
printf 'AGE-SECRET-KEY-1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ\nhunter2hunter2\n' >fake.secrets
printf 'doormat: decrypt: oops AGE-SECRET-KEY-1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ\n' >fake.err
if leaked=$(secret_leaks fake.err fake.secrets); then
  fail "the leak check missed a secret key on stderr"
else
  assert_eq "$leaked" "AGE-SECRET-KEY-1..." "the leak check names the secret key (its start only)"
fi
printf 'doormat: wrong passphrase hunter2hunter2 given\n' >fake.err
if secret_leaks fake.err fake.secrets >/dev/null; then fail "the leak check missed a passphrase"; else ok; fi
printf 'doormat: decrypt: no identity matched\n' >fake.err
if secret_leaks fake.err fake.secrets >/dev/null; then ok; else fail "the leak check flags an innocent message"; fi
rm -f fake.secrets fake.err fake.secrets.sorted

# ---------------------------------------------------------------- modes, whatever the umask
umask 000
run "$D" keygen -o k.txt
assert_exit 0 "keygen -o under umask 000"
assert_eq "$(stat -c %a k.txt)" 600 "keygen -o: 0600 under umask 000"
run "$D" escrow init --name H --agents a,b --threshold 2 -o auth
assert_exit 0 "escrow init under umask 000"
assert_eq "$(stat -c %a auth/court.key auth/agents/a.key auth/agents/b.key | sort -u)" 600 \
  "escrow init: secret keys 0600 under umask 000"
R=$("$D" keygen -y k.txt)
printf 'the plaintext\n' >msg
"$D" encrypt -r "$R" --escrow auth/authority.pub -o msg.age msg
"$D" escrow warrant --court auth/court.key --authority auth/authority.pub --case c \
  --expires 2999-12-31 -o w.txt msg.age
for a in a b; do
  run "$D" escrow unwrap --authority auth/authority.pub --agent auth/agents/$a.key --warrant w.txt \
    --log auth/logs/$a -o $a.share msg.age
  assert_exit 0 "escrow unwrap $a under umask 000"
  assert_eq "$(stat -c %a $a.share)" 600 "share $a: 0600 under umask 000"
done
umask 022

# ---------------------------------------------------------------- never replaced without --force
cp k.txt k.saved
run "$D" keygen -o k.txt
assert_fails 1 "k.txt already exists; use --force" "keygen refuses an existing key"
assert_same k.txt k.saved "the existing key is untouched"
ln -s nowhere dangling.txt
run "$D" keygen -o dangling.txt
assert_fails 1 "dangling.txt already exists; use --force" "keygen refuses a dangling symlink"
assert_absent nowhere "nothing written through the dangling symlink"
ln -s k.txt link.txt
run "$D" keygen -o link.txt
assert_fails 1 "already exists" "keygen refuses a symlink to a key"
assert_same k.txt k.saved "the key behind the symlink is untouched"
find auth -type f -exec sha256sum {} + | sort >auth.sums
run "$D" escrow init --name H2 -o auth
assert_exit 2 "escrow init refuses an existing authority"
assert_true "escrow init says the authority exists" grep -q "exists" "$T/err"
assert_eq "$(find auth -type f -exec sha256sum {} + | sort)" "$(cat auth.sums)" \
  "the existing authority, keys and log are untouched"
run "$D" escrow init --name H2 -o auth --force
assert_exit 2 "escrow init has no --force: an authority is never replaced"

# ---------------------------------------------------------------- secret files readable by others
# Each of doormat's own secret inputs (escrow keys, shares; escrow tamper's
# identity), at 0640 (group) and 0604 (others): exit 2, a message that names
# the file and says "run chmod 600 FILE", and nothing written. An age identity
# file (decrypt -i, keygen -y) is read whatever its mode, silently, as age and
# age-keygen read it.
"$D" escrow unwrap --authority auth/authority.pub --agent auth/agents/a.key --warrant w.txt \
  --log auth/logs/a -o a.share msg.age 2>/dev/null
for mode in 640 604; do
  cp k.txt open.txt && chmod $mode open.txt
  run "$D" decrypt -i open.txt -o open.out msg.age
  assert_exit 0 "decrypt -i at $mode reads the identity"
  assert_same open.out msg "decrypt -i at $mode"
  assert_eq "$(cat "$T/err")" "" "decrypt -i at $mode: nothing on stderr"
  rm -f open.out
  run "$D" keygen -y open.txt
  assert_exit 0 "keygen -y at $mode"
  assert_eq "$(cat "$T/out")" "$("$D" keygen -y k.txt)" "keygen -y at $mode prints the recipient"
  run "$D" escrow tamper --strip -i open.txt -o never.out msg.age
  assert_fails 2 "run chmod 600 open.txt" "escrow tamper -i at $mode"
  cp auth/agents/a.key open.key && chmod $mode open.key
  run "$D" escrow unwrap --authority auth/authority.pub --agent open.key --warrant w.txt \
    --log auth/logs/a -o never.out msg.age
  assert_fails 2 "key file open.key is readable by others; run chmod 600 open.key" "agent key at $mode"
  cp auth/court.key open.key && chmod $mode open.key
  run "$D" escrow warrant --court open.key --authority auth/authority.pub --case c \
    --expires 2999-12-31 -o never.out msg.age
  assert_fails 2 "key file open.key is readable by others; run chmod 600 open.key" "court key at $mode"
  cp b.share open.share && chmod $mode open.share
  run "$D" escrow recover --authority auth/authority.pub --share a.share --share open.share \
    -o never.out msg.age
  assert_fails 2 "share open.share is readable by others; run chmod 600 open.share" "share at $mode"
  assert_absent never.out "nothing written with a secret file at $mode"
done
# The same files at 0600 and 0400 are fine.
chmod 400 open.share
run "$D" escrow recover --authority auth/authority.pub --share a.share --share open.share -o rec.out msg.age
assert_exit 0 "a share at 0400 is accepted"
assert_same rec.out msg "recovered with a 0400 share"
cp k.txt ro.txt && chmod 400 ro.txt
run "$D" decrypt -i ro.txt msg.age
assert_exit 0 "an identity at 0400 is accepted"
# A pipe has no mode to check: -i - works.
run sh -c 'cat k.txt | "$1" decrypt -i - msg.age' _ "$D"
assert_exit 0 "an identity through a pipe"

# ---------------------------------------------------------------- no core dumps while holding secrets
# The command blocks opening a FIFO given as IN, after it has read the key or
# passphrase. Meanwhile: its core size limit is 0, and it is not dumpable.
# Not dumpable shows as /proc/PID/status owned by root instead of the process's user;
# as root (CI) that can't be told apart, so the command then runs as nobody
# (setpriv), with a nobody-owned sleep as the control.
# AS_USER is an array, not a function: "${AS_USER[@]}" CMD & must leave $!
# the command's own pid (setpriv execs it), not a subshell's.
D_USER=$D
if [ "$(id -u)" -eq 0 ]; then
  AS_USER=(setpriv --reuid=65534 --regid=65534 --clear-groups --)
  me=65534
  chown 65534 k.txt
  # A clone under /root is out of nobody's reach: then nobody runs a copy.
  if ! "${AS_USER[@]}" test -x "$D"; then cp "$D" "$T/doormat-for-nobody"; D_USER=$T/doormat-for-nobody; fi
else
  AS_USER=(env)
  me=$(id -u)
fi
printf 'a passphrase held in memory\n' >pw.txt
chmod 644 pw.txt
mkfifo in.fifo
chmod 666 in.fifo
held() { # WHAT CMD...: runs CMD in the background until it blocks on in.fifo, then checks it.
  local what=$1
  shift
  "${AS_USER[@]}" "$@" >/dev/null 2>&1 &
  local pid=$!
  local limits=""
  for _ in $(seq 200); do
    # Wait until it is doormat (not setpriv or the wrapper) blocked in open().
    if grep -Eq '^(wait_for_partner|fifo_open)$' "/proc/$pid/wchan" 2>/dev/null; then
      limits=$(grep '^Max core file size' "/proc/$pid/limits")
      break
    fi
    sleep 0.05
  done
  assert_match "$limits" '^Max core file size +0 +0 +bytes' "$what: core dumps off while it holds the secret"
  assert_eq "$(stat -c %u "/proc/$pid/status")" 0 "$what: not dumpable (/proc/PID/status owned by root, not $me)"
  # Release it: a writer that opens and closes the FIFO gives it end of input.
  timeout 10 sh -c ': >in.fifo' 2>/dev/null
  wait "$pid"
}
"${AS_USER[@]}" sleep 30 &
control=$!
for _ in $(seq 100); do # until setpriv has become sleep
  [ "$(cat "/proc/$control/comm" 2>/dev/null)" = sleep ] && break
  sleep 0.05
done
assert_eq "$(stat -c %u "/proc/$control/status")" "$me" "control: an ordinary process's /proc/PID/status is its user's"
kill "$control"
wait "$control" 2>/dev/null
held "decrypt -i" "$D_USER" decrypt -i k.txt in.fifo
held "encrypt --passphrase-file" "$D_USER" encrypt --passphrase-file pw.txt in.fifo
# (escrow init made auth/ private: the agent's copy of its key is next to us.)
cp auth/agents/a.key agent.key
cp auth/authority.pub pub.txt
chmod 644 pub.txt w.txt
[ "$(id -u)" -eq 0 ] && chown 65534 agent.key
held "escrow unwrap --agent" "$D_USER" escrow unwrap --authority pub.txt \
  --agent agent.key --warrant w.txt --log never.log -o never.out in.fifo
[ "$(id -u)" -eq 0 ] && chown 0 k.txt

finish
