"""groklab.train with snapshots and progress measures, and Run.dynamics,
against the groklab program's files for the same config."""
import numpy as np

import groklab
from conftest import same_file

KNOBS = dict(p=23, width=64, frac=0.6, noise=0.2, wd=8, steps=600, log_every=100000, snapshots=12,
             progress_measures="on", threads=1)


def _cli(cli, tmp_path):
    args = ["train", "--quiet", "--out", tmp_path / "cli"]
    for k, v in KNOBS.items():
        args += [f"--{k.replace('_', '-')}", v]
    cli(*args)
    return tmp_path / "cli"


def test_snapshots_and_story_are_the_programs(cli, tmp_path):
    run = groklab.train(out=tmp_path / "py", progress=False, **KNOBS)
    cli = _cli(cli, tmp_path)
    steps = run.snapshots
    assert steps[0] == 0 and steps[-1] == 600 and len(steps) >= 12
    for s in steps:
        name = f"snapshots/step_{s:09d}.safetensors"
        assert same_file(run.path / name, cli / name), name
    for f in ("examples.csv", "progress.csv", "metrics.csv"):
        assert same_file(run.path / f, cli / f), f
    s, w = run.snapshot(590)
    assert s == 600 and np.array_equal(w["U"], run.weights["U"])
    ex = run.examples
    assert list(ex.columns)[:6] == ["index", "m", "n", "label", "true_label", "corrupted"]
    assert (ex["unlearned"] >= 0).sum() > 0


def test_dynamics_tables_are_the_commands(cli, tmp_path):
    run = groklab.train(out=tmp_path / "py", progress=False, **KNOBS)
    exe, cli = cli, _cli(cli, tmp_path)
    exe("dynamics", cli, "--quiet", "--no-plot")
    d = run.dynamics()
    for f in ("progress", "progress_snapshots", "key_power", "neuron_ipr", "neuron_power", "carriers"):
        assert same_file(run.path / "dynamics" / f"{f}.csv", cli / "dynamics" / f"{f}.csv"), f
        assert f in d
    last = d["progress"].iloc[-1]
    assert d["summary"]["step"] == 600
    assert abs(d["summary"]["accuracy"]["restricted"]["test"] - last["restricted_test_acc"]) < 1e-9
    one = run.dynamics(step=100)
    assert len(one["progress"]) == 1 and int(one["progress"]["step"].iloc[0]) == run.snapshot(100)[0]
