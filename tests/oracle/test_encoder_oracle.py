"""Oracle for the encoder engine (oncolm embed / classify / rerank) against
the independent float64 numpy forward passes bert_np.py and llama_np.py.

Model: `oncolm model create --arch bert --labels ...` (2 layers, classifier
head), rewritten with gguf_np so every part of the graph shows in the
outputs: norms drawn in [0.5, 1.5], biases ~ N(0, 0.5^2), token-type rows
scaled up (a dropped or wrong token type would show), Q and K scaled so
attention is peaked. Quantized variants are made by `oncolm quantize`.

Checks:
  - embeddings (mean / cls / last pooling, raw and L2-normalised) and
    per-token states (pooling none): cosine >= 0.9999 and row-relative error
    <= 1e-4 against numpy in F32;
  - quantized weights: cosine bounds per format (numpy runs on the same
    dequantized weights; what remains is the engine's activation rounding);
  - batched == one by one (packing invariance), threads 1 == 2;
  - classifier probabilities and cross-encoder scores (query/passage pairs
    with token types 0/1) against numpy;
  - long inputs: truncation and strided windows exactly as
    oncolm/encoder.h documents;
  - a llama model as an embedder (last / mean pooling of the final
    normalised hidden states) against llama_np.
Run with Debian's /usr/bin/python3 (numpy). Exit 77 = skipped. """
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import oracle_util as U  # noqa: E402

np = U.need("numpy")

import bert_np as B  # noqa: E402
import gguf_np  # noqa: E402
import llama_np as L  # noqa: E402

BIN = U.need_bin()
TMP = U.TMP

failures = U.failures


U.configure_checks(verbose=True)
check = U.check


tmp = U.tmp_namer("enc_oracle_")


def run(args, stdin=None):
    return U.run_cli(BIN, args, tail=600, input=stdin).stdout


def jsonl(out):
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def rewrite(src, dst, seed, qk_scale=6.0):
    rng = np.random.default_rng(seed)
    g = gguf_np.read_gguf(src)
    w = gguf_np.Writer(alignment=g.alignment if "general.alignment" in g.kv else None)
    for k, (t, v) in g.kv.items():
        if k != "general.alignment":
            w.add(k, t, v)
    for name, t in g.tensors.items():
        assert t.type == 0
        a = t.array().astype(np.float32).copy()
        if name.endswith("norm.weight"):
            a = rng.uniform(0.5, 1.5, a.shape).astype(np.float32)
        elif name.endswith(".bias"):
            a = (0.5 * rng.standard_normal(a.shape)).astype(np.float32)
        elif name == "token_types.weight":
            a *= 25.0
        elif name.endswith(("attn_q.weight", "attn_k.weight")):
            a *= qk_scale
        elif name.startswith("cls"):
            a *= 10.0
        w.add_tensor(name, 0, t.ne, a)
    w.write(dst)


def cos(a, b):
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


def rel(c, r):
    return float(np.max(np.abs(c - r)) / np.max(np.abs(r)))


# --- models ----------------------------------------------------------------------------
raw, model = tmp("raw.gguf"), tmp("bert.gguf")
run(["model", "create", "--arch", "bert", "--labels", "none,post,pre", "--seed", "7", "-o", raw])
rewrite(raw, model, 11)
ref = B.load(model)
gk = gguf_np.read_gguf(model).kv
n_ctx = gk["bert.context_length"][1]

texts = [
    "CT abdomen: 3.1 cm hypodense mass in the pancreatic head; no liver metastases.",
    "No evidence of disease.",
    "Patient denies nausea, vomiting or diarrhea after cycle 4 of FOLFIRINOX.",
    "ER/PR positive, HER2 negative invasive ductal carcinoma of the left breast, stage IIA (T2 N0 M0).",
    "ok",
    "Follow-up in 3 months with CA 19-9 and CT chest/abdomen/pelvis; continue pancreatic enzyme replacement.",
]
inp = tmp("texts.txt")
with open(inp, "w") as f:
    f.write("\n".join(texts) + "\n")


def ids_of(m, text, special=True):
    return [int(x) for x in run(["tokenize", "-m", m, "-p", text, "--ids"] + ([] if special else ["--no-special"])).split()]


ids = [ids_of(model, t) for t in texts]
H = [B.forward(ref, i) for i in ids]

# --- embeddings, F32 ------------------------------------------------------------------------
for pooling in ("mean", "cls", "last"):
    got = jsonl(run(["embed", "-m", model, "-i", inp, "--pooling", pooling, "--no-normalize", "-t", "1"]))
    check(len(got) == len(texts) and [g["id"] for g in got] == list(range(1, len(texts) + 1)),
          "embed %s: one line per input with line-number ids" % pooling)
    worst_c, worst_r = 1.0, 0.0
    for g, h in zip(got, H):
        c, r = np.array(g["embedding"]), B.pool(h, pooling)
        worst_c, worst_r = min(worst_c, cos(c, r)), max(worst_r, rel(c, r))
    check(worst_c >= 0.9999 and worst_r <= 1e-4, "embed f32 %s: min cosine %.9f, max rel err %.2e" % (pooling, worst_c, worst_r))

