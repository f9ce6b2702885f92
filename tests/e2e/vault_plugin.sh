#!/usr/bin/env bash
# Plugins (c2sp.org/age-plugin): doormat and the real age 1.1.1 driving the
# same test plugin (tests/plugin/age-plugin-doormattest), each opening what the
# other made: plugin recipients and identities, -j NAME, -R and -i files that
# mix plugin and X25519 keys, armored and binary, files and pipes. Then the
# plugin's messages and questions (on a pseudo-terminal, through expect), and
# every way a plugin can fail: missing, crashing, killed, hanging, speaking
# garbage, reporting an error; each is one line, its exit code, and nothing
# written.
. "$(dirname "$0")/lib.sh"
D=$DOORMAT
AGE=${AGE:-/usr/bin/age}
AGE_KEYGEN=${AGE_KEYGEN:-/usr/bin/age-keygen}
PLUGIN_DIR=$(cd "$(dirname "$0")/../plugin" && pwd)
for tool in "$AGE" "$AGE_KEYGEN" expect setsid python3; do
  if ! command -v "$tool" >/dev/null; then
    echo "vault_plugin: $tool is missing (make deps installs it)" >&2
    exit 1
  fi
done
if ! python3 -c 'import cryptography' 2>/dev/null; then
  echo "vault_plugin: python3-cryptography is missing (make deps installs it)" >&2
  exit 1
fi
export PATH="$PLUGIN_DIR:$PATH"
unset DOORMATTEST_MODE DOORMAT_PLUGIN_TIMEOUT DOORMATTEST_PIN DOORMATTEST_LABEL
cd "$T" || exit 1

PLUG=age-plugin-doormattest
# bech32 HRP DATA_HEX: a Bech32 string, by the test plugin's own encoder.
bech32() {
  python3 - "$@" <<'EOF'
import importlib.machinery, importlib.util, shutil, sys
path = shutil.which("age-plugin-doormattest")
loader = importlib.machinery.SourceFileLoader("plug", path)
spec = importlib.util.spec_from_loader("plug", loader)
plug = importlib.util.module_from_spec(spec)
loader.exec_module(plug)
s = plug.b32_encode(sys.argv[1], bytes.fromhex(sys.argv[2]))
print(s.upper() if sys.argv[1].isupper() else s)
EOF
}

# ---------------------------------------------------------------- keys
$PLUG --keygen >pid1.txt
$PLUG --keygen >pid2.txt
chmod 600 pid1.txt pid2.txt
rcpt1=$(sed -n 's/^# recipient: //p' pid1.txt)
rcpt2=$(sed -n 's/^# recipient: //p' pid2.txt)
"$AGE_KEYGEN" -o x.txt 2>/dev/null
xpub=$("$AGE_KEYGEN" -y x.txt)
export DOORMATTEST_DEFAULT_IDENTITY
DOORMATTEST_DEFAULT_IDENTITY=$(grep '^AGE-PLUGIN-' pid2.txt)
# Plugin identities are secrets too: none may ever appear on standard error.
grep -h '^AGE-PLUGIN-' pid1.txt pid2.txt >>"$E2E_SECRETS"
assert_match "$rcpt1" '^age1doormattest1[02-9ac-hj-np-z]{58}$' "the plugin's recipient"

size=70000 # two chunks; one under valgrind (make memcheck), where every byte is slow
[ "${DOORMAT_MEMCHECK:-0}" = 1 ] && size=5000
make_file p $size

# ---------------------------------------------------------------- both ways
for armor in "" "-a"; do
  tag="plugin recipient${armor:+, armored}"
  run "$D" encrypt $armor -r "$rcpt1" -o d.age p
  assert_exit 0 "doormat encrypt, $tag"
  assert_no_stderr "doormat encrypt, $tag"
  run "$AGE" -d -i pid1.txt -o out d.age
  assert_exit 0 "age decrypts doormat's file ($tag)"
  assert_same out p "doormat -> age, $tag"
  run "$D" decrypt -i pid1.txt -o out d.age
  assert_same out p "doormat -> doormat, $tag"
  run "$AGE" -e $armor -r "$rcpt1" -o a.age p
  assert_exit 0 "age encrypt, $tag"
  run "$D" decrypt -i pid1.txt -o out a.age
  assert_exit 0 "doormat decrypts age's file ($tag)"
  assert_no_stderr "doormat decrypt, $tag"
  assert_same out p "age -> doormat, $tag"
