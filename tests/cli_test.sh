#!/usr/bin/env bash
# groklab CLI as a user runs it: every bad input gets one clear line and exit
# code 2 and writes nothing; resumed, re-threaded and re-configured runs are
# bit-identical to uninterrupted ones.
# usage: tests/cli_test.sh GROKLAB_BINARY
set -u
GL=$(readlink -f "$1")
. "$(dirname "$(readlink -f "$0")")/cli_lib.sh"

expect_error "unknown flag" "unknown option '--bogus'" train --bogus 1 --out out
expect_error "missing value" "--p: missing value" train --out out --p
expect_error "malformed integer" "--p: 'abc' is not an integer" train --p abc --out out
expect_error "malformed number" "--frac: '0.5x' is not a number" train --frac 0.5x --out out
expect_error "out-of-range fraction" "--frac: '1.5' is out of range" train --frac 1.5 --out out
expect_error "out-of-range modulus" "--p: '1' is out of range" train --p 1 --out out
expect_error "negative weight decay" "--wd: '-1' is out of range" train --wd -1 --out out
expect_error "dropout of 1" "--dropout: '1' is out of range" train --dropout 1 --out out
expect_error "unknown activation" "allowed: quadratic|relu|gelu|identity" train --act tanh --out out
expect_error "unknown task" "--task: 'pow' is not a task (allowed: add, sub" train --task pow --out out
expect_error "division needs a prime" "needs a prime modulus" train --task div --p 96 --out out
expect_error "batch larger than the data" "--batch: 5000 is larger than the training set" train --batch 5000 --out out
expect_error "too large for memory" "lower --p, --width, --frac or --batch" train --p 4096 --width 1000000 --out out
expect_error "unknown device" "--device: 'tpu' is not a backend (allowed: cpu, cuda)" train --device tpu --out out
expect_error "stray argument" "unexpected argument 'foo'" train foo
expect_error "unknown command" "unknown command 'trian'" trian
expect_error "unwritable directory" "cannot create directory /proc/groklab" train --steps 1 --out /proc/groklab/x
printf '{"p": 97, "frac": ' > bad.json
expect_error "malformed config file" "--config: bad.json: malformed JSON" train --config bad.json --out out
printf '{"p": 97, "learning_rate": 0.1}' > unknown.json
expect_error "unknown key in config" "unknown key 'learning_rate'" train --config unknown.json --out out
printf '{"p": 97, "frac": 2}' > range.json
expect_error "out-of-range value in config" "--frac: '2' is out of range" train --config range.json --out out
expect_error "missing config file" "--config: cannot read nothere.json" train --config nothere.json --out out
expect_error "resume of a non-run" "--resume: nothere is not a run directory" train --resume nothere

# an existing run directory is never overwritten without --force
mkdir -p keep && echo precious > keep/metrics.csv
"$GL" train --steps 1 --out keep >/dev/null 2>stderr.txt
rc=$?
if [ $rc -eq 2 ] && grep -q "already exists (use --force" stderr.txt && [ "$(cat keep/metrics.csv)" = precious ] && [ "$(ls keep)" = metrics.csv ]; then
  ok "existing directory kept: $(cat stderr.txt)"
else
  notok "existing directory: rc=$rc $(cat stderr.txt); contents: $(ls keep)"
fi

# small but complete runs: minibatches, dropout and BatchNorm exercise every random stream
small=(--p 31 --width 64 --frac 0.6 --noise 0.2 --batch 100 --dropout 0.2 --norm batchnorm --quiet)
"$GL" train "${small[@]}" --steps 40 --checkpoint-every 20 --log-every 5 --threads 1 --out A >/dev/null || notok "run A failed"
"$GL" train "${small[@]}" --steps 40 --checkpoint-every 20 --log-every 5 --threads 2 --out B >/dev/null || notok "run B failed"
if cmp -s A/model.safetensors B/model.safetensors && cmp -s A/metrics.csv B/metrics.csv; then
  ok "1 and 2 threads give bit-identical weights and metrics"
