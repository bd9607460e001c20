"""Oracle for oncolm's sampler (include/oncolm/sampler.h) against an
independent numpy implementation of the same chain:

  logit bias -> penalties (repeat / frequency / presence over the last
  penalty_last_n accepted tokens) -> top-k -> top-p -> min-p ->
  temperature -> draw (xoshiro256** seeded by splitmix64, reimplemented
  here with Python integers).

For random cases (vocab sizes 1..400, ties, -inf logits, bans, histories,
every filter on and off) the helper sampler_run prints the surviving
candidates with their transformed logits and probabilities, a sequence of
sampled tokens with their log-probabilities, the log-softmax of the raw
row and the top-5 list. Checks:
  1. the candidate id set is identical; transformed logits agree within
     1e-6 relative (the penalty and temperature arithmetic is float32 on
     both sides), probabilities within 1e-9 absolute (float64 softmax);
  2. every sampled token equals the oracle's draw with the same seed (the
     generator, the uniform double and the walk in ascending id are
     specified in the header, so this is exact);
  3. each draw's log-probability = log-softmax of the RAW logits (1e-5);
  4. log-softmax row and top-5 (ids exact, values 1e-5);
  5. error cases: NaN / +inf logits, every token banned.
Cases where a top-p or min-p decision sits within 1e-6 of its threshold
(where float rounding may legitimately differ) are regenerated.
Run with Debian's /usr/bin/python3 (numpy). Exit 77 = skipped.
"""
import math
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import oracle_util as U  # noqa: E402

np = U.need("numpy")

TMP = U.TMP
RUN = U.need_helper("sampler_run")
failures = U.failures


check = U.check


# --- generator -------------------------------------------------------------------

Xoshiro = U.Xoshiro256ss  # oncolm/rng.h, reimplemented in oracle_util


# --- the chain -------------------------------------------------------------------

class Ambiguous(Exception):
    pass


def oracle(logits, prm, bias, history):
    """Returns (ids ascending, transformed float32 logits, float64 probs)."""
    f32 = np.float32
    lg = logits.astype(np.float32).copy()
    for i, b in bias.items():
        lg[i] = f32(lg[i] + f32(b))
    last_n = prm["penalty_last_n"]
    rep, fq, pr = f32(prm["penalty_repeat"]), f32(prm["penalty_freq"]), f32(prm["penalty_present"])
    if last_n != 0 and (rep != 1 or fq != 0 or pr != 0):
        window = history if last_n < 0 else history[-last_n:]
        counts = {}
        for t in window:
            counts[t] = counts.get(t, 0) + 1
        for t, c in counts.items():
            v = lg[t]
            v = f32(v * rep) if v <= 0 else f32(v / rep)
            v = f32(v - f32(f32(c) * fq + f32(1.0) * pr))
            lg[t] = v
    ids = [i for i in range(len(lg)) if lg[i] != -np.inf]
    if not ids:
        return None
    temp = prm["temperature"]
    if temp <= 0:
        best = max(ids, key=lambda i: (lg[i], -i))
        return [best], [lg[best]], [1.0]
    order = sorted(ids, key=lambda i: (-float(lg[i]), i))
    min_keep = max(prm["min_keep"], 1)
    k = prm["top_k"]
    if 0 < k < len(order):
        order = order[:k]
    if prm["top_p"] < 1.0:
        x = np.array([float(lg[i]) for i in order])
        p = np.exp(x - x.max())
        p /= p.sum()
        cum = np.cumsum(p)
        tp = float(np.float32(prm["top_p"]))
        last = len(order)
        for i in range(len(order)):
            if abs(cum[i] - tp) < 1e-6:
                raise Ambiguous
            if cum[i] >= tp and i + 1 >= min_keep:
                last = i + 1
                break
        order = order[:last]
    if prm["min_p"] > 0:
        mx = max(float(lg[i]) for i in order)
        thr = mx + math.log(float(np.float32(prm["min_p"])))
        for i in order:
            if abs(float(lg[i]) - thr) < 1e-6:
                raise Ambiguous
        kept = [i for i in order if float(lg[i]) >= thr]
        if len(kept) < min_keep and len(kept) < len(order):
            srt = sorted(order, key=lambda i: (-float(lg[i]), i))
            kept = srt[:min(min_keep, len(order))]
        order = kept
    order = sorted(order)
    t32 = np.float32(temp)
    tl = [np.float32(lg[i] / t32) for i in order]
    x = np.array([float(v) for v in tl])
    p = np.exp(x - x.max())
    p /= p.sum()
    return order, tl, list(p)


