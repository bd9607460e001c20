#!/usr/bin/env bash
# Run the whole oncolm test suite — what CI runs (.ci/run calls this).
#  1. Release build + every test (unit tests, numpy oracles, corpus replays,
#     conformance vectors when ../shared/conformance exists).
#  2. Debug build with AddressSanitizer + UndefinedBehaviorSanitizer + every test.
#  3. A short libFuzzer run of every fuzz target (clang), ONC_FUZZ_SECONDS each
#     (default 20; 0 skips).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
jobs=$(nproc 2>/dev/null || echo 2)

echo "== release build and tests"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$jobs"
(cd build && ctest --output-on-failure -j"$jobs")

echo "== AddressSanitizer + UBSan build and tests"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DONC_SANITIZE=ON >/dev/null
cmake --build build-asan -j"$jobs"
(cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --output-on-failure -j"$jobs")

seconds=${ONC_FUZZ_SECONDS:-20}
if [ "$seconds" != 0 ]; then
  echo "== fuzzing (${seconds}s per target)"
  bash scripts/fuzz.sh "$seconds"
fi
echo "oncolm: all tests passed"
