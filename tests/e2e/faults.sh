#!/usr/bin/env bash
# Fault injection: a full disk, a directory that can't be written, input cut
# at every chunk boundary (and one byte either side), a bit flipped in every
# header byte and in sampled payload bytes, a pipe that delivers short reads,
# SIGINT/SIGTERM in the middle of a large write, and hostile headers (very
# long lines, a million stanzas, huge armor) with bounded memory.
#
# Under make memcheck (DOORMAT_MEMCHECK=1, the command under valgrind, 20-50x
# slower) the same checks run on smaller inputs: a quarter of the header bytes
# (every 4th), a 16 MiB rather than 256 MiB write to interrupt, 100 000 rather
# than a million stanzas; peak-RSS bounds are checked only natively, since
# under valgrind they would measure valgrind.
. "$(dirname "$0")/lib.sh"
D=$DOORMAT
MEMCHECK=${DOORMAT_MEMCHECK:-0}
cd "$T" || exit 1
chmod 755 "$T"

"$D" keygen -o k.txt 2>/dev/null
R=$("$D" keygen -y k.txt)
"$D" keygen -o other.txt 2>/dev/null

# no_temp DIR WHAT: no doormat temporary file is left in DIR.
no_temp() {
  if [ -n "$(find "$1" -maxdepth 1 -name '.*.doormat-*' -print -quit)" ]; then
    fail "$2: temporary file left in $1: $(find "$1" -maxdepth 1 -name '.*.doormat-*')"
  else ok; fi
}

# peak_rss_kb CMD...: runs CMD (stdout and stderr as run does) and sets rss to its
# peak resident set size in KiB (GNU time), rc to its status.
peak_rss_kb() {
  /usr/bin/time -f '%M' -o "$T/rss" "$@" >"$T/out" 2>"$T/err"
  rc=$?
  # GNU time adds "Command exited with non-zero status N" before the number.
  rss=$(grep -E '^[0-9]+$' "$T/rss" | tail -1)
}

# ---------------------------------------------------------------- a full disk
make_file plain 200000
"$D" encrypt -r "$R" -o plain.age plain
"$D" encrypt -a -r "$R" -o plain.asc plain
for args in "encrypt -r $R -o /dev/full plain" "encrypt -a -r $R -o /dev/full plain" \
            "decrypt -i k.txt -o /dev/full plain.age"; do
  # shellcheck disable=SC2086
  run "$D" $args
  assert_fails 1 "input/output error: .*No space left on device" "$args (exit 1, says why)"
done
run sh -c '"$1" encrypt -r "$2" plain >/dev/full' _ "$D" "$R"
assert_fails 1 "No space left on device" "encrypt to a full standard output"
run sh -c '"$1" decrypt -i k.txt plain.age >/dev/full' _ "$D"
assert_fails 1 "No space left on device" "decrypt to a full standard output"
run sh -c '"$1" keygen >/dev/full' _ "$D"
assert_fails 1 "No space left on device" "keygen to a full standard output"
run sh -c '"$1" keygen -y k.txt >/dev/full' _ "$D"
assert_fails 1 "No space left on device" "keygen -y to a full standard output"
run sh -c '"$1" inspect plain.age >/dev/full' _ "$D"
assert_fails 1 "standard output" "inspect to a full standard output"
run sh -c '"$1" encrypt --help >/dev/full' _ "$D"
assert_fails 1 "No space left on device" "--help to a full standard output"
"$D" escrow init --name F -o fa >/dev/null
run "$D" escrow warrant --court fa/court.key --authority fa/authority.pub --case c \
  --expires 2999-01-01 -o /dev/full plain.age
assert_fails 1 "No space left on device" "escrow warrant to /dev/full"
assert_true "/dev/full is still a device" test -c /dev/full

# ---------------------------------------------------------------- a directory that can't be written
# Tests run as root in CI, and root ignores permission bits, so two failures
# that hold for root too: a path whose parent is a regular file (ENOTDIR), and
# a read-only directory written by an unprivileged user (setpriv drops to
# nobody when we are root; otherwise we already are one).
printf 'a regular file\n' >notadir
cp notadir notadir.saved
run "$D" encrypt -r "$R" -o notadir/out.age plain
assert_fails 1 "cannot create a file in notadir: Not a directory" "output under a regular file"
assert_same notadir notadir.saved "the regular file is untouched"
run "$D" decrypt -i k.txt -o notadir/out plain.age
assert_fails 1 "Not a directory" "decrypt output under a regular file"
run "$D" keygen -o notadir/key.txt
assert_fails 1 "Not a directory" "keygen output under a regular file"
run "$D" escrow init --name X -o notadir/auth
assert_exit 1 "escrow init under a regular file"
assert_true "escrow init says why" grep -q "Not a directory" "$T/err"

