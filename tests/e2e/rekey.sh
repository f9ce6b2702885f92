#!/usr/bin/env bash
# doormat rekey: a new header for new recipients, the payload bytes unchanged;
# age opens the result with the new key; a removed recipient can't; a failed
# rekey changes nothing on disk.
. "$(dirname "$0")/lib.sh"
D=$DOORMAT
cd "$T" || exit 1
need_tools age age-keygen ssh-keygen

# payload FILE: the bytes after the header's MAC line (binary files).
payload() {
  local end
  end=$(grep -abo -m1 $'^--- [A-Za-z0-9+/]*$' "$1" | cut -d: -f1)
  local mac_line
  mac_line=$(grep -a -m1 '^--- ' "$1")
  tail -c +$((end + ${#mac_line} + 2)) "$1"
}

make_file data.bin 150000
age-keygen -o old.txt 2>/dev/null
age-keygen -o new.txt 2>/dev/null
age-keygen -o other.txt 2>/dev/null
ssh-keygen -q -t ed25519 -N '' -f ed
OLD=$(age-keygen -y old.txt) NEW=$(age-keygen -y new.txt) OTHER=$(age-keygen -y other.txt)

age -r "$OLD" -r "$OTHER" -o f.age data.bin
cp f.age f.orig
payload f.age >p.before

run "$D" rekey -i old.txt -r "$NEW" -r "$(cat ed.pub)" -o f2.age f.age
assert_exit 0 "rekey to a new X25519 key and an SSH key"
assert_no_stderr "rekey is quiet"
payload f2.age >p.after
assert_same p.before p.after "payload bytes identical before and after"
assert_eq "$(tail -c 1000 f.age | md5sum)" "$(tail -c 1000 f2.age | md5sum)" "the last 1000 bytes match (tail -c)"
assert_eq "$(grep -ac '^-> ' f2.age)" 2 "the new header has the new recipients only"
run age -d -i new.txt f2.age
assert_exit 0 "age opens the rekeyed file with the new key"
assert_same "$T/out" data.bin "age's plaintext"
run age -d -i ed f2.age
assert_same "$T/out" data.bin "age opens it with the SSH key too"
run age -d -i other.txt f2.age
assert_exit 1 "a removed recipient can't open the new file (age)"
run "$D" decrypt -i other.txt -o never.out f2.age
assert_exit 4 "a removed recipient can't open the new file (doormat)"
run "$D" decrypt -i old.txt -o never.out f2.age
assert_exit 4 "nor can the key used to rekey, once removed"
assert_absent never.out "nothing written"

# in place, armored in and out
run "$D" rekey -i new.txt -r "$OLD" -a -o f2.age f2.age
assert_exit 0 "rekey in place, armored output"
assert_eq "$(head -1 f2.age)" "-----BEGIN AGE ENCRYPTED FILE-----" "armored"
run "$D" rekey -i old.txt -r "$NEW" -o f3.age f2.age
assert_exit 0 "rekey an armored file to binary"
payload f3.age >p.three
assert_same p.before p.three "payload still identical after armor both ways"
age -d -i new.txt f3.age >f3.out
assert_same f3.out data.bin "age opens it"

# a wrong identity changes nothing on disk
cp f3.age f3.keep
run "$D" rekey -i other.txt -r "$OTHER" -o f3.age f3.age
assert_exit 4 "wrong identity"
assert_eq "$(cat "$T/err")" "doormat: rekey: no identity matched any of the recipients: none of 1 identities unwrapped any of 1 recipient stanzas" "wrong identity, word for word"
assert_same f3.age f3.keep "the file is untouched"
assert_eq "$(ls -a | grep -c '\.doormat-')" 0 "no temporary file left"
# a tampered header changes nothing either
cp f.orig t.age
# The first stanza's share gets another first character (A, or B where it was A).
sed -i '2{s/^-> X25519 A/-> X25519 B/;t;s/^-> X25519 ./-> X25519 A/}' t.age
assert_true "the header was changed" sh -c '! cmp -s f.orig t.age'
cp t.age t.keep
run "$D" rekey -i other.txt -r "$NEW" -o t.age t.age
assert_exit 5 "a header that doesn't verify is not rekeyed"
assert_same t.age t.keep "untouched"

# to a passphrase and back through a pipe
printf 'a passphrase for rekey\n' >pw.txt
"$D" rekey -i old.txt --passphrase-file pw.txt <f.orig >pw.age
run "$D" decrypt --passphrase-file pw.txt pw.age
assert_same "$T/out" data.bin "rekey to a passphrase (pipes)"
run "$D" rekey --old-passphrase-file pw.txt -r "$NEW" -o back.age pw.age
assert_exit 0 "rekey from a passphrase"
payload back.age >p.back
assert_same p.before p.back "payload unchanged through a passphrase"
run "$D" rekey -i old.txt -p -r "$NEW" f.orig
assert_says_usage=$(cat "$T/err")
assert_exit 2 "a passphrase can't stand beside a recipient"
assert_eq "$assert_says_usage" "doormat: rekey: a passphrase can't be combined with -r or -R (a passphrase stanza must stand alone)" "its words"
run "$D" rekey -i old.txt f.orig
assert_exit 2 "no new recipients"
assert_eq "$(cat "$T/err")" "doormat: rekey: no new recipients: use -r, -R, -p or --passphrase-file (see doormat rekey --help)" "its words"
run "$D" rekey -i old.txt -r "$NEW" f.orig f.orig
assert_fails 2 "rekey: more than one input .*; see doormat rekey --help" "two inputs"
run "$D" rekey -i old.txt --passphrase-file pw.txt --passphrase-file pw.txt f.orig
assert_fails 2 "rekey: --passphrase-file given twice" "--passphrase-file twice"
run "$D" rekey --old-passphrase-file pw.txt --old-passphrase-file pw.txt -r "$NEW" pw.age
assert_fails 2 "rekey: --old-passphrase-file given twice" "--old-passphrase-file twice"
run "$D" rekey -i old.txt -r "$NEW" --leaf-bits 16 f.orig
assert_fails 2 "rekey: --leaf-bits and --crumple-bits need --escrow" "--leaf-bits alone"

finish
