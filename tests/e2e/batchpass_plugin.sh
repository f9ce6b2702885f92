#!/usr/bin/env bash
# age-plugin-batchpass, the program built beside doormat (plugins/): age 1.1.1
# gains -j batchpass through the plugin protocol (recipient-v1), and doormat,
# given the plugin's identity in a file, drives both of its state machines
# (recipient-v1 and identity-v1) as a plugin client; each side opens what the
# other made.
. "$(dirname "$0")/lib.sh"
D=$DOORMAT
B=${DOORMAT_BUILD:-$(dirname "$D")}
AGE=${AGE:-/usr/bin/age}
PLUGIN=$B/age-plugin-batchpass
for tool in "$AGE" "$PLUGIN" python3; do
  [ -x "$tool" ] || command -v "$tool" >/dev/null || { echo "batchpass_plugin: $tool is missing" >&2; exit 1; }
done
export PATH="$B:$PATH"
unset AGE_PASSPHRASE AGE_PASSPHRASE_FD AGE_PASSPHRASE_WORK_FACTOR AGE_PASSPHRASE_MAX_WORK_FACTOR
cd "$T" || exit 1
printf 'through the plugin\n' >in.txt

# age 1.1.1 encrypts through the program; doormat (built in) opens it
run env AGE_PASSPHRASE='plug pass' AGE_PASSPHRASE_WORK_FACTOR=5 "$AGE" -e -j batchpass -o a.age in.txt
assert_exit 0 "age 1.1.1 -e -j batchpass through age-plugin-batchpass"
assert_eq "$(sed -n 2p a.age | cut -d' ' -f1,2,4)" "-> scrypt 5" "one scrypt stanza, work factor 5"
assert_eq "$(grep -c '^->' a.age)" 1 "the scrypt stanza stands alone"
run env AGE_PASSPHRASE='plug pass' "$D" -d -j batchpass a.age
assert_exit 0 "doormat opens what age made through the plugin"
assert_same "$T/out" in.txt "age -> plugin -> doormat"
run "$AGE" -e -j batchpass -o never.age in.txt
assert_exit 1 "age 1.1.1 through the plugin, no passphrase set"
assert_match "$(cat "$T/err")" 'batchpass plugin: either AGE_PASSPHRASE or AGE_PASSPHRASE_FD must be set' \
  "the plugin's words reach age"
assert_absent never.age "nothing written"

# doormat as the plugin's client: the data-less identity AGE-PLUGIN-BATCHPASS-1... in a file
python3 - >bp.id <<'PY'
CH = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
def pm(v):
    g = [0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3]; c = 1
    for x in v:
        t = c >> 25; c = (c & 0x1FFFFFF) << 5 ^ x
        for i in range(5): c ^= g[i] if (t >> i) & 1 else 0
    return c
h = "age-plugin-batchpass-"
p = pm([ord(x) >> 5 for x in h] + [0] + [ord(x) & 31 for x in h] + [0] * 6) ^ 1
print((h + "1" + "".join(CH[(p >> 5 * (5 - i)) & 31] for i in range(6))).upper())
PY
run env AGE_PASSPHRASE='plug pass' "$D" -d -i bp.id a.age
assert_exit 0 "doormat -d through the program (identity-v1)"
assert_same "$T/out" in.txt "identity-v1 unwraps age's file"
run env AGE_PASSPHRASE='wrong' "$D" -d -i bp.id -o never.txt a.age
assert_exit 1 "a wrong passphrase through the program"
assert_eq "$(cat "$T/err")" 'doormat: decrypt: plugin failed: age-plugin-batchpass: incorrect passphrase' \
  "the program says incorrect passphrase"
assert_absent never.txt "nothing written"
run env AGE_PASSPHRASE='plug pass' AGE_PASSPHRASE_MAX_WORK_FACTOR=4 "$D" -d -i bp.id a.age
assert_exit 1 "AGE_PASSPHRASE_MAX_WORK_FACTOR below the file's work factor"
assert_match "$(cat "$T/err")" 'work factor 5 is above the limit of 4' "the program checks the work factor limit"
run env AGE_PASSPHRASE='other pass' AGE_PASSPHRASE_WORK_FACTOR=6 "$D" -e -i bp.id -o b.age in.txt
assert_exit 0 "doormat -e through the program (recipient-v1 with add-identity)"
assert_eq "$(sed -n 2p b.age | cut -d' ' -f1,2,4)" "-> scrypt 6" "the program's stanza, work factor 6"
run env AGE_PASSPHRASE_FD=3 "$D" -d -j batchpass b.age 3< <(printf 'other pass\n')
assert_exit 0 "doormat (built in, AGE_PASSPHRASE_FD) opens what the program made"
assert_same "$T/out" in.txt "program -> doormat"
finish
