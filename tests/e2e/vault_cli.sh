#!/usr/bin/env bash
# The doormat command's contract: every exit code 0-6 provoked for real, key
# files, recipients files, stdin/stdout, and output safety.
. "$(dirname "$0")/lib.sh"
D=$DOORMAT

# ---------------------------------------------------------------- help, usage (0, 2)
run "$D" --help
assert_exit 0 "--help"
assert_true "--help has the exit-code table" grep -q '^  8  access not authorised' "$T/out"
for c in keygen encrypt decrypt inspect; do
  run "$D" "$c" --help
  assert_exit 0 "$c --help"
  assert_true "$c --help has the exit-code table" grep -q '^  6  payload authentication failed' "$T/out"
  assert_true "$c --help starts with Usage" grep -q "^  doormat $c" "$T/out"
done
run "$D" --version
assert_exit 0 "--version"
assert_match "$(cat "$T/out")" '^doormat [0-9]+\.[0-9]+\.[0-9]+$' "--version output"

run "$D"
assert_exit 2 "no command"
assert_eq "$(cat "$T/out")" "" "no command: nothing on stdout"
assert_eq "$(sed -n 3p "$T/err")" "Usage:" "no command: the usage on stderr (as age with no arguments)"
run "$D" frobnicate
assert_fails 2 'unknown command "frobnicate"' "unknown command"
run "$D" encrypt --no-such-flag
assert_fails 2 "unknown option --no-such-flag" "unknown long option"
run "$D" decrypt -x
assert_fails 2 "unknown option -x" "unknown short option"
run "$D" encrypt -r
assert_fails 2 "needs an argument" "missing option argument"
run "$D" encrypt </dev/null
assert_fails 2 "no recipients" "encrypt without recipients"
run "$D" encrypt -r age1notakey </dev/null
assert_fails 2 'recipient "age1notakey"' "malformed recipient"
run "$D" encrypt --threads lots -p </dev/null
assert_fails 2 "--threads" "bad --threads"
run "$D" inspect a b
assert_fails 2 "more than one input" "two inputs"

# ---------------------------------------------------------------- keygen
cd "$T" || exit 1
# $T/out is made under umask 022: world-readable, and keygen says so (as age-keygen does).
run "$D" keygen
assert_exit 0 "keygen to stdout"
assert_eq "$(head -1 "$T/err")" 'doormat: keygen: warning: writing secret key to a world-readable file' \
  "keygen to a world-readable file warns"
assert_eq "$(tail -1 "$T/err")" "Public key: $(sed -n 's/^# public key: //p' "$T/out")" \
  "keygen to a file through stdout: the public key on stderr, as age-keygen"
(umask 077 && "$D" keygen >private.txt 2>keygen.err)
assert_eq "$(stat -c %a private.txt):$(cat keygen.err)" \
  "600:Public key: $(sed -n 's/^# public key: //p' private.txt)" \
  "keygen to a private file: no warning, the public key"
(umask 027 && "$D" keygen >group.txt 2>keygen.err)
assert_eq "$(cat keygen.err)" "Public key: $(sed -n 's/^# public key: //p' group.txt)" \
  "keygen to a group-readable file: no warning (as age)"
run "$D" keygen
assert_eq "$(wc -l <"$T/out" | tr -d ' ')" 3 "keygen prints three lines"
assert_match "$(sed -n 1p "$T/out")" '^# created: [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(Z|[+-][0-9]{2}:[0-9]{2})$' "created line"
assert_match "$(sed -n 2p "$T/out")" '^# public key: age1[02-9ac-hj-np-z]{58}$' "public key line"
assert_match "$(sed -n 3p "$T/out")" '^AGE-SECRET-KEY-1[02-9AC-HJ-NP-Z]{58}$' "secret key line"
assert_true "secret key never on stderr" test -z "$(grep -E 'AGE-SECRET-KEY' "$T/err")"

