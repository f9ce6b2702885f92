// Command tlogverify checks a doormat transparency log with Go's own
// implementation of signed notes and Merkle trees (golang.org/x/mod/sumdb/note
// and sumdb/tlog, the code behind the Go checksum database), sharing nothing
// with doormat but the specifications:
//
//   - the checkpoint's signature (note.Open with the log's verifier key) and
//     its witness cosignatures (C2SP tlog-cosignature, with crypto/ed25519);
//   - the tree root recomputed from every entry of the entry bundles;
//   - every tile the log serves, against tiles Go computes from the entries,
//     and the root once more through tlog.TileHashReader over the tiles;
//   - inclusion proofs (C2SP tlog-proof receipts) and consistency proofs
//     (C2SP tlog-witness request bodies) that doormat produced.
//
// Usage:
//
//	tlogverify -vkey VKEY -dir LOGDIR [-witness VKEY]... [-receipt FILE]...
//	           [-consistency BODY -old CHECKPOINT]
//
// Build offline: GO111MODULE=off GOPATH=DIR:/usr/share/gocode go build.
package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

type list []string

func (l *list) String() string     { return strings.Join(*l, ",") }
func (l *list) Set(v string) error { *l = append(*l, v); return nil }

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "tlogverify: "+format+"\n", args...)
	os.Exit(1)
}

// c2spPath maps Go's tile path (tile/8/L/N, tile/8/data/N) to C2SP tlog-tiles.
func c2spPath(t tlog.Tile) string {
	p := strings.TrimPrefix(t.Path(), "tile/8/")
	if strings.HasPrefix(p, "data/") {
		p = "entries/" + strings.TrimPrefix(p, "data/")
	}
	return "tile/" + p
}

type dirTiles struct{ dir string }

func (d dirTiles) Height() int { return 8 }

func (d dirTiles) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		data, err := readTile(d.dir, t)
		if err != nil {
			return nil, err
		}
		out[i] = data
	}
	return out, nil
}

func (d dirTiles) SaveTiles([]tlog.Tile, [][]byte) {}

// readTile reads a hash tile, falling back to the full tile when a partial
// one was pruned (C2SP tlog-tiles allows it).
func readTile(dir string, t tlog.Tile) ([]byte, error) {
	data, err := os.ReadFile(filepath.Join(dir, c2spPath(t)))
	if err != nil && t.W < 256 {
		full := t
		full.W = 256
		data, err = os.ReadFile(filepath.Join(dir, c2spPath(full)))
		if err == nil && len(data) == 256*tlog.HashSize {
			data = data[:t.W*tlog.HashSize]
		}
	}
	if err != nil {
		return nil, err
	}
	if len(data) != t.W*tlog.HashSize {
		return nil, fmt.Errorf("%s: %d bytes", c2spPath(t), len(data))
	}
	return data, nil
}

type checkpoint struct {
	origin string
	size   int64
	root   tlog.Hash
	text   []byte // the note text
	note   *note.Note
}

