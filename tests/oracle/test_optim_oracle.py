"""Oracle for oncolm/optim.h (AdamW, learning-rate schedules, gradient
clipping) against the published formulas, written here in numpy:

  AdamW      torch.optim.AdamW, torch 1.13 torch/optim/adamw.py
             _single_tensor_adamw (decoupled decay; Loshchilov & Hutter,
             arXiv 1711.05101, Algorithm 2):
               param.mul_(1 - lr * weight_decay)
               exp_avg.mul_(beta1).add_(grad, alpha=1 - beta1)
               exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
               bias_correction1 = 1 - beta1 ** step
               bias_correction2 = 1 - beta2 ** step
               step_size = lr / bias_correction1
               denom = (exp_avg_sq.sqrt() / math.sqrt(bias_correction2)).add_(eps)
               param.addcdiv_(exp_avg, denom, value=-step_size)
  schedules  transformers/optimization.py: get_constant_schedule,
             get_constant_schedule_with_warmup, get_linear_schedule_with_warmup,
             get_cosine_schedule_with_warmup (num_cycles=0.5) lr_lambda's,
             times the base lr (LambdaLR)
  clipping   torch/nn/utils/clip_grad.py clip_grad_norm_ (norm_type 2):
             total = ||(||g_1||, ..., ||g_k||)||, clip_coef = max_norm / (total + 1e-6),
             grads *= clamp(clip_coef, max=1)

Tolerances. AdamW: two oracles. (a) float32 emulation in numpy with the
same operation order and scalars rounded to float32 once as torch does; the
C code performs the very same IEEE operations, so agreement is expected to
be exact; we allow rel 1e-6 (+ abs 1e-7 for values crossing zero), i.e.
a few float32 ulps. (b) an independent float64 evaluation of the textbook
formula: 20 float32 steps accumulate ~1 ulp of rounding per step, so rel
1e-4 / abs 1e-5 there. Schedules: double arithmetic as Python, rel 1e-15.
Clipping: the total norm is a double sum in both (rel 1e-12); clipped
values are float32 products (rel 1e-6).

When torch is importable the same cases are also run through
torch.optim.AdamW and torch.nn.utils.clip_grad_norm_ (rel 1e-6); otherwise
that part is skipped with a note. transformers is not needed: its schedule
formulas are written out below. Exit 77 when the helper or numpy is missing.
"""
import math
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import oracle_util as U  # noqa: E402

np = U.need("numpy")
HELPER = U.need_helper("optim_run")

failures = U.failures
f32 = np.float32


def run(text):
    return subprocess.run([HELPER], input=text, capture_output=True, text=True,
                          check=True).stdout.splitlines()


def num(x):
    return repr(float(x))


def check_arr(name, got, want, rel, abs_):
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    if got.shape != want.shape:
        failures.append("%s: shape %s vs %s" % (name, got.shape, want.shape))
        return
    bad = np.abs(got - want) > np.maximum(rel * np.abs(want), abs_)
    if bad.any():
        i = int(np.argmax(bad))
        failures.append("%s: %d mismatches, first at %d: got %.9g want %.9g"
                        % (name, int(bad.sum()), i, got.flat[i], want.flat[i]))


# ---------------------------------------------------------------- schedules

def hf_lambda(kind, step, warmup, total):
    """transformers/optimization.py lr_lambda bodies, verbatim arithmetic."""
    if kind == "constant":
        return 1.0
    if step < warmup:
        return float(step) / float(max(1, warmup))
    if kind == "constant_with_warmup":
        return 1.0
    if kind == "linear":
        return max(0.0, float(total - step) / float(max(1, total - warmup)))
    if kind == "cosine":
        num_cycles = 0.5
        progress = float(step - warmup) / float(max(1, total - warmup))
        return max(0.0, 0.5 * (1.0 + math.cos(math.pi * float(num_cycles) * 2.0 * progress)))
    raise ValueError(kind)


def test_schedules():
    cases = []
    for kind in ("constant", "constant_with_warmup", "linear", "cosine"):
        for warmup, total in ((0, 0), (0, 1), (0, 10), (3, 10), (10, 10), (12, 10), (30, 1000), (1, 7)):
            steps = set(range(0, min(total + 3, 40)))
            steps |= {warmup - 1, warmup, warmup + 1, total - 1, total, total + 1, total + 50}
            for s in sorted(x for x in steps if x >= 0):
                cases.append((kind, 2e-4, s, warmup, total))
    out = run("".join("sched %s %s %d %d %d\n" % (k, num(b), s, w, t) for k, b, s, w, t in cases))
    assert len(out) == len(cases), (len(out), len(cases))
    for (k, b, s, w, t), line in zip(cases, out):
        want = b * hf_lambda(k, s, w, t)
        got = float(line)
        if not abs(got - want) <= 1e-15 * abs(want) + 1e-300:
            failures.append("sched %s step %d warmup %d total %d: got %.17g want %.17g" % (k, s, w, t, got, want))
    # Landmarks stated by the HF docs.
    lin = lambda s: float(run("sched linear 1 %d 10 110\n" % s)[0])
    if lin(0) != 0.0 or lin(5) != 0.5 or lin(10) != 1.0 or lin(60) != 0.5 or lin(110) != 0.0 or lin(200) != 0.0:
        failures.append("linear landmarks wrong")
    cos = lambda s: float(run("sched cosine 1 %d 10 110\n" % s)[0])
    if cos(10) != 1.0 or abs(cos(60) - 0.5) > 1e-15 or cos(110) != 0.0:
        failures.append("cosine landmarks wrong")
    if not run("sched nope 1 0 0 0\n")[0].startswith("err "):
        failures.append("bad schedule name accepted")


