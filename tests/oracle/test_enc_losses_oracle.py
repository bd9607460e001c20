"""Oracle for oncolm/enc_losses.h: the contrastive loss, pooling and class
weights against their published definitions, written here in numpy (float64):

  MNRL       sentence-transformers MultipleNegativesRankingLoss: scores =
             cos_sim(anchors, candidates) * scale (scale 20), cos_sim on
             torch.nn.functional.normalize'd rows (x / max(||x||, 1e-12)),
             loss = CrossEntropyLoss(scores, arange(n)) (mean over anchors);
             candidates = positives then hard negatives.
  symmetric  MultipleNegativesSymmetricRankingLoss: (forward CE +
             CE(scores[:, :n].T, arange(n))) / 2.
  pooling    mean / first ("cls") / last row of each packed sequence.
  weights    sklearn compute_class_weight("balanced"): n / (C * bincount).

The gradients (da, dc) are derived by hand in numpy and that derivation is
itself checked against float64 central differences (rel 1e-6), so the C
result is compared with an independent float64 value. Tolerance for C: the
loss rel 1e-6 (C accumulates in double but reads float32 inputs, as numpy
here), gradients rel 1e-5 of each value plus 1e-6 of the largest (float32
outputs). When torch is importable the loss and gradients are also taken
from torch autograd (F.normalize, F.cross_entropy; float64) and, when
scikit-learn is, the class weights from compute_class_weight. Exit 77 when
the helper or numpy is missing.
"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import oracle_util as U  # noqa: E402

np = U.need("numpy")
HELPER = U.need_helper("enc_losses_run")

try:
    import torch
    import torch.nn.functional as F
except Exception:  # noqa: BLE001 - any import failure means "no torch"
    torch = None
try:
    from sklearn.utils.class_weight import compute_class_weight
except Exception:  # noqa: BLE001
    compute_class_weight = None

failures = U.failures
rng = np.random.default_rng(20261123)


def run(text):
    out = subprocess.run([HELPER], input=text, capture_output=True, text=True, check=True).stdout
    return out.splitlines()


def fmt(x):
    return " ".join(repr(float(v)) for v in np.asarray(x, dtype=np.float32).ravel())


def check(name, got, want, rel, abs_scale=0.0):
    got = np.asarray(got, dtype=np.float64).ravel()
    want = np.asarray(want, dtype=np.float64).ravel()
    if got.shape != want.shape:
        failures.append("%s: shape %s vs %s" % (name, got.shape, want.shape))
        return 0.0
    tol = rel * np.abs(want) + abs_scale * (np.abs(want).max() if want.size else 0.0)
    err = np.abs(got - want)
    bad = err > tol
    if bad.any():
        i = int(np.argmax(bad))
        failures.append("%s: %d mismatches, first at %d: got %.9g want %.9g" % (name, int(bad.sum()), i, got[i], want[i]))
    scale = max(np.abs(want).max(), 1e-300) if want.size else 1.0
    return float(err.max() / scale) if err.size else 0.0


# --- MNRL in numpy ---------------------------------------------------------------

def normalize(x):
    nrm = np.sqrt((x * x).sum(axis=1, keepdims=True))
    return x / np.maximum(nrm, 1e-12), nrm


def logsumexp(x, axis):
    mx = x.max(axis=axis, keepdims=True)
    return (mx + np.log(np.exp(x - mx).sum(axis=axis, keepdims=True)))


def mnrl_np(a, c, scale, sym):
    n = a.shape[0]
    an, _ = normalize(a)
    cn, _ = normalize(c)
    S = scale * an @ cn.T
    idx = np.arange(n)
    fwd = (logsumexp(S, 1)[:, 0] - S[idx, idx]).mean()
    if not sym:
        return fwd
    B = S[:, :n].T  # row j: positive j against every anchor
    bwd = (logsumexp(B, 1)[:, 0] - B[idx, idx]).mean()
    return (fwd + bwd) / 2


def normalize_bwd(x, dy):
    """d/dx of x / max(||x||, eps) applied to dy, per row."""
    nrm = np.sqrt((x * x).sum(axis=1, keepdims=True))
    out = np.empty_like(x)
    for i in range(x.shape[0]):
        if nrm[i, 0] > 1e-12:
            y = x[i] / nrm[i, 0]
            out[i] = (dy[i] - y * (y @ dy[i])) / nrm[i, 0]
        else:
            out[i] = dy[i] / 1e-12
    return out


def mnrl_np_grad(a, c, scale, sym):
    n, m = a.shape[0], c.shape[0]
    an, _ = normalize(a)
    cn, _ = normalize(c)
    S = scale * an @ cn.T
    P = np.exp(S - logsumexp(S, 1))
    T = np.zeros((n, m))
    T[np.arange(n), np.arange(n)] = 1
    G = (P - T) / n
    if sym:
        B = S[:, :n]  # softmax over anchors (axis 0), per positive column
        Pb = np.exp(B - logsumexp(B, 0))
        Gb = (Pb - np.eye(n)) / n
        G = 0.5 * G
        G[:, :n] += 0.5 * Gb
    dan = scale * G @ cn
    dcn = scale * G.T @ an
    return normalize_bwd(a, dan), normalize_bwd(c, dcn)


def mnrl_fd(a, c, scale, sym, h=1e-6):
    out = []
    for x in (a, c):
        g = np.zeros_like(x)
        for idx in np.ndindex(x.shape):
            keep = x[idx]
            x[idx] = keep + h
            up = mnrl_np(a, c, scale, sym)
            x[idx] = keep - h
            dn = mnrl_np(a, c, scale, sym)
            x[idx] = keep
            g[idx] = (up - dn) / (2 * h)
        out.append(g)
    return out


def mnrl_torch(a, c, scale, sym):
    ta = torch.tensor(a, dtype=torch.float64, requires_grad=True)
    tc = torch.tensor(c, dtype=torch.float64, requires_grad=True)
    S = F.normalize(ta, p=2, dim=1) @ F.normalize(tc, p=2, dim=1).T * scale
    labels = torch.arange(a.shape[0])
    loss = F.cross_entropy(S, labels)
    if sym:
        loss = (loss + F.cross_entropy(S[:, : a.shape[0]].T, labels)) / 2
    loss.backward()
    return loss.item(), ta.grad.numpy(), tc.grad.numpy()


cases = [
    # n, m, E, scale, symmetric, grad_scale, note
    (1, 1, 3, 20.0, False, 1.0, ""),
    (4, 4, 8, 20.0, False, 1.0, ""),
    (4, 4, 8, 20.0, True, 1.0, ""),
    (5, 12, 16, 20.0, False, 1.0, "hard negatives"),
    (5, 12, 16, 20.0, True, 0.25, "hard negatives"),
    (8, 24, 32, 20.0, True, 1.0, "two negatives each"),
    (16, 16, 64, 20.0, False, 1.0 / 3, ""),
    (3, 6, 5, 1.0, True, 1.0, ""),
    (6, 9, 12, 50.0, False, -2.0, ""),
    (4, 6, 8, 20.0, True, 1.0, "zero rows"),
    (32, 64, 48, 20.0, True, 1.0, ""),
]
text = []
inputs = []
for n, m, E, scale, sym, gs, note in cases:
    a = rng.standard_normal((n, E)).astype(np.float32)
    c = rng.standard_normal((m, E)).astype(np.float32)
    c[:n] = (0.5 * a + 0.8 * c[:n]).astype(np.float32)  # positives related to their anchors
    if note == "zero rows":
        a[1] = 0
        c[2] = 0
        c[5] = 1e-14  # below the clamp
    inputs.append((a.astype(np.float64), c.astype(np.float64)))
    text.append("mnrl %d %d %d %r %d %r %s %s" % (n, m, E, scale, int(sym), gs, fmt(a), fmt(c)))

lines = run("\n".join(text) + "\n")
if len(lines) != 3 * len(cases):
    print("helper gave %d lines, expected %d" % (len(lines), 3 * len(cases)))
    sys.exit(1)
worst = [0.0, 0.0]
for k, ((n, m, E, scale, sym, gs, note), (a, c)) in enumerate(zip(cases, inputs)):
    name = "mnrl n=%d m=%d E=%d scale=%g sym=%d gs=%g %s" % (n, m, E, scale, sym, gs, note)
    loss_c = float(lines[3 * k].split()[1])
    da_c = np.array([float(v) for v in lines[3 * k + 1].split()[1:]]).reshape(n, E)
    dc_c = np.array([float(v) for v in lines[3 * k + 2].split()[1:]]).reshape(m, E)
    loss = mnrl_np(a, c, scale, sym)
    da, dc = mnrl_np_grad(a, c, scale, sym)
    if n * E + m * E <= 700 and note != "zero rows":  # the derivation against float64 differences
        fa, fc = mnrl_fd(a.copy(), c.copy(), scale, sym)
        check(name + " numpy grad vs differences (da)", da, fa, 1e-6, 1e-7)
        check(name + " numpy grad vs differences (dc)", dc, fc, 1e-6, 1e-7)
    check(name + " loss", [loss_c], [loss], 1e-6, 1e-12)
    worst[0] = max(worst[0], check(name + " da", da_c, gs * da, 1e-5, 1e-6))
    worst[1] = max(worst[1], check(name + " dc", dc_c, gs * dc, 1e-5, 1e-6))
    if torch is not None:
        tl, ta, tc = mnrl_torch(a, c, scale, sym)
        check(name + " loss vs torch", [loss_c], [tl], 1e-6, 1e-12)
        check(name + " da vs torch", da_c, gs * ta, 1e-5, 1e-6)
        check(name + " dc vs torch", dc_c, gs * tc, 1e-5, 1e-6)
print("mnrl: %d cases, largest gradient error relative to the largest gradient: da %.2e, dc %.2e%s"
      % (len(cases), worst[0], worst[1], "" if torch is None else " (torch %s cross-checked)" % torch.__version__))

# --- pooling -------------------------------------------------------------------------
text = []
pcases = []
for kind in (1, 2, 3):
    for lens in ([1], [3, 1, 4], [7, 2, 2, 5, 1]):
        E = 6
        gap = 1 if kind == 2 else 0  # a stray row between sequences once
        starts, t = [], 0
        for L in lens:
            starts.append(t)
            t += L + gap
        T = t
        h = rng.standard_normal((T, E)).astype(np.float32)
        dout = rng.standard_normal((len(lens), E)).astype(np.float32)
        pcases.append((kind, lens, starts, T, h, dout))
        text.append("pool %d %d %d %s %d %s %s" % (kind, len(lens), E,
                                                  " ".join("%d %d" % (s, L) for s, L in zip(starts, lens)),
                                                  T, fmt(h), fmt(dout)))
lines = run("\n".join(text) + "\n")
for k, (kind, lens, starts, T, h, dout) in enumerate(pcases):
    E = h.shape[1]
    out = np.zeros((len(lens), E))
    dh = np.zeros((T, E))
    for s, (st, L) in enumerate(zip(starts, lens)):
        rows = h[st:st + L].astype(np.float64)
        if kind == 1:
            out[s] = rows.mean(axis=0)
            dh[st:st + L] += dout[s].astype(np.float64) / L
        elif kind == 2:
            out[s] = rows[0]
            dh[st] += dout[s]
        else:
            out[s] = rows[-1]
            dh[st + L - 1] += dout[s]
    name = "pool kind=%d lens=%s" % (kind, lens)
    check(name + " out", [float(v) for v in lines[2 * k].split()[1:]], out, 1e-6, 1e-7)
    check(name + " dh", [float(v) for v in lines[2 * k + 1].split()[1:]], dh, 1e-6, 1e-7)
print("pooling: %d cases" % len(pcases))

# --- class weights ---------------------------------------------------------------------
text = []
wcases = []
for n, C in ((6, 3), (100, 5), (1000, 2), (37, 7)):
    y = rng.integers(0, C, n)
    y[:C] = np.arange(C)  # every class present (sklearn requires it)
    wcases.append((y, C))
    text.append("cw %d %d %s" % (n, C, " ".join(str(int(v)) for v in y)))
wcases.append((np.array([0, 0, 2]), 4))  # absent classes: weight 0 (sklearn would fail)
text.append("cw 3 4 0 0 2")
lines = run("\n".join(text) + "\n")
for k, (y, C) in enumerate(wcases):
    got = [float(v) for v in lines[k].split()[1:]]
    cnt = np.bincount(y, minlength=C).astype(np.float64)
    want = np.where(cnt > 0, len(y) / (C * np.maximum(cnt, 1)), 0.0)
    check("class weights case %d" % k, got, want, 1e-6)
    if compute_class_weight is not None and (cnt > 0).all():
        check("class weights case %d vs sklearn" % k, got,
              compute_class_weight("balanced", classes=np.arange(C), y=y), 1e-6)
print("class weights: %d cases%s" % (len(wcases), "" if compute_class_weight is None else " (sklearn cross-checked)"))

U.finish("all ok", show=None)