mkdir ro ro-in
cp plain ro-in/plain
printf 'precious\n' >ro/existing
chmod 555 ro
chmod 644 ro/existing
D_USER=$D
if [ "$(id -u)" -eq 0 ]; then
  as_user() { setpriv --reuid=65534 --regid=65534 --clear-groups -- "$@"; }
  # A clone under /root is out of nobody's reach: then nobody runs a copy.
  if ! as_user test -x "$D"; then cp "$D" "$T/doormat-for-nobody"; D_USER=$T/doormat-for-nobody; fi
else
  as_user() { "$@"; }
fi
run as_user "$D_USER" encrypt -r "$R" -o ro/out.age ro-in/plain
assert_fails 1 "cannot create a file in ro: Permission denied" "output into a read-only directory"
assert_eq "$(ls -A ro)" "existing" "nothing left in the read-only directory"
run as_user "$D_USER" encrypt -r "$R" -o ro/existing ro-in/plain
assert_fails 1 "Permission denied" "replacing a file in a read-only directory"
assert_eq "$(cat ro/existing)" "precious" "the existing file is untouched"
chmod 755 ro

# ---------------------------------------------------------------- truncation at chunk boundaries
# Two shapes: a short last chunk (3 full chunks + 1000 bytes) and a full last
# chunk (exactly 2 chunks). Cut at the end of the header, after the nonce, and
# at the end of every chunk, and one byte either side: exit 6 with nothing
# written. A cut before the end of the 16-byte payload nonce is exit 3, as the
# C2SP testkit has it (stream_no_nonce, stream_short_nonce: "header failure");
# a complete nonce with no chunk is a payload failure (stream_no_chunks).
CH=65536
CT=$((CH + 16))
make_file three $((3 * CH + 1000))
make_file two $((2 * CH))
mkdir cut
for f in three two; do
  "$D" encrypt -r "$R" -o $f.age $f
  size=$(stat -c %s $f.age)
  hdr=$(( $(mac_offset $f.age) + 44 ))
  bounds="$hdr $((hdr + 16))"
  for ((b = hdr + 16 + CT; b < size; b += CT)); do bounds="$bounds $b"; done
  for b in $bounds; do
    for cut in $((b - 1)) "$b" $((b + 1)); do
      [ "$cut" -lt "$size" ] || continue
      head -c "$cut" $f.age >cut.age
      want=6
      [ "$cut" -lt $((hdr + 16)) ] && want=3
      run "$D" decrypt -i k.txt -o cut/out cut.age
      assert_exit "$want" "$f cut at $cut of $size (boundary $b)"
      assert_absent cut/out "$f cut at $cut: no output"
    done
  done
  # Through standard input too: what was released must be a prefix, and the exit 6.
  head -c $((hdr + 16 + CT + 1)) $f.age >cut.age
  run sh -c 'cat cut.age | "$1" decrypt -i k.txt' _ "$D"
  assert_exit 6 "$f cut one byte into chunk 2, through a pipe"
  assert_true "$f: what was released is a prefix of the plaintext" \
    cmp -s "$T/out" <(head -c "$(stat -c %s "$T/out")" $f)
done
no_temp cut "truncation"
assert_eq "$(ls -A cut)" "" "truncation left nothing"

# ---------------------------------------------------------------- bit flips
# One bit flipped in every header byte: a malformed header (3), a stanza that
# now belongs to nobody (4: an X25519 share or body that changed is a stanza
# for some other key, which is how age reports it too), or a MAC mismatch (5).
# Never success, never output. In the MAC line only 3 or 5; in the intro only 3.
small=plain.age
hdr=$(( $(mac_offset $small) + 44 ))
macline=$(( $(mac_offset $small) - 4 ))
stride=1
[ "$MEMCHECK" = 1 ] && stride=4
mkdir flip
bad_codes=""
for ((i = 0; i < hdr; i += stride)); do
  cp $small flip.age
  put_byte flip.age "$i" $(( $(get_byte $small "$i") ^ (1 << (i % 8)) ))
  "$D" decrypt -i k.txt -o flip/out flip.age >/dev/null 2>"$T/err"
  code=$?
  if [ "$i" -lt 22 ]; then want="3"; elif [ "$i" -ge "$macline" ]; then want="3 5"; else want="3 4 5"; fi
  case " $want " in *" $code "*) ;; *) bad_codes="$bad_codes $i:$code" ;; esac
  [ -e flip/out ] && bad_codes="$bad_codes $i:output"
  [ "$(wc -l <"$T/err")" -eq 1 ] || bad_codes="$bad_codes $i:stderr"
