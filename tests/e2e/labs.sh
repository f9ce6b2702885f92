#!/usr/bin/env bash
# doormat lab: every lab's --json with tiny parameters (well-formed, schema 1,
# the figures each lab claims); the forged LEAF file through the real command
# (decrypt --require-escrow --leaf-bits passes, the authority's recover exits
# 5, the default check exits 7); crumple and LEAF escrow through encrypt,
# decrypt and escrow recover; bad arguments (exit 2, one line).
. "$(dirname "$0")/lib.sh"
D=$DOORMAT
cd "$T" || exit 1
need_json_reader

# ---- the command
run "$D" lab list
assert_exit 0 "lab list"
assert_eq "$(cut -d' ' -f1 "$T/out" | tr '\n' ' ')" "blast-radius leaf-forge strip crumple passcode substitution ghost clear retroactive insider volume unbound-id " "lab names"
run "$D" lab
assert_fails 2 "name a lab" "no lab"
run "$D" lab nope
assert_fails 2 "unknown lab \"nope\"" "unknown lab"
run "$D" lab strip --users 3
assert_fails 2 "option --users does not apply" "option of another lab"
run "$D" lab crumple --min 9 --max 8
assert_fails 2 "--min 9 is above --max 8" "min above max"
run "$D" lab leaf-forge --bits 0
assert_fails 2 "wants a number from 1 to 32" "bits 0"
run "$D" lab passcode --digits x
assert_fails 2 "wants a number from 1 to 8" "digits x"
run "$D" lab --help
assert_exit 0 "lab --help"
assert_true "help lists crumple" grep -q 'crumple' "$T/out"
run "$D" lab passcode --help
assert_exit 0 "lab passcode --help"
run "$D" --help
assert_true "doormat --help lists lab" grep -q '^  lab  *classroom labs' "$T/out"

# ---- blast-radius
run "$D" lab blast-radius --users 2 --files 2 --bytes 64 --json
assert_exit 0 "blast-radius"
one_json "blast-radius json"
cp "$T/out" blast.json
assert_eq "$(jget blast.json 'j["lab"], j["schema"], j["quick"], j["population_files"]')" "('blast-radius', 1, False, 12)" "blast header"
assert_eq "$(jget blast.json '[(r["stolen"], r["files_exposed"]) for r in j["rows"]]')" \
  "[('user', 6), ('master', 4), ('one-agent', 0), ('two-agents', 4)]" "files exposed per stolen set"
assert_eq "$(jget blast.json '[r["by_population"]["escrow-2of3"] for r in j["rows"]]')" "[2, 0, 0, 4]" "2-of-3 population"
assert_eq "$(jget blast.json 'abs(j["rows"][1]["share"] - 4/12) < 1e-5')" "True" "share"

# ---- leaf-forge, kept in a directory, then the real command on its files
run "$D" lab leaf-forge --bits 8 --budget 0.01 --shamir-tries 16 --json --dir leaf
assert_exit 0 "leaf-forge"
one_json "leaf-forge json"
cp "$T/out" leaf.json
assert_eq "$(jget leaf.json '[r["bits"] for r in j["rows"]]')" "[8, 12, 16, 20, 24]" "leaf rows"
assert_eq "$(jget leaf.json 'j["rows"][0]["measured"], j["rows"][4]["measured"], j["rows"][4]["tries"]')" "(True, False, None)" "measured and extrapolated rows"
assert_eq "$(jget leaf.json 'abs(j["rows"][4]["seconds"] - 2**24 * j["seconds_per_try"]) < 1e-4 * j["rows"][4]["seconds"]')" "True" "extrapolation from the measured rate"
assert_eq "$(jget leaf.json 'j["forgery"]["passes_require_escrow"], j["forgery"]["recovery_exit"]')" "(True, 5)" "forgery passes, recovery fails"
assert_eq "$(jget leaf.json 'j["forgery"]["authority_key_hex"] != j["forgery"]["file_key_hex"]')" "True" "authority gets garbage"
assert_eq "$(jget leaf.json 'j["shamir"]["tries"], j["shamir"]["passed"]')" "(16, 0)" "default escrow not forged"
run "$D" decrypt -i leaf/user.key --require-escrow leaf/authority/authority.pub --leaf-bits 8 \
  -o forged.txt leaf/forged-leaf-8.age
assert_exit 0 "forged LEAF passes decrypt --require-escrow --leaf-bits 8"
assert_same forged.txt leaf/message.txt "forged LEAF plaintext"
run "$D" decrypt -i leaf/user.key --require-escrow leaf/authority/authority.pub -o x.txt leaf/forged-leaf-8.age
assert_fails 7 "mode leaf-8, the check wants shamir" "default check refuses a LEAF"
assert_absent x.txt "no output on exit 7"
run "$D" escrow warrant --court leaf/authority/court.key --authority leaf/authority/authority.pub \
  --case lab --expires 2999-12-31 -o w.txt leaf/forged-leaf-8.age
