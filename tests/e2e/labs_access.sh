#!/usr/bin/env bash
# doormat lab substitution, ghost, clear (and later the other labs of the
# access system): --json with tiny parameters (schema 1, the figures each lab
# claims), the files they keep in --dir checked with the real commands (age,
# doormat decrypt --require-escrow, doormat inspect), bad arguments (exit 2).
. "$(dirname "$0")/lib.sh"
D=$DOORMAT
cd "$T" || exit 1
need_json_reader

# (lab list, with every lab's name, is checked in labs.sh)
run "$D" lab ghost --devices 3
assert_fails 2 "option --devices does not apply" "ghost --devices"
run "$D" lab clear --files 3
assert_fails 2 "option --files does not apply" "clear --files"
run "$D" lab clear --devices 0
assert_fails 2 "wants a number from 1 to 100000" "clear --devices 0"
run "$D" lab substitution --files x
assert_fails 2 "wants a number from 1 to 10000" "substitution --files x"
run "$D" lab ghost extra
assert_fails 2 "unexpected argument \"extra\"" "ghost extra"

# ---- substitution
run "$D" lab substitution --files 3 --json --dir subst
assert_exit 0 "substitution"
one_json "substitution json"
cp "$T/out" subst.json
assert_eq "$(jget subst.json 'j["lab"], j["schema"], j["quick"], j["files"], j["attacker_opened"], j["genuine_opened"], j["same_name"]')" \
  "('substitution', 1, False, 3, 3, 0, True)" "attacker opens every file, the genuine FBI none"
assert_eq "$(jget subst.json '[(r["client"], r["accepted"], r["refused"], r["notices"]) for r in j["rows"]]')" \
  "[('plain', 3, 0, False), ('compliant-swapped', 3, 0, False), ('compliant-genuine', 0, 3, True), ('pinned-sender', 0, 3, True), ('logged-sender', 0, 3, True)]" "who notices"
assert_eq "$(jget subst.json 'j["require_escrow_swapped_exit"], j["require_escrow_genuine_exit"], j["pinned_exposed"], j["logged_exposed"], j["genuine_in_log"]')" "(0, 7, 0, 0, True)" "exit codes"
assert_true "the publication log has its checkpoint" test -s subst/publication-log/checkpoint
assert_true "the receipt names the log" grep -q '^authorities.example/log$' subst/genuine/authority.proof
assert_true "the receipt carries the witness's cosignature" grep -q '^— witness.example ' subst/genuine/authority.proof
assert_eq "$(jget subst.json 'j["genuine_id"] != j["swapped_id"] and len(j["genuine_id"]) == 32')" "True" "ids differ"
# The kept files, through the real command.
run "$D" decrypt -i subst/receiver.key --require-escrow subst/genuine/authority.pub -o x.txt subst/files/message-0002.age
assert_fails 7 "" "the genuine authority's compliant check refuses"
assert_absent x.txt "no output on exit 7"
run "$D" decrypt -i subst/receiver.key --require-escrow subst/swapped.pub -o y.txt subst/files/message-0002.age
assert_exit 0 "the swapped authority's check passes"
assert_true "swapped.pub is the attacker's authority" cmp -s subst/swapped.pub subst/attacker/authority.pub
assert_eq "$(sed -n 's/^name: //p' subst/swapped.pub)" "$(sed -n 's/^name: //p' subst/genuine/authority.pub)" "same name"
run "$D" inspect subst/files/message-0001.age
assert_true "inspect names the swapped id" grep -q "$(jget subst.json 'j["swapped_id"]')" "$T/out"
"$D" escrow warrant --court subst/attacker/court.key --authority subst/attacker/authority.pub \
  --case x --expires 2999-01-01 -o w.txt subst/files/message-0003.age 2>/dev/null
for ag in doj court; do
  "$D" escrow unwrap --authority subst/attacker/authority.pub --agent subst/attacker/agents/$ag.key \
    --warrant w.txt --log subst/attacker/logs/$ag -o $ag.share subst/files/message-0003.age 2>/dev/null
done
run "$D" escrow recover --authority subst/attacker/authority.pub --share doj.share --share court.share \
  -o rec.txt subst/files/message-0003.age
assert_exit 0 "the attacker's authority recovers the sender's file"
assert_true "recovered text" grep -q '^Draft 3 of the quarterly figures' rec.txt
run "$D" lab substitution --dir subst
assert_fails 2 "already holds a lab" "--dir reused"

