"""Oracle for oncolm/eval_classify.h against scikit-learn 1.2.1 (Debian 12's
python3-sklearn), through tests/helpers/classify_run.

Thousands of random cases, every number compared (max |difference| must be
<= 1e-12; the summary prints the largest one seen and how many values were
not bit-identical — expected 0):

1. One label per item (onc_cls_evaluate, onc_cls_kappa): binary (strings,
   0/1 integers, booleans; with pos_label), the 3 pancreatic CT classes, 4
   ordinal classes (grades, imaging modality) for weighted kappa, numeric
   labels whose text order differs from their numeric order ("9" < "10"),
   many classes (> 128, numpy's pairwise-sum recursion), classes missing
   from the gold or from the predictions (zero division, both 0 and 1),
   missing predictions (null -> "(missing)"), explicit label lists
   (permuted, subsets dropping items from the matrix, supersets with unseen
   labels). Reference: accuracy_score, balanced_accuracy_score (plain and
   adjusted), confusion_matrix, multilabel_confusion_matrix,
   precision_recall_fscore_support (None, micro, macro, weighted, binary),
   cohen_kappa_score (None, linear, quadratic); specificity and NPV from
   sklearn's one-vs-rest counts with Python division. sklearn's ValueErrors
   (no listed label in y_true, pos_label with >2 labels or not a label) must
   be errors here too.
2. Sets of labels (onc_ml_evaluate): universes of 1-300 labels (12
   toxicity symptoms among them), empty sets on either side or both,
   repeated labels in a set, explicit universes (unknown labels ignored as
   MultiLabelBinarizer(classes=...) does), 20,000 items (numpy's
   8192-element blocks in the samples average). Reference: MultiLabelBinarizer
   + precision_recall_fscore_support (None/micro/macro/weighted/samples),
   multilabel_confusion_matrix, accuracy_score, hamming_loss.
3. ICD-10 code sets (onc_icd10_evaluate, onc_icd10_normalize): case, dot,
   space variants and invalid codes; an independent Python normaliser
   (regular expressions) then MultiLabelBinarizer + sklearn at the code and
   the category level; random strings through the normaliser.
4. Field extraction (onc_extract_evaluate): 12 toxicity symptoms graded 0-3
   or present/absent, fields missing from predictions ("(missing)") and
   from gold (item skipped): accuracy_score and f1_score(average='macro')
   per field and their means.
Exit 77 (skip) when the helper folder is unset or sklearn is missing.
"""
import json
import os
import random
import re
import subprocess
import sys
import warnings

try:
    import numpy as np
    import sklearn
    from sklearn.metrics import (accuracy_score, balanced_accuracy_score, cohen_kappa_score, confusion_matrix,
                                 f1_score, hamming_loss, multilabel_confusion_matrix,
                                 precision_recall_fscore_support)
    from sklearn.preprocessing import MultiLabelBinarizer
except ImportError:
    print("numpy/sklearn missing: skipped")
    sys.exit(77)

warnings.simplefilter("ignore")  # UndefinedMetricWarning and friends: the values are what we compare

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import oracle_util as U  # noqa: E402

RUN = U.need_helper("classify_run")
TMP = os.path.join(os.environ.get("ONCOLM_TMP", "/tmp"), "eval-classify-oracle")
os.makedirs(TMP, exist_ok=True)
if not sklearn.__version__.startswith("1.2."):
    print("note: the reference is scikit-learn 1.2.1; found", sklearn.__version__)

failures = U.failures
stats = {"values": 0, "not_identical": 0, "max_diff": 0.0, "cases": 0}


U.configure_checks(print_limit=30)


def fail(msg):
    U.check(False, msg)


