"""Oracle for the note store (`oncolm index` / `oncolm search`), run with
Debian's /usr/bin/python3 and python3-numpy.

Checks, against the input files and independent computations:
- ingest of JSONL, BEIR, CSV and a .txt folder gives the notes, patients and
  text the inputs hold; the same notes in every format give the same chunks;
- a patient-filtered query never returns another patient's text (every
  mode), and the type/date filters hold; filtered BM25 scores equal the
  unfiltered scores of the same chunks;
- re-ingesting a note id replaces it; delete by id and by patient;
- dense search equals numpy: the cosine of `oncolm embed` vectors of the
  query and of each chunk's text, ranked;
- hybrid equals reciprocal-rank fusion (k = 60) of the BM25 and dense runs,
  computed here;
- batch search writes a TREC run (one line per note and rank);
- bad input: a malformed line stops with file:line, committed batches stay
  and the store stays consistent; kill -9 during ingest leaves a consistent
  store; a file that is not a store is refused.
Exit 77 (skip) when ONCOLM_BIN is unset.
"""
import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import oracle_util as U  # noqa: E402

BIN = U.need_bin()
TMP = os.environ.get("ONCOLM_TMP", "/tmp")
W = os.path.join(TMP, "store_oracle")
shutil.rmtree(W, ignore_errors=True)
os.makedirs(W)
failures = U.failures


U.configure_checks(verbose=True)
check = U.check


def run(args, ok=True, **kw):
    return U.run_cli(BIN, args, expect=0 if ok else None, tail=800, **kw)


def search(db, q, *extra):
    return json.loads(run(["search", "--db", db, q, "--json", *extra]).stdout)["hits"]


def stats(db):
    return json.loads(run(["index", "stats", "--db", db, "--json"]).stdout)


# --- corpus ---------------------------------------------------------------------------
syn = os.path.join(W, "synth")
run(["synth", "corpus", "--patients", "24", "--seed", "5", "--out", syn, "--quiet"])
corpus = [json.loads(l) for l in open(os.path.join(syn, "corpus.jsonl"), encoding="utf-8")]
notes = {d["_id"]: d for d in corpus}
patients = sorted({d["metadata"]["patient"] for d in corpus})
text_of_patient = {p: "\n".join(d["text"] for d in corpus if d["metadata"]["patient"] == p) for p in patients}

db = os.path.join(W, "a.db")
run(["index", "build", "--db", db, os.path.join(syn, "corpus.jsonl"), "--chunk-tokens", "64", "--overlap", "8",
     "--batch", "50"])
st = stats(db)
check(st["notes"] == len(corpus) and st["patients"] == len(patients), "JSONL ingest: %d notes, %d patients" %
      (st["notes"], st["patients"]))
check(st["text_bytes"] == sum(len(d["text"].encode()) for d in corpus), "stored text bytes equal the input's")
check(st["chunks"] > st["notes"], "64-token chunks split notes (%d chunks)" % st["chunks"])
check(run(["index", "stats", "--db", db, "--check"]).returncode == 0, "store consistent after ingest")

# Every format gives the same notes and chunks.
beir_db, csv_db, txt_db = (os.path.join(W, n) for n in ("beir.db", "csv.db", "txt.db"))
csv_path = os.path.join(W, "notes.csv")
with open(csv_path, "w", newline="", encoding="utf-8") as f:
    w = csv.writer(f)
    w.writerow(["id", "patient", "date", "type", "text"])
    for d in corpus:
        m = d["metadata"]
        w.writerow([d["_id"], m["patient"], m["date"], m["type"], d["text"]])
txt_dir = os.path.join(W, "txt")
for d in corpus:
    os.makedirs(os.path.join(txt_dir, d["metadata"]["patient"]), exist_ok=True)
    with open(os.path.join(txt_dir, d["metadata"]["patient"], d["_id"] + ".txt"), "w", encoding="utf-8") as f:
        f.write(d["text"])
for path, src in ((beir_db, syn), (csv_db, csv_path), (txt_db, txt_dir)):
    run(["index", "build", "--db", path, src, "--chunk-tokens", "64", "--overlap", "8"])
    s2 = stats(path)
    check(s2["notes"] == st["notes"] and s2["chunks"] == st["chunks"] and s2["patients"] == st["patients"],
          "%s ingest: same notes, chunks and patients as JSONL" % os.path.basename(path))
q = "stage IIA invasive ductal carcinoma ER positive"
ref = [(h["note"], round(h["score"], 6)) for h in search(db, q, "--k", "8")]
for path in (beir_db, csv_db):
    got = [(h["note"], round(h["score"], 6)) for h in search(path, q, "--k", "8")]
    check(got == ref, "%s: same BM25 results as JSONL" % os.path.basename(path))