run "$D" keygen -o k1.txt
assert_exit 0 "keygen -o"
assert_eq "$(stat -c %a k1.txt)" 600 "key file mode"
pub1=$(sed -n 's/^# public key: //p' k1.txt)
assert_eq "$(cat "$T/err")" "Public key: $pub1" "keygen -o prints the public key on stderr"
run "$D" keygen -y k1.txt
assert_exit 0 "keygen -y FILE"
assert_eq "$(cat "$T/out")" "$pub1" "keygen -y prints the recipient"
run "$D" keygen -y <k1.txt
assert_eq "$(cat "$T/out")" "$pub1" "keygen -y from stdin"

cp k1.txt k1.saved
run "$D" keygen -o k1.txt
assert_fails 1 "k1.txt already exists; use --force" "keygen refuses to overwrite"
assert_same k1.txt k1.saved "refused keygen leaves the key"
run "$D" keygen -o k1.txt --force
assert_exit 0 "keygen --force"
assert_true "--force made a new key" sh -c '! cmp -s k1.txt k1.saved'
assert_eq "$(stat -c %a k1.txt)" 600 "forced key file mode"
mv k1.saved k1.txt
"$D" keygen -o k2.txt 2>/dev/null
"$D" keygen -o k3.txt 2>/dev/null
pub2=$(sed -n 's/^# public key: //p' k2.txt)
pub3=$(sed -n 's/^# public key: //p' k3.txt)

printf 'not a key\n' >bad.txt
chmod 600 bad.txt
run "$D" keygen -y bad.txt
assert_fails 2 "malformed secret key at line 1" "keygen -y on a malformed file"
assert_true "malformed secret line not echoed" sh -c '! grep -q "not a key" "$1"' _ "$T/err"

# ---------------------------------------------------------------- round trips
make_file plain 100000
: >empty
run "$D" encrypt -r "$pub1" <plain
assert_exit 0 "encrypt stdin to stdout"
cp "$T/out" plain.age
run "$D" decrypt -i k1.txt <plain.age
assert_exit 0 "decrypt stdin to stdout"
assert_same "$T/out" plain "stdin/stdout round trip"

run "$D" encrypt -r "$pub1" -o empty.age empty
assert_exit 0 "encrypt empty file"
run "$D" decrypt -i k1.txt -o empty.out empty.age
assert_exit 0 "decrypt empty file"
assert_same empty.out empty "empty round trip"
assert_eq "$(stat -c %a empty.age)" 644 "output mode is 0666 & ~umask"

run "$D" encrypt -a -r "$pub1" -o plain.asc plain
assert_exit 0 "encrypt --armor"
assert_eq "$(head -1 plain.asc)" "-----BEGIN AGE ENCRYPTED FILE-----" "armor begin line"
assert_eq "$(tail -1 plain.asc)" "-----END AGE ENCRYPTED FILE-----" "armor end line"
run "$D" decrypt -i k1.txt plain.asc
assert_exit 0 "decrypt armored"
assert_same "$T/out" plain "armored round trip"
run "$D" encrypt --armor -r "$pub1" plain
assert_exit 0 "encrypt --armor long form"

for n in 1 4; do
  run "$D" encrypt --threads "$n" -r "$pub1" -o t$n.age plain
  assert_exit 0 "encrypt --threads $n"
  run "$D" decrypt --threads "$n" -i k1.txt t$n.age
  assert_same "$T/out" plain "--threads $n round trip"
done

# -R with comments and blank lines, mixed with -r
printf '# the team\n\n%s\n   \n# backup\n%s\n' "$pub2" "$pub3" >team.txt
sed -i 's/^   $//' team.txt
run "$D" encrypt -R team.txt -r "$pub1" -o team.age plain
assert_exit 0 "encrypt -R with comments, mixed with -r"
for k in k1 k2 k3; do
  run "$D" decrypt -i $k.txt team.age
  assert_exit 0 "decrypt -R file with $k"
  assert_same "$T/out" plain "-R round trip with $k"
