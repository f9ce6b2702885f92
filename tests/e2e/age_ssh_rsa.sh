#!/usr/bin/env bash
# Passphrase-protected ssh-rsa keys in OpenSSH's own format (what ssh-keygen makes
# by default), both ways against age 1.1.1, passphrases typed on a pseudo-terminal
# by expect. libssh 0.11 (Debian 13) opens such a key and hands it back itself:
# ssh-keygen is then never run, whatever stands in PATH under its name. libssh
# 0.10 (Debian 12) checks the passphrase but won't hand the key back, so
# OpenSSH's ssh-keygen rewrites it as encrypted PEM in a memory file, its prompts
# answered on a pseudo-terminal of doormat's (vault/ssh_keygen.c). Each platform
# is checked for what it does (the libssh version says which): with ssh-keygen,
# what it is given (its arguments, environment and terminal) and stand-ins for it
# that are missing, hang, fail, or give back another key; with libssh alone, that
# no stand-in runs and no ssh-keygen is needed. Checked on both: nothing reaches
# the disk and the key file is untouched.
. "$(dirname "$0")/lib.sh"
D=$DOORMAT
cd "$T" || exit 1
need_tools age ssh-keygen expect
KEYGEN=$(command -v ssh-keygen)
# Which path this platform takes: libssh from 0.11 on exports the key it opened.
LIBSSH_VERSION=$(pkg-config --modversion libssh 2>/dev/null)
case "$LIBSSH_VERSION" in
  0.[0-9].* | 0.10.*) VIA=ssh-keygen ;;
  [0-9]*) VIA=libssh ;;
  *) echo "age_ssh_rsa: pkg-config knows no libssh (make deps installs libssh-dev)" >&2; exit 1 ;;
esac
echo "age_ssh_rsa: libssh $LIBSSH_VERSION: protected OpenSSH RSA keys are read by $VIA"
hang_pid=
trap 'if [ -n "$hang_pid" ]; then kill -9 "$hang_pid" 2>/dev/null; fi; e2e_cleanup' EXIT

write_pty_script pty.exp 1
# The terminal session as text, and its last line.
session() { tr -d '\r' <"$T/pty.log"; }
last_line() { session | tail -1; }

printf 'the quick brown fox\n' >small.txt
make_file data.bin 100000
# A passphrase of 4 characters (ssh-keygen's PEM writer wants 5 or more: the PEM in
# memory is under a passphrase of doormat's own) and one with spaces and quotes.
ssh-keygen -q -t rsa -b 2048 -N 'pass' -C k -f k
# shellcheck disable=SC2016 # a literal $ in the passphrase
PW2='correct horse $battery "staple"'
ssh-keygen -q -t rsa -b 2048 -N "$PW2" -C k2 -f k2
ssh-keygen -q -t rsa -b 2048 -N '' -C other -f other
assert_eq "$(head -1 k)" "-----BEGIN OPENSSH PRIVATE KEY-----" "the key is in OpenSSH's format"
ERR_PREFIX='doormat: decrypt: invalid argument:'

# key_state FILE: its bytes, mode and modification time.
key_state() { sha256sum "$1" | cut -d' ' -f1; stat -c '%a %s %Y' "$1"; }
# tree: every file under the test directory but the terminal log.
tree() { find . -path ./pty.log -prune -o -print | sort; }
k_before=$(key_state k)

# ------------------------------------------------------- age -> doormat
age -R k.pub -o a.k.age data.bin
age -a -R k2.pub -o a.k2.age small.txt
mkdir tmp
before=$(tree)
pty pass env TMPDIR="$T/tmp" "$D" decrypt -i k -o d.k.out a.k.age
assert_exit 0 "doormat opens age's file with a protected OpenSSH RSA key"
assert_same d.k.out data.bin "doormat's plaintext (key k)"
assert_eq "$(session)" 'Enter passphrase for "k": ' "the terminal shows age's prompt and nothing else"
assert_eq "$(tree)" "$(printf '%s\n' "$before" ./d.k.out | sort)" "no file appeared but the output (none in TMPDIR)"
assert_eq "$(key_state k)" "$k_before" "the key file is untouched"
pty "$PW2" "$D" decrypt -i k2 -o d.k2.out a.k2.age
assert_exit 0 "an armored file, a passphrase with spaces and quotes"
assert_same d.k2.out small.txt "doormat's plaintext (key k2)"