# ---------------------------------------------------------------- clipping

def test_clip(rng, torch):
    for max_norm, scale in ((1.0, 1.0), (1.0, 0.01), (0.3, 3.0), (5.0, 1.0), (1e-3, 100.0)):
        groups = [(rng.standard_normal(n) * scale).astype(f32) for n in (7, 1, 33, 64)]
        text = "clip %s %d\n" % (num(max_norm), len(groups))
        text += "".join("%d %s\n" % (len(g), " ".join(num(x) for x in g)) for g in groups)
        out = run(text)
        got_norm = float(out[0].split()[1])
        total = math.sqrt(sum(float(np.sum(g.astype(np.float64) ** 2)) for g in groups))
        check_arr("clip norm max=%g" % max_norm, [got_norm], [total], 1e-12, 0.0)
        coef = max_norm / (total + 1e-6)
        for k, g in enumerate(groups):
            want = g * f32(coef) if coef < 1 else g
            check_arr("clip group %d max=%g" % (k, max_norm), [float(x) for x in out[1 + k].split()],
                      want, 1e-6, 0.0)
            if coef >= 1 and not np.array_equal(np.array(out[1 + k].split(), dtype=f32), g):
                failures.append("clip max=%g changed gradients below the threshold" % max_norm)
        if torch is not None:
            # clip_grad_norm_ reads and scales the .grad of parameters
            ps = [torch.nn.Parameter(torch.zeros(len(g))) for g in groups]
            for q, g in zip(ps, groups):
                q.grad = torch.tensor(g.copy())
            tn = float(torch.nn.utils.clip_grad_norm_(ps, max_norm))
            check_arr("torch clip norm max=%g" % max_norm, [got_norm], [tn], 1e-6, 0.0)
            for k, q in enumerate(ps):
                check_arr("torch clip group %d" % k, [float(x) for x in out[1 + k].split()],
                          q.grad.numpy(), 1e-6, 1e-12)


# ---------------------------------------------------------------- AdamW

def adamw_f32(params, decays, grads_seq, lrs, max_norm, b1, b2, eps, wd):
    """float32 emulation of torch's _single_tensor_adamw (+ clip_grad_norm_)."""
    p = [x.copy() for x in params]
    m = [np.zeros_like(x) for x in params]
    v = [np.zeros_like(x) for x in params]
    norms = []
    for step, (grads, lr) in enumerate(zip(grads_seq, lrs), start=1):
        grads = [g.copy() for g in grads]
        if max_norm > 0:
            total = math.sqrt(sum(float(np.sum(g.astype(np.float64) ** 2)) for g in grads))
            norms.append(total)
            coef = max_norm / (total + 1e-6)
            if coef < 1:
                grads = [g * f32(coef) for g in grads]
        bc1 = 1 - b1 ** step
        bc2 = 1 - b2 ** step
        for k in range(len(p)):
            if decays[k] and wd != 0:
                p[k] = p[k] * f32(1 - lr * wd)
            m[k] = m[k] * f32(b1) + f32(1 - b1) * grads[k]
            v[k] = v[k] * f32(b2) + (f32(1 - b2) * grads[k]) * grads[k]
            denom = np.sqrt(v[k]) / f32(math.sqrt(bc2)) + f32(eps)
            p[k] = p[k] + (f32(-(lr / bc1)) * m[k]) / denom
    return p, m, v, norms


def adamw_f64(params, decays, grads_seq, lrs, max_norm, b1, b2, eps, wd):
    """Textbook AdamW (decoupled decay) in float64."""
    p = [x.astype(np.float64) for x in params]
    m = [np.zeros_like(x) for x in p]
    v = [np.zeros_like(x) for x in p]
    for t, (grads, lr) in enumerate(zip(grads_seq, lrs), start=1):
        g = [x.astype(np.float64) for x in grads]
        if max_norm > 0:
            total = math.sqrt(sum(float(np.sum(x ** 2)) for x in g))
            c = min(1.0, max_norm / (total + 1e-6))
            g = [x * c for x in g]
        for k in range(len(p)):
            if decays[k]:
                p[k] = p[k] * (1 - lr * wd)
            m[k] = b1 * m[k] + (1 - b1) * g[k]
            v[k] = b2 * v[k] + (1 - b2) * g[k] ** 2
            mhat = m[k] / (1 - b1 ** t)
            vhat = v[k] / (1 - b2 ** t)
            p[k] = p[k] - lr * mhat / (np.sqrt(vhat) + eps)
    return p, m, v