# the file stores rank pooling (a classifier/reranker): embed needs an explicit pooling
check(gk.get("bert.pooling_type", (0, None))[1] == 4, "model create --labels stores rank pooling")
r = subprocess.run([BIN, "embed", "-m", model, "-i", inp], capture_output=True, text=True)
check(r.returncode == 1 and "reranker" in r.stderr, "embed with rank pooling asks for a pooling: %s" % r.stderr.strip()[:90])
got = jsonl(run(["embed", "-m", model, "-i", inp, "--pooling", "cls"]))  # L2-normalised by default
worst = max(rel(np.array(g["embedding"]), h[0] / np.linalg.norm(h[0])) for g, h in zip(got, H))
check(worst <= 1e-4, "embed cls, L2-normalised: max rel err %.2e" % worst)

got = jsonl(run(["embed", "-m", model, "-i", inp, "--pooling", "none", "-t", "2"]))
worst = max(rel(np.array(g["embedding"]), h) for g, h in zip(got, H))
check(all(g["tokens"] == len(i) for g, i in zip(got, ids)) and worst <= 1e-4,
      "pooling none: per-token states, max rel err %.2e" % worst)

# batched == one by one, threads
a = np.array([g["embedding"] for g in jsonl(run(["embed", "-m", model, "-i", inp, "--pooling", "mean", "-b", "64", "-t", "2"]))])
b = np.array([g["embedding"] for g in jsonl(run(["embed", "-m", model, "-i", inp, "--pooling", "mean", "-b", "1", "-t", "1"]))])
check(np.max(np.abs(a - b)) <= 1e-5, "batch of 6 vs one by one, 2 vs 1 threads: max diff %.2e" % np.max(np.abs(a - b)))

# .npy output equals JSONL
npy = tmp("out.npy")
run(["embed", "-m", model, "-i", inp, "--pooling", "mean", "-o", npy])
arr = np.load(npy)
check(arr.shape == a.shape and arr.dtype == np.float32 and np.max(np.abs(arr - a)) <= 1e-6,
      ".npy output %s equals JSONL" % (arr.shape,))

# JSONL input with ids and another field
jin = tmp("in.jsonl")
with open(jin, "w") as f:
    for i, t in enumerate(texts):
        f.write(json.dumps({"id": "note-%d" % i, "body": t}) + "\n")
got = jsonl(run(["embed", "-m", model, "-i", jin, "--field", "body", "--pooling", "mean"]))
check([g["id"] for g in got] == ["note-%d" % i for i in range(len(texts))] and
      np.max(np.abs(np.array([g["embedding"] for g in got]) - a)) <= 1e-6, "JSONL input keeps ids")

# --- classifier and reranker ------------------------------------------------------------------
got = jsonl(run(["classify", "-m", model, "-i", inp]))
worst, labels_ok = 0.0, True
for g, h in zip(got, H):
    p = B.softmax(B.head(ref, h[0]))
    c = np.array([g["probabilities"][l] for l in ("none", "post", "pre")])
    worst = max(worst, float(np.max(np.abs(c - p))))
    labels_ok = labels_ok and g["label"] == ("none", "post", "pre")[int(np.argmax(p))]
check(worst <= 1e-5 and labels_ok, "classify: probabilities max abs err %.2e, labels = argmax" % worst)
spread = max(max(g["probabilities"].values()) for g in got)
check(spread > 0.5, "classifier head is not trivial (max probability %.3f)" % spread)

query = "size of the pancreatic mass"
q_ids = ids_of(model, query, special=False)
CLS, SEP = ids[0][0], ids[0][-1]
got = jsonl(run(["rerank", "-m", model, "-q", query, "-i", inp]))
scores = {g["id"]: g["score"] for g in got}
worst = 0.0
for i, t in enumerate(texts):
    p_ids = ids_of(model, t, special=False)
    pair = [CLS] + q_ids + [SEP] + p_ids + [SEP]
    types = [0] * (len(q_ids) + 2) + [1] * (len(p_ids) + 1)
    r = B.head(ref, B.forward(ref, pair, types)[0])[0]
    worst = max(worst, abs(scores[i + 1] - r) / max(1.0, abs(r)))
check(worst <= 1e-4, "rerank: scores max rel err %.2e (pairs with token types 0/1)" % worst)
check([g["score"] for g in got] == sorted((g["score"] for g in got), reverse=True), "rerank: sorted best first")

# --- long inputs ----------------------------------------------------------------------------
long_text = " ".join(texts)
content = ids_of(model, long_text, special=False)
M = 16
cap = M - 2
got = jsonl(run(["embed", "-m", model, "-i", "-", "--max-tokens", str(M), "--pooling", "mean",
                 "--no-normalize"], stdin=long_text + "\n"))
