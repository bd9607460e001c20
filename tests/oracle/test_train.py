"""End-to-end checks of `oncolm train` (encoder training), through the CLI:

  - classify: a small BERT learns keyword-defined report classes (three
    classes, imbalanced 6:2:1): validation macro-F1 far above the majority
    class's; best.gguf runs in `oncolm classify` and predicts the held-out
    rows; oversampling, undersampling and class weights train; loss.csv /
    loss.json / report agree;
  - kill -9 and --resume: a run killed after a checkpoint and resumed writes
    exactly the loss log and model of an uninterrupted run;
  - embed: contrastive training on query/passage pairs raises nDCG@10 on a
    held-out BEIR folder above the starting point's (measured at step 0);
    gradient caching (--chunk) gives the losses of the whole-batch pass;
  - mlm: masked-LM loss falls well below its start on a small corpus;
  - errors: no data, a decoder model, a bad row, a bad option; each names
    the problem and exits non-zero.
Exit 77 = skipped (binary missing)."""
import json
import os
import random
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
tmp = U.tmp_namer("tr_")


def run(args):
    r = U.run_cli(BIN, args, expect=None)
    return r.returncode, r.stdout, r.stderr


def loss_rows(out):
    with open(os.path.join(out, "loss.csv")) as f:
        lines = f.read().strip().split("\n")
    return [line.split(",") for line in lines[1:]]


def make_model(path, corpus, extra=()):
    rc, _, err = run(["model", "create", "--arch", "bert", "--layers", "2", "--embd", "64", "--heads", "4",
                      "--ff", "128", "--corpus", corpus, "--vocab-size", "600", "-o", path] + list(extra))
    if rc:
        raise SystemExit("model create: " + err)


WORDS = ("stable mass lesion nodule liver pancreas duct cyst enhancement biopsy contrast fluid margin "
         "lymph node adrenal spleen kidney bowel wall thickening fat stranding vessel").split()
CLASS_WORDS = {"no cancer": "unremarkable", "post-treatment": "resected", "pre-treatment": "hypodense"}


def report(rng, label):
    w = [rng.choice(WORDS) for _ in range(rng.randint(8, 14))]
    w.insert(rng.randint(0, len(w)), CLASS_WORDS[label])
    return "CT abdomen: " + " ".join(w) + "."


def classify_data(path, rng):
    rows = []
    labels = ["no cancer"] * 6 + ["post-treatment"] * 2 + ["pre-treatment"]
    for i in range(180):
        lab = labels[i % 9]
        split = "validation" if i % 5 == 0 else ("test" if i % 7 == 0 else "train")
        rows.append({"text": report(rng, lab), "label": lab, "split": split})
    with open(path, "w") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")
    return rows


def macro_f1(gold, pred, labels):
    f1s = []
    for c in labels:
        tp = sum(1 for g, p in zip(gold, pred) if g == c and p == c)
        fp = sum(1 for g, p in zip(gold, pred) if g != c and p == c)
        fn = sum(1 for g, p in zip(gold, pred) if g == c and p != c)
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0)
    return sum(f1s) / len(f1s)


