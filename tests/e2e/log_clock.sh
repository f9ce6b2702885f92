#!/usr/bin/env bash
# The agent's operator owns the agent's clock. A shim compiled here
# (LD_PRELOAD, for one process only) moves time(), clock_gettime() and
# gettimeofday() of that process by CLOCK_SHIM_OFFSET seconds: the agent then
# honours an expired (or not yet valid) warrant and dates its entry
# accordingly. What stops it is not the agent's clock but the others':
#  - entries are in time order, and a monitor catching up from --state keeps
#    the time of the last entry it saw, so an entry dated before it is exit 9
#    with or without --state;
#  - the witnesses' cosignature timestamps (their own clocks): an entry dated
#    before a witness cosigned the log without it (backdated), or after a
#    witness cosigned the log with it (postdated), is exit 9 for the monitor
#    and audit verify, naming the entry, the witness and both times.
# The limits the threat model states: a monitor's first look cannot date
# entries made before it from below, and a witness that cosigns in the
# agent's own process (escrow unwrap --witness WDIR) has the agent's clock.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../service_lib.sh"
D=$DOORMAT
cd "$T" || exit 1
day=86400

cat >shim.c <<'EOF'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <sys/time.h>
#include <time.h>

static long offset(void) {
    const char *s = getenv("CLOCK_SHIM_OFFSET");
    return s ? strtol(s, NULL, 10) : 0;
}

int clock_gettime(clockid_t id, struct timespec *ts) {
    static int (*real)(clockid_t, struct timespec *);
    if (!real)
        real = (int (*)(clockid_t, struct timespec *))dlsym(RTLD_NEXT, "clock_gettime");
    int r = real(id, ts);
    if (r == 0 && (id == CLOCK_REALTIME || id == CLOCK_REALTIME_COARSE))
        ts->tv_sec += offset();
    return r;
}

time_t time(time_t *t) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (t)
        *t = ts.tv_sec;
    return ts.tv_sec;
}

int gettimeofday(struct timeval *restrict tv, void *restrict tz) {
    struct timespec ts;
    int r = clock_gettime(CLOCK_REALTIME, &ts);
    if (r == 0 && tv) {
        tv->tv_sec = ts.tv_sec;
        tv->tv_usec = ts.tv_nsec / 1000;
    }
    (void)tz;
    return r;
}
EOF
run "${CC:-cc}" -shared -fPIC -O -o shim.so shim.c -ldl
assert_exit 0 "the clock shim compiles"

# shifted SECONDS CMD...: CMD with its clock moved (ASan wants to be first of
# the preloaded libraries; here it need not be).
shifted() {
  local off=$1; shift
  CLOCK_SHIM_OFFSET=$off LD_PRELOAD=$T/shim.so \
    ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0 "$@"
}
days_ago() { date -u -d "@$(($(date +%s) - $1 * day))" +%F; }
# entry_time N LOGDIR: the time of entry N, as its agent wrote it (in the
# entry bundle of the log's size, below 256).
entry_time() {
  grep -a -o 'time: [0-9T:Z-]*' "$2/tile/entries/000.p/$(sed -n 2p "$2/checkpoint")" |
    sed 's/^time: //' | sed -n "$(($1 + 1))p"
}

run "$D" keygen -o inv.key
run "$D" keygen -o owner.key
owner=$(grep -o 'age1[0-9a-z]*' owner.key | head -1)
printf 'the memo\n' >memo.txt

# ---- 1. the order check survives --state (no witnesses: order is all there is)
run "$D" escrow init --name FBI --agents doj --threshold 1 -o plain
assert_exit 0 "an authority without witnesses"
run "$D" encrypt -r "$owner" --escrow plain/authority.pub -o p.age memo.txt
run "$D" escrow warrant --court plain/court.key --authority plain/authority.pub --case p1 \
  --expires 2099-12-31 -o p1.txt p.age
run "$D" escrow unwrap --authority plain/authority.pub --agent plain/agents/doj.key \
  --warrant p1.txt --log plain/logs/doj -o p1.share p.age
