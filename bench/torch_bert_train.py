#!/usr/bin/python3
"""torch_bert_train.py — the PyTorch side of the encoder-training benchmark
(issue 9, docs/PERFORMANCE.md "Encoder training"): training examples per
second of full fine-tuning of a BERT-base shape for sequence
classification, the step `oncolm train classify` does. Not part of the
tests; needs Debian's python3-torch.

The encoder is bench/torch_bert.py's (imported, same parameters and
initialization) with hidden dropout added where `oncolm train` applies it
(after the embedding LayerNorm, on the attention output projection and on
the FFN output, before each residual add; no attention-probability dropout,
as in oncolm), then the BertForSequenceClassification head: pooler dense +
tanh on [CLS], a linear layer to 3 labels, cross-entropy (mean over the
batch). AdamW (lr 2e-5, weight decay 0.01, decay on every parameter),
gradient norm clipped at 1.0. Every step is `--batch` sequences of exactly
S random token ids (no padding). `--warmup` steps first, then `--steps`
timed steps.

    /usr/bin/python3 bench/torch_bert_train.py --threads 1 --seq 128,512 [--batch 8] [--steps 3] [--warmup 1]

Prints one JSON object per S: examples_per_s and tokens_per_s (mean over
the timed steps), s_per_step (wall), cpu_s_per_step (CPU time of all the
process's threads: on a shared machine, compare it with s_per_step), peak_rss_mib (getrusage: the process peak so
far, so a later S includes the earlier ones' peak: run one S per process to
compare memory). Thread handling as torch_bert.py: OPENBLAS_NUM_THREADS and
OMP_NUM_THREADS are set to --threads before torch is imported.
"""
import argparse
import json
import os
import resource
import sys
import time

_threads = sys.argv[sys.argv.index("--threads") + 1] if "--threads" in sys.argv else "1"
os.environ["OPENBLAS_NUM_THREADS"] = os.environ["OMP_NUM_THREADS"] = _threads
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

from torch_bert import Bert  # noqa: E402


def block_forward(blk, x, p):
    """torch_bert.Block.forward with hidden dropout p on both branch outputs."""
    B, T, E = x.shape
    D = E // blk.H

    def heads(t):
        return t.view(B, T, blk.H, D).transpose(1, 2)

    s = heads(blk.q(x)) @ heads(blk.k(x)).transpose(-1, -2) / D ** 0.5
    a = (s.softmax(-1) @ heads(blk.v(x))).transpose(1, 2).reshape(B, T, E)
    h = blk.ln1(x + F.dropout(blk.o(a), p, blk.training))
    return blk.ln2(h + F.dropout(blk.down(F.gelu(blk.up(h))), p, blk.training))


class BertClassifier(nn.Module):
    def __init__(self, n_labels=3, p_drop=0.1):
        super().__init__()
        self.bert = Bert()
        E = self.bert.ln.normalized_shape[0]
        self.p = p_drop
        self.pool = nn.Linear(E, E)
        self.cls = nn.Linear(E, n_labels)

    def forward(self, ids):
        enc = self.bert
        pos = torch.arange(ids.shape[1]).unsqueeze(0)
        x = enc.ln(enc.tok(ids) + enc.pos(pos) + enc.typ(torch.zeros_like(ids)))
        x = F.dropout(x, self.p, self.training)
        for b in enc.blocks:
            x = block_forward(b, x, self.p)
        return self.cls(torch.tanh(self.pool(x[:, 0])))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seq", default="128,512")
    ap.add_argument("--batch", type=int, default=0, help="sequences per step (0: 8 at S <= 128, else 4)")
    ap.add_argument("--steps", type=int, default=3, help="timed steps")
    ap.add_argument("--warmup", type=int, default=1, help="untimed steps first")
    ap.add_argument("--labels", type=int, default=3)
    a = ap.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(a.threads)
    model = BertClassifier(a.labels).train()
    n_params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.AdamW(model.parameters(), lr=2e-5, weight_decay=0.01)
    for S in (int(x) for x in a.seq.split(",")):
        B = a.batch or (8 if S <= 128 else 4)
        times, cpus, losses = [], [], []
        for i in range(a.warmup + a.steps):
            ids = torch.randint(1000, 30522, (B, S))
            ids[:, 0] = 101
            y = torch.randint(0, a.labels, (B,))
            t0, c0 = time.perf_counter(), time.process_time()
            opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(ids), y)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            dt, dc = time.perf_counter() - t0, time.process_time() - c0
            losses.append(loss.item())
            if i >= a.warmup:
                times.append(dt)
                cpus.append(dc)
        mean = sum(times) / len(times)
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
        print(json.dumps({"engine": "pytorch " + torch.__version__, "params": n_params, "threads": a.threads,
                          "test": "classify%d" % S, "seq": S, "batch": B, "steps": len(times),
                          "s_per_step": round(mean, 3), "cpu_s_per_step": round(sum(cpus) / len(cpus), 3),
                          "examples_per_s": round(B / mean, 3),
                          "tokens_per_s": round(B * S / mean, 1), "peak_rss_mib": round(rss, 1),
                          "step_s": [round(t, 3) for t in times], "loss": round(losses[-1], 4)}), flush=True)


if __name__ == "__main__":
    main()
