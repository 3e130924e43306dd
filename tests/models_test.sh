#!/usr/bin/env bash
# The deep MLP and the Transformer as a user runs them: training, resuming
# and threads give bit-identical results, groklab ipr on their runs, sweeps
# over them, and every bad combination gets one clear line and exit code 2.
# usage: tests/models_test.sh GROKLAB_BINARY
set -u
GL=$(readlink -f "$1")
. "$(dirname "$(readlink -f "$0")")/cli_lib.sh"

expect_error "unknown model" "--model: 'cnn' is not allowed (allowed: mlp|deep-mlp|transformer)" train --model cnn --out out
expect_error "heads must divide the embedding" "--heads: 3 does not divide --embed 16" train --model transformer --embed 16 --heads 3 --out out
expect_error "no BatchNorm in the Transformer" "the transformer takes layernorm or none" train --model transformer --norm batchnorm --out out
expect_error "the two-layer MLP has no depth" "the mlp model has 2 layers" train --depth 3 --out out
expect_error "deep MLP too shallow" "2 to 16 weight layers (got 1)" train --model deep-mlp --depth 1 --out out
expect_error "deep MLP too deep" "2 to 16 weight layers (got 17)" train --model deep-mlp --depth 17 --out out
expect_error "unknown parametrization" "--param: 'mup' is not allowed (allowed: standard|lazy)" train --model deep-mlp --param mup --out out
expect_error "tie is 0 or 1" "--tie: '2' is out of range" train --model transformer --tie 2 --out out

tf=(--model transformer --p 13 --frac 0.6 --noise 0.2 --embed 16 --heads 2 --lr 0.003 --wd 1 --quiet)
deep=(--model deep-mlp --p 13 --frac 0.6 --noise 0.2 --width 24 --depth 3 --norm batchnorm --batch 24 --lr 0.003 --quiet)
for fam in tf deep; do
  declare -n args=$fam
  "$GL" train "${args[@]}" --steps 30 --log-every 5 --checkpoint-every 10 --threads 1 --out "${fam}A" >/dev/null || notok "$fam run A failed"
  "$GL" train "${args[@]}" --steps 30 --log-every 5 --checkpoint-every 10 --threads 2 --out "${fam}B" >/dev/null || notok "$fam run B failed"
  if cmp -s "${fam}A/model.safetensors" "${fam}B/model.safetensors" && cmp -s "${fam}A/metrics.csv" "${fam}B/metrics.csv"; then
    ok "$fam: 1 and 2 threads give bit-identical weights and metrics"
  else
    notok "$fam: 1 and 2 threads differ"
  fi
  "$GL" train "${args[@]}" --steps 10 --log-every 5 --checkpoint-every 10 --out "${fam}C" >/dev/null || notok "$fam run C failed"
  "$GL" train --resume "${fam}C" --steps 30 --quiet >/dev/null 2>stderr.txt || notok "$fam resume failed: $(cat stderr.txt)"
  if cmp -s "${fam}A/model.safetensors" "${fam}C/model.safetensors" && cmp -s "${fam}A/metrics.csv" "${fam}C/metrics.csv"; then
    ok "$fam: the resumed run is bit-identical to the uninterrupted one"
  else
    notok "$fam: the resumed run differs"
  fi
  "$GL" train --config "${fam}A/config.json" --out "${fam}D" >/dev/null 2>&1
  cmp -s "${fam}A/model.safetensors" "${fam}D/model.safetensors" && ok "$fam: --config reproduces the run" || notok "$fam: --config run differs"
  grep -q '"act":	"relu"' "${fam}A/config.json" && ok "$fam: config.json records the resolved activation (relu)" || notok "$fam: act not resolved in config.json"

  "$GL" ipr "${fam}A" >ipr.txt 2>&1 || notok "$fam: groklab ipr failed: $(cat ipr.txt)"
  rows=$(($(wc -l <"${fam}A/ipr.csv") - 1))
  want=$([ $fam = tf ] && echo 16 || echo 24)
  if [ "$rows" -eq "$want" ] && head -1 "${fam}A/ipr.csv" | grep -q '^unit,ipr_in,ipr_out,ipr_in_init,ipr_out_init,gain_in,gain_out$' && [ -s "${fam}A/ipr_hist.png" ] && [ -s "${fam}A/ipr_hist_out.png" ]; then
    ok "$fam: groklab ipr writes $rows units and both histograms"
  else
    notok "$fam: groklab ipr output: $rows rows (want $want); $(cat ipr.txt)"
  fi
  # the summary's mean equals the logged mean_ipr of the last step
  last=$(tail -1 "${fam}A/metrics.csv" | awk -F, '{print $12}')
  mean=$(/usr/bin/python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['mean_ipr'])" "${fam}A/ipr_summary.json")
  /usr/bin/python3 -c "import sys; a,b=map(float,sys.argv[1:]); sys.exit(abs(a-b)>1e-7)" "$last" "$mean" \
    && ok "$fam: ipr_summary.json mean $mean = metrics.csv mean_ipr $last" || notok "$fam: ipr mean $mean vs metrics $last"
  expect_error "$fam: spectrum is for the two-layer MLP" "built for --model mlp" spectrum "${fam}A"
  expect_error "$fam: pruning is for the two-layer MLP" "pruning is built for --model mlp" prune "${fam}A"