else
  notok "thread count changed the results"
fi
# the fused step (every norm but BatchNorm), several chunks and lanes: the default
# full-batch model, and minibatches with dropout, LayerNorm and cross-entropy
fused_a=(--p 31 --width 64 --frac 0.9 --steps 20 --log-every 5 --quiet)
fused_b=(--p 31 --width 64 --frac 0.9 --batch 700 --dropout 0.1 --norm layernorm --loss ce --steps 20 --log-every 5 --quiet)
for v in a b; do
  declare -n args="fused_$v"
  "$GL" train "${args[@]}" --threads 1 --out "F${v}1" >/dev/null || notok "run F${v}1 failed"
  "$GL" train "${args[@]}" --threads 2 --out "F${v}2" >/dev/null || notok "run F${v}2 failed"
  if cmp -s "F${v}1/model.safetensors" "F${v}2/model.safetensors" && cmp -s "F${v}1/metrics.csv" "F${v}2/metrics.csv"; then
    ok "fused step ($v): 1 and 2 threads give bit-identical weights and metrics"
  else
    notok "fused step ($v): thread count changed the results"
  fi
  unset -n args
done
for f in config.json metrics.csv summary.json init.safetensors model.safetensors data.safetensors checkpoint.safetensors; do
  [ -s "A/$f" ] || notok "run directory lacks $f"
done
[ -z "$(ls A | grep tmp)" ] && ok "no temporary files left in the run directory" || notok "temporary files left: $(ls A)"

# resume: 20 steps, then continue to 40 == 40 steps straight
"$GL" train "${small[@]}" --steps 20 --checkpoint-every 20 --log-every 5 --out C >/dev/null || notok "run C failed"
"$GL" train --resume C --steps 40 --quiet >/dev/null 2>stderr.txt || notok "resume failed: $(cat stderr.txt)"
if cmp -s A/model.safetensors C/model.safetensors && cmp -s A/metrics.csv C/metrics.csv; then
  ok "resumed run is bit-identical to the uninterrupted one"
else
  notok "resumed run differs from the uninterrupted one"
fi
expect_error "resume cannot change the run" "--wd cannot change when resuming" train --resume C --wd 5
# the same with the training methods' state in the checkpoint (GrokFast's
# EMA, and its MA window, full before step 20), warmup and clipping
for m in "ema --grokfast-alpha 0.9 --clip 0.5 --warmup 30 --wd-toward init" \
         "ma --grokfast-window 7 --weight-norm 1 --wd-groups matrices"; do
  read -r -a margs <<< "--grokfast $m"
  rm -rf GA GC
  "$GL" train "${small[@]}" "${margs[@]}" --steps 40 --log-every 5 --out GA >/dev/null || notok "run GA ($m) failed"
  "$GL" train "${small[@]}" "${margs[@]}" --steps 20 --checkpoint-every 20 --log-every 5 --out GC >/dev/null \
    || notok "run GC ($m) failed"
  "$GL" train --resume GC --steps 40 --quiet >/dev/null 2>stderr.txt || notok "resume ($m) failed: $(cat stderr.txt)"
  if cmp -s GA/model.safetensors GC/model.safetensors && cmp -s GA/metrics.csv GC/metrics.csv; then
    ok "resumed run with --grokfast $m is bit-identical to the uninterrupted one"
  else
    notok "resumed run with --grokfast $m differs from the uninterrupted one"
  fi
done
"$GL" train "${small[@]}" --lr-decay cosine --steps 20 --out GD >/dev/null || notok "run GD failed"
expect_error "a decaying schedule keeps its steps on resume" \
  "--steps cannot change when resuming a run with lr_decay cosine" train --resume GD --steps 40
expect_error "--trainable norm needs a norm" "--trainable norm: the model has no norm to train" train --trainable norm --steps 1

