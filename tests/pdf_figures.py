#!/usr/bin/env python3
"""Checks that every chart of a printed briefing is whole on one page.

    tests/pdf_figures.py BRIEFING.pdf N [WORKDIR]

The briefing numbers its figures: each opens with the title "Figure K. ..."
and its caption ends with a "Source:" line. For K = 1..N this reads the words
of every page with their positions (poppler's pdftotext -bbox) and requires:

  - "Figure K." is printed exactly once in the whole PDF (every chart is on a
    page, none twice);
  - below it, on the same page and before any other figure's title, comes a
    "Source:" line: the chart and its caption were not cut across pages;
  - the band between the title and the source line is at least 100 points
    tall, and its upper part (above the caption's lines), rendered by pdftoppm
    at a low resolution, really holds a drawing (a fair share of non-white
    pixels): the chart itself is on that page.

Prints one "ok:" or "FAILED:" line per figure; exits 1 when any fails.
"""
import os
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

RES = 40  # dpi of the rendered bands: enough to see lines and text
MIN_BAND_PT = 100
MIN_INK = 0.01  # share of non-white pixels in the band


def pages_words(pdf):
    out = subprocess.run(["pdftotext", "-bbox", pdf, "-"], check=True,
                         capture_output=True).stdout.decode("utf-8", "replace")
    # pdftotext writes XHTML; drop the namespace so the tags are plain names.
    out = re.sub(r'\sxmlns="[^"]*"', "", out, count=1)
    out = re.sub(r"<!DOCTYPE[^>]*>", "", out)
    root = ET.fromstring(out)
    pages = []
    for page in root.iter("page"):
        words = [(w.text or "", float(w.get("xMin")), float(w.get("yMin")),
                  float(w.get("xMax")), float(w.get("yMax"))) for w in page.iter("word")]
        pages.append({"width": float(page.get("width")), "height": float(page.get("height")),
                      "words": words})
    return pages


def titles(page):
    """(K, top, bottom) for each "Figure K." on the page."""
    found = []
    words = page["words"]
    for i in range(len(words) - 1):
        m = re.fullmatch(r"(\d+)\.", words[i + 1][0])
        if words[i][0] == "Figure" and m:
            found.append((int(m.group(1)), words[i][2], words[i][4]))
    return found


def ink(pdf, page_no, page, top, bottom, work):
    scale = RES / 72.0
    x, y = 0, int(top * scale)
    w, h = int(page["width"] * scale), max(1, int((bottom - top) * scale))
    base = os.path.join(work, "band-%d-%d" % (page_no, int(top)))
    subprocess.run(["pdftoppm", "-f", str(page_no), "-l", str(page_no), "-r", str(RES),
                    "-gray", "-x", str(x), "-y", str(y), "-W", str(w), "-H", str(h),
                    "-singlefile", pdf, base], check=True, capture_output=True)
    data = open(base + ".pgm", "rb").read()
    # P5 header: magic, width, height, maxval, each separated by whitespace.
    parts = re.match(rb"P5\s+(\d+)\s+(\d+)\s+(\d+)\s", data)
    pw, ph = int(parts.group(1)), int(parts.group(2))
    pixels = data[parts.end():parts.end() + pw * ph]
    dark = sum(1 for b in pixels if b < 200)
    return dark / max(1, len(pixels))


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    pdf, n = sys.argv[1], int(sys.argv[2])
    work = sys.argv[3] if len(sys.argv) > 3 else tempfile.mkdtemp(prefix="pdf-figures.")
    pages = pages_words(pdf)
    seen = {}
    for no, page in enumerate(pages, 1):
        for k, top, bottom in titles(page):
            seen.setdefault(k, []).append((no, top, bottom))
    failed = 0
    for k in range(1, n + 1):
        where = seen.get(k, [])
        if len(where) != 1:
            print("FAILED: Figure %d. is printed %d times (want exactly once)" % (k, len(where)))
            failed += 1
            continue
        no, top, bottom = where[0]
        page = pages[no - 1]
        others = [t for kk, t, _ in titles(page) if kk != k and t > top]
        limit = min(others) if others else page["height"]
        sources = [w[2] for w in page["words"] if w[0] == "Source:" and bottom < w[2] < limit]
        if not sources:
            print("FAILED: Figure %d is cut across pages: its title is on page %d, its "
                  "source line is not" % (k, no))
            failed += 1
            continue
        end = min(sources)
        if end - bottom < MIN_BAND_PT:
            print("FAILED: Figure %d on page %d: only %.0f points between title and source "
                  "(no room for a chart)" % (k, no, end - bottom))
            failed += 1
            continue
        # The upper part of the band: the chart, not the caption's lines above the source.
        share = ink(pdf, no, page, bottom, bottom + 0.7 * (end - bottom), work)
        if share < MIN_INK:
            print("FAILED: Figure %d on page %d: the band between title and source is blank "
                  "(%.2f%% ink)" % (k, no, 100 * share))
            failed += 1
            continue
        print("ok: Figure %d whole on page %d (%.0f points tall, %.1f%% ink)"
              % (k, no, end - bottom, 100 * share))
    extra = sorted(k for k in seen if k < 1 or k > n)
    if extra:
        print("FAILED: unexpected figures %s (want 1 to %d)" % (extra, n))
        failed += 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
