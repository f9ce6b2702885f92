#!/usr/bin/env bash
# A failing disk under a serving agent, one write at a time: every call that
# writes the log (entry bundles, tiles, their directories' fsyncs,
# checkpoint.new, its rename and directory fsync, the cosigned checkpoint)
# and every call that writes the witness's record is failed in turn with
# ENOSPC, with EIO, and (writes) as a short write on a disk that then is
# full. The calls are libfiu points (base/durable.c) and
# build/tests/fiu_nth.so, preloaded into the service, fails the K-th of a
# release. After each fault:
#   - the release is refused (HTTP 5xx) and no share reaches the requester;
#   - the log on disk verifies (escrow audit verify) and is its last signed
#     checkpoint: the old size for a fault before the checkpoint's rename,
#     one more entry (logged, not released) for a fault after it;
#   - the next release in the same process works, and its entry is the next
#     index on disk (the agent's memory is the disk's checkpoint);
#   - every few faults, and at the end, after a restart too.
# Then the case of the report: the release that fills the first tile (entry
# 255) cannot write its full bundle; and a real full disk: the agent's log on
# a small tmpfs, filled. The summary line gives the count of injected faults,
# and one line per fault what it left.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../service_lib.sh"
D=$DOORMAT
BUILD=${DOORMAT_BUILD:-$(dirname "$DOORMAT")}
FIU=$BUILD/tests/fiu_nth.so
cd "$T" || exit 1
if [ ! -f "$FIU" ]; then
  fail "$FIU is missing (make builds it)"
  finish
fi
# Under valgrind every release takes seconds: every 9th call, one mode each
# (LOG_FAULTS_STEP=N: every Nth call, for a quick run by hand).
STEP=${LOG_FAULTS_STEP:-1}
RESTART_EVERY=6
if [ "${DOORMAT_MEMCHECK:-0}" = 1 ]; then STEP=9; RESTART_EVERY=2; fi

svc_authority fbi doj 1 1 1 || { fail "authority"; finish; }
: >ctl_w
echo "0 0 none" >ctl_w
echo "0 0 none" >ctl
svc_start_witness 1 fbi
w1_port_saved=$port
# start_agent: the agent with the injector, returned once its start has had
# the checkpoint it starts on cosigned or said why not (those writes are not
# a release's, and must not take a fault meant for one).
start_agent() {
  local had n=0
  had=$(grep -c ": log at size " "$T/doj.stderr" 2>/dev/null)
  LD_PRELOAD=$FIU DOORMAT_FIU_CTL=$T/ctl DOORMAT_FIU_TRACE=$T/trace svc_start_agent doj fbi ||
    return 1
  while [ "$(grep -c ": log at size " "$T/doj.stderr")" -le "${had:-0}" ] &&
        [ $n -lt $((100 * SVC_SLOW)) ]; do
    sleep 0.1; n=$((n + 1))
  done
}
start_agent || { fail "the agent starts with the fault injector"; finish; }
svc_memo fbi

size_on_disk() { sed -n 2p fbi/logs/doj/checkpoint; }
# Each release is asked for by another requester (a new identity): the same
# request again would get its first entry back, not a new one.
nreq=0
fresh_identity() {
  nreq=$((nreq + 1))
  "${C:-$D}" keygen -o "inv$nreq.key" 2>/dev/null
}
request() {
  rm -f out.txt
  fresh_identity
  run "$D" escrow request --timeout $((10 * SVC_SLOW)) --authority fbi/authority.pub \
    --warrant w.txt --identity "inv$nreq.key" -o out.txt memo.age
}
gen=0
# set_fault FILE K MODE: the next release fails the K-th call (0: none).
set_fault() { gen=$((gen + 1)); echo "$gen $2 $3" >"$1.tmp" && mv "$1.tmp" "$1"; }