# --config replays a run; flags override it
"$GL" train --config A/config.json --out D --quiet >/dev/null || notok "run D failed"
cmp -s A/model.safetensors D/model.safetensors && ok "--config reproduces the run bit for bit" || notok "--config run differs"
"$GL" train --config A/config.json --wd 3 --steps 2 --out E --quiet >/dev/null || notok "run E failed"
diff=$(/usr/bin/python3 -c "
import json, sys
a, e = (json.load(open(d + '/config.json')) for d in ('A', 'E'))
diff = sorted(k for k in set(a) | set(e) if a.get(k) != e.get(k))
print(' '.join(diff), 'wd', e.get('wd'), 'steps', e.get('steps'), 'batch', e.get('batch'))
sys.exit(0 if diff == ['steps', 'wd'] and e['wd'] == 3 and e['steps'] == 2 and e['batch'] == 100 else 1)") \
  && ok "flags override a config file and keep its other knobs (E differs from A in: $diff)" || notok "config override: differs in [$diff]: $(cat E/config.json)"

# no flags but a short run: a fresh directory under runs/
"$GL" train --steps 3 --quiet >/dev/null && ls runs | grep -q '^train-' && ok "default output under runs/: $(ls runs)" || notok "default run directory"

# divergence is recorded with its step
"$GL" train --p 31 --width 64 --optim sgd --lr 1000 --steps 50 --out F --quiet >/dev/null
python3 - F <<'PY' && ok "divergence recorded in summary.json" || notok "divergence not recorded"
import json, sys
s = json.load(open(sys.argv[1] + "/summary.json"))
assert s["diverged_at"] is not None and s["diverged_at"] <= 50, s
PY

# summary.json: the stable keys
python3 - A <<'PY' && ok "summary.json has every documented key" || notok "summary.json keys"
import json, sys
s = json.load(open(sys.argv[1] + "/summary.json"))
keys = ["phase", "train_acc", "test_acc", "corrupted_acc", "corrupted_true_acc", "clean_acc",
        "train_loss", "test_loss", "mean_ipr", "steps", "diverged_at", "milestones", "wall_seconds"]
missing = [k for k in keys if k not in s]
assert not missing, missing
assert s["phase"] in ["coexistence", "partial_inversion", "full_inversion", "memorization", "forgetting", "confusion"]
assert set(s["milestones"]) == {"train_acc_90", "test_acc_90", "unlearned"}
PY

# the default logging schedule: about 200 rows whatever --steps is (1000 steps: every 5th)
"$GL" train --p 23 --width 32 --steps 1000 --out L --quiet >/dev/null || notok "run L failed"
python3 - L <<'PY' && ok "default schedule: 1000 steps log every 5th step (201 rows)" || notok "default logging schedule"
import csv, sys
steps = [int(r["step"]) for r in csv.DictReader(open(sys.argv[1] + "/metrics.csv"))]
assert steps == list(range(0, 1001, 5)), steps[:5]
PY

# bench: the evaluation line and the batch table (figures not checked: a benchmark)
expect_error "bench: bad batch list" "--batches: '8,x' is not off or a comma list of batch sizes" bench --batches 8,x
expect_error "bench: batch table of another family" "the batch table is the two-layer MLP's" bench --model transformer --batches 8
"$GL" bench --p 23 --width 32 --steps 3 --torch off --pop 1 --pop-steps 2 --threads 1 --batches 8,0 >bench.txt 2>&1 \
  && grep -Eq '^ +8 +1 +[0-9.]+' bench.txt && grep -Eq '^ +full +1 +[0-9.]+' bench.txt \
  && grep -q 'a run of 2000 steps logging as configured (201 evaluations)' bench.txt \
  && ok "bench prints the evaluation's share and the batch table" || notok "bench --batches: $(cat bench.txt)"

echo "cli: $passes passed, $fails failed"
exit $((fails > 0))
