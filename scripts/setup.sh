#!/usr/bin/env bash
# README command 1: install the Debian packages, build groklab, and reproduce
# the paper's Figure 1 (three runs: weight decay 0, 5, 15) into runs/fig1.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j "$(nproc)"
./build/groklab reproduce fig1 --force
