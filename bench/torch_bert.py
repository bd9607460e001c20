#!/usr/bin/python3
"""torch_bert.py — the PyTorch side of the encoder benchmark: passages per
second of a BERT-base-shaped encoder (random weights; the same shape as
`oncolm model create --arch bert --preset base`) on this CPU, for the
comparison in docs/PERFORMANCE.md. Not part of the tests; needs Debian's
python3-torch (`apt-get install python3-torch`).

The model is Hugging Face's BertModel written out in plain torch (the
transformers package is not in Debian): embeddings + LayerNorm, 12 post-norm
blocks (self-attention, exact GELU), float32, torch.inference_mode, every
passage of exactly S tokens (no padding), `--batch` passages per forward
call (default: as many as fit in 2048 tokens, the way `oncolm bench` packs
them).

    /usr/bin/python3 bench/torch_bert.py --threads 1 --seq 128,512 [--passages 32] [--reps 3]
Prints one JSON object per seq with passages_per_s. One thread count per
process: Debian's torch does its matmuls in OpenBLAS, whose thread count
torch.set_num_threads does not change, so OPENBLAS_NUM_THREADS and
OMP_NUM_THREADS are set here before torch is imported.
"""
import argparse
import json
import os
import sys
import time

_threads = sys.argv[sys.argv.index("--threads") + 1] if "--threads" in sys.argv else "1"
os.environ["OPENBLAS_NUM_THREADS"] = os.environ["OMP_NUM_THREADS"] = _threads

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402


class Block(nn.Module):
    def __init__(self, E, H, FF):
        super().__init__()
        self.H = H
        self.q, self.k, self.v, self.o = (nn.Linear(E, E) for _ in range(4))
        self.ln1, self.ln2 = nn.LayerNorm(E, eps=1e-12), nn.LayerNorm(E, eps=1e-12)
        self.up, self.down = nn.Linear(E, FF), nn.Linear(FF, E)

    def forward(self, x):
        B, T, E = x.shape
        D = E // self.H

        def heads(t):
            return t.view(B, T, self.H, D).transpose(1, 2)

        s = heads(self.q(x)) @ heads(self.k(x)).transpose(-1, -2) / D ** 0.5
        a = (s.softmax(-1) @ heads(self.v(x))).transpose(1, 2).reshape(B, T, E)
        h = self.ln1(x + self.o(a))
        return self.ln2(h + self.down(F.gelu(self.up(h))))


class Bert(nn.Module):
    def __init__(self, V=30522, E=768, L=12, H=12, FF=3072, P=512, types=2):
        super().__init__()
        self.tok, self.pos, self.typ = nn.Embedding(V, E), nn.Embedding(P, E), nn.Embedding(types, E)
        self.ln = nn.LayerNorm(E, eps=1e-12)
        self.blocks = nn.ModuleList(Block(E, H, FF) for _ in range(L))

    def forward(self, ids):
        T = ids.shape[1]
        pos = torch.arange(T).unsqueeze(0)
        x = self.ln(self.tok(ids) + self.pos(pos) + self.typ(torch.zeros_like(ids)))
        for b in self.blocks:
            x = b(x)
        return x.mean(dim=1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seq", default="128,512")
    ap.add_argument("--passages", type=int, default=32)
    ap.add_argument("--batch", type=int, default=0)
    ap.add_argument("--reps", type=int, default=3)
    a = ap.parse_args()
    torch.manual_seed(0)
    model = Bert().eval()
    n_params = sum(p.numel() for p in model.parameters())
    torch.set_num_threads(a.threads)
    for S in (int(x) for x in a.seq.split(",")):
        bs = a.batch or max(1, 2048 // S)
        ids = torch.randint(0, 30522, (a.passages, S))
        rates = []
        with torch.inference_mode():
            for r in range(a.reps + 1):  # first run: warm-up
                t0 = time.perf_counter()
                for i in range(0, a.passages, bs):
                    model(ids[i:i + bs])
                dt = time.perf_counter() - t0
                if r:
                    rates.append(a.passages / dt)
        mean = sum(rates) / len(rates)
        print(json.dumps({"engine": "pytorch " + torch.__version__, "params": n_params, "threads": a.threads,
                          "test": "emb%d" % S, "batch": bs, "passages_per_s": round(mean, 3),
                          "runs": [round(x, 3) for x in rates]}), flush=True)


if __name__ == "__main__":
    main()
