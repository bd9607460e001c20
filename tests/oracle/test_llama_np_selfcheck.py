"""Self-checks of the numpy reference forward pass (tests/oracle/llama_np.py)
that need no C code at all, so the oracle itself is proven before it is used
to judge the C engine (test_forward_oracle.py):

 1. rope known answers: sign convention and pairing of NORM and NEOX on unit
    vectors; position 0 is the identity; rotation keeps the norm; q.k depends
    only on the position difference (with freq factors and n_rot < head_dim).
 2. NORM rope on the converter-permuted Q/K rows (convert_hf_to_gguf.py
    LlamaModel.permute, reference Q3) == NEOX rope on the HF rows: a llama
    model and a NEOX (qwen2-style) model built from the same HF weights give
    the same logits; without the permute they differ (control).
 3. phi3 fused attn_qkv [Q|K|V] and ffn_up [gate|up] == the split tensors.
 4. attention known answers: uniform attention when Wq = 0 (the output is the
    running mean of V), the 1/sqrt(head_dim) scale on a 2-token example.
 5. causal invariance: logits of a prefix do not change when tokens are
    appended; token-by-token and chunked KV-cache evaluation == batch.
 6. GQA (n_head_kv < n_head) == the model with K/V heads repeated per group.
 7. tied output == output.weight equal to token_embd.
 8. rope_freqs all 1 == none; rope_freqs all c == linear scaling factor c;
    phi3 picks rope_factors_long only when n_ctx > original context.
 9. GGUF round trip: a model written with gguf_np.Writer (F32) and loaded back
    with llama_np.load gives the same logits (checks the metadata keys and
    the tensor orientation of the loader).

Run with Debian's /usr/bin/python3 (numpy). Exit 77 = skipped.
"""
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import oracle_util as U  # noqa: E402

np = U.need("numpy")

import gguf_np  # noqa: E402
import llama_np as L  # noqa: E402

failures = U.failures


U.configure_checks(verbose=True)
check = U.check


def close(a, b, tol=1e-10):
    a, b = np.asarray(a), np.asarray(b)
    err = float(np.max(np.abs(a - b)) / max(1e-300, float(np.max(np.abs(b)))))
    return err <= tol, err


def copy_model(m, arch=None, **hp_changes):
    hp = L.HParams(**{k: getattr(m.hp, k) for k in (
        "arch", "n_vocab", "n_embd", "n_layer", "n_ff", "n_head", "n_head_kv", "head_dim",
        "head_dim_v", "n_rot", "rms_eps", "freq_base", "freq_scale", "n_ctx_train", "n_ctx_orig")})
    if arch is not None:
        hp.arch, hp.rope = arch, L.ARCH_ROPE[arch]
    for k, v in hp_changes.items():
        setattr(hp, k, v)
    return L.Model(hp, {k: v.copy() for k, v in m.w.items()})


IDS = [3, 17, 5, 42, 0, 9, 9, 31, 12, 7, 44]


# 1 ---------------------------------------------------------------------------------
def check_rope_known():
    hp = L.HParams("llama", 10, 16, 1, 8, 2, n_rot=8, freq_base=100.0)
    ff = np.ones(4)
    theta = L.rope_angles(hp, [0, 1, 3], ff)
    want = np.array([[0, 0, 0, 0], [1, 100 ** -0.25, 100 ** -0.5, 100 ** -0.75],
                     [3, 3 * 100 ** -0.25, 3 * 100 ** -0.5, 3 * 100 ** -0.75]])
    check(np.allclose(theta, want, rtol=1e-15, atol=0), "rope angles pos*base^(-2i/n_rot)")
    d = 8  # head_dim 8, n_rot 8
    for mode, partner in ((L.ROPE_NORM, lambda i: (2 * i, 2 * i + 1)), (L.ROPE_NEOX, lambda i: (i, i + 4))):
        ok = True
        for i in range(4):
            a, b = partner(i)
            th = L.rope_angles(hp, [1], ff)
            x = np.zeros((1, 1, d))
            x[0, 0, a] = 1.0
            y = L.rope(x, th, mode)[0, 0]
            want = np.zeros(d)
            want[a], want[b] = np.cos(th[0, i]), np.sin(th[0, i])  # (x0 cos - x1 sin, x0 sin + x1 cos)
            ok &= np.allclose(y, want, atol=1e-15)
            x = np.zeros((1, 1, d))
            x[0, 0, b] = 1.0
            y = L.rope(x, th, mode)[0, 0]
            want = np.zeros(d)
            want[a], want[b] = -np.sin(th[0, i]), np.cos(th[0, i])
            ok &= np.allclose(y, want, atol=1e-15)
        check(ok, "rope %s rotates the right pairs with the right sign" % mode)
    rng = np.random.default_rng(1)
    hp = L.HParams("phi3", 10, 48, 1, 8, 2, head_dim=24, n_rot=16, freq_base=500.0)
    ff = 1.0 + 3.0 * rng.random(8)
    for mode in (L.ROPE_NORM, L.ROPE_NEOX):
        q = rng.standard_normal((1, 2, 24))
        k = rng.standard_normal((1, 2, 24))
        th0 = L.rope_angles(hp, [0], ff)
        ok0 = np.allclose(L.rope(q, th0, mode), q, atol=0)
        rq = L.rope(q, L.rope_angles(hp, [7], ff), mode)
        keep = np.allclose(rq[..., 16:], q[..., 16:], atol=0)
        norm = np.allclose(np.linalg.norm(rq, axis=-1), np.linalg.norm(q, axis=-1), rtol=1e-13)
        dots = []
        for m_, n_ in ((5, 2), (9, 6), (103, 100)):
            a = L.rope(q, L.rope_angles(hp, [m_], ff), mode)
            b = L.rope(k, L.rope_angles(hp, [n_], ff), mode)
            dots.append(np.sum(a * b, axis=-1))
        rel = np.allclose(dots[0], dots[1], rtol=1e-11) and np.allclose(dots[0], dots[2], rtol=1e-9)
        check(ok0 and keep and norm and rel,
              "rope %s: identity at 0, dims >= n_rot untouched, norm kept, q.k relative" % mode)