# ---- ghost
run "$D" lab ghost --files 4 --json --dir ghost
assert_exit 0 "ghost"
one_json "ghost json"
cp "$T/out" ghost.json
assert_eq "$(jget ghost.json '[(r["client"], r["addressed"], r["stanzas"], r["receiver_opened"], r["ghost_opened"], r["counted_flags"], r["inspect_stanzas"], r["decrypt_exit"]) for r in j["rows"]]')" \
  "[('honest', 2, 2, 4, 0, 0, 2, 0), ('bcc', 3, 3, 4, 0, 4, 3, 0), ('ghosted', 2, 3, 4, 4, 4, 3, 0)]" "ghost rows"
assert_eq "$(jget ghost.json 'j["ghost_stanza_same_shape"], j["files"]')" "(True, 4)" "same shape"
if [ -x /usr/bin/age ]; then
  assert_eq "$(jget ghost.json '[(r["age_exit"], r["age_plaintext_matches"]) for r in j["rows"]]')" \
    "[(0, True), (0, True), (0, True)]" "plain age opens all"
  run /usr/bin/age -d -i ghost/ghost.key ghost/ghosted/message-0004.age
  assert_exit 0 "the ghost opens a ghosted file with age"
  assert_true "ghost reads message 4" grep -q '^Message 4: ' "$T/out"
else
  skip "plain age opens all" "no /usr/bin/age (make deps installs it)"
fi
run "$D" decrypt -i ghost/ghost.key ghost/honest/message-0004.age
assert_fails 4 "" "the ghost cannot open an honest file"
run "$D" inspect ghost/ghosted/message-0002.age
assert_true "inspect counts 3 X25519 stanzas" grep -q '^stanza: X25519 x3$' "$T/out"

# ---- clear
run "$D" lab clear --devices 4 --digits 2 --json --dir clear
assert_exit 0 "clear"
one_json "clear json"
cp "$T/out" clear.json
assert_eq "$(jget clear.json 'j["devices"], j["digits"], j["candidates"], j["vendor"]["opened"], j["vendor"]["bricked"], j["blast_radius"]["vendor_key"], j["brute_force"]["found"]')" \
  "(4, 2, 100, 4, 4, 4, True)" "vendor key opens every device"
assert_eq "$(jget clear.json '1 <= j["blast_radius"]["one_passcode"] <= 4 and 1 <= j["brute_force"]["tries"] <= 100')" "True" "one passcode, brute force"
assert_eq "$(jget clear.json '[(r["method"], r["target"], r["measured"]) for r in j["rows"]]')" \
  "[('vendor-key', 'one', True), ('vendor-key', 'all', True), ('vendor-key-real-device', 'one', False), ('vendor-key-real-device', 'all', False), ('brute-force', 'one', True), ('brute-force-real-device', 'one', False), ('brute-force-real-device', 'all', False)]" "clear rows"
assert_eq "$(jget clear.json 'abs(j["rows"][5]["seconds_worst"] - 100 * j["calibrated"]["ms_per_try"] / 1000) < 1e-5 * j["rows"][5]["seconds_worst"]')" "True" "brute force at the calibrated rate"
assert_eq "$(jget clear.json 'abs(j["rows"][6]["seconds"] - 4 * j["rows"][5]["seconds"]) < 1e-5 * j["rows"][6]["seconds"]')" "True" "all devices"
run "$D" decrypt -i clear/vendor.key clear/devices/device-0003-passcode.age
assert_exit 0 "the vendor key decrypts a device's passcode"
assert_true "a two-digit passcode" grep -Eqx '[0-9]{2}' "$T/out"

# ---- retroactive
run "$D" lab retroactive --files 3 --bytes 5000 --json --dir retro
assert_exit 0 "retroactive"
one_json "retroactive json"
cp "$T/out" retro.json
assert_eq "$(jget retro.json 'j["files"], j["authority_opened_before"], j["authority_opened_after"], j["user_opened_after"], j["payloads_identical"], j["rekey_exit"], j["require_escrow_exit_before"], j["require_escrow_exit_after"]')" \
  "(3, 0, 3, 3, True, 0, 7, 0)" "escrow reaches the archive"
