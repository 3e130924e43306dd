"""What the Python package's tests share: the groklab program they compare
against ($GROKLAB_BIN) and a runner for it."""
import os
import subprocess

import pytest


@pytest.fixture(scope="session")
def cli():
    exe = os.environ.get("GROKLAB_BIN")
    if not exe or not os.access(exe, os.X_OK):
        pytest.fail("GROKLAB_BIN must name the groklab program these tests compare against")

    def run(*args, check=True):
        r = subprocess.run([exe, *map(str, args)], capture_output=True, text=True)
        if check and r.returncode != 0:
            raise AssertionError(f"groklab {' '.join(map(str, args))} exited {r.returncode}: {r.stderr}")
        return r
    return run


def same_file(a, b):
    with open(a, "rb") as fa, open(b, "rb") as fb:
        return fa.read() == fb.read()
