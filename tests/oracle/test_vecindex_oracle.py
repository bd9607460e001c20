"""Oracle for oncolm's dense vector index (include/oncolm/vecindex.h) against
an independent numpy computation.

Data: 3,000 clustered unit vectors of dimension 96 (numpy seeded), a few
exact duplicates (true ties), ids drawn at random from [0, 2^50), 40
queries. Through the helper vecindex_run (tests/helpers/vecindex_run.c):
  1. EXACT index search and onc_vec_exact_topk (all rows; a row subset with
     row ids) equal numpy's float64 top-10: scores within 1e-5, ids equal
     except inside a group of scores tied within 1e-5 (then the id sets of
     the tied group agree);
  2. filtered EXACT search for allowed sets of size 0, 1, 7, 300 (unsorted,
     with absent ids) and 1,500 equals numpy restricted to the set;
  3. HNSW and IVF: recall@10 >= 0.95 against numpy, and filtered searches
     return only allowed ids, exactly min(k, present) of them;
  4. save -> load (through files): identical result bytes, stamp kept.
Run with Debian's /usr/bin/python3 (numpy). Exit 77 = skipped.
"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import oracle_util as U  # noqa: E402

np = U.need("numpy")

TMP = U.TMP
RUN = U.need_helper("vecindex_run")

failures = U.failures
N, DIM, NQ, K = 3000, 96, 40, 10


check = U.check


def path(name):
    return os.path.join(TMP, "vecoracle_" + name)


def write(name, arr):
    p = path(name)
    arr.tofile(p)
    return p


def run(args):
    out = path("out.bin")
    r = subprocess.run([RUN] + [str(a) for a in args], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError("vecindex_run %s failed: %s" % (" ".join(map(str, args)), r.stderr.strip()))
    raw = np.fromfile(out, dtype=np.uint8)
    n = raw.size // 12
    scores = raw[: n * 4].view(np.float32).reshape(-1, K)
    ids = raw[n * 4:].view(np.int64).reshape(-1, K)
    return scores, ids, r.stdout


def numpy_scores(x, ids, q, allowed=None):
    """Full float64 score matrix, -inf outside the allowed set."""
    s = q.astype(np.float64) @ x.astype(np.float64).T
    if allowed is not None:
        s[:, ~np.isin(ids, allowed)] = -np.inf
    return s


def numpy_topk(x, ids, q, allowed=None):
    s = numpy_scores(x, ids, q, allowed)
    order = np.argsort(-s, axis=1, kind="stable")[:, :K]
    top = np.take_along_axis(s, order, axis=1)
    tid = ids[order]
    tid[np.isinf(top)] = -1
    return top, tid


def compare_exact(name, got_s, got_i, x, ids, q, allowed=None, tol=1e-5):
    """Exact top-k up to ties: the returned score list equals numpy's top-k
    scores (tol), each returned id is distinct and allowed and its true score
    equals the score returned for it (tol), and where numpy's score at a rank
    is not tied (tol) with a neighbour the id is numpy's."""
    full = numpy_scores(x, ids, q, allowed)
    ref_s, ref_i = numpy_topk(x, ids, q, allowed)
    row_of = {int(v): r for r, v in enumerate(ids.tolist())}
    for qi in range(got_s.shape[0]):
        gs, gi, rs, ri = got_s[qi].astype(np.float64), got_i[qi], ref_s[qi], ref_i[qi]
        pad = ri < 0
        if not np.array_equal(gi[pad], ri[pad]) or not np.all(np.isneginf(gs[pad])):
            check(False, "%s q%d: padding differs: %s vs %s" % (name, qi, gi, ri))
            continue
        live = int((~pad).sum())
        if live and np.max(np.abs(gs[:live] - rs[:live])) > tol:
            check(False, "%s q%d: scores differ by %g" % (name, qi, np.max(np.abs(gs[:live] - rs[:live]))))
            continue
        check(len(set(gi[:live].tolist())) == live, "%s q%d: repeated id" % (name, qi))
        srt = np.sort(full[qi])[::-1]
        for j in range(live):
            r = row_of.get(int(gi[j]))
            if r is None or not np.isfinite(full[qi, r]) or abs(full[qi, r] - gs[j]) > tol:
                check(False, "%s q%d rank %d: id %d is not a candidate with score %.6f" % (name, qi, j, gi[j], gs[j]))
                continue
            tied = (j > 0 and abs(srt[j] - srt[j - 1]) <= tol) or (j + 1 < len(srt) and abs(srt[j] - srt[j + 1]) <= tol)
            if not tied:
                check(gi[j] == ri[j], "%s q%d rank %d: id %d, numpy %d" % (name, qi, j, gi[j], ri[j]))


def recall(got, truth):
    hit = tot = 0
    for g, t in zip(got, truth):
        t = t[t >= 0]
        tot += len(t)
        hit += len(set(g.tolist()) & set(t.tolist()))
    return hit / tot if tot else 1.0