archive=$(cat retro/archive/*.age | wc -c)
assert_eq "$(jget retro.json 'j["archive_bytes"]')" "$archive" "archive bytes"
assert_eq "$(jget retro.json 'j["bytes_rewritten"] + j["bytes_copied"]')" "$(cat retro/escrowed/*.age | wc -c)" "rewritten and copied bytes"
assert_eq "$(jget retro.json 'abs(j["files_per_second"] * j["seconds"] - 3) < 1e-3')" "True" "files per second"
run "$D" inspect retro/escrowed/file-0002.age
assert_true "the rekeyed file carries the escrow" grep -q '^escrow: authority FBI' "$T/out"
run "$D" inspect retro/archive/file-0002.age
assert_true "the archived file does not" sh -c "! grep -q '^escrow:' '$T/out'"
run "$D" decrypt -i retro/user.key --require-escrow retro/authority/authority.pub -o r2.txt retro/escrowed/file-0002.age
assert_exit 0 "the owner's compliant client accepts the rekeyed file"
run "$D" decrypt -i retro/user.key -o a2.txt retro/archive/file-0002.age
assert_same r2.txt a2.txt "same contents before and after"
run "$D" lab retroactive --bytes 0
assert_fails 2 "wants a number from 1 to 67108864" "retroactive --bytes 0"

# ---- volume: an agent service on loopback, timed (stopped by the lab itself)
run "$D" lab volume --requests 3 --json --dir volume
assert_exit 0 "volume"
one_json "volume json"
cp "$T/out" volume.json
assert_eq "$(jget volume.json 'j["requests"], j["clients"], [r["per_year"] for r in j["rows"][:3]], [r["cited"] for r in j["rows"]]')" \
  "(3, 1, [1200, 2000, 7800], [True, True, True, False, False, False])" "volume rows"
assert_eq "$(jget volume.json 'abs(j["releases_per_second"] * j["seconds"] - 3) < 1e-3 and j["latency_ms"]["p50"] <= j["latency_ms"]["p99"] <= j["latency_ms"]["max"]')" "True" "rate and latency"
assert_eq "$(jget volume.json 'all(abs(r["service_seconds"] * j["releases_per_second"] - r["per_year"]) < 1e-4 * r["per_year"] for r in j["rows"])')" "True" "service time from the rate"
assert_eq "$(grep -c 'POST /release 200' volume/service.log)" "3" "the service answered 3 releases"
run "$D" escrow audit verify --authority volume/authority/authority.pub volume/authority/logs/master
assert_exit 0 "the agent's log verifies"
assert_true "3 entries in the agent's log" grep -q ', 3 entries' "$T/out"
if [ -s volume/service.port ]; then
  vport=$(cat volume/service.port)
  if curl -sk --max-time 3 "https://127.0.0.1:$vport/log/checkpoint" >/dev/null 2>&1; then
    fail "the lab left its service running on port $vport"
  else ok; fi
fi

# ---- insider
run "$D" lab insider --files 2 --json --dir insider
assert_exit 0 "insider"
one_json "insider json"
cp "$T/out" insider.json
assert_eq "$(jget insider.json '[(r["authority"], r["path"], r["accesses"], r["opened"], r["monitor_saw"], r["log_entries"], r["monitor_command_saw"]) for r in j["rows"]]')" \
  "[('1-of-1', 'key-file', 2, 2, 0, 0, 0), ('1-of-1', 'service', 2, 2, 2, 2, 2), ('2-of-3', 'key-file', 2, 0, 0, 0, 0), ('2-of-3', 'two-key-files', 2, 2, 0, 0, 0), ('2-of-3', 'service', 2, 2, 2, 4, 2)]" "insider rows"
run "$D" escrow monitor --authority insider/authority-2of3/authority.pub --logs insider/authority-2of3/logs
assert_exit 0 "the owner's monitor verifies the 2-of-3 logs"
assert_eq "$(grep -c ' file ' "$T/out")" "4" "it lists the 4 releases of the procedure"
run "$D" escrow audit verify --authority insider/authority-1of1/authority.pub insider/authority-1of1/logs/master
assert_exit 0 "the master's log verifies"
assert_eq "$(grep -c 'POST /release 200' insider/authority-2of3/service-doj.log) $(grep -c 'POST /release 200' insider/authority-2of3/service-vendor.log) $(grep -c 'POST /release 200' insider/authority-1of1/service-master.log)" \
  "2 2 2" "the agents' services answered the procedure's releases"
for a in master doj vendor; do
  f=$(ls insider/authority-*/service-$a.port)
  if curl -sk --max-time 3 "https://127.0.0.1:$(cat "$f")/log/checkpoint" >/dev/null 2>&1; then
    fail "the lab left agent $a running"
  else ok; fi
done
run "$D" lab insider --files 65
assert_fails 2 "wants --files from 1 to 64" "insider --files 65"

finish
