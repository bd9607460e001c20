"""Oracle for the training kernels of oncolm/train_ops.h against numpy
(float64), through tests/helpers/train_ops_run.c:

  attention   masked softmax attention with GQA written as whole matrices
              (S = scale Q K^T with -inf outside [lo, hi), P = softmax, O = P V)
              and its textbook backward dS = P * (dP - rowsum(dP * P)) —
              a different formulation from the kernel's D = dout . out.
  rope        an explicit 2x2 rotation per pair (normal and NeoX pairing,
              freq_scale, attn_factor, freq_factors); backward = R^T dy.
  rms/layer   forward, and dx = J^T dy with the Jacobian J built as a matrix.
  xent        log-softmax cross-entropy over logits = h W^T with labels -1,
              dh = (softmax - onehot) W.

Tolerances: the kernels run in float32; every output is a sum of at most a
few hundred O(1) products, so float32 rounding gives relative errors of
~1e-6 (at most n 2^-24 ~ 2e-5 in the worst case). We allow
|got - want| <= 1e-4 (1 + |want|) (attention, norms, xent gradients), and
rope 2e-4 because the kernel computes theta as ggml does (theta *= base^(-2/n)
in float), which with positions <= 40 moves angles by < 3e-5 rad.
Exit 77 when numpy or the helper is missing.
"""
import os
import subprocess
import sys
import tempfile

try:
    import numpy as np
except ImportError as e:
    print("numpy missing (%s): skipped" % e)
    sys.exit(77)

HELPERS = os.environ.get("ONCOLM_HELPERS")
HELPER = os.path.join(HELPERS or "", "train_ops_run")
if not HELPERS or not os.path.exists(HELPER):
    print("ONCOLM_HELPERS/train_ops_run missing: skipped")
    sys.exit(77)

TMP = os.environ.get("ONCOLM_TMP") or tempfile.gettempdir()
rng = np.random.default_rng(1234)
failures = []


def run(op, arrays, args, sizes):
    inp = os.path.join(TMP, "train_ops_in.bin")
    out = os.path.join(TMP, "train_ops_out.bin")
    np.concatenate([np.asarray(a, dtype=np.float32).ravel() for a in arrays]).tofile(inp)
    subprocess.run([HELPER, op, inp, out] + [str(a) for a in args], check=True)
    data = np.fromfile(out, dtype=np.float32).astype(np.float64)
    assert data.size == sum(sizes), (op, data.size, sum(sizes))
    res, pos = [], 0
    for n in sizes:
        res.append(data[pos:pos + n])
        pos += n
    return res


def check(name, got, want, tol=1e-4):
    got = np.asarray(got, dtype=np.float64).ravel()
    want = np.asarray(want, dtype=np.float64).ravel()
    bad = np.abs(got - want) > tol * (1 + np.abs(want))
    if bad.any():
        i = int(np.argmax(bad))
        failures.append("%s: %d of %d off, first at %d: got %.8g want %.8g" % (name, int(bad.sum()), bad.size, i,
                                                                             got[i], want[i]))


def f32(a):
    return np.asarray(a, dtype=np.float32).astype(np.float64)


# --- attention -------------------------------------------------------------------
def attention_case(T, H, Hkv, Dh, lo, hi, scale):
    q = f32(rng.standard_normal((T, H, Dh)))
    k = f32(rng.standard_normal((T, Hkv, Dh)))
    v = f32(rng.standard_normal((T, Hkv, Dh)))
    dout = f32(rng.standard_normal((T, H, Dh)))
    out, lse, dq, dk, dv = run("attn", [q, k, v, dout, lo, hi], [T, H, Hkv, Dh, repr(scale)],
                               [T * H * Dh, T * H, T * H * Dh, T * Hkv * Dh, T * Hkv * Dh])
    s_idx = np.arange(T)
    mask = (s_idx[None, :] >= np.asarray(lo)[:, None]) & (s_idx[None, :] < np.asarray(hi)[:, None])
    O = np.zeros((T, H, Dh))
    L = np.zeros((T, H))
    dQ = np.zeros((T, H, Dh))
    dK = np.zeros((T, Hkv, Dh))
    dV = np.zeros((T, Hkv, Dh))
    for h in range(H):
        g = h // (H // Hkv)
        S = scale * q[:, h, :] @ k[:, g, :].T
        S = np.where(mask, S, -np.inf)
        m = S.max(axis=1, keepdims=True)
        E = np.exp(S - m)
        P = E / E.sum(axis=1, keepdims=True)
        L[:, h] = (m + np.log(E.sum(axis=1, keepdims=True)))[:, 0]
        O[:, h, :] = P @ v[:, g, :]
        dP = dout[:, h, :] @ v[:, g, :].T
        dS = P * (dP - (dP * P).sum(axis=1, keepdims=True))
        dQ[:, h, :] = scale * dS @ k[:, g, :]
        dK[:, g, :] += scale * dS.T @ q[:, h, :]
        dV[:, g, :] += P.T @ dout[:, h, :]
    tag = "attention T=%d H=%d Hkv=%d" % (T, H, Hkv)
    check(tag + " out", out, O)
    check(tag + " lse", lse, L)
    check(tag + " dq", dq, dQ)
    check(tag + " dk", dk, dK)
    check(tag + " dv", dv, dV)


