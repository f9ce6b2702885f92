#!/usr/bin/env bash
# Witnesses and monitors from the command line: a 2-of-3 witness policy; a
# release fails (exit 9, nothing written) without enough cosignatures but is
# logged; the witness's add-checkpoint answers (200, 409, 422, 404) and exit
# codes; the monitor lists accesses to a file, keeps state, and catches a
# missing cosignature, a rollback and a fork (exit 9).
. "$(dirname "$0")/lib.sh"
D=$DOORMAT
cd "$T" || exit 1

for w in w1 w2 w3; do "$D" escrow witness init --name "$w.example/w" -o $w >/dev/null; done
assert_eq "$(stat -c %a w1/witness.key)" "600" "witness key mode"
run "$D" escrow witness init --name w1.example/w -o w1
assert_fails 2 "exists" "witness init never overwrites a key"
run "$D" escrow init --name DOJ --agents a,b --threshold 1 --witness w1/witness.vkey \
  --witness "$(cat w2/witness.vkey)" --witness w3/witness.vkey --witness-threshold 2 -o auth
assert_exit 0 "init with 2 of 3 witnesses"
assert_true "the policy is in authority.pub" grep -qx "witness-threshold: 2" auth/authority.pub
run "$D" escrow init --name X --witness-threshold 1 -o nope
assert_fails 2 "without --witness" "a threshold without witnesses"
run "$D" escrow init --name X --witness w1/witness.vkey --witness-threshold 2 -o nope
assert_fails 2 "from 1 to 1" "a threshold above the witnesses"
run "$D" escrow init --name X --witness "$(sed -n 's/^log: a //p' auth/authority.pub)" -o nope
assert_fails 2 "not a witness key" "a log key given as a witness"
assert_absent nope "nothing created"

"$D" keygen -o key.txt 2>/dev/null
R=$("$D" keygen -y key.txt)
make_file msg.bin 500
"$D" encrypt -r "$R" --escrow auth/authority.pub -o m.age msg.bin
"$D" encrypt -r "$R" --escrow auth/authority.pub -o other.age msg.bin
"$D" escrow warrant --court auth/court.key --authority auth/authority.pub --case c1 \
  --expires 2999-01-01 -o w.txt m.age other.age
FID=$("$D" inspect m.age | sed -n 's/^escrow file id: //p')

# One witness is not enough.
run "$D" escrow unwrap --authority auth/authority.pub --agent auth/agents/a.key --warrant w.txt \
  --log auth/logs/a --witness w1 -o one.share m.age
assert_fails 9 "1 of the witnesses cosigned its checkpoint and the authority needs 2" "one cosignature of two"
assert_absent one.share "no share without the cosignatures"
assert_eq "$(sed -n 2p auth/logs/a/checkpoint)" "1" "the release is logged all the same"
run "$D" escrow unwrap --authority auth/authority.pub --agent auth/agents/a.key --warrant w.txt \
  --log auth/logs/a --witness w1 --witness w3 -o a1.share m.age
assert_exit 0 "two witnesses cosign"
assert_eq "$(grep -c '^— w[13].example/w ' a1.share)" "2" "the receipt carries both cosignatures"
run "$D" escrow recover --authority auth/authority.pub --share a1.share -o rec.bin m.age
assert_exit 0 "recover with a cosigned receipt"
assert_same rec.bin msg.bin "recovered plaintext"

# The witness command itself, on request bodies from audit prove.
cp auth/logs/a/checkpoint a-2.cp
"$D" escrow unwrap --authority auth/authority.pub --agent auth/agents/a.key --warrant w.txt \
  --log auth/logs/a --witness w1 --witness w3 -o a2.share other.age 2>/dev/null
"$D" escrow audit prove --authority auth/authority.pub --since 2 auth/logs/a >from2.body
run "$D" escrow witness add-checkpoint --witness w2 --authority auth/authority.pub from2.body
assert_fails 9 "refused \(409\): 0" "w2 has seen nothing: 409 with its size"
"$D" escrow audit prove --authority auth/authority.pub --since 0 auth/logs/a >from0.body
run "$D" escrow witness add-checkpoint --witness w2 --authority auth/authority.pub <from0.body
assert_exit 0 "w2 cosigns from 0"
assert_match "$(cat "$T/out")" '^— w2.example/w [A-Za-z0-9+/=]+$' "one cosignature line"
"$D" escrow witness init --name w5.example/w -o w5 >/dev/null
{ printf 'old 0\n\n'; cat a-2.cp; } >at2.body
run "$D" escrow witness add-checkpoint --witness w5 --authority auth/authority.pub at2.body
assert_exit 0 "w5 cosigns size 2"
# The proof's second character becomes another one (A, or B where it was A).
sed '2{s/^\(.\)A/\1B/;t;s/^\(.\)./\1A/}' from2.body >bad.body
assert_true "the proof was changed" sh -c '! cmp -s from2.body bad.body'
run "$D" escrow witness add-checkpoint --witness w5 --authority auth/authority.pub bad.body
assert_fails 9 "refused \(422\)" "a bad consistency proof: 422"
run "$D" escrow witness add-checkpoint --witness w5 --authority auth/authority.pub from2.body
assert_exit 0 "w5 cosigns 2 -> 3 with the proof"
"$D" escrow init --name NSA -o nsa >/dev/null
run "$D" escrow witness add-checkpoint --witness w1 --authority nsa/authority.pub from2.body
assert_fails 2 "refused \(404\): unknown log" "a log the witness does not know: 404"

