#!/usr/bin/env bash
# age's command line (doormat with age's flags and no command), compared with
# age 1.1.1, and the messages that say what happened, word for word.
. "$(dirname "$0")/lib.sh"
D=$DOORMAT
cd "$T" || exit 1
need_tools age age-keygen expect
write_pty_script pty.exp 1
assert_exit_of() { if [ "$1" -eq "$2" ]; then ok; else fail "$3: exit $1, want $2"; fi; }
# assert_says N LINE WHAT: exit N and exactly LINE on standard error.
assert_says() {
  assert_exit "$1" "$3"
  assert_eq "$(cat "$T/err")" "$2" "$3"
}
printf 'attack at dawn\n' >small.txt
make_file data.bin 100000
age-keygen -o k.txt 2>/dev/null
K=$(age-keygen -y k.txt)

# ------------------------------------------------------ the same scripts
run "$D" -r "$K" -o a.age data.bin
assert_exit 0 "doormat -r age1... -o OUT IN"
age -d -i k.txt a.age >a.out
assert_same a.out data.bin "age opens it"
run "$D" -d -i k.txt a.age
assert_exit 0 "doormat -d -i KEY FILE"
assert_same "$T/out" data.bin "doormat -d -i"
run "$D" --decrypt --identity k.txt -o b.out a.age
assert_same b.out data.bin "--decrypt --identity --output"
"$D" --encrypt --recipient "$K" --armor <small.txt >c.asc
assert_eq "$(head -1 c.asc)" "-----BEGIN AGE ENCRYPTED FILE-----" "--armor"
age --decrypt -i k.txt c.asc >c.out
assert_same c.out small.txt "age opens --armor output"
# Go's flags: one dash for long names works as well
run "$D" -decrypt -identity k.txt a.age
assert_same "$T/out" data.bin "-decrypt -identity (Go flag style)"
age -R <(echo "$K") -o r.age small.txt
run "$D" -d -i - r.age <k.txt
assert_same "$T/out" small.txt "identity on standard input"
run "$D" -e -i k.txt -o self.age small.txt
age -d -i k.txt self.age >self.out
assert_same self.out small.txt "-e -i: encrypt to the identity's recipient"

# ------------------------------------------------- age's usage errors
check_usage() { # ARGS... then the exact message in $want
  run "$D" "$@"
  assert_says 2 "$want" "doormat $*"
  age "$@" </dev/null >/dev/null 2>&1
  assert_true "age also refuses: age $*" test $? -ne 0
}
want='doormat: -a/--armor can'"'"'t be used with -d/--decrypt (armored files are detected automatically)'
check_usage -d -a -i k.txt a.age
want='doormat: -p/--passphrase can'"'"'t be used with -d/--decrypt (passphrase-protected files are detected automatically)'
check_usage -d -p a.age
want='doormat: -r/--recipient can'"'"'t be used with -d/--decrypt (did you mean to use -i/--identity to specify a private key?)'
check_usage -d -r "$K" a.age
want='doormat: -e/--encrypt can'"'"'t be used with -d/--decrypt'
check_usage -e -d a.age
want='doormat: -i/--identity and -j can'"'"'t be used in encryption mode unless symmetric encryption is explicitly selected with -e/--encrypt (did you forget to specify -d/--decrypt?)'
check_usage -i k.txt small.txt
want='doormat: missing recipients (did you forget to specify -r/--recipient, -R/--recipients-file or -p/--passphrase?)'
check_usage -a small.txt
want='doormat: -p/--passphrase can'"'"'t be combined with -r/--recipient'
check_usage -p -r "$K" small.txt
want='doormat: too many INPUT arguments: "small.txt", "-o" (the input file must be specified after all flags)'
check_usage -r "$K" small.txt -o x.age
assert_absent x.age "nothing written by a usage error"

run "$D" --bogus small.txt
assert_exit 2 "an unknown flag with no command"
assert_eq "$(head -1 "$T/err")" 'doormat: flag provided but not defined: --bogus' "an unknown flag: age's words"
assert_eq "$(sed -n 2p "$T/err")" 'Usage:' "an unknown flag: then the usage, as age"
assert_eq "$(cat "$T/out")" "" "an unknown flag: nothing on stdout"
for h in -h -help --help; do
  run "$D" -p $h
  assert_exit 0 "doormat -p $h"
  assert_eq "$(cat "$T/out")" "" "doormat -p $h: nothing on stdout"
  assert_eq "$(head -1 "$T/err")" 'Usage:' "doormat -p $h: the usage on stderr, as age"
done
run "$D"
assert_exit 2 "doormat with no arguments"
assert_eq "$(cat "$T/out")" "" "no arguments: nothing on stdout"
assert_true "no arguments: the usage on stderr" grep -qx 'Usage:' "$T/err"
run "$D" -d -i
assert_says 2 'doormat: option -i needs an argument (see doormat -e --help)' "a flag without its argument"

