"""Recomputes `groklab phase DIR` from DIR/sweep.db and compares with DIR/phase.csv.

usage: check_phase.py DIR

1. Every finished run (status done or diverged): its phase by the paper's
   Table 2 (docs/paper.md section 6) from its final logged train and test accuracy
   (metrics table, last step; a diverged run's row before its last), in
   percent:
     test >= 90:  coexistence if train >= 90, partial_inversion if
                  train >= 100 (1.05 - xi), else full_inversion
     test <  90:  memorization if train >= 90, else forgetting if the test
                  accuracy reached 0.9 at some logged step, else confusion
   against runs.phase, and runs.train_acc / test_acc against that row.
2. The phase diagram: the runs grouped in cells (facet, x = frac, y = noise),
   the facet being the first axis of the stored grid with several values
   other than frac, noise and replicate (none: one panel, facet ''); per cell
   the number of runs, the count of each phase, the majority phase (ties to
   the lower index in the order coexistence, partial_inversion,
   full_inversion, memorization, forgetting, confusion), agree = 1 when every
   run of the cell is in it, and dx, dy: half the distance from the cell's
   value to the nearest other value of that axis among the finished runs
   (0.05 when the axis has a single value). Every field of every row of
   phase.csv is compared (numbers as the C prints them: x, y to 12 digits,
   dx, dy to 6); inferred is 0 (a full sweep: every cell trained).
Prints one line per part; exit 1 on a mismatch.
"""

import csv
import json
import os
import sqlite3
import sys

PHASES = ["coexistence", "partial_inversion", "full_inversion", "memorization", "forgetting", "confusion"]


def table2(train_acc, test_acc, xi, reached_test90):
    train, test = 100.0 * train_acc, 100.0 * test_acc
    if test >= 90.0:
        if train >= 90.0:
            return "coexistence"
        if train >= 100.0 * (1.05 - xi):
            return "partial_inversion"
        return "full_inversion"
    if train >= 90.0:
        return "memorization"
    return "forgetting" if reached_test90 else "confusion"


def half_gap(values, v):
    if len(values) == 1:
        return 0.05
    return 0.5 * min(abs(v - w) for w in values if w != v)


def main():
    d = sys.argv[1]
    db = sqlite3.connect(os.path.join(d, "sweep.db"))
    errs = []

    # 1. phases of the runs
    runs = db.execute("SELECT id, status, noise, phase, train_acc, test_acc FROM runs"
                      " WHERE status IN ('done', 'diverged') ORDER BY id").fetchall()
    phase_of, n_div = {}, 0
    for rid, status, xi, phase, tr, te in runs:
        rows = db.execute("SELECT train_acc, test_acc FROM metrics WHERE run_id = ? ORDER BY step", (rid,)).fetchall()
        reached = any(r[1] is not None and r[1] >= 0.9 for r in rows)
        li = len(rows) - (2 if status == "diverged" else 1)
        n_div += status == "diverged"
        want = table2(rows[li][0], rows[li][1], float(xi), reached) if li >= 0 else "confusion"
        phase_of[rid] = want
        if phase != want:
            errs.append("run %d (%s): phase %s, Table 2 says %s" % (rid, status, phase, want))
        if li >= 0 and (tr, te) != rows[li]:
            errs.append("run %d: runs.train_acc, test_acc %r, %r; metrics row %r" % (rid, tr, te, rows[li]))
    print("%d finished runs (%d diverged): runs.phase = Table 2 from the final logged accuracies (%s)" % (
        len(runs), n_div, ", ".join("%s %d" % (p, list(phase_of.values()).count(p))
                                    for p in PHASES if p in phase_of.values())))

    # 2. the cells of phase.csv
    definition = json.loads(db.execute("SELECT value FROM sweep WHERE key = 'definition'").fetchone()[0])
    facet = next((a["name"] for a in definition["axes"]
                  if len(a["values"]) > 1 and a["name"] not in ("frac", "noise", "replicate")), None)
    fcol = 'CAST("%s" AS TEXT)' % facet if facet else "''"
    cells = {}
    for rid, f, x, y in db.execute("SELECT id, %s, CAST(frac AS REAL), CAST(noise AS REAL) FROM runs"
                                   " WHERE status IN ('done', 'diverged') AND phase IS NOT NULL ORDER BY id" % fcol):
        cells.setdefault((f, x, y), [0] * 6)[PHASES.index(phase_of[rid])] += 1
    xs = sorted({k[1] for k in cells})
    ys = sorted({k[2] for k in cells})
    with open(os.path.join(d, "phase.csv")) as fh:
        rd = csv.reader(fh)
        header = next(rd)
        got = list(rd)
    want_header = ["facet", "frac", "noise", "runs", "phase", "phase_index", "agree", "dx", "dy"] + PHASES + ["inferred"]
    if header != want_header:
        errs.append("header %s, want %s" % (header, want_header))
    seen = set()
    for row in got:
        if len(row) != len(want_header):
            errs.append("row %s: %d fields" % (row, len(row)))
            continue
        key = next((k for k in cells if k[0] == row[0] and float("%.12g" % k[1]) == float(row[1])
                    and float("%.12g" % k[2]) == float(row[2])), None)
        if key is None or key in seen:
            errs.append("row %s: %s cell" % (row[:3], "no such" if key is None else "repeated"))
            continue
        seen.add(key)
        count = cells[key]
        n = sum(count)
        m = max(range(6), key=lambda i: (count[i], -i))
        want = {"runs": n, "phase": PHASES[m], "phase_index": m, "agree": int(count[m] == n),
                "dx": float("%.6g" % half_gap(xs, key[1])), "dy": float("%.6g" % half_gap(ys, key[2]))}
        want.update(zip(PHASES, count))
        want["inferred"] = 0
        for col, w in want.items():
            v = row[want_header.index(col)]
            v = v if col == "phase" else float(v) if col in ("dx", "dy") else int(v)
            if v != w:
                errs.append("cell %s %s %s: %s %r, recomputed %r" % (key[0], key[1], key[2], col, v, w))
    for key in cells.keys() - seen:
        errs.append("cell %s %s %s missing from phase.csv" % key)
    n_agree = sum(max(c) == sum(c) for c in cells.values())
    print("phase.csv: %d cells (facet %s, %d x %d values of frac x noise) = recomputed: runs, counts, majority, "
          "agree (%d of %d), dx, dy" % (len(cells), facet or "none", len(xs), len(ys), n_agree, len(cells)))
    if errs:
        print("%s: %d mismatches: %s" % (d, len(errs), "; ".join(errs[:6])))
        sys.exit(1)


if __name__ == "__main__":
    main()