done
assert_eq "$bad_codes" "" "a bit flipped in each of $hdr header bytes (stride $stride): exit 3/4/5, one line, no output"
# Sampled payload positions: the nonce, the first and last bytes of each chunk,
# the tags, the middle of chunks; always 6.
size=$(stat -c %s $small)
bad_codes=""
for p in 0 1 15 16 17 100 $((CH / 2)) $((16 + CH - 1)) $((16 + CH)) $((16 + CH + 15)) \
         $((16 + CT)) $((16 + CT + 1)) $((16 + CT + 5000)) $((16 + 3 * CT / 2)) \
         $((size - hdr - 17)) $((size - hdr - 16)) $((size - hdr - 1)); do
  off=$((hdr + p))
  [ "$off" -lt "$size" ] || continue
  cp $small flip.age
  put_byte flip.age "$off" $(( $(get_byte $small "$off") ^ (1 << (p % 8)) ))
  "$D" decrypt -i k.txt -o flip/out flip.age >/dev/null 2>"$T/err"
  code=$?
  [ "$code" -eq 6 ] || bad_codes="$bad_codes $p:$code"
  [ -e flip/out ] && bad_codes="$bad_codes $p:output"
done
assert_eq "$bad_codes" "" "a bit flipped at sampled payload positions: exit 6, no output"
no_temp flip "bit flips"
# The armored file: a flip inside the armor's base64 is either bad armor (3)
# or the binary flip it encodes.
cp plain.asc flip.asc
put_byte flip.asc 40 $(( $(get_byte plain.asc 40) ^ 1 ))
run "$D" decrypt -i k.txt -o flip/out flip.asc
assert_true "armored flip in the header: exit 3, 4 or 5 (got $rc)" [ "$rc" -ge 3 ] && [ "$rc" -le 5 ]
assert_absent flip/out "armored flip: no output"

# ---------------------------------------------------------------- short reads
# trickle FILE: copies FILE to stdout 1 to 13 bytes at a time, pausing now and
# then so that the reader really sees short reads (and reads that return
# in the middle of a line of armor or of the header).
trickle() {
  perl -e '
    open(my $f, "<:raw", $ARGV[0]) or die; binmode STDOUT; $| = 1; srand(7);
    my ($buf, $n);
    while (($n = read($f, $buf, 1 + int(rand(13)))) > 0) {
      syswrite(STDOUT, $buf) == $n or exit 1;
      select(undef, undef, undef, 0.0005) if rand() < 0.02;
    }' "$1"
}
make_file mid 150000
run sh -c "$(declare -f trickle); trickle mid | \"\$1\" encrypt -r \"\$2\" > trickle.age" _ "$D" "$R"
assert_exit 0 "encrypt from a trickling pipe"
run "$D" decrypt -i k.txt trickle.age
assert_same "$T/out" mid "encrypted from a trickle: round trip"
"$D" encrypt -r "$R" -o mid.age mid
"$D" encrypt -a -r "$R" -o mid.asc mid
for f in mid.age mid.asc; do
  run sh -c "$(declare -f trickle); trickle $f | \"\$1\" decrypt -i k.txt" _ "$D"
  assert_exit 0 "decrypt $f from a trickling pipe"
  assert_same "$T/out" mid "decrypt $f from a trickle: exact plaintext"
done
run sh -c "$(declare -f trickle); trickle k.txt | \"\$1\" decrypt -i - mid.age" _ "$D"
assert_exit 0 "identity file from a trickling pipe"
assert_same "$T/out" mid "identity from a trickle: exact plaintext"
printf 'a passphrase for the trickle\n' >pw.txt
"$D" encrypt --passphrase-file pw.txt -o pw.age mid 2>/dev/null
run sh -c "$(declare -f trickle); trickle pw.txt | \"\$1\" decrypt --passphrase-file - pw.age" _ "$D"
assert_exit 0 "passphrase from a trickling pipe"
assert_same "$T/out" mid "passphrase from a trickle: exact plaintext"
run sh -c "$(declare -f trickle); trickle mid.age | \"\$1\" inspect" _ "$D"
assert_true "inspect from a trickle" grep -qx 'plaintext bytes: 150000' "$T/out"

