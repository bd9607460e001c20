"""Oracle for oncolm's ROUGE (include/oncolm/rouge.h) through the helper
tests/helpers/rouge_run.c.

1. Porter stemmer: onc_porter_stem equals nltk 3.8 PorterStemmer().stem()
   (Debian's python3-nltk) on every word of a large vocabulary:
   /usr/share/dict/words when present; every distinct word of the synth
   templates (src/synth/), of the repository docs, of Python's standard
   library and nltk sources and of /usr/share/common-licenses; every string
   of 1-3 letters; the irregular forms and their capitalised variants;
   words built from every suffix the rules know with random stems; random
   letter strings of length 1-15 biased to common English endings; words
   with digits. Every word must match.
2. Tokenizer: tokens and line numbers equal rouge-score's tokenize() (as
   re-implemented in rouge_score_py.py) on random texts with mixed case,
   punctuation, digits, non-ASCII text, U+0130 and U+212A, NUL, CRLF and
   invalid UTF-8 (which the Python side decodes with errors="replace",
   the behaviour rouge.h documents).
3. Scores: ROUGE-1/2/L/Lsum precision, recall and F on thousands of random
   target/prediction pairs (clinical-like sentences from a small vocabulary
   so there is real overlap, edits of the target, repeated words, empty
   and punctuation-only texts, multi-line texts with empty lines and lines
   of spaces), with and without the stemmer, are bit-identical to
   rouge_score_py.py (compared with ==; the largest difference is printed).
4. Means and length statistics of all items equal sum()/n, numpy.median,
   min/max and the ratios computed here.
Exit 77 (skip) when ONCOLM_HELPERS is unset or nltk/numpy are missing.
"""
import glob
import json
import os
import random
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import oracle_util as U  # noqa: E402

np = U.need("numpy")
PorterStemmer = U.need("nltk.stem.porter", "nltk").PorterStemmer
import rouge_score_py as rs  # noqa: E402