# release_ok WHAT: a release that works, its entry the next one on disk.
release_ok() {
  local before
  before=$(size_on_disk)
  request
  if [ "$rc" = 0 ] && cmp -s out.txt memo.txt &&
     grep -q "agent doj: share received, its receipt verified (entry $before of its log" "$T/err"; then ok
  else fail "$1: the next release (want entry $before): exit $rc"; fi
}

# A release with no fault: the calls of one release, as the sweep counts them.
set_fault ctl 0 none
release_ok "a release with the injector loaded"
set_fault ctl 0 none
release_ok "a second release"
calls=$(awk -v g="$gen" '$1 == g' trace | wc -l)
awk -v g="$gen" '$1 == g {print $3}' trace >points
assert_true "a release makes writes of the log ($calls calls)" test "$calls" -ge 15
for p in log/entries/write log/tile/write log/tile/rename log/dir/dirsync log/checkpoint/write \
         log/checkpoint/fsync log/publish/rename log/publish/dirsync; do
  assert_true "a release passes the point doormat/$p" grep -qx "doormat/$p" points
done
# The call that publishes the checkpoint: a fault after it leaves the entry in.
publish=$(grep -nx 'doormat/log/publish/rename' points | head -1 | cut -d: -f1)

injected=0 left_old=0 left_new=0 restarts=0
# fault_case FILE K MODE WHERE: one release with the K-th call failed.
fault_case() {
  local file=$1 k=$2 mode=$3 where=$4 before after name want
  before=$(size_on_disk)
  set_fault "$file" "$k" "$mode"
  request
  local tracefile=trace
  [ "$file" = ctl_w ] && tracefile=trace_w
  name=$(awk -v g="$gen" '$1 == g && $4 == "failed" {print $3; exit}' "$tracefile")
  if [ -z "$name" ]; then
    fail "$where call $k ($mode): the fault did not fire"
    return
  fi
  injected=$((injected + 1))
  local label="$where $mode at call $k ($name)"
  local http
  http=$(grep -o "agent doj: refused (HTTP [0-9]*)" "$T/err" | grep -o "[0-9]*" | tail -1)
  if [ "$rc" != 0 ] && [ ! -e out.txt ] && grep -q "agent doj: refused (HTTP 5[0-9][0-9])" "$T/err" &&
     ! grep -q "agent doj: share received" "$T/err"; then ok
  else fail "$label: the release was not refused (exit $rc)"; fi
  after=$(size_on_disk)
  want=$before
  if [ "$where" = witness ] || [ "$k" -gt "$publish" ]; then want=$((before + 1)); fi
  if [ "$after" = "$want" ]; then ok
  else fail "$label: the log's size is $after (want $want)"; fi
  if [ "$after" = "$before" ]; then left_old=$((left_old + 1)); else left_new=$((left_new + 1)); fi
  echo "  fault $injected: $label: refused (HTTP ${http:-none}), no share; the log at size $after (was $before)" >>report
  run "$D" escrow audit verify --authority fbi/authority.pub fbi/logs/doj
  if [ "$rc" = 0 ]; then ok; else fail "$label: audit verify exit $rc"; fi
  # (a checkpoint being written by the agent's own next round is there for a moment: a file
  # left behind is one still there after 2 s)
  local n=0
  while { [ -e fbi/logs/doj/checkpoint.new ] || [ -n "$(find fbi/logs/doj -name '*.tmp')" ]; } &&
    [ $n -lt $((20 * SVC_SLOW)) ]; do sleep 0.1; n=$((n + 1)); done
  if [ ! -e fbi/logs/doj/checkpoint.new ] && [ -z "$(find fbi/logs/doj -name '*.tmp')" ]; then ok
  else fail "$label: a temporary file is left"; fi
  set_fault "$file" 0 none
  release_ok "$label"
  if [ $((injected % RESTART_EVERY)) = 0 ]; then
    svc_stop "${doj_pid:-0}"
    start_agent || fail "$label: the agent restarts"
    restarts=$((restarts + 1))
    set_fault ctl 0 none
    release_ok "$label, after a restart"
  fi
}

