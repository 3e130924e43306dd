#!/usr/bin/env python3
"""py_overhead.py -- what the Python package's ctypes binding costs.

    GROKLAB_LIB=build/libgroklab.so PYTHONPATH=python /usr/bin/python3 bench/py_overhead.py \\
        [--groklab build/groklab] [--steps 2000] [--reps 3] [--threads 0] [--only a|b|c]

Prints, with the CPU model and load average:
  (a) ns per call of one trivial library function, gl_phase_classify(train,
      test, noise, reached): through the package's ctypes handle, through
      cffi in ABI mode (FFI().dlopen), and through a CPython extension module
      compiled here with cc against this interpreter's headers; each beside
      the same route's call of a function that does nothing, and a plain
      Python function call. Medians of 7 repetitions.
  (b) `import groklab` in a fresh interpreter (time inside the process, and
      the whole interpreter's wall time against `python3 -c pass`), and
      `import numpy` alone (the package imports it). Medians of 10.
  (c) ms per step of groklab.train() against `groklab train` for the default
      run (add mod 97, width 500, full batch), alternating, median of --reps:
      the wall time of the whole call or process, and the training loop's
      own time (summary.json's wall_seconds).
A benchmark, not a test: it checks nothing.
"""
import argparse
import json
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
import timeit

ARGS = (0.99, 0.98, 0.35, 1)

EXT_C = r"""
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <groklab/metrics.h>

static PyObject *classify(PyObject *self, PyObject *const *a, Py_ssize_t n) {
    (void)self;
    if (n != 4) {
        PyErr_SetString(PyExc_TypeError, "classify(train, test, noise, reached)");
        return NULL;
    }
    double tr = PyFloat_AsDouble(a[0]), te = PyFloat_AsDouble(a[1]), xi = PyFloat_AsDouble(a[2]);
    long r = PyLong_AsLong(a[3]);
    if (PyErr_Occurred()) return NULL;
    return PyLong_FromLong((long)gl_phase_classify(tr, te, xi, (int)r));
}

static PyObject *noop(PyObject *self, PyObject *const *a, Py_ssize_t n) {
    (void)self, (void)a, (void)n;
    return PyLong_FromLong(0);
}

static PyMethodDef methods[] = {
    {"classify", (PyCFunction)(void (*)(void))classify, METH_FASTCALL, "gl_phase_classify"},
    {"noop", (PyCFunction)(void (*)(void))noop, METH_FASTCALL, "nothing"},
    {NULL, NULL, 0, NULL},
};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_glbench", NULL, -1, methods};
PyMODINIT_FUNC PyInit__glbench(void) { return PyModule_Create(&module); }
"""

NOOP_C = "int gl_bench_noop(double a, double b, double c, int d) { (void)a, (void)b, (void)c, (void)d; return 0; }\n"


def cpu_model():
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def load_avg():
    return " ".join(open("/proc/loadavg").read().split()[:3])


def ns_per_call(fn, args, number=200000, repeat=7):
    """Median ns of fn(*args) called from a timeit loop (the loop's own cost,
    about 10 ns, included)."""
    g = {"f": fn, "a": args[0], "b": args[1], "c": args[2], "d": args[3]}
    t = timeit.repeat("f(a, b, c, d)", globals=g, number=number, repeat=repeat)
    return statistics.median(t) / number * 1e9


def build_ext(tmp, lib, src):
    """The extension module _glbench (calls gl_phase_classify) and a library
    with a do-nothing function of the same signature, for the baselines."""
    inc = sysconfig.get_paths()["include"]
    ext = tmp / ("_glbench" + sysconfig.get_config_var("EXT_SUFFIX"))
    (tmp / "ext.c").write_text(EXT_C)
    (tmp / "noop.c").write_text(NOOP_C)
    libdir = str(pathlib.Path(lib).resolve().parent)
    subprocess.run(["cc", "-O2", "-shared", "-fPIC", "-I" + inc, "-I" + str(src / "include"), str(tmp / "ext.c"),
                    str(pathlib.Path(lib).resolve()), "-Wl,-rpath," + libdir, "-o", str(ext)], check=True)
    noop = tmp / "libnoop.so"
    subprocess.run(["cc", "-O2", "-shared", "-fPIC", str(tmp / "noop.c"), "-o", str(noop)], check=True)
    return ext, noop


