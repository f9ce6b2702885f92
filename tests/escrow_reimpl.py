#!/usr/bin/env python3
"""A second implementation of docs/escrow-format.md, written from the document
alone, with Python's cryptography package instead of libsodium and OpenSSL.

Given what doormat produced (an authority directory, an escrowed age file, the
recipient's age identity, a warrant and shares with their receipts) it
recomputes everything the document specifies and checks that doormat's bytes
are exactly those: the authority id, the agents', log and court keys, every
doormat-escrow stanza (derived from the file key), each agent's share, Shamir
recombination, the file id (derived from the file key, bound by every stanza's
seal), the signatures of the warrant and shares, and each
share's receipt: its release entry, the RFC 6962 inclusion proof, the signed
checkpoint, and the entry in the agent's published log (DIR/logs/AGENT).

  escrow_reimpl.py DIR FILE.age IDENTITY WARRANT SHARE...

Prints one line per check; exits 1 at the first difference.
"""
import base64
import hashlib
import hmac
import sys

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import (Ed25519PrivateKey,
                                                               Ed25519PublicKey)
from cryptography.hazmat.primitives.asymmetric.x25519 import (X25519PrivateKey,
                                                              X25519PublicKey)
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

checks = 0


def check(cond, what):
    global checks
    checks += 1
    if not cond:
        print(f"escrow_reimpl: MISMATCH: {what}")
        sys.exit(1)


def hkdf(ikm, salt, info, length):
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt or None,
                info=info).derive(ikm)


def b64(data):
    return base64.b64encode(data).decode().rstrip("=")


def unb64(text):
    data = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    check(b64(data) == text, f"canonical base64 {text!r}")
    return data


# ---- Bech32 (BIP 173), for age1 recipients and AGE-SECRET-KEY-1 identities
CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"


def bech32_polymod(values):
    gen = [0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3]
    chk = 1
    for v in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ v
        for i in range(5):
            chk ^= gen[i] if (top >> i) & 1 else 0
    return chk


def bech32_decode(s):
    s = s.lower()
    pos = s.rfind("1")
    hrp, data = s[:pos], [CHARSET.find(c) for c in s[pos + 1:]]
    expand = [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]
    check(bech32_polymod(expand + data) == 1, f"bech32 checksum of {s[:20]}...")
    acc, bits, out = 0, 0, []
    for v in data[:-6]:
        acc = acc << 5 | v
        bits += 5
        while bits >= 8:
            bits -= 8
            out.append(acc >> bits & 0xFF)
    return hrp, bytes(out)


# ---- GF(2^8), polynomial 0x11d
def gf_mul(a, b):
    r = 0
    while b:
        if b & 1:
            r ^= a
        a <<= 1
        if a & 0x100:
            a ^= 0x11D
        b >>= 1
    return r


def gf_inv(a):
    return next(x for x in range(1, 256) if gf_mul(a, x) == 1)


def content_lines(text):
    return [l for l in text.split("\n") if l and not l.startswith("#")]


def field(line, key):
    check(line.startswith(key + ": "), f"line {line!r} is {key}:")
    return line[len(key) + 2:]


def x25519_pub(sk):
    return X25519PrivateKey.from_private_bytes(sk).public_key().public_bytes(
        Encoding.Raw, PublicFormat.Raw)


def ed_pub(seed):
    return Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes(
        Encoding.Raw, PublicFormat.Raw)


def ed_verify(pk, label, msg, sig, what):
    try:
        Ed25519PublicKey.from_public_bytes(pk).verify(sig, label.encode() + b"\n" + msg)
        ok = True
    except Exception:
        ok = False
    check(ok, what)


