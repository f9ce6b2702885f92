#!/usr/bin/env bash
# SSH keys and encrypted identity files, both ways against age 1.1.1: keys made
# by ssh-keygen (with and without passphrases, typed on a pseudo-terminal by
# expect), identity files that are passphrase-encrypted age files made by age,
# mixed recipient lists, armored and binary, pipes and files. Passphrase-protected
# ssh-rsa keys in OpenSSH's format (read with ssh-keygen's help): age_ssh_rsa.sh.
. "$(dirname "$0")/lib.sh"
D=$DOORMAT
cd "$T" || exit 1
need_tools age age-keygen ssh-keygen expect

write_pty_script pty.exp 1
printf 'the quick brown fox\n' >small.txt
make_file data.bin 200000

ssh-keygen -q -t ed25519 -N '' -C ed -f ed
ssh-keygen -q -t rsa -b 2048 -N '' -C rsa -f rsa
ssh-keygen -q -t ed25519 -N 'ed-secret' -C edp -f edp
ssh-keygen -q -t rsa -b 2048 -m PEM -N 'rsa-secret' -f rsapem
ssh-keygen -q -t rsa -b 1024 -N '' -f rsa1024
ssh-keygen -q -t ecdsa -N '' -f ecdsa

# ------------------------------------------------- clear keys, both ways
for k in ed rsa; do
  for armor in "" -a; do
    run "$D" encrypt $armor -r "$(cat $k.pub)" -o "d.$k$armor.age" data.bin
    assert_exit 0 "doormat encrypt to $k $armor"
    run age -d -i $k -o "a.$k$armor.out" "d.$k$armor.age"
    assert_exit 0 "age opens doormat's $k $armor"
    assert_same "a.$k$armor.out" data.bin "$k $armor: age's plaintext"
    age $armor -R $k.pub -o "a.$k$armor.age" data.bin
    run "$D" decrypt -i $k -o "d.$k$armor.out" "a.$k$armor.age"
    assert_exit 0 "doormat opens age's $k $armor"
    assert_same "d.$k$armor.out" data.bin "$k $armor: doormat's plaintext"
  done
done
# the stanza: type, tag (SHA-256 of the key's wire form, 4 bytes) and, for ed25519, a share
# key_tag PUBFILE: base64 of the first 4 bytes of SHA-256 of the key's wire form
key_tag() {
  local hex
  hex=$(cut -d' ' -f2 "$1" | base64 -d | sha256sum | cut -c1-8)
  # shellcheck disable=SC2059
  printf "$(printf '%s' "$hex" | sed 's/../\\x&/g')" | base64 | tr -d '='
}
tag=$(key_tag ed.pub)
# (compared as text: a tag may hold + or /)
line=$(grep -a '^-> ssh-ed25519' d.ed.age)
assert_eq "$(printf '%s' "$line" | cut -d' ' -f1-3)" "-> ssh-ed25519 $tag" "ssh-ed25519 stanza: type and tag"
assert_match "$(printf '%s' "$line" | cut -d' ' -f4-)" '^[A-Za-z0-9+/]{43}$' "ssh-ed25519 stanza: a 32-byte share"
tag=$(key_tag rsa.pub)
assert_eq "$(grep -a '^-> ssh-rsa' d.rsa.age)" "-> ssh-rsa $tag" "ssh-rsa stanza"

# pipes: recipients file and input on pipes, output to a pipe
cat ed.pub | "$D" encrypt -R - -o pipe.age small.txt
age -d -i ed pipe.age >pipe.out
assert_same pipe.out small.txt "-R - (a pipe) then age"
age -r "$(cat rsa.pub)" <small.txt | "$D" decrypt -i rsa >pipe2.out
assert_same pipe2.out small.txt "age | doormat decrypt -i rsa"

# ------------------------------------------ mixed recipients, authorized_keys
age-keygen -o x.txt 2>/dev/null
{ echo "# team"; cat ed.pub; echo; echo "ssh-dss AAAAB3NzaC1kc3MAAACBAP8 old-key"; cat ecdsa.pub; cat rsa.pub; } >authorized_keys
run "$D" encrypt -R authorized_keys -r "$(age-keygen -y x.txt)" -o mixed.age small.txt
assert_exit 0 "authorized_keys with unsupported types"
assert_eq "$(cat "$T/err")" "doormat: warning: recipients file \"authorized_keys\": ignoring unsupported SSH key of type \"ssh-dss\" at line 4
doormat: warning: recipients file \"authorized_keys\": ignoring unsupported SSH key of type \"ecdsa-sha2-nistp256\" at line 5" \
  "unsupported SSH keys in -R are passed over with a warning, as age does"
assert_eq "$(grep -ac '^-> ' mixed.age)" 3 "three stanzas: ssh-ed25519, ssh-rsa, X25519"
for id in ed rsa x.txt; do
  age -d -i $id mixed.age >mixed.out 2>/dev/null
  assert_same mixed.out small.txt "age opens the mixed file with $id"
  run "$D" decrypt -i $id mixed.age
  assert_same "$T/out" small.txt "doormat opens the mixed file with $id"
