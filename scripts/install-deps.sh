#!/usr/bin/env bash
# Installs the Debian 12 packages oncolm needs to build and test.
# Idempotent: prints nothing and exits 0 when everything is already there.
set -euo pipefail

packages=(
  build-essential cmake pkg-config git
  libpcre2-dev          # byte-level BPE pre-tokenizer regexes (Unicode properties)
  libutf8proc-dev       # BERT normalisation: case folding, accent stripping, categories
  libcmocka-dev         # unit test framework
  libjansson-dev        # JSON / JSONL input and output of the CLI
  libopenblas-dev       # sgemm for float weights in batched matmuls
  libsqlite3-dev        # note store (WAL) and BM25 through FTS5
  libfaiss-dev          # dense vector search (exact, HNSW, IVF)
  python3 python3-numpy # independent test oracles (Debian's interpreter, not pyenv)
  python3-scipy         # oracle for the statistics (scipy.stats is the reference)
  python3-sklearn       # oracle for classification metrics and kappa (scikit-learn 1.2.1)
  python3-statsmodels   # oracle for McNemar and Wilson intervals (statsmodels 0.13.5)
  python3-nltk          # oracle for the Porter stemmer of ROUGE (rouge-score uses nltk's)
  chromium fonts-dejavu-core  # headless browser check that the HTML report's charts render
  clang libclang-rt-14-dev  # libFuzzer targets and sanitizer runtime
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "oncolm: installing Debian packages: ${missing[*]}" >&2
sudo_cmd=()
[ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq >/dev/null
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
