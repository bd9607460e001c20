"""End-to-end oracle for `oncolm eval FILE.jsonl` and `oncolm eval compare A B`:
every number of the JSON output against the reference libraries Debian 12
ships, on random prediction files written here.

1. classify (the pancreatic CT classes, no-answer items, groups, time and
   tokens): accuracy, balanced accuracy, per-class precision/recall/F1,
   specificity/NPV from the confusion matrix, micro/macro/weighted,
   Cohen's kappa (none/linear/quadratic) = scikit-learn 1.2.1; Wilson
   intervals = statsmodels 0.13.5; per-group accuracy; time quantiles =
   numpy; cost = the price-table arithmetic.
2. multilabel (12 toxicity symptoms) = sklearn on MultiLabelBinarizer.
3. fields (symptom -> grade) = sklearn accuracy_score / f1_score(macro) per field.
4. codes (ICD-10, spelled with dots, lower case, spaces) = sklearn on the
   normalised sets and on the 3-character categories.
5. text: mean ROUGE-1/2/L/Lsum P/R/F with and without the stemmer =
   rouge_score_py (the independent rouge-score re-implementation of the
   ROUGE oracle); length statistics = numpy.
6. compare: classify -> McNemar exact (statsmodels), bootstrap CI of the
   accuracy difference (the oncolm bootstrap re-implemented in
   trec_eval_py); text -> Wilcoxon (scipy, two-sided and greater) on the
   per-item ROUGE-L F, bootstrap CI of the mean difference; the verdict.
7. Errors name the file and line; reports are written.
Exit 77 when ONCOLM_BIN or a reference library is missing.
"""
import json
import math
import os
import random
import subprocess
import sys
import warnings

try:
    import numpy as np
    from scipy.stats import wilcoxon, binom
    from sklearn.metrics import (accuracy_score, balanced_accuracy_score, cohen_kappa_score, confusion_matrix,
                                 f1_score, hamming_loss, precision_recall_fscore_support)
    from sklearn.preprocessing import MultiLabelBinarizer
    from statsmodels.stats.contingency_tables import mcnemar
    from statsmodels.stats.proportion import proportion_confint
except ImportError as e:
    print("reference library missing (%s): skipped" % e)
    sys.exit(77)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import oracle_util as U  # noqa: E402
import rouge_score_py as rs  # noqa: E402
import trec_eval_py as te  # noqa: E402

BIN = U.need_bin()
TMP = os.path.join(os.environ.get("ONCOLM_TMP", "/tmp"), "eval-pred-oracle")
os.makedirs(TMP, exist_ok=True)
warnings.simplefilter("ignore")

failures = U.failures
U.configure_checks(print_limit=0)  # silent: finish() lists the first failures
check = U.check


def close(a, b, tol=1e-12):
    if a is None or b is None or (isinstance(b, float) and math.isnan(b)):
        return (a is None or (isinstance(a, float) and math.isnan(a))) and (
            b is None or (isinstance(b, float) and math.isnan(b)))
    return abs(a - b) <= tol * max(1.0, abs(b))


def eq(name, got, want, tol=1e-12):
    check(close(got, want, tol), "%s: got %r want %r" % (name, got, want))


def write_jsonl(name, items):
    path = os.path.join(TMP, name)
    with open(path, "w") as f:
        for it in items:
            f.write(json.dumps(it) + "\n")
    return path


def oncolm(*args, ok=True):
    r = subprocess.run([BIN, *args], capture_output=True, text=True)
    if ok and r.returncode != 0:
        failures.append("oncolm %s failed (%d): %s" % (" ".join(args), r.returncode, r.stderr.strip()))
    return r


def eval_json(path, *extra):
    out = os.path.join(TMP, "out.json")
    r = oncolm("eval", "--quiet", "--json", out, *extra, path)
    if r.returncode != 0:
        return None
    with open(out) as f:
        return json.load(f)


def wilson(k, n):
    lo, hi = proportion_confint(k, n, alpha=0.05, method="wilson")
    return [float(lo), float(hi)]


MISSING = "(missing)"
CLASSES = ["no cancer", "post-treatment", "pre-treatment"]


