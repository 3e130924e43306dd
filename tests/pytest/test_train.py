"""groklab.train and train_population against groklab train for the same
configs: the same files, byte for byte; knobs, errors and help from the
library's field table."""
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import groklab
from groklab import _st as st
from conftest import same_file

KNOBS = dict(p=23, steps=300, noise=0.2, wd=1.0, lr=0.01, seed=3, split_seed=4, noise_seed=5, log_every=10)


def _summary_without_time(path):
    with open(path) as f:
        s = json.load(f)
    s.pop("wall_seconds")
    return s


def test_train_writes_what_the_cli_writes(cli, tmp_path):
    flags = [x for k, v in KNOBS.items() for x in (f"--{k.replace('_', '-')}", v)]
    cli("train", *flags, "--quiet", "--out", tmp_path / "cli")
    run = groklab.train(tmp_path / "py", progress=False, **KNOBS)
    for name in ("metrics.csv", "config.json", "model.safetensors", "init.safetensors", "data.safetensors"):
        assert same_file(tmp_path / "cli" / name, run.path / name), name
    # the checkpoint's tensors (its metadata holds the wall time)
    a, _ = st.read(tmp_path / "cli" / "checkpoint.safetensors")
    b, _ = st.read(run.path / "checkpoint.safetensors")
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
    assert _summary_without_time(tmp_path / "cli" / "summary.json") == _summary_without_time(run.path / "summary.json")
    # what Run reads back is the files' content
    m = run.metrics
    last = np.genfromtxt(tmp_path / "cli" / "metrics.csv", delimiter=",", names=True)[-1]
    assert float(m["test_acc"].iloc[-1]) == float(last["test_acc"])
    assert run.phase == json.load(open(tmp_path / "cli" / "summary.json"))["phase"]
    assert run.config["noise"] == 0.2 and run.config["p"] == 23


def test_in_memory_run_is_the_same_run_and_goes_away(cli, tmp_path):
    cli("train", "--p", 23, "--steps", 100, "--quiet", "--out", tmp_path / "cli")
    run = groklab.train(p=23, steps=100, progress=False)
    assert run.temporary
    assert same_file(tmp_path / "cli" / "metrics.csv", run.path / "metrics.csv")
    kept = run.save(tmp_path / "kept")
    path = run.path
    del run
    assert not path.exists() and (kept.path / "metrics.csv").exists()


def test_population_members_equal_runs_trained_alone(cli, tmp_path):
    members = [dict(p=23, steps=200, wd=w, noise=0.1) for w in (0, 2, 5)]
    runs = groklab.train_population(members, tmp_path / "pop", progress=False)
    for i, (k, run) in enumerate(zip(members, runs)):
        cli("train", "--p", 23, "--steps", 200, "--wd", k["wd"], "--noise", 0.1, "--quiet", "--out", tmp_path / f"c{i}")
        assert same_file(tmp_path / f"c{i}" / "metrics.csv", run.path / "metrics.csv")
        assert same_file(tmp_path / f"c{i}" / "model.safetensors", run.path / "model.safetensors")


def test_resume_continues_bit_for_bit(cli, tmp_path):
    cli("train", "--p", 23, "--steps", 200, "--quiet", "--out", tmp_path / "whole")
    groklab.train(tmp_path / "part", p=23, steps=100, progress=False)
    groklab.train(tmp_path / "part", resume=True, steps=200, progress=False)
    assert same_file(tmp_path / "whole" / "metrics.csv", tmp_path / "part" / "metrics.csv")
    with pytest.raises(ValueError, match="cannot change when resuming"):
        groklab.train(tmp_path / "part", resume=True, wd=1, progress=False)
    # a decaying learning rate spans the run's steps, so they stay
    groklab.train(tmp_path / "decay", p=23, steps=50, lr_decay="cosine", grokfast="ema", progress=False)
    with pytest.raises(ValueError, match="steps cannot change when resuming a run with lr_decay cosine"):
        groklab.train(tmp_path / "decay", resume=True, steps=100, progress=False)
    # it continues from the checkpoint, not from the start: another seed's
    # checkpoint in its place changes where it ends
    groklab.train(tmp_path / "other", p=23, steps=100, seed=9, progress=False)
    groklab.train(tmp_path / "swap", p=23, steps=100, progress=False)
    shutil.copy(tmp_path / "other" / "checkpoint.safetensors", tmp_path / "swap" / "checkpoint.safetensors")
    groklab.train(tmp_path / "swap", resume=True, steps=200, progress=False)
    assert not same_file(tmp_path / "whole" / "model.safetensors", tmp_path / "swap" / "model.safetensors")


