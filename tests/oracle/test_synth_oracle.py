"""Oracle for `oncolm synth corpus`, run with Debian's /usr/bin/python3 (json only).

Runs the CLI twice with the same seed (identical bytes) and once with another
seed (different notes), then validates the files independently of the C code:
every line parses; task lines carry id/input/label-or-target/split; no patient
is in two splits; manifest counts equal the files; CT label shares are near
70/20/10 %; toxicity labels agree with positive vs negated mentions; letters
cite notes of the same patient; the retrieval set (BEIR corpus/queries/qrels
per split, TREC qrels) parses, BEIR and TREC agree, every query has a grade-2
note of its own patient, the grade-2 notes of biomarker and symptom questions
name the biomarker / mention the symptom positively. Exit 77 (skip) when
ONCOLM_BIN is unset.
"""
import json
import os
import re
import subprocess
import sys

BIN = os.environ.get("ONCOLM_BIN")
TMP = os.environ.get("ONCOLM_TMP", "/tmp")
FILES = ["notes.jsonl", "patients.jsonl", "ct_classification.jsonl", "rt_modality.jsonl", "icd10.jsonl",
         "rt_regimen.jsonl", "toxicity.jsonl", "letters.jsonl"]
TASKS = FILES[2:]
RETRIEVAL = ["corpus.jsonl", "queries.jsonl", "qrels/train.tsv", "qrels/dev.tsv", "qrels/test.tsv", "qrels.trec"]
CATEGORIES = {"biomarkers", "current diagnosis", "disease status", "laboratory results", "tumor characteristics",
              "tumor staging", "treatment", "medications", "toxicities", "social history"}
# question word -> what a grade-2 note must contain
BIOMARKERS = [(r"HER2|ERBB2", "HER2"), (r"\bER\b|(?i:estrogen)", "ER "), (r"\bPR\b|PgR|(?i:progesterone)", "PR "),
              (r"EGFR", "EGFR"), (r"ALK", "ALK"), (r"KRAS", "KRAS"), (r"MSI|(?i:microsatellite)", "MSI|microsatellite"),
              (r"PD-L1", "PD-L1"), (r"p16", "p16")]
NEGATION = re.compile(r"denies|\bno |negative for|without|resolved|\bnot ", re.I)
SYMPTOMS = {
    "fatigue": ["fatigue", "tiredness", "low energy", "worn out"],
    "nausea": ["nausea", "queasiness", "nauseated"],
    "vomiting": ["vomiting", "emesis", "throwing up"],
    "diarrhea": ["diarrhea", "loose stools", "watery bowel"],
    "radiation_dermatitis": ["dermatitis", "skin reaction", "desquamation"],
    "mucositis": ["mucositis", "mouth sores", "oral ulcerations"],
    "dysphagia": ["dysphagia", "difficulty swallowing", "getting food down"],
    "esophagitis": ["esophagitis", "odynophagia", "painful swallowing"],
    "xerostomia": ["xerostomia", "dry mouth", "mouth dryness"],
    "cystitis": ["cystitis", "dysuria", "burning with urination"],
    "proctitis": ["proctitis", "rectal urgency", "tenesmus"],
    "pneumonitis": ["pneumonitis", "lung inflammation"],
}


def run(out, seed, n=300, extra=()):
    subprocess.run([BIN, "synth", "corpus", "--patients", str(n), "--seed", str(seed), "--out", out, "--quiet",
                    *extra], check=True)


def lines(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(l) for l in f]


def symptoms_in_text(text):
    found = {k: 0 for k in SYMPTOMS}
    for sentence in re.split(r"[.\n]", text):
        if NEGATION.search(sentence):
            continue
        low = sentence.lower()
        for k, words in SYMPTOMS.items():
            if any(w in low for w in words):
                found[k] = 1
    return found


