#!/usr/bin/env bash
# gpu_bench.sh -- the one prepared run on a lent GPU machine (one NVIDIA
# H100/H200, PyTorch and JAX installed, no network): builds groklab with CUDA,
# runs its GPU tests, checks the phases of the small Figure 3(a) grid against
# the CPU backend (FP32 and TF32), measures groklab against three baselines and
# times the paper's Figure 3(a) grid, all within about 8 minutes. Run it from
# anywhere; it works in the repository root. Everything goes under $OUT
# (default ./gpu-out):
#
#   a. env.txt            nvidia-smi, nvcc --version, cmake, CPUs, torch and
#                         jax versions and the devices they see
#   b. build.log          the carried gpu-bundle/ (bench/gpu_bundle.sh) if there
#                         is one; else cmake -S . -B build-gpu
#                         -DCMAKE_BUILD_TYPE=Release -DGL_CUDA=ON, then
#                         cmake --build build-gpu -j 16; then groklab version
#                         (the GPU it finds or why not, its settings)
#   c. gpu_tests.log      test_gpu cuda: GPU populations against the CPU
#   d. groklab_bench.txt  build-gpu/groklab bench --device cuda
#                         --pop 1,16,64,256,1024 --steps 200 --pop-steps 50
#                         --profile on (each population's step by kernel
#                         and product)
#      groklab_bench_direct.txt  the same for M = 1 and 256 with
#                         GROKLAB_GPU_GRAPHS=0: every operation launched on
#                         its own instead of the step replayed as a graph
#      groklab_bench_sweep.txt  a sweep's population: M = 17 and 323 members
#                         of Figure 3(a)'s 17 training fractions (--fracs
#                         0.10,...,0.90, --noise 0.1), evaluated every 10
#                         steps (--log on), --profile on
#   e. fig3a_small.log    build-gpu/groklab reproduce fig3a --scale small
#                         --device cuda (5 x 5 x 4 = 100 runs at p 59) into
#      fig3a-small/, fig3a-small-tf32/  $OUT/fig3a-small, then again with
#                         GROKLAB_TF32=1; each compared run by run
#                         (bench/phase_agree.py) with the CPU backend's store
#                         of that grid carried in gpu-bundle/ref-fig3a-small.db
#   f. authors_loop.{txt,json}   bench/authors_loop.py --device cuda: the
#                         paper authors' PyTorch loop, one model (ms/step)
#      batched_torch.{txt,jsonl} bench/batched_torch.py --device cuda, hand-
#                         batched torch population, M = 1..1024 (model-steps/s)
#      jax_vmap.{txt,jsonl}      bench/jax_vmap.py: jax.vmap population,
#                         M = 1..1024 (model-steps/s)
#   g. fig3a.log, fig3a/  /usr/bin/time -v build-gpu/groklab reproduce fig3a
#                         --scale paper --device cuda (the 17 x 19 x 4 grid,
#                         1,292 runs) under timeout 240 (or what is left);
#                         the store stays in $OUT/fig3a (sweep.db; resumable)
#   h. gpu_memcheck.log   compute-sanitizer --tool memcheck test_gpu cuda: every
#                         device access of the GPU tests checked (last, in
#                         what is left of the budget)
#   i. summary.txt        the key figures of all the above, printed at the end
#   status.tsv            one line per part: name, ok / FAILED (exit N) /
#                         TIMEOUT / skipped, seconds, log file
#
# Each part runs under its own `timeout`; a part that fails or times out is
# recorded and the script goes on. The whole run is held to $BUDGET seconds
# (default 500): a part's limit is cut to what is left (20 s are kept for the
# summary) and parts with under 10 s left are skipped. Exit status 0 when every
# part succeeded, 1 otherwise; the summary is printed either way.
#
# Usage: OUT=/path/to/out bench/gpu_bench.sh
# Environment: OUT (output folder, default ./gpu-out), BUDGET (seconds, 500),
#   PYTHON (default python3: the one with torch and jax), BUILD (build folder,
#   default build-gpu), GPU_CMAKE_ARGS (extra configure arguments, split on
#   spaces, e.g. -DCMAKE_CUDA_ARCHITECTURES=90), JOBS (build jobs, 16).
set -u