def draw(rng, probs):
    total = sum(probs)
    target = rng.uniform() * total
    cum = 0.0
    for i, p in enumerate(probs):
        cum += p
        if cum > target:
            return i
    return len(probs) - 1


def log_softmax(x):
    x = x.astype(np.float64)
    mx = x[np.isfinite(x)].max()
    return x - mx - math.log(np.exp(x - mx).sum())


# --- running the helper --------------------------------------------------------------

def fmt(v):
    v = float(v)
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return "%.9g" % v


def run_case(idx, logits, prm, bias, history, draws):
    path = os.path.join(TMP, "sampler_case_%d.txt" % idx)
    with open(path, "w") as f:
        f.write("logits %d %s\n" % (len(logits), " ".join(fmt(v) for v in logits)))
        for k, v in prm.items():
            f.write("param %s %s\n" % (k, v))
        for i, b in bias.items():
            f.write("bias %d %s\n" % (i, fmt(b)))
        for t in history:
            f.write("accept %d\n" % t)
        f.write("draws %d\n" % draws)
    r = subprocess.run([RUN, path], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError("sampler_run failed: " + r.stderr)
    out = {"cand": [], "draw": [], "error": None}
    for line in r.stdout.splitlines():
        w = line.split()
        if w[0] == "cand":
            out["cand"].append((int(w[1]), float(w[2]), float(w[3])))
        elif w[0] == "draw":
            out["draw"].append((int(w[1]), float(w[2])))
        elif w[0] == "logsoftmax":
            out["ls"] = np.array([float(v) for v in w[1:]])
        elif w[0] == "topn":
            out["topn"] = [(int(w[i]), float(w[i + 1])) for i in range(1, len(w), 2)]
        elif w[0] == "error":
            out["error"] = (int(w[1]), line)
    return out


def random_case(rng):
    n = int(rng.choice([1, 2, 3, 5, 8, 17, 50, 128, 400]))
    kind = rng.integers(4)
    if kind == 0:
        logits = rng.standard_normal(n) * 2
    elif kind == 1:
        logits = rng.integers(-3, 4, n).astype(np.float64)  # many ties
    elif kind == 2:
        logits = rng.standard_normal(n) * 8
    else:
        logits = rng.uniform(-1, 1, n)
    logits = logits.astype(np.float32)
    if n > 2 and rng.random() < 0.3:
        logits[rng.integers(n, size=max(1, n // 4))] = -np.inf
        if not np.isfinite(logits).any():
            logits[0] = 0.5
    prm = {
        "seed": int(rng.integers(0, 2**63)),
        "temperature": float(rng.choice([0.0, 0.5, 0.8, 1.0, 1.7])),
        "top_k": int(rng.choice([0, 1, 3, 10, 40, 1000])),
        "top_p": float(rng.choice([1.0, 0.95, 0.8, 0.5, 0.1, 0.0])),
        "min_p": float(rng.choice([0.0, 0.05, 0.1, 0.3])),
        "min_keep": int(rng.choice([0, 0, 1, 2, 5])),
        "penalty_last_n": int(rng.choice([0, -1, 4, 64])),
        "penalty_repeat": float(rng.choice([1.0, 1.1, 1.5, 0.8])),
        "penalty_freq": float(rng.choice([0.0, 0.2, -0.3])),
        "penalty_present": float(rng.choice([0.0, 0.5])),
    }
    bias = {}
    for _ in range(int(rng.integers(0, 4))):
        bias[int(rng.integers(n))] = float(rng.choice([-np.inf, -2.0, 0.5, 3.0]))
    history = [int(t) for t in rng.integers(0, n, size=int(rng.integers(0, 12)))]
    return logits, prm, bias, history


def compare(idx, logits, prm, bias, history, draws):
    try:
        exp = oracle(logits, prm, bias, history)
    except Ambiguous:
        return False
    got = run_case(idx, logits, prm, bias, history, draws)
    tag = "case %d (n=%d %s bias=%s hist=%s)" % (idx, len(logits), prm, bias, history)
    if exp is None:
        check(got["error"] is not None and "no token" in got["error"][1], tag + ": expected 'no token' error")
        return True
    if got["error"]:
        check(False, tag + ": unexpected error " + got["error"][1])
        return True
    ids, tl, probs = exp
    gids = [c[0] for c in got["cand"]]
    check(gids == ids, tag + ": candidates %s != oracle %s" % (gids[:20], ids[:20]))
    if gids != ids:
        return True
    for (i, gl, gp), el, ep in zip(got["cand"], tl, probs):
        check(abs(gl - float(el)) <= 1e-6 * max(1.0, abs(float(el))), tag + ": logit of %d %r vs %r" % (i, gl, el))
        check(abs(gp - ep) <= 1e-9 + 1e-7 * ep, tag + ": p of %d %r vs %r" % (i, gp, ep))
    r = Xoshiro(prm["seed"])
    ls = log_softmax(logits)
    for d, (tok, lp) in enumerate(got["draw"]):
        want = ids[draw(r, probs)] if prm["temperature"] > 0 else ids[0]
        check(tok == want, tag + ": draw %d got %d want %d" % (d, tok, want))
        check(abs(lp - ls[tok]) <= 1e-5 * max(1.0, abs(ls[tok])), tag + ": logprob %r vs %r" % (lp, ls[tok]))
    fin = np.isfinite(ls)
    check(np.all(fin == np.isfinite(got["ls"])) and np.allclose(got["ls"][fin], ls[fin], rtol=1e-6, atol=1e-5),
          tag + ": log-softmax row")
    order = sorted(range(len(logits)), key=lambda i: (-float(logits[i]), i))[:5]
    check([t for t, _ in got["topn"]] == order, tag + ": top-n ids %s vs %s" % (got["topn"], order))
    for t, v in got["topn"]:
        if ls[t] == -np.inf:
            check(v == -np.inf, tag + ": top-n logprob of %d should be -inf" % t)
        else:
            check(abs(v - ls[t]) <= 1e-5 * max(1.0, abs(ls[t])), tag + ": top-n logprob of %d" % t)
    return True


def main():
    rng = np.random.default_rng(20240611)
    done = skipped = 0
    idx = 0
    while done < 300:
        logits, prm, bias, history = random_case(rng)
        idx += 1
        if compare(idx, logits, prm, bias, history, draws=25):
            done += 1
        else:
            skipped += 1
        if len(failures) > 20:
            break
    # explicit error cases
    bad = np.array([0.5, float("nan"), 1.0], np.float32)
    got = run_case(9000, bad, {"temperature": 1.0}, {}, [], 1)
    check(got["error"] is not None and "NaN" in got["error"][1] and "token 1" in got["error"][1],
          "NaN logit must be reported with its token id: %s" % (got["error"],))
    got = run_case(9001, np.array([0.5, float("inf")], np.float32), {"temperature": 1.0}, {}, [], 1)
    check(got["error"] is not None and "+inf" in got["error"][1], "+inf logit must be an error")
    got = run_case(9002, np.array([0.5, 1.0], np.float32), {"temperature": 1.0}, {0: -np.inf, 1: -np.inf}, [], 1)
    check(got["error"] is not None and "no token" in got["error"][1], "all banned must be an error")
    print("sampler oracle: %d cases compared, %d near-threshold cases regenerated" % (done, skipped))
    U.finish("all sampler oracle checks passed")


main()
