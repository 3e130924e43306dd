#!/usr/bin/env bash
# End to end: `groklab reproduce fig1` at p = 97 lands in the phases of the
# paper's Figure 1: Coexistence at wd 0, Partial Inversion at wd 5, Full
# Inversion at wd 15 (docs/paper.md section 6), and draws its figure.
# usage: tests/e2e_fig1.sh GROKLAB_BINARY
set -u
GL=$(readlink -f "$1")
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
"$GL" reproduce fig1 --out "$T/fig1" --quiet || { echo "NOT OK  reproduce fig1 failed"; exit 1; }
python3 - "$T/fig1" <<'PY'
import json, os, sys
d = sys.argv[1]
want = {"wd0": "coexistence", "wd5": "partial_inversion", "wd15": "full_inversion"}
fails = 0
for run, phase in want.items():
    s = json.load(open(os.path.join(d, run, "summary.json")))
    ok = s["phase"] == phase
    fails += not ok
    print("%s  %s: phase %s (expected %s), train %.3f test %.3f corrupted %.3f" % (
        "OK     " if ok else "NOT OK ", run, s["phase"], phase, s["train_acc"], s["test_acc"], s["corrupted_acc"]))
for f in ["fig1.png", "fig1.svg", "fig1.gp"]:
    ok = os.path.getsize(os.path.join(d, f)) > 1000
    fails += not ok
    print("%s  figure file %s" % ("OK     " if ok else "NOT OK ", f))
print("e2e: %d passed, %d failed" % (6 - fails, fails))
sys.exit(1 if fails else 0)
PY