def part_a(tmp, src):
    import ctypes
    import cffi
    import groklab
    from groklab._lib import lib as ctlib
    ext, noop = build_ext(tmp, groklab.library_path, src)
    sys.path.insert(0, str(tmp))
    import _glbench

    c_noop = ctypes.CDLL(str(noop)).gl_bench_noop
    c_noop.restype, c_noop.argtypes = ctypes.c_int, [ctypes.c_double] * 3 + [ctypes.c_int]
    ffi = cffi.FFI()
    ffi.cdef("int gl_phase_classify(double, double, double, int); int gl_bench_noop(double, double, double, int);")
    f_lib, f_noop = ffi.dlopen(groklab.library_path), ffi.dlopen(str(noop))

    def py_noop(a, b, c, d):
        return 0
    want = ctlib.gl_phase_classify(*ARGS)
    assert f_lib.gl_phase_classify(*ARGS) == want == _glbench.classify(*ARGS), "the routes disagree"

    rows = [("ctypes (the package's handle)", ctlib.gl_phase_classify, c_noop),
            ("cffi ABI mode (FFI().dlopen)", f_lib.gl_phase_classify, f_noop.gl_bench_noop),
            ("CPython extension (METH_FASTCALL)", _glbench.classify, _glbench.noop),
            ("plain Python function", py_noop, None)]
    print("(a) one call of gl_phase_classify(0.99, 0.98, 0.35, 1), ns per call (median of 7 x 200000)")
    print("    %-36s %14s %18s" % ("route", "gl_phase_classify", "do-nothing C call"))
    for name, fn, nop in rows:
        t = ns_per_call(fn, ARGS)
        n = ns_per_call(nop, ARGS) if nop else float("nan")
        print("    %-36s %14.0f %18s" % (name, t, "%.0f" % n if nop else "-"))


def fresh(code, env, n=10):
    wall, inner = [], []
    for _ in range(n):
        t0 = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
        wall.append(time.perf_counter() - t0)
        if out.strip():
            inner.append(float(out))
    return statistics.median(wall) * 1e3, (statistics.median(inner) * 1e3 if inner else float("nan"))


def part_b(env):
    timed = "import time; t = time.perf_counter(); import %s; print(time.perf_counter() - t)"
    base, _ = fresh("pass", env)
    gw, gi = fresh(timed % "groklab", env)
    nw, ni = fresh(timed % "numpy", env)
    print("(b) import in a fresh interpreter, ms (median of 10)")
    print("    %-24s %10s %14s" % ("", "in-process", "whole process"))
    print("    %-24s %10s %14.1f" % ("python3 -c pass", "", base))
    print("    %-24s %10.1f %14.1f" % ("import numpy", ni, nw))
    print("    %-24s %10.1f %14.1f" % ("import groklab", gi, gw))


def part_c(cli, steps, reps, threads):
    import groklab
    knobs = {"steps": steps, "checkpoint_every": 0, "threads": threads}
    py_wall, py_loop, cli_wall, cli_loop = [], [], [], []
    root = pathlib.Path(tempfile.mkdtemp(prefix="py-overhead-"))
    try:
        for i in range(reps):
            d = root / f"cli{i}"
            t0 = time.perf_counter()
            subprocess.run([cli, "train", "--out", str(d), "--steps", str(steps), "--checkpoint-every", "0",
                            "--threads", str(threads), "--quiet"], check=True, stdout=subprocess.DEVNULL)
            cli_wall.append(time.perf_counter() - t0)
            cli_loop.append(json.load(open(d / "summary.json"))["wall_seconds"])
            d = root / f"py{i}"
            t0 = time.perf_counter()
            run = groklab.train(d, progress=False, **knobs)
            py_wall.append(time.perf_counter() - t0)
            py_loop.append(run.summary["wall_seconds"])
            shutil.rmtree(root / f"cli{i}")
            shutil.rmtree(d)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    ms = lambda v: statistics.median(v) / steps * 1e3
    print(f"(c) the default run (add mod 97, width 500), {steps} steps, threads {threads or 'all'}, "
          f"ms per step (median of {reps}, alternating)")
    print("    %-22s %12s %16s" % ("", "whole call", "training loop"))
    print("    %-22s %12.2f %16.2f" % ("groklab train (CLI)", ms(cli_wall), ms(cli_loop)))
    print("    %-22s %12.2f %16.2f" % ("groklab.train()", ms(py_wall), ms(py_loop)))
    print("    %-22s %12.3f %16.3f" % ("ratio Python / CLI", ms(py_wall) / ms(cli_wall), ms(py_loop) / ms(cli_loop)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--groklab", help="the groklab program (default: beside $GROKLAB_LIB, else on PATH)")
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=0, help="(c): cores per run (0: all)")
    ap.add_argument("--only", choices=["a", "b", "c"], action="append", help="run only these parts")
    a = ap.parse_args()
    src = pathlib.Path(__file__).resolve().parent.parent
    import groklab
    cli = a.groklab or str(pathlib.Path(groklab.library_path).resolve().parent / "groklab")
    if not os.path.exists(cli):
        cli = shutil.which("groklab") or cli
    print(f"CPU: {cpu_model()}, {os.cpu_count()} cores; load average {load_avg()}; Python {sys.version.split()[0]}; "
          f"groklab {groklab.__version__} ({groklab.library_path}, BLAS {groklab.blas})")
    parts = a.only or ["a", "b", "c"]
    with tempfile.TemporaryDirectory(prefix="py-overhead-") as tmp:
        if "a" in parts:
            part_a(pathlib.Path(tmp), src)
    if "b" in parts:
        part_b(dict(os.environ))
    if "c" in parts:
        part_c(cli, a.steps, a.reps, a.threads)
    print(f"load average at the end {load_avg()}")


if __name__ == "__main__":
    main()