def same(ours, ref, what):
    """Numbers (or nested lists of them) equal to 1e-12, NaN equal to NaN;
    texts and booleans exactly. Counts the compared numbers and tracks the
    largest difference."""
    if isinstance(ref, (list, tuple, np.ndarray)):
        r = np.asarray(ref)
        if r.dtype.kind not in "iuf" or (r.size and not isinstance(ours, list)):
            if [x if isinstance(x, str) else bool(x) if isinstance(x, (bool, np.bool_)) else x for x in ours] != \
                    [x if isinstance(x, str) else bool(x) if isinstance(x, (bool, np.bool_)) else x
                     for x in r.tolist()]:
                fail(f"{what}: {ours!r} != {r.tolist()!r}")
            return
        try:
            a = np.asarray(ours, dtype=float)
        except (TypeError, ValueError):
            fail(f"{what}: {ours!r} is not numeric")
            return
        if a.shape != r.shape:
            fail(f"{what}: shape {a.shape} != {r.shape}")
            return
        _numbers(a.ravel(), r.astype(float).ravel(), what)
        return
    if isinstance(ref, (str, bool, np.bool_)) or ref is None:
        if ours != ref:
            fail(f"{what}: {ours!r} != {ref!r}")
        return
    _numbers(np.array([float(ours)]), np.array([float(ref)]), what)


def _numbers(a, b, what):
    stats["values"] += a.size
    both_nan = np.isnan(a) & np.isnan(b)
    differ = ~((a == b) | both_nan)
    if not differ.any():
        return
    stats["not_identical"] += int(differ.sum())
    with np.errstate(invalid="ignore"):
        d = np.where(np.isfinite(a) & np.isfinite(b), np.abs(a - b), np.inf)[differ]
    stats["max_diff"] = max(stats["max_diff"], float(d.max()))
    if d.max() > 1e-12:
        i = int(np.flatnonzero(differ)[int(np.argmax(d))])
        fail(f"{what}[{i}]: {a[i]!r} != {b[i]!r}")


def text(v):
    """The label text oncolm sees for a Python label (what the helper writes)."""
    if isinstance(v, (bool, np.bool_)):
        return "true" if v else "false"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    return v


def jsonable(v):
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.bool_):
        return bool(v)
    return v


def run(mode, gold, pred, *args):
    """Run the helper on one case; (result, None) or (None, stderr) on exit 1."""
    path = os.path.join(TMP, f"{mode}.jsonl")
    with open(path, "w", encoding="utf-8") as f:
        for g, p in zip(gold, pred):
            f.write(json.dumps({"gold": g, "prediction": p}, default=jsonable) + "\n")
    proc = subprocess.run([RUN, mode, path, *args], capture_output=True, text=True)
    if proc.returncode == 1:
        return None, proc.stderr
    if proc.returncode != 0:
        fail(f"{mode}: helper exit {proc.returncode}: {proc.stderr.strip()}")
        return None, proc.stderr
    return json.loads(proc.stdout), None


def labels_arg(labels):
    return ["--labels", json.dumps([jsonable(x) for x in labels])]


# Cases are checked in batches: the helper's `batch` mode runs hundreds of
# cases per process (a process per case is slow under the sanitizers). Each
# check is a generator that yields its request and receives (result, error).
pending = []


def request(mode, gold, pred, labels=None, pos_label=None, zd=0):
    q = {"mode": mode, "zero_division": zd,
         "items": [{"gold": g, "prediction": p} for g, p in zip(gold, pred)]}
    if labels is not None:
        q["labels"] = list(labels)
    if pos_label is not None:
        q["pos_label"] = pos_label
    return q


def submit(check):
    q = next(check)
    pending.append((q, check))
    if len(pending) >= 300:
        flush()


def flush():
    if not pending:
        return
    path = os.path.join(TMP, "batch.jsonl")
    with open(path, "w", encoding="utf-8") as f:
        for q, _ in pending:
            f.write(json.dumps(q, default=jsonable) + "\n")
    proc = subprocess.run([RUN, "batch", path], capture_output=True)
    lines = proc.stdout.decode("utf-8").splitlines() if proc.returncode == 0 else []
    if proc.returncode != 0 or len(lines) != len(pending):
        fail(f"batch: exit {proc.returncode}, {len(lines)} results for {len(pending)} cases: "
             f"{proc.stderr.decode('utf-8', 'replace')[-2000:]}")
        lines = [None] * len(pending)
    batch = pending[:]
    pending.clear()
    for (q, check), line in zip(batch, lines):
        if line is None:
            continue
        res = json.loads(line)
        try:
            if "error" in res and len(res) == 1:
                check.send((None, res["error"]))
            else:
                check.send((res, None))
        except StopIteration:
            pass


def deferred(gen_fn):
    """check_x(...) queues the generator gen_fn(...) (see submit)."""
    def check(*a, **kw):
        submit(gen_fn(*a, **kw))
    return check


