"""Oracle for LoRA adapters at inference and for `oncolm lora merge`.

Adapters are written HERE, by numpy, straight from the format descriptions
in ../shared/reference/adapters-and-finetuning.md (no oncolm code involved):
  - llama.cpp GGUF LoRA: general.type "adapter", adapter.type "lora",
    adapter.lora.alpha F32, "<base>.lora_a" ne {in, r}, "<base>.lora_b"
    ne {r, out}, F32;
  - PEFT: adapter_model.safetensors (8-byte little-endian header length,
    JSON header with dtype/shape/data_offsets, metadata {"format": "pt"})
    and adapter_config.json; lora_A [r, in], lora_B [out, r] in Hugging
    Face row order, so for llama the rows of q/k lora_B are permuted by the
    converter's permute (llama_np.permute_qk) before they act on the GGUF
    weights.
The reference is the independent float64 forward pass (llama_np.py) on the
merged weights W + user_scale * alpha / r * B A. The C engine applies the
adapters unmerged (two extra products per layer): logits must agree within
1e-4 (row-relative, as the F32 forward oracle) on F32 bases; on a Q8_0 base
within the Q8_0 tolerance of test_forward_oracle.py (activation rounding).
`oncolm lora merge` output is checked tensor by tensor against the numpy
merge (F32 base: kept F32, max relative error 1e-6) and by its logits;
`lora convert` GGUF -> PEFT -> GGUF must give back the same numbers; a
generate run with --lora must produce the same text as the merged model.
Exit 77 = skipped (numpy or helpers missing)."""
import json
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import oracle_util as U  # noqa: E402

np = U.need("numpy")

import gguf_np  # noqa: E402
import llama_np as L  # noqa: E402

BIN = U.need_bin()
TMP = U.TMP
LOGITS = U.need_helper("model_logits")
failures = U.failures


U.configure_checks(verbose=True)
check = U.check


run = U.try_run


tmp = U.tmp_namer("lora_oracle_")


MODULES = {  # GGUF tensor (without blk.N. / .weight) -> PEFT module path
    "attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj", "attn_v": "self_attn.v_proj",
    "attn_output": "self_attn.o_proj", "ffn_gate": "mlp.gate_proj", "ffn_up": "mlp.up_proj",
    "ffn_down": "mlp.down_proj",
}
PHI3_MODULES = {"attn_qkv": "self_attn.qkv_proj", "attn_output": "self_attn.o_proj",
                "ffn_up": "mlp.gate_up_proj", "ffn_down": "mlp.down_proj"}


def make_adapter(m, rank, seed, b_std=0.3):
    """Random adapter for every linear layer of model m (numpy Model):
    {gguf_base_name: (A[r, in], B_hf[out, r])}, B in Hugging Face row order."""
    rng = np.random.default_rng(seed)
    mods = PHI3_MODULES if m.hp.arch == "phi3" else MODULES
    ad = {}
    for il in range(m.hp.n_layer):
        for t in mods:
            name = "blk.%d.%s.weight" % (il, t)
            if name not in m.w:
                continue
            out, n_in = m.w[name].shape
            a = rng.uniform(-1, 1, size=(rank, n_in)) / np.sqrt(n_in)
            b = rng.normal(0, b_std, size=(out, rank))
            ad[name] = (a.astype(np.float32), b.astype(np.float32))
    return ad


def gguf_order_b(m, name, b_hf):
    """B rows in the GGUF order of the base (llama q/k permuted)."""
    if m.hp.arch == "llama" and (".attn_q." in name or ".attn_k." in name):
        return L.permute_qk(b_hf, m.hp.n_head, m.hp.n_head if ".attn_q." in name else m.hp.n_head_kv)
    return b_hf


def write_gguf_adapter(path, m, ad, alpha):
    w = gguf_np.Writer()
    w.add("general.architecture", gguf_np.STRING, m.hp.arch)
    w.add("general.type", gguf_np.STRING, "adapter")
    w.add("adapter.type", gguf_np.STRING, "lora")
    w.add("adapter.lora.alpha", gguf_np.FLOAT32, float(alpha))
    for name, (a, b_hf) in ad.items():
        b = np.ascontiguousarray(gguf_order_b(m, name, b_hf), dtype=np.float32)
        w.add_tensor(name + ".lora_a", 0, [a.shape[1], a.shape[0]], a)
        w.add_tensor(name + ".lora_b", 0, [b.shape[1], b.shape[0]], b)
    w.write(path)


