#!/usr/bin/python3
"""torch_lora.py — PyTorch reference for `oncolm finetune` speed and memory
(docs/PERFORMANCE.md, bench/finetune_bench.sh).

    /usr/bin/python3 bench/torch_lora.py [--preset small|1b|7b|8b] [--rank 16]
        [--alpha 32] [--seq 512] [--steps 3] [--warmup 1] [--threads N]
        [--no-checkpoint] [--layers N --embd N --heads N --kv-heads N --ff N --vocab N]

One LoRA training step as oncolm's: a Llama-architecture decoder (RMSNorm,
rotary positions, grouped-query causal attention, SwiGLU FFN, untied output)
with random frozen fp32 weights; LoRA adapters (A: rank x in, random; B: out
x rank, zero, as PEFT) on every linear layer of every block (q, k, v, o,
gate, up, down), no dropout; one sequence of SEQ random tokens per step
(batch 1), cross-entropy over the next tokens; activation checkpointing of
each block (torch.utils.checkpoint, non-reentrant); gradient clipping to
norm 1 and AdamW (lr 2e-4, weight decay 0) on the adapter only.

Prints the tokens/s of the steps after WARMUP warm-up steps (SEQ / mean step
time) and the peak resident memory of the process (getrusage). Needs no
network and no files. Shapes that need more memory for fp32 weights than the
machine has are refused with a message (e.g. 8b: ~32 GB of fp32 weights).
"""
import argparse
import math
import os
import resource
import sys
import time

import torch
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint

# (embd, layers, heads, kv heads, ff, vocab, rope base): src/tools/model_create.c's llama presets
PRESETS = {
    "tiny": (256, 4, 8, 4, 768, 2000, 10000.0),
    "small": (768, 12, 12, 4, 2048, 32000, 10000.0),
    "1b": (2048, 22, 32, 4, 5632, 32000, 10000.0),
    "7b": (4096, 32, 32, 32, 11008, 32000, 10000.0),
    "8b": (4096, 32, 32, 8, 14336, 128256, 500000.0),
}


class LoraLinear(torch.nn.Module):
    """y = x W^T + (alpha / r) (x A^T) B^T with W frozen."""

    def __init__(self, n_in, n_out, rank, alpha, std):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.randn(n_out, n_in) * std, requires_grad=False)
        self.lora_a = torch.nn.Parameter(torch.randn(rank, n_in) / math.sqrt(n_in))
        self.lora_b = torch.nn.Parameter(torch.zeros(n_out, rank))
        self.scale = alpha / rank

    def forward(self, x):
        return F.linear(x, self.weight) + F.linear(F.linear(x, self.lora_a), self.lora_b) * self.scale


class RMSNorm(torch.nn.Module):
    def __init__(self, n, eps=1e-5):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(n), requires_grad=False)
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rope_tables(seq, dh, base):
    inv = 1.0 / (base ** (torch.arange(0, dh, 2, dtype=torch.float32) / dh))
    ang = torch.outer(torch.arange(seq, dtype=torch.float32), inv)  # [T, dh/2]
    return torch.cos(ang), torch.sin(ang)


def rope(x, cos, sin):
    # x: [H, T, dh], rotate pairs (first half, second half)
    h = x.shape[-1] // 2
    a, b = x[..., :h], x[..., h:]
    return torch.cat((a * cos - b * sin, a * sin + b * cos), dim=-1)


class Block(torch.nn.Module):
    def __init__(self, e, heads, kv_heads, ff, rank, alpha, std):
        super().__init__()
        self.h, self.hkv, self.dh = heads, kv_heads, e // heads
        self.attn_norm, self.ffn_norm = RMSNorm(e), RMSNorm(e)
        self.q = LoraLinear(e, heads * self.dh, rank, alpha, std)
        self.k = LoraLinear(e, kv_heads * self.dh, rank, alpha, std)
        self.v = LoraLinear(e, kv_heads * self.dh, rank, alpha, std)
        self.o = LoraLinear(heads * self.dh, e, rank, alpha, std)
        self.gate = LoraLinear(e, ff, rank, alpha, std)
        self.up = LoraLinear(e, ff, rank, alpha, std)
        self.down = LoraLinear(ff, e, rank, alpha, std)

    def forward(self, x, cos, sin, mask):
        T = x.shape[0]
        h = self.attn_norm(x)
        q = self.q(h).view(T, self.h, self.dh).transpose(0, 1)
        k = self.k(h).view(T, self.hkv, self.dh).transpose(0, 1)
        v = self.v(h).view(T, self.hkv, self.dh).transpose(0, 1)
        q, k = rope(q, cos, sin), rope(k, cos, sin)
        rep = self.h // self.hkv
        if rep > 1:
            k = k.repeat_interleave(rep, dim=0)
            v = v.repeat_interleave(rep, dim=0)
        s = torch.matmul(q, k.transpose(1, 2)) / math.sqrt(self.dh) + mask
        a = torch.matmul(torch.softmax(s, dim=-1), v).transpose(0, 1).reshape(T, self.h * self.dh)
        x = x + self.o(a)
        h2 = self.ffn_norm(x)
        return x + self.down(F.silu(self.gate(h2)) * self.up(h2))


