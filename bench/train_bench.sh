#!/bin/sh
# train_bench.sh — encoder training speed and peak memory (issue 9,
# docs/PERFORMANCE.md "Encoder training"): full fine-tuning of a BERT-base
# shape for sequence classification with `oncolm train classify`.
#
#   bench/train_bench.sh [SEQ [BATCH [STEPS [THREADS]]]]
#       SEQ     tokens per sequence (128; every example is longer and cut
#               to exactly SEQ, [CLS]/[SEP] included)
#       BATCH   sequences per step (8 at SEQ <= 128, else 4)
#       STEPS   optimizer steps (3; the first is not timed)
#       THREADS (all CPUs)
# With TORCH=1 in the environment, bench/torch_bert_train.py then runs the
# same step in PyTorch (same shape, 3 labels, hidden dropout 0.1, AdamW lr
# 2e-5 wd 0.01, clipping at 1.0, same SEQ/BATCH/THREADS, one warm-up step
# and STEPS - 1 timed steps).
# The base (`model create --arch bert --preset base`, F32, random weights)
# is written under ${TMPDIR:-/tmp}/oncolm-train-bench/ and kept for later
# runs. Prints the steady-state examples/s (wall clock from the end of the
# first step to the end of the last; a step = forward, backward, clipping and AdamW) and
# the peak resident memory (/usr/bin/time -v) of the whole run.
set -eu
B=${ONCOLM_BIN:-build/bin/oncolm}
seq=${1:-128}
batch=${2:-0}
[ "$batch" -gt 0 ] || batch=$([ "$seq" -le 128 ] && echo 8 || echo 4)
steps=${3:-3}
threads=${4:-$(nproc)}
dir=${TMPDIR:-/tmp}/oncolm-train-bench
mkdir -p "$dir"
base=$dir/bert-base.gguf
[ -f "$base" ] || "$B" model create --arch bert --preset base -o "$base"
data=$dir/classify.jsonl
/usr/bin/python3 - "$data" <<'PY'
import json, sys
text = ("Assessment: 64-year-old woman with cT2N1M0 adenocarcinoma of the pancreatic head after "
        "neoadjuvant FOLFIRINOX; CA 19-9 fell from 812 to 96 U/mL. Plan: chemoradiation, 50.4 Gy "
        "in 28 fractions with capecitabine, then re-staging CT. ")
labels = ["progression", "stable", "response"]
with open(sys.argv[1], "w") as f:
    for i in range(256):  # ~1200 tokens each: longer than any SEQ here
        f.write(json.dumps({"text": "Note %d: " % i + text * 20, "label": labels[i % 3], "split": "train"}) + "\n")
PY
out=$dir/run
rm -rf "$out"
log=$dir/time.log
# stderr lines get a wall-clock stamp and the CPU seconds oncolm has used
# so far (the progress line prints ex/s with one decimal only, too coarse
# below 1 example/s; CPU time shows what other processes took: on a shared
# machine compare cpu s/step with the wall s/step)
/usr/bin/python3 -uc '
import os, subprocess, sys, time
p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
tck = os.sysconf("SC_CLK_TCK")
def cpu():
    try:
        kids = open("/proc/%d/task/%d/children" % (p.pid, p.pid)).read().split()
        f = open("/proc/%s/stat" % kids[0]).read().rsplit(")", 1)[1].split()
        return (int(f[11]) + int(f[12])) / tck
    except (OSError, IndexError, ValueError):
        return -1.0
for line in p.stderr:
    sys.stdout.write("%.3f %.2f %s" % (time.time(), cpu(), line))
print("0 0 exit %d" % p.wait())' /usr/bin/time -v "$B" train classify -m "$base" --data "$data" -o "$out" \
    --max-len "$seq" --batch "$batch" --max-steps "$steps" --eval-every 0 --save-every 0 --val-fraction 0 \
    -t "$threads" > "$log"
grep -q " exit 0$" "$log" || { cat "$log"; exit 1; }
rm -rf "$out"
grep " oncolm train: .* truncated" "$log" | cut -d" " -f3- | sed 's/^/  /'
awk -v s="$seq" -v b="$batch" -v t="$threads" '
    $3 == "oncolm" && $5 ~ /^[0-9]+$/ && $6 == "training" { n_ex = $5; trunc = $11; sub(/\(/, "", trunc) }
    $3 == "step" && $4 ~ /^[0-9]+\// { k++; if (k == 1) { t1 = $1; c1 = $2 } else { tk = $1; ck = $2 } }
    END { what = sprintf("bert base, full fine-tuning (classify, 3 labels), seq %s, batch %s, %s threads", s, b, t)
          if (trunc + 0 < n_ex + 0) printf "warning: only %s of %s examples were cut to %s tokens\n", trunc, n_ex, s
          if (k > 1) printf "%s: %.3f examples/s, %.1f tokens/s, %.2f s/step, %.2f CPU s/step (%d steps after the first)\n", what, b * (k - 1) / (tk - t1), b * s * (k - 1) / (tk - t1), (tk - t1) / (k - 1), (ck - c1) / (k - 1), k - 1
          else print what ": only one step: nothing timed" }' "$log"
grep "Maximum resident set size" "$log" | awk '{ printf "peak resident memory: %.2f GiB\n", $NF / 1048576 }'
if [ "${TORCH:-0}" = 1 ]; then
    timed=$((steps > 1 ? steps - 1 : 1))
    /usr/bin/python3 "$(dirname "$0")/torch_bert_train.py" --threads "$threads" --seq "$seq" --batch "$batch" \
        --steps "$timed" --warmup 1
fi
