#!/usr/bin/env bash
# dynamics_overhead.sh -- what keeping the dynamics costs on the default run.
#
#   bench/dynamics_overhead.sh [GROKLAB_BINARY] [--steps S] [--reps R] [--threads T]
#
# Trains the default run (add mod 97, width 500, alpha 0.5, full batch,
# logged every 10 steps) four ways, alternating, R times each (default 3):
# plain; --snapshots 40; --progress-measures on; both. Prints, with the CPU
# model and load average, the median ms per step of the training loop
# (summary.json's wall_seconds / steps), its ratio to the plain run's, the
# files' bytes (snapshots/, progress.csv), and the median time of one
# `groklab dynamics RUN` over the 40+ snapshots. A benchmark, not a test:
# it checks nothing.
set -eu
GL=${1:-build/groklab}
case "$GL" in --*) GL=build/groklab ;; *) shift || true ;; esac
STEPS=2000 REPS=3 THREADS=0
while [ $# -gt 0 ]; do
  case "$1" in
    --steps) STEPS=$2; shift 2 ;;
    --reps) REPS=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    *) echo "dynamics_overhead.sh: unknown option $1 (allowed: --steps, --reps, --threads)" >&2; exit 2 ;;
  esac
done
GL=$(readlink -f "$GL")
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
echo "CPU: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores, threads $THREADS, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "default run, $STEPS steps, log every 10, $REPS repetitions (alternating)"
variants=("plain:" "snapshots:--snapshots 40" "progress:--progress-measures on" "both:--snapshots 40 --progress-measures on")
declare -A ms
for r in $(seq 1 "$REPS"); do
  for v in "${variants[@]}"; do
    name=${v%%:*} flags=${v#*:}
    rm -rf "$T/$name"
    # shellcheck disable=SC2086
    "$GL" train --steps "$STEPS" --threads "$THREADS" $flags --out "$T/$name" --quiet >/dev/null
    ms[$name]+="$(/usr/bin/python3 -c "import json,sys; print(1000*json.load(open(sys.argv[1]))['wall_seconds']/$STEPS)" "$T/$name/summary.json") "
  done
done
median() { printf '%s\n' $1 | sort -g | awk '{a[NR]=$1} END {print (NR % 2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
base=$(median "${ms[plain]}")
printf '%-11s %10s %8s   %s\n' variant "ms/step" ratio files
for v in "${variants[@]}"; do
  name=${v%%:*}
  m=$(median "${ms[$name]}")
  files=""
  [ -d "$T/$name/snapshots" ] && files="snapshots/: $(ls "$T/$name/snapshots" | wc -l) files, $(du -sb "$T/$name/snapshots" | cut -f1) bytes ($(stat -c %s "$T/$name/snapshots/step_000000000.safetensors") each)"
  [ -f "$T/$name/progress.csv" ] && files="$files${files:+; }progress.csv: $(($(wc -l <"$T/$name/progress.csv") - 1)) rows"
  printf '%-11s %10.2f %8.3f   %s\n' "$name" "$m" "$(awk -v a="$m" -v b="$base" 'BEGIN {print a / b}')" "$files"
done
dt=""
for r in $(seq 1 "$REPS"); do
  t0=$(date +%s.%N)
  "$GL" dynamics "$T/both" --quiet >/dev/null
  dt+="$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {print b - a}') "
done
echo "groklab dynamics over $(ls "$T/both/snapshots" | wc -l) snapshots (tables and figures): $(median "$dt") s (median of $REPS)"
