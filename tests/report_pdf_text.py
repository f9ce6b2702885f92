#!/usr/bin/env python3
"""Checks the text of a printed briefing (pdftotext).

    tests/report_pdf_text.py BRIEFING.pdf FIGURES

Requires: the cover's fields (date, version and commit, the machine measured,
"prepared with doormat", a suggested citation, how many runs); a running
header and "Page N of M" on every page; the key points; the framework table
with the National Academies' eight questions; at least five policy options;
at least 20 numbered references with a URL each; the captions "Figure 1." to
"Figure FIGURES."; and no page less than a third full except the last page of
a section (the next page opens a section) and the last page.
Prints one "ok:" or "FAILED:" line per check; exits 1 when any fails.
"""
import re
import subprocess
import sys

from pdf_figures import pages_words  # beside this file

SECTIONS = ["Key points", "Background", "What we built and measured", "The designs side by side",
            "The measurements in pictures", "The access system",
            "The framework: questions to ask of any proposal", "Policy options",
            "Limits of this work", "Method and machine", "Glossary", "References"]
HEADER = "Exceptional access, measured: a doormat briefing"


def main():
    pdf, nfig = sys.argv[1], int(sys.argv[2])
    pages = subprocess.run(["pdftotext", "-layout", pdf, "-"], check=True,
                           capture_output=True).stdout.decode("utf-8", "replace").split("\f")
    if pages and not pages[-1].strip():
        pages = pages[:-1]
    text = "\n".join(pages)
    flat = " ".join(text.split())
    failed = 0

    def check(ok, what):
        nonlocal failed
        print(("ok: " if ok else "FAILED: ") + what)
        failed += 0 if ok else 1

    cover = " ".join(pages[0].split()) if pages else ""
    for field in ["Date", "Version", "commit", "Machine measured", "Measurements", "Prepared with",
                  "Suggested citation", "prepared with doormat", "median of"]:
        check(field.lower() in cover.lower(), "the cover shows \"%s\"" % field)
    n = len(pages)
    numbered = [i + 1 for i, p in enumerate(pages) if re.search(r"Page %d of %d\b" % (i + 1, n), p)]
    check(len(numbered) == n and n > 0, "\"Page N of %d\" on every page (%d of %d)" % (n, len(numbered), n))
    headed = sum(1 for p in pages if HEADER in " ".join(p.split()))
    check(headed == n, "the running header on every page (%d of %d)" % (headed, n))
    for s in SECTIONS:
        check(s in flat, "section \"%s\"" % s)
    kp = flat.split("Key points", 1)[-1].split("Background", 1)[0]
    check("case for access" in kp and "case against" in kp and "What we measured" in kp,
          "the key points state both sides and the measurements")
    fw = flat.split("The framework: questions to ask", 1)[-1].split("Policy options", 1)[0]
    qs = [q for q in range(1, 9) if re.search(r"\b%d\. (Would|How|What|Is)\b" % q, fw)]
    check(len(qs) == 8, "the framework table answers the 8 questions (found %s)" % qs)
    op = flat.split("Policy options", 1)[-1].split("Limits of this work", 1)[0]
    opts = [k for k in range(1, 10) if re.search(r"\b%d\. [A-Z]" % k, op)]
    check(len(opts) >= 5, "at least five policy options (found %d)" % len(opts))
    cut = flat.rfind("References")
    refs = flat[cut:] if cut >= 0 else ""
    items = re.split(r"\s(?=\d{1,2}\. [A-Z])", refs)[1:]
    nums = [int(it.split(".", 1)[0]) for it in items]
    with_url = [it for it in items if re.search(r"https?://", it) and "accessed" in it]
    check(len(nums) >= 20 and nums == list(range(1, len(nums) + 1)) and len(with_url) == len(nums),
          "at least 20 numbered references, each with a URL and an access date (%d references, %d with both)"
          % (len(nums), len(with_url)))
    cited = {int(x) for group in re.findall(r"\[(\d+(?:, \d+)*)\]", flat[:cut if cut >= 0 else len(flat)])
             for x in group.split(", ")}
    check(nums and set(nums) <= cited, "every reference is cited in the text (not cited: %s)"
          % sorted(set(nums) - cited))
    for k in range(1, nfig + 1):
        check(("Figure %d." % k) in flat, "caption Figure %d." % k)
    # Page fill: the lowest word of the body (the header and footer bands left out).
    thin = []
    bpages = pages_words(pdf)
    for i, pg in enumerate(bpages):
        h = pg["height"]
        top, bottom = h * 17 / 297, h * (297 - 15) / 297
        ys = [y_max for _, _, y_min, _, y_max in pg["words"] if top < y_min and y_max < bottom]
        fill = (max(ys) - top) / (bottom - top) if ys else 0
        last_of_section = i == len(bpages) - 1 or any(
            " ".join(pages[i + 1].split()[:30]).find(s) >= 0 for s in SECTIONS) if i + 1 < len(pages) else True
        if fill < 1 / 3 and not last_of_section and i > 0:
            thin.append("%d (%.0f%%)" % (i + 1, 100 * fill))
    check(not thin, "no page under a third full but the last of a section%s"
          % ("" if not thin else ": pages " + ", ".join(thin)))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
