#!/usr/bin/env bash
# --device cuda as a user runs it. Without a GPU the backend runs on its host
# emulator (GROKLAB_GPU_EMULATE=strict: the same population code, kernel bodies
# and cuBLAS arguments, on the CPU), which checks every entry point: train,
# resume, sweep packing, snapshots, reproduce and bench, against the CPU backend. And
# the errors: a family the GPU backend does not train, and (really, without
# emulation) a machine without a GPU (cli_test.sh checks an unknown device).
# usage: tests/gpu_cli_test.sh GROKLAB_BINARY
set -u
GL=$(readlink -f "$1")
. "$(dirname "$(readlink -f "$0")")/cli_lib.sh"

# a machine with a GPU (nvidia-smi lists one) must find it: under the
# sanitizer, or with a broken driver, CUDA can fail to start and the backend
# would then quietly report "no GPU"
has_gpu=0
command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L 2>/dev/null | grep -q "^GPU " && has_gpu=1
if GROKLAB_GPU_EMULATE=0 "$GL" train --device cuda --steps 1 --quiet --out probe >/dev/null 2>probe.txt; then
  echo "(a GPU is present: the no-GPU error is not checked)"
  rm -rf probe
elif [ "$has_gpu" = 1 ]; then
  notok "nvidia-smi lists a GPU but --device cuda found none: $(cat probe.txt)"
else
  expect_error "no GPU (or no CUDA backend) is one clear line" "--device cuda:" train --device cuda --out out
fi
export GROKLAB_GPU_EMULATE=strict
expect_error "the GPU backend trains the two-layer MLP" "the CUDA backend trains the two-layer MLP (--model mlp)" \
  train --device cuda --model transformer --out out

# train: the same run on both backends, logged every 10 steps for 100
base=(--p 23 --width 48 --frac 0.5 --noise 0.2 --wd 1 --steps 100 --log-every 10 --quiet)
"$GL" train "${base[@]}" --out cpu >/dev/null || notok "cpu run failed"
"$GL" train "${base[@]}" --device cuda --out gpu >/dev/null 2>err.txt || notok "cuda run failed: $(cat err.txt)"
# The first 12 columns are the GPU's (ipr_u .. gamma_std are the CPU's).
# Losses, norms and the mean IPR: within 2e-4 relative. Accuracies as counts
# of examples: a real GPU's cuBLAS sums in another order than the CPU (and
# than the emulator), so an example whose two top outputs nearly tie can
# flip; one flip among 264 training examples is 3.8e-3 of accuracy. So
# each accuracy may differ by at most 2 examples of its set (train, test,
# corrupted, clean; sizes from summary.json), as test_gpu.c allows.
size() { grep "\"$1\":" "$2/summary.json" | tr -dc '0-9'; }
ntr=$(size n_train cpu); nte=$(size n_test cpu); nco=$(size n_corrupted cpu)
# differ CPU GPU: "worst flips" over every logged row of the two runs
differ() {
  paste -d, "$1/metrics.csv" "$2/metrics.csv" | awk -F, -v ntr="$ntr" -v nte="$nte" -v nco="$nco" '
  BEGIN { n_of[4] = ntr; n_of[5] = nte; n_of[6] = nco; n_of[7] = nco; n_of[8] = ntr - nco }
  NR > 1 {
  n = NF / 2
  for (i = 2; i <= 12; i++) { a = $i; b = $(i + n); if (a == "nan" && b == "nan") continue
    d = a - b; if (d < 0) d = -d
    if (i in n_of) { c = d * n_of[i]; if (c > f) f = c; continue }
    s = (a < 0 ? -a : a); if (s < 1e-3) s = 1e-3; if (d / s > w) w = d / s } }
  END { printf "%.2e %.2f\n", w, f }'
}
read -r worst flips < <(differ cpu gpu)
if [ -n "$ntr" ] && [ -n "$nco" ] && awk -v w="$worst" -v f="$flips" 'BEGIN { exit !(w <= 2e-4 && f <= 2.01) }'; then
  ok "train --device cuda: losses, norms and IPR within 2e-4 of the CPU's over 100 steps (worst $worst), accuracies within $flips examples (at most 2)"
