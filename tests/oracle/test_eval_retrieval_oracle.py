"""Oracle for `oncolm eval retrieval` and `oncolm eval paired` against an
independent Python implementation (trec_eval_py.py, written from the
trec_eval / sentence-transformers definitions) and scipy.stats.wilcoxon
(Debian 12's scipy 1.10.1).

1. Random qrels/runs (many queries, graded and negative relevance, ties in
   score, scores that tie only after float32 rounding, queries only in the
   qrels or only in the run, queries without relevant documents, rankings
   shorter and longer than the cutoffs, CRLF and blank lines, TREC and BEIR
   qrels): `--format trec --per-query` equals the Python numbers to 4
   decimals, per query and `all`, and `--json --per-query` to 1e-12 — for
   the trec and st conventions, float32 and double scores, with and
   without --complete, relevance levels 1 and 2.
2. Categories from a synth-style queries.jsonl and from a TSV: per-category
   means equal the Python means of the per-query values.
3. Two and three runs: the comparison rows (pairs, means, Wilcoxon p-value
   against scipy on the same per-query values, bootstrap CI against the
   Python re-implementation of the oncolm RNG and numpy.quantile) agree to
   1e-12.
4. `oncolm eval paired`: statistic, p-value (and z for method approx) equal
   scipy.stats.wilcoxon for every zero_method x alternative x method x
   correction on random data with ties and zeros, n from 1 to 200 (exact
   and approximate regimes, including scipy's exact->approx fallback and
   the int(r+) truncation with ties) to 1e-12 relative; scipy's ValueError
   cases are errors (exit 1).
5. Errors name file and line; a 1,000,000-line run is evaluated quickly.
Exit 77 (skip) when ONCOLM_BIN is unset or numpy/scipy are missing.
"""
import json
import os
import random
import subprocess
import sys
import time
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import oracle_util as U  # noqa: E402

np = U.need("numpy")
scipy = U.need("scipy")
wilcoxon = U.need("scipy.stats", "scipy").wilcoxon
import trec_eval_py as te  # noqa: E402

BIN = U.need_bin()
TMP = os.path.join(os.environ.get("ONCOLM_TMP", "/tmp"), "eval-retrieval-oracle")
os.makedirs(TMP, exist_ok=True)
failures = U.failures
U.configure_checks(print_limit=30)
check = U.check


def close(a, b, rel=1e-12, abs_=0.0):
    if a is None or b is None:
        return a is None and b is None
    if a == b:
        return True
    if isinstance(a, float) and isinstance(b, float) and np.isnan(a) and np.isnan(b):
        return True
    return abs(a - b) <= rel * max(abs(a), abs(b)) + abs_


def write(name, text):
    path = os.path.join(TMP, name)
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write(text)
    return path


def oncolm(*args, ok=True):
    p = subprocess.run([BIN, *args], capture_output=True, text=True)
    if ok and p.returncode != 0:
        raise RuntimeError(f"oncolm {' '.join(args)} failed ({p.returncode}): {p.stderr}")
    return p


# ---- random data ----------------------------------------------------------------------

def make_case(rng, n_q=70, crlf=False):
    """(qrels_text, run_text, qids): random judgements and one run."""
    docs = [f"d{i:03d}" for i in range(60)] + ["D7", "doc-7", "d0", "z", "A10", "a10"]
    qids = [f"q{i:03d}" for i in range(n_q)] + ["10", "2", "Q-1", "q"]
    qrel_lines, run_lines = [], []
    for qi, q in enumerate(qids):
        in_qrels = rng.random() < 0.88
        in_run = rng.random() < 0.88
        if in_qrels:
            n_j = rng.choice([0, 1, 2, 3, 5, 8, 15])
            if n_j == 0:
                n_j = 1  # a qrels query needs at least one line; make it rel 0
                judged = {rng.choice(docs): 0}
            else:
                judged = {d: rng.choice([-1, 0, 0, 1, 1, 1, 2, 3]) for d in rng.sample(docs, n_j)}
            for d, r in judged.items():
                qrel_lines.append(f"{q} 0 {d} {r}")
        if in_run:
            n_r = rng.choice([1, 2, 4, 7, 10, 12, 25, 40, 66])
            ranked = rng.sample(docs, min(n_r, len(docs)))
            mode = rng.choice(["ints", "tenths", "f32tie", "cont", "same"])
            for rank, d in enumerate(ranked, 1):
                if mode == "ints":
                    s = str(rng.randint(0, 4))
                elif mode == "tenths":
                    s = f"{rng.randint(-10, 10) / 10:.1f}"
                elif mode == "f32tie":
                    # equal after float32 rounding, distinct as double
                    s = repr(0.5 + rng.choice([0.0, 1e-9, 2e-9, 3e-9, 0.25]))
                elif mode == "same":
                    s = "1"
                else:
                    s = repr(rng.uniform(-5, 5))
                run_lines.append(f"{q}\tQ0  {d} {rank} {s} runA")
    rng.shuffle(run_lines)
    rng.shuffle(qrel_lines)
    # blank lines sprinkled in
    for lines in (run_lines, qrel_lines):
        for _ in range(3):
            lines.insert(rng.randrange(len(lines) + 1), "  ")
    nl = "\r\n" if crlf else "\n"
    return nl.join(qrel_lines) + nl, nl.join(run_lines) + nl