# ---- 1. one label per item -----------------------------------------------------------


def sk_or_error(fn, *a, **kw):
    try:
        return fn(*a, **kw), None
    except ValueError as e:
        return None, str(e)


@deferred
def check_classify(gold, pred, labels=None, pos_label=None, zd=0, tag=""):
    """gold/pred: Python labels (pred may hold None = missing prediction)."""
    stats["cases"] += 1
    ref_pred = ["(missing)" if p is None else p for p in pred]
    ref_gold = list(gold)
    ref_labels = None if labels is None else list(labels)
    if any(p is None for p in pred) and not all(isinstance(x, str) for x in gold):
        # mixed types: sklearn sees the texts (so does oncolm: then byte order)
        ref_gold = [text(x) for x in ref_gold]
        ref_pred = [text(x) for x in ref_pred]
        if ref_labels is not None:
            ref_labels = [text(x) for x in ref_labels]
    ours, err = yield request("classify", gold, pred, labels, pos_label, zd)

    # sklearn's errors must be ours
    cm, cm_err = sk_or_error(confusion_matrix, ref_gold, ref_pred, labels=ref_labels)
    binary = None
    if pos_label is not None:
        binary, b_err = sk_or_error(precision_recall_fscore_support, ref_gold, ref_pred, average="binary",
                                    pos_label=pos_label, zero_division=zd)
        if b_err:
            cm_err = cm_err or b_err
    if cm_err:
        if ours is not None:
            fail(f"{tag}: sklearn raised ({cm_err}) but oncolm did not")
        return
    if ours is None:
        fail(f"{tag}: oncolm failed ({err.strip()}) where sklearn did not")
        return

    order = ref_labels if ref_labels is not None else sorted(set(ref_gold + ref_pred))  # np.unique
    same([c["label"] for c in ours["classes"]], [text(x) for x in order], f"{tag} label order")
    same(ours["confusion"], cm.tolist(), f"{tag} confusion")
    same(ours["n_in_matrix"], int(cm.sum()), f"{tag} n_in_matrix")
    same(ours["accuracy"], accuracy_score(ref_gold, ref_pred), f"{tag} accuracy")
    same(ours["balanced_accuracy"], balanced_accuracy_score(ref_gold, ref_pred), f"{tag} balanced_accuracy")
    same(ours["balanced_accuracy_adjusted"], balanced_accuracy_score(ref_gold, ref_pred, adjusted=True),
         f"{tag} balanced_accuracy_adjusted")
    p, r, f, s = precision_recall_fscore_support(ref_gold, ref_pred, labels=order, average=None, zero_division=zd)
    mcm = multilabel_confusion_matrix(ref_gold, ref_pred, labels=order)
    n = len(gold)
    spec, npv = [], []
    for j, c in enumerate(ours["classes"]):
        tn, fp, fn, tp = (int(x) for x in mcm[j].ravel())
        w = f"{tag} class {c['label']!r}"
        same([c["tp"], c["fp"], c["fn"], c["tn"], c["support"], c["n_predicted"]],
             [tp, fp, fn, tn, int(s[j]), tp + fp], w + " counts")
        same([c["precision"], c["recall"], c["f1"]], [p[j], r[j], f[j]], w + " P/R/F")
        same([c["precision_defined"], c["recall_defined"], c["f1_defined"]],
             [tp + fp > 0, tp + fn > 0, 2 * tp + fp + fn > 0], w + " defined")
        sp = tn / (tn + fp) if tn + fp else float(zd)
        nv = tn / (tn + fn) if tn + fn else float(zd)
        spec.append(sp), npv.append(nv)
        same([c["specificity"], c["npv"], c["accuracy"]], [sp, nv, (tp + tn) / n], w + " spec/npv/acc")
    same(ours["macro_specificity"], np.mean(spec), f"{tag} macro specificity")
    same(ours["macro_npv"], np.mean(npv), f"{tag} macro npv")
    for avg in ("micro", "macro", "weighted"):
        ref = precision_recall_fscore_support(ref_gold, ref_pred, labels=order, average=avg, zero_division=zd)
        o = ours[avg]
        same([o["precision"], o["recall"], o["f1"]], list(ref[:3]), f"{tag} {avg}")
    if binary is not None:
        o = ours["binary"]
        same([o["precision"], o["recall"], o["f1"]], list(binary[:3]), f"{tag} binary pos={pos_label!r}")
    for w in (None, "linear", "quadratic"):
        ref = cohen_kappa_score(ref_gold, ref_pred, labels=ref_labels, weights=w)
        same(ours["kappa"][w or "none"], ref, f"{tag} kappa {w}")
        same(ours["kappa_defined"][w or "none"], bool(np.isfinite(ref)), f"{tag} kappa {w} defined")


