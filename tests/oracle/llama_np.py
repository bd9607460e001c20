"""llama_np.py — an independent float64 numpy forward pass for the decoder
architectures llama, qwen2 and phi3, written from the published facts in
shared/reference/gguf-and-llama-formats.md (Q3) and llama.cpp's semantics,
NOT from oncolm's C code. It is the reference the C engine is checked
against (tests/oracle/test_forward_oracle.py) and is itself checked by
tests/oracle/test_llama_np_selfcheck.py.

    m = load(path)                       # or Model(hp, weights)
    logits = forward(m, ids)             # float64 [n_tokens, n_vocab]
    new_ids, gaps = greedy(m, ids, n_new)

Semantics (llama.cpp):
  x = token_embd[ids]
  per layer:
    h = rms_norm(x) * attn_norm               rms_norm(v) = v / sqrt(mean(v^2) + eps)
    q, k, v = Wq h (+bq), Wk h (+bk), Wv h (+bv)     (phi3: one fused Wqkv, rows [Q | K | V])
    q, k = rope(q), rope(k)                   NORM (llama): pairs (x[2i], x[2i+1])
                                              NEOX (qwen2, phi3): pairs (x[i], x[i + n_rot/2])
                                              theta_i = pos * freq_scale * base^(-2i/n_rot) / ff[i]
                                              only the first n_rot dims of a head are rotated
    head h reads kv head h // (n_head / n_head_kv)   (GQA)
    a = softmax(q k^T / sqrt(head_dim) + causal mask) v
    x = x + Wo a (+bo)
    h = rms_norm(x) * ffn_norm
    x = x + Wdown (silu(Wgate h) * (Wup h))   (phi3: Wup rows = [gate | up], swiglu)
  logits = Wout (rms_norm(x) * output_norm)   (Wout = token_embd when output.weight is absent)

freq factors ff: llama's rope_freqs.weight; phi3's rope_factors_long when the
context (n_ctx) exceeds rope.scaling.original_context_length (default
context_length), else rope_factors_short; otherwise all ones.
freq_scale = 1 / rope.scaling.factor when the factor is present and != 0
(llama.cpp: rope_freq_scale_train), else 1. yarn scaling is not modelled.

Weights are dequantized with blocks_np (float32, exactly as the block
formulas) and then promoted to float64; all arithmetic is float64.
"""
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)
import blocks_np  # noqa: E402
import gguf_np  # noqa: E402

ROPE_NORM, ROPE_NEOX = "norm", "neox"
ARCH_ROPE = {"llama": ROPE_NORM, "qwen2": ROPE_NEOX, "phi3": ROPE_NEOX}


class HParams:
    """Hyper-parameters with llama.cpp's names."""

    def __init__(self, arch, n_vocab, n_embd, n_layer, n_ff, n_head, n_head_kv=None,
                 head_dim=None, head_dim_v=None, n_rot=None, rms_eps=1e-5, freq_base=10000.0,
                 freq_scale=1.0, n_ctx_train=512, n_ctx_orig=None, rope=None):
        self.arch = arch
        self.n_vocab, self.n_embd, self.n_layer, self.n_ff = n_vocab, n_embd, n_layer, n_ff
        self.n_head = n_head
        self.n_head_kv = n_head if n_head_kv is None else n_head_kv
        self.head_dim = n_embd // n_head if head_dim is None else head_dim
        self.head_dim_v = self.head_dim if head_dim_v is None else head_dim_v
        self.n_rot = self.head_dim if n_rot is None else n_rot
        self.rms_eps = rms_eps
        self.freq_base = freq_base
        self.freq_scale = freq_scale
        self.n_ctx_train = n_ctx_train
        self.n_ctx_orig = n_ctx_train if n_ctx_orig is None else n_ctx_orig
        self.rope = ARCH_ROPE[arch] if rope is None else rope

    def __repr__(self):
        return "HParams(%s)" % ", ".join("%s=%r" % kv for kv in sorted(vars(self).items()))