def main():
    d, file_path, identity_path, warrant_path = sys.argv[1:5]
    share_paths = sys.argv[5:]

    # ---- authority.pub and the id
    lines = content_lines(open(f"{d}/authority.pub").read())
    check(lines[0] == "doormat-escrow-authority/v1", "authority magic")
    name = field(lines[1], "name")
    id_hex = field(lines[2], "id")
    k = int(field(lines[3], "threshold"))
    agents = []
    i = 4
    while lines[i].startswith("agent: "):
        aname, rec, audit = field(lines[i], "agent").split(" ")
        hrp, box_pk = bech32_decode(rec)
        check(hrp == "age" and len(box_pk) == 32, f"agent {aname} recipient")
        agents.append((aname, box_pk, unb64(audit), lines[i]))
        i += 1
    court_pk = unb64(field(lines[i], "court"))
    n = len(agents)
    log_keys = {}
    for j, (aname, _, sign_pk, _) in enumerate(agents):
        lname, vkey = field(lines[i + 1 + j], "log").split(" ")
        check(lname == aname, f"log line {j + 1} names agent {aname}")
        origin = f"doormat-escrow/{name}/{aname}/{hashlib.sha256(sign_pk).digest()[:4].hex()}"
        vname, vid, vb64 = vkey.split("+", 2)
        raw = base64.b64decode(vb64, validate=True)
        check(vname == origin and raw[0] == 1 and len(raw) == 33, f"{aname}: log key named {origin}")
        kid = hashlib.sha256(origin.encode() + b"\n" + raw).digest()[:4]
        check(kid.hex() == vid, f"{aname}: log key id")
        log_keys[aname] = (origin, kid, raw[1:])
    rest = lines[i + 1 + n:]
    # The network section (url:, tls:) comes last and is not in the id.
    net = [r for r in rest if r.startswith(("url: ", "tls: "))]
    check(rest[len(rest) - len(net):] == net, "the network section comes last")
    rest = rest[:len(rest) - len(net)]
    check(all(r.startswith("witness") for r in rest), "only witness lines follow the logs")
    body = "".join(l + "\n" for l in lines[:len(lines) - len(net)] if not l.startswith("id: "))
    auth_id = hashlib.sha256(b"doormat/v1/escrow/authority-id\n" + body.encode()).digest()[:16]
    check(auth_id.hex() == id_hex, "authority id = SHA-256 of its contents")
    print(f"authority {name} {id_hex}: {k}-of-{n}, id recomputed")

    # ---- keys: derived halves match the authority
    keys = {}
    for aname, box_pk, sign_pk, _ in agents:
        kl = content_lines(open(f"{d}/agents/{aname}.key").read())
        check(kl[0] == "doormat-escrow-agent-key/v1", "agent key magic")
        check(field(kl[1], "authority") == id_hex and field(kl[2], "agent") == aname, "agent key header")
        seed = unb64(field(kl[3], "seed"))
        box_sk = hkdf(seed, b"", b"doormat/v1/escrow/agent-x25519", 32)
        sign_seed = hkdf(seed, b"", b"doormat/v1/escrow/agent-ed25519", 32)
        check(x25519_pub(box_sk) == box_pk, f"{aname}: box_pk from the seed")
        check(ed_pub(sign_seed) == sign_pk, f"{aname}: audit key from the seed")
        log_seed = hkdf(seed, b"", b"doormat/v1/escrow/agent-log", 32)
        check(ed_pub(log_seed) == log_keys[aname][2], f"{aname}: log key from the seed")
        keys[aname] = box_sk
    cl = content_lines(open(f"{d}/court.key").read())
    check(cl[0] == "doormat-escrow-court-key/v1" and field(cl[1], "authority") == id_hex, "court key")
    check(ed_pub(unb64(field(cl[2], "seed"))) == court_pk, "court_pk from the seed")
    print(f"keys: {n} agents and the court derive to the published keys")

    # ---- the file: header, X25519 unwrap (age spec), MAC
    data = open(file_path, "rb").read()
    mac_at = data.index(b"\n--- ") + 1
    header_end = data.index(b"\n", mac_at) + 1
    header = data[:header_end]
    stanza_text = header[len(b"age-encryption.org/v1\n"):mac_at].decode()
    stanzas, cur = [], None
    for line in stanza_text.split("\n")[:-1]:
        if line.startswith("-> "):
            cur = [line[3:].split(" "), [], line + "\n"]
            stanzas.append(cur)
        else:
            cur[1].append(line)
            cur[2] += line + "\n"
    ident = [l for l in open(identity_path).read().split("\n") if l.startswith("AGE-SECRET-KEY-1")][0]
    _, id_sk = bech32_decode(ident)
    fk = None
    for args, body_lines, _ in stanzas:
        if args[0] != "X25519":
            continue
        eph = unb64(args[1])
        shared = X25519PrivateKey.from_private_bytes(id_sk).exchange(X25519PublicKey.from_public_bytes(eph))
        wrap = hkdf(shared, eph + x25519_pub(id_sk), b"age-encryption.org/v1/X25519", 32)
        fk = ChaCha20Poly1305(wrap).decrypt(bytes(12), unb64("".join(body_lines)), None)
    check(fk is not None and len(fk) == 16, "file key from the X25519 stanza")
    mac_key = hkdf(fk, b"", b"header", 32)
    mac = hmac.new(mac_key, data[:mac_at + 3], hashlib.sha256).digest()
    check(b64(mac) == header[mac_at + 4:header_end - 1].decode(), "header MAC")
    header_id = hashlib.sha256(header).digest()[:16]
    # The escrow file id: derived from the file key, not from the header.
    file_id = hkdf(fk, b"", b"doormat/v2/escrow/file-id", 16)
    check(file_id != header_id, "the escrow file id is not the header's hash")
    print(f"file: key unwrapped, MAC verified, header id {header_id.hex()}, "
          f"escrow file id {file_id.hex()}")

    # ---- the escrow stanzas, rebuilt from the file key, byte for byte
    coeffs = hkdf(fk, b"", b"doormat/v1/escrow/shamir" + auth_id, 16 * (k - 1)) if k > 1 else b""

    def share_at(x):
        out = bytearray()
        for i in range(16):
            y, xp = fk[i], 1
            for j in range(1, k):
                xp = gf_mul(xp, x)
                y ^= gf_mul(coeffs[16 * (j - 1) + i], xp)
            out.append(y)
        return bytes(out)

    escrow = [s for s in stanzas if s[0][0] == "doormat-escrow"]
    check(len(escrow) == n, f"{n} escrow stanzas")
    for x, (aname, box_pk, _, _) in enumerate(agents, start=1):
        e = hkdf(fk, b"", b"doormat/v1/escrow/ephemeral" + auth_id + aname.encode(), 32)
        E = x25519_pub(e)
        S = X25519PrivateKey.from_private_bytes(e).exchange(X25519PublicKey.from_public_bytes(box_pk))
        info = b"doormat/v2/escrow/wrap" + auth_id + bytes([x, k, n]) + file_id + aname.encode()
        w = hkdf(S, E + box_pk, info, 32)
        body = ChaCha20Poly1305(w).encrypt(bytes(12), share_at(x), None)
        b = b64(body)
        want = (f"-> doormat-escrow shamir {id_hex} {name} {k}-of-{n} {x} {aname} {b64(E)} "
                f"{file_id.hex()}\n"
                + "".join(b[i:i + 64] + "\n" for i in range(0, len(b), 64))
                + ("\n" if len(b) % 64 == 0 else ""))
        got = [s for s in escrow if s[0][6] == aname]
        check(len(got) == 1 and got[0][2] == want, f"stanza for {aname} byte for byte")
        # The agent's side: open it with the agent's key.
        S2 = X25519PrivateKey.from_private_bytes(keys[aname]).exchange(X25519PublicKey.from_public_bytes(E))
        w2 = hkdf(S2, E + box_pk, info, 32)
        check(ChaCha20Poly1305(w2).decrypt(bytes(12), body, None) == share_at(x), f"{aname} unwraps its share")
        # The seal binds the id: under another id the body does not open.
        other = bytes([file_id[0] ^ 1]) + file_id[1:]
        w3 = hkdf(S2, E + box_pk, b"doormat/v2/escrow/wrap" + auth_id + bytes([x, k, n]) + other
                  + aname.encode(), 32)
        try:
            ChaCha20Poly1305(w3).decrypt(bytes(12), body, None)
            opened = True
        except Exception:
            opened = False
        check(not opened, f"{aname}'s stanza does not open under another file id")
    print(f"stanzas: all {n} rebuilt from the file key, identical; each agent opens its own")

    # ---- warrant
    wtext = open(warrant_path, "rb").read()
    sig_at = wtext.index(b"\nsignature: ") + 1
    wl = wtext.decode().split("\n")
    check(wl[0] == "doormat-escrow-warrant/v1" and field(wl[1], "authority") == id_hex, "warrant header")
    check(f"file: {file_id.hex()}" in wl, "warrant names the file id")
    ed_verify(court_pk, "doormat/v1/escrow/warrant", wtext[:sig_at],
              unb64(wtext[sig_at + 11:].decode().rstrip("\n")), "warrant signature")
    digest = hashlib.sha256(wtext).hexdigest()
    case_ref = [field(l, "case") for l in wl if l.startswith("case: ")][0]
    print("warrant: signed by the court, names the file")

    # ---- shares: signature, value, recombination
    points = []
    receipts = []
    for path in share_paths:
        text = open(path, "rb").read()
        sl = text.decode().split("\n")
        aname = field(sl[2], "agent")
        x = [i for i, a in enumerate(agents, start=1) if a[0] == aname][0]
        check(field(sl[1], "authority") == id_hex and field(sl[3], "file") == file_id.hex(), "share header")
        check(int(field(sl[4], "x")) == x and int(field(sl[5], "threshold")) == k, "share x and threshold")
        check(field(sl[6], "warrant") == digest, "share names the warrant digest")
        value = unb64(field(sl[7], "share"))
        check(value == share_at(x), f"{aname}'s share value")
        cut = text.index(b"\nsignature: ") + 1
        ed_verify(agents[x - 1][2], "doormat/v1/escrow/share", text[:cut], unb64(sl[8][11:]), f"{aname}'s share signature")
        points.append((x, value))
        receipts.append((aname, "\n".join(sl[9:]).encode()))
    check(len(points) >= k, "enough shares to recombine")
    pts = points[:k]
    secret = bytearray(16)
    for i, (xi, yi) in enumerate(pts):
        num = den = 1
        for j, (xj, _) in enumerate(pts):
            if j != i:
                num = gf_mul(num, xj)
                den = gf_mul(den, xj ^ xi)
        basis = gf_mul(num, gf_inv(den))
        for b in range(16):
            secret[b] ^= gf_mul(yi[b], basis)
    check(bytes(secret) == fk, "Lagrange at 0 gives the file key")
    print(f"shares: {len(points)} signed shares, recombined to the file key")

    # ---- receipts: c2sp.org/tlog-proof of each release, against the published log
    for aname, r in receipts:
        origin, kid, log_pk = log_keys[aname]
        rl = r.decode().split("\n")
        check(rl[0] == "c2sp.org/tlog-proof@v1" and rl[1].startswith("extra "), f"{aname}: receipt header")
        entry = base64.b64decode(rl[1][6:], validate=True)
        check(rl[2].startswith("index "), f"{aname}: receipt index")
        index = int(rl[2][6:])
        blank = rl.index("", 3)
        proof = [base64.b64decode(h, validate=True) for h in rl[3:blank]]
        cp = "\n".join(rl[blank + 1:]).encode()
        text, sigs = cp.split(b"\n\n", 1)
        text += b"\n"
        cl = text.decode().split("\n")
        check(cl[0] == origin, f"{aname}: checkpoint origin")
        size, root = int(cl[1]), base64.b64decode(cl[2], validate=True)
        signed = False
        for sl_ in sigs.decode().split("\n"):
            if not sl_:
                continue
            check(sl_.startswith("\u2014 "), f"{aname}: signature line")
            kname, sig64 = sl_[2:].split(" ")
            raw = base64.b64decode(sig64, validate=True)
            if kname == origin and raw[:4] == kid:
                Ed25519PublicKey.from_public_bytes(log_pk).verify(raw[4:], text)
                signed = True
        check(signed, f"{aname}: checkpoint signed by the log key")
        want = (f"doormat-escrow-release/v1\ntime: ")
        el = entry.decode().split("\n")
        check(entry.decode().startswith(want) and field(el[2], "authority") == id_hex
              and field(el[3], "agent") == aname and field(el[4], "warrant") == digest
              and field(el[5], "case") == hashlib.sha256(case_ref.encode()).hexdigest()
              and field(el[6], "file") == file_id.hex() and len(el) == 9 and el[8] == "",
              f"{aname}: the release entry")
        # RFC 9162 2.1.3.2
        h = hashlib.sha256(b"\x00" + entry).digest()
        fn, sn = index, size - 1
        for p in proof:
            check(sn != 0, f"{aname}: proof length")
            if fn & 1 or fn == sn:
                h = hashlib.sha256(b"\x01" + p + h).digest()
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
            else:
                h = hashlib.sha256(b"\x01" + h + p).digest()
            fn >>= 1
            sn >>= 1
        check(sn == 0 and h == root, f"{aname}: inclusion proof of entry {index} in the tree of {size}")
        # The entry is where the receipt says, in the published bundle.
        import os
        bundle_path = f"{d}/logs/{aname}/tile/entries/{index // 256:03d}"
        w = size % 256 if size // 256 == index // 256 else 256
        if w != 256 and os.path.exists(bundle_path + f".p/{w}"):
            bundle_path += f".p/{w}"
        b = open(bundle_path, "rb").read()
        pos, found = 0, []
        while pos < len(b):
            ln = int.from_bytes(b[pos:pos + 2], "big")
            found.append(b[pos + 2:pos + 2 + ln])
            pos += 2 + ln
        check(found[index % 256] == entry, f"{aname}: the published log holds the entry")
    print(f"receipts: {len(receipts)} release entries proven in their agents' signed logs")
    print(f"escrow_reimpl: {checks} checks, all equal")


if __name__ == "__main__":
    main()
