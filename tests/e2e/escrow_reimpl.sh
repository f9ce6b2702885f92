#!/usr/bin/env bash
# docs/escrow-format.md, reimplemented independently (tests/escrow_reimpl.py,
# Python's cryptography package): every byte doormat writes for an authority,
# an escrowed file, a warrant, shares and their receipts must be exactly what
# the document says, for a 2-of-3, a 3-of-5 and the 1-of-1 default.
. "$(dirname "$0")/lib.sh"
D=$DOORMAT
HERE=$(cd "$(dirname "$0")/.." && pwd)
AGE_KEYGEN=${AGE_KEYGEN:-/usr/bin/age-keygen}
PY=""
for p in /usr/bin/python3 python3; do
  if "$p" -c 'import cryptography' 2>/dev/null; then PY=$p; break; fi
done
if [ -z "$PY" ]; then
  echo "escrow_reimpl: python3 with cryptography is missing (make deps installs python3-cryptography)" >&2
  exit 1
fi
cd "$T" || exit 1
"$AGE_KEYGEN" -o key.txt 2>/dev/null
R=$("$AGE_KEYGEN" -y key.txt)
make_file msg.bin 70000

scenario() { # NAME INIT-ARGS... ; then the agents releasing
  local dir=$1; shift
  local agents=$1; shift
  "$D" escrow init --name "X-$dir" "$@" -o "$dir" >/dev/null || { fail "$dir: init"; return; }
  "$D" encrypt -r "$R" --escrow "$dir/authority.pub" -o "$dir.age" msg.bin || { fail "$dir: encrypt"; return; }
  "$D" escrow warrant --court "$dir/court.key" --authority "$dir/authority.pub" --case "case $dir" \
    --expires 2999-01-01 -o "$dir.warrant" "$dir.age" || { fail "$dir: warrant"; return; }
  local shares=()
  for a in $agents; do
    "$D" escrow unwrap --authority "$dir/authority.pub" --agent "$dir/agents/$a.key" \
      --warrant "$dir.warrant" --log "$dir/logs/$a" -o "$dir-$a.share" "$dir.age" 2>/dev/null ||
      { fail "$dir: unwrap $a"; return; }
    shares+=("$dir-$a.share")
  done
  run "$PY" "$HERE/escrow_reimpl.py" "$dir" "$dir.age" key.txt "$dir.warrant" "${shares[@]}"
  assert_exit 0 "$dir: the independent implementation agrees"
  sed 's/^/    /' "$T/out"
}
scenario fbi "doj vendor" --agents doj,court,vendor --threshold 2
scenario five "e c a" --agents a,b,c,d,e --threshold 3
scenario solo "master"

# And it notices a difference: a rogue sender's altered stanzas.
"$D" escrow tamper --corrupt -i key.txt -o rogue.age fbi.age
run "$PY" "$HERE/escrow_reimpl.py" fbi rogue.age key.txt fbi.warrant fbi-doj.share fbi-vendor.share
assert_exit 1 "the reimplementation rejects altered stanzas"
assert_true "it says which" grep -q "MISMATCH: stanza for doj byte for byte" "$T/out"
finish