txt_hits = search(txt_db, q, "--k", "8")
check([h["note"].split("/")[-1] for h in txt_hits] == [r[0] for r in ref] and
      all(h["patient"] == h["note"].split("/")[0] for h in txt_hits),
      ".txt folder: ids are paths, patients are folders, same ranking")

# --- filters ------------------------------------------------------------------------------
questions = ["what is the stage of the cancer", "HER2 status", "nausea vomiting after chemotherapy",
             "current medications", "smoking history pack-years", "CT findings liver metastases"]
leak = 0
checked = 0
for p in patients[:8]:
    for qq in questions:
        for h in search(db, qq, "--patient", p, "--k", "20", "--show-text"):
            checked += 1
            T = text_of_patient[p]
            parts = h["text"].split("\n", 1)
            own = h["text"] in T or (len(parts) == 2 and parts[0] in T and parts[1] in T)
            if h["patient"] != p or not own:
                leak += 1
check(checked > 100 and leak == 0, "BM25 patient filter: %d hits, none from another patient" % checked)
ty = search(db, "disease", "--type", "ct", "--k", "50")
check(len(ty) > 0 and all(h["type"] == "ct" for h in ty), "type filter: only ct notes (%d)" % len(ty))
dt = search(db, "disease", "--from", "2020-03", "--to", "2020-06", "--k", "50")
check(len(dt) > 0 and all("2020-03" <= h["date"] <= "2020-06-99" for h in dt), "date filter (%d hits)" % len(dt))
# filtered scores are the unfiltered scores of the same chunks
allh = {h["chunk"]: h["score"] for h in search(db, "stage of the cancer", "--k", "5000")}
fh = search(db, "stage of the cancer", "--patient", patients[3], "--k", "50")
check(len(fh) > 0 and all(abs(allh[h["chunk"]] - h["score"]) < 1e-9 for h in fh),
      "filtered BM25 scores equal unfiltered ones")
sw = search(db, "What is the HER2 status of her tumor?", "--k", "10")
check([h["chunk"] for h in sw] == [h["chunk"] for h in search(db, "HER2 status tumor", "--k", "10")] and len(sw) > 0,
      "function words are left out of BM25 queries")
check(len(search(db, "what is the", "--k", "3")) == 3, "a query of function words only still searches")
pn = search(db, "stage of the cancer", "--k", "10", "--per-note")
check(len({h["note"] for h in pn}) == len(pn) == 10, "--per-note: ten distinct notes")

# --- replace and delete --------------------------------------------------------------------
victim = corpus[0]
upd = os.path.join(W, "upd.jsonl")
with open(upd, "w", encoding="utf-8") as f:
    d = dict(victim)
    d["text"] = "Addendum: zebrafishoma confirmed on review."
    f.write(json.dumps(d) + "\n")
r = run(["index", "add", "--db", db, upd])
s3 = stats(db)
check(s3["notes"] == st["notes"] and "1 replaced" in r.stderr, "re-ingest of an id replaces the note")
h = search(db, "zebrafishoma", "--k", "5")
check(len(h) == 1 and h[0]["note"] == victim["_id"], "the replacement is searchable")
old_words = search(db, victim["text"][:200], "--k", "500")
check(all(x["note"] != victim["_id"] or x["chunk"] == h[0]["chunk"] for x in old_words),
      "the old text's chunks are gone")
run(["index", "delete", "--db", db, "--id", victim["_id"]])
check(search(db, "zebrafishoma") == [] and stats(db)["notes"] == st["notes"] - 1, "delete by id")
gone = patients[-1]
run(["index", "delete", "--db", db, "--patient", gone])
s4 = stats(db)
check(s4["patients"] == len(patients) - 1 and not search(db, "cancer", "--patient", gone),
      "delete by patient removes the patient and the notes")
check(run(["index", "stats", "--db", db, "--check"]).returncode == 0, "store consistent after replace/delete")

# --- dense and hybrid ----------------------------------------------------------------------
model = os.path.join(W, "bert.gguf")
run(["model", "create", "--arch", "bert", "--seed", "3", "-o", model])
ddb = os.path.join(W, "dense.db")
run(["index", "build", "--db", ddb, os.path.join(syn, "corpus.jsonl"), "--chunk-tokens", "64", "--overlap", "8",
     "--model", model])
sd = stats(ddb)
check(sd["vectors"] == sd["chunks"] and sd["dim"] > 0, "every chunk embedded (%d vectors)" % sd["vectors"])
q = "HER2 negative breast cancer treated with chemotherapy"
dense = search(ddb, q, "--mode", "dense", "--k", "5000", "--show-text")
texts = [h["text"] for h in dense]
inp = os.path.join(W, "emb.jsonl")
with open(inp, "w", encoding="utf-8") as f:
    for t in [q] + texts:
        f.write(json.dumps({"text": t}) + "\n")