def beir_from_trec(qrels_text):
    out = ["query-id\tcorpus-id\tscore"]
    for line in qrels_text.splitlines():
        f = line.split()
        if f:
            out.append(f"{f[0]}\t{f[2]}\t{f[3]}")
    return "\n".join(out) + "\n"


def parse_trec_output(text):
    vals = {}
    for line in text.splitlines():
        name, qid, v = line.split("\t")
        vals[(name.strip(), qid)] = v
    return vals


def expected_names(convention, per_query_dict):
    names = set(per_query_dict)
    if convention == "trec":
        names = {n for n in names if not n.startswith("recip_rank_cut_")}
    return names


# ---- 1. per-query and overall numbers -------------------------------------------------

def check_metrics(tag, qrels_path, run_path, qrels, run_text, convention, sim_double, complete, level, cutoffs):
    run = te.parse_run(run_text, sim_double)
    per, means = te.evaluate(qrels, run, convention, cutoffs, level, complete)
    args = ["eval", "retrieval", "--qrels", qrels_path, "--run", run_path, "--convention", convention,
            "--cutoffs", ",".join(map(str, cutoffs)), "--rel-level", str(level), "--per-query"]
    if sim_double:
        args.append("--sim-double")
    if complete:
        args.append("--complete")
    # trec lines, 4 decimals
    out = parse_trec_output(oncolm(*args, "--format", "trec").stdout)
    qids_out = sorted({q for (_, q) in out if q != "all"}, key=lambda s: s.encode())
    check(qids_out == list(per), f"{tag}: evaluated queries differ: {qids_out[:5]} vs {list(per)[:5]}")
    for q, d in per.items():
        for name in expected_names(convention, d):
            v = out.get((name, q))
            if v is None:
                check(False, f"{tag}: {name} {q} missing")
                continue
            if name.startswith("num_"):
                check(int(v) == d[name], f"{tag}: {name} {q}: {v} vs {d[name]}")
            else:
                check(abs(float(v) - d[name]) <= 0.5e-4 + 1e-12, f"{tag}: {name} {q}: {v} vs {d[name]:.6f}")
    check(int(out.get(("num_q", "all"), -1)) == len(per), f"{tag}: num_q")
    for name, m in means.items():
        if convention == "trec" and name.startswith("recip_rank_cut_"):
            continue
        v = out.get((name, "all"))
        if v is None:
            check(False, f"{tag}: all {name} missing")
        elif name.startswith("num_"):
            check(int(v) == m, f"{tag}: all {name}: {v} vs {m}")
        else:
            check(abs(float(v) - m) <= 0.5e-4 + 1e-12, f"{tag}: all {name}: {v} vs {m:.6f}")
    check(out.get(("runid", "all")) == "runA", f"{tag}: runid")
    # JSON, 1e-12
    js = json.loads(oncolm(*args, "--json").stdout)
    r0 = js["runs"][0]
    check(r0["num_q"] == len(per), f"{tag}: json num_q")
    pq = {e["qid"]: e for e in r0["per_query"]}
    check(list(pq) == list(per), f"{tag}: json query order")
    for q, d in per.items():
        e = pq.get(q)
        if not e:
            continue
        check(e["in_run"] == (q in run), f"{tag}: in_run {q}")
        for name in ("num_ret", "num_rel", "num_rel_ret"):
            check(e[name] == d[name], f"{tag}: json {name} {q}")
        for name, v in d.items():
            if name.startswith("num_"):
                continue
            check(name in e["metrics"] and close(e["metrics"][name], v, 0, 1e-12),
                  f"{tag}: json {name} {q}: {e['metrics'].get(name)} vs {v}")
    allg = r0["groups"][0]
    check(allg["category"] == "all" and allg["num_q"] == len(per), f"{tag}: json all group")
    for name, m in means.items():
        if name.startswith("num_"):
            continue
        check(close(allg["metrics"].get(name), m, 0, 1e-12), f"{tag}: json all {name}: {allg['metrics'].get(name)} vs {m}")
    return per


