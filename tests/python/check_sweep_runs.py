"""A sweep whose runs kept their directories (--snapshots / --progress-measures):
each store row against DIR/runs/ID.

usage: check_sweep_runs.py DIR N [--remote-rank]

For each of the N runs of DIR/sweep.db (all must be done): config.json's wd,
snapshots and progress_measures equal the row's knobs; summary.json's
train_acc, test_acc and mean_ipr equal the row's (relative 1e-12); the row's
`memorized` equals the corrupted examples of examples.csv with a first step
at their given label; at least `snapshots` snapshot files; with progress
measures a progress.csv with rows. --remote-rank: some run was trained by MPI
rank 1 (worker "rank1"). Prints one line per run; exits 1 on the first
difference.
"""
import json
import os
import sqlite3
import sys

d, n = sys.argv[1], int(sys.argv[2])
remote = "--remote-rank" in sys.argv[3:]
rows = sqlite3.connect(os.path.join(d, "sweep.db")).execute(
    "SELECT id, wd, snapshots, progress_measures, status, train_acc, test_acc, mean_ipr, memorized, worker "
    "FROM runs ORDER BY id").fetchall()
assert len(rows) == n, rows
assert not remote or any(r[9] == "rank1" for r in rows), rows
for i, wd, snaps, pm, status, tr, te, ipr, mem, worker in rows:
    r = os.path.join(d, "runs", str(i))
    c = json.load(open(os.path.join(r, "config.json")))
    s = json.load(open(os.path.join(r, "summary.json")))
    assert status == "done", (i, status)
    assert (c["wd"], c.get("snapshots", 0), c.get("progress_measures", "off")) == (wd, snaps, pm), (i, c, wd, snaps, pm)
    for k, v in (("train_acc", tr), ("test_acc", te), ("mean_ipr", ipr)):
        assert abs(s[k] - v) <= 1e-12 * max(1, abs(v)), (i, k, s[k], v)
    ex = open(os.path.join(r, "examples.csv")).read().splitlines()
    head = ex[0].split(",")
    recs = [dict(zip(head, line.split(","))) for line in ex[1:]]
    n_mem = sum(1 for e in recs if e["corrupted"] == "1" and int(e["first_given"]) >= 0)
    assert n_mem == mem, (i, n_mem, mem)
    k = len(os.listdir(os.path.join(r, "snapshots"))) if snaps > 0 else 0
    assert k >= snaps, (i, k, snaps)
    if pm == "on":
        assert len(open(os.path.join(r, "progress.csv")).read().splitlines()) > 1, i
    print(f"run {i} ({worker}): wd {wd:g}, test_acc {te:.4f}, {mem} corrupted examples memorized, {k} snapshots")