# age 1.3's duplicate warnings, in doormat's own commands too
run "$D" encrypt -r "$K" -a -r "$K" -o dup.age small.txt
assert_exit 0 "encrypt with a recipient twice"
assert_eq "$(cat "$T/err")" "doormat: warning: duplicate recipient \"$K\"" "encrypt: one warning for a duplicate recipient"
run "$D" decrypt -i k.txt -o dup.out -i k.txt dup.age
assert_exit 0 "decrypt with an identity file twice"
assert_eq "$(cat "$T/err")" 'doormat: warning: duplicate identity file "k.txt"' "decrypt: one warning for a duplicate identity file"
assert_same dup.out small.txt "decrypt with a duplicate identity file"

# age 1.2: the output is never the input, a key or a recipients file
cp small.txt same.txt
run "$D" encrypt -r "$K" -o ./same.txt same.txt
assert_says 2 'doormat: encrypt: input and output file are the same: "./same.txt"' "encrypt -o over IN"
assert_same same.txt small.txt "encrypt -o over IN: IN untouched"
cp k.txt keycopy
run "$D" -d -i keycopy -o keycopy dup.age
assert_says 2 'doormat: decrypt: input and output file are the same: "keycopy"' "-d -i KEY -o KEY"
assert_same keycopy k.txt "-d -i KEY -o KEY: the key untouched"
ln -s same.txt same.link
run "$D" -r "$K" -o same.link same.txt
assert_says 2 'doormat: encrypt: input and output file are the same: "same.link"' "-o a symlink to IN"

# age 1.3's batchpass, built in: -j batchpass takes the passphrase from the environment
run env AGE_PASSPHRASE='batch pass' AGE_PASSPHRASE_WORK_FACTOR=6 "$D" -e -j batchpass -o bp.age small.txt
assert_exit 0 "-e -j batchpass with AGE_PASSPHRASE"
assert_true "batchpass: one scrypt stanza of work factor 6" grep -aq '^-> scrypt [A-Za-z0-9+/]* 6$' bp.age
printf 'batch pass\n\n' >bp.pass
run env AGE_PASSPHRASE_FD=3 "$D" -d -j batchpass bp.age 3<bp.pass
assert_exit 0 "-d -j batchpass with AGE_PASSPHRASE_FD (trailing newlines stripped)"
assert_same "$T/out" small.txt "batchpass round trip"
run env AGE_PASSPHRASE=x AGE_PASSPHRASE_FD=3 "$D" -d -j batchpass bp.age
assert_says 2 'doormat: decrypt: -j batchpass: invalid argument: AGE_PASSPHRASE and AGE_PASSPHRASE_FD are mutually exclusive' "batchpass: both variables"
run env AGE_PASSPHRASE='batch pass' AGE_PASSPHRASE_MAX_WORK_FACTOR=5 "$D" -d -j batchpass bp.age
assert_match "$(cat "$T/err")" 'work factor 6 is above the limit of 5' "batchpass: AGE_PASSPHRASE_MAX_WORK_FACTOR"
run env AGE_PASSPHRASE=x "$D" -e -j batchpass -r "$K" small.txt
assert_says 2 "doormat: encrypt: incompatible recipients: -j batchpass (a passphrase) can't be combined with other recipients" "batchpass beside -r"

# ------------------------------------------------- binary and the terminal
printf 'set timeout 30\nlog_user 1\nspawn -noecho {*}$argv\nexpect eof\nexit [lindex [wait] 3]\n' >tty.exp
expect tty.exp "$D" -r "$K" small.txt >tty.log 2>&1
assert_exit_of $? 2 "binary to a terminal is refused"
assert_match "$(tr -d '\r' <tty.log)" 'refusing to write binary ciphertext to a terminal; use -a \(--armor\) or -o FILE \("-o -" forces it\)$' "refusal names -o -"
expect tty.exp "$D" -r "$K" -o - small.txt >tty.log 2>&1
assert_exit_of $? 0 "-o - forces binary to the terminal, as with age"
assert_match "$(head -c 21 tty.log)" '^age-encryption.org/v1' "the binary went to the terminal"
expect tty.exp "$D" encrypt -r "$K" -o - small.txt >tty.log 2>&1
assert_exit_of $? 0 "encrypt -o - on a terminal"

