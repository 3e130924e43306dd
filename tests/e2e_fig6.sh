#!/usr/bin/env bash
# End to end: `groklab reproduce fig6` (Coexistence: alpha 0.5, xi 0.35,
# wd 0, 1000 steps) pruned as in the paper's Figure 6 (docs/paper.md section 7):
#   lowest IPR first, 60% pruned: corrupted accuracy (given labels) from over
#     90% to under 5%, test accuracy >= 95%, clean training accuracy >= 99%
#   highest IPR first, 30% pruned: test accuracy under 10%, corrupted above 85%
#   random order in between (test accuracy between the two at 30% and 60%)
# and prune.csv / prune_summary.json equal tests/python/check_prune.py's
# recomputation with numpy from the run's weights and data.
# usage: tests/e2e_fig6.sh GROKLAB_BINARY
set -u
GL=$(readlink -f "$1")
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
"$GL" reproduce fig6 --out "$T/fig6" --quiet > "$T/out.txt" || { cat "$T/out.txt"; echo "NOT OK  reproduce fig6 failed"; exit 1; }
# prune.csv (count 0, the low and high curves) and prune_summary.json recomputed with numpy
/usr/bin/python3 "$(dirname "$(readlink -f "$0")")/python/check_prune.py" "$T/fig6/coexistence" > "$T/check_prune.txt" 2>&1
echo $? > "$T/check_prune.rc"
/usr/bin/python3 - "$T/fig6" "$T" <<'PY'
import csv, os, sys
d = sys.argv[1]
rows = list(csv.DictReader(open(os.path.join(d, "coexistence", "prune.csv"))))
N = max(int(r["pruned"]) for r in rows)
def at(order, frac):
    k = round(frac * N)
    return next(r for r in rows if r["order"] == order and int(r["pruned"]) == k)
fails = 0
def check(ok, msg):
    global fails
    fails += not ok
    print(("OK      " if ok else "NOT OK  ") + msg)
base, lo, hi = at("low", 0), at("low", 0.6), at("high", 0.3)
f = lambda r, c: float(r[c])
check(f(base, "corrupted_acc") > 0.90, "unpruned: corrupted accuracy %.4f > 0.90" % f(base, "corrupted_acc"))
check(f(lo, "corrupted_acc") < 0.05, "low IPR first, 60%%: corrupted accuracy %.4f < 0.05" % f(lo, "corrupted_acc"))
check(f(lo, "test_acc") >= 0.95, "low IPR first, 60%%: test accuracy %.4f >= 0.95" % f(lo, "test_acc"))
check(f(lo, "clean_acc") >= 0.99, "low IPR first, 60%%: clean accuracy %.4f >= 0.99" % f(lo, "clean_acc"))
check(f(hi, "test_acc") < 0.10, "high IPR first, 30%%: test accuracy %.4f < 0.10" % f(hi, "test_acc"))
check(f(hi, "corrupted_acc") > 0.85, "high IPR first, 30%%: corrupted accuracy %.4f > 0.85" % f(hi, "corrupted_acc"))
for frac in (0.3, 0.6):
    r, l, h = at("random", frac), at("low", frac), at("high", frac)
    check(f(h, "test_acc") < f(r, "test_acc") < f(l, "test_acc"),
          "random order at %d%%: test accuracy %.4f between high-first %.4f and low-first %.4f" % (
              100 * frac, f(r, "test_acc"), f(h, "test_acc"), f(l, "test_acc")))
check(int(at("random", 0)["seeds"]) == 20 and float(at("random", 0.5)["test_acc_std"]) > 0,
      "random order averaged over 20 draws with a spread")
with open(os.path.join(sys.argv[2], "check_prune.txt")) as fh:
    out = "; ".join(fh.read().split("\n")).strip("; ")
check(open(os.path.join(sys.argv[2], "check_prune.rc")).read().strip() == "0",
      "prune.csv and prune_summary.json recomputed with numpy (check_prune.py): " + out)
for name in ["fig6.png", "fig6.svg", "fig6.gp"]:
    check(os.path.getsize(os.path.join(d, name)) > 1000, "figure file " + name)
print("e2e fig6: %d failed" % fails)
sys.exit(1 if fails else 0)
PY
