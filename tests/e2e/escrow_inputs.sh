#!/usr/bin/env bash
# Escrow at the edges: the passphrase extension (doormat opens scrypt plus
# escrow stanzas, age refuses, every other forbidden mix stays forbidden),
# the single-agent default, armored files, and bad input of every kind
# (authority, key, warrant, share, log, flags): one clear line naming the
# file and line, the documented exit code, and nothing written.
. "$(dirname "$0")/lib.sh"
D=$DOORMAT
AGE=${AGE:-/usr/bin/age}
AGE_KEYGEN=${AGE_KEYGEN:-/usr/bin/age-keygen}
KIT=$(cd "$(dirname "$0")/../testkit/age" && pwd)
cd "$T" || exit 1

"$D" escrow init --name FBI --agents doj,court,vendor --threshold 2 -o fbi >/dev/null
"$AGE_KEYGEN" -o key.txt 2>/dev/null
R=$("$AGE_KEYGEN" -y key.txt)
printf 'the plaintext\n' >msg.txt

# ---- passphrase + escrow: a documented doormat extension
printf 'correct horse battery staple\n' >pw.txt
run "$D" encrypt --passphrase-file pw.txt --escrow fbi/authority.pub -o pp.age msg.txt
assert_exit 0 "encrypt with a passphrase and escrow"
run "$D" decrypt --passphrase-file pw.txt --require-escrow fbi/authority.pub -o pp.out pp.age
assert_exit 0 "doormat opens scrypt + escrow"
assert_same pp.out msg.txt "passphrase plaintext"
run "$D" inspect pp.age
assert_true "inspect: passphrase or agents" \
  grep -qx "can be opened by: anyone with the passphrase; or any 2 of doj, court, vendor" "$T/out"
if command -v expect >/dev/null; then
  write_pty_script pty.exp 1
  PW="correct horse battery staple" expect pty.exp "$AGE" -d -o age-pp.out pp.age >age.log 2>&1
  rc=$?
  assert_true "age refuses scrypt beside escrow (exit $rc)" [ "$rc" -ne 0 ]
  assert_true "age says why" grep -q "scrypt recipient must be the only one" age.log
  assert_absent age-pp.out "age wrote nothing"
else
  fail "expect is missing (make deps installs it)"
fi
# The other mixes the spec forbids stay forbidden.
sed '1,/^$/d' "$KIT/scrypt_and_x25519" >mixed.age
assert_true "the testkit vector is there" grep -q "^-> scrypt" mixed.age
printf 'password\n' >vector-pw.txt
run "$D" decrypt --passphrase-file vector-pw.txt mixed.age
assert_exit 3 "scrypt beside X25519 is still refused"
run "$D" encrypt --passphrase-file pw.txt -r "$R" --escrow fbi/authority.pub -o no.age msg.txt
assert_exit 2 "a passphrase with -r, even with --escrow"
assert_absent no.age "nothing written"
run "$D" encrypt --escrow fbi/authority.pub -o no.age msg.txt
assert_exit 2 "escrow alone is not a recipient list"
assert_absent no.age "nothing written"
# Recovery works on passphrase files too.
"$D" escrow warrant --court fbi/court.key --authority fbi/authority.pub --case pp \
  --expires 2999-01-01 -o pp-w.txt pp.age
for a in court vendor; do
  "$D" escrow unwrap --authority fbi/authority.pub --agent fbi/agents/$a.key --warrant pp-w.txt \
    --log fbi/logs/$a -o pp-$a.share pp.age 2>/dev/null
done
run "$D" escrow recover --authority fbi/authority.pub --share pp-court.share --share pp-vendor.share -o pp-rec.txt pp.age
assert_exit 0 "recover a passphrase file"
assert_same pp-rec.txt msg.txt "recovered passphrase plaintext"

# ---- the default: one agent, the key under the doormat
run "$D" escrow init --name Solo -o solo
assert_exit 0 "init with defaults"
assert_true "default agent" grep -q "^agent: master age1" solo/authority.pub
assert_true "default threshold" grep -qx "threshold: 1" solo/authority.pub
"$D" encrypt -a -r "$R" --escrow solo/authority.pub -o solo.age msg.txt
run "$AGE" -d -i key.txt solo.age
assert_exit 0 "age opens an armored escrowed file"
assert_same "$T/out" msg.txt "age plaintext (armored)"
run "$D" inspect solo.age
assert_true "inspect: single agent" \
  grep -qx "can be opened by: the holder of one X25519 identity; or agent master" "$T/out"