else
  notok "train --device cuda differs from the CPU: worst relative difference $worst (at most 2e-4), accuracies by $flips examples (at most 2; sizes $ntr/$nte/$nco)"
fi
grep -q '"device":	"cuda"' gpu/config.json && ok "config.json records device cuda" || notok "config.json lacks device cuda"
for f in model.safetensors init.safetensors data.safetensors checkpoint.safetensors examples.csv; do
  [ -s "gpu/$f" ] || notok "cuda run lacks $f"
done
# examples.csv: each training example's story, as the CPU's; an example
# whose prediction flips at a near-tie (above) has another, so at most 2 differ
if [ -s gpu/examples.csv ]; then
  nd=$(paste -d'|' cpu/examples.csv gpu/examples.csv | awk -F'|' '$1 != $2' | wc -l)
  [ "$(wc -l < gpu/examples.csv)" = "$(wc -l < cpu/examples.csv)" ] && [ "$nd" -le 2 ] \
    && ok "examples.csv of the cuda run: $nd of $ntr examples' stories differ from the CPU's (at most 2)" \
    || notok "examples.csv of the cuda run: $nd lines differ from the CPU's (at most 2)"
fi

# resume on the GPU: bit-identical to the uninterrupted GPU run
"$GL" train "${base[@]}" --device cuda --steps 40 --checkpoint-every 20 --out part >/dev/null
"$GL" train --resume part --steps 100 --quiet >/dev/null 2>err.txt || notok "resume failed: $(cat err.txt)"
if cmp -s part/model.safetensors gpu/model.safetensors && cmp -s part/metrics.csv gpu/metrics.csv; then
  ok "--resume on the GPU is bit-identical to the uninterrupted GPU run"
else
  notok "--resume on the GPU differs from the uninterrupted run"
fi
# a CPU run resumed on the GPU finishes, on the same trajectory
"$GL" train "${base[@]}" --steps 40 --out mixed >/dev/null
"$GL" train --resume mixed --steps 100 --device cuda --quiet >/dev/null 2>err.txt || notok "resume on cuda failed: $(cat err.txt)"
# (accuracies as example counts, within 2, for the reason above)
d=$(paste -d, <(tail -1 cpu/metrics.csv) <(tail -1 mixed/metrics.csv) | awk -F, -v ntr="$ntr" -v nte="$nte" '{
  n = NF / 2; a = $4 - $(n + 4); b = $5 - $(n + 5); a = (a < 0 ? -a : a) * ntr; b = (b < 0 ? -b : b) * nte
  printf "%.2f", (a > b ? a : b) }')
[ -n "$d" ] && awk -v d="$d" 'BEGIN { exit !(d <= 2.01) }' && ok "a CPU run resumed with --device cuda ends with the CPU's accuracies (within $d examples, at most 2)" \
  || notok "CPU run resumed on cuda: final accuracies differ from the CPU's by $d examples"

# the training methods on the GPU: GrokFast's MA filter (7 gradients, in the
# checkpoint), decay toward theta_0, the weight-norm constraint, warmup and
# clipping, against the CPU; resumed and in stretches of 20 steps (the
# filter leaves the device and comes back), bit-identical to the
# uninterrupted GPU run
meth=(--grokfast ma --grokfast-window 7 --wd-toward init --weight-norm 1.2 --warmup 10 --clip 1)
"$GL" train "${base[@]}" "${meth[@]}" --out mcpu >/dev/null 2>&1 || notok "cpu run with the methods failed"
"$GL" train "${base[@]}" "${meth[@]}" --device cuda --out mgpu >/dev/null 2>err.txt || notok "cuda run with the methods failed: $(cat err.txt)"
read -r worst flips < <(differ mcpu mgpu)
awk -v w="$worst" -v f="$flips" 'BEGIN { exit !(w <= 2e-4 && f <= 2.01) }' \
  && ok "train --device cuda ${meth[*]}: within $worst of the CPU's losses and norms, accuracies within $flips examples" \
  || notok "the methods on cuda differ from the CPU: worst relative $worst (at most 2e-4), accuracies by $flips examples (at most 2)"
