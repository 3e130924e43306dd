"""A refined sweep (groklab sweep --refine) against the rule of docs/design.md,
recomputed here from the store's rows and phase.csv.

usage: check_refine.py DIR [--completed DIR2 --full DIR3]

DIR: its sweep.db and phase.csv (groklab phase DIR). Per panel (the values of
the axes other than x, y and replicate), with a point's phase the majority
of its seeds (ties: the lower phase index) and K_r the points finished by
round r:
  - the seeds of a point share their round;
  - round 0 is the coarse lattice: stride s per axis the largest power of two
    leaving at least 4 intervals, both ends included;
  - round r+1 is exactly what the rule asks for given K_r and not yet
    scheduled: every level-(t+1) lattice point inside a level-t block whose
    corners are in K_r and whose points in K_r disagree;
  - after the last round the rule asks for nothing more;
  - phase.csv has a row per target point; a trained one has its seeds'
    count and majority; an untrained one is inferred 1, runs 0, and its
    phase is that of every finished point of the finest-level blocks around
    it whose corners are finished (they must agree).
--completed DIR2 --full DIR3: DIR2 is DIR after groklab sweep --resume DIR2
--complete, DIR3 the same grid as a full sweep: every run of DIR2 was trained
once (attempts 1), the runs DIR trained kept their rows (round, finish time,
metrics), and DIR2's phase.csv equals DIR3's. Prints what it checked; exits 1
on the first difference.
"""
import csv
import json
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


def intervals(n, s):
    v = lattice(n, s)
    return [(0, 0)] if len(v) == 1 else list(zip(v[:-1], v[1:]))


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
    x, y = ref["x"], ref["y"]
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


def needed(nx, ny, known):
    """The points the rule asks for given known {(i, j): phase}."""
    sx, sy = stride(nx), stride(ny)
    need = {(i, j) for i in lattice(nx, sx) for j in lattice(ny, sy)}
    for t in range(levels(sx, sy)):
        fx, fy = set(lattice(nx, st(sx, t + 1))), set(lattice(ny, st(sy, t + 1)))
        for a, b in intervals(nx, st(sx, t)):
            for c, d in intervals(ny, st(sy, t)):
                if not all(k in known for k in [(a, c), (a, d), (b, c), (b, d)]):
                    continue
                ph = {known[(i, j)] for i in range(a, b + 1) for j in range(c, d + 1) if (i, j) in known}
                if len(ph) > 1 or -3 in ph:
                    need |= {(i, j) for i in range(a, b + 1) for j in range(c, d + 1) if i in fx and j in fy}
    return need


def infer(nx, ny, known, i, j):
    sx, sy = stride(nx), stride(ny)
    for t in range(levels(sx, sy), -1, -1):
        ph, found = set(), False
        for a, b in intervals(nx, st(sx, t)):
            for c, d in intervals(ny, st(sy, t)):
                if not (a <= i <= b and c <= j <= d):
                    continue
                if not all(k in known for k in [(a, c), (a, d), (b, c), (b, d)]):
                    continue
                found = True
                ph |= {known[(p, q)] for p in range(a, b + 1) for q in range(c, d + 1) if (p, q) in known}
        if found:
            return ph
    return None


def check_refined(d):
    keys, rows = rows_of(os.path.join(d, "sweep.db"))
    if "refine" not in keys:
        fail(f"{d}: not a refined sweep")
    x, y, xs, ys, pan = panels(keys, rows)
    nx, ny = len(xs), len(ys)
    cells = {}
    with open(os.path.join(d, "phase.csv")) as f:
        for r in csv.DictReader(f):
            cells[(r["facet"], float(r[x]), float(r[y]))] = r
    trained_runs = 0
    for p, pts in pan.items():
        if len(pts) != nx * ny:
            fail(f"panel {p}: {len(pts)} points, want {nx * ny}")
        rounds = {}
        for k, rs in pts.items():
            rr = {r["round"] for r in rs}
            if len(rr) != 1:
                fail(f"panel {p} point {k}: its seeds have rounds {rr}")
            rounds[k] = rr.pop()
        last = max((r for r in rounds.values() if r is not None), default=-1)
        for r in range(last + 1):
            known = {k: majority(pts[k]) for k, rk in rounds.items() if rk is not None and rk <= r - 1}
            if any(v is None for v in known.values()):
                fail(f"panel {p}: a point of a round before {r} is not finished")
            sched = {k for k, rk in rounds.items() if rk is not None and rk <= r - 1}
            want = needed(nx, ny, known) - sched if r > 0 else needed(nx, ny, {})
            got = {k for k, rk in rounds.items() if rk == r}
            if got != want:
                fail(f"panel {p} round {r}: scheduled {sorted(got - want)} beyond the rule, "
                     f"missing {sorted(want - got)}")
        known = {k: majority(pts[k]) for k, rk in rounds.items() if rk is not None}
        if any(v is None for v in known.values()):
            fail(f"panel {p}: a scheduled point is not finished")
        more = needed(nx, ny, known) - set(known)
        if more:
            fail(f"panel {p}: after round {last} the rule still asks for {sorted(more)}")
        ok(f"panel {p}: rounds 0..{last} are what the rule asks for ({len(known)} of {nx * ny} points trained)")
        facet = p[0] if p else ""
        n_inf = 0
        for (i, j), rs in pts.items():
            c = cells.get((facet, xs[i], ys[j]))
            if c is None:
                fail(f"panel {p} point ({xs[i]}, {ys[j]}): no row in phase.csv")
            if (i, j) in known:
                trained_runs += len(rs)
                m = known[(i, j)]
                if c["inferred"] != "0" or int(c["runs"]) != len(rs) or (m >= 0 and int(c["phase_index"]) != m):
                    fail(f"panel {p} trained point ({xs[i]}, {ys[j]}): phase.csv {dict(c)}, seeds' majority {m}")
            else:
                ph = infer(nx, ny, known, i, j)
                if ph is None or len(ph) != 1 or -3 in ph:
                    fail(f"panel {p} point ({xs[i]}, {ys[j]}): its blocks' finished points are {ph}")
                if c["inferred"] != "1" or c["runs"] != "0" or int(c["phase_index"]) != ph.pop():
                    fail(f"panel {p} untrained point ({xs[i]}, {ys[j]}): phase.csv {dict(c)}")
                n_inf += 1
        ok(f"panel {p}: {n_inf} inferred cells, each the one phase of its blocks' trained points")
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


refined = check_refined(sys.argv[1])
if "--completed" in sys.argv:
    a = sys.argv
    check_completed(refined[1], a[a.index("--completed") + 1], a[a.index("--full") + 1])
