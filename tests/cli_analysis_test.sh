#!/usr/bin/env bash
# The analysis commands as a user runs them (ipr, spectrum, prune, analytic,
# plot): they read a run directory and write their tables and figures into it,
# and their numbers equal numpy's recomputation from the run's safetensors
# (tests/python/check_ipr.py, check_spectrum.py, check_prune.py);
# every bad run directory or file (missing, foreign, without weights,
# truncated or malformed safetensors) and every bad option gets one line on
# stderr and exit code 2, never a crash, and leaves the files already there
# untouched.
# usage: tests/cli_analysis_test.sh GROKLAB_BINARY
set -u
GL=$(readlink -f "$1")
PY=/usr/bin/python3
GLIO=$(dirname "$(readlink -f "$0")")/python
. "$(dirname "$(readlink -f "$0")")/cli_lib.sh"
# pycheck "description" script.py args...: a recomputation in tests/python that
# prints what it compared and exits 1 on a mismatch
pycheck() {
  local what=$1 script=$2 out; shift 2
  if out=$("$PY" "$GLIO/$script" "$@" 2>&1); then ok "$what: $(echo "$out" | paste -sd ';' | sed 's/;/; /g')"
  else notok "$what: $(echo "$out" | paste -sd ';' | sed 's/;/; /g')"; fi
}

# a small finished run
"$GL" train --p 23 --width 40 --frac 0.6 --noise 0.2 --steps 60 --quiet --out run >/dev/null 2>&1 || notok "training the small run"

# ---- commands that work ----
"$GL" ipr run >ipr.txt 2>&1 && [ "$(wc -l <run/ipr.csv)" -eq 41 ] && [ -s run/ipr_hist.png ] && grep -q '"basis": "additive"' run/ipr_summary.json \
  && ok "ipr: 40 neuron rows, histogram, summary ($(head -1 ipr.txt))" || notok "ipr: $(cat ipr.txt)"
pycheck "ipr.csv and the summary's means = numpy's rfft IPR of U, V, W rows" check_ipr.py run
"$GL" ipr run --convention full --r 3 --no-plot --quiet && "$PY" -c "
import json, sys; s = json.load(open('run/ipr_summary.json')); sys.exit(0 if s['convention'] == 'full' and s['r'] == 3 else 1)" \
  && ok "ipr --convention full --r 3: the summary says convention full, r 3" || notok "ipr --convention full --r 3: $(cat run/ipr_summary.json)"
pycheck "ipr --convention full --r 3 = numpy's full-DFT IPR_3" check_ipr.py run
"$GL" spectrum run --neuron 3 --quiet && [ "$(wc -l <run/spectrum.csv)" -eq $((40 * 12 + 1)) ] && [ -s run/neuron_3.png ] && [ "$(wc -l <run/neuron_3.csv)" -eq 24 ] \
  && ok "spectrum --neuron 3: 40 x 12 frequencies, neuron figure" || notok "spectrum --neuron 3"
pycheck "spectrum.csv, neuron_3.csv, neuron_3_spectrum.csv = numpy" check_spectrum.py run 3
"$GL" prune run --seeds 3 --quiet && [ "$(wc -l <run/prune.csv)" -eq $((3 * 41 + 1)) ] && head -1 run/prune.csv | grep -q '^order,pruned,fraction,seeds,train_acc,test_acc,corrupted_acc,corrupted_true_acc,clean_acc,all_true_acc,train_loss,test_loss' \
  && [ -s run/prune.png ] && [ -s run/prune_long.png ] && ok "prune: 3 orders x 41 counts, columns, figures" || notok "prune"
pycheck "prune.csv and prune_summary.json recomputed with numpy" check_prune.py run
"$GL" prune run --order high --on train --no-plot --quiet && [ "$(wc -l <run/prune.csv)" -eq 42 ] && grep -q '^high,0,0,1,[0-9.]*,nan' run/prune.csv \
  && ok "prune --order high --on train: test columns nan" || notok "prune --order high --on train"
