#!/usr/bin/env bash
# The escrow contract end to end: a 2-of-3 authority; plain age still opens an
# escrowed file for its recipient; a rogue sender's stripped or altered escrow
# stanzas (header MAC recomputed with the file key) still open with age but
# fail --require-escrow (exit 7, no output); two agents' shares under a valid
# warrant recover the exact plaintext, one share does not (exit 4); expired or
# out-of-scope warrants are refused (exit 8); every release is in the agent's
# transparency log, whose tampering audit verify catches (exit 9).
. "$(dirname "$0")/lib.sh"
D=$DOORMAT
AGE=${AGE:-/usr/bin/age}
AGE_KEYGEN=${AGE_KEYGEN:-/usr/bin/age-keygen}
cd "$T" || exit 1

# ---- an authority
run "$D" escrow init --name FBI --agents doj,court,vendor --threshold 2 -o fbi
assert_exit 0 "init"
ID=$(sed -n 's/^id: //p' fbi/authority.pub)
assert_match "$ID" '^[0-9a-f]{32}$' "authority id"
assert_eq "$(stat -c %a fbi/court.key fbi/agents/doj.key fbi/agents/court.key fbi/agents/vendor.key | sort -u)" "600" "secret key modes"
assert_eq "$(sed -n 2p fbi/logs/doj/checkpoint)" "0" "empty log"
assert_eq "$(stat -c %a fbi/agents/doj.logkey)" "600" "log key mode"
assert_true "authority lists log keys" grep -q '^log: doj doormat-escrow/FBI/doj/' fbi/authority.pub
assert_true "authority lists agents" grep -q '^agent: vendor age1' fbi/authority.pub
cp fbi/authority.pub pub.before
run "$D" escrow init --name FBI2 -o fbi
assert_fails 2 "refusing to overwrite an existing authority" "init over an authority"
assert_same fbi/authority.pub pub.before "authority untouched"

# ---- encrypt with escrow; plain age opens it for the recipient
"$AGE_KEYGEN" -o key.txt 2>/dev/null
R=$("$AGE_KEYGEN" -y key.txt)
make_file msg.bin 150000
run "$D" encrypt -r "$R" --escrow fbi/authority.pub -o msg.age msg.bin
assert_exit 0 "encrypt --escrow"
run "$AGE" -d -i key.txt -o age.out msg.age
assert_exit 0 "age decrypts an escrowed file"
assert_same age.out msg.bin "age plaintext"
run "$D" decrypt -i key.txt --require-escrow fbi/authority.pub -o dm.out msg.age
assert_exit 0 "compliant decrypt"
assert_same dm.out msg.bin "compliant plaintext"
run "$D" inspect msg.age
assert_exit 0 "inspect"
assert_true "inspect names authority, k-of-n, agents" \
  grep -qx "escrow: authority FBI ($ID), 2-of-3 shamir: doj, court, vendor" "$T/out"
assert_true "inspect says who can decrypt" \
  grep -qx "can be opened by: the holder of one X25519 identity; or any 2 of doj, court, vendor" "$T/out"
FID=$(sed -n 's/^escrow file id: //p' "$T/out")
assert_match "$FID" '^[0-9a-f]{32}$' "file id"

# ---- a rogue sender strips or alters the escrow stanzas
for mode in strip corrupt; do
  run "$D" escrow tamper --$mode -i key.txt -o rogue-$mode.age msg.age
  assert_exit 0 "tamper --$mode"
  run "$AGE" -d -i key.txt -o rogue.out rogue-$mode.age
  assert_exit 0 "age opens the $mode file"
  assert_same rogue.out msg.bin "age plaintext of the $mode file"
  run "$D" decrypt -i key.txt rogue-$mode.age
  assert_exit 0 "non-compliant doormat decrypt of the $mode file"
  run "$D" decrypt -i key.txt --require-escrow fbi/authority.pub rogue-$mode.age
  assert_fails 7 "escrow policy violated" "--require-escrow on the $mode file"
  assert_eq "$(stat -c %s "$T/out")" "0" "no output on stdout ($mode)"
  run "$D" decrypt -i key.txt --require-escrow fbi/authority.pub -o rogue-out.bin rogue-$mode.age
  assert_exit 7 "--require-escrow -o on the $mode file"
  assert_absent rogue-out.bin "no output file ($mode)"