def check_retrieval(d, manifest, notes, split_of):
    docs = {r["_id"]: r for r in lines(os.path.join(d, "corpus.jsonl"))}
    assert set(docs) == set(notes)
    for i, r in docs.items():
        assert r["text"] == notes[i]["text"] and r["title"] == ""
        assert r["metadata"] == {"patient": notes[i]["patient"], "type": notes[i]["type"], "date": notes[i]["date"]}
    queries = {r["_id"]: r for r in lines(os.path.join(d, "queries.jsonl"))}
    per_patient = {}
    for q in queries.values():
        m = q["metadata"]
        assert m["category"] in CATEGORIES and m["split"] == split_of[m["patient"]], q
        per_patient.setdefault(m["patient"], []).append(m["category"])
    assert set(per_patient) == set(split_of)
    assert all(3 <= len(c) <= 6 and len(set(c)) == len(c) for c in per_patient.values())
    assert {c for cs in per_patient.values() for c in cs} == CATEGORIES
    beir = {}
    for split, name in (("train", "train"), ("validation", "dev"), ("test", "test")):
        with open(os.path.join(d, "qrels", name + ".tsv"), encoding="utf-8") as f:
            rows = f.read().splitlines()
        assert rows[0] == "query-id\tcorpus-id\tscore"
        for row in rows[1:]:
            qid, did, score = row.split("\t")
            assert queries[qid]["metadata"]["split"] == split and (qid, did) not in beir
            beir[(qid, did)] = int(score)
    trec = {}
    with open(os.path.join(d, "qrels.trec"), encoding="utf-8") as f:
        for row in f:
            qid, zero, did, grade = row.split()
            assert zero == "0" and (qid, did) not in trec
            trec[(qid, did)] = int(grade)
    assert beir == trec
    assert manifest["retrieval"]["judgements"] == len(trec) and manifest["retrieval"]["queries"] == len(queries)
    twos = {}
    for (qid, did), g in trec.items():
        assert g in (1, 2) and docs[did]["metadata"]["patient"] == queries[qid]["metadata"]["patient"]
        if g == 2:
            twos.setdefault(qid, []).append(did)
    assert set(twos) == set(queries), "a query without a grade-2 note"
    for qid, dids in twos.items():
        q = queries[qid]
        cat = q["metadata"]["category"]
        for did in dids:
            text = docs[did]["text"]
            if cat == "biomarkers":
                need = next(n for pat, n in BIOMARKERS if re.search(pat, q["text"]))
                assert any(n in text for n in need.split("|")), (q, did)
            elif cat == "toxicities":
                found = symptoms_in_text(text)
                named = [k for k, words in SYMPTOMS.items() if any(w in q["text"].lower() for w in words)]
                assert (found[named[0]] if named else any(found.values())), (q, did)
            elif cat == "social history":
                assert "smok" in text.lower(), (q, did)
    return len(queries), len(trec)


def main():
    if not BIN:
        print("ONCOLM_BIN not set; skipping")
        return 77
    a, b, c = (os.path.join(TMP, "synth-oracle-" + x) for x in "abc")
    run(a, 42, extra=("--typo-rate", "0"))
    run(b, 42, extra=("--typo-rate", "0"))
    run(c, 43, extra=("--typo-rate", "0"))
    for name in FILES + RETRIEVAL + ["manifest.json"]:
        with open(os.path.join(a, name), "rb") as fa, open(os.path.join(b, name), "rb") as fb:
            assert fa.read() == fb.read(), f"{name}: same seed, different bytes"
    with open(os.path.join(a, "notes.jsonl"), "rb") as fa, open(os.path.join(c, "notes.jsonl"), "rb") as fc:
        assert fa.read() != fc.read(), "different seeds gave identical notes"

    manifest = json.load(open(os.path.join(a, "manifest.json")))
    split_of = {}
    data = {}
    for name in FILES:
        rows = lines(os.path.join(a, name))
        data[name] = rows
        assert manifest["files"][name]["lines"] == len(rows), name
        for r in rows:
            pid = r.get("patient", r["id"])
            assert r["split"] in ("train", "validation", "test")
            assert split_of.setdefault(pid, r["split"]) == r["split"], f"{pid} in two splits ({name})"
            if name in TASKS:
                assert isinstance(r["id"], str) and isinstance(r["input"], str) and r["input"]
                assert ("label" in r) or ("target" in r), name
    assert len(split_of) == 300
    assert set(split_of.values()) == {"train", "validation", "test"}

    ct = [r["label"] for r in data["ct_classification.jsonl"]]
    shares = [ct.count(k) / len(ct) for k in range(3)]
    assert 0.6 < shares[0] < 0.8 and 0.12 < shares[1] < 0.28 and 0.05 < shares[2] < 0.16, shares
    assert manifest["tasks"]["ct_classification"]["labels"] == {str(k): ct.count(k) for k in range(3)}

    for r in data["toxicity.jsonl"]:
        assert symptoms_in_text(r["input"]) == r["label"], r["id"]

    notes = {r["id"]: r for r in data["notes.jsonl"]}
    for r in data["letters.jsonl"]:
        for sid in r["source_ids"]:
            assert notes[sid]["patient"] == r["patient"] and notes[sid]["date"] <= notes[r["id"]]["date"]
    for r in data["icd10.jsonl"]:
        assert re.fullmatch(r"[CD]\d\d(\.\d{1,4})?", r["label"]), r["label"]
    n_queries, n_judgements = check_retrieval(a, manifest, notes, split_of)
    print(f"ok: {len(notes)} notes, CT shares {[round(s, 3) for s in shares]}, {n_queries} queries, "
          f"{n_judgements} judgements")
    return 0


if __name__ == "__main__":
    sys.exit(main())