def part1():
    rng = random.Random(20240601)
    for case in range(6):
        qrels_text, run_text = make_case(rng, n_q=50 + 10 * case, crlf=(case == 2))
        beir = case % 2 == 1
        qrels = te.parse_qrels(qrels_text)
        if beir:
            qrels_path = write(f"c{case}.tsv", beir_from_trec(qrels_text))
        else:
            qrels_path = write(f"c{case}.qrels", qrels_text)
        run_path = write(f"c{case}.run", run_text)
        for convention in ("trec", "st"):
            for sim_double in (False, True):
                for complete in (False, True):
                    level = 2 if case == 4 else 1
                    cutoffs = [1, 3, 5, 10, 20, 100] if case % 3 else [2, 10, 1000]
                    tag = f"case{case} {convention} sim_double={sim_double} complete={complete} level={level}"
                    check_metrics(tag, qrels_path, run_path, qrels, run_text, convention, sim_double, complete,
                                  level, cutoffs)
    # float32 vs double must actually change something in these cases
    qrels_text, run_text = make_case(random.Random(5))
    a = te.evaluate(te.parse_qrels(qrels_text), te.parse_run(run_text, False), "trec", [10])[1]
    b = te.evaluate(te.parse_qrels(qrels_text), te.parse_run(run_text, True), "trec", [10])[1]
    check(a != b, "the random cases should contain float32-only ties")


# ---- 2. categories ------------------------------------------------------------------------

def part2():
    rng = random.Random(77)
    qrels_text, run_text = make_case(rng, n_q=90)
    qrels = te.parse_qrels(qrels_text)
    qp = write("cat.qrels", qrels_text)
    rp = write("cat.run", run_text)
    cats = ["biomarkers", "tumor staging", "laboratory results", "medications"]
    cat_of = {}
    lines, tsv = [], ["query-id\tcategory"]
    for q in sorted(qrels):
        if rng.random() < 0.9:
            cat_of[q] = rng.choice(cats)
            lines.append(json.dumps({"_id": q, "text": "question?", "metadata": {"patient": "P1", "category": cat_of[q],
                                                                                 "topic": "x", "split": "test"}}))
            tsv.append(f"{q}\t{cat_of[q]}")
        else:
            lines.append(json.dumps({"_id": q, "text": "question?", "metadata": {}}))
    jp = write("queries.jsonl", "\n".join(lines) + "\n")
    tp = write("cats.tsv", "\n".join(tsv) + "\n")
    per, means = te.evaluate(qrels, te.parse_run(run_text), "trec", [5, 10])
    for flag, path in (("--queries", jp), ("--categories", tp)):
        js = json.loads(oncolm("eval", "retrieval", "--qrels", qp, "--run", rp, flag, path, "--cutoffs", "5,10",
                               "--json", "--per-query").stdout)
        groups = {g["category"]: g for g in js["runs"][0]["groups"]}
        names = [g["category"] for g in js["runs"][0]["groups"]]
        present = sorted({cat_of[q] for q in per if q in cat_of})
        expect_names = ["all"] + present + (["(none)"] if any(q not in cat_of for q in per) else [])
        check(names == expect_names, f"categories {flag}: groups {names} vs {expect_names}")
        for c in present + ["(none)"]:
            qs = [q for q in per if cat_of.get(q, "(none)") == c]
            if not qs:
                continue
            g = groups.get(c)
            check(g is not None and g["num_q"] == len(qs), f"categories {flag}: {c} count")
            for name in ("ndcg_cut_10", "P_10", "recall_10", "map", "recip_rank_cut_10", "recip_rank"):
                m = sum(per[q][name] for q in qs) / len(qs)
                check(g and close(g["metrics"][name], m, 1e-12, 1e-15), f"categories {flag}: {c} {name}")
        for e in js["runs"][0]["per_query"]:
            check(e["category"] == cat_of.get(e["qid"]), f"categories {flag}: category of {e['qid']}")
    # the readable table mentions every category
    table = oncolm("eval", "retrieval", "--qrels", qp, "--run", rp, "--queries", jp).stdout
    for c in cats:
        check(c in table, f"table lists category {c}")