"$GL" train "${base[@]}" "${meth[@]}" --device cuda --steps 40 --checkpoint-every 20 --out mpart >/dev/null
"$GL" train --resume mpart --steps 100 --quiet >/dev/null 2>err.txt || notok "resume with the methods failed: $(cat err.txt)"
cmp -s mpart/model.safetensors mgpu/model.safetensors && cmp -s mpart/metrics.csv mgpu/metrics.csv \
  && ok "--resume of a GrokFast run on the GPU, in stretches of 20 steps: bit-identical to the uninterrupted one" \
  || notok "--resume with GrokFast on the GPU differs from the uninterrupted run"

# sweep: the grid in populations; the phases of the CPU's sweep
grid=(--p 23 --width 32 --steps 200 --log-every 50 --frac 0.3,0.5,0.7 --noise 0,0.2 --wd 0,1 --quiet)
"$GL" sweep --out sc "${grid[@]}" >/dev/null 2>&1 || notok "cpu sweep failed"
"$GL" sweep --out sg --device cuda "${grid[@]}" >/dev/null 2>err.txt || notok "cuda sweep failed: $(cat err.txt)"
q="select group_concat(phase, ' ') from (select phase from runs order by id)"
pc=$(sqlite3 sc/sweep.db "$q"); pg=$(sqlite3 sg/sweep.db "$q")
done_g=$(sqlite3 sg/sweep.db "select count(*) from runs where status = 'done'")
[ "$done_g" = 12 ] && ok "sweep --device cuda: 12 runs done" || notok "sweep --device cuda: $done_g of 12 done"
[ -n "$pc" ] && [ "$pc" = "$pg" ] && ok "sweep --device cuda: the CPU sweep's phases, run by run" \
  || notok "sweep phases differ: cpu [$pc] cuda [$pg]"
# the story columns: corrupted examples memorized and unlearned, and when
# (medians), run by run; a near-tie flip moves a count by one at the most
q="select id, memorized, unlearned_examples, mem_median, unlearn_median from runs order by id"
sqlite3 -csv sc/sweep.db "$q" > story_c.csv; sqlite3 -csv sg/sweep.db "$q" > story_g.csv
sd=$(paste -d, story_c.csv story_g.csv | awk -F, '{ for (j = 2; j <= 3; j++) { d = $j - $(j + 5); if (d < 0) d = -d; if (d > w) w = d }
  if ($2 == "" || $7 == "") w = 99 } END { print w + 0 }')
[ "$(wc -l < story_g.csv)" = 12 ] && [ "$sd" -le 1 ] \
  && ok "sweep --device cuda: the story columns (memorized, unlearned_examples) within $sd of the CPU's" \
  || notok "sweep --device cuda: story columns differ by $sd: cpu [$(tr '\n' ' ' < story_c.csv)] cuda [$(tr '\n' ' ' < story_g.csv)]"
workers=$(sqlite3 sg/sweep.db "select count(distinct worker) from runs where worker like '%:gpu'")
[ "$workers" = 1 ] && ok "sweep --device cuda: one GPU worker trained every run" || notok "GPU workers: $workers"

# snapshots and progress measures: the weights at the log-spaced steps and
# the milestones, as on the CPU, every logged step with one; the progress
# rows logged while training (from the weights that came back, on the host)
# = groklab dynamics' from the snapshots; numpy's recomputation of the
# story and progress measures from them (tests/python/check_dynamics.py,
# as dynamics_test.sh does for the CPU's)
snap=(train --p 23 --width 64 --frac 0.6 --noise 0.2 --wd 8 --steps 600 --log-every 100000 --snapshots 12
      --progress-measures on --quiet)
"$GL" "${snap[@]}" --out snc >/dev/null 2>&1 || notok "cpu run with snapshots failed"
"$GL" "${snap[@]}" --device cuda --out sng >/dev/null 2>err.txt || notok "cuda run with --snapshots failed: $(cat err.txt)"
n=$(ls sng/snapshots 2>/dev/null | wc -l); rows=$(($(wc -l < sng/metrics.csv) - 1))
[ "$n" -ge 12 ] && [ "$rows" = "$n" ] && [ -s sng/snapshots/step_000000000.safetensors ] \
  && cmp -s sng/snapshots/step_000000600.safetensors sng/model.safetensors \
  && ok "train --device cuda --snapshots 12: $n snapshots, one per logged row ($(ls snc/snapshots | wc -l) on the CPU), the last = model.safetensors" \
  || notok "cuda snapshots: $n for $rows rows: $(ls sng/snapshots 2>/dev/null | tr '\n' ' ')"
