#!/usr/bin/env python3
"""phase_agree.py -- do two sweep stores of the same grid agree, run by run?

    bench/phase_agree.py REF/sweep.db OTHER/sweep.db [--label NAME]

Runs are matched by their grid position (id) and must be the same point
(every knob of the run's point but device and threads). Prints how many finished runs
are in both, how many have the same phase, the largest differences of the
final train and test accuracies, and every run whose phase differs. Exit
status: 0 when every common run has the same phase, 1 when some differ,
2 on bad input. Uses only the Python standard library (sqlite3).
"""
import argparse
import json
import sqlite3
import sys

# knobs of a run's point that say how it was computed, not which run it is
NOT_IDENTITY = {"device", "threads"}


def load(path):
    """{id: (status, phase, train_acc, test_acc, identity)}; the identity is
    the run's point (the store's own JSON of every knob) without NOT_IDENTITY."""
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        rows = db.execute("SELECT id, status, phase, train_acc, test_acc, point FROM runs").fetchall()
    except sqlite3.Error as e:
        print(f"phase_agree: {path}: {e} (is it a groklab sweep store?)", file=sys.stderr)
        sys.exit(2)
    runs = {}
    for rid, status, phase, train, test, point in rows:
        knobs = {k: v for k, v in json.loads(point).items() if k not in NOT_IDENTITY}
        runs[rid] = (status, phase, train, test, knobs)
    return runs


def acc(x):
    return "-" if x is None else f"{x:.4f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("ref")
    ap.add_argument("other")
    ap.add_argument("--label", default="", help="a name for the comparison in the output")
    a = ap.parse_args()
    label = f" {a.label}" if a.label else ""
    ref, oth = load(a.ref), load(a.other)
    done = ("done", "diverged")
    common = [i for i in sorted(ref) if i in oth and ref[i][0] in done and oth[i][0] in done]
    if not common:
        print(f"phase_agree{label}: no finished run in both stores")
        return 2
    same, dtrain, dtest, differ = 0, 0.0, 0.0, []
    for i in common:
        r, o = ref[i], oth[i]
        keys = set(r[4]) & set(o[4])
        moved = [k for k in sorted(keys) if r[4][k] != o[4][k]]
        if moved:
            print(f"phase_agree: run {i} is not the same grid point in both stores "
                  f"({moved[0]}: {r[4][moved[0]]} vs {o[4][moved[0]]})", file=sys.stderr)
            return 2
        if r[1] == o[1]:
            same += 1
        else:
            differ.append((i, r, o))
        if r[2] is not None and o[2] is not None:
            dtrain = max(dtrain, abs(r[2] - o[2]))
        if r[3] is not None and o[3] is not None:
            dtest = max(dtest, abs(r[3] - o[3]))
    print(f"phase_agree{label}: {same} of {len(common)} runs in the same phase; "
          f"final accuracies differ by at most {dtrain:.4f} (train), {dtest:.4f} (test); "
          f"{len(ref)} runs in {a.ref}, {len(oth)} in {a.other}")
    for i, r, o in differ:
        where = ", ".join(f"{k} {r[4][k]}" for k in ("frac", "noise", "wd", "dropout", "batch")
                          if k in r[4])
        print(f"  run {i} ({where}): {r[1]} (train {acc(r[2])}, test {acc(r[3])}) vs "
              f"{o[1]} (train {acc(o[2])}, test {acc(o[3])})")
    return 0 if not differ else 1


if __name__ == "__main__":
    sys.exit(main())