OUT="${OUT:-./gpu-out}"
mkdir -p "$OUT" || exit 1
OUT="$(cd "$OUT" && pwd)"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT" || exit 1
PYTHON="${PYTHON:-python3}"
export PYTHONUNBUFFERED=1 # what a baseline printed survives its part timing out
BUDGET="${BUDGET:-500}"
BUILD="${BUILD:-build-gpu}"
JOBS="${JOBS:-16}"
read -r -a EXTRA_CMAKE <<< "${GPU_CMAKE_ARGS:-}"
POP=1,16,64,256,1024
FRACS=0.10,0.15,0.20,0.25,0.30,0.35,0.40,0.45,0.50,0.55,0.60,0.65,0.70,0.75,0.80,0.85,0.90
DEADLINE=$((SECONDS + BUDGET))
STATUS="$OUT/status.tsv"

# nvcc is often installed but not on PATH
if ! command -v nvcc > /dev/null 2>&1 && [[ -x /usr/local/cuda/bin/nvcc ]]; then
    PATH="/usr/local/cuda/bin:$PATH"
fi

# logs are appended to: start them empty; JSON files appear only when written
for f in status.tsv env.txt build.log gpu_tests.log gpu_memcheck.log groklab_bench.txt groklab_bench_direct.txt \
         groklab_bench_sweep.txt authors_loop.txt \
         batched_torch.txt jax_vmap.txt fig3a_small.log fig3a.log summary.txt; do
    : > "$OUT/$f"
done
rm -f "$OUT/authors_loop.json" "$OUT/batched_torch.jsonl" "$OUT/jax_vmap.jsonl"

# record NAME RESULT SECONDS LOG: one line of status.tsv
record() {
    printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "${4#"$OUT"/}" >> "$STATUS"
}

# part NAME LIMIT LOG CMD...: runs CMD under timeout LIMIT seconds (cut to what
# is left of the budget), appending its stdout and stderr to LOG; records the
# outcome and returns CMD's exit status.
part() {
    local name=$1 limit=$2 log=$3 left rc t0 result
    shift 3
    left=$((DEADLINE - SECONDS - 20))
    if (( left < 10 )); then
        echo "## $name: skipped, no time left in the budget" >> "$log"
        record "$name" "skipped (no time left)" 0 "$log"
        return 1
    fi
    (( limit > left )) && limit=$left
    echo "[gpu_bench] $(date -u +%H:%M:%S) $name (limit ${limit}s)" >&2
    echo "## $name: $* (limit ${limit}s)" >> "$log"
    t0=$SECONDS
    timeout -k 10 "$limit" "$@" >> "$log" 2>&1
    rc=$?
    case $rc in
        0) result=ok ;;
        124 | 137) result="TIMEOUT (${limit}s)" ;;
        *) result="FAILED (exit $rc)" ;;
    esac
    record "$name" "$result" "$((SECONDS - t0))" "$log"
    return "$rc"
}

# skip NAME LOG WHY: records a part that could not run
skip() {
    echo "## $1: skipped, $3" >> "$2"
    record "$1" "skipped ($3)" 0 "$2"
}

# --- a. the machine ---------------------------------------------------------
ENV="$OUT/env.txt"
part nvidia-smi 30 "$ENV" nvidia-smi
part nvcc 20 "$ENV" nvcc --version
{
    echo "## cmake: $(cmake --version 2> /dev/null | head -n 1)"
    echo "## CPUs: $(nproc), $(lscpu 2> /dev/null | sed -n 's/^Model name:[[:space:]]*//p' | head -n 1)"
} >> "$ENV"
part torch-version 60 "$ENV" "$PYTHON" -c '
import torch
ok = torch.cuda.is_available()
print("torch", torch.__version__, "CUDA", torch.version.cuda, "GPU",
      torch.cuda.get_device_name() if ok else "none visible")'