# ---- 1. classification -------------------------------------------------------------
def part_classify(rng):
    items = []
    for i in range(400):
        gold = rng.choices(CLASSES, weights=[6, 2, 1])[0]
        r = rng.random()
        pred = gold if r < 0.7 else (None if r < 0.74 else rng.choice(CLASSES))
        it = {"id": "ct%d" % i, "gold": gold, "prediction": pred, "group": rng.choice(["site A", "site B", "site C"])}
        if rng.random() < 0.9:
            it["time_s"] = round(rng.uniform(0.05, 3.0), 3)
            it["tokens_in"] = rng.randint(100, 900)
            it["tokens_out"] = rng.randint(1, 20)
        items.append(it)
    path = write_jsonl("classify.jsonl", items)
    prices = os.path.join(TMP, "prices.json")
    with open(prices, "w") as f:
        json.dump({"currency": "USD", "models": {"teacher": {"input_per_million": 2.5, "output_per_million": 10},
                                                  "local": {"per_hour": 1.2}}}, f)
    j = eval_json(path, "--prices", prices, "--price", "teacher")
    if j is None:
        return
    y = [it["gold"] for it in items]
    p = [it["prediction"] if it["prediction"] is not None else MISSING for it in items]
    eq("classify task", j["task"] == "classify", True)
    eq("accuracy", j["accuracy"], accuracy_score(y, p))
    k = sum(a == b for a, b in zip(y, p))
    for got, want in zip(j["accuracy_ci"], wilson(k, len(y))):
        eq("accuracy Wilson CI", got, want)
    eq("balanced accuracy", j["balanced_accuracy"], balanced_accuracy_score(y, p))
    # "(missing)" is not a class: per-class numbers and averages are sklearn's
    # with labels = the real classes; the confusion matrix keeps the column.
    labels = sorted(set(y) | set(p) - {MISSING})
    check(j["labels"] == labels, "labels %r != %r" % (j["labels"], labels))
    P, R, F, S = precision_recall_fscore_support(y, p, labels=labels, zero_division=0)
    mlabels = sorted(set(y) | set(p))
    cm_full = confusion_matrix(y, p, labels=mlabels)
    check(j["confusion"]["matrix"] == cm_full.tolist(), "confusion matrix differs")
    check(j["no_answer"] == p.count(MISSING), "no_answer count")
    cm = confusion_matrix(y, p, labels=mlabels)[[mlabels.index(l) for l in labels]][:, [mlabels.index(l) for l in labels]]
    n = len(y)
    for i, c in enumerate(j["classes"]):
        tp = cm[i, i]
        fp = cm[:, i].sum() - tp
        fn = S[i] - tp
        tn = n - tp - fp - fn
        eq("precision " + c["label"], c["ppv"], P[i])
        eq("recall " + c["label"], c["sensitivity"], R[i])
        eq("f1 " + c["label"], c["f1"], F[i])
        check(("sensitivity" in c.get("undefined", [])) == (S[i] == 0), "undefined flag of " + c["label"])
        eq("support " + c["label"], c["support"], S[i])
        eq("specificity " + c["label"], c["specificity"], tn / (tn + fp))
        if tn + fn:
            eq("npv " + c["label"], c["npv"], tn / (tn + fn))
        if S[i]:
            for got, want in zip(c["sensitivity_ci"], wilson(tp, S[i])):
                eq("sensitivity CI " + c["label"], got, want)
    for avg in ("micro", "macro", "weighted"):
        pr, rc, f1, _ = precision_recall_fscore_support(y, p, labels=labels, average=avg, zero_division=0)
        a = j["averages"][avg]
        eq(avg + " precision", a["precision"], pr)
        eq(avg + " recall", a["recall"], rc)
        eq(avg + " f1", a["f1"], f1)
    # binary: pre-treatment vs the rest, with a positive class
    yb = ["pre" if v == "pre-treatment" else "other" for v in y]
    pb = ["pre" if v == "pre-treatment" else "other" for v in p]
    bpath = write_jsonl("binary.jsonl", [{"id": i, "gold": a, "prediction": b} for i, (a, b) in enumerate(zip(yb, pb))])
    jb = eval_json(bpath, "--positive", "pre")
    if jb:
        pr, rc, f1, _ = precision_recall_fscore_support(yb, pb, average="binary", pos_label="pre", zero_division=0)
        eq("binary precision", jb["binary"]["precision"], pr)
        eq("binary recall", jb["binary"]["recall"], rc)
        eq("binary f1", jb["binary"]["f1"], f1)
    for w, key in ((None, "none"), ("linear", "linear"), ("quadratic", "quadratic")):
        eq("kappa " + key, j["kappa"][key], cohen_kappa_score(y, p, labels=labels, weights=w))
    # groups
    for g in j["groups"]:
        sel = [i for i, it in enumerate(items) if it["group"] == g["group"]]
        eq("group %s accuracy" % g["group"], g["accuracy"], accuracy_score([y[i] for i in sel], [p[i] for i in sel]))
        eq("group %s n" % g["group"], g["n"], len(sel))
    # time and cost
    t = j["time"]
    times = np.array([it["time_s"] for it in items if "time_s" in it])
    eq("time total", t["total_s"], float(times.sum()), 1e-9)
    eq("time median", t["median_s"], float(np.quantile(times, 0.5)))
    eq("time p95", t["p95_s"], float(np.quantile(times, 0.95)))
    tin = sum(it.get("tokens_in", 0) for it in items)
    tout = sum(it.get("tokens_out", 0) for it in items)
    eq("tokens in", t["tokens_in"], tin)
    eq("cost", t["cost"], tin * 2.5 / 1e6 + tout * 10 / 1e6)
    eq("tokens/s", t["tokens_out_per_s"], tout / float(times.sum()), 1e-9)
    # Markdown and HTML reports
    md, html = os.path.join(TMP, "c.md"), os.path.join(TMP, "c.html")
    oncolm("eval", "--quiet", "--md", md, "--html", html, path)
    if os.path.exists(md) and os.path.exists(html):
        text = open(md).read()
        check("Confusion matrix" in text and "post-treatment" in text and "kappa" in text.lower(),
              "Markdown report lacks the confusion matrix / classes / kappa")
        h = open(html).read()
        check(h.startswith("<!DOCTYPE html>") and h.count("<svg") >= 3, "HTML report lacks its charts")
    else:
        failures.append("reports not written")
    print("classify: checked %d items" % n)
    return items


