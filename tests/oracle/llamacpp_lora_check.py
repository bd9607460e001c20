"""llamacpp_lora_check.py — dev-time proof that LoRA adapters written by
oncolm load in real llama.cpp (node-llama-cpp, installed outside the
repository by bench/llamacpp/setup.sh) and give the logits oncolm gives.
Not a ctest test (the llama.cpp harness is dev-time only); run by hand:

    ONCOLM_BIN=build/bin/oncolm ONCOLM_HELPERS=build/test-helpers \
        /usr/bin/python3 tests/oracle/llamacpp_lora_check.py [TMPDIR]

For llama, qwen2 and phi3: a tiny model (oncolm model create), an adapter
trained by `oncolm finetune` (so every A and B is non-zero), then the
logits of 10 tokens with the adapter at scale 0.7 from llama.cpp (its own
LoRA loader) and from oncolm (model_logits --lora, F16 KV cache as
llama.cpp). Reported: the row-relative max error adapter-vs-adapter, the
same for the base models (the engines' own difference, F16 KV cache), and
the size of the adapter's effect; the check fails when the adapter error
exceeds 3x the base error or 5e-3."""
import os
import subprocess
import sys
import tempfile

import numpy as np

BIN, HELPERS = os.environ["ONCOLM_BIN"], os.environ["ONCOLM_HELPERS"]
HERE = os.path.dirname(os.path.abspath(__file__))
LOGITS_MJS = os.path.join(HERE, "..", "..", "bench", "llamacpp", "logits.mjs")
TMP = sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp()
os.makedirs(TMP, exist_ok=True)
IDS = ["1", "17", "250", "3", "99", "42", "7", "300", "12", "64"]


def sh(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True, errors="replace")
    if r.returncode:
        raise SystemExit("%s failed: %s" % (cmd[0], r.stderr[-500:]))


def rel(a, b):
    return float((np.abs(a - b).max(1) / np.abs(b).max(1)).max())


bad = 0
for arch in ("llama", "qwen2", "phi3"):
    model, data, out = (os.path.join(TMP, arch + s) for s in (".gguf", ".jsonl", "_run"))
    sh([BIN, "model", "create", "-o", model, "--arch", arch, "--layers", "2", "--embd", "64", "--heads", "4",
        "--kv-heads", "2" if arch != "phi3" else "4", "--ff", "128", "--init-std", "0.5"])
    with open(data, "w") as f:
        for i in range(8):
            f.write('{"prompt": "Patient %d grade?", "completion": " grade %d"}\n' % (i, i % 3))
    sh([BIN, "finetune", "-m", model, "--data", data, "-o", out, "--max-steps", "20", "--lr", "1e-2",
        "--val-fraction", "0", "--save-every", "0"])
    ad = os.path.join(out, "adapter.gguf")
    res = {}
    for name, lora in (("base", []), ("lora", ["--lora", ad + ":0.7"])):
        lc, on = os.path.join(TMP, "lc.f32"), os.path.join(TMP, "on.f32")
        sh(["node", LOGITS_MJS, model, "--out", lc] + lora + IDS)
        sh([os.path.join(HELPERS, "model_logits"), "--kv", "f16"] + lora + [model, on] + IDS)
        res[name] = (np.fromfile(lc, "<f4").reshape(len(IDS), -1), np.fromfile(on, "<f4").reshape(len(IDS), -1))
    e_lora, e_base = rel(*res["lora"]), rel(*res["base"])
    effect = rel(res["lora"][1], res["base"][1])
    ok = e_lora <= max(3 * e_base, 5e-3) and effect > 0.05
    bad += not ok
    print("%s %s: llama.cpp vs oncolm with the adapter %.2e, base models %.2e, adapter effect %.2f"
          % ("ok  " if ok else "FAIL", arch, e_lora, e_base, effect))
sys.exit(1 if bad else 0)
