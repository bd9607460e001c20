"""Independent Python implementation of the retrieval metrics of
`oncolm eval retrieval`, written from the definitions in
shared/reference/evaluation-definitions.md and the trec_eval 9.0.x /
sentence-transformers documentation (not from oncolm's C code).

trec_eval convention
  - run lines `qid iter docno rank sim run_id`; the rank column is ignored;
    a docno twice in one query is an error; sim is stored as float32 (9.0.x,
    pytrec_eval) unless sim_double (10.0);
  - ranking: sim descending, ties by docno descending (strcmp(b, a));
  - qrels `qid iter docno rel` (or BEIR tsv with a header); relevant means
    rel >= level (trec_eval -l, default 1);
  - ndcg_cut_k: gain = rel for judged rel > 0 (else 0), discount log2(i+2)
    (i 0-based), ideal = all judged rel > 0 gains sorted descending, both
    cut at k; 0 when the ideal is 0;
  - P_k = relevant in top k / k; recall_k = relevant in top k / num_rel (0
    when num_rel = 0); map = sum of precision at each relevant retrieved doc
    / num_rel; map_cut_k the same within the top k; recip_rank = 1 / rank of
    the first relevant doc; success_k = 1 if a relevant doc is in the top k;
    MRR@k (recip_rank_cut_k) = recip_rank if that rank <= k else 0;
  - evaluated queries: in both files; complete (-c): also qrels-only ones,
    all values 0; means over evaluated queries.
sentence-transformers convention (InformationRetrievalEvaluator)
  - binary relevance (rel >= level); queries without a relevant doc dropped;
  - ndcg@k = sum_{i<k, rel} 1/log2(i+2) / sum_{i<min(|R|,k)} 1/log2(i+2);
  - precision@k = hits/k, recall@k = hits/|R|, mrr@k, accuracy@k,
    map@k = sum of precision at relevant ranks within k / min(k, |R|).

Also: the oncolm bootstrap (splitmix64-seeded xoshiro256**, Lemire's
unbiased bounded integers, numpy.quantile linear) for checking CIs.
"""
import functools
import math

import numpy as np

TREC_DEFAULT_CUTOFFS = [5, 10, 15, 20, 30, 100, 200, 500, 1000]


class FormatError(Exception):
    pass


def parse_run(text, sim_double=False):
    """{qid: [(docno, sim)]} with sim rounded to float32 unless sim_double."""
    run = {}
    seen = set()
    for ln, line in enumerate(text.split("\n"), 1):
        f = line.split()
        if not f:
            continue
        if len(f) != 6:
            raise FormatError(f"line {ln}: expected 6 fields")
        qid, _, docno, _, sim, _ = f
        s = float(sim)
        if not sim_double:
            s = float(np.float32(s))
        if (qid, docno) in seen:
            raise FormatError(f"line {ln}: duplicate docno")
        seen.add((qid, docno))
        run.setdefault(qid, []).append((docno, s))
    return run


def parse_qrels(text, beir=False):
    """{qid: {docno: rel}}."""
    qrels = {}
    lines = text.split("\n")
    if beir:
        lines = lines[1:]
    for line in lines:
        line = line.rstrip("\r")
        if not line.strip():
            continue
        f = line.split("\t") if beir else line.split()
        qid, docno, rel = (f[0], f[1], f[2]) if beir else (f[0], f[2], f[3])
        qrels.setdefault(qid, {})[docno] = int(rel)
    return qrels


def _cmp(a, b):
    # a, b = (docno, sim): sim descending, then docno descending
    if a[1] > b[1]:
        return -1
    if a[1] < b[1]:
        return 1
    ab, bb = a[0].encode(), b[0].encode()
    return (bb > ab) - (bb < ab)


def rank(docs):
    return [d for d, _ in sorted(docs, key=functools.cmp_to_key(_cmp))]