done
run "$D" inspect rogue-strip.age
assert_true "stripped file shows no escrow" bash -c "! grep -q '^escrow:' '$T/out'"

# ---- warrant, two shares, recovery
run "$D" escrow warrant --court fbi/court.key --authority fbi/authority.pub \
  --case "SDNY 26-cr-42" --expires 2999-12-31 -o warrant.txt msg.age
assert_exit 0 "warrant"
assert_true "warrant names the file" grep -qx "file: $FID" warrant.txt
assert_true "warrant names the case" grep -qx "case: SDNY 26-cr-42" warrant.txt
for a in doj vendor; do
  run "$D" escrow unwrap --authority fbi/authority.pub --agent fbi/agents/$a.key \
    --warrant warrant.txt --log fbi/logs/$a -o $a.share msg.age
  assert_exit 0 "unwrap by $a"
  assert_eq "$(stat -c %a $a.share)" "600" "$a share mode"
done
assert_eq "$(sed -n 2p fbi/logs/doj/checkpoint) $(sed -n 2p fbi/logs/vendor/checkpoint) $(sed -n 2p fbi/logs/court/checkpoint)" "1 1 0" "two releases logged"
assert_true "the share carries its receipt" grep -qx "c2sp.org/tlog-proof@v1" doj.share
run "$D" escrow unwrap --authority fbi/authority.pub --agent fbi/agents/doj.key \
  --warrant warrant.txt --log fbi/logs/doj -o doj.share msg.age
assert_fails 2 "doj.share exists; a share is never written over a file" "no share over a file"
assert_eq "$(sed -n 2p fbi/logs/doj/checkpoint)" "1" "a refused output is not logged"
run "$D" escrow recover --authority fbi/authority.pub --share doj.share --share vendor.share \
  -o recovered.bin msg.age
assert_exit 0 "recover with two shares"
assert_same recovered.bin msg.bin "recovered plaintext"
run "$D" escrow recover --authority fbi/authority.pub --share doj.share vendor.share msg.age
assert_exit 0 "recover, shares listed after one --share"
cmp -s "$T/out" msg.bin && ok || fail "recovered plaintext on stdout"
run "$D" escrow recover --authority fbi/authority.pub --share doj.share -o one.bin msg.age
assert_fails 4 "needs 2 of 3" "recover with one share"
assert_absent one.bin "no output with one share"
run "$D" escrow recover --authority fbi/authority.pub --share doj.share --share doj.share msg.age
assert_fails 4 "needs 2 of 3" "the same share twice counts once"

# ---- refused warrants (exit 8), nothing released, nothing logged
cp fbi/logs/court/checkpoint log.before
run "$D" escrow warrant --court fbi/court.key --authority fbi/authority.pub \
  --case old --issued 2020-01-01 --expires 2020-01-31 -o expired.txt msg.age
assert_exit 0 "a warrant issued in the past (--issued)"
assert_true "--issued is the warrant's issue date" grep -qx "issued: 2020-01-01" expired.txt
run "$D" escrow unwrap --authority fbi/authority.pub --agent fbi/agents/court.key \
  --warrant expired.txt --log fbi/logs/court -o court.share msg.age
assert_fails 8 "expired on 2020-01-31" "expired warrant"
assert_absent court.share "no share under an expired warrant"
run "$D" escrow warrant --court fbi/court.key --authority fbi/authority.pub \
  --case bad --issued 2020-13-01 --expires 2020-12-31 -o bad-issued.txt msg.age
