"""Test for `oncolm model info`: a small llama-like GGUF (written with the
independent numpy writer tests/oracle/gguf_np.py) must be described with the
right header facts, hyper-parameters, parameter/byte table, vocabulary
summary and metadata, in text and in --json (parsed with Python's json);
malformed, missing and directory inputs must give "oncolm: FILE: ..." and
exit 1; --help exits 0; a bad option exits 2.

Run with Debian's /usr/bin/python3. Exit 77 = skipped.
"""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import oracle_util as U  # noqa: E402

np = U.need("numpy")

import gguf_np as G  # noqa: E402

BIN = U.need_bin(must_exist=True)
TMP = U.TMP

failures = U.failures


check = U.check


def info(*args):
    return subprocess.run([BIN, "model", "info"] + list(args), capture_output=True)


w = G.Writer(alignment=64)
w.add("general.architecture", G.STRING, "llama")
w.add("general.name", G.STRING, "tiny \"test\"\n\u00e9")
w.add("llama.context_length", G.UINT32, 256)
w.add("llama.embedding_length", G.UINT32, 64)
w.add("llama.block_count", G.UINT32, 1)
w.add("llama.attention.layer_norm_rms_epsilon", G.FLOAT32, 1e-5)
tokens = ["<unk>", "<s>", "</s>", "a\u2581b", "tab\t\"q\""] + ["t%d" % i for i in range(95)]
w.add("tokenizer.ggml.model", G.STRING, "gpt2")
w.add("tokenizer.ggml.pre", G.STRING, "llama3")
w.add("tokenizer.ggml.tokens", G.ARRAY, (G.STRING, tokens))
w.add("tokenizer.ggml.merges", G.ARRAY, (G.STRING, ["t 1", "t 2", "a b"]))
w.add("tokenizer.ggml.bos_token_id", G.UINT32, 1)
w.add("tokenizer.ggml.eos_token_id", G.UINT32, 2)
w.add("tokenizer.ggml.unknown_token_id", G.UINT32, 0)
w.add("tokenizer.ggml.scores", G.ARRAY, (G.FLOAT32, [float(-i) for i in range(100)]))
w.add_tensor("token_embd.weight", 0, [64, 100], np.zeros(6400, np.float32))
w.add_tensor("blk.0.attn_q.weight", 8, [64, 64], bytes(2 * 34 * 64))
w.add_tensor("blk.0.attn_k.weight", 8, [64, 64], bytes(2 * 34 * 64))
w.add_tensor("output_norm.weight", 0, [64], np.ones(64, np.float32))
path = os.path.join(TMP, "model_info.gguf")
w.write(path)
size = os.path.getsize(path)

# --- text -------------------------------------------------------------------
r = info(path)
out = r.stdout.decode("utf-8", "replace")
check(r.returncode == 0, "model info exit %d: %s" % (r.returncode, r.stderr))
for want in ["file:           " + path, "GGUF version:   3", "alignment:      64", "file size:      %d bytes" % size,
             "architecture:   llama", "context_length", "256", "layer_norm_rms_epsilon",
             "parameters:     14656", "model:    gpt2", "pre:      llama3", "tokens:   100", "merges:   3",
             "bos       1 '<s>'", "eos       2 '</s>'", "unknown   0 '<unk>'", "general.name",
             "\"tiny \\\"test\\\"\\n\u00e9\"", "[string x 100]", "..."]:
    check(want in out, "text output lacks %r" % want)
check("q8_0            2             8192             8704" in out, "type table row for q8_0 wrong:\n" + out)
check("f32             2             6464            25856" in out, "type table row for f32 wrong")
check("blk.0.attn_q.weight" not in out, "tensor table printed without --tensors")
r = info(path, "--tensors", "--all")
out = r.stdout.decode("utf-8", "replace")
check(r.returncode == 0 and "blk.0.attn_q.weight" in out and "[64, 64]" in out and "4352" in out,
      "--tensors output wrong")
