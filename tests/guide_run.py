#!/usr/bin/env python3
"""Runs a guide's shell blocks, in order, and checks the outputs it shows.

    guide_run.py GUIDE.md WORKDIR PORT_BASE

Every fenced block whose info string is `sh` is a command block: all of them run,
in the order of the guide, in one bash process (so a variable or a background
service of one block is there for the next), with `set -eo pipefail`, in WORKDIR.
A fenced block whose info string is `output`, right after a command block, is
what that block prints: each of its non-empty lines must appear in the block's
output (standard output and standard error together), in order, where "..." in
a line matches anything. Other fenced blocks (`text`, `ini`, ...) are not run.
The guide may not hold indented code blocks or `bash`/`shell`/`console` fences:
every command in it is in an `sh` block, so every command is run.

The guide's ports (four digits from 8441 to 8459, and 9464 to 9469) are
replaced by PORT_BASE + (port - 8441), so that the test can use free ports.

Writes WORKDIR/.guide/N.out per block; prints one line per block; exits 0 when
every block ran and every output block matched, 1 otherwise, 2 on a guide it
cannot read.
"""
import os
import re
import subprocess
import sys

FENCE = re.compile(r"^```([A-Za-z0-9_-]*)\s*$")
PORT = re.compile(r"\b(84[4-5][0-9]|946[4-9])\b")


def parse(path):
    blocks = []  # (kind, first line number, lines)
    lines = open(path, encoding="utf-8").read().split("\n")
    i = 0
    last_top = ""  # the last non-blank line that is not indented
    errors = []
    while i < len(lines):
        m = FENCE.match(lines[i])
        if m:
            kind, start = m.group(1), i + 1
            j = i + 1
            while j < len(lines) and lines[j].strip() != "```":
                j += 1
            if j == len(lines):
                errors.append(f"line {start}: a fence that never closes")
                break
            blocks.append((kind, start, lines[i + 1:j]))
            last_top = ""
            i = j + 1
            continue
        line = lines[i]
        # an indented code block: four spaces after a blank line, not in a list item
        if (line.startswith("    ") and line.strip() and i > 0 and lines[i - 1].strip() == ""
                and not re.match(r"^\s*([-*+]|\d+\.)\s", last_top)):
            errors.append(f"line {i + 1}: an indented code block (use a fenced sh or text block)")
        if line.strip() and not line.startswith(" "):
            last_top = line
        i += 1
    for kind, start, _ in blocks:
        if kind in ("bash", "shell", "console", "shell-session", "zsh"):
            errors.append(f"line {start}: a `{kind}` block: command blocks are `sh` (run by this test)")
    return blocks, errors


def ports(text, base):
    return PORT.sub(lambda m: str(base + int(m.group(1)) - 8441), text)


def matches(expected, out_lines):
    """Every non-empty expected line appears in order; '...' matches anything."""
    k = 0
    for want in expected:
        if not want.strip():
            continue
        pat = re.compile(".*".join(re.escape(p) for p in want.strip().split("...")))
        while k < len(out_lines) and not pat.search(out_lines[k]):
            k += 1
        if k == len(out_lines):
            return want.strip()
        k += 1
    return None


def main():
    if len(sys.argv) != 4:
        print("usage: guide_run.py GUIDE.md WORKDIR PORT_BASE", file=sys.stderr)
        return 2
    guide, work, base = sys.argv[1], sys.argv[2], int(sys.argv[3])
    try:
        blocks, errors = parse(guide)
    except OSError as e:
        print(f"guide_run: {guide}: {e.strerror}", file=sys.stderr)
        return 2
    for e in errors:
        print(f"FAIL {guide}: {e}")
    runs = []  # (index, line, expected output lines or None)
    for n, (kind, start, body) in enumerate(blocks):
        if kind == "sh":
            runs.append([start, body, None])
        elif kind == "output":
            if not runs or n == 0 or blocks[n - 1][0] != "sh":
                errors.append(f"line {start}: an output block that does not follow an sh block")
                print(f"FAIL {guide}: line {start}: an output block that does not follow an sh block")
            else:
                runs[-1][2] = [ports(x, base) for x in body]
    if not runs:
        print(f"FAIL {guide}: no sh block")
        return 1
    meta = os.path.join(work, ".guide")
    os.makedirs(meta, exist_ok=True)
    script = ["set -eo pipefail", "exec 3>&1",
              "trap 'echo \"block $GUIDE_BLOCK: exit $?\" >&3' ERR"]
    for n, (start, body, _) in enumerate(runs, 1):
        script.append(f"GUIDE_BLOCK={n}; exec >{meta}/{n}.out 2>&1 </dev/null")
        script.append(f"# guide line {start}")
        script.extend(ports(x, base) for x in body)
        script.append(f"echo ran {n} >&3")
    script.append("exec >/dev/null 2>&1")
    with open(os.path.join(meta, "guide.sh"), "w", encoding="utf-8") as f:
        f.write("\n".join(script) + "\n")
    p = subprocess.run(["bash", os.path.join(meta, "guide.sh")], cwd=work,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    ran = set()
    failed_line = ""
    for line in p.stdout.splitlines():
        if line.startswith("ran "):
            ran.add(int(line.split()[1]))
        elif line.startswith("block "):
            failed_line = line
    bad = len(errors)
    for n, (start, body, want) in enumerate(runs, 1):
        out_path = os.path.join(meta, f"{n}.out")
        if n not in ran:
            bad += 1
            tail = ""
            if os.path.exists(out_path):
                tail = " | ".join(open(out_path, errors="replace").read().strip().splitlines()[-3:])
            print(f"FAIL block {n} (guide line {start}, `{body[0][:60]}`) did not run to its end"
                  f" ({failed_line or 'not reached'}): {tail}")
            break
        if want is not None:
            out = open(out_path, errors="replace").read().splitlines()
            missing = matches(want, out)
            if missing is not None:
                bad += 1
                print(f"FAIL block {n} (guide line {start}): its output lacks: {missing}")
                continue
        print(f"ok block {n} (guide line {start}): `{body[0][:60]}`"
              + (" and its output" if want is not None else ""))
    print(f"guide_run: {len(runs)} blocks, {len(ran)} ran, {bad} failures")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