n=$(wc -l <points)
i=1
while [ "$i" -le "$n" ]; do
  name=$(sed -n "${i}p" points)
  if [ "$STEP" = 1 ]; then modes="enospc eio"; case $name in */write) modes="$modes short" ;; esac
  else modes=$(echo "enospc eio short" | cut -d' ' -f$(( (i / STEP) % 3 + 1 ))); fi
  for m in $modes; do
    [ "$m" = short ] && case $name in */write) ;; *) m=enospc ;; esac
    fault_case ctl "$i" "$m" agent
  done
  i=$((i + STEP))
done

# The witness's record of the checkpoint: a fault there costs the release
# its cosignature (refused, the entry logged); the next release is cosigned.
svc_stop "${w1_pid:-0}"
rm -f "$T/w1.port"
LD_PRELOAD=$FIU DOORMAT_FIU_CTL=$T/ctl_w DOORMAT_FIU_TRACE=$T/trace_w \
  svc_start w1 "$D" escrow witness serve --key "$T/w1/witness.key" --trust fbi/authority.pub \
  --state "$T/w1/state" --listen "127.0.0.1:$w1_port_saved" || fail "the witness restarts"
set_fault ctl 0 none
set_fault ctl_w 0 none
release_ok "a release with the witness's injector loaded"
wcalls=$(awk -v g="$gen" '$1 == g' trace_w | wc -l)
assert_true "the witness writes its record ($wcalls calls)" test "$wcalls" -ge 5
for i in $(seq 1 "$STEP" "$wcalls"); do
  set_fault ctl 0 none
  fault_case ctl_w "$i" enospc witness
  [ "$STEP" = 1 ] && fault_case ctl_w "$i" eio witness
done

svc_stop "${doj_pid:-0}"
start_agent || fail "the agent restarts after the sweep"
set_fault ctl 0 none
release_ok "after the sweep, after a restart"
restarts=$((restarts + 1))

# The case of the report: the release that fills the first tile of 256
# entries (index 255) cannot write the full entry bundle. The log is grown
# to 255 by clients 16 at a time; under valgrind the agent and the clients
# that grow it are the plain command (they are not under test here), and the
# agent under valgrind takes over at 255.
C=$D
[ -x "$BUILD/doormat" ] && C=$BUILD/doormat
set_fault ctl 0 none
if [ "$C" != "$D" ]; then
  svc_stop "${doj_pid:-0}"
  DOORMAT=$C start_agent || fail "the plain agent starts to grow the log"
fi
rounds=0
while [ "$(size_on_disk)" -lt 255 ] && [ "$rounds" -lt 40 ]; do
  n=$((255 - $(size_on_disk)))
  [ "$n" -gt 16 ] && n=16
  for j in $(seq 1 "$n"); do
    fresh_identity
    "$C" escrow request --timeout $((10 * SVC_SLOW)) --authority fbi/authority.pub --warrant w.txt \
      --identity "inv$nreq.key" -o "grow$j.txt" memo.age 2>/dev/null &
  done
  wait_clients=$(jobs -rp | grep -v -x -F -f <(printf '%s\n' "${SVC_PIDS[@]}") || true)
  for p in $wait_clients; do wait "$p" 2>/dev/null; done
  rounds=$((rounds + 1))
done
assert_eq "$(size_on_disk)" 255 "the log grown to 255 entries"
if [ "$C" != "$D" ]; then
  svc_stop "${doj_pid:-0}"
  start_agent || fail "the agent starts again at 255"
fi
set_fault ctl 1 enospc
request
name=$(awk -v g="$gen" '$1 == g && $4 == "failed" {print $3; exit}' trace)
assert_eq "$name" "doormat/log/entries/open" "the first write of that release is the full bundle"
assert_true "the release that fills the tile is refused with no share" \
  sh -c "[ $rc != 0 ] && [ ! -e out.txt ] && ! grep -q 'agent doj: share received' '$T/err'"