done
run "$D" encrypt -r "$rcpt1" -o d.age p
assert_eq "$("$D" inspect d.age | grep '^stanza:')" "stanza: doormattest x1" "one doormattest stanza"
# Pipes both ways.
"$D" encrypt -r "$rcpt1" <p | "$AGE" -d -i pid1.txt >out
assert_same out p "doormat | age through pipes"
"$AGE" -e -a -r "$rcpt1" <p | "$D" decrypt -i pid1.txt >out
assert_same out p "age | doormat through pipes"
# Recipients are lower case, as age writes them (age refuses upper case too).
run "$D" encrypt -r "$(printf '%s' "$rcpt1" | tr a-z A-Z)" -o up.age p
assert_exit 2 "an upper-case recipient is refused"
assert_absent up.age "no output for an upper-case recipient"

# ---------------------------------------------------------------- mixed recipients
printf '# the team\n%s\n\n%s\n' "$rcpt1" "$xpub" >team.txt
run "$D" encrypt -R team.txt -r "$rcpt2" -o m.age p
assert_exit 0 "doormat -R with plugin and X25519 recipients, and -r"
assert_eq "$("$D" inspect m.age | grep '^stanza:' | tr '\n' ' ')" \
  "stanza: doormattest x2 stanza: X25519 x1 " "stanzas of the mixed file"
for k in x.txt pid1.txt pid2.txt; do
  run "$AGE" -d -i "$k" -o out m.age
  assert_same out p "age opens doormat's mixed file with $k"
  run "$D" decrypt -i "$k" -o out m.age
  assert_same out p "doormat opens its mixed file with $k"
done
run "$AGE" -e -a -R team.txt -r "$rcpt2" -o am.age p
for k in x.txt pid1.txt pid2.txt; do
  run "$D" decrypt -i "$k" -o out am.age
  assert_same out p "doormat opens age's mixed file with $k"
done

# An identity file with a plugin identity that does not match, then the
# X25519 key that does: the plugin unwraps nothing and the next one is tried.
{ echo "# plugin first"; grep '^AGE-PLUGIN' pid2.txt; echo; grep '^AGE-SECRET' x.txt; } >ids.txt
chmod 600 ids.txt
run "$AGE" -e -r "$xpub" -o x.age p
run "$D" decrypt -i ids.txt -o out x.age
assert_exit 0 "identity file: plugin identity, then X25519"
assert_same out p "identity file with a plugin identity and an X25519 key"
run "$D" decrypt -i pid2.txt -o out2 x.age
assert_fails 4 "no identity matched" "a plugin that unwraps nothing: no match"
assert_absent out2 "no output when no identity matched"

# ---------------------------------------------------------------- -j NAME
run "$D" encrypt -j doormattest -o j.age p
assert_exit 0 "doormat encrypt -j"
run "$AGE" -d -j doormattest -o out j.age
assert_same out p "age -d -j opens doormat's -j file"
run "$AGE" -d -i pid2.txt -o out j.age
assert_same out p "the -j file opens with the default identity's key"
run "$D" decrypt -j DoormatTest -o out j.age
assert_exit 0 "doormat decrypt -j (any case)"
assert_same out p "doormat -j -> doormat -j"
run "$AGE" -e -a -j doormattest -o aj.age p
run "$D" decrypt --plugin doormattest -o out aj.age
assert_same out p "age -e -j -> doormat decrypt --plugin"
# The data-less identity (AGE-PLUGIN-DOORMATTEST-1 and a checksum) in a file.
printf '%s\n' "$(bech32 AGE-PLUGIN-DOORMATTEST- '')" >default-id.txt
chmod 600 default-id.txt
run "$D" decrypt -i default-id.txt -o out j.age
assert_same out p "the default identity written in an identity file"
run "$D" encrypt -j doormattest -p -o no.age p
assert_fails 2 "a passphrase can't be combined with -r, -R, -i or -j" "-j with -p"
run "$D" encrypt -j 'bad/name' -o no.age p
assert_fails 2 "encrypt: -j bad/name: invalid argument: a plugin name may hold only letters, digits and - _ \. \+" "-j with a bad name"
run "$D" encrypt -r "$(grep '^AGE-PLUGIN' pid1.txt)" -o no.age p
assert_fails 2 "encrypt: -r was given a plugin identity" "a plugin identity given to -r"
assert_absent no.age "no output for refused -j, -r"

