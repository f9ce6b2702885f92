#!/usr/bin/env python3
"""Checks every number in a briefing's text against its data file.

    tests/report_numbers.py DIR        (DIR written by doormat report)

DIR/data/figures.json is the one source of the briefing's numbers. This reads
the text of DIR/briefing.html (not the charts, the styles or the code), finds
every number (with its unit, when it has one) and requires that it is one of
the values in figures.json written the way the briefing writes numbers
(three significant figures, thousands grouped, durations in words). Exempt:
a sentence that cites a source ("[n]"), which states a cited fact; figure,
question and reference numbers; years; the cover (date, version, commit).

Then the cases of issue 19, each a relation between numbers on the page:
  - clear: the brute-force time per device is the measured time per passcode
    try times half the passcodes;
  - volume: the time for the 7,800 devices is the data's row for 7,800;
  - leaf-forge: every "median of N tries" is a median of the data;
  - the escrow card: the extra per file is "with" minus "without";
  - blast radius: "all N files" are all the files escrowed to the master key.
Prints one "ok:" or "FAILED:" line per check; exits 1 when any fails.
"""
import html.parser
import json
import math
import re
import sys

YEAR = 365.25 * 86400


def g(x):
    if x >= 100:
        return "%.0f" % x
    if x >= 10:
        return "%.1f" % x
    return "%.2f" % x


def dur(s):
    """demo/report.sh's dur()."""
    y = YEAR
    if s < 1e-3:
        return g(s * 1e6) + " µs"
    if s < 1:
        return g(s * 1e3) + " ms"
    if s < 120:
        return g(s) + " seconds"
    if s < 7200:
        return g(s / 60) + " minutes"
    if s < 2 * 86400:
        return g(s / 3600) + " hours"
    if s < y:
        return g(s / 86400) + " days"
    if s < 1e3 * y:
        return g(s / y) + " years"
    if s < 1e6 * y:
        return g(s / y / 1e3) + " thousand years"
    if s < 1e9 * y:
        return g(s / y / 1e6) + " million years"
    if s < 1e12 * y:
        return g(s / y / 1e9) + " billion years"
    return None


def group(n):
    return "{:,}".format(n)


def num(x):
    """demo/report.sh's num()."""
    a = abs(x)
    if a >= 1000:
        return group(int(round(x)))
    if a >= 100:
        return "%.0f" % x
    if a >= 10:
        return "%.1f" % x
    if a >= 1:
        return "%.2f" % x
    if a == 0:
        return "0"
    return "%.3g" % x


def size(b):
    if b >= 2 ** 30:
        return "%.3g GiB" % (b / 2 ** 30)
    if b >= 2 ** 20:
        return "%.3g MiB" % (b / 2 ** 20)
    if b >= 2 ** 10:
        return "%.3g KiB" % (b / 2 ** 10)
    return "%d bytes" % b


def leaves(v):
    if isinstance(v, bool):
        return
    if isinstance(v, (int, float)):
        yield float(v)
    elif isinstance(v, dict):
        for x in v.values():
            yield from leaves(x)
    elif isinstance(v, list):
        for x in v:
            yield from leaves(x)


def candidates(fig):
    out = set()
    # A negative figure is written as its size and a word ("185 ms faster"):
    # both signs are candidates.
    for x in (y for v in leaves(fig) for y in {v, abs(v)}):
        if not math.isfinite(x):
            continue
        out.add(num(x))
        out.add(num(round(x)))
        if x == int(x) and abs(x) < 1e15:
            out.add(str(int(x)))
            out.add(group(int(x)))
            out.add(str(int(x)) + " ms")
        if x > 0:
            for s in (x, x / 1e6, x / 1e3):
                d = dur(s)
                if d:
                    out.add(d)
            out.add(num(x) + " ms")
            out.add(size(x))
    return out


class Text(html.parser.HTMLParser):
    """The page's text, by block, without svg, style, script, code and the cover."""
    SKIP = {"svg", "style", "script", "code", "title", "footer"}
    BLOCK = {"p", "li", "td", "th", "h1", "h2", "h3", "figcaption", "div", "section", "header"}

    def __init__(self):
        super().__init__()
        self.skip = 0
        self.blocks = []
        self.cur = []
        self.stack = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        skip = tag in self.SKIP or (tag == "header" and "cover" in (a.get("class") or "")) \
            or (tag == "section" and a.get("id") == "references") \
            or (tag == "table" and "machine" in (a.get("class") or "").split())
        self.stack.append((tag, skip))
        if skip:
            self.skip += 1
        if tag in self.BLOCK:
            self.flush()

    def handle_endtag(self, tag):
        while self.stack:
            t, skip = self.stack.pop()
            if skip:
                self.skip -= 1
            if t == tag:
                break
        if tag in self.BLOCK:
            self.flush()

    def handle_data(self, data):
        if self.skip == 0:
            self.cur.append(data)

    def flush(self):
        t = " ".join("".join(self.cur).split())
        if t:
            self.blocks.append(t)
        self.cur = []