# ---- 2./3./4. sets, fields, codes -----------------------------------------------------------
SYMPTOMS = ["fatigue", "nausea", "diarrhea", "dermatitis", "mucositis", "dysphagia", "xerostomia", "cough",
            "dyspnea", "pain", "cystitis", "proctitis"]


def part_multilabel(rng):
    items = []
    for i in range(300):
        gold = sorted(s for s in SYMPTOMS if rng.random() < 0.25)
        pred = sorted({s for s in gold if rng.random() < 0.8} | {s for s in SYMPTOMS if rng.random() < 0.05})
        items.append({"id": i, "gold": gold, "prediction": pred if rng.random() > 0.03 else None})
    path = write_jsonl("multilabel.jsonl", items)
    j = eval_json(path, "--task", "multilabel")
    if j is None:
        return
    mlb = MultiLabelBinarizer()
    mlb.fit([it["gold"] for it in items] + [it["prediction"] or [] for it in items])
    Y = mlb.transform([it["gold"] for it in items])
    Yp = mlb.transform([it["prediction"] or [] for it in items])
    for avg in ("micro", "macro", "weighted", "samples"):
        pr, rc, f1, _ = precision_recall_fscore_support(Y, Yp, average=avg, zero_division=0)
        eq("multilabel %s f1" % avg, j["averages"][avg]["f1"], f1)
        eq("multilabel %s precision" % avg, j["averages"][avg]["precision"], pr)
    eq("subset accuracy", j["exact_match"], accuracy_score(Y, Yp))
    eq("hamming", j["hamming_loss"], hamming_loss(Y, Yp))
    F = f1_score(Y, Yp, average=None, zero_division=0)
    for i, lab in enumerate(j["labels"]):
        check(lab["label"] == mlb.classes_[i], "label order")
        eq("per-label f1 " + lab["label"], lab["f1"], F[i])
        eq("per-label accuracy " + lab["label"], lab["accuracy"], accuracy_score(Y[:, i], Yp[:, i]))
    print("multilabel: checked %d items x %d labels" % (len(items), len(mlb.classes_)))


