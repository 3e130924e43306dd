"""Compares two groklab sweep stores: every column of runs except timings,
worker names and attempt counts, and every logged metric row.
usage: same_store.py A/sweep.db B/sweep.db   (exit 0 when identical)"""
import sqlite3
import sys

SKIP = {"worker", "attempts", "wall_seconds", "finished_at"}


def load(path):
    db = sqlite3.connect(path)
    cols = [r[1] for r in db.execute("PRAGMA table_info(runs)") if r[1] not in SKIP]
    runs = db.execute("SELECT %s FROM runs ORDER BY id" % ", ".join('"%s"' % c for c in cols)).fetchall()
    metrics = db.execute("SELECT * FROM metrics ORDER BY run_id, step").fetchall()
    return runs, metrics


a, b = load(sys.argv[1]), load(sys.argv[2])
same = a == b and len(a[0]) > 0
print("%d runs, %d metric rows; %s" % (len(a[0]), len(a[1]), "identical" if same else "DIFFERENT"))
if not same:
    for x, y in zip(a[0], b[0]):
        if x != y:
            print("first differing run:", x[:3], y[:3])
            break
sys.exit(0 if same else 1)