T = 13
lo = [0 if t < 7 else 7 for t in range(T)]
hi = [t + 1 for t in range(T)]
attention_case(T, 4, 2, 16, lo, hi, 0.25)  # causal, two packed sequences, GQA
lo = [0 if t < 8 else 8 for t in range(T)]
hi = [6 if t < 8 else 12 for t in range(T)]
attention_case(T, 6, 3, 8, lo, hi, 0.35)  # bidirectional with padding
# longer than any tile of the kernels: three bidirectional inputs of 150,
# 97 and 53 tokens (an encoder batch), and two causal sequences with GQA
starts = [0, 150, 247, 300]
lo = [next(a for a, b in zip(starts, starts[1:]) if a <= t < b) for t in range(300)]
hi = [next(b for a, b in zip(starts, starts[1:]) if a <= t < b) for t in range(300)]
attention_case(300, 4, 4, 32, lo, hi, 1 / np.sqrt(32))
lo = [0 if t < 131 else 131 for t in range(230)]
hi = [t + 1 for t in range(230)]
attention_case(230, 8, 2, 64, lo, hi, 0.125)


# --- rope ------------------------------------------------------------------------
def rope_case(mode, n_rot, fscale, afactor, ff):
    T, H, Dh, base = 6, 2, 12, 10000.0
    x = f32(rng.standard_normal((T, H, Dh)))
    dy = f32(rng.standard_normal((T, H, Dh)))
    pos = np.array([0, 1, 5, 17, 33, 40])
    arrays = [x, pos] + ([ff] if ff is not None else []) + [dy]
    y, dx = run("rope", arrays, [T, H, Dh, n_rot, mode, base, fscale, afactor, 1 if ff is not None else 0],
                [T * H * Dh, T * H * Dh])
    half = n_rot // 2
    Y, DX = x.copy(), dy.copy()
    for t in range(T):
        for i in range(half):
            th = pos[t] * fscale * base ** (-2.0 * i / n_rot) / (ff[i] if ff is not None else 1.0)
            R = afactor * np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]])
            a, b = (2 * i, 2 * i + 1) if mode == 0 else (i, i + half)
            for h in range(H):
                Y[t, h, [a, b]] = R @ x[t, h, [a, b]]
                DX[t, h, [a, b]] = R.T @ dy[t, h, [a, b]]
    tag = "rope mode=%d n_rot=%d ff=%s" % (mode, n_rot, ff is not None)
    check(tag + " fwd", y, Y, 2e-4)
    check(tag + " bwd", dx, DX, 2e-4)


for mode in (0, 2):
    rope_case(mode, 12, 1.0, 1.0, None)
    rope_case(mode, 8, 0.5, 1.3, np.array([1.0, 2.0, 4.0, 9.5]))


# --- norms -----------------------------------------------------------------------
def norm_case(layer):
    T, D, eps = 4, 10, 1e-5
    x = f32(rng.standard_normal((T, D)) + (0.5 if layer else 0.0))
    w = f32(rng.standard_normal(D))
    b = f32(rng.standard_normal(D))
    dy = f32(rng.standard_normal((T, D)))
    if layer:
        y, dx, dw, db = run("layernorm", [x, w, b, dy], [T, D, eps], [T * D, T * D, D, D])
    else:
        y, dx, dw = run("rmsnorm", [x, w, dy], [T, D, eps], [T * D, T * D, D])
    Y = np.zeros((T, D))
    DX = np.zeros((T, D))
    DW = np.zeros(D)
    for t in range(T):
        xr = x[t]
        if layer:
            mu = xr.mean()
            r = 1 / np.sqrt(((xr - mu) ** 2).mean() + eps)
            xh = (xr - mu) * r
            Y[t] = xh * w + b
            J = (w * r)[:, None] * (np.eye(D) - 1.0 / D - np.outer(xh, xh) / D)
            DW += dy[t] * xh
        else:
            r = 1 / np.sqrt((xr ** 2).mean() + eps)
            Y[t] = xr * r * w
            J = (w * r)[:, None] * (np.eye(D) - np.outer(xr, xr) * r * r / D)
            DW += dy[t] * xr * r
        DX[t] = J.T @ dy[t]
    tag = "layernorm" if layer else "rmsnorm"
    check(tag + " y", y, Y)
    check(tag + " dx", dx, DX)
    check(tag + " dw", dw, DW)
    if layer:
        check(tag + " db", db, dy.sum(axis=0))


norm_case(False)
norm_case(True)

# --- cross-entropy ----------------------------------------------------------------
T, E, V = 45, 32, 50
h = f32(rng.standard_normal((T, E)))
W = f32(0.3 * rng.standard_normal((V, E)))
labels = rng.integers(0, V, T)
labels[[2, 10, 33]] = -1
loss, n, dh = run("xent", [h, W, labels], [T, E, V], [1, 1, T * E])
Z = h @ W.T
m = Z.max(axis=1, keepdims=True)
lse = (m + np.log(np.exp(Z - m).sum(axis=1, keepdims=True)))[:, 0]
keep = labels >= 0
want_loss = float((lse - Z[np.arange(T), np.where(keep, labels, 0)])[keep].sum())
G = np.exp(Z - lse[:, None])
G[np.arange(T), np.where(keep, labels, 0)] -= 1
G[~keep] = 0
check("xent loss", loss, want_loss)
check("xent n", n, keep.sum(), 0)
check("xent dh", dh, G @ W)

if failures:
    print("\n".join(failures))
    sys.exit(1)
print("train_ops oracle: all checks passed")