npy = os.path.join(W, "emb.npy")
run(["embed", "-m", model, "-i", inp, "-o", npy])
E = np.load(npy)
cos = E[1:] @ E[0]
order = np.argsort(-cos, kind="stable")
check(len(dense) == sd["chunks"], "dense search ranks every chunk (k >= chunks)")
check(np.max(np.abs(cos - np.array([h["score"] for h in dense]))) < 1e-5,
      "dense scores = numpy cosine of embed vectors (max err %.2g)" % np.max(np.abs(cos - np.array([h["score"] for h in dense]))))
check(bool(np.all(np.diff(cos[order]) <= 1e-7)) and bool(np.all(np.diff([h["score"] for h in dense]) <= 0)),
      "dense ranking is by descending cosine")
# patient filter in dense mode
leak = 0
n_d = 0
for p in patients[:6]:
    for h in search(ddb, "treatment plan", "--mode", "dense", "--patient", p, "--k", "30"):
        n_d += 1
        leak += h["patient"] != p
check(n_d > 0 and leak == 0, "dense patient filter: %d hits, none from another patient" % n_d)
# hybrid = RRF of bm25 and dense at depth 100
bm = search(ddb, q, "--k", "100")
de = search(ddb, q, "--mode", "dense", "--k", "100")
fused = {}
for lst in (bm, de):
    for i, hh in enumerate(lst):
        fused[hh["chunk"]] = fused.get(hh["chunk"], 0.0) + 1.0 / (60 + i + 1)
want = sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
hy = search(ddb, q, "--mode", "hybrid", "--k", "10")
check([h["chunk"] for h in hy] == [c for c, _ in want] and
      max(abs(h["score"] - s) for h, (_, s) in zip(hy, want)) < 1e-12, "hybrid = RRF(k=60) of BM25 and dense")
hyw = search(ddb, q, "--mode", "hybrid", "--k", "5", "--w-dense", "0")
check([h["chunk"] for h in hyw] == [h["chunk"] for h in bm[:5]], "hybrid with dense weight 0 = BM25 order")
# cross-encoder rerank of the top 20 fused = `oncolm rerank` scores of those passages
cls = os.path.join(W, "cls.gguf")
run(["model", "create", "--arch", "bert", "--labels", "relevant,other", "--seed", "4", "-o", cls])
top20 = search(ddb, q, "--mode", "hybrid", "--k", "20", "--show-text")
pj = os.path.join(W, "passages.jsonl")
with open(pj, "w", encoding="utf-8") as f:
    for h in top20:
        f.write(json.dumps({"id": h["chunk"], "text": h["text"]}) + "\n")
rr = [json.loads(l) for l in run(["rerank", "-m", cls, "-q", q, "-i", pj]).stdout.splitlines()]
rh = search(ddb, q, "--mode", "hybrid", "--k", "5", "--rerank", cls, "--rerank-n", "20")
check([h["chunk"] for h in rh] == [x["id"] for x in rr[:5]] and
      max(abs(h["score"] - x["score"]) for h, x in zip(rh, rr)) < 1e-4,
      "--rerank: top 5 of the fused 20 by cross-encoder score, as `oncolm rerank` scores them")
# stale index: adding a note makes the next dense search re-embed it
extra = os.path.join(W, "extra.jsonl")
with open(extra, "w", encoding="utf-8") as f:
    f.write(json.dumps({"id": "X-1", "patient": "PX", "text": "Radiation dermatitis grade 2 of the left breast."})
            + "\n")
run(["index", "add", "--db", ddb, extra])
check(stats(ddb)["vectors"] == sd["vectors"], "add does not embed (no model loaded)")
hx = search(ddb, "dermatitis", "--mode", "dense", "--patient", "PX", "--k", "3")
check(len(hx) == 1 and hx[0]["note"] == "X-1" and stats(ddb)["vectors"] == sd["vectors"] + 1,
      "dense search after a change embeds the new chunk and finds it")

check(stats(ddb)["index_fresh"], "the vector index is brought up to date (incrementally) by the search")
# delete: the deleted note's chunks leave the index
d_id = dense[0]["note"]
run(["index", "delete", "--db", ddb, "--id", d_id])
after = search(ddb, q, "--mode", "dense", "--k", "5000")
check(all(h["note"] != d_id for h in after) and len(after) == stats(ddb)["chunks"],
      "after a delete, dense search ranks every remaining chunk and none of the deleted note's")
# a damaged index file is detected and rebuilt
with open(ddb + ".faiss", "r+b") as f:
    f.seek(500)
    f.write(b"\x00garbage\x00" * 8)
