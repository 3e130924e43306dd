#!/usr/bin/env bash
# baselines.sh -- run all groklab baseline benchmarks on this machine and print
# a markdown table "what | ms per step (median)":
#   * bench/authors_loop.py   the paper authors' PyTorch loop, one model, torch
#                             threads 1 and 2, with and without per-step accuracy
#   * bench/batched_torch.py  hand-batched PyTorch population, M = 1,2,8,
#                             threads 1 and 2 (ms per model-step, model-steps/s)
#   * bench/blas_products.c   only the step's three GEMMs, OpenBLAS and BLIS,
#                             1 and 2 threads, BLAS threading and OpenMP chunks
# then, if build/groklab exists, the output of `build/groklab bench` verbatim.
#
# Works from a clean checkout: the C bench is built into a temporary directory.
# "malloc tuned" rows: the torch runs repeated with MALLOC_MMAP_THRESHOLD_ and
# MALLOC_TRIM_THRESHOLD_ set to 4 GiB (see the note in the Python files).
# Usage: bench/baselines.sh [--quick] [--wait-idle]
#   --quick      few steps, a smoke test
#   --wait-idle  before each benchmark wait until the machine is idle
# Environment: PYTHON (default /usr/bin/python3, which has Debian's torch),
#              STEPS (authors' loop timed steps, default 200),
#              POP_STEPS (batched torch timed steps, default 30).
# Timings on a shared 2-core VM are noisy: the load average is printed before
# and after; rerun if it was well above 0.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-/usr/bin/python3}"
STEPS="${STEPS:-200}"
POP_STEPS="${POP_STEPS:-30}"
REPS=30
WAIT_IDLE=0
for arg in "$@"; do
    case "$arg" in
        --quick) STEPS=5; POP_STEPS=2; REPS=3 ;;
        --wait-idle) WAIT_IDLE=1 ;;
        *) echo "usage: $0 [--quick] [--wait-idle]" >&2; exit 2 ;;
    esac
done

# --wait-idle: before each benchmark, wait (up to 10 min) until the CPUs were
# at least 90% idle over 3 seconds, so that other users' jobs do not land in it.
cpu_idle_pct() {
    local a b
    a=($(head -n1 /proc/stat)); sleep 3; b=($(head -n1 /proc/stat))
    local tot=0 i
    for i in 1 2 3 4 5 6 7 8; do tot=$((tot + b[i] - a[i])); done
    echo $(( tot > 0 ? 100 * (b[4] - a[4]) / tot : 100 ))
}
wait_idle() {
    [[ $WAIT_IDLE == 1 ]] || return 0
    local deadline=$((SECONDS + 600))
    while (( $(cpu_idle_pct) < 90 && SECONDS < deadline )); do sleep 5; done
}

TMP="$(mktemp -d "${TMPDIR:-/tmp}/groklab-bench.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT
RES="$TMP/results.jsonl"
: > "$RES"

echo "# groklab baselines"
echo
echo "CPU: $(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -n1), $(nproc) CPU(s) available"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo

echo "building blas_products into $TMP ..." >&2
make -s -C bench OUT="$TMP" all >&2

# The torch benchmarks run twice: as installed, then with glibc malloc told to
# keep freed big blocks (torch's CPU tensors otherwise come from fresh mmaps
# that are page-faulted in every step).
TUNED=(MALLOC_MMAP_THRESHOLD_=4294967296 MALLOC_TRIM_THRESHOLD_=4294967296)
for malloc in default tuned; do
    envs=(); [[ $malloc == tuned ]] && envs=("${TUNED[@]}")
    for t in 1 2; do
        wait_idle
        echo "authors_loop.py --threads $t (malloc $malloc) ..." >&2
        env "${envs[@]}" "$PYTHON" bench/authors_loop.py --threads "$t" --steps "$STEPS" \
            --json >> "$RES"
    done
    wait_idle
    echo "batched_torch.py (malloc $malloc) ..." >&2
    env "${envs[@]}" "$PYTHON" bench/batched_torch.py --pop 1,2,8 --threads 1,2 \
        --steps "$POP_STEPS" --json >> "$RES"
done

for lib in openblas blis; do
    for t in 1 2; do
        wait_idle
        echo "blas_products $lib, $t thread(s) ..." >&2
        OPENBLAS_NUM_THREADS=$t BLIS_NUM_THREADS=$t OMP_NUM_THREADS=$t \
            "$TMP/blas_products_$lib" -m blas -r "$REPS" --json >> "$RES"
        wait_idle
        OMP_NUM_THREADS=$t "$TMP/blas_products_$lib" -m omp -r "$REPS" --json >> "$RES"
    done
done

"$PYTHON" - "$RES" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
th = lambda t: f"{t} thread" + ("s" if t != 1 else "")
mt = lambda r: ", malloc tuned" if r.get("malloc_tuned") else ""
print("| what | ms per step (median) | notes |")
print("|---|---:|---|")
for r in rows:
    if r["bench"] == "authors_loop":
        v = r["variants"]
        base = f"authors' torch loop, 1 model, {th(r['threads'])}{mt(r)}"
        print(f"| {base}, per-step train+test accuracy | {v['train_acc']['median_ms']:.2f} "
              f"| min {v['train_acc']['min_ms']:.2f} |")
        print(f"| {base}, per-step accuracy + test loss (authors' full loop) "
              f"| {v['train_full']['median_ms']:.2f} | min {v['train_full']['min_ms']:.2f} |")
        print(f"| {base}, train only | {v['train_only']['median_ms']:.2f} "
              f"| min {v['train_only']['min_ms']:.2f} |")
    elif r["bench"] == "batched_torch":
        print(f"| batched torch, M={r['M']}, {th(r['threads'])}{mt(r)}, per model-step (train only) "
              f"| {r['ms_per_model_step']:.2f} | {r['model_steps_per_s']:.2f} model-steps/s; "
              f"{r['median_ms']:.1f} ms per population step |")
    elif r["bench"] == "blas_products":
        lib = {"openblas": "OpenBLAS", "blis": "BLIS"}[r["lib"]]
        how = ("BLAS threads" if r["mode"] == "blas" else
               f"OpenMP chunks {r['row_chunk']} rows/{r['col_chunk']} cols, BLAS 1 thread")
        print(f"| 3 GEMMs only, {lib}, {th(r['threads'])}, {how} | {r['median_ms']:.2f} "
              f"| min {r['min_ms']:.2f}, {r['gflops']:.1f} GFLOP/s |")
EOF

echo
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

if [[ -x build/groklab ]]; then
    echo
    echo "## build/groklab bench"
    echo
    echo '```'
    wait_idle
    set +e
    timeout 900 build/groklab bench 2>&1
    rc=$?
    set -e
    echo '```'
    [[ $rc -eq 0 ]] || echo "(build/groklab bench exited with status $rc)"
fi
