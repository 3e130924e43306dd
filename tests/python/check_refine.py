"""A refined sweep (groklab sweep --refine) against the rule of docs/design.md,
recomputed here from the store's rows and phase.csv.

usage: check_refine.py DIR [--completed DIR2 --full DIR3]

DIR: its sweep.db and phase.csv (groklab phase DIR). Per panel (the values of
the axes other than x, y and replicate), with a point's phase the majority
of its seeds (ties: the lower phase index) and K_r the points finished by
round r:
  - the seeds of a point share their round; a store with extra seeds
    (--refine-seeds, "seeds" S in its refine key) trains a point's
    replicates S.. all in the round after its own, exactly when its S seeds
    are uncertain (they disagree and the majority's 95% Wilson interval
    reaches below 1/2, recomputed here), and never otherwise;
  - round 0 is the coarse lattice: stride s per axis the largest power of two
    leaving at least 4 intervals, both ends included;
  - round r+1 is exactly what the rule asks for given K_r: every untrained
    point whose neighbours at its level (the two lattice points it lies
    between along one axis, or the four edge midpoints around a centre)
    all have values, trained or inferred, that disagree;
  - after the last round the rule asks for nothing more;
  - phase.csv has a row per target point; a trained one has its seeds'
    count and majority; an untrained one is inferred 1, runs 0, and its
    phase is the one value of its neighbours.
--completed DIR2 --full DIR3: DIR2 is DIR after groklab sweep --resume DIR2
--complete, DIR3 the same grid as a full sweep: every run of DIR2 was trained
once (attempts 1), the runs DIR trained kept their rows (round, finish time,
metrics), and DIR2's phase.csv equals DIR3's. Prints what it checked; exits 1
on the first difference.
"""
import csv
import json
import math
import os
import sqlite3
import sys

PHASES = ["coexistence", "partial_inversion", "full_inversion", "memorization", "forgetting", "confusion"]


def fail(msg):
    print("NOT OK  " + msg)
    sys.exit(1)


def ok(msg):
    print("OK      " + msg)


def stride(n):
    s = 1
    while n > 1 and (n - 1) // (2 * s) >= 4:
        s *= 2
    return s


def lattice(n, s):
    return [i for i in range(n) if i % s == 0 or i == n - 1]


def levels(sx, sy):
    t = 0
    while max(sx >> t, 1) > 1 or max(sy >> t, 1) > 1:
        t += 1
    return t


def st(s0, t):
    return max(s0 >> t, 1)


def rows_of(db):
    con = sqlite3.connect(db)
    con.row_factory = sqlite3.Row
    keys = dict(con.execute("SELECT key, value FROM sweep").fetchall())
    rows = [dict(r) for r in con.execute("SELECT * FROM runs ORDER BY id")]
    return keys, rows


def panels(keys, rows):
    """{panel: {(ix, iy): [rows]}}, the x and y values, the refinement's knobs."""
    ref = json.loads(keys["refine"])
    x, y = (ref["x"], ref["y"]) if ref.get("spatial", 1) else ("frac", "noise")  # seeds only: the test's grid
    axes = [a["name"] for a in json.loads(keys["definition"])["axes"]]
    other = [a for a in axes if a not in (x, y, "replicate")]
    xs = sorted({float(r[x]) for r in rows})
    ys = sorted({float(r[y]) for r in rows})
    out = {}
    for r in rows:
        p = tuple(str(r[a]) for a in other)
        out.setdefault(p, {}).setdefault((xs.index(float(r[x])), ys.index(float(r[y]))), []).append(r)
    return x, y, xs, ys, out


def majority(rs):
    """A finished point's phase index (-3: finished without a phase), None if not finished."""
    if any(r["status"] not in ("done", "diverged", "failed") for r in rs):
        return None
    n = [sum(r["phase"] == p for r in rs) for p in PHASES]
    best = max(range(6), key=lambda i: (n[i], -i))
    return best if n[best] else -3


def wilson_lower(k, n, z=1.96):
    p = k / n
    return (p + z * z / (2 * n) - z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))) / (1 + z * z / n)


def uncertain(rs):
    """Seeds disagree and the majority's 95% Wilson interval reaches below 1/2."""
    n = [sum(r["phase"] == p for r in rs) for p in PHASES]
    runs = sum(n)
    return runs > 0 and max(n) < runs and wilson_lower(max(n), runs) < 0.5