done
# the summary's correlations recomputed with numpy from ipr.csv's columns
# (Pearson; Spearman = Pearson of the ranks, ties averaged), to 1e-6
corr=$(/usr/bin/python3 - deepA <<'PY'
import csv, json, sys
import numpy as np
d = sys.argv[1]
rows = list(csv.DictReader(open(d + "/ipr.csv")))
s = json.load(open(d + "/ipr_summary.json"))
def ranks(x):
    o = np.argsort(x, kind="stable")
    r, i = np.empty(len(x)), 0
    while i < len(x):
        j = i
        while j + 1 < len(x) and x[o[j + 1]] == x[o[i]]:
            j += 1
        r[o[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return r
bad, out = 0, []
for l in ("in", "out"):
    a = np.array([float(r["ipr_" + l]) for r in rows])
    g = np.abs(np.array([float(r["gain_" + l]) for r in rows]))
    for kind, want in (("pearson", np.corrcoef(a, g)[0, 1]), ("spearman", np.corrcoef(ranks(a), ranks(g))[0, 1])):
        got = s.get("ipr_%s_gain_%s" % (l, kind))
        bad += not (isinstance(got, float) and abs(got - want) < 1e-6)
        out.append("%s %s %s (numpy %.6f)" % (l, kind, got, want))
print(", ".join(out))
sys.exit(1 if bad else 0)
PY
) && ok "deep MLP with BatchNorm: IPR against the adjacent gains = numpy: $corr" || notok "deep: gain correlations in ipr_summary.json: $corr"

# a shape that disagrees with config.json is refused by name
cp -r tfA tfbad && sed -i 's/"embed":	16/"embed":	32/; s/"heads":	2/"heads":	4/' tfbad/config.json
expect_error "weights that disagree with config.json" "implies (13, 32)" ipr tfbad

# a sweep over both families, weights kept
"$GL" sweep --out sw --model transformer,deep-mlp --p 13 --embed 16 --heads 2 --width 24 --frac 0.6 --steps 20 --keep-weights --quiet >sweep.txt 2>&1 \
  || notok "sweep over the families failed: $(cat sweep.txt)"
q() { /usr/bin/python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute(sys.argv[2]).fetchone()[0])" sw/sweep.db "$1"; }
n=$(q "SELECT count(*) FROM runs WHERE status = 'done'")
nu=$(q "SELECT count(*) FROM neurons")
nw=$(q "SELECT count(*) FROM weights")
if [ "$n" = 2 ] && [ "$nu" = $((16 + 24)) ] && [ "$nw" = 3 ]; then
  ok "sweep: both families done, per-unit IPR of both ($nu rows), U/V/W of the deep MLP"
else
  notok "sweep: done $n, neurons $nu, weights $nw"
fi

echo "$passes passed, $fails failed"
[ $fails -eq 0 ]
