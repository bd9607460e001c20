#!/usr/bin/env bash
# fuzz.sh — build every libFuzzer target (fuzz/fuzz_*.c) with clang and run
# each for N seconds (default 60) over a temporary copy of its seed corpus
# fuzz/corpus/<name>/, so new inputs never land in the repository. Crash
# reproducers are kept in the printed temp folder. Exit non-zero on a crash.
# Usage: scripts/fuzz.sh [SECONDS] [TARGET...]     e.g. scripts/fuzz.sh 300 gguf
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-60}"
shift || true
build="${ONC_FUZZ_BUILD:-build-fuzz}"
jobs="${JOBS:-2}"
# ONC_FUZZ=ON instruments the library too (coverage + ASan/UBSan), so
# libFuzzer sees the parser's edges and over-reads inside it are caught.
cmake -S . -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DONC_FUZZ=ON -DONC_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for src in fuzz/fuzz_*.c; do
    n="$(basename "$src" .c)"
    targets+=("${n#fuzz_}")
  done
fi
status=0
for t in "${targets[@]}"; do
  cmake --build "$build" --target "fuzz_$t" -j"$jobs"
  work="$(mktemp -d "${TMPDIR:-/tmp}/oncolm-fuzz-$t.XXXXXX")"
  mkdir -p "$work/corpus" "$work/artifacts"
  if [ -d "fuzz/corpus/$t" ]; then cp -r "fuzz/corpus/$t/." "$work/corpus/"; fi
  echo "== fuzz_$t for ${secs}s (work dir $work)"
  if ! "$build/fuzz/fuzz_$t" -max_total_time="$secs" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix="$work/artifacts/" "$work/corpus"; then
    echo "fuzz_$t: CRASH — reproducers in $work/artifacts/" >&2
    status=1
  else
    echo "fuzz_$t: no crash ($(ls "$work/corpus" | wc -l) corpus files in $work/corpus)"
  fi
done
exit $status