part jax-version 60 "$ENV" "$PYTHON" -c '
import jax
try:
    import optax
    o = "optax " + optax.__version__
except ImportError:
    o = "no optax"
print("jax", jax.__version__, "backend", jax.default_backend(), "devices", jax.devices(), o)'

# --- b. build (or the bundle carried from a development machine) -----------
# bench/gpu_bundle.sh builds gpu-bundle/ (groklab, test_gpu and their
# non-CUDA libraries) where groklab's Debian packages are installed; the GPU
# machine may not have them. cuBLAS comes from this machine's CUDA.
if [[ -x gpu-bundle/groklab ]]; then
    GL=gpu-bundle/groklab
    TEST_GPU=gpu-bundle/test_gpu
    cublas_dir=$(dirname "$( (ls /usr/local/cuda/lib64/libcublas.so.* /usr/local/cuda/lib/libcublas.so.* 2> /dev/null;
        find / -xdev -name 'libcublas.so.*' -not -path '*/proc/*' 2> /dev/null) | head -n 1)")
    export LD_LIBRARY_PATH="$ROOT/gpu-bundle/lib:$cublas_dir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    export GROKLAB_CUDA_MODULE="$ROOT/gpu-bundle/groklab-cuda.so" # the bundle's, whatever else is installed
    {
        echo "## using the carried gpu-bundle/ (commit $(cat gpu-bundle/COMMIT 2> /dev/null)), cuBLAS from $cublas_dir"
        ldd "$GL" "$GROKLAB_CUDA_MODULE" 2>&1
    } >> "$OUT/build.log"
    record build "ok (carried bundle)" 0 "$OUT/build.log"
else
    GL="$BUILD/groklab"
    TEST_GPU="$BUILD/tests/test_gpu"
    if part configure 120 "$OUT/build.log" cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release \
            -DGL_CUDA=ON ${EXTRA_CMAKE[@]+"${EXTRA_CMAKE[@]}"}; then
        part build 240 "$OUT/build.log" cmake --build "$BUILD" -j "$JOBS"
    else
        skip build "$OUT/build.log" "configure failed"
    fi
fi

# --- c. GPU tests: populations against the CPU backend, on the GPU ----------
# first what the program finds (the GPU or why not, its runtime settings)
[[ -x "$GL" ]] && part groklab-version 30 "$OUT/build.log" "$GL" version
if [[ -x "$TEST_GPU" ]]; then
    part gpu-tests 150 "$OUT/gpu_tests.log" "$TEST_GPU" cuda
else
    skip gpu-tests "$OUT/gpu_tests.log" "no $TEST_GPU"
fi

# --- d. groklab bench -------------------------------------------------------
if [[ -x "$GL" ]]; then
    part groklab-bench 90 "$OUT/groklab_bench.txt" \
        "$GL" bench --device cuda --pop "$POP" --steps 200 --pop-steps 50 --profile on
    GROKLAB_GPU_GRAPHS=0 part groklab-bench-direct 40 "$OUT/groklab_bench_direct.txt" \
        "$GL" bench --device cuda --pop 1,256 --steps 200 --pop-steps 50
    part groklab-bench-sweep 45 "$OUT/groklab_bench_sweep.txt" \
        "$GL" bench --device cuda --pop 17,323 --fracs "$FRACS" --noise 0.1 --log on --profile on \
        --steps 100 --pop-steps 30
else
    skip groklab-bench "$OUT/groklab_bench.txt" "no $GL"
fi

