#!/usr/bin/env python3
"""Checks the text of every chart: what gnuplot was given is what it drew.

    tests/report_charts.py CHARTS_DIR

For each CHARTS_DIR/NAME.gp (the program doormat report ran) and NAME.svg:
  - the terminal is noenhanced, so that no label is read as enhanced text
    (where "~", "^", "_", "@" and braces are commands, not characters);
  - the chart has a title, axis titles and a source line;
  - every label string the program sets (set title, xlabel, ylabel, label,
    and each plot's title) appears verbatim, line by line, in the SVG's text.
Prints one "ok:" or "FAILED:" line per chart; exits 1 when any fails.
"""
import glob
import html
import os
import re
import sys

STRING = r'"((?:[^"\\]|\\.)*)"'


def unquote(s):
    return s.replace('\\"', '"').replace("\\\\", "\\")


def main():
    d = sys.argv[1]
    failed = 0
    progs = sorted(glob.glob(os.path.join(d, "*.gp")))
    if not progs:
        print("FAILED: no chart programs in %s" % d)
        sys.exit(1)
    for gp in progs:
        name = os.path.basename(gp)[:-3]
        prog = open(gp, encoding="utf-8").read()
        svg = open(os.path.join(d, name + ".svg"), encoding="utf-8").read()
        texts = [html.unescape(re.sub(r"<[^>]*>", "", t))
                 for t in re.findall(r"<text[^>]*>(.*?)</text>", svg, re.S)]
        texts = [" ".join(t.split()) for t in texts]
        problems = []
        term = [l for l in prog.splitlines() if l.startswith("set terminal")]
        if not term or "noenhanced" not in term[0].split():
            problems.append("the terminal is not noenhanced")
        labels = []
        for kind in ("title", "xlabel", "ylabel"):
            m = re.search(r"^set %s %s" % (kind, STRING), prog, re.M)
            if m:
                labels.append(unquote(m.group(1)))
            elif not (kind == "xlabel" and "xtic(" in prog and False):
                problems.append("no %s" % kind)
        src = re.search(r"^set label 99 %s" % STRING, prog, re.M)
        if not src or "source" not in src.group(1).lower():
            problems.append("no source line")
        labels += [unquote(s) for s in re.findall(r"^set label \d* *%s" % STRING, prog, re.M)]
        labels += [unquote(s) for s in re.findall(r"\btitle %s" % STRING, prog)]
        for lab in labels:
            for line in lab.split("\\n"):
                line = " ".join(line.split())
                if line and not any(line == t or line in t for t in texts):
                    problems.append("label %r is not drawn as written" % line)
        if problems:
            failed += 1
            print("FAILED: chart %s: %s" % (name, "; ".join(problems)))
        else:
            print("ok: chart %s: %d labels drawn as written, noenhanced" % (name, len(labels)))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
