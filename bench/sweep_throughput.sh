#!/usr/bin/env bash
# Sweep throughput on this machine: one panel of `reproduce fig3a --scale
# small` (weight decay 0: 5 x 5 points at p 59, 2000 steps) with 1 worker,
# 2 workers, and 2 MPI ranks (if mpirun is there). Prints wall time and runs
# per hour for each, measured one after the other in this run.
# usage: bench/sweep_throughput.sh [GROKLAB_BINARY]
set -eu
GL=$(readlink -f "${1:-build/groklab}")
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
GRID=(--p 59 --log-every 50 --wd 0 --frac 0.1:0.9:5 --noise 0:0.8:5 --quiet)
now() { date +%s.%N; }
report() { awk -v n=25 -v a="$2" -v b="$3" -v w="$1" 'BEGIN { t = b - a; printf "%-22s %8.1f s %10.0f runs/hour\n", w, t, 3600 * n / t }'; }
echo "sweep throughput: 25 runs (p 59, N 500, 2000 steps, full batch), $(nproc) cores"
t0=$(now); "$GL" sweep "${GRID[@]}" --threads 1 --out "$T/w1"; t1=$(now)
report "1 worker" "$t0" "$t1"
t0=$(now); "$GL" sweep "${GRID[@]}" --threads 2 --out "$T/w2"; t1=$(now)
report "2 workers" "$t0" "$t1"
if command -v mpirun >/dev/null; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl=self,vader
  t0=$(now); mpirun -np 2 --oversubscribe "$GL" sweep "${GRID[@]}" --out "$T/mpi"; t1=$(now)
  report "2 MPI ranks" "$t0" "$t1"
fi