def trec_query(ranked, judged, cutoffs, level=1):
    """Metrics of one query under trec_eval's rules (see module doc)."""
    rels = [judged.get(d) for d in ranked]
    num_rel = sum(1 for r in judged.values() if r >= level)
    gains = sorted((r for r in judged.values() if r > 0), reverse=True)
    isrel = [r is not None and r >= level for r in rels]
    out = {"num_ret": len(ranked), "num_rel": num_rel, "num_rel_ret": sum(isrel)}
    # full depth
    hits, ap = 0, 0.0
    first = None
    for i, ok in enumerate(isrel):
        if ok:
            hits += 1
            ap += hits / (i + 1)
            if first is None:
                first = i + 1
    out["map"] = ap / num_rel if num_rel else 0.0
    out["recip_rank"] = 1.0 / first if first else 0.0
    for k in cutoffs:
        top = isrel[:k]
        h = sum(top)
        out[f"P_{k}"] = h / k
        out[f"recall_{k}"] = h / num_rel if num_rel else 0.0
        dcg = 0.0
        for i, r in enumerate(rels[:k]):
            if r is not None and r > 0:
                dcg += r / math.log2(i + 2)
        idcg = 0.0
        for i, g in enumerate(gains[:k]):
            idcg += g / math.log2(i + 2)
        out[f"ndcg_cut_{k}"] = dcg / idcg if idcg > 0 else 0.0
        hh, s = 0, 0.0
        for i, ok in enumerate(top):
            if ok:
                hh += 1
                s += hh / (i + 1)
        out[f"map_cut_{k}"] = s / num_rel if num_rel else 0.0
        out[f"success_{k}"] = 1.0 if h > 0 else 0.0
        out[f"recip_rank_cut_{k}"] = 1.0 / first if first and first <= k else 0.0
    return out


def st_query(ranked, judged, cutoffs, level=1):
    """Metrics of one query as sentence-transformers' IR evaluator (binary)."""
    relevant = {d for d, r in judged.items() if r >= level}
    R = len(relevant)
    out = {"num_ret": len(ranked), "num_rel": R, "num_rel_ret": sum(1 for d in ranked if d in relevant)}
    for k in cutoffs:
        top = ranked[:k]
        hits = [1 if d in relevant else 0 for d in top]
        out[f"precision@{k}"] = sum(hits) / k
        out[f"recall@{k}"] = sum(hits) / R
        out[f"accuracy@{k}"] = 1.0 if sum(hits) else 0.0
        mrr = 0.0
        for i, h in enumerate(hits):
            if h:
                mrr = 1.0 / (i + 1)
                break
        out[f"mrr@{k}"] = mrr
        dcg = sum(h / np.log2(i + 2) for i, h in enumerate(hits))
        idcg = sum(1 / np.log2(i + 2) for i in range(min(R, k)))
        out[f"ndcg@{k}"] = float(dcg / idcg)
        n, s = 0, 0.0
        for i, h in enumerate(hits):
            if h:
                n += 1
                s += n / (i + 1)
        out[f"map@{k}"] = s / min(k, R)
    return out


def evaluate(qrels, run, convention="trec", cutoffs=None, level=1, complete=False):
    """(per_query {qid: {name: value}} in qid byte order, means {name: value})."""
    cutoffs = sorted(set(cutoffs or TREC_DEFAULT_CUTOFFS))
    qids = [q for q in qrels if q in run or complete]
    qids.sort(key=lambda s: s.encode())
    per = {}
    for q in qids:
        ranked = rank(run.get(q, []))
        if convention == "st":
            if not any(r >= level for r in qrels[q].values()):
                continue
            per[q] = st_query(ranked, qrels[q], cutoffs, level)
        else:
            per[q] = trec_query(ranked, qrels[q], cutoffs, level)
    means = {}
    if per:
        for name in next(iter(per.values())):
            vals = [v[name] for v in per.values()]
            means[name] = sum(vals) if name.startswith("num_") else sum(vals) / len(vals)
    return per, means


# ---- the oncolm bootstrap ---------------------------------------------------------

# xoshiro256** seeded by splitmix64 (oncolm/rng.h), shared with the sampler oracle
from oracle_util import Xoshiro256ss  # noqa: E402,F401


def bootstrap_paired(a, b, resamples, level, seed):
    """(estimate, lo, hi) of mean(b - a) as onc_bootstrap_paired_mean_diff."""
    d = [bb - aa for aa, bb in zip(a, b)]
    n = len(d)
    rng = Xoshiro256ss(seed)
    means = []
    for _ in range(resamples):
        s = 0.0
        for _ in range(n):
            s += d[rng.below(n)]
        means.append(s / n)
    est = sum(d) / n
    lo, hi = np.quantile(np.array(means), [(1.0 - level) / 2.0, (1.0 + level) / 2.0])
    return est, float(lo), float(hi)