@deferred
def check_kappa(y1, y2, labels=None, tag=""):
    stats["cases"] += 1
    ours, err = yield request("kappa", y1, y2, labels)
    try:
        refs = {w or "none": cohen_kappa_score(y1, y2, labels=labels, weights=w) for w in (None, "linear", "quadratic")}
    except ValueError as e:
        if ours is not None:
            fail(f"{tag}: sklearn raised ({e}) but oncolm did not")
        return
    if ours is None:
        fail(f"{tag}: oncolm failed ({err.strip()})")
        return
    for w, ref in refs.items():
        same(ours[w], ref, f"{tag} kappa {w}")


CT = ["no cancer", "post-treatment", "pre-treatment"]
MODALITY = ["CT", "MRI", "PET", "US"]
NUMERIC = [-3, 0, 1, 2, 9, 10, 11, 100]


def random_labels(rng, pool, n, p_skew=None):
    w = p_skew or [1] * len(pool)
    return rng.choices(pool, weights=w, k=n)


def noisy(rng, gold, pool, accuracy):
    return [g if rng.random() < accuracy else rng.choice(pool) for g in gold]


def ordinal_noisy(rng, gold, k, spread):
    return [min(k - 1, max(0, g + rng.choice([-1, 0, 0, 1]) * (rng.random() < spread))) for g in gold]


def part_classify(rng):
    # published / hand examples first (docstrings of scikit-learn 1.2)
    check_classify(["cat", "dog", "pig", "cat", "dog", "pig"], ["cat", "pig", "dog", "cat", "cat", "dog"],
                   tag="docstring prfs")
    check_classify([0, 1, 0, 0, 1, 0], [0, 1, 0, 0, 0, 1], pos_label=1, tag="docstring balanced")
    check_classify(["a"] * 5, ["a"] * 5, tag="single class all correct")
    check_classify(["a"] * 5, ["b"] * 5, tag="single gold class all wrong")
    check_classify(["a", "b", "a"], ["a", "b", "a"], labels=["c"], tag="label list outside gold")
    check_classify(["a", "b", "c"], ["a", "b", "c"], pos_label="a", tag="pos_label with 3 labels")
    check_classify(["a", "b"], ["a", "b"], pos_label="z", tag="pos_label not a label")
    check_classify(["a", "a"], ["a", "a"], pos_label="z", zd=1, tag="pos_label absent, one label")
    kinds = ["binary_str", "binary_int", "binary_bool", "ct", "ordinal", "modality", "numeric", "many", "rare"]
    for case in range(1000):
        kind = kinds[case % len(kinds)]
        n = rng.choice([1, 2, 3, 5, 8, 13, 30, 60, 200])
        zd = rng.choice([0, 0, 1])
        if kind == "binary_str":
            pool = ["negative", "positive"]
        elif kind == "binary_int":
            pool = [0, 1]
        elif kind == "binary_bool":
            pool = [False, True]
        elif kind == "ct":
            pool = CT
        elif kind == "ordinal":
            pool = [0, 1, 2, 3]
        elif kind == "modality":
            pool = MODALITY
        elif kind == "numeric":
            pool = rng.sample(NUMERIC, rng.randint(2, len(NUMERIC)))
        elif kind == "many":
            pool = [f"c{i:03d}" for i in range(rng.choice([20, 150]))]
            n = rng.choice([200, 600])
        else:  # a few classes, some absent from gold or predictions
            pool = ["A", "B", "C", "D", "E"]
        gold = random_labels(rng, pool, n)
        if kind == "ordinal":
            pred = ordinal_noisy(rng, gold, 4, rng.random())
        else:
            pred = noisy(rng, gold, pool, rng.random())
        if kind == "rare":  # keep one class out of gold, another out of predictions
            gold = [g if g != "E" else "A" for g in gold]
            pred = [p if p != "D" else "B" for p in pred]
        if rng.random() < 0.1:
            pred = [None if rng.random() < 0.2 else p for p in pred]
        labels = None
        r = rng.random()
        present = sorted(set(gold) | set(p for p in pred if p is not None), key=lambda x: (str(type(x)), x))
        if r < 0.15:
            labels = rng.sample(present, len(present))  # permuted
        elif r < 0.25 and len(present) > 1:
            labels = rng.sample(present, rng.randint(1, len(present) - 1))  # subset
        elif r < 0.32 and kind in ("ct", "modality", "rare", "binary_str"):
            labels = present + ["unseen"]
            rng.shuffle(labels)
        if labels is not None and any(p is None for p in pred) and rng.random() < 0.5:
            labels = labels + ["(missing)"]
        pos_label = None
        if kind.startswith("binary") and rng.random() < 0.7 and not any(p is None for p in pred):
            pos_label = rng.choice(pool)
        check_classify(gold, pred, labels=labels, pos_label=pos_label, zd=zd, tag=f"classify {case} {kind}")
    # two readers: kappa alone
    for case in range(200):
        k = rng.choice([2, 3, 4, 5])
        pool = list(range(k)) if case % 2 else MODALITY[:k] if k <= 4 else CT + ["x", "y"]
        y1 = random_labels(rng, pool, rng.choice([1, 4, 20, 100]))
        y2 = noisy(rng, y1, pool, rng.random())
        labels = None
        if rng.random() < 0.3:
            labels = rng.sample(pool, rng.randint(1, len(pool)))
        check_kappa(y1, y2, labels, tag=f"kappa {case}")
    check_kappa(["a"] * 4, ["a"] * 4, tag="kappa one class (nan)")
    check_kappa(["a"] * 4, ["b"] * 4, tag="kappa disjoint")