st_before = stats(ddb)
r = run(["index", "add", "--db", ddb, extra])  # a change, so the next search must look at the file
after2 = search(ddb, q, "--mode", "dense", "--k", "5")
check([h["chunk"] for h in after2] == [h["chunk"] for h in after[:5]] and stats(ddb)["index_fresh"],
      "a damaged DB.faiss is rebuilt from the stored vectors, same results")
# ANN kinds agree with exact on the top results
for kind in ("hnsw", "ivf"):
    run(["index", "build", "--db", ddb, "--ann", kind])
    s5 = stats(ddb)
    got = search(ddb, q, "--mode", "dense", "--k", "10")
    overlap = len({h["chunk"] for h in got} & {h["chunk"] for h in after2 + after[5:10]})
    check(s5["index_kind"] == kind and overlap >= 9, "--ann %s: recall@10 vs exact %d/10" % (kind, overlap))

# --- batch search -> TREC run --------------------------------------------------------------
run_path = os.path.join(W, "bm25.trec")
r = run(["search", "--db", db, "--queries", os.path.join(syn, "queries.jsonl"), "--run", run_path, "--k", "5"])
qs = [json.loads(l) for l in open(os.path.join(syn, "queries.jsonl"), encoding="utf-8")]
rows = [l.split() for l in open(run_path)]
byq = {}
for row in rows:
    byq.setdefault(row[0], []).append(row)
ok = all(len(r6) == 6 and r6[1] == "Q0" for r6 in rows) and len(byq) > 0
ok &= all([int(x[3]) for x in v] == list(range(1, len(v) + 1)) and len({x[2] for x in v}) == len(v) <= 5
          for v in byq.values())
pat_of_q = {x["_id"]: x["metadata"]["patient"] for x in qs}
ok &= all(notes[x[2]]["metadata"]["patient"] == pat_of_q[x[0]] for x in rows if x[2] in notes)
check(ok, "batch run: TREC lines, ranks 1..n, distinct notes, each query within its patient (%d queries)" % len(byq))

# --- bad input ------------------------------------------------------------------------------
bad = os.path.join(W, "bad.jsonl")
with open(bad, "w", encoding="utf-8") as f:
    for i in range(7):
        f.write(json.dumps({"id": "B%d" % i, "patient": "PB", "text": "note %d" % i}) + "\n")
    f.write('{"id": "B7", "text": 3}\n')
bdb = os.path.join(W, "bad.db")
r = run(["index", "build", "--db", bdb, bad, "--batch", "3"], ok=False)
check(r.returncode == 1 and "bad.jsonl:8" in r.stderr and "text" in r.stderr, "malformed line: file:line error (%s)" %
      r.stderr.strip().splitlines()[0][:90])
check(stats(bdb)["notes"] == 6 and run(["index", "stats", "--db", bdb, "--check"]).returncode == 0,
      "committed batches (6 notes) stay, store consistent")
notdb = os.path.join(W, "not.db")
with open(notdb, "w") as f:
    f.write("hello, I am not a database\n" * 100)
r = run(["search", "--db", notdb, "x"], ok=False)
check(r.returncode == 1 and "not.db" in r.stderr, "a non-store file is refused: %s" % r.stderr.strip()[:90])
r = run(["search", "--db", os.path.join(W, "missing.db"), "x"], ok=False)
check(r.returncode == 1 and "no such note store" in r.stderr, "a missing store is reported")
r = run(["search", "--db", db, "x", "--mode", "dense"], ok=False)
check(r.returncode == 1 and "not set up" in r.stderr, "dense without a model: clear error")

# kill -9 in the middle of a large ingest
big = os.path.join(W, "big")
run(["synth", "corpus", "--patients", "800", "--seed", "9", "--out", big, "--quiet"])
kdb = os.path.join(W, "kill.db")
run(["index", "build", "--db", kdb])
p = subprocess.Popen([BIN, "index", "add", "--db", kdb, os.path.join(big, "corpus.jsonl"), "--batch", "100"],
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
time.sleep(0.25)
finished = p.poll() is not None
p.send_signal(signal.SIGKILL)
p.wait()
sk = stats(kdb)
n_big = sum(1 for _ in open(os.path.join(big, "corpus.jsonl")))
check(run(["index", "stats", "--db", kdb, "--check"]).returncode == 0 and
      (sk["notes"] % 100 == 0 or (finished and sk["notes"] == n_big)),
      "kill -9 mid-ingest: consistent store, whole batches only (%d of %d notes%s)" %
      (sk["notes"], n_big, ", finished before the kill" if finished else ""))
run(["index", "add", "--db", kdb, os.path.join(big, "corpus.jsonl")])
check(stats(kdb)["notes"] == n_big, "re-running the ingest completes it (%d notes)" % n_big)

shutil.rmtree(W, ignore_errors=True)
U.finish("all store checks passed")