# ---- 3. comparisons --------------------------------------------------------------------------

def part3():
    rng = random.Random(99)
    qrels_text, run_a = make_case(rng, n_q=120)
    qrels = te.parse_qrels(qrels_text)
    # runs b, c: perturb a (same queries, some reorderings) so most differences are small, with zeros
    def perturb(text, tag, p):
        out = []
        for line in text.splitlines():
            f = line.split()
            if not f:
                continue
            s = float(f[4]) + (rng.uniform(-2, 2) if rng.random() < p else 0.0)
            out.append(f"{f[0]} Q0 {f[2]} {f[3]} {s!r} {tag}")
        return "\n".join(out) + "\n"
    run_b, run_c = perturb(run_a, "runB", 0.3), perturb(run_a, "runC", 0.8)
    qp = write("cmp.qrels", qrels_text)
    paths = [write("cmp_a.run", run_a), write("cmp_b.run", run_b), write("cmp_c.run", run_c)]
    cats = {q: ("odd" if i % 2 else "even") for i, q in enumerate(sorted(qrels))}
    cp = write("cmp.tsv", "".join(f"{q}\t{c}\n" for q, c in cats.items()))
    for conv, metric, mname in (("trec", "ndcg", "ndcg_cut_10"), ("trec", "P", "P_10"),
                                ("trec", "mrr", "recip_rank_cut_10"), ("st", "ndcg", "ndcg@10"),
                                ("st", "map", "map@10")):
        for alt in ("two-sided", "greater"):
            args = ["eval", "retrieval", "--qrels", qp, "--categories", cp, "--json", "--per-query",
                    "--bootstrap", "300", "--seed", "7", "--metric", metric, "--alternative", alt,
                    "--convention", conv]
            for p in paths:
                args += ["--run", p]
            js = json.loads(oncolm(*args).stdout)
            vals = [{e["qid"]: e["metrics"][mname] for e in r["per_query"]} for r in js["runs"]]
            check(len(js["comparisons"]) == 2, "two comparisons")
            for ci, comp in enumerate(js["comparisons"]):
                check(comp["metric"] == mname, f"comparison metric {comp['metric']}")
                base, other = vals[0], vals[ci + 1]
                for g in comp["groups"]:
                    qs = [q for q in base if q in other and (g["category"] == "all" or cats.get(q) == g["category"])]
                    a = [base[q] for q in qs]
                    b = [other[q] for q in qs]
                    tag = f"compare {conv} {metric} {alt} run{ci + 2} {g['category']}"
                    check(g["n"] == len(qs), f"{tag}: n {g['n']} vs {len(qs)}")
                    if not qs:
                        continue
                    check(close(g["baseline_mean"], sum(a) / len(a)) and close(g["run_mean"], sum(b) / len(b)),
                          f"{tag}: means")
                    d = np.array(b) - np.array(a)
                    if np.all(d == 0):
                        check(g["wilcoxon"] is None, f"{tag}: all-zero differences give no test")
                    else:
                        with warnings.catch_warnings():
                            warnings.simplefilter("ignore")
                            ref = wilcoxon(np.array(b), np.array(a), alternative=alt)
                        w = g["wilcoxon"]
                        check(w is not None and close(w["pvalue"], float(ref.pvalue)) and
                              close(w["statistic"], float(ref.statistic)),
                              f"{tag}: wilcoxon {w} vs {ref}")
                    est, lo, hi = te.bootstrap_paired(a, b, 300, 0.95, 7)
                    bt = g["bootstrap"]
                    check(close(bt["estimate"], est, 1e-12, 1e-15) and close(bt["ci_low"], lo, 1e-12, 1e-15) and
                          close(bt["ci_high"], hi, 1e-12, 1e-15),
                          f"{tag}: bootstrap {bt} vs {(est, lo, hi)}")
                    sig = g["wilcoxon"] is not None and g["wilcoxon"]["pvalue"] < 0.05
                    check(g["significant"] == sig, f"{tag}: significant flag")
                    md = sum(b) / len(b) - sum(a) / len(a)
                    check(g["better"] == ("run" if md > 0 else "baseline" if md < 0 else "tie"), f"{tag}: better")