# ---- 2. sets of labels --------------------------------------------------------------------

SYMPTOMS = ["anorexia", "diarrhea", "dysgeusia", "dysphagia", "fatigue", "mucositis", "nausea", "neuropathy",
            "pain", "radiation dermatitis", "vomiting", "xerostomia"]


def counted_unknown(sets, universe):
    u = set(universe)
    return sum(len(set(s) - u) for s in sets)


def ml_reference(gold, pred, universe, zd):
    """sklearn on MultiLabelBinarizer matrices; handles a one-column universe
    (sklearn sees an (n, 1) matrix as binary, so pad an all-zero column)."""
    mlb = MultiLabelBinarizer(classes=universe)
    yt = mlb.fit_transform(gold)
    yp = mlb.transform(pred)
    k = len(universe)
    cols = list(range(k))
    if k == 1:
        yt = np.hstack([yt, np.zeros_like(yt)])
        yp = np.hstack([yp, np.zeros_like(yp)])
    ref = {"per": precision_recall_fscore_support(yt, yp, labels=cols, average=None, zero_division=zd),
           "mcm": multilabel_confusion_matrix(yt, yp, labels=cols),
           "subset": accuracy_score(yt, yp),
           "hamming": hamming_loss(yt, yp) if k > 1 else float(np.sum(yt[:, 0] != yp[:, 0])) / (len(gold) * 1),
           # accuracy_score of one column = mean of its equal cells (one accuracy_score call per label is slow)
           "acc": list((yt == yp)[:, cols].mean(axis=0))}
    for avg in ("micro", "macro", "weighted", "samples"):
        ref[avg] = precision_recall_fscore_support(yt, yp, labels=cols, average=avg, zero_division=zd)
    return ref


def compare_ml(ours, ref, universe, tag, n_unknown=0):
    same([x["label"] for x in ours["labels"]], [text(x) for x in universe], f"{tag} universe")
    p, r, f, s = ref["per"]
    for j, c in enumerate(ours["labels"]):
        tn, fp, fn, tp = (int(x) for x in ref["mcm"][j].ravel())
        w = f"{tag} label {c['label']!r}"
        same([c["tp"], c["fp"], c["fn"], c["tn"], c["support"]], [tp, fp, fn, tn, int(s[j])], w + " counts")
        same([c["precision"], c["recall"], c["f1"], c["accuracy"]], [p[j], r[j], f[j], ref["acc"][j]], w)
    for avg in ("micro", "macro", "weighted", "samples"):
        o = ours[avg]
        same([o["precision"], o["recall"], o["f1"]], list(ref[avg][:3]), f"{tag} {avg}")
    same(ours["subset_accuracy"], ref["subset"], f"{tag} subset accuracy")
    same(ours["hamming_loss"], ref["hamming"], f"{tag} hamming loss")
    same(ours["n_unknown"], n_unknown, f"{tag} unknown")