@pytest.mark.parametrize("knobs", [dict(p=1), dict(frac=2), dict(loss="hinge"), dict(model="cnn"),
                                   dict(task="div", p=24), dict(batch=10**6, p=23)])
def test_bad_knobs_raise_the_cli_message(cli, knobs):
    flags = [x for k, v in knobs.items() for x in (f"--{k}", v)]
    r = cli("train", *flags, "--steps", 0, "--out", "/nonexistent/never", check=False)
    assert r.returncode == 2
    with pytest.raises(ValueError) as e:
        groklab.train(progress=False, steps=0, **knobs)
    assert r.stderr.strip() == f"groklab: {e.value}"


def test_unknown_knob_and_existing_directory(tmp_path):
    with pytest.raises(ValueError, match="unknown option 'lossx'"):
        groklab.train(lossx=1)
    groklab.train(tmp_path / "r", p=23, steps=10, progress=False)
    with pytest.raises(ValueError, match="force"):
        groklab.train(tmp_path / "r", p=23, steps=10, progress=False)
    groklab.train(tmp_path / "r", p=23, steps=10, progress=False, force=True)


def test_help_lists_every_knob_of_the_cli(cli):
    text = cli("train", "--help").stdout
    flags = {line.split()[0][2:].replace("-", "_") for line in text.splitlines() if line.startswith("  --")}
    names = {k.name for k in groklab.knobs()}
    assert names <= flags
    doc = groklab.train.__doc__
    for k in groklab.knobs():
        assert f"    {k.name} ({k.kind}, default" in doc
        if k.allowed:
            assert k.allowed in doc
    lr = next(k for k in groklab.knobs() if k.name == "lr")
    assert lr.default == "0.01" and lr.kind == "float"


def test_ctrl_c_stops_with_a_checkpoint_and_resumes(cli, tmp_path):
    """SIGINT during groklab.train: KeyboardInterrupt naming the step, a
    checkpoint, and resuming from it gives the weights of an uninterrupted
    run of as many steps."""
    script = textwrap.dedent(f"""
        import sys, groklab
        try:
            groklab.train({str(tmp_path / 'r')!r}, p=97, steps=100000, checkpoint_every=0, progress=False)
        except KeyboardInterrupt as e:
            print("INTERRUPTED", e); sys.exit(3)
        print("FINISHED")
    """)
    p = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env=os.environ)
    import re
    import time
    deadline = time.time() + 60
    while not (tmp_path / "r" / "init.safetensors").exists() and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=120)
    assert p.returncode == 3, (out, err)
    m = re.search(r"INTERRUPTED interrupted at step (\d+) of 100000", out)
    assert m and "resume=True" in out, out
    assert (tmp_path / "r" / "checkpoint.safetensors").exists()
    steps = int(m.group(1)) + 20
    groklab.train(tmp_path / "r", resume=True, steps=steps, progress=False)
    cli("train", "--p", 97, "--steps", steps, "--checkpoint-every", 0, "--quiet", "--out", tmp_path / "whole")
    assert same_file(tmp_path / "whole" / "model.safetensors", tmp_path / "r" / "model.safetensors")