assert_exit 0 "an honest release"
run "$D" escrow monitor --authority plain/authority.pub --state pst
assert_exit 0 "the monitor keeps its state"
assert_eq "$(sed -n 1p pst/*)" "doormat-escrow-monitor/v1" "the state's first line"
assert_eq "$(sed -n 2p pst/*)" "last-entry: $(entry_time 0 plain/logs/doj)" \
  "the state keeps the last entry's time"
# A state of older versions holds the checkpoint alone: still read.
mkdir legacy && sed 1,2d pst/* >"legacy/$(basename pst/*)"
cp -r legacy legacy2
run "$D" escrow monitor --authority plain/authority.pub --state legacy2
assert_exit 0 "a state of older versions (the checkpoint alone)"
assert_true "is read" grep -q "consistent with the kept size 1 (0 new entries, 0 listed)" "$T/out"
assert_eq "$(sed -n 2p legacy2/*)" "last-entry: $(entry_time 0 plain/logs/doj)" \
  "and written back with the last entry's time"

# An expired warrant: refused at the real date, honoured by a clock 30 days back.
run "$D" escrow warrant --court plain/court.key --authority plain/authority.pub --case p2 \
  --issued "$(days_ago 40)" --expires "$(days_ago 20)" -o p2.txt p.age
run "$D" escrow unwrap --authority plain/authority.pub --agent plain/agents/doj.key \
  --warrant p2.txt --log plain/logs/doj -o p2.share p.age
assert_fails 8 "expired on $(days_ago 20)" "the expired warrant at the real date"
shifted $((-30 * day)) run "$D" escrow unwrap --authority plain/authority.pub \
  --agent plain/agents/doj.key --warrant p2.txt --log plain/logs/doj -o p2.share p.age
assert_exit 0 "the same warrant honoured by an agent whose clock is 30 days back"
back=$(entry_time 1 plain/logs/doj)
assert_match "$back" "^$(days_ago 30)T" "the entry is backdated 30 days"
run "$D" escrow monitor --authority plain/authority.pub --state pst
assert_fails 9 "agent doj's log: entry 1 is dated $back, more than 10 minutes before an entry before it \($(entry_time 0 plain/logs/doj)\)" \
  "catching up from --state, the backdated entry"
run "$D" escrow monitor --authority plain/authority.pub --state pst
assert_exit 9 "the state was not moved past it: caught again"
run "$D" escrow monitor --authority plain/authority.pub
assert_fails 9 "agent doj's log: entry 1 is dated $back, more than 10 minutes before" \
  "without --state, the backdated entry"
run "$D" escrow monitor --authority plain/authority.pub --state legacy
assert_fails 9 "agent doj's log: entry 1 is dated $back, more than 10 minutes before" \
  "a state of older versions (the checkpoint alone): the log is read again"

# ---- 2. the witnesses' clocks: one agent, one witness over HTTPS
assert_true "authority with 1 witness" svc_authority fbi doj 1 1 1
svc_start_witness 1 fbi
assert_true "witness w1 starts (real clock)" test -n "${port:-}"
run "$D" encrypt -r "$owner" --escrow fbi/authority.pub -o memo.age memo.txt
# start_shifted SECONDS: (re)starts agent doj with its clock moved.
start_shifted() {
  [ -n "${doj_pid:-}" ] && svc_stop "$doj_pid"
  port=
  shifted "$1" svc_start_agent doj fbi
  assert_true "agent doj starts with its clock moved by $1 s" test -n "${port:-}"
}
request() {
  run "$D" escrow request --timeout $((10 * SVC_SLOW)) --authority fbi/authority.pub \
    --warrant "$1" --identity inv.key -o "$2" memo.age
}

start_shifted $((-40 * day))
run "$D" escrow warrant --court fbi/court.key --authority fbi/authority.pub --case w1 \
  --issued "$(days_ago 45)" --expires "$(days_ago 35)" -o w1.txt memo.age
request w1.txt out1.txt
assert_exit 0 "a warrant expired 35 days ago, honoured 40 days back"
assert_same out1.txt memo.txt "the file opened"
e0=$(entry_time 0 fbi/logs/doj)
assert_match "$e0" "^$(days_ago 40)T" "entry 0 is dated 40 days back"
# The limit: nothing earlier was seen, so nothing dates it.
run "$D" escrow monitor --authority fbi/authority.pub --state st memo.age
assert_exit 0 "a monitor's first look cannot date entry 0"

start_shifted $((-30 * day))
run "$D" escrow warrant --court fbi/court.key --authority fbi/authority.pub --case w2 \
  --issued "$(days_ago 35)" --expires "$(days_ago 25)" -o w2.txt memo.age
request w2.txt out2.txt
assert_exit 0 "a warrant expired 25 days ago, honoured 30 days back"
e1=$(entry_time 1 fbi/logs/doj)
assert_match "$e1" "^$(days_ago 30)T" "entry 1 is dated 30 days back (in order after entry 0)"
run "$D" escrow monitor --authority fbi/authority.pub --state st memo.age
assert_fails 9 "agent doj's log: entry 1 is dated $e1, but witness witness.test/w1 cosigned the log at size 1, without it, at [0-9T:Z-]+: the entry was backdated" \
  "the monitor catching up dates entry 1 by the witness's clock"
seen=$(grep -o 'without it, at [0-9T:-]*Z' "$T/err" | sed 's/.* at //')
assert_true "the witness's time ($seen) is after the warrant's expiry ($(days_ago 25))" \
  test "$(date -u -d "$seen" +%s)" -gt "$(date -u -d "$(days_ago 25) 23:59:59" +%s)"
run "$D" escrow monitor --authority fbi/authority.pub --state st
assert_exit 9 "caught again: the state stays before it"
sed 1,2d st/* >kept.cp
run "$D" escrow audit verify --authority fbi/authority.pub --since kept.cp fbi/logs/doj
assert_fails 9 "entry 1 is dated $e1, but witness witness.test/w1 cosigned the log at size 1, without it" \
  "audit verify --since the kept checkpoint dates entry 1 too"
run "$D" escrow audit verify --authority fbi/authority.pub fbi/logs/doj
assert_exit 0 "audit verify from nothing cannot date it from below"

# A clock moved ahead honours a warrant before its issue date.
start_shifted $((2 * day))
run "$D" escrow warrant --court fbi/court.key --authority fbi/authority.pub --case w3 \
  --issued "$(days_ago -1)" --expires "$(days_ago -10)" -o w3.txt memo.age
request w3.txt out3.txt
assert_exit 0 "a warrant valid from tomorrow, honoured 2 days ahead"
e2=$(entry_time 2 fbi/logs/doj)
run "$D" escrow audit verify --authority fbi/authority.pub fbi/logs/doj
assert_fails 9 "entry 2 is dated $e2, but witness witness.test/w1 cosigned the log at size 3, with it, already at [0-9T:Z-]+: the entry was postdated" \
  "audit verify dates entry 2 by the witness's clock"
run "$D" escrow monitor --authority fbi/authority.pub memo.age
assert_fails 9 "agent doj's log: entry 2 is dated $e2, but witness witness.test/w1 cosigned the log at size 3, with it, already at" \
  "a monitor from nothing dates entry 2 by the witness's clock"

# ---- 3. the limit: a witness in the agent's own process has the agent's clock
run "$D" escrow witness init --name witness.test/local -o wlocal
run "$D" escrow init --name LOCAL --agents doj --threshold 1 --witness wlocal/witness.vkey -o local
assert_exit 0 "an authority whose witness runs beside the agent"
run "$D" encrypt -r "$owner" --escrow local/authority.pub -o l.age memo.txt
run "$D" escrow warrant --court local/court.key --authority local/authority.pub --case l1 \
  --issued "$(days_ago -1)" --expires "$(days_ago -10)" -o l1.txt l.age
shifted $((2 * day)) run "$D" escrow unwrap --authority local/authority.pub \
  --agent local/agents/doj.key --warrant l1.txt --log local/logs/doj --witness wlocal -o l1.share l.age
assert_exit 0 "released 2 days ahead, cosigned in the same process"
assert_match "$(entry_time 0 local/logs/doj)" "^$(days_ago -2)T" "the entry is dated 2 days ahead"
run "$D" escrow monitor --authority local/authority.pub
assert_exit 0 "a witness in the agent's process moves with its clock: nothing to see"

svc_stop_all
finish