@deferred
def check_ml(gold, pred, universe=None, zd=0, tag=""):
    stats["cases"] += 1
    ours, err = yield request("multilabel", gold, pred, universe, zd=zd)
    if universe is None:
        allv = [x for s in gold + pred for x in s]
        if not allv:
            if ours is not None:
                fail(f"{tag}: no labels at all must be an error (sklearn: 'unknown is not supported')")
            return
        universe = sorted(set(allv))
    if ours is None:
        fail(f"{tag}: oncolm failed: {err.strip()}")
        return
    compare_ml(ours, ml_reference([set(s) for s in gold], [set(s) for s in pred], universe, zd), universe, tag,
               counted_unknown(gold, universe) + counted_unknown(pred, universe))


def random_sets(rng, pool, n, mean_size):
    out = []
    for _ in range(n):
        k = min(len(pool), int(rng.expovariate(1 / mean_size))) if mean_size else 0
        s = rng.sample(pool, k)
        if s and rng.random() < 0.1:
            s.append(s[0])  # a repeated label collapses
        out.append(s)
    return out


def noisy_sets(rng, gold, pool, p_drop, p_add):
    out = []
    for s in gold:
        t = [x for x in s if rng.random() >= p_drop]
        for x in pool:
            if rng.random() < p_add and x not in t:
                t.append(x)
        rng.shuffle(t)
        out.append(t)
    return out


def part_multilabel(rng):
    # sklearn 1.2 docstring of precision_recall_fscore_support's samples semantics, hand-checked in C too
    check_ml([["a"], [], ["b"]], [["a"], [], []], tag="empty sets")
    check_ml([[], []], [[], []], tag="no labels at all")
    check_ml([["x"], []], [["x"], ["x"]], tag="one label universe")
    for case in range(600):
        kind = case % 5
        if kind == 0:
            pool = SYMPTOMS
        elif kind == 1:
            pool = [str(i) for i in rng.sample([1, 2, 3, 9, 10, 11, 20, 100], rng.randint(1, 8))]
        elif kind == 2:
            pool = [f"L{i}" for i in range(rng.choice([2, 3, 5, 12]))]
        elif kind == 3:
            pool = [f"term{i:03d}" for i in range(300)]
        else:
            pool = ["a", "b"]
        n = rng.choice([1, 2, 5, 20, 80])
        gold = random_sets(rng, pool, n, rng.choice([0, 0.5, 1.5, 4]))
        pred = noisy_sets(rng, gold, pool, rng.random() * 0.5, rng.random() * min(0.2, 3 / len(pool)))
        universe = None
        numeric = kind == 1
        if rng.random() < 0.25:
            present = sorted(set(x for s in gold + pred for x in s))
            universe = present + ["never-used"]
            rng.shuffle(universe)
            if rng.random() < 0.5 and len(present) > 1:
                universe = [x for x in universe if x != present[0]]  # its occurrences become unknown
        elif numeric:
            # numeric order: sklearn sees integers
            gi = [[int(x) for x in s] for s in gold]
            pi = [[int(x) for x in s] for s in pred]
            check_ml(gi, pi, zd=rng.choice([0, 1]), tag=f"multilabel {case} numeric")
            continue
        check_ml(gold, pred, universe, zd=rng.choice([0, 1]), tag=f"multilabel {case}")
    # many items: numpy sums the samples average in blocks of 8192
    gold = random_sets(rng, SYMPTOMS, 20000, 2)
    pred = noisy_sets(rng, gold, SYMPTOMS, 0.3, 0.05)
    check_ml(gold, pred, tag="multilabel 20000 items")


# ---- 3. ICD-10 codes ---------------------------------------------------------------------------