def main():
    rng = np.random.default_rng(20240611)
    centres = rng.standard_normal((30, DIM))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    lab = rng.integers(0, 30, N)
    x = centres[lab] + 0.9 * rng.standard_normal((N, DIM)) / np.sqrt(DIM)
    x[10:14] = x[3]  # exact duplicates: true ties
    x = (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)
    ids = rng.choice(1 << 50, size=N, replace=False).astype(np.int64)
    qsrc = x[rng.integers(0, N, NQ)] + 0.2 * rng.standard_normal((NQ, DIM)).astype(np.float32) / np.sqrt(DIM)
    q = (qsrc / np.linalg.norm(qsrc, axis=1, keepdims=True)).astype(np.float32)
    q[0] = x[3]  # hits the tie group
    fx, fi, fq = write("x.f32", x), write("ids.i64", ids), write("q.f32", q)
    out = path("out.bin")
    ref_s, ref_i = numpy_topk(x, ids, q)

    # 1. exact index and the C exact top-k
    s, i, _ = run(["index", "exact", DIM, fx, fi, fq, K, out])
    compare_exact("exact index", s, i, x, ids, q)
    check(set(i[0][:5].tolist()) == set(ids[[3, 10, 11, 12, 13]].tolist()), "the 5 tied duplicates come first")
    s, i, _ = run(["index", "exact", DIM, fx, fi, fq, K, out, "--threads", 2])
    compare_exact("exact index 2 threads", s, i, x, ids, q)
    s, i, _ = run(["ctopk", DIM, fx, fi, fq, K, out])
    compare_exact("exact_topk", s, i, x, ids, q)
    check(i[0][:5].tolist() == sorted(ids[[3, 10, 11, 12, 13]].tolist()), "exact_topk ties: smaller id first")
    rows = np.sort(rng.choice(N, 500, replace=False)).astype(np.int64)
    fr = write("rows.i64", rows[::-1].copy())
    s, i, _ = run(["ctopk", DIM, fx, fi, fq, K, out, "--rows", fr])
    compare_exact("exact_topk rows", s, i, x, ids, q, ids[rows])
    s, i, _ = run(["ctopk", DIM, fx, "-", fq, K, out, "--rows", fr])
    compare_exact("exact_topk rows, row numbers", s, i, x, np.arange(N, dtype=np.int64), q, rows)

    # 2. filtered exact
    sets = {
        "0": np.zeros(0, np.int64),
        "1": ids[[17]],
        "7": ids[rng.choice(N, 7, replace=False)],
        "300+absent": np.concatenate([ids[rng.choice(N, 300, replace=False)], np.array([5, 6, 7], np.int64)]),
        "1500": ids[rng.choice(N, 1500, replace=False)],
    }
    for name, al in sets.items():
        fa = write("allowed.i64", rng.permutation(al).astype(np.int64))
        s, i, _ = run(["index", "exact", DIM, fx, fi, fq, K, out, "--allowed", fa])
        compare_exact("exact filtered " + name, s, i, x, ids, q, al)

    # 3. ANN kinds
    for kind in ("hnsw", "ivf"):
        s, i, _ = run(["index", kind, DIM, fx, fi, fq, K, out])
        r = recall(i, ref_i)
        print("%s recall@10 = %.3f" % (kind, r))
        check(r >= 0.95, "%s recall@10 = %.3f < 0.95" % (kind, r))
        for name, al in sets.items():
            fa = write("allowed.i64", al)
            s, i, _ = run(["index", kind, DIM, fx, fi, fq, K, out, "--allowed", fa])
            want = min(K, len(np.unique(al[np.isin(al, ids)])))
            okset = set(al.tolist())
            for qi in range(NQ):
                live = i[qi][i[qi] >= 0]
                check(all(v in okset for v in live.tolist()), "%s filtered %s: disallowed id" % (kind, name))
                check(len(live) == want, "%s filtered %s q%d: %d results, want %d" % (kind, name, qi, len(live), want))
            fs, fid = numpy_topk(x, ids, q, al)
            print("%s filtered %-11s recall@10 = %.3f" % (kind, name, recall(i, fid)))

    # 4. save -> load
    for kind in ("exact", "hnsw", "ivf"):
        saved = path(kind + ".faiss")
        s1, i1, _ = run(["index", kind, DIM, fx, fi, fq, K, out, "--save", saved, "gen=4 model=test"])
        s2, i2, stamp = run(["index", kind, DIM, fx, fi, fq, K, out, "--load", saved])
        check(stamp.strip() == "gen=4 model=test", "%s stamp after load: %r" % (kind, stamp))
        check(np.array_equal(i1, i2) and np.array_equal(s1.view(np.uint32), s2.view(np.uint32)),
              "%s: results differ after save/load" % kind)
        os.unlink(saved)

    for name in ("x.f32", "ids.i64", "q.f32", "rows.i64", "allowed.i64", "out.bin"):
        try:
            os.unlink(path(name))
        except OSError:
            pass
    U.finish("all vector index oracle checks passed")


main()