# --- e. Figure 3(a): the small grid against the CPU -------------------------
# The small grid (5 x 5 x 4 = 100 runs at p 59) in FP32 and in TF32
# (GROKLAB_TF32=1), each compared run by run with the CPU backend's store of
# the same grid, carried in gpu-bundle/ref-fig3a-small.db (bench/gpu_bundle.sh).
REF=gpu-bundle/ref-fig3a-small.db
TIMEV=()
[[ -x /usr/bin/time ]] && TIMEV=(/usr/bin/time -v)
if [[ -x "$GL" ]]; then
    part fig3a-small 60 "$OUT/fig3a_small.log" \
        "$GL" reproduce fig3a --scale small --device cuda --out "$OUT/fig3a-small" --quiet
    GROKLAB_TF32=1 part fig3a-small-tf32 60 "$OUT/fig3a_small.log" \
        "$GL" reproduce fig3a --scale small --device cuda --out "$OUT/fig3a-small-tf32" --quiet
    if [[ -f $REF ]]; then
        part phases-fp32 30 "$OUT/fig3a_small.log" "$PYTHON" bench/phase_agree.py "$REF" \
            "$OUT/fig3a-small/sweep.db" --label "cuda-fp32-vs-cpu"
        part phases-tf32 30 "$OUT/fig3a_small.log" "$PYTHON" bench/phase_agree.py "$REF" \
            "$OUT/fig3a-small-tf32/sweep.db" --label "cuda-tf32-vs-cpu"
    else
        skip phases "$OUT/fig3a_small.log" "no $REF"
    fi
else
    skip fig3a-small "$OUT/fig3a_small.log" "no $GL"
fi

# --- f. baselines -----------------------------------------------------------
part authors-loop 60 "$OUT/authors_loop.txt" "$PYTHON" bench/authors_loop.py --device cuda \
    --steps 500 --warmup 20 --json "$OUT/authors_loop.json"
part batched-torch 90 "$OUT/batched_torch.txt" "$PYTHON" bench/batched_torch.py --device cuda \
    --pop "$POP" --steps 20 --warmup 3 --json "$OUT/batched_torch.jsonl"
part jax-vmap 120 "$OUT/jax_vmap.txt" "$PYTHON" bench/jax_vmap.py --pop "$POP" --steps 50 \
    --reps 3 --require-gpu --json "$OUT/jax_vmap.jsonl"

# --- g. Figure 3(a) at paper scale, after the baselines: it takes what is
# left of its limit (the store is resumable; the summary counts its runs) ---
if [[ -x "$GL" ]]; then
    part fig3a 240 "$OUT/fig3a.log" ${TIMEV[@]+"${TIMEV[@]}"} \
        "$GL" reproduce fig3a --scale paper --device cuda --out "$OUT/fig3a" --quiet
else
    skip fig3a "$OUT/fig3a.log" "no $GL"
fi

# --- h. the GPU tests under compute-sanitizer (out-of-bounds and misaligned
# accesses, errors of the CUDA API), with what is left of the budget ---------
SANITIZER=$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer 2> /dev/null)
if [[ -x "$TEST_GPU" && -n $SANITIZER ]]; then
    part gpu-memcheck 150 "$OUT/gpu_memcheck.log" "$SANITIZER" --tool memcheck --error-exitcode 3 \
        "$TEST_GPU" cuda
else
    skip gpu-memcheck "$OUT/gpu_memcheck.log" "no $TEST_GPU or no compute-sanitizer"
fi

# --- i. summary -------------------------------------------------------------
# fig3a's progress: runs by status in its SQLite store
fig3a_counts() {
    [[ -f "$OUT/fig3a/sweep.db" ]] || { echo "  no $OUT/fig3a/sweep.db"; return; }
    timeout 30 "$PYTHON" - "$OUT/fig3a/sweep.db" <<'EOF' 2>&1
import sqlite3, sys
db = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
rows = db.execute("SELECT status, count(*) FROM runs GROUP BY status ORDER BY status").fetchall()
total = sum(n for _, n in rows)
print("  runs: " + ", ".join(f"{s} {n}" for s, n in rows) + f" (of {total})", end="")
EOF
    awk -F '\t' '$1 == "fig3a" { printf " in %s s", $3 }' "$STATUS"
    echo
}

