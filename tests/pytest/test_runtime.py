"""groklab.runtime and gpu_available: the settings of where runs execute,
read from the same environment variables as the groklab program (which must
refuse the same bad values), and device="cuda" from Python on the host
emulator against groklab train --device cuda: the same files."""
import os
import re
import subprocess
import sys
import textwrap

import pytest

import groklab
from conftest import same_file

DEFAULTS = dict(memory_limit=0.0, gpu=-1, local_rank=-1, tf32=False, gpu_emulate=False, gpu_emulate_bytes=0.0,
                gpu_graphs=True, gpu_sync=False)
SETTINGS_ENV = ("GROKLAB_MEMORY_LIMIT", "GROKLAB_GPU", "GROKLAB_TF32", "GROKLAB_GPU_EMULATE",
                "GROKLAB_GPU_EMULATE_BYTES", "GROKLAB_GPU_GRAPHS", "GROKLAB_GPU_SYNC", "OMPI_COMM_WORLD_LOCAL_RANK",
                "SLURM_LOCALID")


@pytest.fixture(autouse=True)
def restore_settings():
    """Each test starts from the defaults, and leaves them as it found them."""
    before = groklab.runtime()
    groklab.runtime(**DEFAULTS)
    yield
    groklab.runtime(**before)


def environment(env):
    """This process's environment without the settings' variables, plus env."""
    full = {k: v for k, v in os.environ.items() if k not in SETTINGS_ENV}
    full.update(env)
    return full


def python_with(env, code):
    """code in a fresh interpreter under environment(env)."""
    return subprocess.run([sys.executable, "-W", "always", "-c", textwrap.dedent(code)], env=environment(env),
                          capture_output=True, text=True)


def program(env, *args):
    """the groklab program under environment(env)."""
    return subprocess.run([os.environ["GROKLAB_BIN"], *map(str, args)], env=environment(env), capture_output=True,
                          text=True)


def test_defaults_and_setting_by_name():
    assert groklab.runtime() == DEFAULTS
    now = groklab.runtime(gpu=2, tf32=True, gpu_emulate="strict", memory_limit=8e9, gpu_graphs=False)
    assert now == dict(DEFAULTS, gpu=2, tf32=True, gpu_emulate="strict", memory_limit=8e9, gpu_graphs=False)
    assert groklab.runtime(gpu_emulate=1)["gpu_emulate"] is True
    assert groklab.runtime(gpu_emulate=False)["gpu_emulate"] is False


@pytest.mark.parametrize("name, value, allowed", [
    ("tf32", "yes", "0 or 1"),
    ("gpu", -2, "-1 (the default) or an index 0 to 65535"),
    ("gpu", "1.5", "-1 (the default) or an index 0 to 65535"),
    ("gpu_emulate", "on", "0, 1 or strict"),
    ("memory_limit", -1, "a number of bytes >= 0"),
    ("memory_limit", "nan", "a number of bytes >= 0"),
])
def test_a_bad_value_is_refused_and_changes_nothing(name, value, allowed):
    with pytest.raises(ValueError, match=re.escape(f"{name}: '{value}' is not allowed (allowed: {allowed}")):
        groklab.runtime(gpu_sync=True, **{name: value})
    assert groklab.runtime() == DEFAULTS          # gpu_sync, given first, was not set either
    with pytest.raises(ValueError, match="unknown runtime setting 'gpus' \\(allowed: memory_limit, gpu, local_rank"):
        groklab.runtime(gpus=1)


def test_the_environment_of_the_program_applies_at_import():
    env = dict(GROKLAB_GPU="3", GROKLAB_TF32="1", GROKLAB_GPU_EMULATE="strict", GROKLAB_GPU_GRAPHS="0",
               GROKLAB_MEMORY_LIMIT="5e9", GROKLAB_GPU_SYNC="", SLURM_LOCALID="2")
    r = python_with(env, "import groklab; print(sorted(groklab.runtime().items()))")
    assert r.returncode == 0, r.stderr
    want = dict(DEFAULTS, gpu=3, tf32=True, gpu_emulate="strict", gpu_graphs=False, memory_limit=5e9, local_rank=2)
    assert r.stdout.strip() == str(sorted(want.items()))
    v = program(env, "version")
    assert v.returncode == 0 and v.stdout.splitlines()[-1] == (
        "settings: memory_limit=5000000000 gpu=3 local_rank=2 tf32=1 gpu_emulate=strict gpu_emulate_bytes=0 "
        "gpu_graphs=0 gpu_sync=0"), v.stdout
    # a bad value: the program refuses to start, naming the variable; Python
    # warns with the same words and keeps that setting's default
    r = python_with(dict(GROKLAB_TF32="true", GROKLAB_GPU="1"), "import groklab; print(groklab.runtime()['gpu'])")
    assert r.returncode == 0 and r.stdout.strip() == "1", r.stderr
    said = "GROKLAB_TF32: 'true' is not allowed (allowed: 0 or 1)"
    assert said in r.stderr, r.stderr
    c = program(dict(GROKLAB_TF32="true"), "version")
    assert c.returncode == 2 and c.stdout == "" and c.stderr.strip() == "groklab: " + said


def test_memory_limit_is_applied():
    groklab.runtime(memory_limit=1e6)
    with pytest.raises(ValueError, match=r"needs about [0-9.]+ MiB .* the limit is 0\.8 MiB \(80% of the memory_limit"):
        groklab.train(p=23, steps=10, progress=False)
    groklab.runtime(memory_limit=0)
    assert groklab.train(p=23, steps=10, progress=False).summary["steps"] == 10


def test_cuda_from_python_on_the_emulator_is_the_program_s_run(tmp_path):
    knobs = dict(p=23, width=48, steps=60, noise=0.2, log_every=10, device="cuda")
    if not groklab.gpu_available():
        ok, why = groklab.gpu_available(why=True)
        assert not ok and why
        with pytest.raises(groklab.NoDeviceError, match="--device cuda"):
            groklab.train(progress=False, **knobs)
    groklab.runtime(gpu_emulate="strict")
    assert groklab.gpu_available(why=True) == (True, "")
    runs = groklab.train_population([dict(knobs, wd=w) for w in (0, 2)], tmp_path / "pop", progress=False)
    for w, run in zip((0, 2), runs):
        out = tmp_path / f"cli{w}"
        r = program(dict(GROKLAB_GPU_EMULATE="strict"), "train", "--p", 23, "--width", 48, "--steps", 60, "--noise",
                    0.2, "--log-every", 10, "--device", "cuda", "--wd", w, "--quiet", "--out", out)
        assert r.returncode == 0, r.stderr
        assert run.config["device"] == "cuda"
        for name in ("metrics.csv", "model.safetensors", "config.json", "examples.csv"):
            assert same_file(out / name, run.path / name), (w, name)
    # launched operation by operation: the same bits as the recorded steps
    groklab.runtime(gpu_graphs=False)
    direct = groklab.train(tmp_path / "direct", wd=2, progress=False, **knobs)
    assert same_file(direct.path / "model.safetensors", runs[1].path / "model.safetensors")
