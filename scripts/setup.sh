#!/usr/bin/env bash
# README command 1: install the Debian packages, build groklab, install it
# with its Python package into .venv, and reproduce the paper's Figure 1
# (three runs: weight decay 0, 5, 15) into runs/fig1.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j "$(nproc)"
# The library, the program and the Python package installed into .venv, a
# virtual environment that sees Debian's numpy, pandas, matplotlib and torch:
# `. .venv/bin/activate` gives `groklab` and `import groklab`.
/usr/bin/python3 -m venv --system-site-packages .venv
cmake --install build --prefix "$PWD/.venv" >/dev/null
.venv/bin/python -c 'import groklab; print("import groklab:", groklab.__version__, "from", groklab.library_path)'
./build/groklab reproduce fig1 --force
