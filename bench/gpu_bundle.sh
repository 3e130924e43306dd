#!/usr/bin/env bash
# gpu_bundle.sh -- builds, on this machine, what bench/gpu_bench.sh runs on a
# lent GPU machine that has CUDA, PyTorch and JAX but not groklab's Debian
# libraries (FFTW, OpenBLAS, cJSON, SQLite) and no network: a CUDA build of
# groklab and test_gpu (portable x86-64 code, no -march=native; no MPI), the
# CUDA module they load at the first --device cuda (groklab-cuda.so, beside
# them, where the loader looks first) and the shared libraries the three
# need beyond glibc, libstdc++ and CUDA's own (cuBLAS is the GPU machine's),
# in gpu-bundle/ (ignored by git).
#
# With REF=path/to/sweep.db (default sweeps/fig3a-small/sweep.db, if there:
# the CPU backend's `groklab reproduce fig3a --scale small`), its runs table
# goes into gpu-bundle/ref-fig3a-small.db, the reference that gpu_bench.sh
# compares the GPU's phases with.
#
# Then, from the device tool: run with carry ["gpu-bundle"] and the command
# bench/gpu_bench.sh; it finds gpu-bundle/ and skips its own build.
# Usage: bench/gpu_bundle.sh   (from anywhere)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
B=build-gpu-bundle
cmake -S . -B "$B" -DCMAKE_BUILD_TYPE=Release -DGL_CUDA=ON -DGL_NATIVE=OFF -DGL_MPI=OFF > /dev/null
cmake --build "$B" -j "$(nproc)" --target groklab test_gpu groklab_cuda
rm -rf gpu-bundle
mkdir -p gpu-bundle/lib
cp "$B/groklab" "$B/tests/test_gpu" "$B/groklab-cuda.so" gpu-bundle/
# every library the programs and the module load, except the C/C++ runtime and CUDA's
for lib in $(ldd gpu-bundle/groklab gpu-bundle/test_gpu gpu-bundle/groklab-cuda.so | awk '/=>/ {print $3}' | sort -u); do
    case "$(basename "$lib")" in
        libc.so* | libm.so* | libdl.so* | libpthread.so* | librt.so* | libstdc++.so* | libgcc_s.so* | \
            libcuda.so* | libcublas*.so* | libcudart.so*) ;;
        *) cp -L "$lib" gpu-bundle/lib/ ;;
    esac
done
REF="${REF:-sweeps/fig3a-small/sweep.db}"
if [[ -f $REF ]]; then
    python3 - "$REF" gpu-bundle/ref-fig3a-small.db <<'EOF'
import sqlite3, sys
db = sqlite3.connect(sys.argv[2])
db.execute("ATTACH DATABASE ? AS src", (sys.argv[1],))
db.execute("CREATE TABLE runs AS SELECT * FROM src.runs")
db.commit()
n = db.execute("SELECT count(*) FROM runs WHERE status IN ('done', 'diverged')").fetchone()[0]
print("reference:", n, "finished runs of", sys.argv[1])
EOF
else
    echo "no $REF: gpu_bench.sh will not compare the small grid's phases with the CPU's" >&2
fi
git rev-parse HEAD > gpu-bundle/COMMIT
ls -la gpu-bundle gpu-bundle/lib
du -sh gpu-bundle
