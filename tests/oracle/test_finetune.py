"""End-to-end checks of `oncolm finetune` (LoRA on a frozen base):

  - overfitting: a tiny model learns a small prompt/completion set to near
    zero loss (the loss of the first step is about log(vocabulary size));
  - the adapter it writes, loaded with --lora, gives the completions a much
    higher likelihood (oncolm score) than the base model does;
  - kill -9 and --resume: a run killed with SIGKILL after a checkpoint and
    resumed writes exactly the loss log and adapter of a run that was never
    interrupted;
  - a resume with other settings is refused; a "messages" dataset trains
    (assistant-only loss); outputs (loss.csv, loss.json, report, PEFT
    folder) exist and agree.
Exit 77 = skipped (helpers missing)."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import oracle_util as U  # noqa: E402

BIN = U.need_bin()
TMP = U.TMP
U.configure_checks(verbose=True)
check = U.check
failures = U.failures
tmp = U.tmp_namer("ft_")


def run(args):
    r = U.run_cli(BIN, args, expect=None)
    return r.returncode, r.stdout, r.stderr


def read_csv(path):
    with open(path) as f:
        return f.read()


def main():
    model = tmp("tiny.gguf")
    rc, _, err = run(["model", "create", "-o", model, "--arch", "llama", "--layers", "2", "--embd", "64", "--heads",
                      "4", "--kv-heads", "2", "--ff", "128", "--init-std", "0.5"])
    if rc:
        raise SystemExit("model create: " + err)
    data = tmp("train.jsonl")
    with open(data, "w") as f:
        for i in range(12):
            f.write(json.dumps({"prompt": "Patient %d toxicity grade?" % i,
                                "completion": " grade %d dermatitis" % (i % 4)}) + "\n")

    # 1. overfit
    out = tmp("overfit")
    shutil.rmtree(out, ignore_errors=True)
    rc, _, err = run(["finetune", "-m", model, "--data", data, "-o", out, "--rank", "8", "--lr", "5e-3",
                      "--schedule", "cosine", "--epochs", "60", "--val-fraction", "0", "--dropout", "0",
                      "--save-every", "0", "-t", "2"])
    check(rc == 0, "finetune runs (%s)" % err.strip()[-300:])
    if rc == 0:
        lines = read_csv(os.path.join(out, "loss.csv")).strip().split("\n")
        first, last = float(lines[1].split(",")[2]), float(lines[-1].split(",")[2])
        last_epoch = sum(float(x.split(",")[2]) for x in lines[-12:]) / 12
        check(len(lines) == 1 + 12 * 60, "one log row per step (%d)" % (len(lines) - 1))
        check(first > 5.0, "first loss %.3f is near log(V) = 7.0" % first)
        check(last_epoch < 0.1, "a tiny model overfits 12 examples: mean loss of the last epoch %.4f < 0.1"
              % last_epoch)
        js = json.load(open(os.path.join(out, "loss.json")))
        check(len(js["steps"]) == len(lines) - 1 and abs(js["steps"][-1]["loss"] - last) < 1e-6,
              "loss.json agrees with loss.csv")
        for name in ("adapter.gguf", "adapter-peft/adapter_model.safetensors", "adapter-peft/adapter_config.json",
                     "report.html", "report.md", "checkpoint.gguf"):
            check(os.path.exists(os.path.join(out, name)), "%s written" % name)
        # 2. the adapter in use: the completions become likely
        text = tmp("text.txt")
        with open(text, "w") as f:
            f.write("Patient 3 toxicity grade? grade 3 dermatitis")
        rc1, o1, e1 = run(["score", "-m", model, "-f", text, "--json"])
        rc2, o2, e2 = run(["score", "-m", model, "--lora", os.path.join(out, "adapter.gguf"), "-f", text, "--json"])
        rc3, o3, e3 = run(["score", "-m", model, "--lora", os.path.join(out, "adapter-peft"), "-f", text, "--json"])
        if rc1 == 0 and rc2 == 0 and rc3 == 0:
            base, tuned, peft = json.loads(o1), json.loads(o2), json.loads(o3)
            # the completion's tokens: the last 4 scored (" grade", " 3", " dermatitis" pieces)
            lb, lt = sum(base["logprobs"][-4:]), sum(tuned["logprobs"][-4:])
            check(lt > -1.0 and lb < -10.0, "completion log-likelihood: base %.2f, with the adapter %.3f" % (lb, lt))
            check(tuned["logprobs"] == peft["logprobs"], "the PEFT export scores the same as the GGUF adapter")
        else:
            check(False, "score failed: %s %s %s" % (e1, e2, e3))

    # 3. kill -9 and resume == uninterrupted
    common = ["-m", model, "--data", data, "--rank", "4", "--lr", "5e-3", "--max-steps", "60", "--val-fraction",
              "0.25", "--eval-every", "10", "--save-every", "5", "--dropout", "0.1", "--grad-accum", "2",
              "--batch", "2", "-t", "1"]
    a, b = tmp("run_a"), tmp("run_b")
    for d in (a, b):
        shutil.rmtree(d, ignore_errors=True)
    rc, _, err = run(["finetune", "-o", a] + common)
    check(rc == 0, "uninterrupted run (%s)" % err.strip()[-300:])
    p = subprocess.Popen([BIN, "finetune", "-o", b] + common, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         text=True, errors="replace")
    ck = os.path.join(b, "checkpoint.gguf")
    t0 = time.time()
    while not os.path.exists(ck) and p.poll() is None and time.time() - t0 < 60:
        time.sleep(0.005)
    killed = p.poll() is None
    if killed:
        os.kill(p.pid, signal.SIGKILL)
    p.wait()
    check(killed, "the second run was killed with SIGKILL mid-run")
    rows_at_kill = read_csv(os.path.join(b, "loss.csv")).count("\n") - 1 if os.path.exists(
        os.path.join(b, "loss.csv")) else 0
    rc, _, err = run(["finetune", "-o", b, "--resume"] + common)
    check(rc == 0 and "resuming after step" in err, "--resume continues (%s)" % err.strip()[-200:])
    if rc == 0:
        la, lb = read_csv(os.path.join(a, "loss.csv")), read_csv(os.path.join(b, "loss.csv"))
        check(la == lb and la.count("\n") == 61,
              "losses after the resume equal the uninterrupted run's (60 steps; killed after %d)" % rows_at_kill)
        same = open(os.path.join(a, "adapter.gguf"), "rb").read() == open(os.path.join(b, "adapter.gguf"), "rb").read()
        check(same, "the final adapters are identical byte for byte")
    rc, _, err = run(["finetune", "-o", b, "--resume"] + common[:-2] + ["-t", "1", "--lr", "1e-3"])
    check(rc != 0 and "other settings" in err, "resume with another learning rate is refused: %s" % err.strip())

    # 4. messages with the chat template, assistant-only loss
    chat = tmp("chat.jsonl")
    with open(chat, "w") as f:
        for i in range(6):
            f.write(json.dumps({"messages": [{"role": "user", "content": "Grade for note %d?" % i},
                                             {"role": "assistant", "content": "grade %d" % (i % 3)}]}) + "\n")
    out = tmp("chat_run")
    shutil.rmtree(out, ignore_errors=True)
    rc, _, err = run(["finetune", "-m", model, "--data", chat, "-o", out, "--template", "chatml", "--max-steps", "5",
                      "--val-fraction", "0", "-t", "1"])
    check(rc == 0 and os.path.exists(os.path.join(out, "adapter.gguf")), "messages rows train (%s)" % err.strip()[-200:])

    # 5. errors
    rc, _, err = run(["finetune", "-m", model, "--data", tmp("missing.jsonl"), "-o", tmp("x")])
    check(rc == 1 and "missing.jsonl" in err, "a missing data file is named: %s" % err.strip())
    bad = tmp("bad.jsonl")
    with open(bad, "w") as f:
        f.write('{"prompt": "a", "completion": "b"}\n{"prompt": 3}\n')
    rc, _, err = run(["finetune", "-m", model, "--data", bad, "-o", tmp("x")])
    check(rc == 1 and "bad.jsonl:2" in err, "a bad row is named by line: %s" % err.strip())

    if failures:
        print("%d check(s) failed" % len(failures))
        sys.exit(1)
    print("all fine-tuning checks passed")


main()
