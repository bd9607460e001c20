#!/bin/sh
# finetune_bench.sh — LoRA training speed and peak memory of `oncolm
# finetune` on a random-weight model (docs/PERFORMANCE.md).
#
#   bench/finetune_bench.sh [PRESET [RANK [SEQ [STEPS [THREADS]]]]]
#       PRESET  model create preset: 1b (default), 8b, 7b, small, tiny
#       RANK    LoRA rank (16), all linear layers
#       SEQ     tokens per step (512: one packed micro-batch)
#       STEPS   optimizer steps timed (3)
#       THREADS (all CPUs)
# The base is written as Q4_K (model create --type q4_K) under
# ${TMPDIR:-/tmp}/oncolm-ft-bench/ and kept for later runs. Prints the
# steady-state tokens/s (steps after the first; every step is one
# micro-batch of SEQ tokens: the examples are longer and cut to SEQ) and the peak resident
# memory (/usr/bin/time -v) of the whole run, base mapping included.
set -eu
B=${ONCOLM_BIN:-build/bin/oncolm}
preset=${1:-1b}
rank=${2:-16}
seq=${3:-512}
steps=${4:-3}
threads=${5:-$(nproc)}
dir=${TMPDIR:-/tmp}/oncolm-ft-bench
mkdir -p "$dir"
base=$dir/llama-$preset-q4_K.gguf
[ -f "$base" ] || "$B" model create --arch llama --preset "$preset" --type q4_K -o "$base"
data=$dir/data.jsonl
/usr/bin/python3 - "$data" <<'PY'
import json, sys
text = ("Assessment: 64-year-old woman with cT2N1M0 adenocarcinoma of the pancreatic head after "
        "neoadjuvant FOLFIRINOX; CA 19-9 fell from 812 to 96 U/mL. Plan: chemoradiation, 50.4 Gy "
        "in 28 fractions with capecitabine, then re-staging CT. ")
with open(sys.argv[1], "w") as f:
    for i in range(64):
        f.write(json.dumps({"prompt": "Note %d: " % i + text * 4, "completion": text * 8}) + "\n")
PY
out=$dir/run
rm -rf "$out"
log=$dir/time.log
/usr/bin/time -v "$B" finetune -m "$base" --data "$data" -o "$out" --rank "$rank" --alpha "$rank" \
    --max-len "$seq" --packing --max-steps "$steps" --save-every 0 --val-fraction 0 --dropout 0 \
    -t "$threads" 2> "$log" || { cat "$log"; exit 1; }
grep -E "^step " "$log" | tail -n +2 | awk -v p="$preset" -v r="$rank" -v s="$seq" -v t="$threads" '
    { for (i = 1; i <= NF; i++) if ($(i) == "tok/s") { sum += $(i - 1); n++ } }
    END { if (n) printf "llama %s Q4_K, LoRA rank %s all linear, seq %s, %s threads: %.1f tokens/s (mean of %d steps after the first)\n", p, r, s, t, sum / n, n }'
grep "Maximum resident set size" "$log" | awk '{ printf "peak resident memory: %.2f GiB\n", $NF / 1048576 }'
ls -l "$base" | awk '{ printf "base file: %.2f GiB\n", $5 / 1073741824 }'