# 2 ---------------------------------------------------------------------------------
def check_norm_vs_neox():
    for n_head, n_head_kv in ((4, 4), (4, 2)):
        hf = L.random_model("qwen2", n_head=n_head, n_head_kv=n_head_kv, seed=2, biases=True)
        ll = copy_model(hf, arch="llama")
        for il in range(hf.hp.n_layer):
            p = "blk.%d." % il
            for t in ("weight", "bias"):
                ll.w[p + "attn_q." + t] = L.permute_qk(hf.w[p + "attn_q." + t], n_head, n_head)
                ll.w[p + "attn_k." + t] = L.permute_qk(hf.w[p + "attn_k." + t], n_head, n_head_kv)
        ok, err = close(L.forward(ll, IDS), L.forward(hf, IDS))
        check(ok, "NORM(permuted Q/K) == NEOX(HF rows), heads %d/%d (rel err %.2e)" % (n_head, n_head_kv, err))
        ok2, err2 = close(L.forward(copy_model(hf, arch="llama"), IDS), L.forward(hf, IDS), tol=1e-3)
        check(not ok2, "control: NORM without the permute differs from NEOX (rel err %.2e)" % err2)


# 3 ---------------------------------------------------------------------------------
def check_phi3_fused():
    ph = L.random_model("phi3", seed=3)
    sp = copy_model(ph, arch="qwen2")  # NEOX, split tensors, no biases
    hp = ph.hp
    n_q, n_k = hp.n_head * hp.head_dim, hp.n_head_kv * hp.head_dim
    for il in range(hp.n_layer):
        p = "blk.%d." % il
        f = sp.w.pop(p + "attn_qkv.weight")
        sp.w[p + "attn_q.weight"], sp.w[p + "attn_k.weight"], sp.w[p + "attn_v.weight"] = (
            f[:n_q], f[n_q:n_q + n_k], f[n_q + n_k:])
        gu = sp.w.pop(p + "ffn_up.weight")
        sp.w[p + "ffn_gate.weight"], sp.w[p + "ffn_up.weight"] = gu[:hp.n_ff], gu[hp.n_ff:]
    ok, err = close(L.forward(ph, IDS), L.forward(sp, IDS))
    check(ok, "phi3 fused qkv/gate|up == split tensors (rel err %.2e)" % err)