def part_fields(rng):
    items = []
    for i in range(250):
        gold = {s: str(rng.choice([0, 0, 0, 1, 1, 2, 3])) for s in SYMPTOMS}
        pred = {}
        for s, g in gold.items():
            r = rng.random()
            if r < 0.75:
                pred[s] = g
            elif r < 0.95:
                pred[s] = str(rng.randint(0, 3))
        items.append({"id": "n%d" % i, "gold": gold, "prediction": pred})
    path = write_jsonl("fields.jsonl", items)
    j = eval_json(path)
    if j is None:
        return
    check(j["task"] == "fields", "fields task not guessed: %s" % j["task"])
    accs = []
    for f in j["fields"]:
        s = f["field"]
        y = [it["gold"][s] for it in items]
        p = [it["prediction"].get(s, MISSING) for it in items]
        eq("field %s accuracy" % s, f["accuracy"], accuracy_score(y, p))
        real = sorted(set(y) | (set(p) - {MISSING}))  # "(missing)" is not a class
        eq("field %s macro f1" % s, f["macro_f1"], f1_score(y, p, labels=real, average="macro", zero_division=0))
        eq("field %s missing" % s, f["missing"], sum(1 for x in p if x == MISSING))
        accs.append(accuracy_score(y, p))
    eq("mean field accuracy", j["mean_accuracy"], float(np.mean(accs)))
    print("fields: checked %d fields" % len(j["fields"]))


def norm_code(c):
    c = c.strip().upper().replace(".", "")
    return c[:3] + "." + c[3:] if len(c) > 3 else c


def part_codes(rng):
    pool = ["C25.0", "C25.1", "C25.9", "C34.1", "C34.90", "C50.911", "C61", "C18.7", "C79.51", "Z51.0", "K86.1"]
    items = []
    for i in range(300):
        gold = rng.sample(pool, rng.randint(1, 3))
        pred = [g for g in gold if rng.random() < 0.7] + [rng.choice(pool) for _ in range(rng.randint(0, 2))]
        spelled = [rng.choice([c, c.lower(), c.replace(".", ""), " %s " % c]) for c in pred]
        items.append({"id": i, "gold": gold, "prediction": spelled})
    path = write_jsonl("codes.jsonl", items)
    j = eval_json(path)
    if j is None:
        return
    check(j["task"] == "codes", "codes task not guessed: %s" % j["task"])
    for level, fn in (("code", norm_code), ("category", lambda c: norm_code(c)[:3])):
        G = [sorted({fn(c) for c in it["gold"]}) for it in items]
        P = [sorted({fn(c) for c in it["prediction"]}) for it in items]
        mlb = MultiLabelBinarizer().fit(G + P)
        Y, Yp = mlb.transform(G), mlb.transform(P)
        for avg in ("micro", "samples"):
            pr, rc, f1, _ = precision_recall_fscore_support(Y, Yp, average=avg, zero_division=0)
            a = j[level]["averages"][avg]
            eq("codes %s %s precision" % (level, avg), a["precision"], pr)
            eq("codes %s %s recall" % (level, avg), a["recall"], rc)
            eq("codes %s %s f1" % (level, avg), a["f1"], f1)
        eq("codes %s exact match" % level, j[level]["exact_match"], accuracy_score(Y, Yp))
    print("codes: checked %d items" % len(items))


# ---- 5. text ------------------------------------------------------------------------------------
WORDS = ("patient received radiotherapy to the left breast with concurrent chemotherapy tolerated well "
         "grade 2 dermatitis resolved follow up in three months planned dose 50 Gy in 25 fractions "
         "treatments treated treating nodes node positive negative margins clear").split()


def sentence(rng, k):
    return " ".join(rng.choice(WORDS) for _ in range(k)).capitalize() + rng.choice([".", "!", ",", ""])


