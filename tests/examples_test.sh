#!/usr/bin/env bash
# examples/quickstart.py and examples/quickstart.ipynb (executed by nbconvert)
# at a small scale (p 23, 300 steps) against the CLI: the same runs trained
# with `groklab train` and pruned with `groklab prune` must give the final
# accuracies and phases both printed, the same summary.json numbers and
# metrics.csv, and the same prune.csv and prunable count. The CLI runs in
# turn must equal `groklab reproduce fig1` / `fig6` at the same scale, so the
# examples' knobs are the paper's figures'. Each check prints OK or NOT OK.
# usage: tests/examples_test.sh GROKLAB_BINARY LIBGROKLAB_SO
# Exits 77 (skipped) when /usr/bin/python3 (or $GROKLAB_PYTHON) lacks
# numpy, pandas, matplotlib or nbconvert.
set -u
GL=$(readlink -f "$1")
LIB=$(readlink -f "$2")
SRC=$(dirname "$(dirname "$(readlink -f "$0")")")
PY=${GROKLAB_PYTHON:-/usr/bin/python3}
P=23
STEPS=300
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
export GROKLAB_LIB=$LIB PYTHONPATH=$SRC/python${PYTHONPATH:+:$PYTHONPATH}
export PYDEVD_DISABLE_FILE_VALIDATION=1 MPLBACKEND=Agg

if ! "$PY" -c "import numpy, pandas, matplotlib, nbconvert, nbformat, ipykernel" 2>/dev/null; then
  echo "skip: $PY lacks numpy, pandas, matplotlib, nbconvert or ipykernel"
  exit 77
fi
fail() { cat "$2" 2>/dev/null; echo "NOT OK  $1"; exit 1; }

# the examples
"$PY" "$SRC/examples/quickstart.py" "$T/script" --p $P --steps $STEPS > "$T/script.txt" 2>&1 ||
  fail "examples/quickstart.py failed" "$T/script.txt"
GROKLAB_QUICKSTART_OUT=$T/notebook GROKLAB_QUICKSTART_P=$P GROKLAB_QUICKSTART_STEPS=$STEPS \
  "$PY" -m nbconvert --to notebook --execute --ExecutePreprocessor.kernel_name=python3 \
  --ExecutePreprocessor.timeout=300 --output-dir "$T/nbout" "$SRC/examples/quickstart.ipynb" > "$T/nbconvert.txt" 2>&1 ||
  fail "examples/quickstart.ipynb did not execute" "$T/nbconvert.txt"

# the CLI: the same runs, knobs written out here
knobs=(--p $P --steps $STEPS --noise 0.35 --checkpoint-every 0 --quiet)
for wd in 0 5 15; do
  "$GL" train --out "$T/cli/fig1/wd$wd" --wd $wd "${knobs[@]}" > "$T/cli.txt" 2>&1 || fail "groklab train wd $wd failed" "$T/cli.txt"
done
"$GL" train --out "$T/cli/fig6/coexistence" --wd 0 "${knobs[@]}" > "$T/cli.txt" 2>&1 || fail "groklab train (fig6) failed" "$T/cli.txt"
"$GL" prune "$T/cli/fig6/coexistence" --no-plot --quiet > "$T/cli.txt" 2>&1 || fail "groklab prune failed" "$T/cli.txt"
for fig in fig1 fig6; do
  "$GL" reproduce $fig --p $P --steps $STEPS --out "$T/reproduce/$fig" --quiet > "$T/rep.txt" 2>&1 ||
    fail "groklab reproduce $fig failed" "$T/rep.txt"
done

"$PY" - "$T" <<'PY'
import json, os, re, sys
import nbformat

T = sys.argv[1]
fails = 0


def check(ok, msg):
    global fails
    fails += not ok
    print(("OK      " if ok else "NOT OK  ") + msg)


def load(*parts):
    with open(os.path.join(T, *parts)) as f:
        return json.load(f)


def raw(*parts):
    with open(os.path.join(T, *parts), "rb") as f:
        return f.read()