done
age -R ed.pub -R rsa.pub -r "$(age-keygen -y x.txt)" -a -o amixed.age small.txt
run "$D" decrypt -i rsa amixed.age
assert_same "$T/out" small.txt "doormat opens age's armored mixed file"

# ------------------------------------------------- refusals, word for word
run "$D" encrypt -r "ssh-dss AAAAB3NzaC1kc3MAAACBAP8" small.txt
assert_fails 2 'encrypt: recipient "ssh-dss AAAAB3NzaC1kc3MAAACBAP8": invalid argument: unsupported SSH key type "ssh-dss" \(only ssh-ed25519 and ssh-rsa are\)$' "ssh-dss is unsupported, not malformed"
run "$D" encrypt -r "$(cat ecdsa.pub)" small.txt
assert_fails 2 'unsupported SSH key type "ecdsa-sha2-nistp256" \(only ssh-ed25519 and ssh-rsa are\)$' "ecdsa is unsupported"
short=$(cut -d' ' -f2 ed.pub | base64 -d | head -c 40 | base64 -w0)
run "$D" encrypt -r "ssh-ed25519 $short" small.txt
assert_fails 2 'invalid argument: malformed ssh-ed25519 public key$' "a truncated ssh-ed25519 key is malformed"
run "$D" encrypt -r "$(cat rsa1024.pub)" small.txt
assert_fails 2 'ssh-rsa key of 1024 bits is too small \(at least 2048\)$' "1024-bit RSA refused as age does"
printf 'ssh-dss AAAAB3NzaC1kc3MAAACBAP8\n' >dss.keys
run "$D" encrypt -R dss.keys small.txt
assert_exit 2 "only unsupported keys"
assert_eq "$(tail -1 "$T/err")" "doormat: encrypt: recipients file dss.keys: invalid argument: no recipients found in the recipients file (only unsupported SSH keys)" "only unsupported keys, word for word"
cp ed.pub edpub.txt && chmod 600 edpub.txt
run "$D" decrypt -i edpub.txt d.ed.age
assert_fails 2 'line 1 is an SSH public key \(ssh-ed25519\), not an identity: give the private key file$' "-i with a public key"
assert_absent never.out "nothing written"

# ---------------------------------------------- keys with a passphrase
for k in edp rsapem; do
  pw=ed-secret; [ $k = rsapem ] && pw=rsa-secret
  run "$D" encrypt -r "$(cat $k.pub)" -o d.$k.age data.bin
  pty $pw age -d -i $k -o a.$k.out d.$k.age
  assert_exit 0 "age opens doormat's file for $k (passphrase typed)"
  assert_same a.$k.out data.bin "$k: age's plaintext"
  age -R $k.pub -o a.$k.age data.bin
  pty $pw "$D" decrypt -i $k -o d.$k.out a.$k.age
  assert_exit 0 "doormat opens age's file with $k (passphrase typed)"
  assert_same d.$k.out data.bin "$k: doormat's plaintext"
  assert_match "$(tr -d '\r' <"$T/pty.log" | head -1)" "^Enter passphrase for \"$k\": $" "$k: age's prompt"
done
# An OpenSSH key's public half is in clear: no prompt unless a stanza names the key.
run "$D" decrypt -i edp -i ed d.ed.age
assert_exit 0 "an unused protected key is never opened (no terminal needed)"
assert_same "$T/out" data.bin "the clear key opened it"
pty wrong-pass "$D" decrypt -i edp -o never.out d.edp.age
assert_exit 2 "wrong SSH key passphrase"
assert_eq "$(tr -d '\r' <"$T/pty.log" | tail -1)" "doormat: decrypt: invalid argument: incorrect passphrase for the SSH key" "wrong SSH key passphrase, word for word"
assert_absent never.out "nothing written after a wrong key passphrase"
# without a terminal (a cron job, CI), what is missing is said plainly
run setsid -w "$D" decrypt -i edp -o never.out d.edp.age </dev/null
assert_eq "$rc:$(cat "$T/err")" '2:doormat: decrypt: invalid argument: no terminal to ask for the passphrase of the SSH key "edp"' "protected SSH key, no terminal"

# encrypt -e -i: to the key's own recipient (no passphrase needed for an OpenSSH key)
run "$D" -e -i edp -o self.age small.txt
assert_exit 0 "doormat -e -i protected key: no prompt"
pty ed-secret age -d -i edp -o self.out self.age
assert_same self.out small.txt "age opens what -e -i edp made"
run "$D" encrypt -i rsa -i ed -a -o self2.age small.txt
age -d -i rsa self2.age >self2.out
assert_same self2.out small.txt "encrypt -i rsa -i ed: age opens with rsa"

