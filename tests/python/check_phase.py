"""Recomputes `groklab phase DIR [--rule R]` from DIR/sweep.db and the runs
table `groklab export DIR --csv RUNS_CSV` wrote, and compares with
DIR/phase.csv and DIR/rule-disagreements.csv.

usage: check_phase.py DIR RUNS_CSV

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
   dx, dy to 6); inferred is 0 (a full sweep: every cell trained). The cells
   rule column: paper (the phases of part 1) or subset (part 3's). Per phase
   its fraction k/n of the cell's runs and the 95% Wilson interval
   (centre (k + z^2/2) / (n + z^2), half-width
   z sqrt(k (n - k) / n + z^2/4) / (n + z^2), z = 1.96, clipped to [0, 1]);
   uncertain = 1 when the majority holds k < n runs and its Wilson lower
   bound is below 0.5.
3. The subset rule, run by run from RUNS_CSV's final accuracies (percent):
     no corrupted accuracy (empty): the paper's rule as in part 1
     test >= 90:  coexistence if corrupted_acc >= 90, full_inversion if
                  corrupted_true_acc >= 90, else partial_inversion
     test <  90:  memorization if train >= 90 and corrupted_acc >= 90, else
                  forgetting if test_acc_90 is set, else confusion
   (a run without final accuracies keeps runs.phase). The cells whose paper
   and subset majorities differ, each with both majorities, the number of
   runs the two rules classify differently, the means over the cell's runs
   of train_acc, test_acc, corrupted_acc, corrupted_true_acc, clean_acc and
   noise (runs with the value; nan when none), and the reason for the pair
   of phases, against every row of rule-disagreements.csv.
Prints one line per part; exit 1 on a mismatch.
"""

import csv
import json
import math
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


def subset_rule(run, xi):
    """The subset rule on one row of the exported runs table."""
    f = lambda k: float(run[k]) if run[k] != "" else math.nan
    train, test, given, truth = f("train_acc"), f("test_acc"), f("corrupted_acc"), f("corrupted_true_acc")
    reached = run["test_acc_90"] != ""
    if math.isnan(train) or math.isnan(test):
        return run["phase"]
    if math.isnan(given) or math.isnan(truth):
        return table2(train, test, xi, reached)
    if 100 * test >= 90:
        return "coexistence" if 100 * given >= 90 else "full_inversion" if 100 * truth >= 90 else "partial_inversion"
    if 100 * train >= 90 and 100 * given >= 90:
        return "memorization"
    return "forgetting" if reached else "confusion"


# why a paper phase and a subset phase differ, by the thresholds each rule uses
REASONS = {
    ("coexistence", "full_inversion"): "train >= 90% but corrupted_true >= 90%",
    ("coexistence", "partial_inversion"): "train >= 90% but corrupted and corrupted_true < 90%",
    ("partial_inversion", "coexistence"): "train < 90% but corrupted >= 90%",
    ("partial_inversion", "full_inversion"): "train >= 100(1.05 - xi) but corrupted_true >= 90%",
    ("full_inversion", "coexistence"): "train < 100(1.05 - xi) but corrupted >= 90%",
    ("full_inversion", "partial_inversion"): "train < 100(1.05 - xi) but corrupted_true < 90%",
    ("memorization", "forgetting"): "train >= 90% but corrupted < 90%",
    ("memorization", "confusion"): "train >= 90% but corrupted < 90%",
}


def wilson(k, n, z=1.96):
    centre = (k + z * z / 2) / (n + z * z)
    half = z * math.sqrt(k * (n - k) / n + z * z / 4) / (n + z * z)
    return max(0.0, centre - half), min(1.0, centre + half)


def close(got, want):
    """A number the C printed with %.6g against the recomputed one."""
    got = float(got)
    if math.isnan(want):
        return math.isnan(got)
    return abs(got - want) <= 5e-6 * max(1.0, abs(want))


def majority(count):
    return max(range(6), key=lambda i: (count[i], -i))