class Model(torch.nn.Module):
    def __init__(self, e, layers, heads, kv_heads, ff, vocab, rank, alpha, std=0.02):
        super().__init__()
        self.tok = torch.nn.Parameter(torch.randn(vocab, e) * std, requires_grad=False)
        self.blocks = torch.nn.ModuleList(Block(e, heads, kv_heads, ff, rank, alpha, std) for _ in range(layers))
        self.norm = RMSNorm(e)
        self.out = torch.nn.Parameter(torch.randn(vocab, e) * std, requires_grad=False)

    def forward(self, ids, cos, sin, mask, ckpt):
        x = self.tok[ids]
        for b in self.blocks:
            x = checkpoint(b, x, cos, sin, mask, use_reentrant=False) if ckpt else b(x, cos, sin, mask)
        return F.linear(self.norm(x), self.out)


def mem_total_bytes():
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="small", choices=sorted(PRESETS))
    for name in ("layers", "embd", "heads", "kv-heads", "ff", "vocab"):
        ap.add_argument("--" + name, type=int)
    ap.add_argument("--rank", type=int, default=16)
    ap.add_argument("--alpha", type=float, default=32.0)
    ap.add_argument("--seq", type=int, default=512)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--no-checkpoint", action="store_true")
    ap.add_argument("--seed", type=int, default=42)
    a = ap.parse_args()

    e, layers, heads, kvh, ff, vocab, base = PRESETS[a.preset]
    e = a.embd or e
    layers = a.layers or layers
    heads = a.heads or heads
    kvh = getattr(a, "kv_heads") or kvh
    ff = a.ff or ff
    vocab = a.vocab or vocab
    dh = e // heads
    n_params = 2 * vocab * e + layers * (e * heads * dh + 2 * e * kvh * dh + heads * dh * e + 3 * e * ff)
    need = 4 * n_params
    total = mem_total_bytes()
    if total is not None and need > 0.9 * total:
        print("llama %s: %.2fG parameters need %.1f GiB as fp32 weights, more than this machine's %.1f GiB: "
              "not run" % (a.preset, n_params / 1e9, need / 2**30, total / 2**30))
        return 2

    torch.manual_seed(a.seed)
    torch.set_num_threads(a.threads)
    model = Model(e, layers, heads, kvh, ff, vocab, a.rank, a.alpha)
    params = [p for p in model.parameters() if p.requires_grad]
    n_lora = sum(p.numel() for p in params)
    opt = torch.optim.AdamW(params, lr=2e-4, weight_decay=0.0)
    T = a.seq
    cos, sin = rope_tables(T, dh, base)
    mask = torch.full((T, T), float("-inf")).triu(1)
    gen = torch.Generator().manual_seed(a.seed)

    def step():
        ids = torch.randint(0, vocab, (T + 1,), generator=gen)
        logits = model(ids[:-1], cos, sin, mask, not a.no_checkpoint)
        loss = F.cross_entropy(logits, ids[1:])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        return loss.item()

    for _ in range(a.warmup):
        step()
    times = []
    for _ in range(a.steps):
        t0 = time.perf_counter()
        loss = step()
        times.append(time.perf_counter() - t0)
    mean = sum(times) / len(times)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB -> GiB
    print("torch %s: llama %s fp32 (%.3fG params), LoRA rank %d all linear (%.1fM trainable), seq %d, %d threads, "
          "checkpointing %s: %.1f tokens/s (%.2f s/step, mean of %d steps after %d warm-up), loss %.3f"
          % (torch.__version__, a.preset, n_params / 1e9, a.rank, n_lora / 1e6, T, a.threads,
             "off" if a.no_checkpoint else "per block", T / mean, mean, len(times), a.warmup, loss))
    print("peak resident memory: %.2f GiB" % rss)
    return 0


if __name__ == "__main__":
    sys.exit(main())