assert_exit 0 "warrant for the forged file"
run "$D" escrow unwrap --authority leaf/authority/authority.pub --agent leaf/authority/agents/master.key \
  --warrant w.txt --log leaf/authority/logs/master -o m.share leaf/forged-leaf-8.age
assert_exit 0 "agent unwraps the forged LEAF"
run "$D" escrow recover --authority leaf/authority/authority.pub --share m.share -o rec.txt leaf/forged-leaf-8.age
assert_fails 5 "does not match the header MAC" "authority recovers garbage"
assert_absent rec.txt "no recovered output"
run "$D" lab leaf-forge --dir leaf --bits 8
assert_fails 2 "already holds a lab" "--dir reused"

# ---- strip
run "$D" lab strip --json
assert_exit 0 "strip"
one_json "strip json"
cp "$T/out" strip.json
assert_eq "$(jget strip.json '[(r["file"], r["require_escrow_exit"], r["recovery"]) for r in j["rows"]]')" \
  "[('original', 0, 'ok'), ('stripped', 7, 'no-stanza'), ('corrupted', 7, 'unopenable')]" "strip outcomes"
if [ -x /usr/bin/age ]; then
  assert_eq "$(jget strip.json 'j["age_available"], [(r["age_exit"], r["age_plaintext_matches"]) for r in j["rows"]]')" \
    "(True, [(0, True), (0, True), (0, True)])" "plain age decrypts all three"
else
  assert_eq "$(jget strip.json 'j["age_available"], j["rows"][1]["age_exit"]')" "(False, None)" "age absent"
fi

# ---- crumple
run "$D" lab crumple --min 4 --max 8 --budget 100 --population 10 --json
assert_exit 0 "crumple"
one_json "crumple json"
cp "$T/out" crumple.json
assert_eq "$(jget crumple.json '[(r["bits"], r["measured"], r["found"]) for r in j["rows"]]')" \
  "[(4, True, True), (5, True, True), (6, True, True), (7, True, True), (8, True, True)]" "crumple rows all found"
assert_eq "$(jget crumple.json 'all(1 <= r["tries"] <= 2**r["bits"] for r in j["rows"])')" "True" "tries within the space"
assert_eq "$(jget crumple.json 'all(abs(r["population_seconds"] - 10 * r["expected_seconds"]) <= 1e-9 * r["population_seconds"] for r in j["rows"])')" "True" "population cost"

# ---- passcode
run "$D" lab passcode --digits 2 --json
assert_exit 0 "passcode"
one_json "passcode json"
cp "$T/out" pass.json
assert_eq "$(jget pass.json 'j["crack"]["found"], j["crack"]["digits"], j["crack"]["kdf"]')" "(True, 2, 'fast')" "PIN cracked"
# About 80 ms: within a factor of two, on a machine other work may be loading.
assert_eq "$(jget pass.json '40 <= j["calibrated"]["ms_per_try"] <= 160')" "True" "calibrated near 80 ms ($(jget pass.json 'j["calibrated"]["ms_per_try"]'))"
# The PIN is found at try crack.tries: within the limit the limited device opens
# at the same try; beyond it, it erases itself after 10 and the right PIN fails.
assert_eq "$(jget pass.json '(j["retry_limit"]["found"], j["retry_limit"]["tries"] == j["crack"]["tries"], j["retry_limit"]["erased"]) if j["crack"]["tries"] <= 10 else (j["retry_limit"]["found"], j["retry_limit"]["tries"] == 10, j["retry_limit"]["erased"] and j["retry_limit"]["correct_pin_after_erase_fails"])')" \
  "$(jget pass.json '(True, True, False) if j["crack"]["tries"] <= 10 else (False, True, True)')" "retry limit"
run "$D" lab passcode --digits 1 --json
cp "$T/out" pass1.json
assert_eq "$(jget pass1.json 'j["retry_limit"]["found"], j["retry_limit"]["erased"], j["retry_limit"]["tries"] == j["crack"]["tries"]')" "(True, False, True)" "one digit: found within the limit"
assert_eq "$(jget pass.json '[r["candidates"] for r in j["rows"]]')" "[10000, 1000000, 2176782336]" "passcode spaces"

# ---- the escrow modes through the command
"$D" keygen -o k.txt 2>/dev/null
P=$("$D" keygen -y k.txt)
"$D" escrow init --name Z --agents a,b,c --threshold 2 -o z >/dev/null
printf 'crumpled\n' >m.txt
run "$D" encrypt -r "$P" --escrow z/authority.pub --crumple-bits 10 -o c.age m.txt
assert_exit 0 "encrypt --crumple-bits"
assert_true "inspect shows the mode" sh -c "'$D' inspect c.age | grep -q '2-of-3 crumple-10: a, b, c'"
run "$D" decrypt -i k.txt --require-escrow z/authority.pub --crumple-bits 10 -o c.txt c.age
assert_exit 0 "crumple check passes"
assert_same c.txt m.txt "crumple plaintext"
run "$D" decrypt -i k.txt --require-escrow z/authority.pub --crumple-bits 11 c.age
assert_fails 7 "mode crumple-10, the check wants crumple-11" "wrong crumple bits"
"$D" escrow warrant --court z/court.key --authority z/authority.pub --case c --expires 2999-01-01 -o cw.txt c.age
for ag in a c; do
  "$D" escrow unwrap --authority z/authority.pub --agent z/agents/$ag.key --warrant cw.txt \
    --log z/logs/$ag -o $ag.share c.age 2>/dev/null
