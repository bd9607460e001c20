"""The HTML report renders in a real browser: tests/helpers/report_sample
writes a sample report (every element of oncolm/report.h) and one report
per chart kind; Debian's Chromium (headless, no network, a fresh profile)
takes screenshots; a PNG decoder written here with the standard library
only (zlib + struct; filter types 0-4, 8-bit RGB/RGBA) reads them back and
the colours each chart draws are counted:

- heat map: dark cells of the sequential blue scale (the diagonal) and the
  0% colour #f7fbff, each at least the area of a cell;
- grouped bars: each of the three Okabe-Ito series colours (#0072B2,
  #E69F00, #009E73) over far more pixels than its legend swatch;
- histogram (side by side): both series colours; the overlaid histogram of
  the full report: the translucent blends of each series over white and of
  one over the other;
- paired differences, strip and histogram: the "B better" (#009E73) and
  "A better" (#D55E00) colours, black for the mean, grey for the bin of 0;
- line chart (10,000 training steps with a gap, 50 validation points):
  the train (#0072B2) and validation (#E69F00) line colours over far more
  pixels than their legend swatches, and the gap of 200 steps leaves a
  column of the plot without train colour; statically, the train series is
  two polylines of at most 2 points per pixel column;
- the full page is not blank and fits the window (the bottom rows white).
A missing or empty chart leaves its colours at (nearly) zero and fails.

Static checks on the same files: the HTML parses with balanced tags, has
one <svg> per chart each with <title> and <desc> (aria-labelledby), no
<script> element, no src/href attribute, no URL, url(), @import or "//";
hostile table text arrives as text. The Markdown bins of the sample
histograms equal numpy.histogram on the raw values (the Sturges bins
pooled over both series as numpy.histogram_bin_edges, and 20 bins on
[0, 1]).

The screenshots stay in ONCOLM_TMP/report-html/ for a person to look at.
Exit 77 (skip) when ONCOLM_HELPERS is unset or Chromium is not installed.
"""
import html.parser
import os
import re
import shutil
import struct
import subprocess
import sys
import time
import zlib
from collections import Counter

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import oracle_util as U  # noqa: E402

HELPERS = os.environ.get("ONCOLM_HELPERS")
TMP = os.path.join(os.environ.get("ONCOLM_TMP", "/tmp"), "report-html")
CHROMIUM = "/usr/bin/chromium"
if not HELPERS:
    print("ONCOLM_HELPERS unset: skipped")
    sys.exit(77)
if not os.path.exists(CHROMIUM):
    print(f"{CHROMIUM} not found: skipped (apt-get install chromium)")
    sys.exit(77)
SAMPLE = os.path.join(HELPERS, "report_sample")
shutil.rmtree(TMP, ignore_errors=True)
os.makedirs(TMP)

failures = U.failures
check = U.check


# --- PNG decoding (standard library only) ----------------------------------------------------


def _add_bytes(a, b, m7, m8):
    """Byte-wise (a + b) mod 256 of two equally long big-endian integers
    (SWAR: add the low 7 bits, then put back the top bits without carry)."""
    return ((a & m7) + (b & m7)) ^ ((a ^ b) & m8)