def half_gap(values, v):
    if len(values) == 1:
        return 0.05
    return 0.5 * min(abs(v - w) for w in values if w != v)


def main():
    d, runs_csv = sys.argv[1], sys.argv[2]
    db = sqlite3.connect(os.path.join(d, "sweep.db"))
    errs = []
    exported = {int(r["id"]): r for r in csv.DictReader(open(runs_csv))}

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

    # 2. the cells of phase.csv, and 3. by the subset rule
    subset_of = {rid: subset_rule(exported[rid], float(exported[rid]["noise"])) for rid in phase_of}
    definition = json.loads(db.execute("SELECT value FROM sweep WHERE key = 'definition'").fetchone()[0])
    facet = next((a["name"] for a in definition["axes"]
                  if len(a["values"]) > 1 and a["name"] not in ("frac", "noise", "replicate")), None)
    fcol = 'CAST("%s" AS TEXT)' % facet if facet else "''"
    cells = {}  # key -> {"paper": counts, "subset": counts, "ids": [...]}
    for rid, f, x, y in db.execute("SELECT id, %s, CAST(frac AS REAL), CAST(noise AS REAL) FROM runs"
                                   " WHERE status IN ('done', 'diverged') AND phase IS NOT NULL ORDER BY id" % fcol):
        c = cells.setdefault((f, x, y), {"paper": [0] * 6, "subset": [0] * 6, "ids": []})
        c["paper"][PHASES.index(phase_of[rid])] += 1
        c["subset"][PHASES.index(subset_of[rid])] += 1
        c["ids"].append(rid)
    xs = sorted({k[1] for k in cells})
    ys = sorted({k[2] for k in cells})

    def find(row):
        return next((k for k in cells if k[0] == row[0] and float("%.12g" % k[1]) == float(row[1])
                     and float("%.12g" % k[2]) == float(row[2])), None)

    with open(os.path.join(d, "phase.csv")) as fh:
        rd = csv.reader(fh)
        header = next(rd)
        got = list(rd)
    want_header = (["facet", "frac", "noise", "runs", "phase", "phase_index", "agree", "dx", "dy"] + PHASES
                   + [c + "_" + p for p in PHASES for c in ("frac", "lo", "hi")] + ["uncertain", "rule", "inferred"])
    if header != want_header:
        errs.append("header %s, want %s" % (header, want_header))
    rules = {row[header.index("rule")] for row in got} if "rule" in header else set()
    rule = rules.pop() if len(rules) == 1 else None
    if rule not in ("paper", "subset"):
        errs.append("phase.csv's rule column: %s (one of paper, subset for every row)" % sorted(rules | {rule}))
        rule = "paper"
    seen, n_uncertain = set(), 0
    for row in got:
        if len(row) != len(want_header):
            errs.append("row %s: %d fields" % (row, len(row)))
            continue
        key = find(row)
        if key is None or key in seen:
            errs.append("row %s: %s cell" % (row[:3], "no such" if key is None else "repeated"))
            continue
        seen.add(key)
        count = cells[key][rule]
        n = sum(count)
        m = majority(count)
        lo_m = wilson(count[m], n)[0]
        uncertain = int(count[m] < n and lo_m < 0.5)
        n_uncertain += uncertain
        want = {"runs": n, "phase": PHASES[m], "phase_index": m, "agree": int(count[m] == n),
                "dx": float("%.6g" % half_gap(xs, key[1])), "dy": float("%.6g" % half_gap(ys, key[2])),
                "uncertain": uncertain, "rule": rule}
        want.update(zip(PHASES, count))
        want["inferred"] = 0
        for col, w in want.items():
            v = row[want_header.index(col)]
            v = v if col in ("phase", "rule") else float(v) if col in ("dx", "dy") else int(v)
            if v != w:
                errs.append("cell %s %s %s: %s %r, recomputed %r" % (key[0], key[1], key[2], col, v, w))
        for i, p in enumerate(PHASES):
            lo, hi = wilson(count[i], n)
            for col, w in (("frac_" + p, count[i] / n), ("lo_" + p, lo), ("hi_" + p, hi)):
                if not close(row[want_header.index(col)], w):
                    errs.append("cell %s %s %s: %s %s, recomputed %.6g" % (key[0], key[1], key[2], col,
                                                                          row[want_header.index(col)], w))
    for key in cells.keys() - seen:
        errs.append("cell %s %s %s missing from phase.csv" % key)
    n_agree = sum(max(c[rule]) == sum(c[rule]) for c in cells.values())
    print("phase.csv (%s rule): %d cells (facet %s, %d x %d values of frac x noise) = recomputed: runs, counts, "
          "majority, agree (%d of %d), dx, dy, fractions and Wilson intervals, uncertain (%d)" % (
              rule, len(cells), facet or "none", len(xs), len(ys), n_agree, len(cells), n_uncertain))

    # 3. the disagreements of the two rules
    means = ("train_acc", "test_acc", "corrupted_acc", "corrupted_true_acc", "clean_acc", "noise")
    want_rows = {}
    for key, c in cells.items():
        p, q = PHASES[majority(c["paper"])], PHASES[majority(c["subset"])]
        if p == q:
            continue
        mean = {}
        for col in means:
            vals = [float(exported[i][col]) for i in c["ids"] if exported[i][col] != ""]
            mean[col] = sum(vals) / len(vals) if vals else math.nan
        want_rows[key] = (p, q, sum(phase_of[i] != subset_of[i] for i in c["ids"]), len(c["ids"]), mean,
                          REASONS.get((p, q), "the seeds split differently under the two rules"))
    with open(os.path.join(d, "rule-disagreements.csv")) as fh:
        rd = csv.reader(fh)
        header = next(rd)
        got = list(rd)
    want_header = ["facet", "frac", "noise", "runs", "paper", "subset", "runs_differ", "train_acc", "test_acc",
                   "corrupted_acc", "corrupted_true_acc", "clean_acc", "xi", "reason"]
    if header != want_header:
        errs.append("rule-disagreements.csv header %s, want %s" % (header, want_header))
    seen = set()
    for row in got:
        key = find(row) if len(row) == len(want_header) else None
        if key not in want_rows or key in seen:
            errs.append("rule-disagreements.csv row %s: not a cell where the rules disagree (or repeated)" % row[:6])
            continue
        seen.add(key)
        p, q, differ, n, mean, reason = want_rows[key]
        fields = dict(zip(want_header, row))
        if (fields["paper"], fields["subset"], int(fields["runs_differ"]), int(fields["runs"]), fields["reason"]) != \
                (p, q, differ, n, reason):
            errs.append("rule-disagreements.csv cell %s %s %s: %s, recomputed %s" % (
                key[0], key[1], key[2], row[3:7] + row[-1:], [n, p, q, differ, reason]))
        for col, name in zip(means, want_header[7:13]):
            if not close(fields[name], mean[col]):
                errs.append("rule-disagreements.csv cell %s %s %s: %s %s, recomputed %.6g" % (
                    key[0], key[1], key[2], name, fields[name], mean[col]))
    for key in want_rows.keys() - seen:
        errs.append("cell %s %s %s: the rules disagree, missing from rule-disagreements.csv" % key)
    n_runs_differ = sum(phase_of[i] != subset_of[i] for i in phase_of)
    print("subset rule recomputed from %s: %d runs classified differently from Table 2, and rule-disagreements.csv = "
          "the %d cells whose majorities differ (%s)" % (
              os.path.basename(runs_csv), n_runs_differ, len(want_rows),
              ", ".join(sorted({"%s -> %s" % r[:2] for r in want_rows.values()})) or "none"))
    if errs:
        print("%s: %d mismatches: %s" % (d, len(errs), "; ".join(errs[:6])))
        sys.exit(1)


if __name__ == "__main__":
    main()