# ------------------------------------------------------- doormat -> age
run "$D" encrypt -r "$(cat k.pub)" -o d.k.age data.bin
assert_exit 0 "doormat encrypts to k.pub"
pty pass age -d -i k -o a.k.out d.k.age
assert_exit 0 "age opens doormat's file (passphrase typed)"
assert_same a.k.out data.bin "age's plaintext"
run "$D" -e -i k -a -o self.age small.txt
assert_exit 0 "doormat -e -i k: to the key's own recipient, no prompt"
pty pass age -d -i k -o self.out self.age
assert_same self.out small.txt "age opens what doormat -e -i k made"

# ----------------------------------- age's command line, and what ssh-keygen gets
# A recording ssh-keygen first in PATH, which then runs the real one; the caller's
# askpass settings must not reach it (SSH_ASKPASS_REQUIRE=force would make it use
# /bin/false instead of the terminal).
mkdir rec
cat >rec/ssh-keygen <<EOF
#!/bin/sh
printf '%s\n' "\$@" >"$T/rec.args"
env >"$T/rec.env"
if [ -t 0 ] && (exec 9</dev/tty) 2>/dev/null; then echo tty; else echo none; fi >"$T/rec.tty"
read -r pid _ _ _ _ sid _ </proc/\$\$/stat
echo "\$pid \$sid" >"$T/rec.sid"
exec "$KEYGEN" "\$@"
EOF
chmod 755 rec/ssh-keygen
pty pass env PATH="$T/rec:$PATH" DISPLAY=:0 SSH_ASKPASS=/bin/false SSH_ASKPASS_REQUIRE=force \
  DOORMAT_CANARY=1 "$D" -d -i k -o c.k.out a.k.age
assert_exit 0 "doormat -d -i k (age's command line)"
assert_same c.k.out data.bin "doormat -d -i k: plaintext"
if [ "$VIA" = libssh ]; then
  assert_absent rec.args "libssh $LIBSSH_VERSION reads the key itself: ssh-keygen never runs"
  mkdir nokg fail
  for vg in valgrind valgrind.bin; do
    if command -v $vg >/dev/null; then ln -s "$(command -v $vg)" nokg/$vg; fi
  done
  pty pass env PATH="$T/nokg" "$D" decrypt -i k -o nokg.out a.k.age
  assert_exit 0 "libssh alone: no ssh-keygen in PATH"
  assert_same nokg.out data.bin "libssh alone: plaintext without ssh-keygen"
  printf '#!/bin/sh\necho ran >"%s/fail.ran"\nexit 1\n' "$T" >fail/ssh-keygen
  chmod 755 fail/ssh-keygen
  pty pass env PATH="$T/fail:$PATH" "$D" decrypt -i k -o fail.out a.k.age
  assert_exit 0 "libssh alone: a failing ssh-keygen in PATH does not matter"
  assert_same fail.out data.bin "libssh alone: plaintext beside a failing ssh-keygen"
  assert_absent fail.ran "libssh alone: the stand-in never ran"
  pty wrong-pass env PATH="$T/rec:$PATH" "$D" decrypt -i k -o never.out a.k.age
  assert_exit 2 "wrong passphrase"
  assert_eq "$(last_line)" "$ERR_PREFIX incorrect passphrase for the SSH key" "wrong passphrase, word for word"
  assert_absent never.out "nothing written after a wrong passphrase"
  run setsid -w "$D" decrypt -i k -o never.out a.k.age </dev/null
  assert_eq "$rc:$(cat "$T/err")" "2:$ERR_PREFIX no terminal to ask for the passphrase of the SSH key \"k\"" "no terminal"
  assert_eq "$(key_state k)" "$k_before" "the key file is untouched after every run"
  finish
fi
assert_eq "$(tr '\n' ' ' 2>/dev/null <rec.args)" "-p -m PEM -f /proc/self/fd/3 " "ssh-keygen's arguments: no passphrase, the memory file"
assert_eq "$(grep -cE '^(DISPLAY|SSH_ASKPASS|SSH_ASKPASS_REQUIRE|DOORMAT_CANARY|TMPDIR|HOME)=' rec.env)" 0 "ssh-keygen's environment: nothing of the caller's"
assert_eq "$(grep -cx 'LC_ALL=C' rec.env)" 1 "ssh-keygen's environment: LC_ALL=C"
assert_eq "$(cat rec.tty 2>/dev/null)" tty "ssh-keygen has a controlling terminal"
kg_pid=none kg_sid=; if [ -f rec.sid ]; then read -r kg_pid kg_sid <rec.sid; fi
assert_eq "$kg_sid" "$kg_pid" "ssh-keygen leads its own session"
rm -f rec.args