def adamw_torch(torch, params, decays, grads_seq, lrs, max_norm, b1, b2, eps, wd):
    ps = [torch.nn.Parameter(torch.tensor(x)) for x in params]
    groups = [{"params": [q], "weight_decay": wd if d else 0.0} for q, d in zip(ps, decays)]
    opt = torch.optim.AdamW(groups, lr=1.0, betas=(b1, b2), eps=eps, weight_decay=wd, foreach=False)
    for grads, lr in zip(grads_seq, lrs):
        for q, g in zip(ps, grads):
            q.grad = torch.tensor(g.copy())
        if max_norm > 0:
            torch.nn.utils.clip_grad_norm_(ps, max_norm)
        for grp in opt.param_groups:
            grp["lr"] = lr
        opt.step()
    return [q.detach().numpy() for q in ps], [opt.state[q]["exp_avg"].numpy() for q in ps], \
           [opt.state[q]["exp_avg_sq"].numpy() for q in ps]


def test_adamw(rng, torch):
    configs = [
        # b1, b2, eps, wd, max_norm, schedule, base lr
        (0.9, 0.999, 1e-8, 0.01, 0.0, "constant", 1e-3),
        (0.9, 0.999, 1e-8, 0.01, 1.0, "cosine", 1e-2),
        (0.8, 0.95, 1e-6, 0.1, 0.3, "linear", 2e-4),
        (0.0, 0.5, 1e-8, 0.0, 0.0, "constant_with_warmup", 5e-2),
    ]
    sizes = [(13, True), (1, False), (64, True), (5, False)]
    steps = 20
    for ci, (b1, b2, eps, wd, max_norm, sched, base) in enumerate(configs):
        params = [rng.standard_normal(n).astype(f32) for n, _ in sizes]
        decays = [d for _, d in sizes]
        grads_seq = [[(rng.standard_normal(n) * 0.5).astype(f32) for n, _ in sizes] for _ in range(steps)]
        if ci == 3:  # exact zeros and tiny gradients (denominator dominated by eps)
            for gs in grads_seq:
                gs[3][:] = f32(0)
                gs[1][:] = f32(1e-9)
        lrs = [base * hf_lambda(sched, s, 3, steps) for s in range(steps)]
        text = "adamw %s %s %s %s %d\n" % (num(b1), num(b2), num(eps), num(wd), len(sizes))
        for x, d in zip(params, decays):
            text += "%d %d %s\n" % (len(x), int(d), " ".join(num(y) for y in x))
        text += "%d\n" % steps
        for gs, lr in zip(grads_seq, lrs):
            text += "%s %s %s\n" % (num(lr), num(max_norm), " ".join(num(y) for g in gs for y in g))
        out = run(text)
        got_norms = [float(l.split()[1]) for l in out if l.startswith("norm ")]
        rest = [l for l in out if not l.startswith("norm ")]
        got = {}
        for l in rest:
            f = l.split()
            got[(f[0], int(f[1]))] = np.array([float(y) for y in f[2:]])
        p32, m32, v32, norms = adamw_f32(params, decays, grads_seq, lrs, max_norm, b1, b2, eps, wd)
        p64, m64, v64 = adamw_f64(params, decays, grads_seq, lrs, max_norm, b1, b2, eps, wd)
        check_arr("adamw cfg %d norms" % ci, got_norms, norms, 1e-12, 0.0)
        exact = True
        for k in range(len(sizes)):
            for tag, w32, w64 in (("p", p32, p64), ("m", m32, m64), ("v", v32, v64)):
                g = got[(tag, k)]
                check_arr("adamw cfg %d %s%d vs f32 oracle" % (ci, tag, k), g, w32[k], 1e-6, 1e-7)
                check_arr("adamw cfg %d %s%d vs f64 formula" % (ci, tag, k), g, w64[k], 1e-4, 1e-5)
                exact = exact and np.array_equal(g.astype(f32), w32[k])
        print("adamw cfg %d: %s the float32 oracle" % (ci, "bit-identical to" if exact else "within tolerance of"))
        if torch is not None:
            pt, mt, vt = adamw_torch(torch, params, decays, grads_seq, lrs, max_norm, b1, b2, eps, wd)
            for k in range(len(sizes)):
                check_arr("adamw cfg %d p%d vs torch" % (ci, k), got[("p", k)], pt[k], 1e-6, 1e-7)
                check_arr("adamw cfg %d m%d vs torch" % (ci, k), got[("m", k)], mt[k], 1e-6, 1e-7)
                check_arr("adamw cfg %d v%d vs torch" % (ci, k), got[("v", k)], vt[k], 1e-6, 1e-12)


def main():
    try:
        import torch  # noqa: F401
        torch.set_num_threads(1)
        print("torch %s: cross-checking AdamW and clip_grad_norm_ against it" % torch.__version__)
    except Exception as e:  # ImportError, or a broken install
        torch = None
        print("note: torch not importable (%s): torch cross-check skipped, numpy oracle only" % e)
    rng = np.random.default_rng(20261123)
    test_schedules()
    test_clip(rng, torch)
    test_adamw(rng, torch)
    U.finish("ok", show=50)


if __name__ == "__main__":
    main()