def decode_png(path):
    """(width, height, RGB bytes) of an 8-bit RGB or RGBA, non-interlaced PNG."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError(f"{path}: not a PNG")
    pos, idat, ihdr = 8, [], None
    while pos + 8 <= len(data):
        n, ctype = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        pos += 12 + n
        if ctype == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif ctype == b"IDAT":
            idat.append(body)
        elif ctype == b"IEND":
            break
    w, h, depth, color, _, _, interlace = ihdr
    if depth != 8 or color not in (2, 6) or interlace != 0:
        raise ValueError(f"{path}: unsupported PNG (depth {depth}, colour type {color}, interlace {interlace})")
    bpp = 3 if color == 2 else 4
    stride = w * bpp
    raw = zlib.decompress(b"".join(idat))
    if len(raw) != h * (stride + 1):
        raise ValueError(f"{path}: truncated image data")
    m7 = int.from_bytes(b"\x7f" * stride, "big")
    m8 = int.from_bytes(b"\x80" * stride, "big")
    out = bytearray(h * stride)
    prev = bytes(stride)
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)]
        if f == 0:  # None
            cur = bytes(line)
        elif f == 2:  # Up: + the byte above
            cur = _add_bytes(int.from_bytes(line, "big"), int.from_bytes(prev, "big"), m7, m8).to_bytes(stride, "big")
        elif f == 1:  # Sub: running sum per channel, by doubling (Hillis-Steele)
            x, shift = int.from_bytes(line, "big"), bpp
            while shift < stride:
                x = _add_bytes(x, x >> (8 * shift), m7, m8)
                shift *= 2
            cur = x.to_bytes(stride, "big")
        elif f in (3, 4):  # Average, Paeth: byte by byte
            c = bytearray(line)
            for i in range(stride):
                a = c[i - bpp] if i >= bpp else 0
                b = prev[i]
                if f == 3:
                    c[i] = (c[i] + ((a + b) >> 1)) & 255
                    continue
                cc = prev[i - bpp] if i >= bpp else 0
                p = a + b - cc
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - cc)
                c[i] = (c[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else cc)) & 255
            cur = bytes(c)
        else:
            raise ValueError(f"{path}: bad filter type {f} in row {y}")
        out[y * stride:(y + 1) * stride] = cur
        prev = cur
    if bpp == 4:  # drop alpha (screenshots are opaque)
        out = bytes(b for i, b in enumerate(out) if i % 4 != 3)
    return w, h, bytes(out)


def colour_histogram(rgb, start=0, end=None):
    end = len(rgb) if end is None else end
    return Counter(rgb[i:i + 3] for i in range(start, end, 3))


def count_near(hist, colour, tol):
    r, g, b = int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)
    return sum(n for c, n in hist.items() if abs(c[0] - r) <= tol and abs(c[1] - g) <= tol and abs(c[2] - b) <= tol)


def count_where(hist, pred):
    return sum(n for c, n in hist.items() if pred(c[0], c[1], c[2]))


def blend(colour, alpha, under="#ffffff"):
    fg = [int(colour[k:k + 2], 16) for k in (1, 3, 5)]
    bg = [int(under[k:k + 2], 16) for k in (1, 3, 5)]
    return "#%02x%02x%02x" % tuple(round(alpha * f + (1 - alpha) * b) for f, b in zip(fg, bg))


# --- running the helper and Chromium ------------------------------------------------------------


def run_sample(kind):
    md, page = os.path.join(TMP, f"{kind}.md"), os.path.join(TMP, f"{kind}.html")
    args = [SAMPLE] + (["--only", kind] if kind != "full" else ["--values", os.path.join(TMP, "values.tsv")])
    p = subprocess.run(args + [md, page], capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        print(p.stderr)
        raise SystemExit(f"report_sample {kind} failed (exit {p.returncode})")
    return md, page


def screenshot(page, png, height):
    profile = os.path.join(TMP, "chromium-profile")
    shutil.rmtree(profile, ignore_errors=True)
    cmd = [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
           "--force-device-scale-factor=1", "--no-first-run", "--no-default-browser-check",
           "--disable-extensions", "--disable-background-networking", "--disable-sync",
           "--disable-component-update", f"--user-data-dir={profile}", f"--window-size=1200,{height}",
           f"--screenshot={png}", "file://" + os.path.abspath(page)]
    if os.path.exists(png):
        os.remove(png)
    t = time.time()
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=90)
    if p.returncode != 0 or not os.path.exists(png):
        print(p.stdout[-2000:], p.stderr[-2000:])
        raise SystemExit(f"chromium failed to screenshot {page} (exit {p.returncode})")
    shutil.rmtree(profile, ignore_errors=True)
    w, h, rgb = decode_png(png)
    print(f"  {os.path.basename(png)}: {w}x{h} in {time.time() - t:.1f} s")
    return w, h, rgb


# --- static checks of the HTML -----------------------------------------------------------------

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class Structure(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack, self.errors, self.tags, self.attrs, self.text = [], [], Counter(), [], []
        self.svg_children = []  # per <svg>: the first two child tags
        self.ids = set()

    def handle_starttag(self, tag, attrs):
        self.tags[tag] += 1
        self.attrs.extend(attrs)
        for k, v in attrs:
            if k == "id":
                self.ids.add(v)
        if self.stack and self.stack[-1][0] == "svg" and len(self.svg_children[-1]) < 2:
            self.svg_children[-1].append((tag, dict(attrs)))
        if tag == "svg":
            self.svg_children.append([])
            self.svg_attrs = dict(attrs)
        if tag not in VOID:
            self.stack.append((tag, dict(attrs)))

    def handle_startendtag(self, tag, attrs):
        self.tags[tag] += 1
        self.attrs.extend(attrs)

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack or self.stack[-1][0] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1][0] if self.stack else 'nothing'}")
            return
        self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)


def check_html(path, n_charts):
    with open(path, encoding="utf-8") as f:
        doc = f.read()
    check(doc.startswith("<!DOCTYPE html>\n"), f"{path}: no doctype")
    for banned in ("http:", "https:", "//", "url(", "@import", "<script", "<link", "<img", "src=", "href=",
                   "@font-face"):
        check(banned not in doc, f"{path}: contains {banned!r}")
    check(doc.count("http") == doc.count("http-equiv") == 1, f"{path}: 'http' outside the CSP meta")
    s = Structure()
    s.feed(doc)
    s.close()
    check(not s.errors and not s.stack, f"{path}: unbalanced tags {s.errors[:3]} open {[t for t, _ in s.stack][:3]}")
    check(s.tags["script"] == 0 and s.tags["img"] == 0 and s.tags["link"] == 0, f"{path}: script/img/link element")
    check(not any(k in ("src", "href") or k.startswith("on") for k, _ in s.attrs), f"{path}: src/href/on* attribute")
    check(s.tags["svg"] == n_charts, f"{path}: {s.tags['svg']} <svg>, expected {n_charts}")
    for k, kids in enumerate(s.svg_children):
        tags = [t for t, _ in kids]
        check(tags == ["title", "desc"], f"{path}: svg {k + 1} starts with {tags}, not title, desc")
        for tag, a in kids:
            check(a.get("id") in s.ids, f"{path}: svg {k + 1}: no id on its {tag}")
    return doc, s


# --- numpy: the bins of the sample histograms ------------------------------------------------------


def md_table_after(md, caption):
    """Rows (lists of cells) of the first table after the line with `caption`."""
    lines = md.split("\n")
    i = next(k for k, line in enumerate(lines) if caption in line)
    rows = []
    for line in lines[i + 1:]:
        if line.startswith("|"):
            rows.append([c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]])
        elif rows:
            break
    return rows[2:]  # without the header and the alignment row


def check_bins(md_path, values_path):
    try:
        import numpy as np
    except ImportError:
        print("numpy missing: bins not compared")
        return
    with open(md_path, encoding="utf-8") as f:
        md = f.read()
    series = {0: [], 1: []}
    with open(values_path) as f:
        for line in f:
            s, v = line.split("\t")
            series[int(s)].append(float(v))
    a, b = np.array(series[0]), np.array(series[1])
    pooled = np.concatenate([a, b])
    # Sturges bins pooled over both series
    edges = np.histogram_bin_edges(pooled, bins="sturges")
    rows = md_table_after(md, "(Sturges bins)")
    check(len(rows) == len(edges) - 1, f"Sturges: {len(rows)} bins, numpy {len(edges) - 1}")
    ca, _ = np.histogram(a, bins=edges)
    cb, _ = np.histogram(b, bins=edges)
    for i, row in enumerate(rows[:len(edges) - 1]):
        lo, hi = (float(x) for x in re.findall(r"-?\d+\.?\d*", row[0]))
        digits = len(row[0].split(",")[0].split(".")[1]) if "." in row[0] else 0
        check(abs(lo - edges[i]) <= 0.5 * 10 ** -digits + 1e-12 and abs(hi - edges[i + 1]) <= 0.5 * 10 ** -digits + 1e-12,
              f"Sturges bin {i}: label {row[0]} vs numpy edges {edges[i]}, {edges[i + 1]}")
        check(int(row[1]) == ca[i] and int(row[2]) == cb[i],
              f"Sturges bin {i}: counts {row[1:]} vs numpy {ca[i]} {cb[i]}")
    # 20 bins on [0, 1]
    rows = md_table_after(md, "(overlaid, 20 bins on 0..1)")
    ca, edges = np.histogram(a, bins=20, range=(0, 1))
    cb, _ = np.histogram(b, bins=20, range=(0, 1))
    check([int(r[1]) for r in rows] == ca.tolist() and [int(r[2]) for r in rows] == cb.tolist(),
          f"20 bins: {[r[1:] for r in rows]} vs numpy {ca.tolist()} {cb.tolist()}")
    m = re.search(r"baseline: 300 values, mean (\S+), median (\S+)\.", md)
    check(m is not None and float(m.group(1)) == round(float(np.mean(a)), 4) and
          float(m.group(2)) == round(float(np.median(a)), 4), f"baseline mean/median {m and m.groups()}")


# --- the checks ----------------------------------------------------------------------------------

BLUE, ORANGE, GREEN, VERMILLION = "#0072B2", "#E69F00", "#009E73", "#D55E00"
TOL = 6  # colour tolerance per channel (anti-aliasing at edges only; fills are exact)
CELL = 60 * 60  # at least most of one heat-map cell (72 px)


def dark_blue(r, g, b):
    """The upper half of the heat-map scale (#6baed6 -> #2171b5 -> #08306b): blue
    well above red and green; not the bar colour #0072B2 nor the green #009E73."""
    return (b >= 100 and r <= 110 and b - r >= 80 and b - g >= 25
            and not (r <= 5 and 110 <= g <= 118 and 174 <= b <= 182))


def at_least(where, what, value, minimum):
    """A pixel count and its floor, printed either way (so a margin can be seen)."""
    print(f"    {where}: {what}: {value} pixels (>= {minimum})")
    check(value >= minimum, f"{where}: {value} pixels of {what}, expected >= {minimum}")


def page_checks(kind, hist, w, h, where):
    n = w * h
    if kind == "heatmap":
        at_least(where, "dark blue (diagonal cells)", count_where(hist, dark_blue), 2 * CELL)
        at_least(where, "the 0% colour #f7fbff", count_near(hist, "#f7fbff", 2), 2 * CELL)
    elif kind == "bars":
        for c in (BLUE, ORANGE, GREEN):
            at_least(where, f"bar colour {c}", count_near(hist, c, TOL), 8000)
    elif kind == "histogram":
        for c in (BLUE, ORANGE):
            at_least(where, f"histogram colour {c}", count_near(hist, c, TOL), 5000)
    elif kind == "lines":
        at_least(where, "train line " + BLUE, count_near(hist, BLUE, TOL), 1500)
        at_least(where, "validation line " + ORANGE, count_near(hist, ORANGE, TOL), 400)
    elif kind in ("paired", "paired-hist"):
        at_least(where, "B better " + GREEN, count_near(hist, GREEN, TOL), 4000)
        at_least(where, "A better " + VERMILLION, count_near(hist, VERMILLION, TOL), 1000)
        at_least(where, "black (mean line and marker)", count_near(hist, "#000000", 10), 60)
        if kind == "paired-hist":
            at_least(where, "grey (the bin of 0)", count_near(hist, "#999999", 3), 1000)
    white = hist.get(b"\xff\xff\xff", 0)
    check(white < 0.97 * n, f"{where}: page almost blank ({white} of {n} pixels white)")


def lines_checks(doc, rgb, w):
    """The line chart of --only lines: the train series is two polylines (the
    NaN gap), each reduced to at most 2 points per pixel column of the 640-px
    plot; in the screenshot some column inside the plot has no train colour
    (the gap of steps 4,000-4,199, about 13 px wide) while the columns beside
    it do."""
    train = doc[doc.index("<title>train loss"):doc.index("</g>", doc.index("<title>train loss"))]
    pts = [len(m.split()) for m in re.findall(r'<polyline points="([^"]*)"', train)]
    check(len(pts) == 2, f"lines: train loss has {len(pts)} polylines, expected 2 (the gap)")
    check(all(100 < n <= 2 * 641 for n in pts), f"lines: train polyline points {pts}, expected <= 1282 each")
    h = len(rgb) // (3 * w)
    blue = bytes.fromhex(BLUE[1:])

    def near(px):
        return all(abs(px[i] - blue[i]) <= TOL for i in range(3))

    cols = [sum(near(rgb[(y * w + x) * 3:(y * w + x) * 3 + 3]) for y in range(h)) for x in range(w)]
    drawn = [x for x, c in enumerate(cols) if c > 0]
    check(bool(drawn), "lines: no train colour at all")
    if drawn:
        lo, hi = drawn[0], drawn[-1]
        empty = [x for x in range(lo + 40, hi - 40) if cols[x] == 0]
        print(f"    lines: train colour in columns {lo}..{hi}, {len(empty)} empty columns inside")
        check(3 <= len(empty) <= 30, f"lines: {len(empty)} empty columns inside the train line, expected the gap (3..30)")


def main():
    t0 = time.time()
    kinds = ["heatmap", "bars", "histogram", "paired", "paired-hist", "lines"]
    md, page = run_sample("full")
    doc, parsed = check_html(page, 7)
    check("T4 <script>alert('x')</script> | pipe" in "".join(parsed.text), "hostile cell text not intact as text")
    check_bins(md, os.path.join(TMP, "values.tsv"))
    for kind in kinds:
        _, p = run_sample(kind)
        one, _ = check_html(p, 1)
        png = os.path.join(TMP, f"{kind}.png")
        w, h, rgb = screenshot(p, png, 800)
        page_checks(kind, colour_histogram(rgb), w, h, kind)
        if kind == "lines":
            lines_checks(one, rgb, w)

    # the full report in one tall screenshot, for people and for the blends
    png = os.path.join(TMP, "report_sample.png")
    w, h, rgb = screenshot(page, png, 4800)
    hist = colour_histogram(rgb)
    bottom = colour_histogram(rgb, (h - 40) * w * 3)
    check(len(bottom) == 1 and b"\xff\xff\xff" in bottom, "full page: content reaches the bottom of the window")
    for kind in kinds:  # every colour again (not chart by chart: colours are shared)
        page_checks(kind, hist, w, h, "full page")
    soft_blue, soft_orange = blend(BLUE, 0.45), blend(ORANGE, 0.45)
    both = blend(ORANGE, 0.45, soft_blue)
    for name, c in (("blue", soft_blue), ("orange", soft_orange), ("orange over blue", both)):
        at_least("overlaid histogram", f"the {name} blend {c}", count_near(hist, c, 4), 1500)
    print(f"{U.n_checks()} checks, {len(failures)} failed, {time.time() - t0:.1f} s; screenshots in {TMP}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