def part_text(rng):
    items = []
    for i in range(150):
        ref = "\n".join(sentence(rng, rng.randint(3, 12)) for _ in range(rng.randint(1, 4)))
        pred = "\n".join(sentence(rng, rng.randint(2, 12)) for _ in range(rng.randint(1, 4)))
        if rng.random() < 0.2:
            pred = ref.replace("treated", "treatments")
        items.append({"id": i, "gold": ref, "prediction": pred if rng.random() > 0.03 else None})
    path = write_jsonl("text.jsonl", items)
    j = eval_json(path, "--task", "text")
    if j is None:
        return None
    for stem, key in ((True, "stemmed"), (False, "unstemmed")):
        per = [rs.score(it["gold"], it["prediction"] or "", stem) for it in items]
        for v in ("rouge1", "rouge2", "rougeL", "rougeLsum"):
            for k, name in enumerate(("precision", "recall", "f")):
                want = float(np.mean([s[v][k] for s in per]))
                eq("text %s %s %s" % (key, v, name), j["rouge"][key][v][name], want)
    lens = [rs.score(it["gold"], it["prediction"] or "", False) for it in items]
    eq("prediction length mean", j["lengths"]["prediction"]["mean"], float(np.mean([s["prediction_tokens"] for s in lens])))
    eq("reference length median", j["lengths"]["reference"]["median"], float(np.median([s["target_tokens"] for s in lens])))
    print("text: checked %d items" % len(items))
    return items


# ---- 6. compare ---------------------------------------------------------------------------------------
def part_compare(rng, cls_items, text_items):
    # classification: B right more often
    b_items = []
    for it in cls_items:
        pred = it["gold"] if rng.random() < 0.8 else rng.choice(CLASSES)
        b_items.append({"id": it["id"], "gold": it["gold"], "prediction": pred})
    a_path = os.path.join(TMP, "classify.jsonl")
    b_path = write_jsonl("classify_b.jsonl", b_items)
    out = os.path.join(TMP, "cmp.json")
    r = oncolm("eval", "compare", "--quiet", "--json", out, "--bootstrap", "500", "--seed", "7", a_path, b_path)
    if r.returncode == 0:
        j = json.load(open(out))
        ra = [1.0 if it["prediction"] == it["gold"] else 0.0 for it in cls_items]
        rb = [1.0 if it["prediction"] == it["gold"] else 0.0 for it in b_items]
        b = sum(1 for x, y in zip(ra, rb) if x and not y)
        c = sum(1 for x, y in zip(ra, rb) if y and not x)
        ref = mcnemar([[0, b], [c, 0]], exact=True)
        eq("compare McNemar p", j["test"]["pvalue"], float(ref.pvalue))
        eq("compare McNemar b", j["test"]["a_right_b_wrong"], b)
        est, lo, hi = te.bootstrap_paired(ra, rb, 500, 0.95, 7)
        row = j["bootstrap"][0]
        eq("compare accuracy diff", row["difference"], est)
        eq("compare bootstrap lo", row["ci"][0], lo)
        eq("compare bootstrap hi", row["ci"][1], hi)
        row = j["bootstrap"][1]
        check(row["metric"] == "macro F1", "second bootstrap row is macro F1")
        eq("compare macro F1 difference = difference of the headlines", row["difference"], row["b"] - row["a"], 1e-12)
        labels = sorted(set(it["gold"] for it in cls_items) | {it["prediction"] for it in cls_items if it["prediction"]})
        fa = f1_score([it["gold"] for it in cls_items], [it["prediction"] or MISSING for it in cls_items],
                      labels=labels, average="macro", zero_division=0)
        eq("compare macro F1 of A", row["a"], fa)
        want_better = "B" if ref.pvalue < 0.05 and est > 0 else ("A" if ref.pvalue < 0.05 else None)
        check(j["verdict"]["better"] == want_better, "verdict %r want %r" % (j["verdict"]["better"], want_better))
        # chi-square with continuity correction (two-sided), and one-sided: binomial tail
        r = oncolm("eval", "compare", "--quiet", "--json", out, "--mcnemar", "chi2", a_path, b_path)
        check(r.returncode == 0, "compare --mcnemar chi2: " + r.stderr)
        if r.returncode == 0:
            ref = mcnemar([[0, b], [c, 0]], exact=False, correction=True)
            eq("compare McNemar chi2 p", json.load(open(out))["test"]["pvalue"], float(ref.pvalue))
        for alt, k in (("greater", b), ("less", c)):
            r = oncolm("eval", "compare", "--quiet", "--json", out, "--alternative", alt, a_path, b_path)
            check(r.returncode == 0, "compare --alternative: " + r.stderr)
            if r.returncode == 0:
                eq("compare McNemar one-sided " + alt, json.load(open(out))["test"]["pvalue"],
                   float(binom.cdf(k, b + c, 0.5)))
        # no discordant pair: nothing to test, p = 1 (chi-square too), no verdict
        r = oncolm("eval", "compare", "--quiet", "--json", out, "--mcnemar", "chi2", a_path, a_path)
        check(r.returncode == 0, "compare A with A: " + r.stderr)
        if r.returncode == 0:
            j = json.load(open(out))
            check(j["test"]["pvalue"] == 1.0 and j["verdict"]["better"] is None, "A vs A: %r" % j["test"])
    # text: one-sided Wilcoxon on ROUGE-L F
    if text_items:
        b_items = [{"id": it["id"], "gold": it["gold"],
                    "prediction": it["gold"] if rng.random() < 0.3 else (it["prediction"] or "")} for it in text_items]
        a_path = os.path.join(TMP, "text.jsonl")
        b_path = write_jsonl("text_b.jsonl", b_items)
        for alt in ("two-sided", "greater"):
            r = oncolm("eval", "compare", "--quiet", "--task", "text", "--json", out, "--alternative", alt,
                       "--bootstrap", "300", a_path, b_path)
            if r.returncode != 0:
                continue
            j = json.load(open(out))
            fa = [rs.score(it["gold"], it["prediction"] or "", True)["rougeL"][2] for it in text_items]
            fb = [rs.score(it["gold"], it["prediction"] or "", True)["rougeL"][2] for it in b_items]
            ref = wilcoxon(fb, fa, alternative=alt)
            eq("compare Wilcoxon p (%s)" % alt, j["test"]["pvalue"], float(ref.pvalue))
            est, lo, hi = te.bootstrap_paired(fa, fb, 300, 0.95, 42)
            eq("compare ROUGE diff", j["bootstrap"][0]["difference"], est)
            eq("compare ROUGE lo", j["bootstrap"][0]["ci"][0], lo)
    print("compare: checked")


