#!/usr/bin/env bash
# escrow init --pq end to end: an authority whose agents hold hybrid
# post-quantum keys (ML-KEM-768 + X25519, age1pq1...), so that the shares
# escrowed in a file are as safe as its own post-quantum recipients. A file
# to an age1pq1 recipient with --escrow: the recipient opens it, the compliant
# check passes (shamir, LEAF and crumple modes, whose stanzas are rebuilt from
# the file key), inspect names the authority's keys post-quantum and does not
# warn; two agents' shares under a warrant recover it, one does not, and so do
# two agents serving over HTTPS on 127.0.0.1 (escrow serve, escrow request); a
# classical authority can't escrow a post-quantum file, nor a post-quantum
# authority a classical one (no mixing).
#
# A build without ML-KEM (OpenSSL older than 3.5) checks that --pq says so in
# one line (exit 2) and reports the rest as skipped, by name.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../service_lib.sh"
D=$DOORMAT
cd "$T" || exit 1
NEED='this build cannot use age1pq .*OpenSSL 3\.5 or later'

run "$D" escrow init --name PQ --agents doj,court,vendor --threshold 2 --pq -o pq
if [ "$rc" -ne 0 ]; then
  assert_fails 2 "$NEED" "escrow init --pq without ML-KEM"
  assert_absent pq "escrow init --pq wrote nothing"
  for skipped in init-pq encrypt-escrow-pq compliant-check-pq inspect-pq recover-pq no-mixing-pq \
                 request-pq-https; do
    skip "$skipped" "this build has no ML-KEM (it needs OpenSSL 3.5 or later)"
  done
  finish
fi
assert_exit 0 "init-pq"
assert_eq "$(grep -c '^agent: [a-z]* age1pq1[02-9ac-hj-np-z]\{1952\} ' pq/authority.pub)" 3 \
  "init-pq: every agent has an age1pq1 key"
run "$D" escrow init --name CL --agents a,b -o cl
assert_exit 0 "a classical authority beside it"

run "$D" keygen -pq -o user.key
R=$(sed -n 's/^# public key: //p' user.key)
"$D" keygen -o classic.key 2>/dev/null
RC=$(sed -n 's/^# public key: //p' classic.key)
make_file msg.bin 150000

run "$D" encrypt -r "$R" --escrow pq/authority.pub -o msg.age msg.bin
assert_exit 0 "encrypt-escrow-pq: to an age1pq1 recipient with --escrow"
assert_eq "$(grep -c '^-> doormat-escrow shamir ' msg.age)" 3 "encrypt-escrow-pq: three escrow stanzas"
assert_eq "$(grep -c '^-> mlkem768x25519 ' msg.age)" 1 "encrypt-escrow-pq: the recipient's stanza"
run "$D" decrypt -i user.key -o dm.out msg.age
assert_same dm.out msg.bin "encrypt-escrow-pq: the recipient opens it"
run "$D" decrypt -i user.key --require-escrow pq/authority.pub -o c.out msg.age
assert_exit 0 "compliant-check-pq: shamir"
assert_same c.out msg.bin "compliant-check-pq: shamir plaintext"
for m in "--leaf-bits 16" "--crumple-bits 8"; do
  # shellcheck disable=SC2086
  run "$D" encrypt -r "$R" --escrow pq/authority.pub $m -o m.age msg.bin
  assert_exit 0 "encrypt-escrow-pq $m"
  # shellcheck disable=SC2086
  run "$D" decrypt -i user.key --require-escrow pq/authority.pub $m -o m.out m.age
  assert_exit 0 "compliant-check-pq $m"
  assert_same m.out msg.bin "compliant-check-pq $m: plaintext"
done

run "$D" inspect msg.age
assert_true "inspect-pq: the authority's agent keys are post-quantum" \
  grep -q '^escrow: authority PQ ([0-9a-f]*), 2-of-3 shamir (post-quantum agent keys): doj, court, vendor$' "$T/out"
assert_no_stderr "inspect-pq: no mixing warning"
run "$D" inspect --json msg.age
assert_match "$(cat "$T/out")" '"mode":"shamir","file_id":"[0-9a-f]{32}","post_quantum":true' "inspect-pq --json"
assert_match "$(cat "$T/out")" '"mixes_post_quantum":false' "inspect-pq --json: not mixed"

# ---- warrant, two shares, recovery
# Warrants name the escrow file id, the one the stanzas bind (not the header's hash).
FID=$("$D" inspect msg.age | sed -n 's/^escrow file id: //p')
run "$D" escrow warrant --court pq/court.key --authority pq/authority.pub \
  --case "PQ 26-cr-1" --expires 2999-12-31 -o warrant.txt msg.age
assert_exit 0 "recover-pq: warrant"
for a in doj vendor; do
  run "$D" escrow unwrap --authority pq/authority.pub --agent pq/agents/$a.key \
    --warrant warrant.txt --log pq/logs/$a -o $a.share msg.age
  assert_exit 0 "recover-pq: unwrap by $a (hybrid key)"
done
run "$D" escrow recover --authority pq/authority.pub --share doj.share --share vendor.share \
  -o recovered.bin msg.age
assert_exit 0 "recover-pq: two shares"
assert_same recovered.bin msg.bin "recover-pq: the plaintext"
run "$D" escrow recover --authority pq/authority.pub --share doj.share -o one.bin msg.age
assert_fails 4 "needs 2 of 3" "recover-pq: one share is not enough"
run "$D" escrow unwrap --authority pq/authority.pub --agent cl/agents/a.key \
  --warrant warrant.txt --log pq/logs/doj -o wrong.share msg.age
assert_exit 2 "recover-pq: another authority's agent key is refused"
assert_absent wrong.share "recover-pq: no share from another authority's key"
assert_true "recover-pq: the file id is in the warrant" grep -qx "file: $FID" warrant.txt

# ---- no mixing: the authority's kind follows the file's
run "$D" encrypt -r "$R" --escrow cl/authority.pub -o never.age msg.bin
assert_fails 2 "incompatible recipients" "no-mixing-pq: a classical authority on a post-quantum file"
assert_absent never.age "no-mixing-pq: nothing written"
run "$D" encrypt -r "$RC" --escrow pq/authority.pub -o never.age msg.bin
assert_fails 2 "incompatible recipients" "no-mixing-pq: a post-quantum authority on a classical file"
assert_absent never.age "no-mixing-pq: nothing written (2)"
# ---- the agents as services (HTTPS on 127.0.0.1), stopped on exit by service_lib's trap
run "$D" escrow init --name SVC --agents doj,court --threshold 2 --pq -o svc
assert_exit 0 "request-pq-https: an authority of two hybrid agents"
for a in doj court; do
  svc_start_agent $a svc
  assert_true "request-pq-https: agent $a starts" test -n "${port:-}"
done
"$D" keygen -o inv.key 2>/dev/null
run "$D" encrypt -r "$R" --escrow svc/authority.pub -o svc.age msg.bin
assert_exit 0 "request-pq-https: encrypt"
run "$D" escrow warrant --court svc/court.key --authority svc/authority.pub --case 26-cr-pq \
  --expires 2099-12-31 -o sw.txt svc.age
run "$D" escrow request --timeout $((10 * SVC_SLOW)) --authority svc/authority.pub --warrant sw.txt \
  --identity inv.key -o svc.out svc.age
assert_exit 0 "request-pq-https: both agents release their shares over HTTPS"
assert_same svc.out msg.bin "request-pq-https: the recovered file"
finish