def write_peft_adapter(folder, m, ad, rank, alpha):
    os.makedirs(folder, exist_ok=True)
    mods = PHI3_MODULES if m.hp.arch == "phi3" else MODULES
    header, blobs, off = {"__metadata__": {"format": "pt"}}, [], 0
    targets = set()
    for name, (a, b_hf) in ad.items():
        il, t = name.split(".")[1], name.split(".")[2]
        key = "base_model.model.model.layers.%s.%s" % (il, mods[t])
        targets.add(mods[t].split(".")[1])
        for suffix, arr in ((".lora_A.weight", a), (".lora_B.weight", b_hf)):
            data = np.ascontiguousarray(arr, dtype="<f4").tobytes()
            header[key + suffix] = {"dtype": "F32", "shape": list(arr.shape), "data_offsets": [off, off + len(data)]}
            blobs.append(data)
            off += len(data)
    hj = json.dumps(header).encode()
    hj += b" " * ((8 - len(hj) % 8) % 8)
    with open(os.path.join(folder, "adapter_model.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(hj)) + hj + b"".join(blobs))
    cfg = {"peft_type": "LORA", "task_type": "CAUSAL_LM", "r": rank, "lora_alpha": alpha,
           "target_modules": sorted(targets), "base_model_name_or_path": "", "use_rslora": False,
           "lora_dropout": 0.0, "bias": "none", "fan_in_fan_out": False}
    with open(os.path.join(folder, "adapter_config.json"), "w") as f:
        json.dump(cfg, f)


def merged_model(path, adapters):
    """numpy model at path with adapters [(ad, scale*alpha/r)] folded in."""
    m = L.load(path)
    for ad, s in adapters:
        for name, (a, b_hf) in ad.items():
            b = gguf_order_b(m, name, b_hf).astype(np.float64)
            m.w[name] = m.w[name] + s * (b @ a.astype(np.float64))
    return m


def c_logits(model, ids, loras=()):
    out = tmp("logits.f32")
    cmd = [LOGITS, "--threads", "1"]
    for p, s in loras:
        cmd += ["--lora", "%s:%g" % (p, s)]
    o, err = run(cmd + [model, out] + [str(i) for i in ids])
    if err:
        return None, err
    a = np.fromfile(out, dtype="<f4").astype(np.float64)
    os.remove(out)
    return a, None


def row_rel_err(c, r):
    return float((np.max(np.abs(c - r), axis=1) / np.max(np.abs(r), axis=1)).max())


def compare(label, model, ref_m, ids, loras, tol):
    c, err = c_logits(model, ids, loras)
    if err:
        check(False, "%s: model_logits failed: %s" % (label, err))
        return None
    r = L.forward(ref_m, ids)
    if c.size != r.size:
        check(False, "%s: %d logits, want %d" % (label, c.size, r.size))
        return None
    c = c.reshape(r.shape)
    e = row_rel_err(c, r)
    check(e <= tol, "%s: max row-rel err %.2e (tol %.0e)" % (label, e, tol))
    return c


def create(out, *args):
    o, err = run([BIN, "model", "create", "-o", out] + list(args))
    if err:
        raise SystemExit("model create failed: %s" % err)


def main():
    small = ["--layers", "2", "--embd", "64", "--heads", "4", "--kv-heads", "2", "--ff", "128", "--seed", "5"]
    rank, alpha = 4, 8.0
    ids = [1, 17, 250, 3, 99, 42, 7, 300, 12, 64, 5, 88]
    for arch in ("llama", "qwen2", "phi3"):
        base = tmp(arch + ".gguf")
        create(base, "--arch", arch, *small)
        m0 = L.load(base)
        ad1, ad2 = make_adapter(m0, rank, seed=11), make_adapter(m0, rank, seed=12)
        g1, p2 = tmp(arch + "_a1.gguf"), tmp(arch + "_a2_peft")
        write_gguf_adapter(g1, m0, ad1, alpha)
        write_peft_adapter(p2, m0, ad2, rank, alpha)
        s = alpha / rank
        # the adapter must change the logits a lot, or the checks below prove nothing
        base_logits = L.forward(m0, ids)
        ref1 = merged_model(base, [(ad1, 0.7 * s)])
        shift = row_rel_err(L.forward(ref1, ids), base_logits)
        check(shift > 0.05, "%s: the adapter moves the logits (%.2f row-relative)" % (arch, shift))
        compare("%s gguf adapter x0.7" % arch, base, ref1, ids, [(g1, 0.7)], 1e-4)
        ref2 = merged_model(base, [(ad2, 1.0 * s)])
        compare("%s peft adapter" % arch, base, ref2, ids, [(p2, 1.0)], 1e-4)
        ref12 = merged_model(base, [(ad1, 0.5 * s), (ad2, -1.5 * s)])
        c12 = compare("%s gguf x0.5 + peft x-1.5" % arch, base, ref12, ids, [(g1, 0.5), (p2, -1.5)], 1e-4)

        # merge: F32 base keeps F32; tensors equal the numpy merge; logits equal the unmerged run
        merged = tmp(arch + "_merged.gguf")
        o, err = run([BIN, "lora", "merge", "-m", base, "--lora", g1 + ":0.5", "--lora", p2 + ":-1.5", "-o", merged])
        check(err is None, "%s: lora merge runs%s" % (arch, "" if err is None else ": " + err))
        if err is None:
            mm = L.load(merged)
            worst = 0.0
            for name in ad1:
                d = np.abs(mm.w[name] - ref12.w[name]).max() / np.abs(ref12.w[name]).max()
                worst = max(worst, float(d))
            check(worst <= 1e-6, "%s: merged tensors equal W + s B A (max rel err %.1e)" % (arch, worst))
            untouched = [n for n in mm.w if n not in ad1]
            check(all(np.array_equal(mm.w[n], m0.w[n]) for n in untouched),
                  "%s: the %d tensors without adapter are copied unchanged" % (arch, len(untouched)))
            if c12 is not None:
                cm, err = c_logits(merged, ids)
                if err is None:
                    e = row_rel_err(cm.reshape(c12.shape), c12)
                    check(e <= 1e-4, "%s: merged model logits = adapters applied (%.1e)" % (arch, e))
        # convert GGUF -> PEFT -> GGUF gives the same numbers
        pe, g2 = tmp(arch + "_conv_peft"), tmp(arch + "_conv.gguf")
        o1, err1 = run([BIN, "lora", "convert", "-m", base, g1, pe])
        o2, err2 = run([BIN, "lora", "convert", "-m", base, pe, g2])
        check(err1 is None and err2 is None, "%s: lora convert both ways%s" % (arch, ": %s %s" % (err1, err2)
                                                                             if err1 or err2 else ""))
        if err1 is None and err2 is None:
            a, b = gguf_np.read_gguf(g1), gguf_np.read_gguf(g2)
            same = set(a.tensors) == set(b.tensors) and all(
                a.tensors[n].data == b.tensors[n].data for n in a.tensors)
            check(same, "%s: GGUF -> PEFT -> GGUF keeps every tensor bit for bit" % arch)
            # and the PEFT folder holds HF row order: lora_B of q equals ours before permutation
            with open(os.path.join(pe, "adapter_model.safetensors"), "rb") as f:
                n = struct.unpack("<Q", f.read(8))[0]
                hdr = json.loads(f.read(n))
                blob = f.read()
            key = next(k for k in hdr if k.endswith("layers.0.%s.lora_B.weight" %
                                                    ("self_attn.qkv_proj" if arch == "phi3" else "self_attn.q_proj")))
            lo, hi = hdr[key]["data_offsets"]
            got = np.frombuffer(blob[lo:hi], dtype="<f4").reshape(hdr[key]["shape"])
            want = ad1["blk.0.%s.weight" % ("attn_qkv" if arch == "phi3" else "attn_q")][1]
            check(np.array_equal(got, want), "%s: PEFT lora_B of q is in Hugging Face row order" % arch)
        o, err = run([BIN, "lora", "info", "-m", base, g1])
        check(err is None and "rank        4" in o and "scale       2" in o,
              "%s: lora info shows rank 4, scale 2%s" % (arch, "" if err is None else ": " + err))

    # a Q8_0 base: activations are rounded to Q8_0 in the engine, so the
    # forward oracle's Q8_0 tolerance applies
    base = tmp("llama.gguf")
    q8 = tmp("llama_q8.gguf")
    o, err = run([BIN, "quantize", base, q8, "q8_0"])
    check(err is None, "quantize to q8_0")
    m0 = L.load(q8)
    ad = make_adapter(m0, rank, seed=21)
    gq = tmp("llama_q8_a.gguf")
    write_gguf_adapter(gq, m0, ad, alpha)
    compare("llama q8_0 base, gguf adapter", q8, merged_model(q8, [(ad, alpha / rank)]), ids, [(gq, 1.0)], 5e-2)

    # adapter.lora.alpha = 0 means scale = the user's scale alone (llama.cpp)
    m0 = L.load(base)
    ad = make_adapter(m0, rank, seed=31)
    g0 = tmp("llama_alpha0.gguf")
    write_gguf_adapter(g0, m0, ad, 0.0)
    compare("llama adapter with alpha 0, x0.5", base, merged_model(base, [(ad, 0.5)]), ids, [(g0, 0.5)], 1e-4)

    # generate --lora gives the text of the merged model (greedy)
    g1 = tmp("llama_a1.gguf")
    merged = tmp("llama_m1.gguf")
    o, err = run([BIN, "lora", "merge", "-m", base, "--lora", g1, "-o", merged])
    if err is None:
        args = ["-p", "the patient", "-n", "12", "--temp", "0", "--ignore-eos"]
        a, e1 = run([BIN, "generate", "-m", base, "--lora", g1] + args)
        b, e2 = run([BIN, "generate", "-m", merged] + args)
        c, e3 = run([BIN, "generate", "-m", base] + args)
        check(e1 is None and e2 is None and a == b, "generate --lora = generate on the merged model (%r)" % a)
        check(e3 is None and c != a, "and differs from the base model's text")
    else:
        check(False, "lora merge: " + err)

    # errors: an adapter for another architecture, a missing file
    o, err = run([LOGITS, "--lora", tmp("qwen2_a1.gguf") + ":1", base, tmp("x.f32"), "1", "2"])
    check(err is not None and "qwen2" in err, "a qwen2 adapter on a llama model is refused: %s" % err)
    o, err = run([BIN, "generate", "-m", base, "--lora", tmp("nope.gguf"), "-p", "x", "-n", "1"])
    check(err is not None and "nope.gguf" in err, "a missing adapter file is named: %s" % err)

    U.finish("all LoRA inference checks passed")


main()
