#!/usr/bin/env bash
# The header-swap attack (issue 18, section 1), locally and over HTTPS. A
# requester rebuilds an escrowed file's header without the owner's X25519
# stanza (escrow stanzas and MAC line kept, payload kept): a new header, a
# new header hash. The court signs a warrant for that hash (it only ever sees
# ids). The agents must refuse it: they name a file by the id its escrow
# stanzas bind (derived from the file key), never by the header they are
# sent. A warrant for the bound id gets the shares, and the releases are
# logged under it, so the owner's monitor, given the original file, lists
# them (exit 0, one line per access). Old-format (v1) stanzas are refused.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../service_lib.sh"
D=$DOORMAT
cd "$T" || exit 1

# rebuild IN OUT swap|v1: the header without its X25519 stanza (swap), or
# with the escrow stanzas cut to their v1 arguments (v1); the rest unchanged.
rebuild() {
  python3 - "$@" <<'EOF'
import sys
data = open(sys.argv[1], "rb").read()
end = data.index(b"\n--- ") + 1
lines = data[:end].split(b"\n")[:-1]
out, i = [lines[0]], 1
while i < len(lines):
    st = [lines[i]]
    i += 1
    while True:
        st.append(lines[i])
        i += 1
        if len(st[-1]) < 64:
            break
    kind = st[0].split(b" ")[1]
    if sys.argv[3] == "swap" and kind == b"X25519":
        continue
    if sys.argv[3] == "v1" and kind == b"doormat-escrow":
        st[0] = b" ".join(st[0].split(b" ")[:9])
    out += st
open(sys.argv[2], "wb").write(b"\n".join(out) + b"\n" + data[end:])
EOF
}

# court_signs WARRANT FILE_ID COURT_KEY OUT: the court's warrant for another id
# (the court signs what it is asked for: it only ever sees ids).
court_signs() {
  python3 - "$@" <<'EOF'
import sys, base64
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
w = open(sys.argv[1]).read()
seed = [l[6:] for l in open(sys.argv[3]).read().splitlines() if l.startswith("seed: ")][0]
seed = base64.b64decode(seed + "=" * (-len(seed) % 4))
lines = [l for l in w.split("\n") if l and not l.startswith("signature: ")]
lines = [("file: " + sys.argv[2]) if l.startswith("file: ") else l for l in lines]
body = "\n".join(lines) + "\n"
sig = Ed25519PrivateKey.from_private_bytes(seed).sign(b"doormat/v1/escrow/warrant\n" + body.encode())
open(sys.argv[4], "w").write(body + "signature: " + base64.b64encode(sig).decode().rstrip("=") + "\n")
EOF
}

# ---- locally: escrow unwrap
run "$D" escrow init --name FBI --agents doj,court,vendor --threshold 2 -o fbi
assert_exit 0 "escrow init"
run "$D" keygen -o owner.key
owner=$(grep -o 'age1[0-9a-z]*' owner.key | head -1)
printf 'g: the owner letter\n' >g.txt
run "$D" encrypt -r "$owner" --escrow fbi/authority.pub -o g.age g.txt
assert_exit 0 "the owner's escrowed file"
rebuild g.age swap.age swap
run "$D" inspect g.age
hid=$(sed -n 's/^file id: //p' "$T/out")
eid=$(sed -n 's/^escrow file id: //p' "$T/out")
run "$D" inspect swap.age
swap_hid=$(sed -n 's/^file id: //p' "$T/out")
assert_true "the rebuilt header has a new header id" test -n "$swap_hid" -a "$swap_hid" != "$hid"
assert_eq "$(sed -n 's/^escrow file id: //p' "$T/out")" "$eid" "and the same escrow file id"
assert_true "the escrow file id is 32 hex digits" grep -Eqx '[0-9a-f]{32}' <<<"$eid"
run "$D" decrypt -i owner.key -o /dev/null swap.age
assert_true "the rebuilt file opens for nobody's X25519 key" test "$rc" -ne 0

# The court signs a warrant for the rebuilt header's id.
run "$D" escrow warrant --court fbi/court.key --authority fbi/authority.pub --case 26-cr-18 \
  --expires 2999-12-31 -o bound.txt swap.age
assert_exit 0 "a warrant for the rebuilt file"
assert_true "escrow warrant names the bound id" grep -qx "file: $eid" bound.txt
court_signs bound.txt "$swap_hid" fbi/court.key swapped.txt
assert_true "a warrant for the rebuilt header's id" grep -qx "file: $swap_hid" swapped.txt
for a in doj court; do
  run "$D" escrow unwrap --authority fbi/authority.pub --agent fbi/agents/$a.key \
    --warrant swapped.txt --log fbi/logs/$a -o swapped-$a.share swap.age
  assert_fails 8 "does not cover file $eid" "agent $a refuses the warrant for the new header id"
  assert_absent swapped-$a.share "no share from $a"
done
run "$D" escrow monitor --authority fbi/authority.pub g.age
assert_exit 0 "monitor after the refusals"
assert_eq "$(grep -c ' file ' "$T/out")" "0" "nothing was released"

# A warrant for the bound id: released, and logged under the owner's file.
for a in doj court; do
  run "$D" escrow unwrap --authority fbi/authority.pub --agent fbi/agents/$a.key \
    --warrant bound.txt --log fbi/logs/$a --requester "the requester" -o $a.share swap.age
  assert_exit 0 "agent $a releases under the bound id"
  assert_true "$a's share names the owner's file" grep -qx "file: $eid" $a.share