pycheck "prune --order high --on train recomputed with numpy" check_prune.py run --on train
# a run that generalizes, pruned at a threshold its test accuracy crosses
# twice (the accuracy at a count past a dip), so prunable > prunable_prefix
"$GL" train --p 23 --width 40 --frac 0.6 --noise 0.2 --wd 5 --steps 300 --threads 1 --quiet --out gen >/dev/null 2>&1 || notok "training the generalizing run"
"$GL" prune gen --order low --threads 1 --no-plot --quiet && thr=$("$PY" "$GLIO/check_prune.py" --pick gen) \
  && "$GL" prune gen --threshold "$thr" --seeds 2 --threads 1 --no-plot --quiet && pf=$("$PY" -c "
import json; s = json.load(open('gen/prune_summary.json')); print(s['prunable'], s['prunable_prefix'])") \
  && [ "${pf% *}" -gt "${pf#* }" ] && [ "${pf#* }" -ge 0 ] \
  && ok "prune --threshold $thr: prunable > prunable_prefix >= 0 ($pf)" || notok "prune of the generalizing run: threshold [$thr], prunable/prefix [$pf]"
pycheck "prune of the generalizing run recomputed with numpy" check_prune.py gen --threshold "$thr"
"$GL" plot run --quiet && for f in curves ipr_hist spectrum prune; do [ -s run/$f.png ] && [ -s run/$f.svg ] && [ -s run/$f.gp ] || exit 1; done \
  && ok "plot: curves, ipr_hist, spectrum, prune (png, svg, gp)" || notok "plot"
"$GL" train --task mul --p 23 --width 30 --steps 5 --quiet --out mulrun >/dev/null 2>&1
"$GL" ipr mulrun --quiet --no-plot && "$PY" -c "
import json, sys; s = json.load(open('mulrun/ipr_summary.json')); sys.exit(0 if s['basis'] == 'dlog' and s['primitive_root'] == 5 else 1)" \
  && ok "ipr of a mul run uses the discrete-log basis (primitive root 5 of 23)" || notok "ipr of a mul run"
pycheck "ipr of the mul run = numpy's IPR in the discrete-log basis" check_ipr.py mulrun
"$GL" analytic --p 23 --width 1024 --out an >an.txt 2>&1 && grep -q "accuracy over all 529 pairs 1.000000" an.txt \
  && ok "analytic p 23 N 1024: $(head -1 an.txt)" || notok "analytic: $(cat an.txt)"
"$GL" ipr an --quiet --no-plot && m=$("$PY" -c "
import json, sys; m = json.load(open('an/ipr_summary.json'))['mean_ipr']; print(m); sys.exit(0 if abs(m - 1) < 1e-6 else 1)") \
  && ok "analytic run: mean IPR $m, within 1e-6 of 1 (rfft)" || notok "analytic IPR: mean_ipr [$m], want 1 within 1e-6"
pycheck "ipr of the analytic run = numpy's" check_ipr.py an
"$GL" prune an --order low --no-plot --quiet && ok "prune accepts an analytic run" || notok "prune of an analytic run"
pycheck "prune of the analytic run recomputed with numpy" check_prune.py an
"$GL" analytic --p 23 --scan 8:256 --out scan >scan.txt 2>&1 && grep -q "smallest width reaching 100%" scan.txt && [ -s scan/scan.png ] \
  && ok "analytic --scan: $(grep smallest scan.txt)" || notok "analytic --scan: $(cat scan.txt)"

# ---- bad input: one line, exit 2, files untouched ----
snapshot() { (cd "$1" 2>/dev/null && find . -type f -exec md5sum {} + | sort) ; }
# expect_error "description" DIR_TO_WATCH "stderr substring" args...
# (replaces cli_lib.sh's: these commands must leave a directory unchanged)
expect_error() {
  local what=$1 watch=$2 want=$3; shift 3
  local before; before=$(snapshot "$watch")
  "$GL" "$@" >stdout.txt 2>stderr.txt
  local rc=$?
  local lines; lines=$(wc -l <stderr.txt)
  local after; after=$(snapshot "$watch")
  if [ $rc -eq 2 ] && grep -qF -- "$want" stderr.txt && [ "$lines" -eq 1 ] && [ "$before" = "$after" ]; then
    ok "$what: $(cat stderr.txt)"
  else
    notok "$what: rc=$rc lines=$lines stderr=[$(cat stderr.txt)] files changed: $([ "$before" = "$after" ] && echo no || echo yes)"
  fi
}
fresh() { rm -rf "$1"; cp -r run "$1"; }

expect_error "missing directory" run "nothere: no such run directory" ipr nothere
mkdir -p foreign && echo hi > foreign/notes.txt
expect_error "foreign directory" foreign "is not a groklab run directory (no config.json" prune foreign
expect_error "a file, not a directory" run "is not a directory" spectrum run/config.json
fresh noweights; rm noweights/model.safetensors
expect_error "run without weights" noweights "has no weights (model.safetensors is missing" ipr noweights
fresh trunc; head -c 300 run/model.safetensors > trunc/model.safetensors
expect_error "truncated safetensors" trunc "model.safetensors" ipr trunc
fresh hdr; $PY -c "
import struct,sys; b=open('run/model.safetensors','rb').read(); open('hdr/model.safetensors','wb').write(struct.pack('<Q', 1<<40)+b[8:])"
expect_error "header length past the end" hdr "model.safetensors" plot hdr
fresh dtype; $PY -c "
import sys; sys.path.insert(0, '$GLIO'); import glio, numpy as np
t, m = glio.load_safetensors('run/model.safetensors'); t['U'] = t['U'].astype(np.float64)
glio.save_safetensors('dtype/model.safetensors', t, m)"
expect_error "wrong dtype" dtype "tensor 'U'" ipr dtype
fresh shape; sed -i -E 's/"width":[[:space:]]*40/"width": 41/' shape/config.json
expect_error "shape that disagrees with the config" shape "tensor 'U' has shape (40, 23), but the run's config.json implies (41, 23)" ipr shape
fresh offs; $PY -c "
import json, struct
b = open('run/model.safetensors','rb').read(); n = struct.unpack('<Q', b[:8])[0]; h = json.loads(b[8:8+n])
h['W']['data_offsets'] = [h['W']['data_offsets'][0], h['W']['data_offsets'][1] + 4096]
s = json.dumps(h).encode(); s += b' ' * (-len(s) % 8)
open('offs/model.safetensors','wb').write(struct.pack('<Q', len(s)) + s + b[8+n:])"
expect_error "offsets past the end of the file" offs "model.safetensors" prune offs
fresh baddata; head -c 100 run/data.safetensors > baddata/data.safetensors
expect_error "truncated data file" baddata "data.safetensors" prune baddata
fresh badcfg; echo '{"p": 23, "width": ' > badcfg/config.json
expect_error "malformed config.json" badcfg "config.json" ipr badcfg

expect_error "unknown convention" run "--convention: 'half' is not allowed (allowed: rfft, full)" ipr run --convention half
expect_error "bad r" run "--r: '-1' is not a number" ipr run --r -1
expect_error "unknown basis" run "--basis: 'log' is not allowed (allowed: auto, additive, dlog)" ipr run --basis log
"$GL" train --p 24 --width 8 --steps 1 --quiet --out p24 >/dev/null 2>&1
expect_error "dlog basis needs a prime" p24 "discrete-log basis needs a prime modulus p >= 3 (got 24)" ipr p24 --basis dlog
expect_error "neuron out of range" run "--neuron: 40 is out of range (allowed: 0 to 39" spectrum run --neuron 40
expect_error "unknown order" run "--order: 'sideways' is not allowed (allowed: low, high, random, all)" prune run --order sideways
expect_error "zero seeds" run "--seeds: '0' is not an integer in [1, 100000]" prune run --seeds 0
expect_error "unknown evaluation set" run "--on: 'test' is not allowed (allowed: train, all)" prune run --on test
expect_error "threshold out of range" run "--threshold: '2' is not a number in [0, 1]" prune run --threshold 2
expect_error "missing run argument" run "prune: which run? (usage: groklab prune RUN" prune
expect_error "bad scan range" run "--scan: '64:8' is not LO:HI" analytic --scan 64:8 --out out
expect_error "bad analytic modulus" run "--p: '1' is out of range" analytic --p 1 --out out
expect_error "analytic into an existing run" run "already exists (use --force" analytic --p 23 --out run
expect_error "unknown figure" run "unknown figure 'fig99' (allowed: fig1, fig2, fig3a" reproduce fig99
expect_error "widths only for fig32" run "unknown option '--widths' for fig6" reproduce fig6 --widths 500
expect_error "bad widths" run "--widths: '500,x'" reproduce fig32 --widths 500,x

echo "cli analysis: $passes passed, $fails failed"
[ $fails -eq 0 ]