done
run "$D" inspect team.age
assert_true "inspect counts three X25519 stanzas" grep -qx 'stanza: X25519 x3' "$T/out"
printf '%s\nage1bogus\n' "$pub2" >badteam.txt
run "$D" encrypt -R badteam.txt plain
assert_fails 2 "line 2" "bad line in -R file"

# several -i, and an identity file with several keys
run "$D" encrypt -r "$pub3" -o only3.age plain
run "$D" decrypt -i k1.txt -i k2.txt -i k3.txt only3.age
assert_exit 0 "several -i, the last matches"
assert_same "$T/out" plain "several -i round trip"
cat k1.txt k3.txt >both.txt
chmod 600 both.txt
run "$D" decrypt -i both.txt only3.age
assert_exit 0 "identity file with two keys"
assert_same "$T/out" plain "two-key identity file round trip"
run "$D" keygen -y both.txt
assert_eq "$(cat "$T/out")" "$(printf '%s\n%s' "$pub1" "$pub3")" "keygen -y prints every key's recipient"

run "$D" decrypt -i - <k1.txt
assert_fails 2 "standard input is used for more than one thing" "-i - with IN on stdin"
run "$D" decrypt -i - plain.age <k1.txt
assert_exit 0 "identity on stdin (-i -) with IN named"
assert_same "$T/out" plain "-i - round trip"

# an identity file readable by others is read, as age reads it (0666 minus umask 022)
cp k1.txt open.txt
chmod 644 open.txt
run "$D" decrypt -i open.txt plain.age
assert_exit 0 "identity file at 0644 is read"
assert_same "$T/out" plain "identity file at 0644 decrypts"
assert_eq "$(cat "$T/err")" "" "identity file at 0644: nothing on stderr (as age)"

# passphrase file
printf 'correct horse battery staple\nsecond line ignored\n' >pass.txt
printf 'wrong\n' >wrong.txt
run "$D" encrypt --passphrase-file pass.txt -o pass.age plain
assert_exit 0 "encrypt --passphrase-file"
run "$D" inspect pass.age
assert_true "inspect: passphrase file" grep -qx 'can be opened by: anyone with the passphrase' "$T/out"
printf 'correct horse battery staple' >pass-nonl.txt
run "$D" decrypt --passphrase-file pass-nonl.txt pass.age
assert_exit 0 "decrypt --passphrase-file (first line, no newline)"
assert_same "$T/out" plain "passphrase round trip"
run "$D" decrypt --passphrase-file wrong.txt pass.age
assert_fails 4 "" "wrong passphrase"
run "$D" encrypt -p -r "$pub1" plain
assert_fails 2 "can't be combined" "passphrase with -r"
run "$D" decrypt plain.age
assert_fails 2 "use -i" "no identity for an X25519 file"
# No terminal here (setsid detaches it): the prompt can't happen.
run setsid -w "$D" decrypt pass.age </dev/null
assert_fails 2 "no terminal" "passphrase prompt without a terminal"

# -p on a pseudo-terminal: asked twice, without echo; a mismatch is a usage error.
cat >tty.exp <<'EXP'
set timeout 30
log_user 0
log_file -a -noappend [lindex $argv 0]
spawn -noecho {*}[lrange $argv 3 end]
expect "Enter passphrase: "
send -- "[lindex $argv 1]\r"
expect "Confirm passphrase: "
send -- "[lindex $argv 2]\r"
expect eof
exit [lindex [wait] 3]
EXP
expect tty.exp tty.log 'sw0rdfish-typed' 'sw0rdfish-typed' "$D" encrypt -p -o typed.age plain
assert_eq "$?" 0 "encrypt -p on a terminal"
assert_true "the passphrase is not echoed" sh -c '! grep -q sw0rdfish-typed tty.log'
printf 'sw0rdfish-typed\n' >typed.txt
run "$D" decrypt --passphrase-file typed.txt typed.age
assert_same "$T/out" plain "encrypt -p round trip"
expect tty.exp tty.log 'one-thing' 'another' "$D" encrypt -p -o mismatch.age plain
assert_eq "$?" 2 "encrypt -p with mismatched passphrases (exit 2)"
assert_true "mismatch is reported" grep -q "doormat: encrypt: passphrase: invalid argument: passphrases didn't match" tty.log
assert_absent mismatch.age "no output after a passphrase mismatch"

