#!/usr/bin/env bash
# Build oncolm (Release) and run its main job on built-in defaults.
# Installs the Debian packages it needs first (scripts/install-deps.sh).
#   scripts/build.sh            build, then run `oncolm demo`
#   ONC_NO_DEMO=1 scripts/build.sh   build only
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
jobs=$(nproc 2>/dev/null || echo 2)
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$jobs"
echo "oncolm: built ./build/bin/oncolm"
if [ -z "${ONC_NO_DEMO:-}" ]; then
  ./build/bin/oncolm demo
fi