# ---- 4. eval paired vs scipy ----------------------------------------------------------------

def paired_datasets(rng):
    sets = []
    sets.append(("ints-zeros n12", [float(rng.randint(-3, 3)) for _ in range(12)], None))
    sets.append(("ints-nozero n12", [float(rng.choice([-4, -3, -2, -1, 1, 2, 3, 4])) for _ in range(12)], None))
    sets.append(("cont n1", [0.7], None))
    sets.append(("cont n2", [0.7, -0.2], None))
    sets.append(("cont n9", [rng.gauss(0.3, 1) for _ in range(9)], None))
    x = [rng.random() for _ in range(20)]
    sets.append(("xy n20", x, [v + rng.gauss(0.1, 0.2) for v in x]))
    sets.append(("cont n50", [rng.gauss(0.2, 1) for _ in range(50)], None))
    sets.append(("cont n51", [rng.gauss(0.2, 1) for _ in range(51)], None))
    sets.append(("tenths n80", [round(rng.gauss(0.1, 0.5), 1) for _ in range(80)], None))
    x = [round(rng.random(), 2) for _ in range(200)]
    sets.append(("xy-ties n200", x, [round(v + rng.gauss(0, 0.1), 2) for v in x]))
    sets.append(("ndcg-like n60", [rng.choice([0.0, 0.0, 1 / 3, 0.5, -0.5, 1.0, -1 / 3]) for _ in range(60)], None))
    sets.append(("all zero n5", [0.0] * 5, None))
    sets.append(("center n4", [1.0, -2.0, 3.0, -4.0], None))
    sets.append(("huge effect n300", [1.0 + rng.random() for _ in range(300)], None))
    return sets


def part4():
    rng = random.Random(4242)
    for name, x, y in paired_datasets(rng):
        xp = write("px.txt", "\n".join(repr(v) for v in x) + "\n")
        yp = write("py.txt", " ".join(repr(v) for v in y) + "\n") if y is not None else None
        for zm in ("wilcox", "pratt", "zsplit"):
            for alt in ("two-sided", "greater", "less"):
                for method in ("auto", "exact", "approx"):
                    if method == "exact" and len(x) > 120:
                        continue
                    for corr in (False, True):
                        tag = f"paired {name} {zm} {alt} {method} corr={corr}"
                        try:
                            with warnings.catch_warnings():
                                warnings.simplefilter("ignore")
                                ref = wilcoxon(np.array(x), None if y is None else np.array(y), zero_method=zm,
                                               correction=corr, alternative=alt, method=method)
                        except ValueError:
                            ref = None
                        args = ["eval", "paired", xp] + ([yp] if yp else []) + [
                            "--zero-method", zm, "--alternative", alt, "--method", method, "--bootstrap", "0",
                            "--json"] + (["--correction"] if corr else [])
                        p = oncolm(*args, ok=False)
                        if ref is None:
                            check(p.returncode == 1 and "zero" in p.stderr, f"{tag}: scipy raises, oncolm must fail")
                            continue
                        if p.returncode != 0:
                            check(False, f"{tag}: failed: {p.stderr}")
                            continue
                        js = json.loads(p.stdout)["wilcoxon"]
                        check(close(js["statistic"], float(ref.statistic)), f"{tag}: statistic {js['statistic']} vs {ref.statistic}")
                        check(close(js["pvalue"], float(ref.pvalue)), f"{tag}: pvalue {js['pvalue']!r} vs {ref.pvalue!r}")
                        if method == "approx":
                            check(close(js["zstatistic"], float(ref.zstatistic)), f"{tag}: z {js['zstatistic']} vs {ref.zstatistic}")
                            check(not js["exact"], f"{tag}: approx")
    # the bootstrap of eval paired: mean(A - B)
    x = [rng.random() for _ in range(30)]
    y = [rng.random() for _ in range(30)]
    js = json.loads(oncolm("eval", "paired", write("bx.txt", " ".join(map(repr, x))),
                           write("by.txt", "\n".join(map(repr, y))), "--bootstrap", "500", "--seed", "123",
                           "--level", "0.9", "--json").stdout)["bootstrap"]
    est, lo, hi = te.bootstrap_paired(y, x, 500, 0.9, 123)
    check(close(js["estimate"], est, 1e-12, 1e-15) and close(js["ci_low"], lo, 1e-12, 1e-15) and
          close(js["ci_high"], hi, 1e-12, 1e-15), f"paired bootstrap {js} vs {(est, lo, hi)}")