# ---------------------------------------------------------------- failures 1, 3, 4, 5, 6
run "$D" decrypt -i k1.txt does-not-exist.age
assert_fails 1 "cannot open does-not-exist.age" "missing input (exit 1)"
run "$D" decrypt -i no-such-key.txt plain.age
assert_fails 1 "no-such-key.txt" "missing identity file (exit 1)"

printf 'hello, world\n' >notage
run "$D" decrypt -i k1.txt notage
assert_fails 3 "malformed header" "not an age file (exit 3)"
printf 'age-encryption.org/v1\n-> X25519\n--- AAAA\n' >badhdr.age
run "$D" decrypt -i k1.txt badhdr.age
assert_fails 3 "malformed header" "malformed stanza (exit 3)"
run "$D" inspect notage
assert_fails 3 "malformed header" "inspect a non-age file (exit 3)"

# armor: a character outside base64 in the body, and garbage after the END line
sed '2s/^./*/' plain.asc >badarmor.asc
run "$D" decrypt -i k1.txt badarmor.asc
assert_fails 3 "armor" "invalid armor character (exit 3)"
{ cat plain.asc; echo "trailing garbage"; } >trail.asc
run "$D" decrypt -i k1.txt trail.asc
assert_fails 3 "armor" "garbage after armor (exit 3)"

run "$D" decrypt -i k2.txt plain.age
assert_fails 4 "no identity matched" "wrong key (exit 4)"

cp plain.age badmac.age
off=$(mac_offset badmac.age)
if [ "$(get_byte badmac.age "$off")" -eq 65 ]; then put_byte badmac.age "$off" 66; else put_byte badmac.age "$off" 65; fi
run "$D" decrypt -i k1.txt badmac.age
assert_fails 5 "header MAC mismatch" "edited header MAC (exit 5)"

hdr_len=$(( $(mac_offset plain.age) + 44 ))
cp plain.age flipped.age
off=$((hdr_len + 16 + 100))
put_byte flipped.age "$off" $(( $(get_byte flipped.age "$off") ^ 1 ))
run "$D" decrypt -i k1.txt flipped.age
assert_fails 6 "payload" "flipped payload byte (exit 6)"
head -c -10 plain.age >trunc.age
run "$D" decrypt -i k1.txt trunc.age
assert_fails 6 "payload" "truncated payload (exit 6)"
head -c $((hdr_len + 16 + 65536 + 16)) plain.age >chunkcut.age
run "$D" decrypt -i k1.txt chunkcut.age
assert_fails 6 "payload" "payload cut at a chunk boundary (exit 6)"

# ---------------------------------------------------------------- terminal
# script(1) gives doormat a pseudo-terminal as stdout; its -e returns doormat's status.
script -qec "$D encrypt -r $pub1 $T/plain" /dev/null >"$T/tty.out" 2>&1 </dev/null
rc=$?
assert_eq "$rc" 2 "binary ciphertext to a terminal is refused (exit 2)"
assert_true "refusal suggests -a" grep -q 'refusing to write binary ciphertext to a terminal; use -a' "$T/tty.out"
script -qec "$D encrypt -a -r $pub1 $T/plain" /dev/null >"$T/tty.out" 2>&1 </dev/null
rc=$?
assert_eq "$rc" 0 "armored ciphertext to a terminal is fine"
assert_true "armor reached the terminal" grep -q 'BEGIN AGE ENCRYPTED FILE' "$T/tty.out"