func openCheckpoint(msg []byte, v note.Verifier) checkpoint {
	n, err := note.Open(msg, note.VerifierList(v))
	if err != nil {
		fail("checkpoint: %v", err)
	}
	lines := strings.Split(n.Text, "\n")
	if len(lines) < 4 || lines[0] != v.Name() {
		fail("checkpoint: origin %q is not the log %q", lines[0], v.Name())
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || size < 0 || strconv.FormatInt(size, 10) != lines[1] {
		fail("checkpoint: bad size %q", lines[1])
	}
	root, err := tlog.ParseHash(lines[2])
	if err != nil {
		fail("checkpoint: bad root %q", lines[2])
	}
	return checkpoint{origin: lines[0], size: size, root: root, text: []byte(n.Text), note: n}
}

// cosigned counts the valid C2SP cosignature/v1 lines of the given witnesses
// (vkeys of type 0x04) over the checkpoint's text.
func cosigned(c checkpoint, witnesses []string) int {
	good := 0
	for _, w := range witnesses {
		name, rest, ok1 := strings.Cut(w, "+")
		hexID, b64, ok2 := strings.Cut(rest, "+")
		key, err := base64.StdEncoding.DecodeString(b64)
		if !ok1 || !ok2 || err != nil || len(key) != 33 || key[0] != 0x04 {
			fail("witness key %q is not an Ed25519 cosignature key", w)
		}
		h := sha256.Sum256(append([]byte(name+"\n"), key...))
		if fmt.Sprintf("%08x", binary.BigEndian.Uint32(h[:4])) != hexID {
			fail("witness key %q: wrong key ID", w)
		}
		for _, s := range c.note.UnverifiedSigs {
			if s.Name != name || s.Hash != binary.BigEndian.Uint32(h[:4]) {
				continue
			}
			sig, err := base64.StdEncoding.DecodeString(s.Base64)
			if err != nil || len(sig) != 4+8+64 {
				fail("cosignature of %s: malformed", name)
			}
			ts := binary.BigEndian.Uint64(sig[4:12])
			msg := append([]byte(fmt.Sprintf("cosignature/v1\ntime %d\n", ts)), c.text...)
			if !ed25519.Verify(ed25519.PublicKey(key[1:]), msg, sig[12:]) {
				fail("cosignature of %s does not verify", name)
			}
			good++
			break
		}
	}
	return good
}

func main() {
	var vkey, dir, consistency, oldPath string
	var witnesses, receipts list
	flag.StringVar(&vkey, "vkey", "", "the log's verifier key")
	flag.StringVar(&dir, "dir", "", "the log directory")
	flag.Var(&witnesses, "witness", "a witness's verifier key (repeatable)")
	flag.Var(&receipts, "receipt", "a C2SP tlog-proof to check (repeatable)")
	flag.StringVar(&consistency, "consistency", "", "a tlog-witness add-checkpoint body")
	flag.StringVar(&oldPath, "old", "", "the earlier checkpoint the consistency proof starts from")
	flag.Parse()
	v, err := note.NewVerifier(vkey)
	if err != nil {
		fail("verifier key: %v", err)
	}

	// The checkpoint.
	msg, err := os.ReadFile(filepath.Join(dir, "checkpoint"))
	if err != nil {
		fail("%v", err)
	}
	c := openCheckpoint(msg, v)
	fmt.Printf("checkpoint: %s size %d, signature verified by golang.org/x/mod/sumdb/note\n", c.origin, c.size)
	if len(witnesses) > 0 {
		fmt.Printf("cosignatures: %d of %d witnesses\n", cosigned(c, witnesses), len(witnesses))
	}

	// Every entry, hashed by Go; the stored hashes built by Go.
	var hashes []tlog.Hash
	reader := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			if x >= int64(len(hashes)) {
				return nil, errors.New("hash beyond the tree")
			}
			out[i] = hashes[x]
		}
		return out, nil
	})
	var entries [][]byte
	for n := int64(0); n*256 < c.size; n++ {
		w := int(c.size - n*256)
		if w > 256 {
			w = 256
		}
		t := tlog.Tile{H: 8, L: -1, N: n, W: w}
		data, err := os.ReadFile(filepath.Join(dir, c2spPath(t)))
		if err != nil && w < 256 {
			t.W = 256
			data, err = os.ReadFile(filepath.Join(dir, c2spPath(t)))
		}
		if err != nil {
			fail("%v", err)
		}
		for k := 0; k < w; k++ {
			if len(data) < 2 {
				fail("entry bundle %d is cut short", n)
			}
			l := int(binary.BigEndian.Uint16(data))
			if len(data) < 2+l {
				fail("entry bundle %d is cut short", n)
			}
			entry := data[2 : 2+l]
			data = data[2+l:]
			entries = append(entries, entry)
			hs, err := tlog.StoredHashes(int64(len(entries)-1), entry, reader)
			if err != nil {
				fail("%v", err)
			}
			hashes = append(hashes, hs...)
		}
		if t.W == w && len(data) != 0 {
			fail("entry bundle %d: %d bytes after its %d entries", n, len(data), w)
		}
	}
	root, err := tlog.TreeHash(c.size, reader)
	if err != nil {
		fail("%v", err)
	}
	if root != c.root {
		fail("the entries give root %v, the checkpoint says %v", root, c.root)
	}
	fmt.Printf("root: recomputed from %d entries, equal to the checkpoint's\n", len(entries))

	// Every tile doormat must serve for this checkpoint (the full ones and
	// the partial one of each level) is the tile Go computes. NewTiles also
	// lists the narrower partial tiles of earlier sizes, which C2SP
	// tlog-tiles lets a log prune.
	var tiles []tlog.Tile
	for _, t := range tlog.NewTiles(8, 0, c.size) {
		if t.W == 256 || int64(t.W) == (c.size>>(8*uint(t.L)))%256 {
			tiles = append(tiles, t)
		}
	}
	for _, t := range tiles {
		want, err := tlog.ReadTileData(t, reader)
		if err != nil {
			fail("%v", err)
		}
		got, err := readTile(dir, t)
		if err != nil {
			fail("%v", err)
		}
		if !bytes.Equal(got, want) {
			fail("%s differs from the tile Go computes", c2spPath(t))
		}
	}
	tree := tlog.Tree{N: c.size, Hash: c.root}
	viaTiles, err := tlog.TreeHash(c.size, tlog.TileHashReader(tree, dirTiles{dir}))
	if err != nil || viaTiles != c.root {
		fail("the tiles do not authenticate against the checkpoint: %v", err)
	}
	fmt.Printf("tiles: %d tiles equal to Go's, and they authenticate the root\n", len(tiles))

	// Receipts: C2SP tlog-proof with the entry as extra data.
	for _, path := range receipts {
		text, err := os.ReadFile(path)
		if err != nil {
			fail("%v", err)
		}
		if i := bytes.Index(text, []byte("c2sp.org/tlog-proof@v1\n")); i > 0 {
			text = text[i:] // a share file: the receipt follows the share
		}
		head, cpText, ok := bytes.Cut(text, []byte("\n\n"))
		if !ok {
			fail("%s: no checkpoint", path)
		}
		lines := strings.Split(string(head), "\n")
		if lines[0] != "c2sp.org/tlog-proof@v1" || !strings.HasPrefix(lines[1], "extra ") ||
			!strings.HasPrefix(lines[2], "index ") {
			fail("%s: not a tlog-proof with extra data", path)
		}
		entry, err := base64.StdEncoding.DecodeString(lines[1][6:])
		if err != nil {
			fail("%s: extra: %v", path, err)
		}
		index, err := strconv.ParseInt(lines[2][6:], 10, 64)
		if err != nil {
			fail("%s: index: %v", path, err)
		}
		var proof tlog.RecordProof
		for _, l := range lines[3:] {
			h, err := tlog.ParseHash(l)
			if err != nil {
				fail("%s: proof line %q", path, l)
			}
			proof = append(proof, h)
		}
		rc := openCheckpoint(cpText, v)
		if err := tlog.CheckRecord(proof, rc.size, rc.root, index, tlog.RecordHash(entry)); err != nil {
			fail("%s: inclusion proof: %v", path, err)
		}
		if index >= int64(len(entries)) || !bytes.Equal(entries[index], entry) {
			fail("%s: entry %d is not the log's entry %d", path, index, index)
		}
		fmt.Printf("receipt %s: entry %d proven in the tree of %d (tlog.CheckRecord)", filepath.Base(path), index, rc.size)
		if len(witnesses) > 0 {
			fmt.Printf(", %d cosignatures", cosigned(rc, witnesses))
		}
		fmt.Println()
	}

	// Consistency: a tlog-witness add-checkpoint body from an old checkpoint.
	if consistency != "" {
		body, err := os.ReadFile(consistency)
		if err != nil {
			fail("%v", err)
		}
		head, cpText, ok := bytes.Cut(body, []byte("\n\n"))
		if !ok {
			fail("%s: no checkpoint", consistency)
		}
		lines := strings.Split(string(head), "\n")
		oldSize, err := strconv.ParseInt(strings.TrimPrefix(lines[0], "old "), 10, 64)
		if err != nil || !strings.HasPrefix(lines[0], "old ") {
			fail("%s: bad old size line", consistency)
		}
		var proof tlog.TreeProof
		for _, l := range lines[1:] {
			h, err := tlog.ParseHash(l)
			if err != nil {
				fail("%s: proof line %q", consistency, l)
			}
			proof = append(proof, h)
		}
		newer := openCheckpoint(cpText, v)
		oldMsg, err := os.ReadFile(oldPath)
		if err != nil {
			fail("%v", err)
		}
		old := openCheckpoint(oldMsg, v)
		if old.size != oldSize {
			fail("the proof starts at %d, the old checkpoint is at %d", oldSize, old.size)
		}
		if err := tlog.CheckTree(proof, newer.size, newer.root, old.size, old.root); err != nil {
			fail("consistency proof %d -> %d: %v", old.size, newer.size, err)
		}
		fmt.Printf("consistency: %d -> %d proven (tlog.CheckTree)\n", old.size, newer.size)
	}
	fmt.Println("tlogverify: OK")
}
