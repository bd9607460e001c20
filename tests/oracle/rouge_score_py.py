"""Independent Python re-implementation of Google's rouge-score 0.1.2
(google-research/rouge: rouge_score/tokenize.py and rouge_scorer.py), used
as the oracle for oncolm's ROUGE (include/oncolm/rouge.h). Written from the
published definitions; the stemmer is nltk 3.8's PorterStemmer() (default
mode NLTK_EXTENSIONS), exactly what rouge-score 0.1.2 uses.

score(target, prediction, use_stemmer) returns
{"rouge1": (P, R, F), "rouge2": ..., "rougeL": ..., "rougeLsum": ...} as
RougeScorer(["rouge1", "rouge2", "rougeL", "rougeLsum"], use_stemmer).
score(target, prediction) would (split_summaries=False: sentences are the
non-empty "\\n"-separated lines).
"""
import collections
import re

from nltk.stem import porter

_STEMMER = porter.PorterStemmer()


def stem(word):
    return _STEMMER.stem(word)


def tokenize(text, use_stemmer):
    """lower(); non-[a-z0-9] runs -> one space; split on whitespace; stem
    tokens longer than 3 characters; keep ^[a-z0-9]+$ tokens."""
    text = text.lower()
    text = re.sub(r"[^a-z0-9]+", " ", text)
    tokens = re.split(r"\s+", text)
    if use_stemmer:
        tokens = [stem(x) if len(x) > 3 else x for x in tokens]
    return [x for x in tokens if re.match(r"^[a-z0-9]+$", x)]


def fmeasure(p, r):
    if p + r > 0:
        return 2 * p * r / (p + r)
    return 0.0


def ngrams(tokens, n):
    return collections.Counter(tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1))


def score_ngrams(target_tokens, prediction_tokens, n):
    t, p = ngrams(target_tokens, n), ngrams(prediction_tokens, n)
    overlap = sum(min(c, p[g]) for g, c in t.items())
    tc, pc = sum(t.values()), sum(p.values())
    prec = overlap / max(pc, 1)
    rec = overlap / max(tc, 1)
    return (prec, rec, fmeasure(prec, rec))


def lcs_table(ref, can):
    t = [[0] * (len(can) + 1) for _ in range(len(ref) + 1)]
    for i in range(1, len(ref) + 1):
        for j in range(1, len(can) + 1):
            if ref[i - 1] == can[j - 1]:
                t[i][j] = t[i - 1][j - 1] + 1
            else:
                t[i][j] = max(t[i - 1][j], t[i][j - 1])
    return t


def score_lcs(target_tokens, prediction_tokens):
    if not target_tokens or not prediction_tokens:
        return (0, 0, 0)
    lcs = lcs_table(target_tokens, prediction_tokens)[-1][-1]
    prec = lcs / len(prediction_tokens)
    rec = lcs / len(target_tokens)
    return (prec, rec, fmeasure(prec, rec))


def lcs_indices(ref, can):
    """Indexes of ref on the LCS path found by backtracking from the bottom
    right corner: match -> diagonal; else left if t[i][j-1] > t[i-1][j],
    else up."""
    t = lcs_table(ref, can)
    i, j = len(ref), len(can)
    out = []
    while i > 0 and j > 0:
        if ref[i - 1] == can[j - 1]:
            out.insert(0, i - 1)
            i -= 1
            j -= 1
        elif t[i][j - 1] > t[i - 1][j]:
            j -= 1
        else:
            i -= 1
    return out


def union_lcs(ref, candidates):
    idx = set()
    for c in candidates:
        idx.update(lcs_indices(ref, c))
    return [ref[i] for i in sorted(idx)]


def score_lsum(ref_sents, can_sents):
    if not ref_sents or not can_sents:
        return (0, 0, 0)
    m = sum(len(s) for s in ref_sents)
    n = sum(len(s) for s in can_sents)
    if not n or not m:
        return (0, 0, 0)
    cnt_r, cnt_c = collections.Counter(), collections.Counter()
    for s in ref_sents:
        cnt_r.update(s)
    for s in can_sents:
        cnt_c.update(s)
    hits = 0
    for r in ref_sents:
        for tok in union_lcs(r, can_sents):
            if cnt_c[tok] > 0 and cnt_r[tok] > 0:
                hits += 1
                cnt_c[tok] -= 1
                cnt_r[tok] -= 1
    rec = hits / m
    prec = hits / n
    return (prec, rec, fmeasure(prec, rec))


def sentences(text):
    return [x for x in text.split("\n") if len(x)]


def score(target, prediction, use_stemmer):
    tt, tp = tokenize(target, use_stemmer), tokenize(prediction, use_stemmer)
    return {
        "rouge1": score_ngrams(tt, tp, 1),
        "rouge2": score_ngrams(tt, tp, 2),
        "rougeL": score_lcs(tt, tp),
        "rougeLsum": score_lsum([tokenize(s, use_stemmer) for s in sentences(target)],
                                [tokenize(s, use_stemmer) for s in sentences(prediction)]),
        "target_tokens": len(tt),
        "prediction_tokens": len(tp),
    }
