#!/usr/bin/env bash
# doormat escrow authority endpoint: a witness's (or an agent's) url: and tls:
# lines written by a command; replacing them (a moved machine, a renewed TLS
# key); the authority id and everything but those lines unchanged; bad names,
# URLs and pins refused with one line, exit 2, the file untouched; the result
# still an authority that encrypt --escrow reads.
. "$(dirname "$0")/lib.sh"
D=$DOORMAT
cd "$T" || exit 1

run "$D" escrow witness init --name witness.example/w1 -o w1
assert_exit 0 "witness init"
run "$D" escrow init --name FBI --agents doj,court --threshold 2 --witness w1/witness.vkey -o fbi
assert_exit 0 "escrow init"
A=fbi/authority.pub
cp "$A" before.pub
id_before=$(sed -n 's/^id: //p' "$A")
PIN1=sha256//lmIZPUhHqiSdnesH0QVX4zEu8jEIWPI2xD3hZMnLQbM=
PIN2=sha256//Z95BIlW65q6tDVO9+ckPK37UoTLZHz13J21ZIb1i0Z8=

# ---- adding a witness's address and pin
run "$D" escrow authority endpoint --authority "$A" --url witness.example/w1=https://127.0.0.1:8443 \
  --tls "witness.example/w1=$PIN1"
assert_exit 0 "endpoint: add a witness"
assert_no_stderr "endpoint: add a witness"
assert_eq "$(cat "$T/out")" "witness.example/w1: url https://127.0.0.1:8443 (added)
witness.example/w1: tls $PIN1 (added)" "endpoint: what it says it did"
assert_eq "$(grep -c '^url: witness.example/w1 https://127.0.0.1:8443$' "$A")" 1 "the url: line"
assert_eq "$(grep -c "^tls: witness.example/w1 $PIN1\$" "$A")" 1 "the tls: line"
assert_eq "$(sed -n 's/^id: //p' "$A")" "$id_before" "the authority id is unchanged"
# Everything above the network section is byte for byte what it was.
n=$(grep -n '^tls: \|^url: ' before.pub | head -1 | cut -d: -f1)
assert_eq "$(head -n $((n - 1)) "$A" | sha256sum)" "$(head -n $((n - 1)) before.pub | sha256sum)" \
  "the signed part of authority.pub is unchanged"
assert_eq "$(stat -c %a "$A")" 644 "authority.pub stays 0644"

# ---- rotating: the machine moved and renewed its TLS key
run "$D" escrow authority endpoint --authority "$A" --url witness.example/w1=https://10.0.0.9:9443 \
  --tls "witness.example/w1=$PIN2"
assert_exit 0 "endpoint: rotate"
assert_eq "$(head -1 "$T/out")" "witness.example/w1: url https://10.0.0.9:9443 (was https://127.0.0.1:8443)" "rotate: the old url named"
assert_eq "$(grep -c '^url: witness.example/w1 ' "$A")" 1 "one url: line after rotating"
assert_eq "$(grep -c "^tls: witness.example/w1 $PIN2\$" "$A")" 1 "the new pin"
assert_eq "$(grep -c "$PIN1" "$A")" 0 "the old pin is gone"
# An agent's address too; the same value again is "unchanged".
run "$D" escrow authority endpoint --authority "$A" --url doj=https://127.0.0.1:8441
assert_exit 0 "endpoint: an agent"
run "$D" escrow authority endpoint --authority "$A" --url doj=https://127.0.0.1:8441
assert_eq "$(cat "$T/out")" "doj: url https://127.0.0.1:8441 (unchanged)" "endpoint: unchanged"
# The file is still an authority the tools read, with the same id.
run "$D" encrypt -r "$("$D" keygen 2>/dev/null | sed -n 's/^# public key: //p')" --escrow "$A" -o x.age /dev/null
assert_exit 0 "encrypt --escrow to the edited authority"

# ---- refusals: one line, exit 2, the file untouched
cp "$A" kept.pub
run "$D" escrow authority endpoint --authority "$A" --url nobody=https://127.0.0.1:1
assert_fails 2 '"nobody" is not an agent or a witness of this authority' "unknown name"
run "$D" escrow authority endpoint --authority "$A" --url doj=http://127.0.0.1:1
assert_fails 2 'is not an https:// URL' "not https"
run "$D" escrow authority endpoint --authority "$A" --tls doj=sha256//short
assert_fails 2 'is not a pin sha256//BASE64' "bad pin"
run "$D" escrow authority endpoint --authority "$A" --url doj
assert_fails 2 '--url wants NAME=https://HOST:PORT' "no ="
run "$D" escrow authority endpoint --authority "$A"
assert_fails 2 'give --url NAME=URL or --tls NAME=PIN' "nothing to set"
run "$D" escrow authority endpoint --url doj=https://127.0.0.1:1
assert_fails 2 'need --authority' "no authority"
# A good setting before a bad one changes nothing either.
run "$D" escrow authority endpoint --authority "$A" --url court=https://127.0.0.1:2 --url nobody=https://x
assert_exit 2 "a good and a bad setting"
assert_same "$A" kept.pub "refusals leave authority.pub untouched"
run "$D" escrow authority endpoint --authority missing.pub --url doj=https://127.0.0.1:1
assert_exit 1 "a missing authority file"
assert_absent missing.pub "no file made for a missing authority"
run "$D" escrow authority frob
assert_fails 2 'unknown subcommand "frob"' "unknown subcommand"
run "$D" escrow authority endpoint --help
assert_exit 0 "endpoint --help"
assert_true "--help shows the usage" grep -q 'doormat escrow authority endpoint --authority' "$T/out"
finish