_ws = " \t\n\r\v\f"
_up = str.maketrans("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_valid = re.compile(r"[A-Z][0-9][A-Z0-9](\.[A-Z0-9]{1,4})?\Z")


def py_normalize(code):
    """Independent normaliser: ASCII trim and upper case; with at most one
    dot, drop it (trimming again) and re-insert it after the 3rd character."""
    s = code.strip(_ws).translate(_up)
    if s.count(".") <= 1:
        s = s.replace(".", "").strip(_ws)
        if len(s) > 3:
            s = s[:3] + "." + s[3:]
    return s, bool(_valid.match(s))


def category(code):
    s, ok = py_normalize(code)
    return s[:3] if ok else s


VALID = ["C34.1", "C34.90", "C50.911", "C18.7", "C61", "C25.0", "C7A.01", "Z51.11", "S72.001A", "C34.2",
         "C50.912", "C18.2", "C25.1", "C25.9", "J18.9", "E11.9"]
INVALID = ["C3", "34.1", "C34..1", "", "XYZ", "C 34", "C34.12345", "1C3", "C3Ä.1"]


def variant(rng, code):
    r = rng.random()
    if r < 0.2:
        return code.lower()
    if r < 0.35:
        return code.replace(".", "")
    if r < 0.45:
        return "  " + code + "\t"
    if r < 0.5 and len(code) > 4:
        return code[:2] + "." + code[2:].replace(".", "")  # dot in the wrong place: re-inserted
    return code


@deferred
def check_codes(gold, pred, zd=0, tag=""):
    stats["cases"] += 1
    ours, err = yield request("codes", gold, pred, zd=zd)
    ng = [set(py_normalize(c)[0] for c in s) for s in gold]
    np_ = [set(py_normalize(c)[0] for c in s) for s in pred]
    universe = sorted(set().union(*ng, *np_))
    if not universe:
        if ours is not None:
            fail(f"{tag}: no codes at all must be an error")
        return
    if ours is None:
        fail(f"{tag}: oncolm failed: {err.strip()}")
        return
    compare_ml(ours["code"], ml_reference(ng, np_, universe, zd), universe, tag + " code")
    same(ours["code_valid"], [bool(_valid.match(c)) for c in universe], tag + " validity")
    same([ours["n_invalid_gold"], ours["n_invalid_pred"]],
         [sum(not _valid.match(c) for s in ng for c in s), sum(not _valid.match(c) for s in np_ for c in s)],
         tag + " invalid counts")
    cg = [set(category(c) for c in s) for s in gold]
    cp = [set(category(c) for c in s) for s in pred]
    cu = sorted(set().union(*cg, *cp))
    compare_ml(ours["category"], ml_reference(cg, cp, cu, zd), cu, tag + " category")


def part_codes(rng):
    for case in range(250):
        n = rng.choice([1, 3, 10, 40])
        gold = [[variant(rng, c) for c in rng.sample(VALID, rng.randint(0, 3))] for _ in range(n)]
        pred = []
        for s in gold:
            t = [variant(rng, c) for c in s if rng.random() < 0.7]
            if rng.random() < 0.3:
                t.append(variant(rng, rng.choice(VALID)))
            if rng.random() < 0.1:
                t.append(rng.choice(INVALID))
            if t and rng.random() < 0.1:
                t.append(t[0].lower())  # the same code twice after normalisation
            pred.append(t)
        if rng.random() < 0.05:
            gold[0] = gold[0] + [rng.choice(INVALID)]
        check_codes(gold, pred, zd=rng.choice([0, 1]), tag=f"codes {case}")
    check_codes([[], []], [[], []], tag="codes none")
    # the normaliser on random text
    alphabet = "abcC34.19xZ \t\n.é\v"
    strings = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 9))) for _ in range(3000)]
    strings += [v for c in VALID + INVALID for v in (c, c.lower(), c.replace(".", ""), " " + c + " ")]
    path = os.path.join(TMP, "normalize.jsonl")
    with open(path, "w", encoding="utf-8") as f:
        for s in strings:
            f.write(json.dumps(s) + "\n")
    proc = subprocess.run([RUN, "normalize", path], capture_output=True, text=True)
    if proc.returncode != 0:
        fail(f"normalize: exit {proc.returncode}: {proc.stderr}")
        return
    got = json.loads(proc.stdout)
    for s, (norm, ok) in zip(strings, got):
        stats["cases"] += 1
        ref = py_normalize(s)
        if (norm, ok) != ref:
            fail(f"normalize {s!r}: {(norm, ok)} != {ref}")