check('"t94"' in out, "--all does not print whole arrays")

# --- json ------------------------------------------------------------------------
r = info(path, "--json", "--tensors")
check(r.returncode == 0, "--json exit %d" % r.returncode)
try:
    j = json.loads(r.stdout.decode("utf-8"))
except ValueError as e:
    j = None
    check(False, "--json output is not JSON: %s\n%s" % (e, r.stdout[:500]))
if j:
    check(j["file"] == path and j["version"] == 3 and j["alignment"] == 64 and j["file_size"] == size,
          "json header %r" % {k: j.get(k) for k in ("file", "version", "alignment", "file_size")})
    check(j["architecture"] == "llama", "json architecture")
    check(j["hparams"]["llama.context_length"] == {"type": "u32", "value": 256}, "json hparams %r" % j["hparams"])
    check(abs(j["hparams"]["llama.attention.layer_norm_rms_epsilon"]["value"] - 1e-5) < 1e-12, "json eps")
    check(j["n_params"] == 6400 + 2 * 4096 + 64, "json n_params %r" % j["n_params"])
    types = {t["type"]: t for t in j["types"]}
    check(types["q8_0"] == {"type": "q8_0", "tensors": 2, "parameters": 8192, "bytes": 8704}, "json types %r" % types)
    v = j["vocab"]
    check(v["model"] == "gpt2" and v["pre"] == "llama3" and v["n_tokens"] == 100 and v["n_merges"] == 3,
          "json vocab %r" % v)
    check(v["bos"] == {"id": 1, "text": "<s>"} and v["unknown"] == {"id": 0, "text": "<unk>"}, "json bos/unk %r" % v)
    md = j["metadata"]
    check(md["general.name"]["value"] == "tiny \"test\"\n\u00e9", "json string escaping %r" % md["general.name"])
    tk = md["tokenizer.ggml.tokens"]
    check(tk["n"] == 100 and tk["truncated"] and len(tk["value"]) == 16 and tk["value"][4] == "tab\t\"q\"",
          "json abbreviated array %r" % tk)
    check(len(j["tensors"]) == 4 and j["tensors"][1] == {"name": "blk.0.attn_q.weight", "type": "q8_0",
          "ne": [64, 64], "offset": 25600, "bytes": 4352}, "json tensors %r" % j.get("tensors"))
r = info(path, "--json", "--all")
j = json.loads(r.stdout.decode("utf-8"))
check(len(j["metadata"]["tokenizer.ggml.tokens"]["value"]) == 100, "json --all array length")

# --- errors -----------------------------------------------------------------------
bad = os.path.join(TMP, "model_info_bad.gguf")
with open(path, "rb") as f:
    blob = f.read()
with open(bad, "wb") as f:
    f.write(blob[:-200])
r = info(bad)
err = r.stderr.decode()
check(r.returncode == 1 and err.startswith("oncolm: " + bad + ": ") and "data ends at byte" in err,
      "truncated file: rc %d, %r" % (r.returncode, err))
with open(bad, "wb") as f:
    f.write(b"GGUF\x01\x00\x00\x00" + bytes(16))
r = info(bad, "--json")
check(r.returncode == 1 and "version 1" in r.stderr.decode() and r.stdout == b"", "version 1 file: %r" % r.stderr)
r = info(os.path.join(TMP, "no_such_model.gguf"))
check(r.returncode == 1 and "no_such_model.gguf: cannot open" in r.stderr.decode(), "missing file: %r" % r.stderr)
r = info(TMP)
check(r.returncode == 1 and "is a directory" in r.stderr.decode(), "directory: %r" % r.stderr)
r = info("--help")
check(r.returncode == 0 and b"usage: oncolm model info" in r.stdout, "--help")
r = info(path, "--bogus")
check(r.returncode == 2, "unknown option exit %d" % r.returncode)
r = info()
check(r.returncode == 2, "no FILE exit %d" % r.returncode)

U.finish("model info: all checks passed")