class Model:
    """hp: HParams; w: dict GGUF tensor name -> float64 array in numpy order
    (reversed ggml ne: a matrix with ne {in, out} is w[name][out, in]).
    types: dict name -> stored ggml type name ("f32", "q4_K", ...), used only
    by the optional activation-quantization emulation:
      act_quant: round the input of every matmul as ggml's CPU backend does
                 before a dot product with that weight type (vec_dot_type:
                 Q8_0 for q4_0/q8_0, Q8_K for K-quants, F16 for f16, BF16
                 for bf16, none for f32);
      kv_f16:    store K (after rope) and V rounded to float16 (the default
                 KV cache type of llama.cpp).
    Both default off: the plain reference is exact float64 math on the
    (dequantized) weights."""

    def __init__(self, hp, w, types=None):
        self.hp, self.w = hp, w
        self.types = types or {}
        self.act_quant = False
        self.kv_f16 = False

    def get(self, name):
        return self.w.get(name)


# --- loading -------------------------------------------------------------------

def dequantize(t):
    """gguf_np Tensor -> float64 numpy array of shape reversed(ne)."""
    name = gguf_np.GGML_TYPES[t.type][0]
    if name not in blocks_np.DEQUANT:
        raise NotImplementedError("tensor %s: type %s not supported by blocks_np" % (t.name, name))
    flat = blocks_np.DEQUANT[name](t.data).astype(np.float64)
    return flat.reshape(tuple(reversed(t.ne)))


def _kv(g, key, default=None):
    return g.kv[key][1] if key in g.kv else default


def _u32(g, key, default=None):
    v = _kv(g, key, default)
    if isinstance(v, tuple):  # per-layer array form: (elem_type, values)
        vals = v[1]
        assert all(x == vals[0] for x in vals), "%s: differing per-layer values" % key
        v = vals[0]
    return v