"$D" escrow warrant --court solo/court.key --authority solo/authority.pub --case s \
  --expires 2999-01-01 -o solo-w.txt solo.age
"$D" escrow unwrap --authority solo/authority.pub --agent solo/agents/master.key \
  --warrant solo-w.txt --log solo/logs/master -o master.share solo.age 2>/dev/null
run "$D" escrow recover --authority solo/authority.pub --share master.share -o solo.txt solo.age
assert_exit 0 "one master share is enough (1-of-1)"
assert_same solo.txt msg.txt "recovered with the master key"
run "$D" escrow tamper --strip -i key.txt -o x.age solo.age
assert_fails 2 "armored input" "tamper wants binary files"
assert_absent x.age "nothing written by tamper"

# ---- init refuses bad arguments and writes nothing
run "$D" escrow init --name FBI --agents doj,DOJ -o bad1
assert_fails 2 "agent name \"DOJ\"" "upper-case agent name"
run "$D" escrow init --name FBI --agents a,b --threshold 3 -o bad2
assert_fails 2 "threshold 3 is more than the 2 agents" "threshold above n"
run "$D" escrow init --name FBI --agents a,b --threshold 0 -o bad3
assert_fails 2 "--threshold wants a number" "threshold 0"
run "$D" escrow init --name "F B I" -o bad4
assert_fails 2 "authority name" "name with spaces"
run "$D" escrow init --name FBI --agents a,,b -o bad5
assert_fails 2 "empty name" "empty agent name"
run "$D" escrow init --agents a -o bad6
assert_fails 2 "missing --name" "no name"
for d in bad1 bad2 bad3 bad4 bad5 bad6; do assert_absent $d "no directory $d"; done

# ---- malformed authority files, named with their line
cp fbi/authority.pub lowered.pub
sed -i 's/^threshold: 2$/threshold: 1/' lowered.pub
run "$D" encrypt -r "$R" --escrow lowered.pub -o no.age msg.txt
assert_fails 2 "lowered.pub: line 5: the id does not match" "authority with a lowered threshold"
assert_absent no.age "nothing written"
sed '7s/age1/agx1/' fbi/authority.pub >garbled.pub
run "$D" decrypt -i key.txt --require-escrow garbled.pub pp.age
assert_fails 2 "garbled.pub: line 7: agent doj" "authority with a garbled recipient"
printf 'hello\n' >notauth.pub
run "$D" escrow audit verify --authority notauth.pub fbi/logs/doj
assert_fails 2 "notauth.pub: line 1: not a doormat authority file" "not an authority"
run "$D" encrypt -r "$R" --escrow missing.pub -o no.age msg.txt
assert_fails 1 "missing.pub" "missing authority"

# ---- keys, warrants, shares, logs
"$D" encrypt -r "$R" --escrow fbi/authority.pub -o f.age msg.txt
"$D" escrow warrant --court fbi/court.key --authority fbi/authority.pub --case c \
  --expires 2999-01-01 -o w.txt f.age
run "$D" escrow warrant --court fbi/agents/doj.key --authority fbi/authority.pub --case c \
  --expires 2999-01-01 -o w-bad.txt f.age
assert_fails 2 "doj.key: line 2: not a court key file" "agent key used as the court key"
assert_absent w-bad.txt "no warrant written"
run "$D" escrow warrant --court fbi/court.key --authority fbi/authority.pub --case c \
  --expires 2999-02-30 -o w-bad.txt f.age
assert_fails 2 "expiry date" "impossible expiry date"
assert_absent w-bad.txt "no warrant written"
chmod 644 fbi/agents/doj.key
run "$D" escrow unwrap --authority fbi/authority.pub --agent fbi/agents/doj.key --warrant w.txt \
  --log fbi/logs/doj -o s.share f.age