# ---------------------------------------------------------------- missing plugins
nosuch=$(bech32 age1nosuch 00112233)
echo keep >keep.txt
cp keep.txt keep.orig
run "$D" encrypt -r "$nosuch" -o keep.txt p
assert_fails 2 "encrypt: invalid argument: age-plugin-nosuch not found in PATH \\(you might want to install the \"nosuch\" plugin: see https://age-encryption.org/awesome#plugins\\)$" "missing plugin, encrypt -r"
run "$D" encrypt -j nosuch -o new.age p
assert_fails 2 "age-plugin-nosuch not found in PATH \\(you might want to install the \"nosuch\" plugin: see https://age-encryption.org/awesome#plugins\\)$" "missing plugin, encrypt -j"
run "$D" decrypt -j nosuch -o new.txt d.age
assert_fails 2 "decrypt: invalid argument: age-plugin-nosuch not found in PATH \\(you might want to install the \"nosuch\" plugin: see https://age-encryption.org/awesome#plugins\\)$" "missing plugin, decrypt -j"
bech32 AGE-PLUGIN-NOSUCH- 00 >nosuch-id.txt
chmod 600 nosuch-id.txt
run "$D" decrypt -i nosuch-id.txt -o keep.txt d.age
assert_fails 2 "age-plugin-nosuch not found in PATH \\(you might want to install the \"nosuch\" plugin: see https://age-encryption.org/awesome#plugins\\)$" "missing plugin, identity file"
# A plugin in the current directory is not found through a relative PATH entry.
cp "$PLUGIN_DIR/$PLUG" age-plugin-relonly
run env PATH=".:$PATH" "$D" encrypt -j relonly -o new.age p
assert_fails 2 "age-plugin-relonly not found in PATH \\(you might want to install the \"relonly\" plugin: see https://age-encryption.org/awesome#plugins\\)$" "relative PATH entries are not searched"
rm age-plugin-relonly
assert_same keep.txt keep.orig "an existing output survives a missing plugin"
assert_absent new.age "no output for a missing plugin (encrypt)"
assert_absent new.txt "no output for a missing plugin (decrypt)"

# ---------------------------------------------------------------- failing plugins
# expect_failure MODE REGEX WHAT: encrypt and decrypt with the plugin in MODE
# fail with exit 1 and one line matching REGEX, over an existing output and a
# new one, and to standard output, writing nothing anywhere.
run "$D" encrypt -r "$rcpt1" -o d.age p
# Every file here, hidden ones (the temporary outputs) too, but lib.sh's own.
files_here() { ls -A | grep -Ev '^\.(all-stderr|secrets)'; }
before=$(files_here)
expect_failure() {
  local mode=$1 regex=$2 what=$3
  DOORMATTEST_MODE=$mode run "$D" encrypt -r "$rcpt1" -r "$xpub" -o keep.txt p
  assert_fails 1 "encrypt: plugin failed: $regex" "$what (encrypt over a file)"
  DOORMATTEST_MODE=$mode run "$D" encrypt -a -r "$rcpt1" <p
  assert_fails 1 "encrypt: plugin failed: $regex" "$what (encrypt to stdout)"
  assert_eq "$(stat -c %s "$T/out")" 0 "$what: nothing on standard output (encrypt)"
  DOORMATTEST_MODE=$mode run "$D" decrypt -i pid1.txt -o new.txt d.age
  assert_fails 1 "decrypt: plugin failed: $regex" "$what (decrypt)"
  DOORMATTEST_MODE=$mode run "$D" decrypt -i pid1.txt d.age
  assert_exit 1 "$what (decrypt to stdout)"
  assert_eq "$(stat -c %s "$T/out")" 0 "$what: nothing on standard output (decrypt)"
  assert_same keep.txt keep.orig "$what: the existing output is untouched"
  assert_absent new.txt "$what: no new output"
  assert_eq "$(files_here)" "$before" "$what: no file left behind (temporary files included)"
}
expect_failure crash "age-plugin-doormattest exited with status 3: age-plugin-doormattest: simulated crash$" "crash"
expect_failure segv "age-plugin-doormattest was killed by signal 11 \(Segmentation fault\)$" "SIGSEGV"
expect_failure refuse "age-plugin-doormattest exited with status 1: age-plugin-doormattest: refusing to start$" "refusal to start"
expect_failure garbage "age-plugin-doormattest broke the protocol: a message does not start with \"-> \"$" "garbage"
expect_failure truncated "age-plugin-doormattest stopped before the end of the protocol \(in the middle of a message\)$" "a truncated message"
expect_failure error "age-plugin-doormattest: simulated failure$" "an error stanza"
DOORMATTEST_MODE=shortkey run "$D" decrypt -i pid1.txt -o new.txt d.age
assert_fails 1 "decrypt: plugin failed: age-plugin-doormattest broke the protocol: a file key is not 16 bytes$" "a short file key"
assert_absent new.txt "a short file key: no output"

