#!/usr/bin/env bash
# What a small file costs before its first byte: doormat must not load OpenSSL's
# libcrypto for a payload of at most 512 KiB (libsodium does it, with the same
# bytes), and must load it for bigger payloads (OpenSSL is faster per byte).
# The dynamic loader says what it loads when LD_DEBUG=libs.
. "$(dirname "$0")/lib.sh"
D=$DOORMAT

run "$D" keygen -o "$T/key.txt"
assert_exit 0 "keygen"
PUB=$("$D" keygen -y "$T/key.txt")
make_file "$T/small" 1024
make_file "$T/edge" 524288 # exactly one job: still libsodium
make_file "$T/big" 3000000

# loads_libcrypto CMD...: runs CMD with the loader's trace on stderr ($T/ld);
# true when libcrypto was loaded.
loads_libcrypto() {
  LD_DEBUG=libs "$@" >"$T/ld.out" 2>"$T/ld" || return 2
  grep -q 'libcrypto\.so' "$T/ld"
}

for f in small edge; do
  loads_libcrypto "$D" encrypt -r "$PUB" -o "$T/$f.age" "$T/$f"
  assert_eq "$?" 1 "encrypt of $f does not load libcrypto"
  loads_libcrypto "$D" decrypt -i "$T/key.txt" -o "$T/$f.out" "$T/$f.age"
  assert_eq "$?" 1 "decrypt of $f does not load libcrypto"
  assert_same "$T/$f" "$T/$f.out" "$f round trip"
  # Standard input (not a regular file): the first job alone decides.
  loads_libcrypto "$D" decrypt -i "$T/key.txt" -o "$T/$f.out2" <"$T/$f.age"
  assert_eq "$?" 1 "decrypt of $f from a pipe-like stdin does not load libcrypto"
done

loads_libcrypto "$D" encrypt -r "$PUB" -o "$T/big.age" "$T/big"
assert_eq "$?" 0 "encrypt of 3 MB loads libcrypto"
loads_libcrypto "$D" decrypt -i "$T/key.txt" -o "$T/big.out" "$T/big.age"
assert_eq "$?" 0 "decrypt of 3 MB loads libcrypto"
assert_same "$T/big" "$T/big.out" "big round trip"
cat "$T/big.age" | loads_libcrypto "$D" decrypt -i "$T/key.txt" -o "$T/big.out2"
assert_eq "$?" 0 "decrypt of 3 MB through a pipe loads libcrypto"
assert_same "$T/big" "$T/big.out2" "big round trip through a pipe"

# Both kinds of payload are plain age: the real age opens them.
if command -v age >/dev/null; then
  for f in small edge big; do
    run age -d -i "$T/key.txt" -o "$T/$f.age-out" "$T/$f.age"
    assert_exit 0 "age decrypts doormat's $f"
    assert_same "$T/$f" "$T/$f.age-out" "age's plaintext of $f"
  done
else
  skip "age-decrypts" "no age command (make deps installs it)"
fi

# The command itself does not need libcrypto to start.
LD_DEBUG=libs "$D" --version >/dev/null 2>"$T/ld"
if grep -q 'libcrypto\.so' "$T/ld"; then fail "doormat --version loads libcrypto"; else ok; fi

finish