done
run "$D" escrow recover --authority fbi/authority.pub --share doj.share --share court.share \
  -o g.out g.age
assert_exit 0 "the two shares open the original file"
assert_same g.out g.txt "the owner's letter"
run "$D" escrow monitor --authority fbi/authority.pub g.age
assert_exit 0 "the owner's monitor, given the original file"
assert_eq "$(grep -c " file $eid " "$T/out")" "2" "it lists both releases"
assert_true "with the requester" grep -q "doj #0 file $eid .*requester the requester" "$T/out"
run "$D" escrow monitor --authority fbi/authority.pub -i owner.key g.age
assert_exit 0 "the monitor with the owner's identity"
assert_eq "$(grep -c " file $eid " "$T/out")" "2" "finds them by the id of the file key"
# A copy without the escrow stanzas names no id of its own: the owner's key does.
run "$D" escrow tamper --strip -i owner.key -o stripped.age g.age
assert_exit 0 "a copy of the file without its escrow stanzas"
run "$D" escrow monitor --authority fbi/authority.pub -i owner.key stripped.age
assert_exit 0 "the monitor with the owner's identity, given the stripped copy"
assert_eq "$(grep -c " file $eid " "$T/out")" "2" "finds them by the id of its file key"

# Stanzas of the old format bind no file id: refused, with the reason.
rebuild g.age v1.age v1
run "$D" escrow unwrap --authority fbi/authority.pub --agent fbi/agents/vendor.key \
  --warrant bound.txt --log fbi/logs/vendor -o v1.share v1.age
assert_fails 3 "old format v1, which binds no file id" "an agent refuses v1 stanzas"
assert_absent v1.share "no share from a v1 stanza"

# ---- over HTTPS: POST /release and escrow request
assert_true "an authority for the services" svc_authority net doj,court,vendor 2 0 0
for a in doj court vendor; do
  svc_start_agent $a net
  assert_true "agent $a starts" test -n "${port:-}"
done
run "$D" encrypt -r "$owner" --escrow net/authority.pub -o h.age g.txt
rebuild h.age hswap.age swap
run "$D" inspect hswap.age
h_swap_hid=$(sed -n 's/^file id: //p' "$T/out")
h_eid=$(sed -n 's/^escrow file id: //p' "$T/out")
run "$D" escrow warrant --court net/court.key --authority net/authority.pub --case 26-cr-18b \
  --expires 2999-12-31 -o hbound.txt hswap.age
court_signs hbound.txt "$h_swap_hid" net/court.key hswapped.txt
run "$D" keygen -o inv.key
run "$D" escrow request --timeout $((10 * SVC_SLOW)) --authority net/authority.pub \
  --warrant hswapped.txt --identity inv.key -o hswap.out hswap.age
assert_true "the request for the new header id fails (exit $rc)" test "$rc" -ne 0
assert_true "every agent refuses it (403)" grep -q "agent doj: refused (HTTP 403): .*does not cover file $h_eid" "$T/err"
assert_absent hswap.out "nothing recovered"
run "$D" escrow monitor --authority net/authority.pub --logs https h.age
assert_exit 0 "the monitor over HTTPS after the refusals"
assert_eq "$(grep -c ' file ' "$T/out")" "0" "nothing was released over HTTPS"
# Under the bound id the agents release, and log the owner's file. The
# rebuilt header's MAC does not verify, so the client stops there (exit 5);
# the shares were released, and the owner sees them.
run "$D" escrow request --timeout $((10 * SVC_SLOW)) --authority net/authority.pub \
  --warrant hbound.txt --identity inv.key -o hbound.out hswap.age
assert_exit 5 "the client stops at the rebuilt header's MAC"
assert_true "and says so" grep -q "^doormat: escrow request: header MAC mismatch" "$T/err"
assert_absent hbound.out "no output from the rebuilt file"
assert_true "released under the bound id" grep -q "agent doj: share received, its receipt verified" "$T/err"
run "$D" escrow monitor --authority net/authority.pub --logs https h.age
assert_exit 0 "the owner's monitor over HTTPS"
assert_eq "$(grep -c " file $h_eid " "$T/out")" "2" "it lists the two releases of h.age"
# v1 stanzas over HTTPS: the client refuses the file itself (exit 3), and an
# agent asked directly refuses them too (400), with the reason.
rebuild h.age hv1.age v1
run "$D" escrow request --timeout $((10 * SVC_SLOW)) --authority net/authority.pub \
  --warrant hbound.txt --identity inv.key -o hv1.out hv1.age
assert_exit 3 "the client refuses a v1 file"
assert_true "saying why" grep -q "^doormat: escrow request: .*old format v1, which binds no file id" "$T/err"
assert_absent hv1.out "nothing recovered from a v1 file"
inv=$(grep -o 'age1[0-9a-z]*' inv.key | head -1)
python3 - "$inv" hbound.txt hv1.age >req-v1 <<'EOF2'
import sys, base64
data = open(sys.argv[3], "rb").read()
end = data.index(b"\n", data.index(b"\n--- ") + 1) + 1
sys.stdout.write("doormat-escrow-release-request/v1\nrecipient: %s\nwarrant: %s\nheader: %s\n" % (
    sys.argv[1], base64.b64encode(open(sys.argv[2], "rb").read()).decode(),
    base64.b64encode(data[:end]).decode()))
EOF2
hcurl --data-binary @req-v1 "https://127.0.0.1:${doj_port:-1}/release"
assert_status 400 "old format v1, which binds no file id" "POST /release with a v1 stanza"

finish
