#!/usr/bin/env bash
# Installs every Debian package that groklab's build, tests and figures need.
# Usage: scripts/install-deps.sh [--no-torch]
#   --no-torch  skip PyTorch (the equivalence tests then skip themselves)
set -euo pipefail

pkgs=(
  build-essential cmake pkg-config       # compiler, CMake + CTest
  libopenblas-dev libblis-dev            # BLAS (chosen at configure time)
  libfftw3-dev                           # IPR: batched real FFTs
  librandom123-dev                       # Philox counter-based RNG
  libcjson-dev                           # config.json, summary.json, safetensors headers
  libsqlite3-dev                         # sweep stores (sweep.db)
  libopenmpi-dev openmpi-bin             # sweeps over MPI (optional at build time)
  gnuplot-nox                            # figures (PNG/SVG)
  help2man                               # the man page groklab.1 (skipped without it)
  python3 python3-numpy                  # reading outputs in tests
  python3-venv                           # the .venv that scripts/setup.sh installs groklab into
  python3-pandas python3-matplotlib python3-tqdm  # the Python package's tables, plots, progress
  python3-pytest                         # the Python package's tests
  python3-nbconvert python3-ipykernel    # running the example notebook
  python3-cffi                           # bench/py_overhead.py (the binding's call overhead)
)
if [ "${1:-}" != "--no-torch" ]; then
  pkgs+=(python3-torch)                  # PyTorch equivalence tests
fi

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#pkgs[@]} packages present"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