# ---------------------------------------------------------------- a signal in the middle of a large write
# The command starts with SIGINT at its default disposition (a background job
# of a script would inherit it ignored, and doormat rightly keeps an ignored
# signal ignored). The source is a FIFO we hold open: after BIG bytes, doormat
# waits for more with the temporary file well filled, and gets the signal.
BIG=$((256 << 20))
[ "$MEMCHECK" = 1 ] && BIG=$((16 << 20))
# SIGDFL CMD... & : perl resets SIGINT and SIGQUIT and execs CMD, so $! is CMD's pid.
SIGDFL=(perl -e '$SIG{INT} = $SIG{QUIT} = "DEFAULT"; exec @ARGV or die "exec: $!"')

# wait_tmp DIR BYTES: until a temporary file in DIR holds BYTES (60 s at most).
wait_tmp() {
  local f size
  for _ in $(seq 1200); do
    f=$(find "$1" -maxdepth 1 -name '.*.doormat-*' -print -quit)
    if [ -n "$f" ]; then
      size=$(stat -c %s "$f" 2>/dev/null || echo 0)
      [ "$size" -ge "$2" ] && return 0
    fi
    sleep 0.05
  done
  return 1
}

interrupt_encrypt() { # SIGNAL EXPECTED_STATUS
  rm -rf sig && mkdir sig
  mkfifo sig/in.fifo
  printf 'the OUT that was here before\n' >sig/out.age
  cp sig/out.age out.saved
  "${SIGDFL[@]}" "$D" encrypt -r "$R" -o sig/out.age <sig/in.fifo 2>"$T/err" &
  local pid=$!
  exec 3>sig/in.fifo
  head -c "$BIG" /dev/zero >&3
  if wait_tmp sig $((BIG / 2)); then ok; else fail "encrypt: the temporary file never reached $((BIG / 2)) bytes"; fi
  kill -"$1" "$pid"
  # A watchdog: should the signal be lost, the test fails instead of hanging.
  perl -e 'sleep 60; kill "KILL", @ARGV' "$pid" >/dev/null 2>&1 &
  local dog=$!
  wait "$pid"
  local status=$?
  kill "$dog" 2>/dev/null
  exec 3>&-
  assert_eq "$status" "$2" "encrypt killed by SIG$1 mid-write"
  no_temp sig "encrypt killed by SIG$1"
  assert_same sig/out.age out.saved "encrypt killed by SIG$1: the existing OUT is byte for byte as it was"
  assert_eq "$(ls -A sig | sort | tr '\n' ' ')" "in.fifo out.age " "encrypt killed by SIG$1: nothing else in the directory"
}
interrupt_encrypt INT 130
interrupt_encrypt TERM 143

# Decrypt: a second doormat encrypts the FIFO-fed stream into another FIFO;
# the decryption has written nearly everything when the signal comes.
rm -rf sig && mkdir sig
mkfifo sig/plain.fifo sig/ct.fifo
printf 'precious plaintext\n' >sig/out
cp sig/out out.saved
"${SIGDFL[@]}" "$D" decrypt -i k.txt -o sig/out <sig/ct.fifo 2>"$T/err" &
dpid=$!
"$D" encrypt -r "$R" <sig/plain.fifo >sig/ct.fifo 2>/dev/null &
epid=$!
exec 4>sig/plain.fifo
head -c "$BIG" /dev/zero >&4
if wait_tmp sig $((BIG / 2)); then ok; else fail "decrypt: the temporary file never reached $((BIG / 2)) bytes"; fi
kill -INT "$dpid"
perl -e 'sleep 60; kill "KILL", @ARGV' "$dpid" "$epid" >/dev/null 2>&1 &
dog=$!
wait "$dpid"
status=$?
kill "$dog" 2>/dev/null
exec 4>&-
wait "$epid" 2>/dev/null
assert_eq "$status" 130 "decrypt killed by SIGINT mid-write"
no_temp sig "decrypt killed by SIGINT"
assert_same sig/out out.saved "decrypt killed by SIGINT: the existing OUT is untouched"