# body LOG: LOG without the lines part() wrote into it
body() {
    grep -v '^## ' "$1"
}

# tail_failed NAME LOG: the last lines of LOG when part NAME ran and did not
# succeed (without /usr/bin/time -v's report, whose lines start with a tab)
tail_failed() {
    local lines
    awk -F '\t' -v n="$1" '$1 == n && $2 !~ /^ok/ { failed = 1 } END { exit !failed }' "$STATUS" \
        || return 0
    lines=$(body "$2" | grep -v $'^\t' | grep -v '^[[:space:]]*$' | tail -n 6 | sed 's/^/    /')
    [[ -n $lines ]] || return 0
    echo "  (last lines of ${2#"$OUT"/}:)"
    echo "$lines"
}

# section TITLE PART LOG REGEX: TITLE, the lines of $OUT/LOG that match REGEX,
# and its last lines if PART failed
section() {
    echo "$1"
    body "$OUT/$3" | grep -E "$4" | sed 's/^/  /'
    tail_failed "$2" "$OUT/$3"
}

{
    echo "groklab GPU bench, $(date -u '+%Y-%m-%d %H:%M UTC'), $(hostname), ${SECONDS}s"
    echo "GPU: $(timeout 10 nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2> /dev/null | head -n 1)"
    grep -E '^(torch|jax) ' "$ENV" | sed 's/^/  /'
    grep -E '^## (cmake|CPUs):' "$ENV" | sed 's/^## /  /'
    grep -E '^(--device cuda|settings):' "$OUT/build.log" | sed 's/^/  groklab version: /'
    echo
    echo "parts (status.tsv):"
    sed 's/^/  /' "$STATUS" | column -t -s $'\t' 2> /dev/null || sed 's/^/  /' "$STATUS"
    echo
    echo "build:"
    tail_failed configure "$OUT/build.log"
    tail_failed build "$OUT/build.log"
    section "gpu tests:" gpu-tests gpu_tests.log '^NOT OK|failed$|^SKIP'
    section "gpu tests under compute-sanitizer memcheck:" gpu-memcheck gpu_memcheck.log \
        'ERROR SUMMARY|^NOT OK|failed$'
    section "groklab bench --device cuda (each step by kernel and product: groklab_bench.txt):" \
        groklab-bench groklab_bench.txt 'groklab bench|step:|products|memory|population|model-steps|where a step'
    section "groklab bench --device cuda, GROKLAB_GPU_GRAPHS=0 (operation by operation):" \
        groklab-bench-direct groklab_bench_direct.txt 'groklab bench|step:|population'
    section "groklab bench --device cuda, a sweep's population (17 fractions, logged):" \
        groklab-bench-sweep groklab_bench_sweep.txt 'groklab bench|evaluated|step:|population|where a step|launches and'
    section "authors' loop (torch, one model, ms per step):" authors-loop authors_loop.txt "authors' loop|median"
    section "batched torch population:" batched-torch batched_torch.txt '^ +[0-9]+ |^ +M '
    section "jax vmap population:" jax-vmap jax_vmap.txt '^jax vmap|^ +[0-9]+ |^ +M '
    section "fig3a --scale small, GPU (FP32, TF32) against the CPU backend:" fig3a-small fig3a_small.log \
        '^phase_agree|^  run '
    echo "fig3a --scale paper:"
    fig3a_counts
    grep -E 'Elapsed \(wall clock\)|Maximum resident set size|Percent of CPU' "$OUT/fig3a.log" \
        | sed 's/^[[:space:]]*/  /'
    tail_failed fig3a "$OUT/fig3a.log"
} > "$OUT/summary.txt" 2>&1

echo
cat "$OUT/summary.txt"
if cut -f2 "$STATUS" | grep -qv '^ok'; then exit 1; fi
exit 0