def values(nx, ny, known):
    """Every point's value given known {(i, j): phase} (the finished points), and
    the untrained points the rule asks for: level by level from the coarse
    lattice, a point off the level-t lattice takes the one value of the two
    level-t points it lies between along one axis, or (off it in both axes)
    of the four level-(t+1) points around it; it is needed where they all
    have values that disagree (or one failed)."""
    sx, sy = stride(nx), stride(ny)
    val = dict(known)
    need = {(i, j) for i in lattice(nx, sx) for j in lattice(ny, sy)} - set(known)
    for t in range(levels(sx, sy)):
        X, Y = lattice(nx, st(sx, t)), lattice(ny, st(sy, t))
        FX, FY = lattice(nx, st(sx, t + 1)), lattice(ny, st(sy, t + 1))

        def around(v, lat):
            return max(a for a in lat if a < v), min(a for a in lat if a > v)
        for centres in (False, True):
            for i in FX:
                for j in FY:
                    if (i in X and j in Y) or (i not in X and j not in Y) != centres or (i, j) in known:
                        continue
                    nb = []
                    if i not in X:
                        lo, hi = around(i, X)
                        nb += [(lo, j), (hi, j)]
                    if j not in Y:
                        lo, hi = around(j, Y)
                        nb += [(i, lo), (i, hi)]
                    vs = [val.get(q) for q in nb]
                    if any(v is None for v in vs):
                        continue
                    if len(set(vs)) > 1 or -3 in vs:
                        need.add((i, j))
                    else:
                        val[(i, j)] = vs[0]
    return val, need


def needed(nx, ny, known):
    return values(nx, ny, known)[1]


def check_refined(d):
    keys, rows = rows_of(os.path.join(d, "sweep.db"))
    if "refine" not in keys:
        fail(f"{d}: not a refined sweep")
    ref = json.loads(keys["refine"])
    base = ref.get("seeds", 0) or 1 << 30  # replicates from here on are extra seeds
    spatial = ref.get("spatial", 1)
    x, y, xs, ys, pan = panels(keys, rows)
    nx, ny = len(xs), len(ys)
    cells = {}
    with open(os.path.join(d, "phase.csv")) as f:
        for r in csv.DictReader(f):
            cells[(r["facet"], float(r[x]), float(r[y]))] = r
    n_extra = n_uncertain = 0
    for p, pts in pan.items():
        if len(pts) != nx * ny:
            fail(f"panel {p}: {len(pts)} points, want {nx * ny}")
        rounds = {}
        for k, rs in pts.items():
            rr = {r["round"] for r in rs if (r["replicate"] or 0) < base}
            if len(rr) != 1:
                fail(f"panel {p} point {k}: its seeds have rounds {rr}")
            rounds[k] = rr.pop()
            # extra seeds: all in the round after the point's, exactly where its seeds are uncertain
            extra = {r["round"] for r in rs if (r["replicate"] or 0) >= base}
            if extra:
                base_rows = [r for r in rs if (r["replicate"] or 0) < base]
                want = {rounds[k] + 1} if rounds[k] is not None and uncertain(base_rows) else {None}
                if extra != want:
                    fail(f"panel {p} point {k}: extra seeds in rounds {extra}, want {want} "
                         f"(seeds {[r['phase'] for r in base_rows]})")
                n_extra += want != {None}
                n_uncertain += uncertain(rs)
        last = max((r for r in rounds.values() if r is not None), default=-1)

        def known_by(r):  # the points finished before round r, each the majority of its rows before r
            out = {}
            for k, rs in pts.items():
                if rounds[k] is not None and rounds[k] <= r - 1:
                    out[k] = majority([q for q in rs if q["round"] is not None and q["round"] <= r - 1])
            return out
        for r in range(last + 1) if spatial else []:
            known = known_by(r)
            if any(v is None for v in known.values()):
                fail(f"panel {p}: a point of a round before {r} is not finished")
            want = needed(nx, ny, known) if r > 0 else needed(nx, ny, {})
            got = {k for k, rk in rounds.items() if rk == r}
            if got != want:
                fail(f"panel {p} round {r}: scheduled {sorted(got - want)} beyond the rule, "
                     f"missing {sorted(want - got)}")
        known = {k: majority([r for r in pts[k] if r["status"] != "unscheduled"])
                 for k, rk in rounds.items() if rk is not None}
        if any(v is None for v in known.values()):
            fail(f"panel {p}: a scheduled point is not finished")
        val, more = values(nx, ny, known)
        if spatial and more:
            fail(f"panel {p}: after round {last} the rule still asks for {sorted(more)}")
        ok(f"panel {p}: rounds 0..{last} are what the rule asks for ({len(known)} of {nx * ny} points trained)")
        facet = p[0] if p else ""
        n_inf = 0
        for (i, j), rs in pts.items():
            c = cells.get((facet, xs[i], ys[j]))
            if c is None:
                fail(f"panel {p} point ({xs[i]}, {ys[j]}): no row in phase.csv")
            if (i, j) in known:
                m, done = known[(i, j)], [r for r in rs if r["status"] != "unscheduled"]
                if c["inferred"] != "0" or int(c["runs"]) != len(done) or (m >= 0 and int(c["phase_index"]) != m):
                    fail(f"panel {p} trained point ({xs[i]}, {ys[j]}): phase.csv {dict(c)}, seeds' majority {m}")
            else:
                ph = val.get((i, j))
                if ph is None or ph < 0:
                    fail(f"panel {p} point ({xs[i]}, {ys[j]}): no value from its neighbours")
                if c["inferred"] != "1" or c["runs"] != "0" or int(c["phase_index"]) != ph:
                    fail(f"panel {p} untrained point ({xs[i]}, {ys[j]}): phase.csv {dict(c)}, neighbours' {ph}")
                n_inf += 1
        ok(f"panel {p}: {n_inf} inferred cells, each the one phase of the neighbours it lies between")
    if base < 1 << 30:
        ok(f"extra seeds trained at {n_extra} points, exactly those whose {base} seeds were uncertain "
           f"(Wilson recomputed here); {n_uncertain} still uncertain with all their seeds")
    return keys, rows


