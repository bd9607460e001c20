"""Oracle for `oncolm synth corpus`, run with Debian's /usr/bin/python3 (json only).

Runs the CLI twice with the same seed (identical bytes) and once with another
seed (different notes), then validates the files independently of the C code:
every line parses; task lines carry id/input/label-or-target/split; no patient
is in two splits; manifest counts equal the files; CT label shares are near
70/20/10 %; toxicity labels agree with positive vs negated mentions; letters
cite notes of the same patient. Exit 77 (skip) when ONCOLM_BIN is unset.
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


def main():
    if not BIN:
        print("ONCOLM_BIN not set; skipping")
        return 77
    a, b, c = (os.path.join(TMP, "synth-oracle-" + x) for x in "abc")
    run(a, 42, extra=("--typo-rate", "0"))
    run(b, 42, extra=("--typo-rate", "0"))
    run(c, 43, extra=("--typo-rate", "0"))
    for name in FILES + ["manifest.json"]:
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
    print(f"ok: {len(notes)} notes, CT shares {[round(s, 3) for s in shares]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