# ---------------------------------------------------------------- output safety
mkdir safe
run "$D" decrypt -i k1.txt -o safe/out flipped.age
assert_exit 6 "failed decrypt to -o"
assert_absent safe/out "failed decrypt leaves no OUT"
printf 'precious\n' >safe/existing
cp safe/existing existing.saved
run "$D" decrypt -i k1.txt -o safe/existing trunc.age
assert_exit 6 "failed decrypt over an existing OUT"
assert_same safe/existing existing.saved "existing OUT untouched"
run "$D" decrypt -i k2.txt -o safe/existing plain.age
assert_exit 4 "wrong key over an existing OUT"
assert_same safe/existing existing.saved "existing OUT untouched after exit 4"
assert_eq "$(ls -A safe)" "existing" "no temporary files left in the directory"
run "$D" decrypt -i k1.txt -o safe/existing plain.age
assert_exit 0 "successful decrypt replaces OUT"
assert_same safe/existing plain "replaced OUT holds the plaintext"
run "$D" encrypt -r "$pub1" -o /dev/null plain
assert_exit 0 "encrypt to /dev/null (not a regular file)"
assert_true "/dev/null still a device" test -c /dev/null

mkfifo fifo.out
cat fifo.out >from-fifo &
cat_pid=$!
run "$D" decrypt -i k1.txt -o fifo.out plain.age
wait "$cat_pid"
assert_exit 0 "decrypt into a FIFO"
assert_same from-fifo plain "a FIFO is written directly"
assert_true "the FIFO is still a FIFO" test -p fifo.out

# A signal during the write removes the temporary file.
mkdir sig
mkfifo sig/in.fifo
exec 3<>sig/in.fifo
printf 'some data' >&3
"$D" encrypt -r "$pub1" -o sig/out.age <sig/in.fifo 2>/dev/null &
pid=$!
for _ in $(seq 50); do
  [ -n "$(find sig -name '.out.age.*' 2>/dev/null)" ] && break
  sleep 0.05
done
assert_true "temporary file exists while writing" sh -c '[ -n "$(find sig -name ".out.age.*")" ]'
kill -TERM "$pid"
wait "$pid"
rc=$?
exec 3>&-
assert_eq "$rc" 143 "SIGTERM ends the write"
assert_eq "$(ls -A sig)" "in.fifo" "SIGTERM leaves no temporary file and no OUT"

# ---------------------------------------------------------------- inspect
run "$D" encrypt -r "$pub1" -r "$pub2" -o two.age plain
run "$D" inspect two.age
assert_exit 0 "inspect"
assert_eq "$(sed -n 1,4p "$T/out")" "$(printf 'format: age v1\narmor: no\nstanza: X25519 x2\ncan be opened by: the holder of any of 2 X25519 identities')" "inspect lines"
size=$(stat -c %s two.age)
hb=$(sed -n 's/^header bytes: //p' "$T/out")
pb=$(sed -n 's/^payload bytes: //p' "$T/out")
assert_eq "$((hb + pb))" "$size" "header + payload bytes = file size"
assert_eq "$hb" $(( $(mac_offset two.age) + 44 )) "header bytes"
assert_true "two chunks" grep -qx 'chunks: 2' "$T/out"
assert_true "plaintext bytes" grep -qx 'plaintext bytes: 100000' "$T/out"
assert_true "file id is 32 hex digits" grep -Eqx 'file id: [0-9a-f]{32}' "$T/out"
run "$D" inspect --json <two.age
assert_exit 0 "inspect --json from stdin"
assert_match "$(cat "$T/out")" '^\{"format":"age v1","armor":false,"stanzas":\[\{"type":"X25519","count":2,"post_quantum":false\}\],"mixes_post_quantum":false,"can_be_opened_by":"the holder of any of 2 X25519 identities","header_bytes":[0-9]+,"payload_bytes":[0-9]+,"chunks":2,"plaintext_bytes":100000,"file_id":"[0-9a-f]{32}"\}$' "inspect --json"
run "$D" inspect plain.asc
assert_true "inspect sees armor" grep -qx 'armor: yes' "$T/out"
assert_true "inspect of armor: one key" grep -qx 'can be opened by: the holder of one X25519 identity' "$T/out"

finish