# ---------------------------------------------------------------- hostile headers
# Every one: a clear one-line error (exit 3, or 4 for a well-formed header
# that no identity matches) and peak memory bounded (headers are capped at
# 8 MiB; a parsed stanza costs about 140 bytes).
RSS_CAP=$((48 << 10))      # KiB, for the streams that are refused by size
STANZA_CAP=$((256 << 10))  # KiB, for a million parsed stanzas
# AddressSanitizer (make sanitize) pads every allocation and keeps freed ones
# in quarantine: the same bounds, four times looser.
if grep -aq AddressSanitizer "$D" 2>/dev/null; then
  RSS_CAP=$((RSS_CAP * 4)) STANZA_CAP=$((STANZA_CAP * 4))
fi
hostile() { # WHAT EXIT REGEX RSS_CAP_KB CMD...
  local what=$1 want=$2 re=$3 cap=$4
  shift 4
  if [ "$MEMCHECK" = 1 ]; then
    skip "$what: peak RSS" "under valgrind (make memcheck) the peak RSS is valgrind's"
    run "$@"
  else
    peak_rss_kb "$@"
    if [ "$rss" -le "$cap" ]; then ok; else fail "$what: peak RSS $rss KiB > $cap KiB"; fi
  fi
  assert_fails "$want" "$re" "$what"
}
# A 100 MiB line (no newline) inside a stanza, from a pipe.
hostile "a 100 MiB stanza line" 3 "header is larger than" "$RSS_CAP" \
  sh -c '{ printf "age-encryption.org/v1\n-> X25519 "; head -c 104857600 /dev/zero | tr "\0" A; } | "$1" decrypt -i k.txt' _ "$D"
hostile "a 100 MiB intro line" 3 "malformed header" "$RSS_CAP" \
  sh -c 'head -c 104857600 /dev/zero | tr "\0" a | "$1" decrypt -i k.txt' _ "$D"
# A million stanzas (6 MB: within the size cap): parsed, and matched by nobody.
NST=1000000
[ "$MEMCHECK" = 1 ] && NST=100000
perl -e 'print "age-encryption.org/v1\n", "-> a\n\n" x $ARGV[0], "--- ", "A" x 43, "\n", "\0" x 40' "$NST" >million.age
hostile "$NST stanzas" 4 "no identity matched.* $NST recipient stanzas" "$STANZA_CAP" \
  "$D" decrypt -i k.txt -o never.out million.age
assert_absent never.out "$NST stanzas: no output"
run "$D" inspect million.age
assert_true "inspect counts $NST stanzas" grep -qx "stanza: a x$NST" "$T/out"
# Stanzas without end, from a pipe: refused at the size cap.
hostile "endless stanzas" 3 "header is larger than" "$RSS_CAP" \
  sh -c 'perl -e "print qq(age-encryption.org/v1\n); print qq(-> a\n\n) x 4000000" 2>/dev/null | "$1" decrypt -i k.txt' _ "$D"
# Huge armor: 24 MB of valid armor around an endless header; and a 50 MiB armor line.
hostile "huge armor" 3 "header is larger than" "$RSS_CAP" \
  sh -c '{ echo -----BEGIN AGE ENCRYPTED FILE-----; perl -e "print qq(age-encryption.org/v1\n), qq(-> a\n\n) x 3000000" | base64 -w 64; echo -----END AGE ENCRYPTED FILE-----; } | "$1" decrypt -i k.txt' _ "$D"
hostile "a 50 MiB armor line" 3 "armor line 2: line too long" "$RSS_CAP" \
  sh -c '{ echo -----BEGIN AGE ENCRYPTED FILE-----; head -c 52428800 /dev/zero | tr "\0" A; } | "$1" decrypt -i k.txt' _ "$D"
hostile "50 MiB of whitespace" 3 "malformed header" "$RSS_CAP" \
  sh -c 'head -c 52428800 /dev/zero | tr "\0" " " | "$1" decrypt -i k.txt' _ "$D"
# Escrow text files of hostile size: the authority and the log are read whole
# but capped (16 MiB).
head -c $((20 << 20)) /dev/zero | tr '\0' '#' >huge.pub
hostile "a 20 MiB authority file" 2 "huge.pub: larger than 16777216 bytes" "$RSS_CAP" \
  "$D" encrypt -r "$R" --escrow huge.pub -o never.out plain
assert_absent never.out "huge authority: no output"

finish
