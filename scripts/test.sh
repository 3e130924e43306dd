#!/usr/bin/env bash
# README command 2: the whole test suite.
#  1. a warnings-as-errors build and every CTest test (unit, cli, torch, e2e);
#  2. an AddressSanitizer + UndefinedBehaviorSanitizer build running the unit
#     and CLI tests.
# Set GROKLAB_QUICK=1 to skip the e2e tests (Figures 1 and 6, about 3 minutes on 2 cores).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
jobs=$(nproc)

cmake -S . -B build-test -DCMAKE_BUILD_TYPE=Release -DGL_WERROR=ON >/dev/null
cmake --build build-test -j "$jobs"
exclude=()
if [ "${GROKLAB_QUICK:-0}" = 1 ]; then exclude=(-LE e2e); fi
(cd build-test && ctest --output-on-failure "${exclude[@]}")

cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DGL_WERROR=ON -DGL_SANITIZE=ON >/dev/null
cmake --build build-asan -j "$jobs"
# protect_shadow_gap=0: CUDA cannot initialize under ASan with the gap protected (it maps
# memory there), and the sanitized CUDA path would then report "no GPU" on a GPU machine
(cd build-asan && ASAN_OPTIONS=detect_leaks=1:protect_shadow_gap=0 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --output-on-failure -L "unit|cli")