# ------------------------------------------------------------ refusals
pty wrong-pass env PATH="$T/rec:$PATH" "$D" decrypt -i k -o never.out a.k.age
assert_exit 2 "wrong passphrase"
assert_eq "$(last_line)" "$ERR_PREFIX incorrect passphrase for the SSH key" "wrong passphrase, word for word"
assert_absent rec.args "a wrong passphrase is refused by libssh; ssh-keygen never runs"
assert_absent never.out "nothing written after a wrong passphrase"
run setsid -w "$D" decrypt -i k -o never.out a.k.age </dev/null
assert_eq "$rc:$(cat "$T/err")" "2:$ERR_PREFIX no terminal to ask for the passphrase of the SSH key \"k\"" "no terminal"

# (under make memcheck the command is a script that runs valgrind from PATH, and
# Debian's valgrind is a script that runs valgrind.bin next to it)
mkdir nokg
for vg in valgrind valgrind.bin; do
  if command -v $vg >/dev/null; then ln -s "$(command -v $vg)" nokg/$vg; fi
done
pty pass env PATH="$T/nokg" "$D" decrypt -i k -o never.out a.k.age
assert_exit 2 "ssh-keygen missing"
assert_eq "$(session)" "Enter passphrase for \"k\": 
$ERR_PREFIX a passphrase-protected ssh-rsa key in OpenSSH format is read with the help of ssh-keygen, which is not in PATH (install openssh-client)" \
  "ssh-keygen missing: one line naming the package"

mkdir fail
printf '#!/bin/sh\necho "Load key: some detail of its own" >&2\nexit 1\n' >fail/ssh-keygen
chmod 755 fail/ssh-keygen
pty pass env PATH="$T/fail:$PATH" "$D" decrypt -i k -o never.out a.k.age
assert_exit 2 "ssh-keygen fails"
assert_eq "$(session)" "Enter passphrase for \"k\": 
$ERR_PREFIX ssh-keygen could not convert the SSH key in memory (exit status 1, before it asked for every passphrase)" \
  "ssh-keygen fails: one line of doormat's, none of ssh-keygen's"
assert_absent never.out "nothing written when ssh-keygen fails"

mkdir hang
printf '#!/bin/sh\necho $$ >"%s/hang.pid"\nexec sleep 120\n' "$T" >hang/ssh-keygen
chmod 755 hang/ssh-keygen
start=$(date +%s)
pty pass env PATH="$T/hang:$PATH" "$D" decrypt -i k -o never.out a.k.age
took=$(($(date +%s) - start))
hang_pid=$(cat hang.pid 2>/dev/null)
assert_exit 2 "ssh-keygen hangs"
assert_eq "$(last_line)" "$ERR_PREFIX ssh-keygen did not finish converting the SSH key within 10 seconds" "ssh-keygen hangs: the wait is bounded"
assert_true "the hanging ssh-keygen ran" test -n "$hang_pid"
assert_true "the hanging ssh-keygen was killed ($hang_pid)" sh -c "! kill -0 $hang_pid 2>/dev/null"
assert_true "ssh-keygen hangs: given up after about 10 s, not ${took}s" test "$took" -lt 50
assert_absent never.out "nothing written when ssh-keygen hangs"

# A stand-in that answers like ssh-keygen but gives back another key, under the
# passphrase doormat asked for: the public keys differ, and that is caught.
mkdir swap
cat >swap/ssh-keygen <<EOF
#!/bin/bash
stty icrnl -echo  # set before the first prompt: a change later could drop typed input
printf 'Enter old passphrase: '; IFS= read -r old
printf '\nEnter new passphrase (empty for no passphrase): '; IFS= read -r new
printf '\nEnter same passphrase again: '; IFS= read -r again
[ "\$old" = pass ] && [ "\$new" = "\$again" ] && [ \${#new} -ge 20 ] || exit 3
cp "$T/other" "$T/swap.key"
"$KEYGEN" -q -p -m PEM -P '' -N "\$new" -f "$T/swap.key" >/dev/null 2>&1 </dev/null || exit 4
cat "$T/swap.key" >/proc/self/fd/3
rm -f "$T/swap.key"
printf '\nYour identification has been saved with the new passphrase.\n'
EOF
chmod 755 swap/ssh-keygen
pty pass env PATH="$T/swap:$PATH" "$D" decrypt -i k -o never.out a.k.age
assert_exit 2 "ssh-keygen gives back another key"
assert_eq "$(last_line)" "$ERR_PREFIX the SSH key file's public and private keys differ" "another key, word for word"
assert_absent never.out "nothing written for another key"

assert_eq "$(key_state k)" "$k_before" "the key file is untouched after every run"
finish