# ---- 5. errors and speed ---------------------------------------------------------------------

def part5():
    qp = write("e.qrels", "q1 0 d1 1\nq1 0 d2 0\n")
    rp = write("dup.run", "q1 Q0 d1 1 2.0 r\n\nq1 Q0 d2 2 1.0 r\nq1 Q0 d1 3 0.5 r\n")
    p = oncolm("eval", "retrieval", "--qrels", qp, "--run", rp, ok=False)
    check(p.returncode == 1 and "dup.run:4:" in p.stderr and "line 1" in p.stderr, f"duplicate docno: {p.stderr}")
    rp = write("short.run", "q1 Q0 d1 1 2.0 r\nq1 Q0 d2 2 1.0\n")
    p = oncolm("eval", "retrieval", "--qrels", qp, "--run", rp, ok=False)
    check(p.returncode == 1 and "short.run:2: expected 6 fields" in p.stderr, f"short line: {p.stderr}")
    bq = write("bad.qrels", "q1 0 d1 1\nq1 0 d2 x\n")
    p = oncolm("eval", "retrieval", "--qrels", bq, "--run", write("ok.run", "q1 Q0 d1 1 1 r\n"), ok=False)
    check(p.returncode == 1 and "bad.qrels:2:" in p.stderr, f"bad rel: {p.stderr}")
    p = oncolm("eval", "retrieval", "--run", rp, ok=False)
    check(p.returncode == 2, "missing --qrels is a usage error")
    for args in (["eval", "--help"], ["eval", "retrieval", "--help"], ["eval", "paired", "--help"]):
        p = oncolm(*args)
        check("usage" in p.stdout, f"{' '.join(args)} prints usage")
    h = oncolm("eval", "retrieval", "--help").stdout
    for opt in ("--qrels", "--run", "--beir", "--split", "--queries", "--categories", "--k", "--cutoffs",
                "--convention", "--complete", "--sim-double", "--per-query", "--json", "--format", "--rel-level",
                "--metric", "--bootstrap", "--seed", "--alternative", "--zero-method", "--wilcoxon-method"):
        check(opt in h, f"help documents {opt}")
    # speed: 10,000 queries x 100 documents = 1,000,000 lines
    rng = random.Random(1)
    lines = []
    qlines = []
    for q in range(10000):
        for r in range(100):
            lines.append(f"Q{q} Q0 D{(q * 7919 + r * 104729) % 5000000} {r + 1} {rng.random():.6f} big")
        for r in range(5):
            qlines.append(f"Q{q} 0 D{(q * 7919 + r * 3 * 104729) % 5000000} {r % 3}")
    big = write("big.run", "\n".join(lines) + "\n")
    bq = write("big.qrels", "\n".join(qlines) + "\n")
    t0 = time.time()
    p = oncolm("eval", "retrieval", "--qrels", bq, "--run", big, "--format", "trec")
    dt = time.time() - t0
    print(f"1,000,000-line run evaluated in {dt:.2f} s (this build)")
    check(dt < 30, f"1M-line run took {dt:.1f} s")
    out = parse_trec_output(p.stdout)
    check(out[("num_q", "all")] == "10000" and out[("num_ret", "all")] == "1000000", "big run counts")


def main():
    print(f"scipy {scipy.__version__}, numpy {np.__version__}")
    part1()
    part2()
    part3()
    part4()
    part5()
    print(U.summary())
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
