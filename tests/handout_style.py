#!/usr/bin/env python3
"""Checks that a handout is readable on a projector: large type, high contrast.

    handout_style.py HANDOUT.html

Reads the page's <style>: the body's font size must be at least 18 px and every
rule's font size (px, pt, or em of the body's) at least 14 px; for every rule
that sets a colour or a background, the contrast ratio (WCAG 2) of its text
colour on its background, each taken from the body where the rule does not set
it, must be at least 7:1 (WCAG's AAA level for body text). Prints one "ok:" or
"FAILED:" line per check; exits 1 when any check failed.
"""
import re
import sys

MIN_BODY_PX = 18
MIN_PX = 14
MIN_RATIO = 7.0


def rgb(value):
    v = value.strip().lower()
    named = {"black": "#000", "white": "#fff"}
    v = named.get(v, v)
    m = re.fullmatch(r"#([0-9a-f]{3})", v)
    if m:
        return tuple(int(c * 2, 16) for c in m.group(1))
    m = re.fullmatch(r"#([0-9a-f]{6})", v)
    if m:
        return tuple(int(m.group(1)[i:i + 2], 16) for i in (0, 2, 4))
    m = re.fullmatch(r"rgb\(\s*(\d+)\s*,\s*(\d+)\s*,\s*(\d+)\s*\)", v)
    if m:
        return tuple(int(x) for x in m.groups())
    return None


def luminance(c):
    def ch(x):
        x = x / 255
        return x / 12.92 if x <= 0.03928 else ((x + 0.055) / 1.055) ** 2.4
    r, g, b = (ch(x) for x in c)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def ratio(a, b):
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def px(value, body_px):
    m = re.fullmatch(r"([\d.]+)(px|pt|em|rem)", value.strip())
    if not m:
        return None
    n, unit = float(m.group(1)), m.group(2)
    return n if unit == "px" else n * 4 / 3 if unit == "pt" else n * body_px


def main():
    if len(sys.argv) != 2:
        print("usage: handout_style.py HANDOUT.html", file=sys.stderr)
        return 2
    html = open(sys.argv[1], encoding="utf-8").read()
    m = re.search(r"<style>(.*?)</style>", html, re.S)
    if not m:
        print("FAILED: no <style> in the page")
        return 1
    rules = []
    for sel, body in re.findall(r"([^{}]+)\{([^{}]*)\}", m.group(1)):
        props = {}
        for decl in body.split(";"):
            if ":" in decl:
                k, v = decl.split(":", 1)
                props[k.strip().lower()] = v.strip()
        rules.append((" ".join(sel.split()), props))
    body = next((p for s, p in rules if s == "body"), None)
    bad = 0
    if body is None:
        print("FAILED: no body rule")
        return 1
    body_px = px(body.get("font-size", ""), 16) or 16
    fg, bg = rgb(body.get("color", "#000")), rgb(body.get("background", body.get("background-color", "#fff")))
    if body_px >= MIN_BODY_PX:
        print(f"ok: body text {body_px:g} px (at least {MIN_BODY_PX})")
    else:
        bad += 1
        print(f"FAILED: body text {body_px:g} px, under {MIN_BODY_PX}")
    for sel, p in rules:
        if sel.startswith("@"):
            continue
        if "font-size" in p:
            size = px(p["font-size"], body_px)
            if size is None or size < MIN_PX:
                bad += 1
                print(f"FAILED: {sel}: font-size {p['font-size']} is under {MIN_PX} px")
        c = p.get("color")
        b = p.get("background", p.get("background-color"))
        if c is None and b is None:
            continue
        cf, cb = rgb(c) if c else fg, rgb(b.split()[0]) if b else bg
        if cf is None or cb is None:
            bad += 1
            print(f"FAILED: {sel}: a colour this check cannot read ({c} on {b})")
            continue
        r = ratio(cf, cb)
        if r >= MIN_RATIO:
            print(f"ok: {sel}: contrast {r:.1f}:1")
        else:
            bad += 1
            print(f"FAILED: {sel}: contrast {r:.1f}:1, under {MIN_RATIO:g}:1")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