HELPERS = os.environ.get("ONCOLM_HELPERS")
SRC = os.environ.get("ONCOLM_SRC", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
TMP = os.path.join(os.environ.get("ONCOLM_TMP", "/tmp"), "rouge-oracle")
if not HELPERS:
    print("ONCOLM_HELPERS unset: skipped")
    sys.exit(77)
RUN = os.path.join(HELPERS, "rouge_run")
os.makedirs(TMP, exist_ok=True)
rng = random.Random(20240611)
failures = U.failures
U.configure_checks(print_limit=30)
check = U.check


def helper(mode, path):
    out = subprocess.run([RUN, mode, path], capture_output=True, check=False)
    if out.returncode != 0:
        print(out.stderr.decode(errors="replace"))
        sys.exit(1)
    return out.stdout.decode()


# ---- 1. stemmer -------------------------------------------------------------------

def words_of_files(paths):
    ws = set()
    for p in paths:
        try:
            with open(p, encoding="utf-8", errors="replace") as f:
                ws.update(re.findall(r"[A-Za-z]+", f.read()))
        except OSError:
            pass
    return ws


SUFFIXES = [
    "sses", "ies", "ss", "s", "ied", "eed", "ed", "ing", "ated", "bled", "ized", "ating", "bling",
    "izing", "lled", "ssed", "zzed", "tted", "pping", "lling", "ssing", "y", "ational", "tional",
    "enci", "anci", "izer", "bli", "abli", "alli", "entli", "eli", "ousli", "ization", "ation", "ator",
    "alism", "iveness", "fulness", "ousness", "aliti", "iviti", "biliti", "fulli", "logi", "icate",
    "ative", "alize", "iciti", "ical", "ful", "ness", "al", "ance", "ence", "er", "ic", "able", "ible",
    "ant", "ement", "ment", "ent", "sion", "tion", "ion", "ou", "ism", "ate", "iti", "ous", "ive",
    "ize", "e", "ll", "ally", "ingly", "edly", "ies", "ying", "yed", "ly", "ise", "ised", "ising",
    "ologies", "ological", "ologically", "izations", "ationally", "fulnesses", "ements",
]
IRREGULAR = ["sky", "skies", "dying", "lying", "tying", "news", "innings", "inning", "outings",
             "outing", "cannings", "canning", "howe", "proceed", "exceed", "succeed"]


def random_stem(max_len):
    """Letters in a rough consonant/vowel rhythm, y's and doubled letters
    included, so the measure conditions take many values."""
    cons, vows = "bcdfghjklmnpqrstvwxzy", "aeiouy"
    n = rng.randint(0, max_len)
    s = []
    for _ in range(n):
        pool = vows if (s and s[-1] not in vows and rng.random() < 0.6) else cons
        s.append(rng.choice(pool))
        if rng.random() < 0.07:
            s.append(s[-1])
    return "".join(s)


def stemmer_vocabulary():
    ws = set()
    if os.path.exists("/usr/share/dict/words"):
        ws |= words_of_files(["/usr/share/dict/words"])
    ws |= words_of_files(glob.glob(os.path.join(SRC, "src", "synth", "*.c")))
    ws |= words_of_files(glob.glob(os.path.join(SRC, "docs", "*.md")))
    ws |= words_of_files(glob.glob("/usr/lib/python3.11/*.py"))
    ws |= words_of_files(glob.glob("/usr/lib/python3/dist-packages/nltk/**/*.py", recursive=True))
    ws |= words_of_files(glob.glob("/usr/share/common-licenses/*"))
    real = len(ws)
    ws |= {w.lower() for w in ws}
    letters = "abcdefghijklmnopqrstuvwxyz"
    ws |= set(letters)
    ws |= {a + b for a in letters for b in letters}
    ws |= {a + b + c for a in letters for b in letters for c in letters}
    for w in IRREGULAR:
        ws |= {w, w.capitalize(), w.upper()}
    for suf in SUFFIXES:
        for _ in range(400):
            ws.add(random_stem(7) + suf)
    endings = ["ing", "ed", "ies", "ational", "ization", "ness", "ly", "y", "e", "ss", "s", "ied",
               "eed", "ement", "ful", "ous", "ive", "ate", "al", "er", "ic", "ion", "ll", "alli", "logi"]
    for _ in range(150000):
        n = rng.randint(1, 15)
        w = "".join(rng.choice(letters) for _ in range(n))
        if rng.random() < 0.7:
            end = rng.choice(endings)
            w = w[: max(0, n - len(end))] + end
        ws.add(w)
    for _ in range(5000):
        w = random_stem(6) + rng.choice(["", "1", "2", "10", "0"]) + rng.choice(SUFFIXES)
        ws.add(w)
        ws.add(w.upper())
    return sorted(w for w in ws if w), real


def test_stemmer():
    vocab, real = stemmer_vocabulary()
    path = os.path.join(TMP, "words.txt")
    with open(path, "w", encoding="ascii") as f:
        f.write("\n".join(vocab) + "\n")
    got = helper("stem", path).split("\n")[:-1]
    st = PorterStemmer()
    check(len(got) == len(vocab), "stem: %d outputs for %d words" % (len(got), len(vocab)))
    bad = 0
    for w, g in zip(vocab, got):
        want = st.stem(w)
        if g != want:
            bad += 1
            check(False, "stem(%r): oncolm %r, nltk %r" % (w, g, want))
    print("stemmer: %d words (%d distinct words of real text), %d mismatches" % (len(vocab), real, bad))


# ---- random texts --------------------------------------------------------------------

CLINICAL = """the a of and with was is no on in to for patient patients treatment treatments treated
treating tumor tumors tumour chemotherapy radiation radiotherapy dose doses dosing dosed gy mg cycle
cycles cycling evidence disease progression progressive progressed stable response responded
responding metastatic metastases metastasis lymph node nodes nodal biopsy biopsies biopsied confirmed
confirming confirmation adenocarcinoma carcinoma cancer cancers breast lung colon rectal prostate
pancreatic resection resected surgery surgical margins negative positive grade staging staged stage
receptor receptors her2 er pr ki67 ct mri pet scan scans imaging showed shows showing increased
increasing decreased decrease decreasing size sized mass masses lesion lesions nodule nodules
recommended recommendation recommendations follow followed following up weeks months daily twice
weekly toxicity toxicities nausea fatigue neuropathy tolerated tolerating tolerance generalization
relational conditional happy happiness running runs flies dies died dying lying news innings sky
skies agreed feed hopeful goodness controlling controlled rolling allowance adjustable effective""".split()
PUNCT = [",", ".", ";", ":", "-", "/", "(", ")", "!", "?", "'s", "\"", "%", "+", "=", "_", "--", "..."]
ODD = ["5", "10mg", "2.5", "T2N1M0", "3x", "0", "1999", "é", "über", "naïve", "—", "İ", "\u0130STANBUL",
       "\u212a", "5\u212ag", "ß", "Ω", "中文", "\u00a0", "\t", "\x00", "\r\n", "ﬁ", "Ⅻ", "①", "Ǆ",
       "x\u0307", "K\u212aK", "i\u0130i"]
SEPARATORS = [" ", " ", " ", "  ", "\n", "\n\n", " \n", "\n   \n", "\t", "\r\n"]


def random_word():
    r = rng.random()
    if r < 0.8:
        w = rng.choice(CLINICAL)
        c = rng.random()
        if c < 0.1:
            w = w.upper()
        elif c < 0.25:
            w = w.capitalize()
        return w
    if r < 0.9:
        return rng.choice(PUNCT)
    return rng.choice(ODD)


def random_text(max_words=40):
    n = rng.randint(0, max_words)
    parts = []
    for _ in range(n):
        parts.append(random_word())
        parts.append(rng.choice(SEPARATORS) if rng.random() < 0.9 else "")
    return "".join(parts)


def edit(text):
    """A prediction made from the target: words dropped, swapped, replaced,
    repeated, lines joined or split."""
    words = re.split(r"(\s+)", text)
    out = []
    for w in words:
        r = rng.random()
        if r < 0.1:
            continue
        if r < 0.2:
            out.append(random_word())
        elif r < 0.27:
            out.extend([w, " ", w])
        else:
            out.append(w)
    if len(out) > 3 and rng.random() < 0.3:
        i, j = rng.randrange(len(out)), rng.randrange(len(out))
        out[i], out[j] = out[j], out[i]
    s = "".join(out)
    if rng.random() < 0.2:
        s = s.replace("\n", " ")
    if rng.random() < 0.2:
        s = s.replace(". ", ".\n")
    return s


INVALID = [b"\xc4", b"\xe2\x84", b"\xff", b"\x80", b"\xed\xa0\x80", b"\xf0\x9f", b"\xc0\xaf",
           b"\xe2\xc4\xb0", b"\xc4\xc4\xb0", b"\xe2\xe2\x84\xaa", b"\xf4\x90\x80\x80", b"\xc4\xb0",
           b"\xe2\x84\xaa"]


def random_bytes_text():
    parts = []
    for _ in range(rng.randint(0, 25)):
        if rng.random() < 0.3:
            parts.append(rng.choice(INVALID))
        else:
            parts.append(random_word().encode())
        if rng.random() < 0.7:
            parts.append(rng.choice(SEPARATORS).encode())
    return b"".join(parts)


def text_field(name, value):
    """JSON field for a str (sent as is) or bytes (sent as hex)."""
    if isinstance(value, bytes):
        return {name + "_hex": value.hex()}
    return {name: value}


def as_str(value):
    return value.decode("utf-8", errors="replace") if isinstance(value, bytes) else value


# ---- 2. tokenizer ---------------------------------------------------------------------

def expected_tokens(text, stem):
    toks, lines = [], []
    for i, line in enumerate(text.split("\n")):
        t = rs.tokenize(line, stem)
        toks += t
        lines += [i] * len(t)
    whole = rs.tokenize(text, stem)
    assert whole == toks, (text, whole, toks)
    return toks, lines


def test_tokenizer():
    items = []
    for k in range(3000):
        text = random_bytes_text() if k % 4 == 0 else random_text()
        items.append((text, k % 2 == 1))
    items += [(s, st) for s in ["", "\n", "İ", "\u212a", "İİ", "aİb", "a\u212ab", "\x00a\x00", "A-B_C"]
              for st in (False, True)]
    path = os.path.join(TMP, "tokenize.jsonl")
    with open(path, "w", encoding="utf-8") as f:
        for text, st in items:
            f.write(json.dumps(dict(text_field("text", text), stem=st)) + "\n")
    got = [json.loads(line) for line in helper("tokenize", path).splitlines()]
    check(len(got) == len(items), "tokenize: %d outputs for %d texts" % (len(got), len(items)))
    for (text, st), g in zip(items, got):
        toks, lines = expected_tokens(as_str(text), st)
        check(g["tokens"] == toks and g["lines"] == lines,
              "tokenize(%r, stem=%s): oncolm %r %r, python %r %r" % (text, st, g["tokens"], g["lines"], toks, lines))
    print("tokenizer: %d texts" % len(items))


# ---- 3 and 4. scores, means, lengths -------------------------------------------------------

def score_items():
    items = []
    fixed = ["", " ", "\n", "\n\n", "...", "!!! ---", "   \n  \n", "the", "the the the", "İ", "\u212a"]
    for a in fixed:
        for b in fixed + ["the cat", "The cat sat on the mat."]:
            items.append((a, b))
            items.append((b, a))
    for k in range(3000):
        r = rng.random()
        if r < 0.55:
            t = random_text()
            p = edit(t)
        elif r < 0.7:
            t, p = random_text(), random_text()
        elif r < 0.8:
            t = random_text(120)
            p = edit(t) + rng.choice(["", "\n", "\n\n" + random_text(10)])
        elif r < 0.88:
            t = random_bytes_text()
            p = random_bytes_text() if rng.random() < 0.5 else t
        elif r < 0.94:
            t = "\n".join(random_text(8) for _ in range(rng.randint(1, 8)))
            p = "\n".join(edit(x) for x in t.split("\n")[::-1])
        else:
            t = random_text(5)
            p = rng.choice(["", "?!", "\n \n", t, t.upper(), t + "\n" + t])
        if rng.random() < 0.5:
            t, p = p, t
        items.append((t, p))
    return [(t, p, st) for (t, p) in items for st in (False, True)]


def test_scores():
    items = score_items()
    path = os.path.join(TMP, "score.jsonl")
    with open(path, "w", encoding="utf-8") as f:
        for t, p, st in items:
            d = dict(text_field("target", t))
            d.update(text_field("prediction", p))
            d["stem"] = st
            f.write(json.dumps(d) + "\n")
    lines = helper("score", path).splitlines()
    check(len(lines) == len(items) + 1, "score: %d output lines for %d items" % (len(lines), len(items)))
    got = [json.loads(x) for x in lines[:-1]]
    summary = json.loads(lines[-1])
    keys = ["rouge1", "rouge2", "rougeL", "rougeLsum"]
    max_diff, mismatches = 0.0, 0
    want_all = []
    for (t, p, st), g in zip(items, got):
        w = rs.score(as_str(t), as_str(p), st)
        want_all.append(w)
        if "error" in g:
            check(False, "score(%r, %r): error %s" % (t, p, g["error"]))
            continue
        for k in keys:
            for a, b in zip(g[k], w[k]):
                max_diff = max(max_diff, abs(a - b))
            if tuple(g[k]) != tuple(float(x) for x in w[k]):
                mismatches += 1
                check(False, "%s(%r, %r, stem=%s): oncolm %r, python %r" % (k, t, p, st, g[k], w[k]))
        check(g["target_tokens"] == w["target_tokens"] and g["prediction_tokens"] == w["prediction_tokens"],
              "token counts of %r / %r" % (t, p))
        ratio = w["prediction_tokens"] / w["target_tokens"] if w["target_tokens"] else None
        check(g["ratio"] == ratio, "ratio of %r / %r: %r vs %r" % (t, p, g["ratio"], ratio))
    print("scores: %d items (with and without stemmer), %d value mismatches, largest |difference| %.3g"
          % (len(items), mismatches, max_diff))

    # means: left-to-right sum / n, as rouge.h documents
    mean = summary["mean"]
    n = len(want_all)
    for k in keys:
        for i, name in enumerate(["precision", "recall", "fmeasure"]):
            s = 0.0
            for w in want_all:
                s += w[k][i]
            check(mean[k][i] == s / n, "mean %s %s: %r vs %r" % (k, name, mean[k][i], s / n))
            check(abs(mean[k][i] - float(np.mean([w[k][i] for w in want_all]))) < 1e-14, "mean vs numpy")
    check(mean["target_tokens"] == sum(w["target_tokens"] for w in want_all), "total target tokens")
    check(mean["prediction_tokens"] == sum(w["prediction_tokens"] for w in want_all), "total prediction tokens")

    lp = [w["prediction_tokens"] for w in want_all]
    lt = [w["target_tokens"] for w in want_all]
    ratios = [a / b for a, b in zip(lp, lt) if b > 0]
    L = summary["lengths"]
    want = {
        "n_items": n, "prediction_mean": sum(float(x) for x in lp) / n,
        "prediction_median": float(np.median(lp)), "prediction_min": min(lp), "prediction_max": max(lp),
        "target_mean": sum(float(x) for x in lt) / n, "target_median": float(np.median(lt)),
        "target_min": min(lt), "target_max": max(lt), "ratio_mean": sum(ratios) / len(ratios),
        "n_ratio": len(ratios), "ratio_of_totals": sum(lp) / sum(lt),
    }
    for k, v in want.items():
        check(L[k] == v, "lengths %s: oncolm %r, python %r" % (k, L[k], v))
    print("means and length statistics over %d items checked" % n)


def test_length_edges():
    """No items, and items whose targets are all empty: NaN (null) values."""
    path = os.path.join(TMP, "empty.jsonl")
    open(path, "w").close()
    s = json.loads(helper("score", path).splitlines()[-1])
    check(s["mean"]["rouge1"] == [None, None, None] and s["lengths"]["n_items"] == 0
          and s["lengths"]["prediction_mean"] is None and s["lengths"]["ratio_mean"] is None,
          "no items: %r" % s)
    with open(path, "w") as f:
        f.write(json.dumps({"target": "", "prediction": "a b c"}) + "\n")
        f.write(json.dumps({"target": "...", "prediction": "a"}) + "\n")
    lines = helper("score", path).splitlines()
    s = json.loads(lines[-1])["lengths"]
    check(s["ratio_mean"] is None and s["n_ratio"] == 0 and s["ratio_of_totals"] is None
          and s["prediction_mean"] == 2.0 and s["prediction_median"] == 2.0 and s["prediction_min"] == 1
          and s["prediction_max"] == 3, "empty targets: %r" % s)
    check(json.loads(lines[0])["ratio"] is None, "ratio with an empty target must be null")


test_stemmer()
test_tokenizer()
test_scores()
test_length_edges()
print(U.summary())
sys.exit(1 if failures else 0)