# ---------------------------------------- -p: an autogenerated passphrase
cat >gen.exp <<'EXP'
set timeout 120
log_user 1
spawn -noecho {*}$argv
expect -re {autogenerate a secure one\): $}
send -- "\r"
expect eof
exit [lindex [wait] 3]
EXP
expect gen.exp "$D" -p -o gen.age small.txt >gen.log 2>&1
assert_exit_of $? 0 "-p with an empty passphrase"
line=$(tr -d '\r' <gen.log | grep 'using autogenerated passphrase')
assert_match "$line" '^doormat: using autogenerated passphrase "([a-z]+-){9}[a-z]+"$' "ten words joined by -, as age prints them"
word=$(printf '%s' "$line" | sed 's/.*"\(.*\)"/\1/')
printf '%s\n' "$word" >gen.pass
run "$D" decrypt --passphrase-file gen.pass gen.age
assert_same "$T/out" small.txt "the autogenerated passphrase opens the file"
pty "$word" age -d -o gen.out gen.age
assert_same gen.out small.txt "age opens it with the autogenerated passphrase"

# ---------------------------------------------- messages, word for word
# 1. armor broken after the header: the armor's problem, exit 3
"$D" -r "$K" -a -o big.asc data.bin
n=$(wc -l <big.asc)
{ cat big.asc; echo "junk"; } >junk.asc
run "$D" -d -i k.txt -o never.out junk.asc
assert_says 3 "doormat: decrypt: malformed ASCII armor: armor line $n: data after the END line" "trailing junk after the armor"
head -n -1 big.asc >noend.asc
run "$D" -d -i k.txt -o never.out noend.asc
assert_says 3 "doormat: decrypt: malformed ASCII armor: armor line $((n - 1)): unexpected end of input (no END line)" "missing END line"
sed '21s/^\(.\{10\}\)./\1*/' big.asc >badchar.asc
run "$D" -d -i k.txt -o never.out badchar.asc
assert_says 3 'doormat: decrypt: malformed ASCII armor: armor line 21: invalid or non-canonical base64' "a bad base64 character"
assert_absent never.out "nothing written from broken armor"
# 2. a wrong passphrase says so
printf 'correct horse\n' >right.pass
printf 'wrong horse\n' >wrong.pass
"$D" encrypt --passphrase-file right.pass -o pass.age small.txt
run "$D" decrypt --passphrase-file wrong.pass -o never.out pass.age
assert_says 4 'doormat: decrypt: incorrect passphrase' "wrong passphrase (file)"
pty 'wrong horse' "$D" -d -o never.out pass.age
assert_exit 4 "wrong passphrase (terminal)"
assert_eq "$(tr -d '\r' <"$T/pty.log" | tail -1)" "doormat: decrypt: incorrect passphrase" "wrong passphrase (terminal), word for word"
# 3. unsupported key types are named as such
run "$D" -r "ssh-dss AAAAB3NzaC1kc3MAAACBAP8" small.txt
assert_says 2 'doormat: encrypt: recipient "ssh-dss AAAAB3NzaC1kc3MAAACBAP8": invalid argument: unsupported SSH key type "ssh-dss" (only ssh-ed25519 and ssh-rsa are)' "ssh-dss"
run "$D" -r "pgp-key 12345" small.txt
assert_says 2 'doormat: encrypt: recipient "pgp-key 12345": invalid argument: unknown recipient type "pgp-key" (want age1..., ssh-ed25519 or ssh-rsa)' "an unknown recipient type"
printf 'AGE-SECRET-KEY-PQ-1QQQQ\n' >pq.txt && chmod 600 pq.txt
run "$D" -d -i pq.txt a.age
if "$D" keygen -pq >/dev/null 2>&1; then
  assert_says 2 'doormat: decrypt: identity file pq.txt: invalid argument: malformed secret key at line 1' "a malformed hybrid identity"
else
  assert_says 2 'doormat: decrypt: identity file pq.txt: invalid argument: line 1 is an AGE-SECRET-KEY-PQ-1 identity: this build cannot use age1pq (ML-KEM-768 hybrid post-quantum) recipients: it needs OpenSSL 3.5 or later, with ML-KEM-768 and SHA-3' "a hybrid identity, without ML-KEM"
fi
# 4. -i on a passphrase-encrypted file: the hint
run "$D" -d -i k.txt -o never.out pass.age
assert_says 4 'doormat: decrypt: file is passphrase-encrypted but identities were specified: leave out -i and -j to be asked for the passphrase (or use --passphrase-file)' "-i on a passphrase file"
# 5. identity files are read whatever their mode, as age reads them
cp k.txt group.txt && chmod 640 group.txt
run "$D" -d -i group.txt a.age
assert_exit 0 "a 0640 identity file is read"
assert_same "$T/out" data.bin "a 0640 identity file decrypts"
assert_eq "$(cat "$T/err")" "" "a 0640 identity file: nothing on stderr"
age-keygen -y k.txt >k.pub
chmod 644 k.pub
run "$D" -d -i k.pub a.age
assert_exit 2 "a public key given as identity file"
assert_match "$(cat "$T/err")" "^doormat: decrypt: identity file k.pub: invalid argument: " "a public key is called malformed, not readable by others"
assert_absent never.out "no output from any refused run"

finish
