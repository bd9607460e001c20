"""Oracle for `oncolm model create`: create tiny models of every architecture
and weight type with the CLI, read them with the independent numpy GGUF
reader (tests/oracle/gguf_np.py), and check against the reference facts
(shared/reference/gguf-and-llama-formats.md Q3/Q4/Q5):

- every required tensor exists with the reference shape (ggml ne order);
- metadata keys have the exact types llama.cpp requires;
- tied embeddings omit output.weight;
- weight statistics: std ~0.02, mean ~0, norms exactly 1, biases 0;
- the same seed gives byte-identical files, another seed does not;
- each family's special/added tokens sit where the real models have them,
  with the real token types (CONTROL=3, USER_DEFINED=4, UNUSED=5), special
  ids (u32, eot_token_id included) and a tokenizer.chat_template string of
  the family (Phi-3-mini: 32000..32010 in a 32064 vocabulary; Llama-3:
  128000..128255; Qwen2: 151643..151645 in 151936; BERT: 0/100..103).

Run with Debian's /usr/bin/python3 (numpy). Exit 77 = skipped.
"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import oracle_util as U  # noqa: E402

np = U.need("numpy")

try:
    import gguf_np  # independent reader written for the oracles
except ImportError:
    print("tests/oracle/gguf_np.py missing: skipped")
    sys.exit(77)

BIN = U.need_bin()
TMP = U.TMP

# gguf value type ids (Q1)
U32, I32, F32, BOOL, STRING, ARRAY = 4, 5, 6, 7, 8, 9
# ggml type ids (Q2)
T = {"f32": 0, "f16": 1, "q4_0": 2, "q8_0": 8, "q4_K": 12, "q5_K": 13, "q6_K": 14, "bf16": 30}
FILE_TYPE = {"f32": 0, "f16": 1, "q4_0": 2, "q8_0": 7, "q4_K": 14, "q5_K": 16, "q6_K": 18, "bf16": 32}
BLOCK = {"f32": (1, 4), "f16": (1, 2), "bf16": (1, 2), "q4_0": (32, 18), "q8_0": (32, 34),
         "q4_K": (256, 144), "q5_K": (256, 176), "q6_K": (256, 210)}


# --- view over gguf_np ------------------------------------------------------
# kv[key] = (type_id, value) with arrays as (ARRAY, (elem_type_id, list));
# tensors[name] = (type_id, ne padded to 4 dims, raw bytes).
def open_gguf(path):
    g = gguf_np.read_gguf(path)
    kv = {}
    for k, (t, v) in g.kv.items():
        kv[k] = (ARRAY, (v[0], list(v[1]))) if t == ARRAY else (t, v)
    tensors = {}
    for name, t in g.tensors.items():
        ne = tuple(t.ne) + (1,) * (4 - len(t.ne))
        tensors[name] = (t.type, ne, bytes(t.data))
    return kv, tensors


# --- helpers -----------------------------------------------------------------
failures = U.failures


check = U.check


def create(out, *args):
    cmd = [BIN, "model", "create", "-o", out] + list(args)
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit("command failed: %s\n%s" % (" ".join(cmd), r.stderr))
    return r.stderr


def f16(b):
    return np.frombuffer(b, dtype="<f2").astype(np.float32)


def as_f32(ttype, data):
    if ttype == 0:
        return np.frombuffer(data, dtype="<f4")
    if ttype == 1:
        return f16(data)
    if ttype == 30:
        return (np.frombuffer(data, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
    if ttype == 8:  # q8_0: d f16, 32 x int8
        blocks = np.frombuffer(data, dtype=np.uint8).reshape(-1, 34)
        d = f16(blocks[:, :2].tobytes())
        q = blocks[:, 2:].view(np.int8).astype(np.float32)
        return (q * d[:, None]).reshape(-1)
    return None  # other quantized types: statistics not checked here


def expected_tensors(arch, kv, tied, n_layer):
    a = arch
    E = kv[a + ".embedding_length"][1]
    V = len(kv["tokenizer.ggml.tokens"][1][1])
    F = kv[a + ".feed_forward_length"][1]
    H = kv[a + ".attention.head_count"][1]
    HKV = kv.get(a + ".attention.head_count_kv", (U32, H))[1]
    hd = E // H
    gqa = hd * HKV
    ctx = kv[a + ".context_length"][1]
    t = {}
    if arch == "bert":
        t["token_embd.weight"] = (E, V)
        t["token_types.weight"] = (E, kv["tokenizer.ggml.token_type_count"][1])
        t["position_embd.weight"] = (E, ctx)
        t["token_embd_norm.weight"] = (E,)
        t["token_embd_norm.bias"] = (E,)
        for i in range(n_layer):
            p = "blk.%d." % i
            for n, s in (("attn_q", (E, E)), ("attn_k", (E, gqa)), ("attn_v", (E, gqa)),
                         ("attn_output", (E, E)), ("ffn_up", (E, F)), ("ffn_down", (F, E))):
                t[p + n + ".weight"] = s
                t[p + n + ".bias"] = (s[1],)
            for n in ("attn_output_norm", "layer_output_norm"):
                t[p + n + ".weight"] = (E,)
                t[p + n + ".bias"] = (E,)
        if a + ".classifier.output_labels" in kv:
            n_cls = len(kv[a + ".classifier.output_labels"][1][1])
            t["cls.weight"] = (E, E)
            t["cls.bias"] = (E,)
            t["cls.output.weight"] = (E, n_cls)
            t["cls.output.bias"] = (n_cls,)
        return t
    t["token_embd.weight"] = (E, V)
    t["output_norm.weight"] = (E,)
    if not tied:
        t["output.weight"] = (E, V)
    for i in range(n_layer):
        p = "blk.%d." % i
        t[p + "attn_norm.weight"] = (E,)
        t[p + "ffn_norm.weight"] = (E,)
        t[p + "attn_output.weight"] = (E, E)
        t[p + "ffn_down.weight"] = (F, E)
        if arch == "phi3":
            t[p + "attn_qkv.weight"] = (E, E + 2 * gqa)
            t[p + "ffn_up.weight"] = (E, 2 * F)
        else:
            t[p + "attn_q.weight"] = (E, E)
            t[p + "attn_k.weight"] = (E, gqa)
            t[p + "attn_v.weight"] = (E, gqa)
            t[p + "ffn_gate.weight"] = (E, F)
            t[p + "ffn_up.weight"] = (E, F)
            if arch == "qwen2":
                t[p + "attn_q.bias"] = (E,)
                t[p + "attn_k.bias"] = (gqa,)
                t[p + "attn_v.bias"] = (gqa,)
    return t


def check_types(arch, kv, quantized):
    a = arch
    check(kv["general.architecture"] == (STRING, arch), "general.architecture")
    for k in ("context_length", "embedding_length", "block_count", "feed_forward_length",
              "attention.head_count"):
        check(kv.get(a + "." + k, (None,))[0] == U32, "%s.%s must be u32" % (a, k))
    check(kv.get("general.file_type", (None,))[0] == U32, "general.file_type u32")
    if quantized:
        check(kv.get("general.quantization_version") == (U32, 2), "quantization_version u32 = 2")
    if arch == "bert":
        check(kv.get(a + ".attention.layer_norm_epsilon", (None,))[0] == F32, "bert eps f32")
        check(kv.get(a + ".attention.causal") == (BOOL, False), "bert.attention.causal bool false")
        check(kv.get(a + ".pooling_type", (None,))[0] == U32, "bert.pooling_type u32")
        check(kv.get("tokenizer.ggml.token_type_count", (None,))[0] == U32, "token_type_count u32")
        check(kv.get("tokenizer.ggml.model", (None, None))[1] == "bert", "tokenizer model bert")
    else:
        check(kv.get(a + ".attention.head_count_kv", (None,))[0] == U32, "head_count_kv u32")
        check(kv.get(a + ".attention.layer_norm_rms_epsilon", (None,))[0] == F32, "rms eps f32")
        check(kv.get(a + ".rope.freq_base", (None,))[0] == F32, "rope.freq_base f32")
        check(kv.get(a + ".rope.dimension_count", (None,))[0] == U32, "rope.dimension_count u32")
    tok = kv["tokenizer.ggml.tokens"]
    check(tok[0] == ARRAY and tok[1][0] == STRING, "tokens array[string]")
    n = len(tok[1][1])
    if "tokenizer.ggml.scores" in kv:
        s = kv["tokenizer.ggml.scores"]
        check(s[1][0] == F32 and len(s[1][1]) == n, "scores array[f32] of n_tokens")
    tt = kv.get("tokenizer.ggml.token_type")
    check(tt is not None and tt[1][0] == I32 and len(tt[1][1]) == n, "token_type array[i32] of n_tokens")
    for k in ("bos", "eos", "unknown", "seperator", "padding", "mask"):
        key = "tokenizer.ggml.%s_token_id" % k
        if key in kv:
            check(kv[key][0] == U32 and kv[key][1] < n, key + " u32 < n_tokens")
    if kv.get("tokenizer.ggml.model", (0, ""))[1] == "gpt2":
        m = kv.get("tokenizer.ggml.merges")
        check(m is not None and m[1][0] == STRING, "merges array[string]")


def run_one(arch, wtype, tied=False, extra=()):
    out = os.path.join(TMP, "oracle_%s_%s%s.gguf" % (arch, wtype, "_tied" if tied else ""))
    args = ["--arch", arch, "--preset", "tiny", "--layers", "2", "--type", wtype] + list(extra)
    if tied:
        args.append("--tied")
    create(out, *args)
    kv, tensors = open_gguf(out)
    name = "%s/%s%s" % (arch, wtype, "/tied" if tied else "")
    check_types(arch, kv, wtype not in ("f32", "f16", "bf16"))
    check(kv.get("general.file_type", (0, -1))[1] == FILE_TYPE[wtype], name + ": file_type")
    exp = expected_tensors(arch, kv, tied, 2)
    for tname, shape in exp.items():
        if tname not in tensors:
            check(False, "%s: missing tensor %s" % (name, tname))
            continue
        ttype, ne, data = tensors[tname]
        want = tuple(shape) + (1,) * (4 - len(shape))
        check(ne == want, "%s: %s shape %s, want %s" % (name, tname, ne, want))
        one_d = len(shape) == 1 or tname in ("position_embd.weight", "token_types.weight")
        want_type = T["f32"] if one_d else T[wtype]
        if not one_d and ne[0] % BLOCK[wtype][0] != 0:
            want_type = T["q8_0"] if BLOCK[wtype][0] == 256 and ne[0] % 32 == 0 else T["f32"]
        check(ttype == want_type, "%s: %s type %d, want %d" % (name, tname, ttype, want_type))
        bs, ts = {v: BLOCK[k] for k, v in T.items()}[ttype]
        check(len(data) >= ne[0] // bs * ts * ne[1] * ne[2] * ne[3], "%s: %s data size" % (name, tname))
        vals = as_f32(ttype, data[: ne[0] // bs * ts * ne[1] * ne[2] * ne[3]])
        if vals is None:
            continue
        if "norm" in tname and tname.endswith(".weight"):
            check(np.all(vals == 1.0), "%s: %s must be all ones" % (name, tname))
        elif tname.endswith(".bias"):
            check(np.all(vals == 0.0), "%s: %s must be zeros" % (name, tname))
        elif vals.size >= 4096:
            std, mean = float(vals.std()), float(vals.mean())
            check(abs(std - 0.02) < 0.002 and abs(mean) < 0.002,
                  "%s: %s std %.4f mean %.4f (want ~0.02, ~0)" % (name, tname, std, mean))
    extra_t = set(tensors) - set(exp)
    check(not extra_t, "%s: unexpected tensors %s" % (name, sorted(extra_t)))
    if tied:
        check("output.weight" not in tensors, name + ": tied model has output.weight")
    os.remove(out)


# --- family special tokens ----------------------------------------------------
CONTROL, USER_DEFINED, UNUSED = 3, 4, 5
SMALL = ("--layers", "1", "--embd", "64", "--heads", "2", "--kv-heads", "2", "--ff", "128", "--type", "q8_0")


def vocab_of(kv):
    toks = kv["tokenizer.ggml.tokens"][1][1]
    types = kv["tokenizer.ggml.token_type"][1][1]
    return toks, types


def expect_tok(name, toks, types, i, text, ttype):
    check(i < len(toks) and toks[i] == text and types[i] == ttype,
          "%s: token %d = %r type %s, want %r type %d" % (
              name, i, toks[i] if i < len(toks) else None, types[i] if i < len(types) else None, text, ttype))


def expect_id(name, kv, key, want):
    got = kv.get("tokenizer.ggml.%s_token_id" % key)
    check(got == (U32, want), "%s: %s_token_id %r, want u32 %d" % (name, key, got, want))


def template(kv):
    t = kv.get("tokenizer.chat_template")
    if t is None:
        return None
    check(t[0] == STRING, "tokenizer.chat_template must be a string")
    return t[1]


def check_families():
    out = os.path.join(TMP, "oracle_family.gguf")
    # Phi-3-mini layout
    create(out, "--arch", "phi3", "--pad-vocab", "32064", *SMALL)
    kv, tensors = open_gguf(out)
    toks, types = vocab_of(kv)
    check(len(toks) == 32064 and kv.get("phi3.vocab_size", (U32, 32064))[1] == 32064, "phi3: 32064 tokens")
    check(tensors["token_embd.weight"][1][1] == 32064, "phi3: token_embd rows = 32064")
    expect_tok("phi3", toks, types, 0, "<unk>", 2)
    expect_tok("phi3", toks, types, 1, "<s>", CONTROL)
    expect_tok("phi3", toks, types, 2, "</s>", CONTROL)
    for i, t in enumerate(["<|endoftext|>", "<|assistant|>", "<|placeholder1|>", "<|placeholder2|>",
                           "<|placeholder3|>", "<|placeholder4|>", "<|system|>", "<|end|>",
                           "<|placeholder5|>", "<|placeholder6|>", "<|user|>"]):
        expect_tok("phi3", toks, types, 32000 + i, t, CONTROL if i == 0 else USER_DEFINED)
    check(all(types[i] == UNUSED for i in range(32011, 32064)), "phi3: 32011.. unused")
    check(len(set(toks)) == len(toks), "phi3: token texts unique")
    expect_id("phi3", kv, "bos", 1)
    expect_id("phi3", kv, "eos", 32000)
    expect_id("phi3", kv, "eot", 32007)
    expect_id("phi3", kv, "padding", 32000)
    t = template(kv) or ""
    check("<|user|>" in t and "<|end|>" in t and "<|assistant|>" in t and "add_generation_prompt" in t,
          "phi3: Phi-3 chat template")
    # Llama-3 layout
    create(out, "--arch", "llama", "--vocab-kind", "bpe", "--pre", "llama-bpe", "--pad-vocab", "128256", *SMALL)
    kv, _ = open_gguf(out)
    toks, types = vocab_of(kv)
    check(len(toks) == 128256, "llama3: 128256 tokens")
    check(kv.get("tokenizer.ggml.pre") == (STRING, "llama-bpe"), "llama3: pre llama-bpe")
    for i, t in {0: "<|begin_of_text|>", 1: "<|end_of_text|>", 2: "<|reserved_special_token_0|>",
                 6: "<|start_header_id|>", 7: "<|end_header_id|>", 8: "<|reserved_special_token_4|>",
                 9: "<|eot_id|>", 10: "<|reserved_special_token_5|>", 255: "<|reserved_special_token_250|>"}.items():
        expect_tok("llama3", toks, types, 128000 + i, t, CONTROL)
    check(all(types[i] == CONTROL for i in range(128000, 128256)), "llama3: special block all CONTROL")
    check(len(set(toks)) == len(toks), "llama3: token texts unique")
    expect_id("llama3", kv, "bos", 128000)
    expect_id("llama3", kv, "eos", 128001)
    expect_id("llama3", kv, "eot", 128009)
    check(kv.get("tokenizer.ggml.add_bos_token") == (BOOL, True), "llama3: add_bos_token true")
    t = template(kv) or ""
    check("<|start_header_id|>" in t and "<|eot_id|>" in t, "llama3: Llama-3 chat template")
    # Qwen2 layout
    create(out, "--arch", "qwen2", "--pad-vocab", "151936", *SMALL)
    kv, _ = open_gguf(out)
    toks, types = vocab_of(kv)
    check(len(toks) == 151936, "qwen2: 151936 tokens")
    for i, t in enumerate(["<|endoftext|>", "<|im_start|>", "<|im_end|>"]):
        expect_tok("qwen2", toks, types, 151643 + i, t, CONTROL)
    expect_tok("qwen2", toks, types, 151646, "[PAD151646]", UNUSED)
    expect_id("qwen2", kv, "bos", 151643)
    expect_id("qwen2", kv, "eos", 151645)
    expect_id("qwen2", kv, "padding", 151643)
    check(kv.get("tokenizer.ggml.add_bos_token") == (BOOL, False), "qwen2: add_bos_token false")
    t = template(kv) or ""
    check("<|im_start|>" in t and "<|im_end|>" in t, "qwen2: ChatML template")
    # Llama-2 SPM and BERT
    create(out, "--arch", "llama", *SMALL)
    kv, _ = open_gguf(out)
    toks, types = vocab_of(kv)
    expect_tok("llama2", toks, types, 1, "<s>", CONTROL)
    expect_tok("llama2", toks, types, 2, "</s>", CONTROL)
    check("[INST]" in (template(kv) or ""), "llama2: Llama-2-chat template")
    check("tokenizer.ggml.eot_token_id" not in kv, "llama2: no eot_token_id")
    create(out, "--arch", "bert", "--layers", "1")
    kv, _ = open_gguf(out)
    toks, types = vocab_of(kv)
    for i, t in ((0, "[PAD]"), (100, "[UNK]"), (101, "[CLS]"), (102, "[SEP]"), (103, "[MASK]")):
        expect_tok("bert", toks, types, i, t, CONTROL)
    check(template(kv) is None, "bert: no chat template")
    # template options
    create(out, "--arch", "qwen2", "--layers", "1", "--chat-template", "none")
    check(template(open_gguf(out)[0]) is None, "--chat-template none")
    create(out, "--arch", "llama", "--layers", "1", "--chat-template", "zephyr")
    check("<|assistant|>" in (template(open_gguf(out)[0]) or ""), "--chat-template zephyr")
    tf = os.path.join(TMP, "oracle_tmpl.jinja")
    with open(tf, "w") as f:
        f.write("{% for m in messages %}{{ m['content'] }}{% endfor %}")
    create(out, "--arch", "phi3", "--layers", "1", "--chat-template-file", tf)
    check(template(open_gguf(out)[0]) == "{% for m in messages %}{{ m['content'] }}{% endfor %}",
          "--chat-template-file")
    create(out, "--arch", "phi3", "--layers", "1", "--no-family-tokens")
    kv, _ = open_gguf(out)
    check("<|end|>" not in kv["tokenizer.ggml.tokens"][1][1] and template(kv) is None, "--no-family-tokens")
    os.remove(tf)
    os.remove(out)


def main():
    for arch in ("llama", "qwen2", "phi3", "bert"):
        for wtype in ("f32", "f16", "bf16", "q8_0", "q4_0", "q4_K", "q5_K", "q6_K"):
            run_one(arch, wtype)
    run_one("llama", "f32", tied=True)
    run_one("qwen2", "q8_0", tied=True)
    run_one("bert", "f16", extra=("--labels", "negative,positive,uncertain"))
    kv, _ = open_gguf_labels()
    check_families()
    # determinism
    a, b, c = (os.path.join(TMP, "oracle_seed_%d.gguf" % i) for i in range(3))
    create(a, "--arch", "llama", "--layers", "1", "--type", "q4_K", "--seed", "123")
    create(b, "--arch", "llama", "--layers", "1", "--type", "q4_K", "--seed", "123")
    create(c, "--arch", "llama", "--layers", "1", "--type", "q4_K", "--seed", "124")
    with open(a, "rb") as fa, open(b, "rb") as fb, open(c, "rb") as fc:
        da, db, dc = fa.read(), fb.read(), fc.read()
    check(da == db, "same seed must give byte-identical files")
    check(da != dc, "different seeds must give different files")
    for p in (a, b, c):
        os.remove(p)
    U.finish("ok")


def open_gguf_labels():
    out = os.path.join(TMP, "oracle_bert_labels.gguf")
    create(out, "--arch", "bert", "--layers", "1", "--labels", "negative,positive")
    kv, tensors = open_gguf(out)
    lab = kv.get("bert.classifier.output_labels")
    check(lab is not None and lab[1][0] == STRING and lab[1][1] == ["negative", "positive"],
          "bert.classifier.output_labels array[string]")
    check(tensors.get("cls.output.weight", (0, ()))[1][:2] == (kv["bert.embedding_length"][1], 2),
          "cls.output.weight shape {n_embd, 2}")
    check(kv.get("bert.pooling_type") == (U32, 4), "classifier model uses pooling RANK (4)")
    os.remove(out)
    return kv, tensors


if __name__ == "__main__":
    main()
