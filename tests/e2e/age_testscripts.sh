#!/usr/bin/env bash
# age's own command-line tests (tests/age-cli/, copies of age's testscripts) run
# by tests/testscript.py: with doormat as age and `doormat keygen` as
# age-keygen, and, as proof that the runner checks what testscript checks, with
# the real age 1.1.1, which fails exactly the lines that are features of age 1.2
# and 1.3. Every script's status is asserted, and the line of each failure of
# age 1.1.1. A build without ML-KEM skips the scripts of the hybrid
# post-quantum recipient, by name, with the reason `doormat --features` gives.
. "$(dirname "$0")/lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
AGE=${AGE:-/usr/bin/age}
AGE_KEYGEN=${AGE_KEYGEN:-/usr/bin/age-keygen}
need_tools "$AGE" "$AGE_KEYGEN" python3
# Under valgrind (make memcheck) a scrypt of work factor 2^18 takes minutes: the three scripts
# that type passphrases for -p (scrypt, terminal, output_file: about fifteen of them) are left
# to make check, and each command gets more time.
SCRIPTS=()
MEMCHECK_LEFT=""
if [ "${DOORMAT_MEMCHECK:-0}" = 1 ]; then
  export TESTSCRIPT_TIMEOUT=900
  MEMCHECK_LEFT="output_file scrypt terminal"
  for s in "$ROOT"/tests/age-cli/*.txt; do
    case " $MEMCHECK_LEFT age_test.go " in *" $(basename "$s" .txt) "*) continue ;; esac
    SCRIPTS+=("$s")
  done
  for s in $MEMCHECK_LEFT; do
    skip "$s.txt" "its passphrases make scrypt run for minutes under valgrind: make check runs it"
  done
fi
RUNNER="python3 $ROOT/tests/testscript.py"
cd "$T" || exit 1

# status FILE: the "STATUS name" of each script (and the line of a failure),
# then the closing count.
status() { sed -E 's/^(PASS [^ ]+|SKIP [^:]+|FAIL [^:]+: line [0-9]+).*/\1/' "$1"; }

# The scripts doormat passes (all but the hybrid ones on a build without ML-KEM).
DOORMAT_PASSES="armor batchpass duplicates ed25519 encrypted_keys output_file pkcs8 plugin rsa scrypt terminal usage x25519"

# ----------------------------------------------------------------- doormat
$RUNNER --doormat "$DOORMAT" --plugins "${DOORMAT_BUILD:-$(dirname "$DOORMAT")}" "${SCRIPTS[@]}" \
  >doormat.out 2>doormat.err
rc=$?
cat doormat.out
if "$DOORMAT" --features | grep -qx 'age1pq: yes'; then
  pq_pass=1
else
  pq_pass=0
fi
want=$(
  for s in armor batchpass duplicates ed25519 encrypted_keys hybrid keygen output_file pkcs8 plugin \
           rsa scrypt terminal usage x25519; do
    case " $MEMCHECK_LEFT " in *" $s "*) continue ;; esac
    case $s in
      hybrid | keygen) [ $pq_pass = 1 ] && echo "PASS $s.txt" || echo "SKIP $s.txt" ;;
      *) case " $DOORMAT_PASSES " in *" $s "*) echo "PASS $s.txt" ;; *) echo "FAIL $s.txt" ;; esac ;;
    esac
  done
)
n_pass=$(printf '%s\n' "$want" | grep -c '^PASS')
n_skip=$(printf '%s\n' "$want" | grep -c '^SKIP')
n_run=$(printf '%s\n' "$want" | grep -c .)
want="$want
$n_pass passed, $((n_run - n_pass - n_skip)) failed, $n_skip skipped"
assert_eq "$(status doormat.out | sed -E 's/^(FAIL [^:]+): line [0-9]+$/\1/')" "$want" "doormat: every script's status"
assert_true "doormat: the runner exits 0 when all pass, 1 otherwise" \
  test "$rc" -eq "$([ "$n_pass" -eq $((n_run - n_skip)) ] && echo 0 || echo 1)"
if [ $pq_pass = 0 ]; then
  reason='needs the hybrid post-quantum recipient; doormat --features says: '$("$DOORMAT" --features | grep '^age1pq: ')
  assert_eq "$(grep '^SKIP' doormat.out)" "SKIP hybrid.txt: $reason
SKIP keygen.txt: $reason" "doormat: skipped by name, with the reason"
fi

# ------------------------------------------------------------- age 1.1.1
# The lines age fails are those of the features it lacks: calibrated on age
# 1.1.1 (Debian 12). Another age (Debian 13 has 1.2.1) fails other lines.
age_version=$("$AGE" --version 2>/dev/null)
age_version=${age_version#v}
if [ "$age_version" != 1.1.1 ]; then
  skip real-age "the real-age check is calibrated on age 1.1.1 (Debian 12); this machine's age is ${age_version:-missing}"
  finish
fi
$RUNNER --age "$AGE" --age-keygen "$AGE_KEYGEN" >age.out 2>age.err
rc=$?
echo "the real age 1.1.1 on the same scripts (it must fail the lines of age 1.2 and 1.3 features):"
sed 's/^/  age 1.1.1: /' age.out
assert_eq "$(status age.out)" "FAIL armor.txt: line 1
FAIL batchpass.txt: line 4
FAIL duplicates.txt: line 3
PASS ed25519.txt
PASS encrypted_keys.txt
FAIL hybrid.txt: line 2
FAIL keygen.txt: line 7
FAIL output_file.txt: line 26
PASS pkcs8.txt
FAIL plugin.txt: line 20
PASS rsa.txt
FAIL scrypt.txt: line 31
PASS terminal.txt
PASS usage.txt
FAIL x25519.txt: line 20
6 passed, 9 failed, 0 skipped" "age 1.1.1: 6 of 15, each failure at its line"
assert_true "age 1.1.1: the runner exits 1" test "$rc" -eq 1
# What those lines are: age 1.2 and 1.3 features (and age's test-only fixed passphrase word).
assert_match "$(grep '^FAIL plugin.txt' age.out)" "pwn exists" "age 1.1.1 runs a plugin named with a path separator"
assert_match "$(grep '^FAIL duplicates.txt' age.out)" "no match for 'warning: duplicate recipient" \
  "age 1.1.1 does not warn about duplicates"
finish
