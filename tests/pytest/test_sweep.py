"""groklab.sweep and open_sweep against groklab sweep, export and phase."""
import sqlite3

import numpy as np

import groklab
from groklab._core import read_table


def test_sweep_equals_the_cli_sweep(cli, tmp_path):
    s = groklab.sweep(tmp_path / "py", p=11, steps=100, wd=[0, 5], noise=[0, 0.2], progress=False)
    cli("sweep", "--out", tmp_path / "cli", "--p", 11, "--steps", 100, "--wd", "0,5", "--noise", "0,0.2", "--quiet")
    assert s.counts()["done"] == 4
    cli("export", tmp_path / "cli", "--csv", tmp_path / "runs.csv", "--metrics", tmp_path / "metrics.csv")
    runs = s.runs
    cli_runs = read_table(tmp_path / "runs.csv")
    np.testing.assert_array_equal(np.asarray(runs["test_acc"], float), cli_runs["test_acc"])
    m = s.metrics
    cli_m = read_table(tmp_path / "metrics.csv")
    np.testing.assert_array_equal(np.asarray(m["train_loss"], float), cli_m["train_loss"])
    cli("phase", tmp_path / "cli", "--x", "wd", "--y", "noise", "--quiet")
    cells = s.phase(x="wd", y="noise")
    cli_cells = read_table(tmp_path / "cli" / "phase.csv")
    assert list(cells["phase"]) == list(cli_cells["phase"])
    # the subset rule, its Wilson columns and the rule comparison, as the CLI writes them
    cli("phase", tmp_path / "cli", "--x", "wd", "--y", "noise", "--rule", "subset", "--quiet")
    cells = s.phase(x="wd", y="noise", rule="subset")
    cli_cells = read_table(tmp_path / "cli" / "phase.csv")
    assert list(cells.columns) == list(cli_cells.columns) and "lo_coexistence" in cells.columns
    for col in ("phase", "uncertain", "rule", "hi_memorization"):
        assert list(cells[col]) == list(cli_cells[col]), col
    assert set(cells["rule"]) == {"subset"}
    dis = s.rule_disagreements(x="wd", y="noise")
    assert list(dis.columns) == list(read_table(tmp_path / "cli" / "rule-disagreements.csv").columns)
    import pytest
    with pytest.raises(ValueError, match="paper, subset"):
        s.phase(rule="table2")


def test_open_sweep_resumes_and_refuses_another_grid(tmp_path):
    groklab.sweep(tmp_path / "s", p=11, steps=50, wd=[0, 1], progress=False)
    s = groklab.open_sweep(tmp_path / "s").resume(progress=False)
    assert s.counts()["done"] == 2
    import pytest
    with pytest.raises(ValueError, match="extend"):
        groklab.sweep(tmp_path / "s", p=11, steps=50, wd=[0, 1, 2], progress=False)
    groklab.sweep(tmp_path / "s", p=11, steps=50, wd=[0, 1, 2], extend=True, progress=False)
    assert groklab.open_sweep(tmp_path / "s").counts()["done"] == 3


def test_a_sweep_with_snapshots_keeps_each_run_directory(tmp_path):
    s = groklab.sweep(tmp_path / "s", p=11, steps=60, snapshots=3, wd=[0, 5], progress=False)
    runs = s.runs
    for i, te in zip(runs["id"], runs["test_acc"]):
        r = s.run(int(i))
        assert r.config["snapshots"] == 3
        assert r.summary["test_acc"] == float(te)
        assert len(r.snapshots) >= 3
    plain = groklab.sweep(tmp_path / "plain", p=11, steps=20, wd=[0], progress=False)
    import pytest
    with pytest.raises(FileNotFoundError, match="no run directory"):
        plain.run(1)


def test_refine_seeds_trains_extra_seeds_where_two_seeds_disagree_as_the_cli(cli, tmp_path):
    grid = dict(p=11, width=128, steps=300, frac="0.1:0.9:9", noise="0:0.8:9", wd=15)
    groklab.sweep(tmp_path / "s", seeds=2, refine_seeds=3, progress=False, **grid)
    cli("sweep", "--out", tmp_path / "c", "--p", 11, "--width", 128, "--steps", 300, "--frac", "0.1:0.9:9",
        "--noise", "0:0.8:9", "--wd", 15, "--seeds", 2, "--refine-seeds", 3, "--quiet")

    def rows(d):
        con = sqlite3.connect(d / "sweep.db")
        return con.execute("SELECT frac, noise, replicate, status, phase FROM runs ORDER BY frac, noise, replicate").fetchall()
    r = rows(tmp_path / "s")
    assert r == rows(tmp_path / "c") and len(r) == 243
    by_point = {}
    for frac, noise, rep, status, phase in r:
        by_point.setdefault((frac, noise), {})[rep] = (status, phase)
    extra = 0
    for pt, reps in by_point.items():
        # two seeds that disagree are uncertain (1 of 2: Wilson lower bound 0.09); two that agree are not
        want = "done" if reps[0][1] != reps[1][1] else "unscheduled"
        assert reps[2][0] == want, (pt, reps)
        extra += want == "done"
    assert 0 < extra < 81


def test_a_refined_sweep_infers_the_rest_and_completes_into_the_cli_full_grid(cli, tmp_path):
    grid = dict(p=11, steps=100, frac="0.1:0.9:9", noise="0:0.8:5", wd=5)
    s = groklab.sweep(tmp_path / "r", refine=True, progress=False, **grid)
    ph = s.phase()
    assert len(ph["inferred"]) == 45
    trained = s.counts()["done"] + s.counts()["diverged"] + s.counts()["failed"]
    assert trained < 45 and sum(ph["inferred"]) == 45 - trained
    assert all(n == 0 for n, i in zip(ph["runs"], ph["inferred"]) if i)
    s.complete(progress=False)
    assert s.counts()["done"] == 45 and sum(s.phase()["inferred"]) == 0
    cli("sweep", "--out", tmp_path / "full", "--p", 11, "--steps", 100, "--frac", "0.1:0.9:9", "--noise", "0:0.8:5",
        "--wd", 5, "--quiet")
    full = groklab.open_sweep(tmp_path / "full").phase()
    assert list(full["phase"]) == list(s.phase()["phase"])
