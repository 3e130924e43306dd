#!/usr/bin/env bash
# Weights over time and what they show: --snapshots and --progress-measures
# as a user runs them. The snapshots' steps, the last one equal to
# model.safetensors; examples.csv and the progress measures recomputed from
# the snapshots and the saved data with numpy (tests/python/check_dynamics.py);
# groklab dynamics' tables, the logged progress rows equal to the ones it
# computes from the snapshots; RUN@STEP for the analysis commands; the
# a sweep whose runs keep snapshots; the refusal of tasks without a Fourier
# solution. Snapshots and progress measures of --device cuda runs:
# tests/gpu_cli_test.sh.
# usage: tests/dynamics_test.sh GROKLAB_BINARY
set -u
GL=$(readlink -f "$1")
PY=/usr/bin/python3
HERE=$(dirname "$(readlink -f "$0")")
. "$HERE/cli_lib.sh"

# every logged step has a snapshot: logging only at the ends besides them
base=(train --p 23 --width 64 --frac 0.6 --noise 0.2 --wd 8 --steps 600 --log-every 100000 --snapshots 12 --threads 1 --quiet)
"$GL" "${base[@]}" --progress-measures on --out A >/dev/null 2>err.txt || notok "train --snapshots failed: $(cat err.txt)"
n=$(ls A/snapshots | wc -l)
[ "$n" -ge 12 ] && [ -s A/snapshots/step_000000000.safetensors ] && [ -s A/snapshots/step_000000600.safetensors ] \
  && ok "--snapshots 12: $n snapshots (step 0, the log-spaced steps, the milestones, the last)" \
  || notok "--snapshots 12: $n snapshots: $(ls A/snapshots | tr '\n' ' ')"
rows=$(($(wc -l <A/metrics.csv) - 1))
[ "$rows" -eq "$n" ] && ok "every snapshot step is a logged step ($rows rows)" || notok "$rows rows for $n snapshots"
cmp -s A/snapshots/step_000000600.safetensors A/model.safetensors \
  && ok "the snapshot at the last step is model.safetensors, byte for byte" || notok "last snapshot differs from model.safetensors"
[ "$(head -1 A/metrics.csv | cut -d, -f13-)" = "ipr_u,ipr_v,ipr_w,grad_norm,gamma_mean,gamma_std" ] \
  && ok "metrics.csv's new columns after the old ones" || notok "metrics.csv header: $(head -1 A/metrics.csv)"
[ "$(($(wc -l <A/progress.csv) - 1))" -eq "$rows" ] && ok "progress.csv: one row per logged step" \
  || notok "progress.csv has $(wc -l <A/progress.csv) lines for $rows rows"

"$GL" dynamics A --quiet >/dev/null 2>err.txt || notok "dynamics failed: $(cat err.txt)"
for f in progress.csv progress_snapshots.csv key_power.csv neuron_ipr.csv neuron_power.csv carriers.csv \
  dynamics_summary.json dynamics_accuracy.png dynamics_times.png dynamics_ipr.png dynamics_power.png; do
  [ -s "A/dynamics/$f" ] || notok "dynamics wrote no A/dynamics/$f"
done
# the rows logged while training = the ones computed from the snapshots afterwards
if cmp -s A/progress.csv A/dynamics/progress_snapshots.csv; then
  ok "progress.csv logged while training = the dynamics' rows from the snapshots, byte for byte"
else notok "logged progress rows differ from the snapshots' ($(diff A/progress.csv A/dynamics/progress_snapshots.csv | head -3))"; fi
if out=$("$PY" "$HERE/python/check_dynamics.py" A 2>&1); then
  ok "examples.csv, the last snapshot and the progress measures = numpy's recomputation:"
  echo "$out" | sed 's/^/        /'
else notok "check_dynamics.py: $(echo "$out" | tr '\n' ';')"; fi

# RUN@STEP: the snapshot nearest to STEP, analyzed into RUN/at_STEP
"$GL" ipr A@590 --quiet --no-plot >/dev/null 2>err.txt || notok "ipr A@590 failed: $(cat err.txt)"
"$GL" ipr A --quiet --no-plot >/dev/null 2>err.txt || notok "ipr A failed: $(cat err.txt)"
cmp -s A/at_600/ipr.csv A/ipr.csv && ok "ipr A@590 = the snapshot of step 600 = ipr A (A/at_600/ipr.csv)" \
  || notok "ipr A@590 vs ipr A: $(ls A/at_600 2>&1)"
s=$(ls A/snapshots | sed -n 6p | sed 's/step_0*\([0-9]\)/\1/; s/.safetensors//')
"$GL" prune A@"$s" --order low --no-plot --quiet >/dev/null 2>err.txt && [ -s "A/at_$s/prune.csv" ] \
  && ok "prune A@$s writes A/at_$s/prune.csv" || notok "prune A@$s: $(cat err.txt)"
"$GL" dynamics A@"$s" --quiet --no-plot >/dev/null 2>err.txt && [ "$(($(wc -l <"A/at_$s/dynamics/progress.csv") - 1))" -eq 1 ] \
  && ok "dynamics A@$s: one snapshot, into A/at_$s/dynamics" || notok "dynamics A@$s: $(cat err.txt)"
"$GL" train --p 23 --width 16 --steps 20 --quiet --out B >/dev/null
expect_error "RUN@STEP of a run without snapshots" "has no snapshots (train it with --snapshots K" ipr B@10

# refusals, one line each
expect_error "--progress-measures for sq_sum" "allowed tasks: add, sub, mul, div" \
  train --task sq_sum --progress-measures on --out out

# a sweep with snapshots and progress measures: each run also trains into
# DIR/runs/ID, and the store's row is that directory's summary
"$GL" sweep --out sw --p 23 --width 32 --frac 0.6 --noise 0.2 --steps 300 --snapshots 4 --progress-measures on \
  --wd 0,5 --threads 2 --quiet >/dev/null 2>err.txt || notok "sweep --snapshots failed: $(cat err.txt)"
if out=$("$PY" "$HERE/python/check_sweep_runs.py" sw 2 2>&1); then
  ok "sweep --snapshots 4 --progress-measures on: each store row = DIR/runs/ID's config, summary and examples:"
  echo "$out" | sed 's/^/        /'
else notok "sweep with snapshots: $(echo "$out" | tr '\n' ';')"; fi
"$GL" dynamics sw/runs/2 --quiet --no-plot >/dev/null 2>err.txt && [ -s sw/runs/2/dynamics/progress_snapshots.csv ] \
  && ok "dynamics sw/runs/2: a sweep's run is analyzed like any run" || notok "dynamics sw/runs/2: $(cat err.txt)"

echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