# ---- 7. errors ------------------------------------------------------------------------------------------
def part_errors():
    bad = os.path.join(TMP, "bad.jsonl")
    with open(bad, "w") as f:
        f.write('{"id": 1, "gold": "a", "prediction": "a"}\n{"id": 2, "gold": "a"\n')
    r = oncolm("eval", bad, ok=False)
    check(r.returncode == 1 and "bad.jsonl:2" in r.stderr, "malformed line: %d %s" % (r.returncode, r.stderr))
    with open(bad, "w") as f:
        f.write('{"id": 1, "gold": "a", "prediction": "a"}\n\n{"id": 1, "gold": "b", "prediction": "a"}\n')
    r = oncolm("eval", bad, ok=False)
    check(r.returncode == 1 and "bad.jsonl:3" in r.stderr and "duplicate" in r.stderr, "duplicate id: " + r.stderr)
    with open(bad, "w") as f:
        f.write('{"id": 1, "gold": "a", "prediction": ["a"]}\n')
    r = oncolm("eval", "--task", "classify", bad, ok=False)
    check(r.returncode == 1 and "bad.jsonl:1" in r.stderr, "wrong shape: " + r.stderr)
    other = write_jsonl("other.jsonl", [{"id": 1, "gold": "b", "prediction": "b"}])
    ok_file = write_jsonl("okf.jsonl", [{"id": 1, "gold": "a", "prediction": "a"}])
    r = oncolm("eval", "compare", ok_file, other, ok=False)
    check(r.returncode == 1 and "gold values differ" in r.stderr, "gold mismatch: " + r.stderr)
    r = oncolm("eval", "--prices", os.path.join(TMP, "prices.json"), "--price", "nope", ok_file, ok=False)
    check(r.returncode == 1 and "nope" in r.stderr, "unknown price: " + r.stderr)
    r = oncolm("eval", os.path.join(TMP, "does-not-exist.jsonl"), ok=False)
    check(r.returncode == 1 and "does-not-exist.jsonl" in r.stderr, "missing file: " + r.stderr)
    print("errors: checked")


def main():
    rng = random.Random(2026)
    cls_items = part_classify(rng)
    part_multilabel(rng)
    part_fields(rng)
    part_codes(rng)
    text_items = part_text(rng)
    if cls_items:
        part_compare(rng, cls_items, text_items)
    part_errors()
    U.finish("eval predictions oracle: all checks passed", show=60)


main()
