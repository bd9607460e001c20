"""llamacpp_crosscheck.py — dev-time proof of the numpy reference
(llama_np.py) against real llama.cpp (node-llama-cpp, installed outside the
repository by bench/llamacpp/setup.sh). Not a ctest test (the llama.cpp
harness is dev-time only); run by hand:

    ONCOLM_BIN=build/bin/oncolm /usr/bin/python3 tests/oracle/llamacpp_crosscheck.py [TMPDIR]

It builds the same rewritten tiny models as test_forward_oracle.py (llama,
llama tied + rope_freqs, qwen2 with biases, phi3 fused, phi3 split q/k/v,
llama with linear rope scaling, phi3 with partial rotary + longrope factors,
and a 256-wide llama in every weight format), gets llama.cpp's logits with
bench/llamacpp/logits.mjs, and reports:

  1 token  : llama.cpp vs llama_np with an F16 V cache emulated. With one
             token the attention is the identity on V, so this isolates the
             rest of the graph (embedding, norms, projections, biases, FFN,
             output); F32 models agree to ~1e-7.
  n tokens : llama.cpp vs plain llama_np (row-relative max error). llama.cpp
             keeps K/V (and on CPU its attention internals) in F16, so F32
             models agree to ~5e-4..1e-3; quantized formats land within the
             TOL bounds of test_forward_oracle.py.

Observed (node-llama-cpp 3.22.1, zen4 CPU build): F32 1-token ~1e-7, F32
12-token 4e-4..7e-4 (embd 64) / 9e-4 (embd 256); f16 1.0e-3, bf16 6.7e-3,
q8_0 1.7e-2, q4_0 1.4e-2, q4_K 2.7e-2, q5_K 2.3e-2, q6_K 2.9e-2,
q4_K_M 2.3e-2. llama.cpp uses the long phi3 factors when n_ctx exceeds
rope.scaling.original_context_length, as llama_np does; it rejects qwen2
with n_rot != head_dim (GGML_ASSERT), so that variant is not used.
"""
import os
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
os.environ.setdefault("ONCOLM_HELPERS", "-")
import gguf_np  # noqa: E402
import llama_np as L  # noqa: E402

BIN = os.environ.get("ONCOLM_BIN")
TMP = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("ONCOLM_TMP", ".")
HARNESS = os.path.join(ROOT, "bench", "llamacpp", "logits.mjs")


def sh(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode:
        raise RuntimeError("%s: %s" % (" ".join(cmd[:3]), r.stderr[-600:]))
    return r.stdout


def rewrite(*a, **k):
    # the same rewrite as the ctest oracle (imported lazily: that module
    # skips itself at import time without the C helpers)
    import importlib.util
    spec = importlib.util.spec_from_file_location("fwd", os.path.join(HERE, "test_forward_oracle.py"))
    src = open(spec.origin).read()
    start = src.index("def rewrite(")
    end = src.index("# --- running both sides")
    ns = {"np": np, "gguf_np": gguf_np}
    exec(src[start:end], ns)
    return ns["rewrite"](*a, **k)


def llamacpp_logits(path, ids):
    out = os.path.join(TMP, "xc_logits.f32")
    sh(["node", HARNESS, path, "--out", out] + [str(i) for i in ids])
    return np.fromfile(out, "<f4").reshape(len(ids), -1).astype(np.float64)


def rel(c, r):
    return float(np.max(np.max(np.abs(c - r), axis=1) / np.max(np.abs(r), axis=1)))


def main():
    if not BIN:
        raise SystemExit("set ONCOLM_BIN")
    small = ["--layers", "2", "--embd", "64", "--heads", "4", "--kv-heads", "2", "--ff", "128"]
    big = ["--layers", "2", "--embd", "256", "--heads", "4", "--kv-heads", "2", "--ff", "256"]
    U32, F32, STR = gguf_np.UINT32, gguf_np.FLOAT32, gguf_np.STRING
    frng = np.random.default_rng(99)
    cases = [
        ("llama", "llama", small, [], dict(qk_scale=6.0)),
        ("llama tied+rope_freqs", "llama", small, ["--tied", "--rope-freqs"], dict(qk_scale=6.0)),
        ("qwen2", "qwen2", small, [], dict(qk_scale=6.0)),
        ("phi3", "phi3", small, [], dict(qk_scale=6.0)),
        ("phi3 split", "phi3", small, [], dict(qk_scale=6.0, split_qkv=True)),
        ("llama linear x2", "llama", small, [], dict(qk_scale=6.0, set_kv={
            "llama.rope.scaling.type": (STR, "linear"), "llama.rope.scaling.factor": (F32, 2.0)})),
        ("phi3 longrope n_rot 8", "phi3", small, [], dict(qk_scale=6.0, set_kv={
            "phi3.rope.dimension_count": (U32, 8), "phi3.rope.scaling.original_context_length": (U32, 16)},
            add={"rope_factors_long.weight": frng.uniform(1.0, 8.0, 4),
                 "rope_factors_short.weight": frng.uniform(1.0, 2.0, 4)})),
        ("llama 256", "llama", big, [], dict(qk_scale=3.0)),
    ]
    rng = np.random.default_rng(3)
    raw = os.path.join(TMP, "xc_raw.gguf")
    for label, arch, size, extra, rw in cases:
        path = os.path.join(TMP, "xc_model.gguf")
        sh([BIN, "model", "create", "--arch", arch, "-o", raw] + size + extra)
        rewrite(raw, path, seed=5, **rw)
        fmts = [("f32", path)]
        if label == "llama 256":
            for f in ("f16", "bf16", "q8_0", "q4_0", "q4_K", "q5_K", "q6_K", "q4_K_M"):
                q = os.path.join(TMP, "xc_%s.gguf" % f)
                sh([BIN, "quantize", path, q, f])
                fmts.append((f, q))
        for fmt, p in fmts:
            m = L.load(p)
            ids = [int(i) for i in rng.integers(0, m.hp.n_vocab, 12)]
            # n_ctx of the harness is len(ids) + 8 = 20 > 16: phi3 long factors
            r = L.forward(m, ids, n_ctx=20)
            c = llamacpp_logits(p, ids)
            m.kv_f16 = True
            one = rel(llamacpp_logits(p, ids[:1]), L.forward(m, ids[:1], n_ctx=9))
            print("%-24s %-7s 1 token (F16 V emulated) %.2e   %d tokens %.2e"
                  % (label, fmt, one, len(ids), rel(c, r)), flush=True)
            if p != path:
                os.remove(p)
        os.remove(path)
    os.remove(raw)


if __name__ == "__main__":
    main()
