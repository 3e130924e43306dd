#!/usr/bin/env bash
# Bringing your own model and data (docs/byo.md) as a user does it: a run
# imported from another run's files is the same run to every analysis (ipr,
# spectrum and prune write byte-identical tables, the summary's accuracies
# are the trained run's final ones); training on a run's data file
# (train --data) follows the same trajectory as the run itself, and resumes
# after the file has moved; every bad input gets one line on stderr, exit
# code 2, and no run directory.
# usage: tests/import_test.sh GROKLAB_BINARY
set -u
GL=$(readlink -f "$1")
PY=/usr/bin/python3
. "$(dirname "$(readlink -f "$0")")/cli_lib.sh"

"$GL" train --p 23 --steps 300 --noise 0.2 --quiet --out A >/dev/null || notok "training A"
cp A/data.safetensors data.safetensors # the --data file of the runs below

# ---- import: the same run to every analysis ----
if "$GL" import B --config A/config.json --model A/model.safetensors --init A/init.safetensors \
  --data data.safetensors --step 300 >import.txt 2>&1; then ok "import: $(cat import.txt)"
else notok "import: $(cat import.txt)"; fi
for f in config.json data.safetensors model.safetensors init.safetensors metrics.csv summary.json; do
  [ -s "B/$f" ] || notok "import wrote no B/$f"
done
[ ! -e B/checkpoint.safetensors ] && ok "import writes no checkpoint (nothing to resume)" || notok "B has a checkpoint"
cmp -s A/data.safetensors B/data.safetensors && ok "B's data.safetensors is A's, byte for byte" \
  || notok "B's data.safetensors differs from A's"
cmp -s A/model.safetensors B/model.safetensors && ok "B's model.safetensors is A's, byte for byte" \
  || notok "B's model.safetensors differs from A's"
# the one row of B is A's last: the library's evaluation of the same weights on
# the same data (all but grad_norm, column 16: an import takes no step, so it
# has no gradient)
nograd() { tail -1 "$1" | cut -d, -f1-15,17-; }
if [ "$(nograd B/metrics.csv)" = "$(nograd A/metrics.csv)" ] && [ "$(wc -l <B/metrics.csv)" -eq 2 ] &&
   [ "$(tail -1 B/metrics.csv | cut -d, -f16)" = nan ]; then
  ok "B's one metrics row is A's final row: $(tail -1 B/metrics.csv)"
else notok "B's metrics [$(tail -1 B/metrics.csv)] vs A's final [$(tail -1 A/metrics.csv)]"; fi
if out=$("$PY" - A/summary.json B/summary.json <<'EOF'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
keys = ["train_acc", "test_acc", "corrupted_acc", "corrupted_true_acc", "clean_acc", "train_loss", "test_loss",
        "mean_ipr", "phase", "steps", "n_train", "n_test", "n_corrupted"]
bad = [k for k in keys if a[k] != b[k]]
# the run takes the file's noise: n_corrupted / n_train, not A's 0.2
want = b["n_corrupted"] / b["n_train"]
if abs(b["noise"] - want) > 1e-15: bad.append("noise %r != %r" % (b["noise"], want))
print(", ".join("%s %s" % (k, b[k]) for k in keys[:5]) + (" DIFFER: %s" % bad if bad else ""))
sys.exit(1 if bad else 0)
EOF
); then ok "B's summary = A's ($out)"; else notok "B's summary vs A's: $out"; fi
for cmd in ipr spectrum prune; do
  for r in A B; do "$GL" $cmd $r --no-plot --quiet >/dev/null 2>"$cmd.$r.err" || notok "$cmd $r: $(cat $cmd.$r.err)"; done
done
for f in ipr.csv ipr_summary.json spectrum.csv prune.csv; do # (prune_summary.json holds its timing)
  if [ -s "A/$f" ] && cmp -s "A/$f" "B/$f"; then ok "$f of A and of B are byte-identical ($(wc -l <A/$f) lines)"
  else notok "$f of A and of B differ"; fi
done
"$GL" plot B >plot.txt 2>&1 && [ -s B/curves.png ] && ok "plot works on the import" || notok "plot B: $(cat plot.txt)"
# --force replaces a run, leaving none of its checkpoint and initial weights
cp -r A F
"$GL" import F --config A/config.json --model A/model.safetensors --data data.safetensors --force >/dev/null 2>&1 \
  && [ ! -e F/checkpoint.safetensors ] && [ ! -e F/init.safetensors ] && [ "$(head -c 1 F/metrics.csv)" = s ] \
  && [ "$(tail -1 F/metrics.csv | cut -d, -f1)" = 0 ] \
  && ok "import --force over a run: no stale checkpoint or init, one row at step 0" || notok "import --force over A"

