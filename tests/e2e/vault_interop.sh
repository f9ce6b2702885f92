#!/usr/bin/env bash
# doormat and the real age 1.1.1, each opening what the other made: sizes
# around the 64 KiB chunk boundaries, binary and armored, several recipients,
# -R files, keys from either tool, and passphrases typed on a pseudo-terminal.
. "$(dirname "$0")/lib.sh"
D=$DOORMAT
AGE=${AGE:-/usr/bin/age}
AGE_KEYGEN=${AGE_KEYGEN:-/usr/bin/age-keygen}
for tool in "$AGE" "$AGE_KEYGEN" expect; do
  if ! command -v "$tool" >/dev/null; then
    echo "vault_interop: $tool is missing (make deps installs it)" >&2
    exit 1
  fi
done
cd "$T" || exit 1

# age reads passphrases only from a terminal: expect gives every command here a
# pseudo-terminal and types PW at each passphrase prompt. Exits with the command's status.
write_pty_script pty.exp 0
pty() { PW=$1 expect pty.exp "${@:2}"; }

# ---------------------------------------------------------------- keys
"$AGE_KEYGEN" -o age-key.txt 2>/dev/null
age_pub=$("$AGE_KEYGEN" -y age-key.txt)
"$D" keygen -o dm-key.txt 2>/dev/null
dm_pub=$("$D" keygen -y dm-key.txt)
"$D" keygen -o dm-key2.txt 2>/dev/null
dm_pub2=$("$D" keygen -y dm-key2.txt)

run "$D" keygen -y age-key.txt
assert_exit 0 "doormat reads age-keygen's key file"
assert_eq "$(cat "$T/out")" "$age_pub" "doormat keygen -y on age-keygen's key"
assert_eq "$("$AGE_KEYGEN" -y dm-key.txt)" "$dm_pub" "age-keygen -y on doormat's key"

# ---------------------------------------------------------------- sizes x armor x direction
for size in 0 1 65535 65536 65537 131072 131073 3145728; do
  make_file p "$size"
  for armor in "" "-a"; do
    tag="$size bytes${armor:+ armored}"
    # doormat encrypts; age decrypts with its own key and with doormat's key file.
    run "$D" encrypt $armor -r "$age_pub" -r "$dm_pub" -o d.age p
    assert_exit 0 "doormat encrypt, $tag"
    run "$AGE" -d -i age-key.txt -o out d.age
    assert_exit 0 "age decrypts doormat's file ($tag)"
    assert_same out p "doormat -> age with age's key, $tag"
    run "$AGE" -d -i dm-key.txt -o out d.age
    assert_same out p "doormat -> age with doormat's key, $tag"
    # age encrypts; doormat decrypts with its own key and with age-keygen's key file.
    run "$AGE" -e $armor -r "$dm_pub" -r "$age_pub" -o a.age p
    assert_exit 0 "age encrypt, $tag"
    run "$D" decrypt -i dm-key.txt -o out a.age
    assert_exit 0 "doormat decrypts age's file ($tag)"
    assert_same out p "age -> doormat with doormat's key, $tag"
    run "$D" decrypt -i age-key.txt -o out a.age
    assert_same out p "age -> doormat with age's key, $tag"
  done
  # Both tools must produce the same size for the same plaintext (same chunking).
  "$D" encrypt -r "$age_pub" -o d1.age p
  "$AGE" -e -r "$age_pub" -o a1.age p
  assert_eq "$(stat -c %s d1.age)" "$(stat -c %s a1.age)" "same ciphertext size as age, $size bytes"
done

# ---------------------------------------------------------------- -R files, several recipients
make_file p 70000
printf '# doormat and age keys\n%s\n\n# second doormat key\n%s\n%s\n' "$dm_pub" "$dm_pub2" "$age_pub" >rcpts.txt
run "$AGE" -e -R rcpts.txt -o a.age p
assert_exit 0 "age -R with comments"
for k in dm-key.txt dm-key2.txt; do
  run "$D" decrypt -i "$k" -o out a.age
  assert_same out p "age -R file, doormat decrypts with $k"
done
run "$D" encrypt -R rcpts.txt -o d.age p
assert_exit 0 "doormat -R with comments"
run "$AGE" -d -i age-key.txt -o out d.age
assert_same out p "doormat -R file, age decrypts"
cat age-key.txt dm-key2.txt >multi.txt
chmod 600 multi.txt
run "$AGE" -e -r "$dm_pub2" -o a.age p
run "$D" decrypt -i multi.txt -o out a.age
assert_same out p "doormat: identity file holding an age-keygen key and a doormat key"
run "$D" encrypt -r "$dm_pub2" -o d.age p
run "$AGE" -d -i multi.txt -o out d.age
assert_same out p "age: identity file holding both tools' keys"
run "$AGE" -d -i dm-key.txt d.age
assert_true "age refuses a file not for its key" test "$rc" -ne 0
run "$D" decrypt -i dm-key.txt a.age
assert_exit 4 "doormat refuses age's file for another key"

# ---------------------------------------------------------------- passphrases, both ways
PASS='tr0ub4dor & 3, with spaces'
printf '%s\n' "$PASS" >pass.txt
make_file p 65537

pty "$PASS" "$AGE" -p -o a.age p
assert_eq "$?" 0 "age -p through a pty"
run "$D" decrypt --passphrase-file pass.txt -o out a.age
assert_exit 0 "doormat --passphrase-file opens age -p"
assert_same out p "age -p -> doormat --passphrase-file"
pty "$PASS" "$D" decrypt -o out2 a.age
assert_eq "$?" 0 "doormat prompts for the passphrase on the terminal"
assert_same out2 p "age -p -> doormat prompt"
pty "wrong passphrase" "$D" decrypt -o out3 a.age
assert_eq "$?" 4 "doormat: wrong passphrase at the prompt (exit 4)"
assert_absent out3 "no output after a wrong passphrase"

run "$D" encrypt --passphrase-file pass.txt -a -o d.age p
assert_exit 0 "doormat --passphrase-file, armored"
rm -f out
pty "$PASS" "$AGE" -d -o out d.age
assert_eq "$?" 0 "age decrypts doormat's passphrase file through a pty"
assert_same out p "doormat --passphrase-file -> age"

pty "$PASS" "$D" encrypt -p -o d2.age p
assert_eq "$?" 0 "doormat -p through a pty (asked twice)"
rm -f out
pty "$PASS" "$AGE" -d -o out d2.age
assert_same out p "doormat -p -> age"

finish