def test_classify(rng, corpus):
    model = tmp("cls.gguf")
    make_model(model, corpus)
    data = tmp("cls.jsonl")
    rows = classify_data(data, rng)
    out = tmp("cls_out")
    shutil.rmtree(out, ignore_errors=True)
    rc, _, err = run(["train", "classify", "-m", model, "--data", data, "-o", out, "--epochs", "15", "--batch", "8",
                      "--lr", "2e-3", "--max-len", "32", "--eval-every", "10", "--save-every", "0", "-t", "2"])
    check(rc == 0, "train classify runs (%s)" % err.strip()[-300:])
    if rc:
        return
    rows_csv = loss_rows(out)
    f1_logged = [float(r[7]) for r in rows_csv if len(r) > 7 and r[7]]
    check(len(f1_logged) >= 3 and max(f1_logged) > 0.9,
          "validation macro-F1 logged at each validation, best %.3f > 0.9" % max(f1_logged or [0]))
    js = json.load(open(os.path.join(out, "loss.json")))
    check(js.get("metric") == "macro-F1" and len(js["steps"]) == len(rows_csv) and
          abs(js["steps"][-1]["loss"] - float(rows_csv[-1][2])) < 1e-6, "loss.json agrees with loss.csv")
    for name in ("model.gguf", "best.gguf", "checkpoint.gguf", "report.html", "report.md"):
        check(os.path.exists(os.path.join(out, name)), "output %s written" % name)
    # best.gguf runs in `oncolm classify` on the held-out rows
    test = [r for r in rows if r["split"] == "test"]
    texts = tmp("cls_test.txt")
    with open(texts, "w") as f:
        for r in test:
            f.write(r["text"] + "\n")
    rc, so, err = run(["classify", "-m", os.path.join(out, "best.gguf"), "-i", texts])
    check(rc == 0, "oncolm classify runs the trained model (%s)" % err.strip()[-200:])
    if rc == 0:
        preds = [json.loads(line)["label"] for line in so.strip().split("\n")]
        gold = [r["label"] for r in test]
        labels = sorted(CLASS_WORDS)
        f1 = macro_f1(gold, preds, labels)
        base = macro_f1(gold, ["no cancer"] * len(gold), labels)
        check(len(preds) == len(gold) and f1 > base + 0.4,
              "test macro-F1 %.3f vs majority class %.3f (%d reports)" % (f1, base, len(gold)))
    # LoRA instead of full fine-tuning: adapters on every linear layer, merged on save
    o2 = tmp("cls_lora")
    shutil.rmtree(o2, ignore_errors=True)
    rc, _, err = run(["train", "classify", "-m", model, "--data", data, "-o", o2, "--epochs", "15", "--batch", "8",
                      "--lr", "5e-3", "--max-len", "32", "--rank", "8", "--eval-every", "10", "--save-every", "0",
                      "-t", "2"])
    f1_lora = [float(r[7]) for r in loss_rows(o2) if len(r) > 7 and r[7]] if rc == 0 else []
    check(rc == 0 and max(f1_lora or [0]) > 0.8,
          "train classify --rank 8 (LoRA) learns: best validation macro-F1 %.3f" % max(f1_lora or [0]))
    if rc == 0:
        rc, so, err = run(["classify", "-m", os.path.join(o2, "best.gguf"), "-i", texts])
        check(rc == 0 and len(so.strip().split("\n")) == len(test), "the merged LoRA model runs in oncolm classify")
    # imbalance remedies train too
    for opt in ("--oversample", "--undersample", "--class-weights"):
        o2 = tmp("cls_" + opt.strip("-"))
        shutil.rmtree(o2, ignore_errors=True)
        rc, _, err = run(["train", "classify", "-m", model, "--data", data, "-o", o2, "--epochs", "2", "--batch", "8",
                          "--lr", "2e-3", "--max-len", "32", "--save-every", "0", opt])
        n_train = int(err.split(" training")[0].split()[-1]) if " training" in err else -1
        n_plain = sum(1 for r in rows if r["split"] == "train")
        counts = {}
        for r in rows:
            if r["split"] == "train":
                counts[r["label"]] = counts.get(r["label"], 0) + 1
        want = {"--oversample": 3 * max(counts.values()), "--undersample": 3 * min(counts.values()),
                "--class-weights": n_plain}[opt]
        check(rc == 0 and n_train == want, "train classify %s runs on %d training examples (want %d)"
              % (opt, n_train, want))
    # with --resume after kill -9: identical log and model
    base_out, killed = tmp("cls_full"), tmp("cls_killed")
    def args_lr(lr):
        return ["train", "classify", "-m", model, "--data", data, "--epochs", "3", "--batch", "8", "--lr", lr,
                "--max-len", "32", "--eval-every", "5", "--save-every", "5", "-t", "2"]
    args = args_lr("2e-3")
    for d in (base_out, killed):
        shutil.rmtree(d, ignore_errors=True)
    rc, _, err = run(args + ["-o", base_out])
    check(rc == 0, "uninterrupted run (%s)" % err.strip()[-200:])
    p = subprocess.Popen([BIN] + args + ["-o", killed], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    ckpt = os.path.join(killed, "checkpoint.gguf")
    t0 = time.time()
    while time.time() - t0 < 120 and p.poll() is None and not os.path.exists(ckpt):
        time.sleep(0.01)
    time.sleep(0.05)
    killed_mid = p.poll() is None
    if killed_mid:
        os.kill(p.pid, signal.SIGKILL)
    p.wait()
    check(killed_mid, "the second run was killed with SIGKILL mid-run")
    rc, _, err = run(args + ["-o", killed, "--resume"])
    check(rc == 0 and "resuming" in err, "--resume continues (%s)" % err.strip()[-200:])
    if rc == 0:
        a, b = open(os.path.join(base_out, "loss.csv")).read(), open(os.path.join(killed, "loss.csv")).read()
        check(a == b, "loss.csv after kill -9 + resume equals the uninterrupted run's")
        ma = open(os.path.join(base_out, "model.gguf"), "rb").read()
        mb = open(os.path.join(killed, "model.gguf"), "rb").read()
        check(ma == mb, "model.gguf after resume is byte-identical (%d bytes)" % len(ma))
    rc, _, err = run(args_lr("1e-3") + ["-o", killed, "--resume"])
    check(rc != 0 and "other settings" in err, "a resume with another learning rate is refused: %s" % err.strip())


def beir(folder, rng, n_docs=40):
    """A tiny BEIR folder: each document is about one topic word; queries ask
    for that topic with other words."""
    os.makedirs(os.path.join(folder, "qrels"), exist_ok=True)
    topics = ["nausea", "fatigue", "dermatitis", "mucositis", "diarrhea", "cough", "esophagitis", "alopecia"]
    docs = []
    for i in range(n_docs):
        t = topics[i % len(topics)]
        w = [rng.choice(WORDS) for _ in range(12)]
        w.insert(rng.randint(0, 12), t)
        docs.append(("D%03d" % i, t, " ".join(w)))
    with open(os.path.join(folder, "corpus.jsonl"), "w") as f:
        for d, _, text in docs:
            f.write(json.dumps({"_id": d, "title": "", "text": text}) + "\n")
    with open(os.path.join(folder, "queries.jsonl"), "w") as f, \
            open(os.path.join(folder, "qrels", "test.tsv"), "w") as q:
        q.write("query-id\tcorpus-id\tscore\n")
        for k, t in enumerate(topics):
            f.write(json.dumps({"_id": "Q%d" % k, "text": "any %s reported" % t}) + "\n")
            for d, dt, _ in docs:
                if dt == t:
                    q.write("Q%d\t%s\t1\n" % (k, d))
    return docs, topics


def test_embed(rng, corpus):
    model = tmp("emb.gguf")
    make_model(model, corpus)
    folder = tmp("beir")
    shutil.rmtree(folder, ignore_errors=True)
    docs, topics = beir(folder, rng)
    pairs = tmp("pairs.jsonl")
    with open(pairs, "w") as f:
        for i in range(160):
            t = topics[i % len(topics)]
            w = [rng.choice(WORDS) for _ in range(10)]
            w.insert(rng.randint(0, 10), t)
            f.write(json.dumps({"query": "patient has %s" % t, "positive": " ".join(w),
                                "split": "validation" if i % 10 == 0 else "train"}) + "\n")
    out = tmp("emb_out")
    shutil.rmtree(out, ignore_errors=True)
    rc, _, err = run(["train", "embed", "-m", model, "--data", pairs, "-o", out, "--epochs", "6", "--batch", "8",
                      "--lr", "2e-3", "--max-len", "32", "--eval-beir", folder, "--eval-every", "20",
                      "--save-every", "0", "-t", "2"])
    check(rc == 0, "train embed runs (%s)" % err.strip()[-300:])
    if rc:
        return
    start = [line for line in err.split("\n") if line.startswith("step 0: validation")]
    s0 = float(start[0].split("nDCG@10")[1]) if start else -1
    f1 = [float(r[7]) for r in loss_rows(out) if len(r) > 7 and r[7]]
    check(start and f1 and max(f1) > s0 + 0.2,
          "nDCG@10 on the held-out BEIR folder: start %.3f, best %.3f" % (s0, max(f1 or [0])))
    qfile = tmp("emb_q.txt")
    with open(qfile, "w") as f:
        f.write("nausea\n")
    rc, so, err = run(["embed", "-m", os.path.join(out, "best.gguf"), "-i", qfile])
    check(rc == 0, "oncolm embed runs the trained embedder (%s)" % err.strip()[-200:])
    # BM25 hard negatives from a note store built from the BEIR folder
    db = tmp("mine.db")
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(db + suffix):
            os.remove(db + suffix)
    rc, _, err = run(["index", "build", "--db", db, folder])
    check(rc == 0, "index build for mining (%s)" % err.strip()[-200:])
    o = tmp("emb_mine")
    shutil.rmtree(o, ignore_errors=True)
    rc, _, err = run(["train", "embed", "-m", model, "--data", pairs, "-o", o, "--max-steps", "3", "--batch", "8",
                      "--max-len", "32", "--mine-store", db, "--mine-negatives", "2", "--save-every", "0"])
    mined = [line for line in err.split("\n") if "hard negatives mined" in line]
    n_mined = int(mined[0].split()[2]) if mined else 0
    n_pairs = sum(1 for line in open(pairs) if '"train"' in line)
    check(rc == 0 and n_mined > n_pairs,
          "BM25 hard negatives mined from the store: %d for %d training pairs (up to 2 each)" % (n_mined, n_pairs))
    # gradient caching: chunks of 5 sequences give the whole-batch losses
    # (without dropout: its masks are drawn per forward pass)
    outs = []
    for chunk in ("0", "5"):
        o = tmp("emb_chunk" + chunk)
        shutil.rmtree(o, ignore_errors=True)
        rc, _, err = run(["train", "embed", "-m", model, "--data", pairs, "-o", o, "--max-steps", "6", "--batch",
                          "8", "--lr", "2e-3", "--max-len", "32", "--chunk", chunk, "--save-every", "0", "-t", "2",
                          "--dropout", "0"])
        check(rc == 0, "train embed --chunk %s runs" % chunk)
        outs.append([float(r[2]) for r in loss_rows(o)] if rc == 0 else [])
    if len(outs) == 2 and outs[0] and outs[1]:
        dev = max(abs(a - b) / max(abs(a), 1e-9) for a, b in zip(outs[0], outs[1]))
        check(len(outs[0]) == 6 and dev < 1e-4,
              "gradient caching (--chunk 5) reproduces the whole-batch losses over 6 steps (max rel %.2e)" % dev)


def test_mlm(rng, corpus):
    # from scratch: a WordPiece vocabulary from `oncolm vocab train`, then a random model with it
    vocab, model = tmp("mlm_vocab.gguf"), tmp("mlm.gguf")
    rc, _, err = run(["vocab", "train", "--kind", "wpm", "--size", "500", "--out", vocab, corpus])
    check(rc == 0, "vocab train wpm (%s)" % err.strip()[-200:])
    rc, _, err = run(["model", "create", "--arch", "bert", "--layers", "2", "--embd", "64", "--heads", "4", "--ff",
                      "128", "--vocab", vocab, "-o", model])
    check(rc == 0, "model create with that vocabulary (%s)" % err.strip()[-200:])
    texts = tmp("notes.txt")
    with open(texts, "w") as f:
        for i in range(60):
            f.write("The patient reports mild nausea after chemotherapy and no fever.\n\n")
    out = tmp("mlm_out")
    shutil.rmtree(out, ignore_errors=True)
    rc, _, err = run(["train", "mlm", "-m", model, "--data", texts, "-o", out, "--epochs", "20", "--batch", "8",
                      "--lr", "3e-3", "--max-len", "32", "--dropout", "0", "--save-every", "0", "--eval-every", "0"])
    check(rc == 0, "train mlm runs (%s)" % err.strip()[-300:])
    if rc == 0:
        losses = [float(r[2]) for r in loss_rows(out)]
        first, last = sum(losses[:3]) / 3, sum(losses[-5:]) / 5
        check(first > 5.0 and last < 1.0, "masked-LM loss falls from %.3f to %.3f on a repeated note" % (first, last))


def test_errors(corpus):
    model = tmp("cls.gguf")
    rc, _, err = run(["train", "classify", "-m", model, "--data", tmp("nope.jsonl"), "-o", tmp("e1")])
    check(rc != 0 and "nope.jsonl" in err, "a missing data file is named: %s" % err.strip())
    bad = tmp("bad.jsonl")
    with open(bad, "w") as f:
        f.write(json.dumps({"text": "a", "label": "x"}) + "\n{not json\n")
    rc, _, err = run(["train", "classify", "-m", model, "--data", bad, "-o", tmp("e2")])
    check(rc != 0 and "bad.jsonl:2" in err, "a bad row is named by line: %s" % err.strip())
    llama = tmp("llama.gguf")
    run(["model", "create", "--arch", "llama", "--layers", "1", "--embd", "64", "--heads", "4", "--ff", "128",
         "-o", llama])
    rc, _, err = run(["train", "classify", "-m", llama, "--data", tmp("cls.jsonl"), "-o", tmp("e3")])
    check(rc != 0 and "bert" in err, "a decoder model is refused: %s" % err.strip())
    rc, _, err = run(["train", "sort", "-m", model])
    check(rc != 0 and "unknown task" in err, "an unknown task is refused: %s" % err.strip())
    rc, _, err = run(["train", "embed", "-m", model, "--data", tmp("pairs.jsonl"), "-o", tmp("e4"),
                      "--metric", "macro-f1"])
    check(rc != 0 and "classification metric" in err, "macro-F1 for an embedder is refused: %s" % err.strip())


def main():
    rng = random.Random(7)
    corpus = tmp("corpus.txt")
    with open(corpus, "w") as f:
        for _ in range(300):
            f.write(" ".join(rng.choice(WORDS + list(CLASS_WORDS.values()) +
                                        ["nausea", "fatigue", "dermatitis", "mucositis", "diarrhea", "cough",
                                         "esophagitis", "alopecia", "patient", "has", "any", "reported", "the",
                                         "reports", "mild", "after", "chemotherapy", "and", "no", "fever", "ct",
                                         "abdomen"]) for _ in range(12)) + "\n")
    test_classify(rng, corpus)
    test_embed(rng, corpus)
    test_mlm(rng, corpus)
    test_errors(corpus)
    if failures:
        print("%d check(s) failed" % len(failures))
        sys.exit(1)
    print("all checks passed")


if __name__ == "__main__":
    main()
