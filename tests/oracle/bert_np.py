"""bert_np.py — an independent float64 numpy forward pass for the `bert`
architecture, written from shared/reference/gguf-and-llama-formats.md (Q4)
and Hugging Face's BertModel, NOT from oncolm's C code. The reference for
tests/oracle/test_encoder_oracle.py.

    m = load(path)
    h = forward(m, ids, types=None)          # float64 [n_tokens, n_embd]
    v = pool(h, "mean" | "cls" | "last")
    logits = head(m, h[0])                   # classifier on the [CLS] row

Semantics (HF BertModel / BertForSequenceClassification):
  x = LN(token_embd[id] + token_types[type] + position_embd[pos]; token_embd_norm)
  per layer:
    q, k, v = Wq x + bq, Wk x + bk, Wv x + bv           (head_dim = n_embd / n_head)
    a = softmax(q k^T / sqrt(head_dim)) v                (bidirectional, one input)
    h = LN(x + Wo a + bo; attn_output_norm)
    x = LN(h + Wdown gelu(Wup h + bup) + bdown; layer_output_norm)
  LN(v; w, b) = (v - mean) / sqrt(var + eps) * w + b    (eps = bert.attention.layer_norm_epsilon)
  gelu(v) = v/2 (1 + erf(v / sqrt 2))                   (exact, HF "gelu")
  head(c) = cls.output(tanh(cls c + cls_b)) + out_b     (cls absent: cls.output(c))
Pooling: mean over all tokens, cls = first, last = last.
"""
import math
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)
import gguf_np  # noqa: E402
import llama_np  # noqa: E402  (dequantize)

_erf = np.vectorize(math.erf, otypes=[np.float64])


class Bert:
    def __init__(self, g):
        kv = g.kv
        assert kv["general.architecture"][1] == "bert"
        self.n_embd = kv["bert.embedding_length"][1]
        self.n_head = kv["bert.attention.head_count"][1]
        self.n_layer = kv["bert.block_count"][1]
        self.eps = float(kv["bert.attention.layer_norm_epsilon"][1])
        self.causal = bool(kv.get("bert.attention.causal", (None, False))[1])
        self.w = {name: llama_np.dequantize(t) for name, t in g.tensors.items()}


def load(path):
    return Bert(gguf_np.read_gguf(path))


def layer_norm(x, w, b, eps):
    mu = x.mean(axis=-1, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


def gelu(x):
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))


def linear(m, name, x):
    y = x @ m.w[name + ".weight"].T
    b = m.w.get(name + ".bias")
    return y if b is None else y + b


def softmax(x):
    x = x - x.max(axis=-1, keepdims=True)
    e = np.exp(x)
    return e / e.sum(axis=-1, keepdims=True)


def forward(m, ids, types=None):
    ids = np.asarray(ids, np.int64)
    n, E, H = ids.size, m.n_embd, m.n_head
    D = E // H
    types = np.zeros(n, np.int64) if types is None else np.asarray(types, np.int64)
    x = m.w["token_embd.weight"][ids] + m.w["position_embd.weight"][np.arange(n)]
    if "token_types.weight" in m.w:
        x = x + m.w["token_types.weight"][types]
    x = layer_norm(x, m.w["token_embd_norm.weight"], m.w["token_embd_norm.bias"], m.eps)
    for il in range(m.n_layer):
        p = "blk.%d." % il
        q = linear(m, p + "attn_q", x).reshape(n, H, D).transpose(1, 0, 2)
        k = linear(m, p + "attn_k", x).reshape(n, H, D).transpose(1, 0, 2)
        v = linear(m, p + "attn_v", x).reshape(n, H, D).transpose(1, 0, 2)
        s = q @ k.transpose(0, 2, 1) / math.sqrt(D)
        if m.causal:
            s = s + np.triu(np.full((n, n), -np.inf), 1)
        a = (softmax(s) @ v).transpose(1, 0, 2).reshape(n, E)
        h = layer_norm(x + linear(m, p + "attn_output", a), m.w[p + "attn_output_norm.weight"],
                       m.w[p + "attn_output_norm.bias"], m.eps)
        f = linear(m, p + "ffn_down", gelu(linear(m, p + "ffn_up", h)))
        x = layer_norm(h + f, m.w[p + "layer_output_norm.weight"], m.w[p + "layer_output_norm.bias"], m.eps)
    return x


def pool(h, mode):
    if mode == "mean":
        return h.mean(axis=0)
    if mode == "cls":
        return h[0]
    if mode == "last":
        return h[-1]
    raise ValueError(mode)


def head(m, c):
    if "cls.weight" in m.w:
        c = np.tanh(linear(m, "cls", c))
    return linear(m, "cls.output", c)