# Concurrent releases take turns on the log's lock and the witnesses' locks.
before=$(sed -n 2p auth/logs/b/checkpoint)
pids=()
for i in 1 2 3 4 5 6; do
  "$D" escrow unwrap --authority auth/authority.pub --agent auth/agents/b.key --warrant w.txt \
    --log auth/logs/b --witness w1 --witness w3 --requester "p$i" -o "p$i.share" other.age \
    2>"p$i.err" &
  pids+=($!)
done
okc=0
for p in "${pids[@]}"; do wait "$p" && okc=$((okc + 1)); done
assert_eq "$okc" "6" "six concurrent releases all succeed"
assert_eq "$(sed -n 2p auth/logs/b/checkpoint)" "$((before + 6))" "six entries"
run "$D" escrow audit verify --authority auth/authority.pub auth/logs/b
assert_exit 0 "the log verifies after concurrent releases"
run "$D" escrow recover --authority auth/authority.pub --share p3.share -o p3.bin other.age
assert_exit 0 "a share from the concurrent releases recovers"

# The monitor: accesses to a file, state, a missing cosignature, a rollback, a fork.
run "$D" escrow monitor --authority auth/authority.pub --state seen m.age
assert_exit 0 "monitor"
assert_eq "$(grep -c " file $FID " "$T/out")" "2" "two accesses to m.age (one refused, one released)"
assert_eq "$(grep -c ' file ' "$T/out")" "2" "only those to m.age"
assert_true "a summary per log" grep -q "^log b: OK at size 6, verified from nothing (0 listed)" "$T/out"
run "$D" escrow monitor --authority auth/authority.pub --state seen
assert_exit 0 "monitor again"
assert_eq "$(grep -c ' file ' "$T/out")" "0" "nothing new"
assert_true "consistent with the kept checkpoint" grep -q "^log a: OK at size 3, consistent with the kept size 3" "$T/out"
cp auth/logs/a/checkpoint a-3.cp
grep -v '^— w[13]' a-3.cp >auth/logs/a/checkpoint
run "$D" escrow monitor --authority auth/authority.pub --state seen
assert_fails 9 "0 valid witness cosignatures, the policy needs 2" "a checkpoint without cosignatures"
cp a-2.cp auth/logs/a/checkpoint
run "$D" escrow monitor --authority auth/authority.pub --state seen
assert_fails 9 "rollback: log doormat-escrow/DOJ/a/[0-9a-f]+ was at size 3 and now shows size 2" "rollback"
cp a-3.cp auth/logs/a/checkpoint
# A fork: another log of the same key with another history (what a log
# operator shows one monitor but not another).
cp -r auth/logs/a forked
cp a-2.cp forked/checkpoint
rm -f forked/tile/entries/000.p/3 forked/tile/0/000.p/3
"$D" escrow unwrap --authority auth/authority.pub --agent auth/agents/a.key --warrant w.txt \
  --log forked --requester "someone else" -o forked.share m.age 2>/dev/null
mkdir forklogs && cp -r auth/logs/b forklogs/b && cp -r forked forklogs/a
cp forked/checkpoint forked-3.cp
run "$D" escrow monitor --authority auth/authority.pub --state seen --logs forklogs
assert_fails 9 "(fork|cosignatures)" "a fork of the same size"
run "$D" escrow audit verify --authority auth/authority.pub --since a-3.cp forked
assert_fails 9 "fork: log doormat-escrow/DOJ/a/[0-9a-f]+ shows two roots for size 3" "audit verify names the fork"
run "$D" escrow witness add-checkpoint --witness w1 --authority auth/authority.pub \
  <("$D" escrow audit prove --authority auth/authority.pub --since 3 forked)
assert_fails 9 "refused \(422\)" "the witness refuses to cosign the fork"
finish