# --------------------------------------------- encrypted identity files
age-keygen -o id.txt 2>/dev/null
pty 'id-secret-1' age -p -o id.age id.txt
assert_exit 0 "age -p of a keygen file"
chmod 600 id.age
pty 'id-secret-1' age -a -p -o id.asc id.txt
chmod 600 id.asc
age -r "$(age-keygen -y id.txt)" -o toid.age data.bin
for f in id.age id.asc; do
  pty 'id-secret-1' "$D" decrypt -i $f -o toid.$f.out toid.age
  assert_exit 0 "doormat decrypt -i $f (typed)"
  assert_same toid.$f.out data.bin "$f opens the file"
  assert_match "$(tr -d '\r' <"$T/pty.log" | head -1)" "^Enter passphrase for identity file \"$f\": $" "$f: prompt"
done
pty 'id-secret-1' "$D" -e -i id.age -o back.age small.txt
age -d -i id.txt back.age >back.out
assert_same back.out small.txt "doormat -e -i encrypted identity: age opens with the clear key"
pty 'not-it' "$D" decrypt -i id.age -o never.out toid.age
assert_exit 4 "wrong identity file passphrase"
assert_eq "$(tr -d '\r' <"$T/pty.log" | tail -1)" "doormat: decrypt: identity file id.age: incorrect passphrase" "wrong identity passphrase, word for word"
assert_absent never.out "nothing written"
run setsid -w "$D" decrypt -i id.age -o never.out toid.age </dev/null
assert_eq "$rc:$(cat "$T/err")" '2:doormat: decrypt: invalid argument: no terminal to ask for the passphrase of identity file "id.age"' "encrypted identity file, no terminal"
# an identity file encrypted to a key, not a passphrase
age -r "$(age-keygen -y x.txt)" -o id-to-key.age id.txt
chmod 600 id-to-key.age
pty 'whatever' "$D" decrypt -i id-to-key.age -o never.out toid.age
assert_match "$(tr -d '\r' <"$T/pty.log" | tail -1)" 'the identity file is encrypted with age but not with a passphrase$' "identity file for a key"


# Ed25519 keys in PKCS#8 PEM ("BEGIN PRIVATE KEY", from OpenSSL), read through OpenSSL as age does
openssl genpkey -algorithm ed25519 -out pk8.pem 2>/dev/null
printf 'pkcs8 secret\n' >pk8.txt
run "$D" -e -i pk8.pem -o pk8.age pk8.txt
assert_exit 0 "encrypt to a PKCS#8 Ed25519 key (-e -i)"
assert_eq "$(cat "$T/err")" "" "PKCS#8 key: nothing on stderr"
age -d -i pk8.pem pk8.age >pk8.out 2>/dev/null
assert_same pk8.out pk8.txt "age opens what doormat encrypted to the PKCS#8 key"
age -e -i pk8.pem -o pk8b.age pk8.txt
run "$D" -d -i pk8.pem pk8b.age
assert_exit 0 "doormat opens what age encrypted to the PKCS#8 key"
assert_same "$T/out" pk8.txt "PKCS#8 round trip from age"
openssl genpkey -algorithm x25519 -out x.pem 2>/dev/null
run "$D" -d -i x.pem pk8b.age
assert_exit 2 "a PKCS#8 key of another type"
assert_eq "$(cat "$T/err")" 'doormat: decrypt: identity file x.pem: invalid argument: unsupported PEM private key type (only RSA and Ed25519 PEM keys are)' "a PKCS#8 key of another type: the message"


# A passphrase-protected legacy PEM RSA key hides its public key: KEY.pub beside it says which
# files are for it (as age reads it). With no terminal at all (setsid): -e -i KEY encrypts to
# the .pub without asking, a file for another key is "no identity matched" without asking,
# and without the .pub the key is refused, naming it.
ssh-keygen -q -t rsa -b 2048 -m PEM -N 'legacy pass' -C '' -f legacy
ssh-keygen -q -t ed25519 -N '' -C '' -f notlegacy
assert_true "the legacy key is encrypted PEM" grep -q '^Proc-Type: 4,ENCRYPTED' legacy
run setsid -w "$D" -e -i legacy -o legacy.age pk8.txt </dev/null
assert_exit 0 "-e -i KEY (protected PEM): encrypts to KEY.pub"
assert_eq "$(cat "$T/err")" "" "-e -i KEY (protected PEM): nothing asked, nothing said"
run "$D" inspect legacy.age
assert_true "-e -i KEY: an ssh-rsa stanza" grep -q 'ssh-rsa' "$T/out"
"$D" -R notlegacy.pub -o other.age pk8.txt
run setsid -w "$D" -d -i legacy other.age </dev/null
assert_exit 4 "a file for another key: no passphrase asked"
assert_match "$(cat "$T/err")" '^doormat: decrypt: no identity matched any of the recipients' "a file for another key: no identity matched"
mv legacy.pub legacy.pub.away
run setsid -w "$D" -d -i legacy legacy.age </dev/null
assert_exit 2 "a protected PEM key without its .pub"
assert_eq "$(cat "$T/err")" 'doormat: decrypt: identity file legacy: invalid argument: the key is protected by a passphrase and does not show its public key: legacy.pub must be beside it (as age requires)' "a protected PEM key without its .pub: refused, naming it"

finish