if "$GL" dynamics sng --quiet >/dev/null 2>err.txt && out=$(/usr/bin/python3 "$(dirname "$(readlink -f "$0")")/python/check_dynamics.py" sng 2>&1); then
  ok "groklab dynamics on the cuda run; its examples.csv and progress = numpy's from its snapshots:"
  echo "$out" | sed 's/^/        /'
else notok "dynamics of the cuda run: $(cat err.txt) $(echo "${out:-}" | grep 'NOT OK' | tr '\n' ';')"; fi
cmp -s sng/progress.csv sng/dynamics/progress_snapshots.csv && [ "$(($(wc -l < sng/progress.csv) - 1))" = "$rows" ] \
  && ok "train --device cuda --progress-measures on: progress.csv = the dynamics' rows from the snapshots, byte for byte" \
  || notok "cuda progress.csv differs from the snapshots' rows: $(diff sng/progress.csv sng/dynamics/progress_snapshots.csv 2>&1 | head -2 | tr '\n' ' ')"

# progress measures without snapshots (the weights come back for them
# alone): the last row near the CPU's (the runs part in the last bits of
# their sums, so within 5%, far closer than a row of stale weights)
pm=(train --p 23 --width 64 --frac 0.6 --noise 0.2 --wd 8 --steps 300 --log-every 100 --progress-measures on --quiet)
"$GL" "${pm[@]}" --out pmc >/dev/null 2>&1 && "$GL" "${pm[@]}" --device cuda --out pmg >/dev/null 2>err.txt \
  || notok "progress measures alone: $(cat err.txt)"
far=$(paste -d, <(tail -1 pmc/progress.csv) <(tail -1 pmg/progress.csv) | awk -F, '{ n = NF / 2; w = 0
  for (i = 3; i <= n; i++) { d = $i - $(i + n); d = d < 0 ? -d : d; s = $i < 0 ? -$i : $i; if (s < 1e-3) s = 1e-3; if (d / s > w) w = d / s }
  print (n >= 3 ? w : 99) }')
awk -v w="$far" 'BEGIN { exit !(w <= 0.05) }' && ok "train --device cuda --progress-measures on: the last progress row within $far of the CPU's" \
  || notok "cuda progress row at step 300 differs from the CPU's by $far (at most 0.05)"

# reproduce: the figure's runs as one population; the same phases, and final
# accuracies within 2 test examples (FP32 sums in another order)
"$GL" reproduce fig1 --p 23 --steps 300 --out f1c >f1c.txt 2>&1
"$GL" reproduce fig1 --p 23 --steps 300 --out f1g --device cuda >f1g.txt 2>err.txt || notok "reproduce fig1 --device cuda failed: $(cat err.txt)"
for r in wd0 wd5 wd15; do
  a=$(awk -v r=$r '$1 == r {print $NF}' f1c.txt); b=$(awk -v r=$r '$1 == r {print $NF}' f1g.txt)
  d=$(paste -d, <(tail -1 "f1c/$r/metrics.csv") <(tail -1 "f1g/$r/metrics.csv") | awk -F, '{d = $5 - $(NF / 2 + 5); print (d < 0 ? -d : d) * 265}')
  if [ -n "$a" ] && [ "$a" = "$b" ] && awk -v d="$d" 'BEGIN { exit !(d <= 2.01) }'; then
    ok "reproduce fig1 --device cuda, $r: phase $b as on the CPU, test accuracy within $d examples"
  else
    notok "reproduce fig1 $r: cuda [$b] cpu [$a], test accuracy differs by $d examples"
  fi
done

# bench
"$GL" bench --device cuda --p 23 --width 32 --steps 3 --pop-steps 2 --pop 1,3 >bench.txt 2>&1
grep -q "population M=3:" bench.txt && grep -q "step: median" bench.txt && ok "bench --device cuda prints the step and populations" \
  || notok "bench --device cuda: $(cat bench.txt)"