r = B.pool(B.forward(ref, [CLS] + content[:cap] + [SEP]), "mean")
check(rel(np.array(got[0]["embedding"]), r) <= 1e-4, "truncation to %d tokens: rel err %.2e" % (M, rel(np.array(got[0]["embedding"]), r)))
for stride in (None, 5):
    args = ["embed", "-m", model, "-i", "-", "--max-tokens", str(M), "--overflow", "windows", "--pooling", "mean",
            "--no-normalize"] + (["--stride", str(stride)] if stride else [])
    got = jsonl(run(args, stdin=long_text + "\n"))
    st = stride or cap // 2
    starts, s = [], 0
    while True:
        if s + cap >= len(content):
            s = len(content) - cap
        starts.append(s)
        if s + cap >= len(content):
            break
        s += st
    vecs = [B.pool(B.forward(ref, [CLS] + content[s:s + cap] + [SEP]), "mean") for s in starts]
    r = np.mean(vecs, axis=0)  # equal weights: every window holds cap content tokens
    e = rel(np.array(got[0]["embedding"]), r)
    check(e <= 1e-4, "windows (stride %d, %d windows over %d tokens): rel err %.2e" % (st, len(starts), len(content), e))
r = subprocess.run([BIN, "embed", "-m", model, "-i", "-", "--max-tokens", str(M), "--overflow", "error", "--pooling", "mean"],
                   input=long_text + "\n", capture_output=True, text=True)
check(r.returncode == 1 and "more than" in r.stderr, "--overflow error fails clearly: %s" % r.stderr.strip()[:120])

# --- quantized weights ---------------------------------------------------------------------
# numpy on the same dequantized weights; the engine rounds activations to
# F16 / Q8_0 / Q8_K before matmuls (ggml's vec_dot types), measured on this
# model: 1 - cosine < 1e-7 (f16), 1.0e-6 (q8_0), 1.9e-6 (q4_K); bounds 5-10x.
COS = {"f16": 0.999999, "q8_0": 0.99999, "q4_K": 0.99999}
for qt, bound in COS.items():
    qm = tmp("bert_%s.gguf" % qt)
    run(["quantize", model, qm, qt])
    qref = B.load(qm)
    got = jsonl(run(["embed", "-m", qm, "-i", inp, "--pooling", "mean"]))
    worst = min(cos(np.array(g["embedding"]), B.pool(B.forward(qref, i), "mean")) for g, i in zip(got, ids))
    check(worst >= bound, "embed %s: min cosine %.7f (bound %g)" % (qt, worst, bound))
    os.remove(qm)

# --- a decoder as an embedder -----------------------------------------------------------------
lm = tmp("llama.gguf")
run(["model", "create", "--arch", "llama", "--seed", "3", "-o", lm])
lref = L.load(lm)
for pooling in ("last", "mean"):
    got = jsonl(run(["embed", "-m", lm, "-i", inp, "--pooling", pooling, "--no-normalize"]))
    worst = 0.0
    for g, t in zip(got, texts):
        _, x = L.forward(lref, ids_of(lm, t), return_hidden=True)
        worst = max(worst, rel(np.array(g["embedding"]), B.pool(x, pooling)))
    check(worst <= 1e-4, "llama embedder, %s pooling: max rel err %.2e" % (pooling, worst))

# --- errors ------------------------------------------------------------------------------
r = subprocess.run([BIN, "classify", "-m", lm, "-i", inp], capture_output=True, text=True)
check(r.returncode == 1 and "classifier head" in r.stderr, "classify without a head: %s" % r.stderr.strip()[:100])
bad = tmp("bad.jsonl")
with open(bad, "w") as f:
    f.write('{"text": "fine"}\n{"text": 3}\n')
r = subprocess.run([BIN, "embed", "-m", model, "-i", bad], capture_output=True, text=True)
check(r.returncode == 1 and "bad.jsonl:2" in r.stderr, "bad JSONL names file and line: %s" % r.stderr.strip()[:100])
out = tmp("never.npy")
r = subprocess.run([BIN, "embed", "-m", model, "-i", bad, "-o", out], capture_output=True, text=True)
check(r.returncode == 1 and not os.path.exists(out), "failed run leaves no output file")
# An output folder that does not exist: a clear error naming the file, exit 1, no crash.
for cmd in (["embed", "-m", model, "-i", inp, "--pooling", "mean"], ["classify", "-m", model, "-i", inp],
            ["rerank", "-m", model, "-i", inp, "-q", "stage"]):
    out = os.path.join(tmp("no_such_dir"), "x.out")
    r = subprocess.run([BIN] + cmd + ["-o", out], capture_output=True, text=True)
    check(r.returncode == 1 and "no_such_dir/x.out" in r.stderr,
          "%s into a missing folder fails cleanly (rc %d): %s" % (cmd[0], r.returncode, r.stderr.strip()[-120:]))

for p in (raw, model, lm, inp, jin, npy, bad):
    if os.path.exists(p):
        os.remove(p)
U.finish("all encoder oracle checks passed")