# A hang: bounded by DOORMAT_PLUGIN_TIMEOUT, and the plugin is gone afterwards.
for cmd in encrypt decrypt; do
  rm -f plugin.pid
  start=$(date +%s)
  if [ $cmd = encrypt ]; then
    DOORMATTEST_MODE=hang DOORMATTEST_PIDFILE=$T/plugin.pid DOORMAT_PLUGIN_TIMEOUT=2 \
      run "$D" encrypt -r "$rcpt1" -o keep.txt p
  else
    DOORMATTEST_MODE=hang DOORMATTEST_PIDFILE=$T/plugin.pid DOORMAT_PLUGIN_TIMEOUT=2 \
      run "$D" decrypt -i pid1.txt -o new.txt d.age
  fi
  took=$(($(date +%s) - start))
  assert_fails 1 "$cmd: plugin failed: age-plugin-doormattest gave no answer within 2 s$" "a hanging plugin ($cmd)"
  assert_true "a hanging plugin is given up on quickly ($cmd, ${took}s)" [ "$took" -lt 20 ]
  pid=$(cat plugin.pid 2>/dev/null)
  assert_match "$pid" '^[0-9]+$' "the hanging plugin wrote its pid ($cmd)"
  assert_true "the hanging plugin was killed ($cmd)" eval "! kill -0 $pid 2>/dev/null"
done
assert_same keep.txt keep.orig "a hang leaves the existing output untouched"
assert_absent new.txt "a hang writes no output"
run env DOORMAT_PLUGIN_TIMEOUT=soon "$D" encrypt -r "$rcpt1" -o new.age p
assert_fails 2 "DOORMAT_PLUGIN_TIMEOUT wants a number of seconds" "a bad DOORMAT_PLUGIN_TIMEOUT"
assert_absent new.age "no output for a bad DOORMAT_PLUGIN_TIMEOUT"
run env DOORMAT_PLUGIN_TIMEOUT=soon "$D" encrypt -r "$xpub" -o x2.age p
assert_exit 0 "DOORMAT_PLUGIN_TIMEOUT is not read when no plugin runs"

# ---------------------------------------------------------------- well-behaved oddities
DOORMATTEST_MODE=msg run "$D" decrypt -i pid1.txt -o out d.age
assert_exit 0 "a plugin message"
assert_err_line "^doormat: doormattest plugin: touch the imaginary key$" "the plugin's message on stderr"
assert_same out p "a plugin message, then the file key"
DOORMATTEST_MODE=msg run "$D" encrypt -r "$rcpt1" -o m2.age p
assert_err_line "^doormat: doormattest plugin: touch the imaginary key$" "a plugin message while encrypting"
for mode in grease flood; do
  DOORMATTEST_MODE=$mode run "$D" encrypt -r "$rcpt1" -o g.age p
  assert_exit 0 "encrypt with a plugin that sends $mode"
  assert_no_stderr "encrypt, $mode"
  DOORMATTEST_MODE=$mode run "$D" decrypt -i pid1.txt -o out g.age
  assert_exit 0 "decrypt with a plugin that sends $mode"
  assert_same out p "$mode: the file opens"