# the steps are replayed as recorded graphs, one submission each, unless
# GROKLAB_GPU_GRAPHS=0: then a full-batch MSE step without a norm is 5
# launches and 3 products (the batch stays loaded between evaluations)
GROKLAB_GPU_GRAPHS=0 "$GL" bench --device cuda --p 23 --width 32 --steps 3 --pop-steps 2 --pop 2 >direct.txt 2>&1
if grep -q "^groklab bench: .*, steps replayed as recorded graphs (1.0 submissions per step" bench.txt &&
   grep -q "^groklab bench: .*, steps launched operation by operation (8.0 submissions per step" direct.txt; then
  ok "bench --device cuda says how its steps were submitted (graphs: 1 a step; GROKLAB_GPU_GRAPHS=0: 8)"
else
  notok "bench: how steps were submitted: $(head -n 1 bench.txt) / $(head -n 1 direct.txt)"
fi
# --profile on: a full-batch MSE step is gather+activation, the loss's
# gradient, three products (one group of equal training sets), the fused
# embedding backward and the optimizer; each exactly once per step, and the
# shares add up to the whole
"$GL" bench --device cuda --p 23 --width 32 --steps 3 --pop-steps 2 --pop 3 --profile on >prof.txt 2>&1 \
  || notok "bench --profile on: $(cat prof.txt)"
ops=$(awk '/where a step of M=3 goes/ { on = 1; next } on && /per step/ && !/kernel launches/ { print $0 }' prof.txt)
names=$(echo "$ops" | sed -E 's/^ +//; s/ +[0-9.]+ per step.*//' | sort | tr '\n' ',')
want="embed_back,gemm dW = dout^T z,gemm dz = dout W,gemm out = z W^T,hidden,mse_grad,optim,optim_prep,"
if [ "$names" = "$want" ] && ! echo "$ops" | grep -vq " 1.0 per step" \
   && echo "$ops" | awk '{ s += $NF } END { exit !(s > 99.5 && s < 100.5) }'; then
  ok "bench --profile on: the step's 8 operations, once each, shares summing to 100%"
else
  notok "bench --profile on: operations [$names], want [$want]: $(cat prof.txt)"
fi
if grep -q "^    5.0 kernel launches and 3.0 products (GEMM calls) per step" prof.txt; then
  ok "bench --profile on counts 5 launches and 3 products per step"
else
  notok "bench --profile on: launch and product counts: $(grep 'kernel launches' prof.txt)"
fi
# --log on --fracs: two training sets of 264 and 275 rows in one padded
# product (3 per step), and every 5th step an evaluation: the three spectra
# and one output product per chunk of each set (train, test), 5 per
# evaluation: 4.0 products per step, the evaluation's kernels among them
"$GL" bench --device cuda --p 23 --width 32 --steps 3 --pop-steps 5 --pop 2 --fracs 0.5,0.52 --log on \
  --log-every 5 --profile on >prof2.txt 2>&1 || notok "bench --log on --fracs: $(cat prof2.txt)"
if grep -q "members cycle through alpha 0.5,0.52" prof2.txt && grep -q "evaluated every 5 steps" prof2.txt &&
  awk '/where a step of M=2 goes/ { on = 1 } on' prof2.txt | grep -q "and 4.0 products (GEMM calls) per step" &&
  awk '/where a step of M=2 goes/ { on = 1 } on' prof2.txt | grep -q "eval_part .* 0.4 per step"; then
  ok "bench --log on --fracs: evaluations in the profile, 4.0 products per step (one padded training group)"
else
  notok "bench --log on --fracs: $(cat prof2.txt)"
fi
expect_error "--log on needs the GPU" "--log on times the GPU's evaluations" bench --log on
expect_error "--fracs takes fractions" "--fracs: '0.5,2' is not a comma list of training fractions" bench --device cuda --fracs 0.5,2
expect_error "--profile on needs the GPU" "--profile on times the GPU's kernels" bench --profile on
expect_error "--profile takes on or off" "allowed: on, off" bench --device cuda --profile yes

echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