# 4 ---------------------------------------------------------------------------------
def check_attention_known():
    m = L.random_model("llama", n_layer=1, seed=4, n_head=4, n_head_kv=2)
    hp = m.hp
    m.w["blk.0.attn_q.weight"][:] = 0.0
    m.w["blk.0.ffn_down.weight"][:] = 0.0
    e = m.w["token_embd.weight"][IDS]
    want = np.zeros((len(IDS), hp.n_vocab))
    for t in range(len(IDS)):
        acc = np.zeros(hp.n_embd)
        for s in range(t + 1):
            h = e[s] / np.sqrt(np.mean(e[s] ** 2) + hp.rms_eps) * m.w["blk.0.attn_norm.weight"]
            v = m.w["blk.0.attn_v.weight"] @ h  # [n_head_kv * hd]
            heads = [v[(hh // 2) * hp.head_dim:(hh // 2 + 1) * hp.head_dim] for hh in range(hp.n_head)]
            acc += np.concatenate(heads) / (t + 1)
        x = e[t] + m.w["blk.0.attn_output.weight"] @ acc
        x = x / np.sqrt(np.mean(x ** 2) + hp.rms_eps) * m.w["output_norm.weight"]
        want[t] = m.w["output.weight"] @ x
    ok, err = close(L.forward(m, IDS), want)
    check(ok, "Wq = 0: attention is the running mean of V (GQA heads) (rel err %.2e)" % err)

    hp = L.HParams("llama", 4, 8, 1, 4, 1, head_dim=8)
    q = np.zeros((2, 1, 8))
    k = np.zeros((2, 1, 8))
    v = np.zeros((2, 1, 8))
    q[1, 0, 0] = 3.0
    k[0, 0, 0] = 1.0  # score 3/sqrt(8) for key 0, 0 for key 1
    v[0, 0, 0], v[1, 0, 0] = 1.0, -1.0
    out = L.attention(hp, q, k, v, [0, 1], [0, 1])
    p0 = np.exp(3 / np.sqrt(8)) / (np.exp(3 / np.sqrt(8)) + 1)
    check(abs(out[0, 0] - 1.0) < 1e-15 and abs(out[1, 0] - (p0 - (1 - p0))) < 1e-15,
          "attention scale 1/sqrt(head_dim) and causal mask on a 2-token example")


# 5 ---------------------------------------------------------------------------------
def check_causal():
    for arch in ("llama", "qwen2", "phi3"):
        m = L.random_model(arch, seed=5)
        full = L.forward(m, IDS)
        pre = L.forward(m, IDS[:6])
        ok, err = close(pre, full[:6], tol=1e-12)
        check(ok, "%s: prefix logits unchanged by appended tokens (rel err %.2e)" % (arch, err))
        c = L.KVCache(m)
        inc = np.concatenate([c.eval([t]) for t in IDS])
        ok, err = close(inc, full, tol=1e-12)
        check(ok, "%s: token-by-token KV cache == batch (rel err %.2e)" % (arch, err))
        c = L.KVCache(m)
        chk = np.concatenate([c.eval(IDS[i:i + 4]) for i in range(0, len(IDS), 4)])
        ok, err = close(chk, full, tol=1e-12)
        check(ok, "%s: chunks of 4 == batch (rel err %.2e)" % (arch, err))
        g, gaps = L.greedy(m, IDS[:3], 5)
        seq = list(IDS[:3])
        g2 = []
        for _ in range(5):
            t = int(np.argmax(L.forward(m, seq)[-1]))
            g2.append(t)
            seq.append(t)
        check(g == g2 and len(gaps) == 5, "%s: greedy (KV cache) == argmax of full forward" % arch)


# 6 ---------------------------------------------------------------------------------
def check_gqa():
    for arch in ("llama", "qwen2", "phi3"):
        m = L.random_model(arch, n_head=4, n_head_kv=2, seed=6)
        e = copy_model(m, n_head_kv=4)
        hd, hp = m.hp.head_dim, m.hp

        def expand(w):  # rows of kv head g -> heads 2g, 2g+1
            blocks = [w[(hh // 2) * hd:(hh // 2 + 1) * hd] for hh in range(hp.n_head)]
            return np.concatenate(blocks)
        for il in range(hp.n_layer):
            p = "blk.%d." % il
            if arch == "phi3":
                f = e.w[p + "attn_qkv.weight"]
                n_q, n_k = hp.n_head * hd, hp.n_head_kv * hd
                e.w[p + "attn_qkv.weight"] = np.concatenate(
                    [f[:n_q], expand(f[n_q:n_q + n_k]), expand(f[n_q + n_k:])])
            else:
                for n in ("attn_k.weight", "attn_v.weight", "attn_k.bias", "attn_v.bias"):
                    if p + n in e.w:
                        e.w[p + n] = expand(e.w[p + n])
        ok, err = close(L.forward(m, IDS), L.forward(e, IDS), tol=1e-12)
        check(ok, "%s: GQA 4/2 == MHA with repeated K/V heads (rel err %.2e)" % (arch, err))


# 7, 8 ------------------------------------------------------------------------------
def check_tied_and_freqs():
    m = L.random_model("llama", seed=7, tied=True)
    u = copy_model(m)
    u.w["output.weight"] = m.w["token_embd.weight"].copy()
    ok, err = close(L.forward(m, IDS), L.forward(u, IDS), tol=0)
    check(ok, "tied output == output.weight copy of token_embd")

    m = L.random_model("llama", seed=8, n_embd=48, n_head=3, n_head_kv=1)
    base = L.forward(m, IDS)
    ones = copy_model(m)
    ones.w["rope_freqs.weight"] = np.ones(m.hp.n_rot // 2)
    ok, err = close(L.forward(ones, IDS), base, tol=0)
    check(ok, "rope_freqs all ones == no rope_freqs")
    c = copy_model(m)
    c.w["rope_freqs.weight"] = np.full(m.hp.n_rot // 2, 2.5)
    lin = copy_model(m, freq_scale=1 / 2.5)
    ok, err = close(L.forward(c, IDS), L.forward(lin, IDS), tol=1e-12)
    check(ok, "rope_freqs all 2.5 == linear scaling factor 2.5 (rel err %.2e)" % err)
    ok2, err2 = close(L.forward(c, IDS), base, tol=1e-3)
    check(not ok2, "control: rope_freqs 2.5 changes the logits (rel err %.2e)" % err2)

    ph = L.random_model("phi3", seed=9, n_ctx_train=64, n_ctx_orig=32)
    rng = np.random.default_rng(9)
    long_f, short_f = 1 + 4 * rng.random(ph.hp.n_rot // 2), 1 + rng.random(ph.hp.n_rot // 2)
    ph.w["rope_factors_long.weight"], ph.w["rope_factors_short.weight"] = long_f, short_f
    a, b = copy_model(ph), copy_model(ph)
    del a.w["rope_factors_long.weight"], a.w["rope_factors_short.weight"]
    del b.w["rope_factors_long.weight"], b.w["rope_factors_short.weight"]
    a.w["rope_freqs.weight"], b.w["rope_freqs.weight"] = short_f, long_f
    ok1, e1 = close(L.forward(ph, IDS, n_ctx=32), L.forward(a, IDS), tol=0)
    ok2, e2 = close(L.forward(ph, IDS, n_ctx=33), L.forward(b, IDS), tol=0)
    check(ok1 and ok2, "phi3 longrope: short factors for n_ctx <= orig ctx, long above")


# 9 ---------------------------------------------------------------------------------
def write_gguf(m, path):
    hp, a = m.hp, m.hp.arch
    w = gguf_np.Writer()
    w.add("general.architecture", gguf_np.STRING, a)
    for key, val in (("context_length", hp.n_ctx_train), ("embedding_length", hp.n_embd),
                     ("block_count", hp.n_layer), ("feed_forward_length", hp.n_ff),
                     ("attention.head_count", hp.n_head), ("attention.head_count_kv", hp.n_head_kv),
                     ("rope.dimension_count", hp.n_rot)):
        w.add("%s.%s" % (a, key), gguf_np.UINT32, val)
    w.add(a + ".attention.layer_norm_rms_epsilon", gguf_np.FLOAT32, hp.rms_eps)
    w.add(a + ".rope.freq_base", gguf_np.FLOAT32, hp.freq_base)
    for name, arr in m.w.items():
        w.add_tensor(name, 0, tuple(reversed(arr.shape)), arr.astype("<f4"))
    w.write(path)


def check_roundtrip():
    with tempfile.TemporaryDirectory() as d:
        for arch in ("llama", "qwen2", "phi3"):
            m = L.random_model(arch, seed=10, n_rot=4 if arch != "llama" else None,
                               rms_eps=1e-6, freq_base=5000.0)
            for k in m.w:  # what float32 storage keeps
                m.w[k] = m.w[k].astype(np.float32).astype(np.float64)
            path = os.path.join(d, arch + ".gguf")
            write_gguf(m, path)
            r = L.load(path)
            same_hp = all(getattr(r.hp, k) == getattr(m.hp, k) for k in (
                "n_embd", "n_layer", "n_ff", "n_head", "n_head_kv", "n_rot", "head_dim", "rope", "n_vocab"))
            ok, err = close(L.forward(r, IDS), L.forward(m, IDS), tol=1e-6)  # eps stored as f32
            check(same_hp and ok, "%s: GGUF round trip (rel err %.2e)" % (arch, err))


def main():
    check_rope_known()
    check_norm_vs_neox()
    check_phi3_fused()
    check_attention_known()
    check_causal()
    check_gqa()
    check_tied_and_freqs()
    check_roundtrip()
    U.finish("all self-checks passed")


if __name__ == "__main__":
    main()