done
start=$(date +%s)
DOORMATTEST_MODE=linger run "$D" decrypt -i pid1.txt -o out d.age
took=$(($(date +%s) - start))
assert_exit 0 "a plugin that lingers after done"
assert_true "a lingering plugin is not waited for long (${took}s)" [ "$took" -lt 20 ]

# ---------------------------------------------------------------- the terminal
# answer.exp PROMPT ANSWER DELAY CMD...: runs CMD on a pseudo-terminal, types
# ANSWER (after DELAY seconds) whenever PROMPT appears, exits with CMD's status.
cat >answer.exp <<'EXP'
set timeout 60
log_user 0
set prompt [lindex $argv 0]
set answer [lindex $argv 1]
set delay [lindex $argv 2]
spawn -noecho {*}[lrange $argv 3 end]
expect {
  -ex $prompt { sleep $delay; send -- "$answer\r"; exp_continue }
  eof
}
exit [lindex [wait] 3]
EXP
pty() { expect answer.exp "$@" >/dev/null 2>&1; }

PIN_PROMPT="Enter the doormattest PIN: "
DOORMATTEST_MODE=secret DOORMATTEST_PIN=4321 pty "$PIN_PROMPT" 4321 0 "$D" decrypt -i pid1.txt -o out d.age
assert_eq "$?" 0 "request-secret answered on the terminal (decrypt)"
assert_same out p "request-secret, then the file key"
rm -f out
DOORMATTEST_MODE=secret DOORMATTEST_PIN=4321 pty "$PIN_PROMPT" 1234 0 "$D" decrypt -i pid1.txt -o out d.age
assert_eq "$?" 1 "a wrong PIN: the plugin's error, exit 1"
assert_absent out "a wrong PIN: no output"
DOORMATTEST_MODE=secret DOORMATTEST_PIN=4321 pty "$PIN_PROMPT" 4321 0 "$D" encrypt -r "$rcpt1" -o s.age p
assert_eq "$?" 0 "request-secret answered on the terminal (encrypt)"
run "$AGE" -d -i pid1.txt -o out s.age
assert_same out p "the file made after a PIN opens in age"
# The timeout counts the plugin's silences, not the user's.
DOORMATTEST_MODE=secret DOORMATTEST_PIN=4321 DOORMAT_PLUGIN_TIMEOUT=4 \
  pty "$PIN_PROMPT" 4321 6 "$D" decrypt -i pid1.txt -o out d.age
assert_eq "$?" 0 "typing slower than DOORMAT_PLUGIN_TIMEOUT is fine"
# No terminal: the request fails, and the plugin says what that means.
DOORMATTEST_MODE=secret DOORMATTEST_PIN=4321 run setsid -w "$D" decrypt -i pid1.txt -o new.txt d.age
assert_fails 1 "decrypt: plugin failed: age-plugin-doormattest: no PIN$" "request-secret without a terminal"
assert_absent new.txt "no terminal: no output"

DOORMATTEST_MODE=public DOORMATTEST_LABEL=blue pty "Which doormattest label? " blue 0 "$D" decrypt -i pid1.txt -o out2 d.age
assert_eq "$?" 0 "request-public answered on the terminal"
assert_same out2 p "request-public, then the file key"
CONFIRM='Use the doormattest key? (type 1 for "Use it" or 2 for "Skip", then enter) '
rm -f out2
DOORMATTEST_MODE=confirm pty "$CONFIRM" 1 0 "$D" decrypt -i pid1.txt -o out2 d.age
assert_eq "$?" 0 "confirm: yes"
assert_same out2 p "confirm yes, then the file key"
rm -f out2
DOORMATTEST_MODE=confirm pty "$CONFIRM" 2 0 "$D" decrypt -i pid1.txt -o out2 d.age
assert_eq "$?" 4 "confirm: no, so nothing unwrapped (exit 4)"
assert_absent out2 "confirm no: no output"

# ---------------------------------------------------------------- manual
run "$D" encrypt --help
assert_match "$(cat "$T/out")" "-j, --plugin NAME" "encrypt --help lists -j"
run "$D" decrypt --help
assert_match "$(cat "$T/out")" "DOORMAT_PLUGIN_TIMEOUT" "decrypt --help names the timeout variable"

finish