# ---- 4. field extraction ----------------------------------------------------------------------


@deferred
def check_fields(gold, pred, zd=0, tag=""):
    stats["cases"] += 1
    ours, err = yield request("fields", gold, pred, zd=zd)
    fields = []
    for g in gold:
        for k in g:
            if k not in fields:
                fields.append(k)
    if ours is None:
        fail(f"{tag}: oncolm failed: {err.strip()}")
        return
    accs, f1s = [], []
    for fi, name in enumerate(fields):
        yt, yp = [], []
        for g, p in zip(gold, pred):
            if name in g:
                yt.append(g[name])
                yp.append(p.get(name, "(missing)") if isinstance(p, dict) else "(missing)")
        if any(isinstance(x, str) for x in yt + yp) and not all(isinstance(x, str) for x in yt + yp):
            yt, yp = [text(x) for x in yt], [text(x) for x in yp]
        o = ours["fields"][fi]
        same(o["name"], name, f"{tag} field name")
        same(o["n_missing"], sum(x == "(missing)" for x in yp), f"{tag} {name} missing")
        acc = accuracy_score(yt, yp)
        # "(missing)" is not a class: macro F1 over the real values only
        real = sorted(set(yt) | (set(yp) - {"(missing)"}))
        mf1 = f1_score(yt, yp, labels=real, average="macro", zero_division=zd)
        same(o["cls"]["accuracy"], acc, f"{tag} {name} accuracy")
        same(o["cls"]["macro"]["f1"], mf1, f"{tag} {name} macro F1")
        accs.append(acc), f1s.append(mf1)
    same(ours["mean_accuracy"], np.mean(accs), f"{tag} mean accuracy")
    same(ours["mean_macro_f1"], np.mean(f1s), f"{tag} mean macro F1")


def part_fields(rng):
    for case in range(150):
        graded = case % 2 == 0
        values = [0, 1, 2, 3] if graded else ["absent", "present"]
        n = rng.choice([1, 5, 30, 100])
        gold, pred = [], []
        for _ in range(n):
            g = {s: rng.choices(values, weights=[6, 3, 2, 1][: len(values)])[0] for s in SYMPTOMS}
            if rng.random() < 0.1:
                del g[rng.choice(SYMPTOMS[1:])]  # not annotated (the first field always is)
            p = {}
            for s, v in g.items():
                r = rng.random()
                if r < 0.08:
                    continue  # missing from the prediction
                p[s] = v if r < 0.8 else rng.choice(values)
            gold.append(g)
            pred.append(p)
        check_fields(gold, pred, zd=rng.choice([0, 1]), tag=f"fields {case}")


def part_single_mode():
    """The helper's one-case mode (items one per line, options as arguments)."""
    yt, yp = ["cat", "dog", "pig", "cat", "dog", "pig"], ["cat", "pig", "dog", "cat", "cat", "dog"]
    ours, err = run("classify", yt, yp, *labels_arg(["pig", "dog", "cat"]), "--zero-division", "1")
    if ours is None:
        fail(f"single mode: {err}")
    else:
        ref = precision_recall_fscore_support(yt, yp, labels=["pig", "dog", "cat"], zero_division=1)
        same([c["f1"] for c in ours["classes"]], ref[2], "single mode f1")
    ours, err = run("classify", yt, yp, *labels_arg(["zebra"]))
    if ours is not None or "none of the 1 listed labels" not in (err or ""):
        fail(f"single mode: a label list outside gold must fail with exit 1 (got {err!r})")


def main():
    rng = random.Random(20240611)
    part_single_mode()
    part_classify(rng)
    part_multilabel(rng)
    part_codes(rng)
    part_fields(rng)
    flush()
    print(f"{stats['cases']} cases, {stats['values']} numbers compared with scikit-learn {sklearn.__version__}: "
          f"max |difference| {stats['max_diff']:.3g}, {stats['not_identical']} not bit-identical")
    if stats["not_identical"]:
        # eval_classify.h promises sklearn's arithmetic operation by operation
        fail(f"{stats['not_identical']} numbers within 1e-12 but not bit-identical")
    U.finish("ok")


if __name__ == "__main__":
    main()
