#!/bin/sh
# finetune_bench.sh — LoRA training speed and peak memory of `oncolm
# finetune` on a random-weight model (docs/PERFORMANCE.md).
#
#   bench/finetune_bench.sh [PRESET [RANK [SEQ [STEPS [THREADS]]]]]
#       PRESET  model create preset: 1b (default), 8b, 7b, small, tiny
#       RANK    LoRA rank (16; alpha = 2 x rank), all linear layers
#       SEQ     tokens per step (512: one packed micro-batch)
#       STEPS   optimizer steps timed (3)
#       THREADS (all CPUs)
# With TORCH=1 in the environment, bench/torch_lora.py then runs the same
# LoRA step in PyTorch (fp32 weights of the same shape, activation
# checkpointing per block, same rank/alpha/seq/threads, same number of
# timed steps after one warm-up) for comparison; shapes whose fp32 weights
# do not fit in memory (8b) are reported as not run.
# The base is written as Q4_K (model create --type q4_K; TYPE=f32 etc. in
# the environment for another weight type) under
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
type=${TYPE:-q4_K}
base=$dir/llama-$preset-$type.gguf
[ -f "$base" ] || "$B" model create --arch llama --preset "$preset" --type "$type" -o "$base"
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
/usr/bin/time -v "$B" finetune -m "$base" --data "$data" -o "$out" --rank "$rank" --alpha "$((2 * rank))" \
    --max-len "$seq" --packing --max-steps "$steps" --save-every 0 --val-fraction 0 --dropout 0 \
    -t "$threads" 2> "$log" || { cat "$log"; exit 1; }
awk -v p="$preset" -v r="$rank" -v s="$seq" -v t="$threads" -v ty="$type" '
    /^step [0-9]/ { k++; for (i = 1; i <= NF; i++) if ($(i) == "tok/s") { if (k > 1) { sum += $(i - 1); n++ } } }
    /^oncolm finetune: [0-9]+ steps,/ { for (i = 1; i <= NF; i++) if ($(i) == "s,") total = $(i - 1) }
    END { what = sprintf("llama %s %s, LoRA rank %s all linear, seq %s, %s threads", p, ty, r, s, t)
          if (n) printf "%s: %.1f tokens/s, %.2f s/step (mean of %d steps after the first)\n", what, sum / n, s * n / sum, n
          else if (total) printf "%s: %.1f s for one step (the first: warm-up included), %.2f tokens/s\n", what, total, s / total }' "$log"
grep "Maximum resident set size" "$log" | awk '{ printf "peak resident memory: %.2f GiB\n", $NF / 1048576 }'
ls -l "$base" | awk '{ printf "base file: %.2f GiB\n", $5 / 1073741824 }'
if [ "${TORCH:-0}" = 1 ]; then
    timed=$((steps > 1 ? steps - 1 : 1))
    /usr/bin/python3 "$(dirname "$0")/torch_lora.py" --preset "$preset" --rank "$rank" --alpha "$((2 * rank))" \
        --seq "$seq" --steps "$timed" --warmup 1 --threads "$threads" || [ $? = 2 ]
fi