assert_fails 2 'issue date "2020-13-01" is not YYYY-MM-DD' "--issued must be a date"
assert_absent bad-issued.txt "no warrant with a bad --issued"
"$D" encrypt -r "$R" --escrow fbi/authority.pub -o other.age msg.bin
run "$D" escrow unwrap --authority fbi/authority.pub --agent fbi/agents/court.key \
  --warrant warrant.txt --log fbi/logs/court -o court.share other.age
assert_fails 8 "does not cover file" "warrant naming another file"
assert_absent court.share "no share for another file"
sed 's/^case: SDNY 26-cr-42$/case: SDNY 26-cr-43/' warrant.txt >edited.txt
run "$D" escrow unwrap --authority fbi/authority.pub --agent fbi/agents/court.key \
  --warrant edited.txt --log fbi/logs/court -o court.share msg.age
assert_fails 8 "signature does not verify" "edited warrant"
"$D" escrow init --name NSA --agents a,b -o nsa >/dev/null
"$D" escrow warrant --court nsa/court.key --authority nsa/authority.pub --case x \
  --expires 2999-01-01 -o nsa-warrant.txt msg.age
run "$D" escrow unwrap --authority fbi/authority.pub --agent fbi/agents/court.key \
  --warrant nsa-warrant.txt --log fbi/logs/court -o court.share msg.age
assert_fails 8 "is for authority NSA" "warrant of another authority"
assert_same fbi/logs/court/checkpoint log.before "refusals are not logged as releases"

# ---- shares and keys that do not belong
run "$D" escrow unwrap --authority fbi/authority.pub --agent nsa/agents/a.key \
  --warrant warrant.txt --log fbi/logs/court -o x.share msg.age
assert_fails 2 "nsa/agents/a.key: line 3: key belongs to authority" "agent key of another authority"
assert_absent x.share "no share for a foreign agent key"
"$D" escrow warrant --court fbi/court.key --authority fbi/authority.pub --case y \
  --expires 2999-01-01 -o w2.txt other.age
"$D" escrow unwrap --authority fbi/authority.pub --agent fbi/agents/court.key \
  --warrant w2.txt --log fbi/logs/court -o other-court.share other.age 2>/dev/null
run "$D" escrow recover --authority fbi/authority.pub --share doj.share \
  --share other-court.share -o mixed.bin msg.age
assert_fails 2 "other-court.share \(agent court\) is for another file" "share for another file"
assert_absent mixed.bin "no output with a foreign share"
run "$D" escrow recover --authority nsa/authority.pub --share doj.share --share vendor.share msg.age
assert_fails 2 "doj.share: line 2: the share is for authority" "share of another authority"
# The first base64 digit always changes (A becomes B, anything else A).
sed '/^share: /{s/^share: A/share: B/;t;s/^share: ./share: A/}' vendor.share >bad.share
chmod 600 bad.share # shares are secrets: recover refuses one readable by others
run "$D" escrow recover --authority fbi/authority.pub --share doj.share --share bad.share msg.age
assert_fails 2 "bad.share: line 9: the signature does not verify" "edited share"

# ---- the transparency log
run "$D" escrow audit verify --authority fbi/authority.pub fbi/logs/court
assert_exit 0 "audit verify"
assert_true "audit verify counts" grep -q "OK, log of agent court .*, 1 entry" "$T/out"
cp fbi/logs/court/checkpoint court-1.cp
"$D" escrow warrant --court fbi/court.key --authority fbi/authority.pub --case z \
  --expires 2999-01-01 -o w3.txt msg.age
run "$D" escrow unwrap --authority fbi/authority.pub --agent fbi/agents/court.key \
  --warrant w3.txt --log fbi/logs/court --requester "SA Jones" -o court.share msg.age