# ---- train --data: the same split and labels, the same trajectory ----
"$GL" train --p 23 --steps 300 --data data.safetensors --quiet --out C >/dev/null 2>C.err || notok "train --data: $(cat C.err)"
cmp -s A/metrics.csv C/metrics.csv && ok "train --data A's file: metrics.csv identical to A's ($(wc -l <C/metrics.csv) rows)" \
  || notok "train --data: metrics.csv differs from A's"
grep -q '"data":	"data.safetensors"' C/config.json && ok "C's config.json names its data file" || notok "C/config.json: no data"
# a --data run resumed after its file moved: it reads its own copy
"$GL" train --p 23 --steps 150 --data data.safetensors --quiet --out D >/dev/null 2>&1 || notok "train --data D (150 steps)"
mkdir moved && mv data.safetensors moved/
if "$GL" train --resume D --steps 300 --quiet >D.txt 2>&1 && cmp -s A/metrics.csv D/metrics.csv; then
  ok "train --data resumed after the file moved: metrics.csv identical to A's"
else notok "resume D after moving its data file: $(cat D.txt)"; fi
mv moved/data.safetensors .

# ---- bad inputs: exit 2, one line, nothing written ----
I="import out --config A/config.json --data data.safetensors"
expect_error "weights of another width" "tensor 'U' has shape (500, 23), but" $I --model A/model.safetensors --width 50
"$GL" train --p 23 --width 50 --steps 0 --quiet --out S >/dev/null 2>&1 || notok "training S"
expect_error "initial weights of another shape" "--init: S/init.safetensors: tensor 'U' has shape (50, 23), but" \
  $I --model A/model.safetensors --init S/init.safetensors
echo '{"model": "deep-mlp", "p": 23}' >deep.json
expect_error "weights of another family" "tensor 'H1' is missing" \
  import out --data data.safetensors --config deep.json --model A/model.safetensors
expect_error "data of another p" "the file is for p = 23 (metadata p), but the config's p is 29" $I --model A/model.safetensors --p 29
expect_error "data of another task" "but task mul gives" $I --model A/model.safetensors --task mul
expect_error "no data file" "--data: no dataset file given" import out --config A/config.json --model A/model.safetensors
expect_error "no weights" "--model FILE" $I
expect_error "a missing weights file" "missing.safetensors" $I --model missing.safetensors
expect_error "weights not .safetensors" "is not a .safetensors file" $I --model A/config.json
expect_error "a data file that is not one" "A/config.json" import out --config A/config.json --data A/config.json --model A/model.safetensors
expect_error "frac with --data" "--frac cannot be given to import" $I --model A/model.safetensors --frac 0.3
expect_error "a negative step" "--step" $I --model A/model.safetensors --step -1
expect_error "an unknown option" "unknown option '--wdith'" $I --model A/model.safetensors --wdith 3
mkdir out && touch out/keep
"$GL" $I --model A/model.safetensors >stdout.txt 2>stderr.txt
rc=$?
[ $rc -eq 2 ] && grep -q "already exists (use --force" stderr.txt && [ "$(ls out)" = keep ] \
  && ok "import into a non-empty directory: refused, untouched ($(cat stderr.txt))" || notok "import into out: rc $rc $(cat stderr.txt)"
rm -rf out
expect_error "train: --data of another p" "but the config's p is 29" train --p 29 --data data.safetensors --out out
expect_error "train: --noise with --data" "--noise cannot be combined with --data" train --p 23 --noise 0.1 --data data.safetensors --out out
expect_error "train: --batch beyond the file's training set" "--batch: 300 is larger than the training set (264 examples" \
  train --p 23 --batch 300 --data data.safetensors --out out
expect_error "train: a missing --data file" "--data: cannot read nowhere.safetensors" train --data nowhere.safetensors --out out
expect_error "train: --data changed on resume" "--data cannot change when resuming" train --resume D --data data.safetensors

"$GL" import --help | grep -q "usage: groklab import OUT" && ok "import --help" || notok "import --help"
"$GL" --help | grep -q "^  import " && ok "groklab --help lists import" || notok "groklab --help lacks import"

echo "import: $passes passed, $fails failed"
[ $fails -eq 0 ]
