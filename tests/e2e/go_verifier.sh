#!/usr/bin/env bash
# An independent verifier of doormat's transparency logs: tests/go/tlogverify,
# built offline from Debian's golang-go and golang-golang-x-mod-dev (Go's own
# sumdb/note and sumdb/tlog, the code of the Go checksum database). It checks
# the checkpoint signatures and witness cosignatures, recomputes every root
# from the entry bundles, compares every tile, and checks the inclusion
# (receipts) and consistency proofs doormat produced: for an escrow
# authority's release logs, and for a log of 600 entries grown in batches
# (full and partial tiles at two levels, pruned partials).
. "$(dirname "$0")/lib.sh"
D=$DOORMAT
HERE=$(cd "$(dirname "$0")/.." && pwd)
BENCH=${TLOG_BENCH:-$(dirname "$D")/bench/tlog-bench}
[ -x "$BENCH" ] || { echo "go_verifier: $BENCH is missing (make builds it; set TLOG_BENCH)" >&2; exit 1; }
command -v go >/dev/null || { echo "go_verifier: go is missing (make deps installs golang-go)" >&2; exit 1; }
[ -d /usr/share/gocode/src/golang.org/x/mod/sumdb/tlog ] ||
  { echo "go_verifier: golang-golang-x-mod-dev is missing (make deps)" >&2; exit 1; }
cd "$T" || exit 1

# ---- build the verifier offline, in GOPATH mode
mkdir -p gopath gocache
run env GO111MODULE=off GOPATH="$T/gopath:/usr/share/gocode" GOCACHE="$T/gocache" GOFLAGS= \
  GOPROXY=off go build -o tlogverify "$HERE/go/tlogverify/main.go"
assert_exit 0 "the Go verifier builds offline"
V=$T/tlogverify

# ---- an authority with a witness; releases by two agents
make_file msg.bin 1000
witnessed_authority msg.bin msg.age
release() { logged_release msg.age "$@"; } # AGENT N
release doj 1
cp fbi/logs/doj/checkpoint doj-1.cp
release doj 2
release vendor 1
release doj 3
cp fbi/logs/doj/checkpoint doj-3.cp
release doj 4
release doj 5
VK=$(sed -n 's/^log: doj //p' fbi/authority.pub)
WK=$(cat w1/witness.vkey)
"$D" escrow audit prove --authority fbi/authority.pub --since 1 fbi/logs/doj >since1.body
"$D" escrow audit prove --authority fbi/authority.pub --since 3 fbi/logs/doj >since3.body
run "$V" -vkey "$VK" -dir fbi/logs/doj -witness "$WK" -receipt doj-1.share -receipt doj-2.share \
  -receipt doj-3.share -receipt doj-4.share -receipt doj-5.share -consistency since1.body -old doj-1.cp
assert_exit 0 "Go verifies doj's log, five receipts and a consistency proof"
assert_true "Go recomputed the root" grep -q "root: recomputed from 5 entries" "$T/out"
assert_true "Go checked the cosignature" grep -q "cosignatures: 1 of 1 witnesses" "$T/out"
assert_true "Go checked every receipt" test "$(grep -c 'proven in the tree of' "$T/out")" = 5
assert_true "Go checked the consistency proof" grep -q "consistency: 1 -> 5 proven" "$T/out"
run "$V" -vkey "$VK" -dir fbi/logs/doj -consistency since3.body -old doj-3.cp
assert_exit 0 "consistency 3 -> 5"
VV=$(sed -n 's/^log: vendor //p' fbi/authority.pub)
run "$V" -vkey "$VV" -dir fbi/logs/vendor -witness "$WK" -receipt vendor-1.share
assert_exit 0 "Go verifies vendor's log and receipt"

# Go notices what doormat's own checks notice: a wrong old checkpoint, a receipt of another log.
run "$V" -vkey "$VK" -dir fbi/logs/doj -consistency since3.body -old doj-1.cp
assert_exit 1 "Go refuses a proof from another size"
run "$V" -vkey "$VV" -dir fbi/logs/vendor -receipt doj-1.share
assert_exit 1 "Go refuses a receipt of another log"
cp -r fbi/logs/doj bad
printf 'Z' | dd of=bad/tile/0/000.p/5 bs=1 seek=3 conv=notrunc 2>/dev/null
run "$V" -vkey "$VK" -dir bad
assert_exit 1 "Go refuses a changed tile"

# ---- a larger log: 600 entries in commits of 7, checkpoints kept at 300 and 513
run "$BENCH" append big 300 7
assert_exit 0 "grow a log to 300"
cp big/checkpoint big-300.cp
run "$BENCH" append big 513 7
cp big/checkpoint big-513.cp
run "$BENCH" append big 600 7
assert_exit 0 "grow it to 600"
"$BENCH" prove big since 300 >big-300.body
"$BENCH" prove big since 513 >big-513.body
for i in 0 255 256 299 511 599; do "$BENCH" prove big index $i >big-$i.proof; done
BK=$(cat big.vkey)
run "$V" -vkey "$BK" -dir big -receipt big-0.proof -receipt big-255.proof -receipt big-256.proof \
  -receipt big-299.proof -receipt big-511.proof -receipt big-599.proof \
  -consistency big-300.body -old big-300.cp
assert_exit 0 "Go verifies the 600-entry log, six inclusion proofs and 300 -> 600"
assert_true "Go compared every tile" grep -q "tiles: 4 tiles equal to Go's" "$T/out"
run "$V" -vkey "$BK" -dir big -consistency big-513.body -old big-513.cp
assert_exit 0 "Go verifies 513 -> 600"
assert_absent big/tile/0/000.p "partial tiles of full tiles are pruned"
finish