RUNS = {"wd0": ("fig1", "wd0"), "wd5": ("fig1", "wd5"), "wd15": ("fig1", "wd15"), "fig6": ("fig6", "coexistence")}
KEYS = ["phase", "train_acc", "test_acc", "corrupted_acc", "corrupted_true_acc", "clean_acc", "train_loss",
        "test_loss", "mean_ipr", "milestones", "steps", "p", "noise"]
cli_dir = {name: os.path.join("cli", *where) for name, where in RUNS.items()}
rep_dir = {"wd0": "reproduce/fig1/wd0", "wd5": "reproduce/fig1/wd5", "wd15": "reproduce/fig1/wd15",
           "fig6": "reproduce/fig6/coexistence"}
cli_sum = {name: load(d, "summary.json") for name, d in cli_dir.items()}
cli_prune = load(cli_dir["fig6"], "prune_summary.json")

# the CLI runs are reproduce's runs
for name in RUNS:
    rs = load(rep_dir[name], "summary.json")
    check(all(rs[k] == cli_sum[name][k] for k in KEYS) and
          raw(rep_dir[name], "metrics.csv") == raw(cli_dir[name], "metrics.csv"),
          f"groklab train {name}: summary and metrics.csv equal groklab reproduce's")
check(raw(rep_dir["fig6"], "prune.csv") == raw(cli_dir["fig6"], "prune.csv"),
      "groklab prune's prune.csv equals groklab reproduce fig6's")

# what each example printed
with open(os.path.join(T, "script.txt")) as f:
    printed = {"script": f.read()}
nb = nbformat.read(os.path.join(T, "nbout", "quickstart.ipynb"), as_version=4)
printed["notebook"] = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code"
                              for o in c.get("outputs", []) if o.get("name") == "stdout")
RUN_LINE = re.compile(r"^(wd\d+) +train (\S+)  test (\S+)  corrupted (\S+)  phase (\S+)$", re.M)
PRUNE_LINE = re.compile(r"^fig6  prunable .*: (-?\d+) of (\d+) neurons, fraction (\S+)$", re.M)

for route, text in printed.items():
    lines = {m.group(1): m.groups()[1:] for m in RUN_LINE.finditer(text)}
    check(sorted(lines) == ["wd0", "wd15", "wd5"], f"{route}: printed the three runs of Figure 1")
    for name, got in lines.items():
        s = cli_sum[name]
        want = ("%.4f" % s["train_acc"], "%.4f" % s["test_acc"], "%.4f" % s["corrupted_acc"], s["phase"])
        check(got == want, f"{route} {name}: printed train/test/corrupted/phase {' '.join(got)}, "
                           f"groklab train {' '.join(want)}")
    m = PRUNE_LINE.search(text)
    want = (str(cli_prune["prunable"]), str(cli_prune["width"]), "%.4f" % cli_prune["prunable_fraction"])
    check(m is not None and m.groups() == want,
          f"{route}: printed prunable {' '.join(m.groups()) if m else '(no line)'}, groklab prune {' '.join(want)}")
    for name, where in RUNS.items():
        d = os.path.join(route, *where)
        s = load(d, "summary.json")
        diff = [k for k in KEYS if s[k] != cli_sum[name][k]]
        check(not diff and raw(d, "metrics.csv") == raw(cli_dir[name], "metrics.csv"),
              f"{route} {name}: summary.json and metrics.csv equal groklab train's" +
              (f" (differ: {', '.join(diff)})" if diff else ""))
    d = os.path.join(route, "fig6", "coexistence")
    ps = load(d, "prune_summary.json")
    check(raw(d, "prune.csv") == raw(cli_dir["fig6"], "prune.csv") and
          all(ps[k] == cli_prune[k] for k in ("prunable", "prunable_prefix", "threshold", "on")),
          f"{route}: prune.csv and prune_summary.json equal groklab prune's")
    for fig in ("fig1.png", "fig6.png"):
        path = os.path.join(T, route, fig)
        check(os.path.exists(path) and os.path.getsize(path) > 1000, f"{route}: wrote {fig}")
print(f"examples: {fails} failed")
sys.exit(1 if fails else 0)
PY