done
run "$D" escrow recover --authority z/authority.pub --share a.share --share c.share -o cr.txt c.age
assert_exit 0 "crumple recovery searches and finds the key"
assert_same cr.txt m.txt "crumple recovered plaintext"
run "$D" encrypt -r "$P" --escrow z/authority.pub --leaf-bits 16 -o l.age m.txt
assert_exit 0 "encrypt --leaf-bits"
run "$D" decrypt -i k.txt --require-escrow z/authority.pub --leaf-bits 16 -o l.txt l.age
assert_exit 0 "LEAF check passes"
run "$D" encrypt -r "$P" --escrow z/authority.pub --leaf-bits 0 m.txt
assert_fails 2 "--leaf-bits wants a number from 1 to 64" "leaf bits 0"
run "$D" encrypt -r "$P" --escrow z/authority.pub --crumple-bits 49 m.txt
assert_fails 2 "--crumple-bits wants a number from 1 to 48" "crumple bits 49"
run "$D" encrypt -r "$P" --leaf-bits 8 -o y.age m.txt
assert_fails 2 "need --escrow" "leaf bits without escrow"
run "$D" encrypt -r "$P" --escrow z/authority.pub --leaf-bits 8 --crumple-bits 8 -o y.age m.txt
assert_fails 2 "one of --leaf-bits and --crumple-bits" "both modes"
run "$D" decrypt -i k.txt --crumple-bits 8 c.age
assert_fails 2 "need --require-escrow" "crumple bits without require-escrow"

# ---- --port-base: the services of insider and volume on the ports asked for
base=$(( 40000 + ($$ % 2000) * 10 ))
run "$D" lab volume --requests 2 --port-base "$base" --dir pv --json
assert_exit 0 "volume --port-base"
assert_eq "$(cat pv/service.port 2>/dev/null)" "$base" "volume: the agent on the port asked for"
run "$D" lab insider --files 1 --port-base "$((base + 5))" --dir pi --json
assert_exit 0 "insider --port-base"
assert_eq "$(cat pi/authority-*/service-*.port 2>/dev/null | sort -n | head -1)" "$((base + 5))" \
  "insider: the first agent on the port asked for"
run "$D" lab strip --port-base "$base"
assert_fails 2 "option --port-base does not apply to this lab" "strip --port-base"
run "$D" lab volume --port-base 80
assert_fails 2 "lab --port-base: wants a number from 1024 to 65000" "volume --port-base 80"

# ---- unbound-id: the header-swap attack, old binding and new
run "$D" lab unbound-id --json --dir unbound
assert_exit 0 "unbound-id"
one_json "unbound-id json"
cp "$T/out" unbound.json
assert_eq "$(jget unbound.json '[(r["binding"], r["released"], r["opens_file"], r["log_entries"], r["monitor_saw"]) for r in j["rows"]]')" \
  "[('header-hash', 2, True, 2, 0), ('file-key', 0, False, 0, 0)]" "old: opened, monitor saw 0; new: refused"
assert_eq "$(jget unbound.json 'j["rows"][0]["logged_id"] == j["swapped_header_id"] != j["header_id"]')" "True" \
  "the old binding logged the rebuilt header's id"
assert_eq "$(jget unbound.json '(j["rows"][1]["refused"], j["escrow_file_id"] in j["rows"][1]["reason"])')" \
  "(True, True)" "the new binding refuses: the warrant does not cover the bound id"
assert_eq "$(jget unbound.json 'tuple(j["bound_warrant"].values())')" "(2, True, 2)" \
  "a warrant for the bound id: released, opens, seen"
# The real monitor on the lab's files agrees: the new binding's logs list g.age.
eid=$(jget unbound.json 'j["escrow_file_id"]')
run "$D" escrow monitor --authority unbound/authority/authority.pub unbound/g.age
assert_exit 0 "the owner's monitor on the lab's logs"
assert_eq "$(grep -c " file $eid " "$T/out")" "2" "it lists the two releases of g.age"
run "$D" escrow monitor --authority unbound/authority/authority.pub -i unbound/user.key unbound/g.age
assert_eq "$(grep -c " file $eid " "$T/out")" "2" "and finds them from the file key"
run "$D" lab unbound-id
assert_exit 0 "unbound-id narrated"
assert_true "the table has both bindings" grep -q "^old: the header's hash .* 2 .*yes .* 2 .* 0$" "$T/out"

finish