assert_exit 0 "a second release by court"
run "$D" escrow audit verify --authority fbi/authority.pub --since court-1.cp fbi/logs/court
assert_exit 0 "audit verify --since"
assert_true "consistent with the kept checkpoint" grep -q "consistent with court-1.cp (size 1)" "$T/out"
run "$D" escrow monitor --authority fbi/authority.pub
assert_exit 0 "monitor"
assert_eq "$(grep -c " file $FID " "$T/out")" "3" "monitor lists the three releases of msg.age"
assert_true "monitor names the requester" grep -q "court #1 file $FID .*requester SA Jones" "$T/out"
cp -r fbi/logs/court court-log.good
# One flipped byte in the entries: caught (exit 9).
printf 'X' | dd of=fbi/logs/court/tile/entries/000.p/2 bs=1 seek=40 conv=notrunc 2>/dev/null
run "$D" escrow audit verify --authority fbi/authority.pub fbi/logs/court
assert_fails 9 "a transparency log is inconsistent" "edited entry"
rm -rf fbi/logs/court && cp -r court-log.good fbi/logs/court
# A rollback to the earlier checkpoint: caught against the kept one.
cp fbi/logs/court/checkpoint court-2.cp
cp court-1.cp fbi/logs/court/checkpoint
run "$D" escrow audit verify --authority fbi/authority.pub --since court-2.cp fbi/logs/court
assert_fails 9 "rollback" "rollback"
cp court-2.cp fbi/logs/court/checkpoint
# A checkpoint signed by another key: refused.
run "$D" escrow audit verify --authority nsa/authority.pub fbi/logs/court
assert_fails 9 "not a log of NSA" "log checked against another authority"
# An edited checkpoint: the signature fails.
sed '2s/^2$/3/' court-2.cp >fbi/logs/court/checkpoint
run "$D" escrow audit verify --authority fbi/authority.pub fbi/logs/court
assert_fails 9 "does not verify" "edited checkpoint"
run "$D" escrow unwrap --authority fbi/authority.pub --agent fbi/agents/court.key \
  --warrant warrant.txt --log fbi/logs/court -o late.share msg.age
assert_fails 9 "does not verify" "no release on a tampered log"
assert_absent late.share "no share when the log is tampered"
cp court-2.cp fbi/logs/court/checkpoint

# ---- a rogue agent: vendor signs a share with a wrong value (Python's
# cryptography package plays vendor, with vendor's own key)
/usr/bin/python3 - fbi/agents/vendor.key vendor.share rogue.share <<'PY'
import base64, sys
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
key, share, out = sys.argv[1:]
seed = [l for l in open(key).read().split("\n") if l.startswith("seed: ")][0][6:]
seed = base64.b64decode(seed + "=" * (-len(seed) % 4))
sk = Ed25519PrivateKey.from_private_bytes(HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
    info=b"doormat/v1/escrow/agent-ed25519").derive(seed))
text = open(share).read()
head, rest = text.split("signature: ", 1)
receipt = rest.split("\n", 1)[1]
lines = head.split("\n")
i = [n for n, l in enumerate(lines) if l.startswith("share: ")][0]
v = bytearray(base64.b64decode(lines[i][7:] + "=="))
v[0] ^= 1
lines[i] = "share: " + base64.b64encode(bytes(v)).decode().rstrip("=")
head = "\n".join(lines)
sig = sk.sign(b"doormat/v1/escrow/share\n" + head.encode())
open(out, "w").write(head + "signature: " + base64.b64encode(sig).decode().rstrip("=") + "\n" + receipt)
PY
chmod 600 rogue.share
run "$D" escrow recover --authority fbi/authority.pub --share rogue.share --share doj.share -o r.bin msg.age
assert_fails 5 "no 2 of the 2 shares|does not match the header MAC" "a rogue share and one honest share"
assert_absent r.bin "nothing written"
run "$D" escrow recover --authority fbi/authority.pub --share rogue.share --share doj.share \
  --share court.share -o r.bin msg.age
assert_exit 0 "recovery passes over the rogue share"
assert_same r.bin msg.bin "recovered plaintext despite the rogue share"
assert_true "the rogue agent is named" grep -q "the share of agent vendor (rogue.share) does not fit" "$T/err"

finish