injected=$((injected + 1))
[ "$(size_on_disk)" = 255 ] && left_old=$((left_old + 1))
echo "  fault $injected: agent enospc at the full tile (doormat/log/entries/open): refused, no share; the log at size $(size_on_disk) (was 255)" >>report
assert_eq "$(size_on_disk)" 255 "the log stays at 255"
run "$D" escrow audit verify --authority fbi/authority.pub fbi/logs/doj
assert_exit 0 "the log verifies at 255"
set_fault ctl 0 none
release_ok "the next release fills the tile"
assert_true "the full entry bundle is in place" test -f fbi/logs/doj/tile/entries/000
run "$D" escrow audit verify --authority fbi/authority.pub fbi/logs/doj
assert_exit 0 "the log verifies at 256"
svc_stop "${doj_pid:-0}"
start_agent || fail "the agent restarts at 256"
release_ok "after the full tile, after a restart"

echo "log_faults: $injected faults injected ($calls calls of the log per release, $wcalls of the witness's record); $left_old left the log at its old checkpoint, $left_new at the next one (logged, not released); $restarts restarts; each checked for a refusal with no share out, a log that verifies and a working next release ($failures of $checks checks failed)"
cat report

# A real full disk: the log on a small tmpfs, filled to the last byte.
# (room for the log's files and a few releases more)
mnt=$T/small
mkdir -p "$mnt"
kib=$(( $(du -sk fbi/logs/doj | cut -f1) + 512 ))
if mount -t tmpfs -o "size=${kib}k" tmpfs "$mnt" 2>"$T/mount.err"; then
  trap 'umount "$mnt" 2>/dev/null; svc_stop_all; e2e_cleanup' EXIT
  svc_stop "${doj_pid:-0}"
  cp -a fbi/logs/doj "$mnt/doj" || fail "the log fits on the tmpfs (${kib} KiB)"
  mv fbi/logs/doj fbi/logs/doj.disk
  ln -s "$mnt/doj" fbi/logs/doj
  start_agent || fail "the agent starts on the tmpfs"
  set_fault ctl 0 none
  release_ok "a release on the tmpfs"
  # Fill it but for a few bytes, then release until one is refused.
  dd if=/dev/zero of="$mnt/fill" bs=4k 2>/dev/null
  refused=0 tries=0
  while [ "$refused" = 0 ] && [ "$tries" -lt 5 ]; do
    before=$(size_on_disk)
    request
    tries=$((tries + 1))
    if [ "$rc" != 0 ]; then
      refused=1
      assert_true "the full tmpfs: refused with no share" \
        sh -c "! grep -q 'agent doj: share received' '$T/err' && [ ! -e out.txt ]"
      assert_true "the full tmpfs: the log stays at its checkpoint ($before)" \
        test "$(size_on_disk)" = "$before"
    fi
  done
  assert_true "the full tmpfs refuses a release" test "$refused" = 1
  run "$D" escrow audit verify --authority fbi/authority.pub fbi/logs/doj
  assert_exit 0 "the log on the full tmpfs verifies"
  rm -f "$mnt/fill"
  release_ok "space back: the next release in the same process"
  svc_stop "${doj_pid:-0}"
  start_agent || fail "the agent restarts on the tmpfs"
  release_ok "space back: after a restart"
  run "$D" escrow audit verify --authority fbi/authority.pub fbi/logs/doj
  assert_exit 0 "the log on the tmpfs verifies at the end"
  svc_stop "${doj_pid:-0}"
  umount "$mnt" 2>/dev/null
else
  skip full-tmpfs "a tmpfs cannot be mounted here ($(head -c 120 "$T/mount.err"))"
fi

svc_stop_all
finish