UNITS = r"(?:thousand years|million years|billion years|µs|ms|seconds|minutes|hours|days|years|KiB|MiB|GiB|bytes)"
NUMBER = re.compile(r"(?<![\w.#/-])(\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)(?:\s+(" + UNITS + r")\b|(?=[^\w]|$))")
EXEMPT = [
    re.compile(r"\bFigures? \d+(?: and \d+)?"),
    re.compile(r"\bQuestion \d+"),
    re.compile(r"\b\d+(?:-| of )\d+\b"),          # 2-of-3, 1-of-1, 2 of 3
    re.compile(r"\b\d+-(?:bit|digit|char|try)\b"),
    re.compile(r"\bk-of-n\b"),
    re.compile(r"^\d+\. "),                        # numbered rows
    re.compile(r"\b(?:19|20)\d\d\b"),              # years
    re.compile(r"\bv\d+\b|\bage v1\b"),
    re.compile(r"\bp(?:50|90|99)\b|\b99th\b"),
]


def sentences(block):
    return re.split(r"(?<=[.;:!?])\s+(?=[A-Z\"(*])", block)


def main():
    d = sys.argv[1]
    fig = json.load(open(d + "/data/figures.json"))
    page = Text()
    page.feed(open(d + "/briefing.html", encoding="utf-8").read())
    page.flush()
    text = "\n".join(page.blocks)
    cand = candidates(fig)
    failed = 0

    def report(ok, what):
        nonlocal failed
        print(("ok: " if ok else "FAILED: ") + what)
        if not ok:
            failed += 1

    # 1. every number is in the data (or exempt)
    bad = []
    seen = 0
    for block in page.blocks:
        for s in sentences(block):
            if re.search(r"\[\d+(?:, \d+)*\]", s):
                continue
            t = s
            for e in EXEMPT:
                t = e.sub(" ", t)
            for m in NUMBER.finditer(t):
                seen += 1
                n, unit = m.group(1), m.group(2)
                if unit and t[m.end():m.end() + 2] == "/s":
                    unit = None  # a rate (MiB/s): the number is the figure
                tok = n + (" " + unit if unit else "")
                if tok in cand or (not unit and n in cand):
                    continue
                bad.append("%r in: %s" % (tok, s[:140]))
    report(seen > 50 and not bad,
           "every number of the text is in data/figures.json (%d numbers)%s"
           % (seen, "" if not bad else "; not in the data:\n  " + "\n  ".join(bad[:15])))

    labs = fig.get("labs", {})
    head = fig.get("headline", {})

    def val(tok):
        """A number in words back to a value in seconds (durations) or plain."""
        m = re.match(r"([\d,]+(?:\.\d+)?)\s*(.*)", tok)
        x = float(m.group(1).replace(",", ""))
        mult = {"µs": 1e-6, "ms": 1e-3, "seconds": 1, "minutes": 60, "hours": 3600, "days": 86400,
                "years": YEAR, "thousand years": 1e3 * YEAR, "million years": 1e6 * YEAR,
                "billion years": 1e9 * YEAR, "": 1}
        return x * mult[m.group(2).strip()]

    def close(a, b, rel=0.012):
        return abs(a - b) <= rel * max(abs(a), abs(b), 1e-12)

    D = r"([\d,]+(?:\.\d+)?\s*" + UNITS + ")"
    # 2. clear
    m = re.search(r"At the measured ([\d.,]+) ms per passcode try.*?brute force needs " + D + " per device on average", text)
    c = labs.get("clear", {})
    if m and c.get("candidates"):
        ms = float(m.group(1).replace(",", ""))
        t = val(m.group(2))
        report(close(t, ms / 1e3 * c["candidates"] / 2),
               "clear: %s per device is %s ms a try times half of %d passcodes" % (m.group(2), m.group(1), c["candidates"]))
    else:
        report(False, "clear: no sentence with the measured time per try and the brute-force time")
    # 3. volume
    m = re.search(r"7,800 devices [^:]*? would take it " + D, text)
    rows = [r for r in labs.get("volume", {}).get("rows", []) if r.get("per_year") == 7800]
    if m and rows:
        report(m.group(1) == dur(rows[0]["service_seconds"]),
               "volume: the 7,800 devices take %s, the data's %s" % (m.group(1), dur(rows[0]["service_seconds"])))
    else:
        report(False, "volume: no sentence on the time for 7,800 devices")
    # 4. leaf-forge: the tries quoted are medians of the data
    medians = {num(round(v["median"])) for v in head.values() if v.get("unit") == "tries"}
    quoted = re.findall(r"a median of ([\d,]+) tries", text)
    report(quoted and all(q in medians for q in quoted),
           "tries: every \"a median of N tries\" (%s) is a median of the data" % ", ".join(quoted))
    # 5. the escrow card
    m = re.search(r"took " + D + r" without escrow and " + D + r" with it", text)
    v = head.get("escrow_encrypt_extra_us")
    if m and v:
        a, b = val(m.group(1)), val(m.group(2))
        extra = dur(v["median"] / 1e6)
        report(close(b - a, val(extra), 0.02) and extra in text,
               "escrow card: %s extra = %s - %s" % (extra, m.group(2), m.group(1)))
    else:
        report(False, "escrow card: no \"took A without escrow and B with it\"")
    # 6. blast radius
    m = re.search(r"all ([\d,]+) files opened by a thief", text) or re.search(r"all ([\d,]+) files", text)
    pops = [p["files"] for p in labs.get("blast-radius", {}).get("populations", []) if p.get("name") == "escrow-1of1"]
    if m and pops:
        report(int(m.group(1).replace(",", "")) == pops[0],
               "blast radius: all %s files are the %d escrowed to the master key" % (m.group(1), pops[0]))
    else:
        report(False, "blast radius: no \"all N files\"")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
