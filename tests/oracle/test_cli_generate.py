"""CLI end to end: `oncolm generate`, `score`, `bench`, `chat` on a tiny
model made by `oncolm model create`, checked against the engine helpers and
numpy:
  - generate --temp 0 --json gives the greedy ids of helper model_greedy,
    n_generated tokens, log-probabilities equal to numpy's log-softmax of the
    helper's logits (1e-3), the same text for the same seed;
  - score --json: log-probabilities equal numpy's log-softmax of the helper's
    logits at each position (1e-3) and perplexity = exp(-mean);
  - bench --json: one line per test with a positive speed;
  - chat with messages piped in answers each line;
  - errors: a missing model names the file (exit 1), a bad flag exits 2.
Run with Debian's /usr/bin/python3 (numpy). Exit 77 = skipped."""
import json
import math
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import oracle_util as U  # noqa: E402

np = U.need("numpy")

BIN = U.need_bin()
HELPERS = os.path.dirname(U.need_helper("model_logits"))
TMP = U.TMP

failures = U.failures


check = U.check


def run(args, input=None, expect=0):
    return U.run_cli(BIN, args, expect=expect, input=input)


model = os.path.join(TMP, "cli_gen_llama.gguf")
run(["model", "create", "--arch", "llama", "--layers", "2", "--embd", "64", "--heads", "4", "--kv-heads", "2",
     "--ff", "128", "--ctx", "256", "--seed", "5", "-o", model])

prompt = "Assessment: stable disease after 4 cycles."
ids = [int(x) for x in run(["tokenize", "-m", model, "-p", prompt, "--ids"]).stdout.split()]


def helper_logits(token_ids):
    out = os.path.join(TMP, "cli_gen_logits.f32")
    subprocess.run([os.path.join(HELPERS, "model_logits"), "--kv", "f16", model, out] + [str(i) for i in token_ids],
                   check=True)
    return np.fromfile(out, dtype=np.float32).reshape(len(token_ids), -1).astype(np.float64)


def log_softmax(z):
    m = z.max(axis=-1, keepdims=True)
    return z - m - np.log(np.exp(z - m).sum(axis=-1, keepdims=True))


# generate, greedy
g = json.loads(run(["generate", "-m", model, "-p", prompt, "-n", "8", "--temp", "0", "--ignore-eos", "--json",
                    "-t", "1"]).stdout)
check(g["n_generated"] == 8 and len(g["tokens"]) == 8, "generate: 8 tokens")
check(g["n_prompt"] == len(ids), "generate: prompt tokens %d vs tokenize %d" % (g["n_prompt"], len(ids)))
greedy = [int(x) for x in subprocess.run([os.path.join(HELPERS, "model_greedy"), "--kv", "f16", model, "8"] +
                                         [str(i) for i in ids], capture_output=True, text=True,
                                         check=True).stdout.split()]
check(g["tokens"] == greedy, "generate --temp 0 = model_greedy: %s vs %s" % (g["tokens"], greedy))
lp_ref = log_softmax(helper_logits(ids + g["tokens"]))
for k, (tok, lp) in enumerate(zip(g["tokens"], g["logprobs"])):
    ref = lp_ref[len(ids) - 1 + k, tok]
    check(abs(lp - ref) < 1e-3, "generate logprob %d: %g vs numpy %g" % (k, lp, ref))
check(g["timings"]["prompt_ms"] >= 0 and "generation_tokens_per_s" in g["timings"], "generate: timings")

# generate, sampled: same seed, same text
s1 = json.loads(run(["generate", "-m", model, "-p", prompt, "-n", "12", "--temp", "1.2", "--seed", "9",
                     "--ignore-eos", "--json"]).stdout)
s2 = json.loads(run(["generate", "-m", model, "-p", prompt, "-n", "12", "--temp", "1.2", "--seed", "9",
                     "--ignore-eos", "--json"]).stdout)
check(s1["tokens"] == s2["tokens"] and s1["text"] == s2["text"], "same seed, same tokens")
# a banned token never appears
banned = s1["tokens"][0]
s3 = json.loads(run(["generate", "-m", model, "-p", prompt, "-n", "12", "--temp", "1.2", "--seed", "9",
                     "--ignore-eos", "--json", "--logit-bias", "%d=-inf" % banned]).stdout)
check(banned not in s3["tokens"], "--logit-bias ID=-inf bans the token")

# score
sc = json.loads(run(["score", "-m", model, "-p", prompt, "--json"]).stdout)
check(sc["tokens"] == ids, "score tokenizes like tokenize")
ref = log_softmax(helper_logits(ids))
for i in range(len(ids) - 1):
    check(abs(sc["logprobs"][i] - ref[i, ids[i + 1]]) < 1e-3,
          "score logprob %d: %g vs numpy %g" % (i, sc["logprobs"][i], ref[i, ids[i + 1]]))
ppl = math.exp(-sum(sc["logprobs"]) / len(sc["logprobs"]))
check(abs(ppl - sc["perplexity"]) < 1e-3 * ppl, "perplexity = exp(-mean)")

# bench
lines = [json.loads(l) for l in run(["bench", "-m", model, "-p", "16", "-n", "4", "-r", "1", "-t", "1",
                                     "--json"]).stdout.splitlines()]
check([l["test"] for l in lines] == ["pp16", "tg4"], "bench tests pp16 and tg4")
check(all(l["tokens_per_s"] > 0 for l in lines), "bench speeds positive")

# chat, piped: one reply per line
r = run(["chat", "-m", model, "--template", "chatml", "-n", "4", "--temp", "0", "--ignore-eos"],
        input="first question\nsecond question\n")
check(r.stdout.count("\n") >= 2, "chat: a reply per input line")

# errors
r = run(["generate", "-m", os.path.join(TMP, "no_such.gguf"), "-p", "x"], expect=1)
check("no_such.gguf" in r.stderr, "missing model named in the error")
run(["generate", "-m", model, "-p", "x", "--no-such-flag"], expect=2)
run(["generate", "-m", model, "-p", "x", "--temp", "abc"], expect=2)

U.finish("ok")