def check_completed(refined_rows, d2, d3):
    _, rows2 = rows_of(os.path.join(d2, "sweep.db"))
    before = {r["id"]: r for r in refined_rows}
    for r in rows2:
        if r["status"] != "done" or r["attempts"] != 1:
            fail(f"{d2} run {r['id']}: status {r['status']}, attempts {r['attempts']}")
        b = before[r["id"]]
        if b["status"] == "done":
            same = ["round", "finished_at", "train_acc", "test_acc", "phase"]
            if any(b[k] != r[k] for k in same):
                fail(f"{d2} run {r['id']}: changed by --complete ({[(k, b[k], r[k]) for k in same]})")
        elif r["round"] is not None:
            fail(f"{d2} run {r['id']}: completed with round {r['round']}, want NULL")
    ok(f"{d2}: every one of {len(rows2)} runs trained once; the refined runs kept their rows")

    def table(d):
        with open(os.path.join(d, "phase.csv")) as f:
            return [{k: v for k, v in r.items()} for r in csv.DictReader(f)]
    t2, t3 = table(d2), table(d3)
    if t2 != t3:
        diff = [(a, b) for a, b in zip(t2, t3) if a != b]
        fail(f"completed vs full phase.csv: {len(diff)} rows differ, first {diff[:1]}")
    ok(f"{d2}/phase.csv equals {d3}/phase.csv ({len(t2)} cells)")


def check_seeds_completed(d):
    """A seed-refined store after --complete: every base row finished; a point's
    extra seeds trained exactly when its base seeds are uncertain."""
    keys, rows = rows_of(os.path.join(d, "sweep.db"))
    base = json.loads(keys["refine"])["seeds"]
    pts = {}
    for r in rows:
        k = json.loads(r["point"])
        for knob in ("seed", "split_seed", "noise_seed"):
            k.pop(knob, None)
        pts.setdefault(json.dumps(k, sort_keys=True), []).append(r)
    n_extra = 0
    for k, rs in pts.items():
        b = [r for r in rs if r["replicate"] < base]
        e = [r for r in rs if r["replicate"] >= base]
        if any(r["status"] != "done" for r in b):
            fail(f"{d} point {k}: base seeds {[r['status'] for r in b]}")
        want = "done" if uncertain(b) else "unscheduled"
        if any(r["status"] != want for r in e):
            fail(f"{d} point {k}: extra seeds {[r['status'] for r in e]}, want {want} (seeds {[r['phase'] for r in b]})")
        n_extra += want == "done"
    ok(f"{d}: {len(pts)} points, every base seed done, extra seeds at the {n_extra} uncertain ones only")


if "--seeds-completed" in sys.argv:
    check_seeds_completed(sys.argv[1])
    sys.exit(0)
refined = check_refined(sys.argv[1])
if "--completed" in sys.argv:
    a = sys.argv
    check_completed(refined[1], a[a.index("--completed") + 1], a[a.index("--full") + 1])