assert_fails 2 "readable by others" "agent key readable by others"
chmod 600 fbi/agents/doj.key
run "$D" escrow unwrap --authority fbi/authority.pub --agent fbi/agents/doj.key --warrant fbi/authority.pub \
  --log fbi/logs/doj -o s.share f.age
assert_fails 2 "authority.pub: line 1: not a doormat warrant" "authority given as a warrant"
head -c 100 w.txt >cut.txt
run "$D" escrow unwrap --authority fbi/authority.pub --agent fbi/agents/doj.key --warrant cut.txt \
  --log fbi/logs/doj -o s.share f.age
assert_fails 2 "cut.txt: line [0-9]+:" "truncated warrant"
assert_absent s.share "no share written"
"$D" escrow tamper --strip -i key.txt -o stripped.age f.age
"$D" escrow warrant --court fbi/court.key --authority fbi/authority.pub --case c \
  --expires 2999-01-01 -o ws.txt stripped.age
run "$D" escrow unwrap --authority fbi/authority.pub --agent fbi/agents/doj.key --warrant ws.txt \
  --log fbi/logs/doj -o s.share stripped.age
assert_fails 4 "no escrow stanza for agent doj" "nothing to unwrap in a stripped file"
assert_absent s.share "no share written"
"$D" escrow unwrap --authority fbi/authority.pub --agent fbi/agents/doj.key --warrant w.txt \
  --log fbi/logs/doj -o s.share f.age 2>/dev/null
sed 's/^x: 1$/x: 2/' s.share >bad-x.share
chmod 600 bad-x.share # shares are secrets: recover refuses one readable by others
run "$D" escrow recover --authority fbi/authority.pub --share bad-x.share --share s.share f.age
assert_fails 2 "bad-x.share: line 5:" "share with a wrong x"
printf 'doormat-escrow-share/v1\n' >short.share
chmod 600 short.share
run "$D" escrow recover --authority fbi/authority.pub --share short.share f.age
assert_fails 2 "short.share: line 1: the share ends early" "truncated share"
cp -r fbi/logs/doj garbage-log
n=$(sed -n 2p garbage-log/checkpoint)
printf 'not an entry' >>"garbage-log/tile/entries/000.p/$n"
run "$D" escrow audit verify --authority fbi/authority.pub garbage-log
assert_fails 9 "entry bundle 0" "garbage at the end of the entries"
cp -r fbi/logs/doj cut-log
head -c -1 fbi/logs/doj/checkpoint >cut-log/checkpoint
run "$D" escrow audit verify --authority fbi/authority.pub cut-log
assert_fails 9 "checkpoint" "checkpoint cut short"
rm "cut-log/tile/0/000.p/$n"
cp fbi/logs/doj/checkpoint cut-log/checkpoint
run "$D" escrow audit verify --authority fbi/authority.pub cut-log
assert_fails 9 "the log lacks tile/0/000.p/$n" "a missing tile"
run "$D" escrow audit verify --authority fbi/authority.pub no-such-log
assert_fails 1 "no-such-log" "no log there"
run "$D" escrow audit prove --authority fbi/authority.pub --index 99 fbi/logs/doj
assert_fails 2 "the log has $n entries" "proof of an entry not in the log"
run "$D" escrow audit prove --authority fbi/authority.pub --index 0 --since 0 fbi/logs/doj
assert_fails 2 "give one of --index N and --since N" "prove wants one of --index and --since"
run "$D" escrow witness add-checkpoint --authority fbi/authority.pub
assert_fails 2 "missing --witness WDIR" "witness without its directory"
run "$D" escrow unwrap --authority fbi/authority.pub --agent fbi/agents/doj.key --warrant w.txt \
  --log fbi/logs/doj --requester "$(printf 'a\tb')" -o s2.share f.age
assert_fails 2 "requester" "a requester with a control character"
assert_absent s2.share "no share written"
run "$D" escrow frobnicate
assert_fails 2 "unknown subcommand" "unknown subcommand"
run "$D" escrow recover --authority fbi/authority.pub --court fbi/court.key --share s.share f.age
assert_fails 2 "does not apply here" "option of another subcommand"
run "$D" escrow --help
assert_exit 0 "escrow --help"
assert_true "help lists audit verify" grep -q "doormat escrow audit verify" "$T/out"

finish