def hparams_from_gguf(g):
    arch = g.kv["general.architecture"][1]
    if arch not in ARCH_ROPE:
        raise NotImplementedError("architecture %r" % arch)

    def k(s):
        return "%s.%s" % (arch, s)

    n_embd = _u32(g, k("embedding_length"))
    n_head = _u32(g, k("attention.head_count"))
    head_dim = _u32(g, k("attention.key_length"), n_embd // n_head)
    scaling = _kv(g, k("rope.scaling.type"), "none")
    if scaling == "yarn":
        raise NotImplementedError("yarn rope scaling is not modelled")
    factor = _kv(g, k("rope.scaling.factor"), 0.0)
    n_vocab = g.tensors["token_embd.weight"].ne[1]
    n_ctx_train = _u32(g, k("context_length"))
    return HParams(
        arch=arch, n_vocab=n_vocab, n_embd=n_embd, n_layer=_u32(g, k("block_count")),
        n_ff=_u32(g, k("feed_forward_length")), n_head=n_head,
        n_head_kv=_u32(g, k("attention.head_count_kv"), n_head), head_dim=head_dim,
        head_dim_v=_u32(g, k("attention.value_length"), n_embd // n_head),
        n_rot=_u32(g, k("rope.dimension_count"), head_dim),
        rms_eps=float(_kv(g, k("attention.layer_norm_rms_epsilon"))),
        freq_base=float(_kv(g, k("rope.freq_base"), 10000.0)),
        freq_scale=1.0 if factor == 0.0 else 1.0 / float(factor),
        n_ctx_train=n_ctx_train,
        n_ctx_orig=_u32(g, k("rope.scaling.original_context_length"), n_ctx_train))


def load(path):
    g = gguf_np.read_gguf(path)
    m = Model(hparams_from_gguf(g), {name: dequantize(t) for name, t in g.tensors.items()},
              {name: gguf_np.GGML_TYPES[t.type][0] for name, t in g.tensors.items()})
    m.gguf = g
    return m


# --- building blocks ----------------------------------------------------------------

def rms_norm(x, eps):
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps)


def silu(x):
    return x / (1.0 + np.exp(-x))


def softmax(x):
    e = np.exp(x - np.max(x, axis=-1, keepdims=True))
    return e / np.sum(e, axis=-1, keepdims=True)


def freq_factors(m, n_ctx=None):
    """The rope frequency divisors [n_rot/2] (all ones when the model has none)."""
    hp = m.hp
    ff = m.get("rope_freqs.weight")
    if ff is None and hp.arch == "phi3" and m.get("rope_factors_long.weight") is not None:
        n_ctx = hp.n_ctx_train if n_ctx is None else n_ctx
        ff = m.get("rope_factors_long.weight" if n_ctx > hp.n_ctx_orig else "rope_factors_short.weight")
    if ff is None:
        return np.ones(hp.n_rot // 2)
    ff = np.asarray(ff, np.float64).reshape(-1)
    assert ff.size == hp.n_rot // 2, "freq factors have %d values, want n_rot/2 = %d" % (ff.size, hp.n_rot // 2)
    return ff


def rope_angles(hp, pos, ff):
    """theta[p, i] = pos[p] * freq_scale * base^(-2i/n_rot) / ff[i], i < n_rot/2."""
    i = np.arange(hp.n_rot // 2, dtype=np.float64)
    inv_freq = hp.freq_base ** (-2.0 * i / hp.n_rot)
    return np.asarray(pos, np.float64)[:, None] * hp.freq_scale * inv_freq[None, :] / ff[None, :]


def rope(x, theta, mode):
    """x [n_tokens, n_heads, head_dim]; theta [n_tokens, n_rot/2]. Rotates the
    first n_rot dims of every head, copies the rest."""
    half = theta.shape[1]
    n_rot = 2 * half
    out = x.copy()
    c = np.cos(theta)[:, None, :]
    s = np.sin(theta)[:, None, :]
    if mode == ROPE_NORM:
        x0, x1 = x[:, :, 0:n_rot:2], x[:, :, 1:n_rot:2]
        out[:, :, 0:n_rot:2] = x0 * c - x1 * s
        out[:, :, 1:n_rot:2] = x0 * s + x1 * c
    elif mode == ROPE_NEOX:
        x0, x1 = x[:, :, 0:half], x[:, :, half:n_rot]
        out[:, :, 0:half] = x0 * c - x1 * s
        out[:, :, half:n_rot] = x0 * s + x1 * c
    else:
        raise ValueError(mode)
    return out


def quantize_activations(x, wtype):
    """Round rows of x [n, in] the way ggml quantizes a matmul's activations
    for a weight of type wtype (vec_dot_type), and back to float64."""
    q = {"q4_0": ("q_q8_0", "q8_0"), "q8_0": ("q_q8_0", "q8_0"), "q4_K": ("q_q8_K", "q8_K"),
         "q5_K": ("q_q8_K", "q8_K"), "q6_K": ("q_q8_K", "q8_K"), "f16": ("q_f16", "f16"),
         "bf16": ("q_bf16", "bf16")}.get(wtype)
    if q is None:
        return x
    quant, deq = getattr(blocks_np, q[0]), blocks_np.DEQUANT[q[1]]
    x32 = np.ascontiguousarray(x, np.float32)
    return np.stack([deq(quant(row)) for row in x32]).astype(np.float64)


def linear(m, name, x):
    """x [n, in] -> [n, out] with blk weight `name`.weight (ne {in, out}) and
    optional `name`.bias."""
    if m.act_quant:
        x = quantize_activations(x, m.types.get(name + ".weight", "f32"))
    y = x @ m.w[name + ".weight"].T
    b = m.get(name + ".bias")
    if b is not None:
        y = y + b
    return y


def qkv(m, il, h):
    hp = m.hp
    p = "blk.%d." % il
    n_q, n_k, n_v = hp.n_head * hp.head_dim, hp.n_head_kv * hp.head_dim, hp.n_head_kv * hp.head_dim_v
    if p + "attn_qkv.weight" in m.w:
        fused = linear(m, p + "attn_qkv", h)
        assert fused.shape[1] == n_q + n_k + n_v
        q, k, v = fused[:, :n_q], fused[:, n_q:n_q + n_k], fused[:, n_q + n_k:]
    else:
        q, k, v = linear(m, p + "attn_q", h), linear(m, p + "attn_k", h), linear(m, p + "attn_v", h)
    n = h.shape[0]
    return (q.reshape(n, hp.n_head, hp.head_dim), k.reshape(n, hp.n_head_kv, hp.head_dim),
            v.reshape(n, hp.n_head_kv, hp.head_dim_v))


def attention(hp, q, k, v, q_pos, kv_pos):
    """q [nq, n_head, d] at positions q_pos; k, v [nk, n_head_kv, d] at kv_pos.
    Causal: query at p sees keys at positions <= p."""
    group = hp.n_head // hp.n_head_kv
    scale = 1.0 / np.sqrt(hp.head_dim)
    mask = np.where(np.asarray(kv_pos)[None, :] <= np.asarray(q_pos)[:, None], 0.0, -np.inf)
    out = np.zeros((q.shape[0], hp.n_head, hp.head_dim_v))
    for hh in range(hp.n_head):
        kvh = hh // group
        scores = (q[:, hh, :] @ k[:, kvh, :].T) * scale + mask
        out[:, hh, :] = softmax(scores) @ v[:, kvh, :]
    return out.reshape(q.shape[0], hp.n_head * hp.head_dim_v)


def ffn(m, il, h):
    hp = m.hp
    p = "blk.%d." % il
    if p + "ffn_gate.weight" in m.w:
        gate, up = linear(m, p + "ffn_gate", h), linear(m, p + "ffn_up", h)
    else:  # phi3: ffn_up holds [gate | up]
        gu = linear(m, p + "ffn_up", h)
        assert gu.shape[1] == 2 * hp.n_ff
        gate, up = gu[:, :hp.n_ff], gu[:, hp.n_ff:]
    return linear(m, p + "ffn_down", silu(gate) * up)


def output_weight(m):
    w = m.get("output.weight")
    return m.w["token_embd.weight"] if w is None else w


def logits_of(m, x):
    name = "output" if "output.weight" in m.w else "token_embd"
    if m.act_quant:
        x = quantize_activations(x, m.types.get(name + ".weight", "f32"))
    return x @ m.w[name + ".weight"].T


def kv_store(m, k, v):
    if m.kv_f16:
        return k.astype(np.float16).astype(np.float64), v.astype(np.float16).astype(np.float64)
    return k, v


# --- forward ------------------------------------------------------------------------

def forward(m, ids, n_ctx=None, return_hidden=False):
    """Logits float64 [n_tokens, n_vocab] of tokens `ids` at positions
    0..n-1 with causal attention. n_ctx only selects phi3's long/short rope
    factors (llama.cpp: long when the context exceeds the original one)."""
    hp = m.hp
    ids = np.asarray(ids, np.int64)
    pos = np.arange(ids.size)
    theta = rope_angles(hp, pos, freq_factors(m, n_ctx))
    x = m.w["token_embd.weight"][ids].astype(np.float64)
    for il in range(hp.n_layer):
        p = "blk.%d." % il
        h = rms_norm(x, hp.rms_eps) * m.w[p + "attn_norm.weight"]
        q, k, v = qkv(m, il, h)
        q, k = rope(q, theta, hp.rope), rope(k, theta, hp.rope)
        k, v = kv_store(m, k, v)
        x = x + linear(m, p + "attn_output", attention(hp, q, k, v, pos, pos))
        h = rms_norm(x, hp.rms_eps) * m.w[p + "ffn_norm.weight"]
        x = x + ffn(m, il, h)
    x = rms_norm(x, hp.rms_eps) * m.w["output_norm.weight"]
    logits = logits_of(m, x)
    return (logits, x) if return_hidden else logits


class KVCache:
    """Incremental decoding: the same computation one chunk at a time, keeping
    the roped K and V of every layer (used by the self-checks to verify the
    batched forward against token-by-token evaluation)."""

    def __init__(self, m, n_ctx=None):
        self.m, self.n_ctx = m, n_ctx
        self.k = [None] * m.hp.n_layer
        self.v = [None] * m.hp.n_layer
        self.n_past = 0

    def eval(self, ids):
        m, hp = self.m, self.m.hp
        ids = np.asarray(ids, np.int64)
        pos = np.arange(self.n_past, self.n_past + ids.size)
        theta = rope_angles(hp, pos, freq_factors(m, self.n_ctx))
        x = m.w["token_embd.weight"][ids].astype(np.float64)
        for il in range(hp.n_layer):
            p = "blk.%d." % il
            h = rms_norm(x, hp.rms_eps) * m.w[p + "attn_norm.weight"]
            q, k, v = qkv(m, il, h)
            q, k = rope(q, theta, hp.rope), rope(k, theta, hp.rope)
            k, v = kv_store(m, k, v)
            self.k[il] = k if self.k[il] is None else np.concatenate([self.k[il], k])
            self.v[il] = v if self.v[il] is None else np.concatenate([self.v[il], v])
            kv_pos = np.arange(self.n_past + ids.size)
            x = x + linear(m, p + "attn_output", attention(hp, q, self.k[il], self.v[il], pos, kv_pos))
            h = rms_norm(x, hp.rms_eps) * m.w[p + "ffn_norm.weight"]
            x = x + ffn(m, il, h)
        self.n_past += ids.size
        x = rms_norm(x, hp.rms_eps) * m.w["output_norm.weight"]
        return logits_of(m, x)


def greedy(m, ids, n_new, n_ctx=None):
    """Greedy continuation (ties -> lowest id, as np.argmax). Returns
    (new_ids, gaps) where gaps[j] is the top-1 minus top-2 logit at step j."""
    cache = KVCache(m, n_ctx)
    logits = cache.eval(ids)[-1]
    out, gaps = [], []
    for _ in range(n_new):
        t = int(np.argmax(logits))
        srt = np.sort(logits)
        gaps.append(float(srt[-1] - srt[-2]))
        out.append(t)
        logits = cache.eval([t])[-1]
    return out, gaps


# --- helpers for building synthetic models (self-checks) -------------------------------

def permute_qk(w, n_head, n_head_kv=None):
    """convert_hf_to_gguf.py LlamaModel.permute: HF (rotate_half) row order of
    q_proj/k_proj -> the GGUF order for NORM rope. w [rows, ...]."""
    if n_head_kv is not None and n_head != n_head_kv:
        n_head = n_head_kv
    return (w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:])
            .swapaxes(1, 2).reshape(w.shape))


def random_model(arch, n_vocab=50, n_embd=32, n_layer=2, n_ff=48, n_head=4, n_head_kv=2,
                 n_rot=None, seed=0, tied=False, biases=None, fused=None, **hp_kw):
    """Random float64 model in GGUF naming/layout (for self-checks)."""
    rng = np.random.default_rng(seed)
    hp = HParams(arch, n_vocab, n_embd, n_layer, n_ff, n_head, n_head_kv, n_rot=n_rot, **hp_kw)
    hd = hp.head_dim
    biases = (arch == "qwen2") if biases is None else biases
    fused = (arch == "phi3") if fused is None else fused

    def r(*shape, s=0.3):
        return rng.standard_normal(shape) * s

    w = {"token_embd.weight": r(n_vocab, n_embd, s=1.0),
         "output_norm.weight": 1.0 + r(n_embd, s=0.1)}
    if not tied:
        w["output.weight"] = r(n_vocab, n_embd)
    for il in range(n_layer):
        p = "blk.%d." % il
        w[p + "attn_norm.weight"] = 1.0 + r(n_embd, s=0.1)
        w[p + "ffn_norm.weight"] = 1.0 + r(n_embd, s=0.1)
        wq, wk, wv = r(n_head * hd, n_embd), r(hp.n_head_kv * hd, n_embd), r(hp.n_head_kv * hd, n_embd)
        if fused:
            w[p + "attn_qkv.weight"] = np.concatenate([wq, wk, wv])
        else:
            w[p + "attn_q.weight"], w[p + "attn_k.weight"], w[p + "attn_v.weight"] = wq, wk, wv
            if biases:
                w[p + "attn_q.bias"] = r(n_head * hd)
                w[p + "attn_k.bias"] = r(hp.n_head_kv * hd)
                w[p + "attn_v.bias"] = r(hp.n_head_kv * hd)
        w[p + "attn_output.weight"] = r(n_embd, n_head * hd)
        if arch == "phi3":
            w[p + "ffn_up.weight"] = r(2 * n_ff, n_embd)
        else:
            w[p + "ffn_gate.weight"] = r(n_ff, n_embd)
            w[p + "ffn_up.weight"] = r(n_ff, n_embd)
        w[p + "ffn_down.weight"] = r(n_embd, n_ff)
    return Model(hp, w)
