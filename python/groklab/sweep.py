"""Sweeps: a grid of runs in a crash-safe SQLite store (groklab sweep)."""
import ctypes
import pathlib
import tempfile

from ._core import Config, Progress, b, call, fail, read_table, stop_on_interrupt, INTERRUPTED
from ._lib import DONE, Error, SweepOpts, buffer, lib


def _spec(value):
    """An axis value as groklab sweep's SPEC: a list or tuple becomes a comma
    list; a string is passed as it is (a list, lo:hi:count or lo:hi:count:log)."""
    from ._core import text
    if isinstance(value, (list, tuple)) or (hasattr(value, "ndim") and getattr(value, "ndim", 0) == 1):
        return ",".join(text(v) for v in value)
    return text(value)


def _run(dir, grid, threads, keep_weights, extend, progress, refine=None, complete=False, refine_seeds=0):
    opts = SweepOpts()
    opts.threads, opts.keep_weights, opts.extend, opts.shard_i, opts.shard_n = int(threads), int(keep_weights), int(extend), 0, 1
    if refine:  # (x, y): the refinement's knobs
        opts.refine, opts.refine_x, opts.refine_y = 1, b(refine[0]), b(refine[1])
    opts.complete = int(bool(complete))
    opts.refine_seeds = int(refine_seeds or 0)
    state = {"done": 0}
    bar = Progress(lib.gl_grid_size(grid) if grid is not None else 0, f"sweep {pathlib.Path(dir).name}", progress)

    def on_done(ctx, id, c, r):
        state["done"] += 1
        bar.update(state["done"])
    opts.on_done = DONE(on_done)
    report = buffer("gl_sweep_report")
    err = Error()
    try:
        with stop_on_interrupt():
            rc = lib.gl_sweep_run(b(dir), grid, ctypes.byref(opts), report, ctypes.byref(err))
    finally:
        bar.close()
    if rc == INTERRUPTED:
        lib.gl_stop_clear()
        raise KeyboardInterrupt(f"{err.msg.decode()}; the runs in flight went back to pending: continue with "
                                f"groklab.open_sweep({str(dir)!r}).resume()")
    if rc < 0:
        fail(err, rc)


def sweep(out, *, seeds=None, threads=0, keep_weights=False, extend=False, progress=True, refine=False,
          refine_seeds=None, **axes):
    """Trains a grid of runs into out/sweep.db and returns the Sweep.

    Every knob of groklab train is an axis when its value is a list (e.g.
    wd=[0, 5, 15]) or a range string ('0.1:0.9:9', '1e-3:1:7:log'); a single
    value sets the knob for every run. seeds=K adds a replicate axis 0..K-1
    (each sets seed, split_seed and noise_seed). The grid is the product of
    the axes. Crash-safe as groklab sweep: finished runs are never redone, a
    second call with the same grid resumes it, a different grid is refused
    unless extend=True. threads: workers (0: all cores); keep_weights:
    store each run's final weights and per-neuron IPR. Ctrl-C stops claiming
    runs and returns the ones in flight to pending. refine=True (or a pair of
    knobs, default ("frac", "noise")): a refined sweep as groklab sweep
    --refine, which trains a coarse lattice and then only the points between
    neighbours whose phases differ; phase() infers the rest, complete()
    trains them. refine_seeds=K (with seeds=S, 2 <= S < K): seeds S..K-1 of
    a point train only where its S seeds leave its phase uncertain, as
    groklab sweep --refine-seeds.
    """
    if refine is True:
        refine = ("frac", "noise")
    base = Config({"checkpoint_every": 0})
    grid = buffer("gl_grid")
    lib.gl_grid_init(grid, base.ptr)
    try:
        for name, value in axes.items():
            call(lib.gl_grid_add, grid, b(name), b(_spec(value)))
        if seeds is not None:
            call(lib.gl_grid_add, grid, b"replicate", b(int(seeds)))
        call(lib.gl_grid_validate, grid)
        _run(out, grid, threads, keep_weights, extend, progress, refine=refine or None, refine_seeds=refine_seeds)
    finally:
        lib.gl_grid_free(grid)
    return Sweep(out)


RULES = ("paper", "subset")  # gl_phase_rule order


def open_sweep(dir):
    """The sweep stored in dir (its sweep.db): read it, or resume() it."""
    return Sweep(dir)


class Sweep:
    """A sweep directory: runs and metrics as tables (groklab export), the
    phase cells (groklab phase), counts, run(id) for a run that kept its
    directory, and resume()."""

    def __init__(self, dir):
        self.path = pathlib.Path(dir)
        self.db = self.path / "sweep.db"
        if not self.db.exists():
            raise FileNotFoundError(f"{self.db}: not a sweep directory (no sweep.db)")

    def __repr__(self):
        c = self.counts()
        return f"<groklab.Sweep {str(self.path)!r}: " + ", ".join(f"{k} {v}" for k, v in c.items() if v) + ">"

    def _store(self):
        s = ctypes.c_void_p()
        call(lib.gl_store_open, ctypes.byref(s), b(self.db), 0)
        return s

    def _export(self, table):
        s = self._store()
        try:
            with tempfile.TemporaryDirectory(prefix="groklab-sweep-") as tmp:
                path = pathlib.Path(tmp) / f"{table}.csv"
                rows = ctypes.c_long()
                call(lib.gl_store_export_csv, s, b(table), b(path), ctypes.byref(rows))
                return read_table(path)
        finally:
            lib.gl_store_close(s)

    @property
    def runs(self):
        """One row per run: id, status, its knobs, final metrics, phase (groklab export runs)."""
        return self._export("runs")

    @property
    def metrics(self):
        """Every run's logged rows: run id, step and the metrics.csv columns (groklab export metrics)."""
        return self._export("metrics")

    def counts(self):
        """Runs by status: pending, running, done, diverged, failed (a refined
        sweep's points that no round scheduled are in none of them)."""
        s = self._store()
        try:
            st, ph = (ctypes.c_long * 5)(), (ctypes.c_long * 6)()
            call(lib.gl_store_counts, s, 0, 1, st, ph)
        finally:
            lib.gl_store_close(s)
        return dict(zip(["pending", "running", "done", "diverged", "failed"], st))

    def _cells(self, x, y, facet, rule, write):
        if rule not in RULES:
            raise ValueError(f"rule {rule!r}: allowed: {', '.join(RULES)}")
        s = self._store()
        pg = buffer("gl_phase_grid")
        try:
            call(lib.gl_phase_cells, s, b(x), b(y), None if facet is None else b(facet), RULES.index(rule), pg)
            try:
                with tempfile.TemporaryDirectory(prefix="groklab-phase-") as tmp:
                    path = pathlib.Path(tmp) / "cells.csv"
                    call(write, pg, b(path))
                    return read_table(path)
            finally:
                lib.gl_phase_grid_free(pg)
        finally:
            lib.gl_store_close(s)

    def phase(self, x="frac", y="noise", facet=None, rule="paper"):
        """The phase diagram's cells as groklab phase computes them (phase.csv's
        table): one row per (facet, x, y) with the runs, the majority phase,
        whether they agree, each phase's count, fraction and 95% Wilson
        interval (frac_P, lo_P, hi_P), whether the cell is uncertain, the
        rule ('paper' or 'subset'), and inferred (1: a refined sweep's cell
        that was not trained, its phase taken from its trained neighbours).
        facet None: the first other axis with several values; '': none."""
        return self._cells(x, y, facet, rule, lib.gl_phase_grid_write)

    def rule_disagreements(self, x="frac", y="noise", facet=None):
        """The cells where the paper's rule and the subset rule give different
        majorities (groklab phase's rule-disagreements.csv): both phases, how
        many runs differ, the cell's mean accuracies and xi, and the reason."""
        return self._cells(x, y, facet, "paper", lib.gl_phase_disagreements_write)

    def run(self, id):
        """The run directory of run id (the runs table's id) as a Run: a run
        with snapshots or progress measures trains into DIR/runs/ID; other
        runs live in the store alone (their rows are in runs and metrics)."""
        from .run import Run
        path = self.path / "runs" / str(int(id))
        if not (path / "config.json").exists():
            raise FileNotFoundError(f"{path}: run {id} of this sweep has no run directory (only runs with "
                                    "snapshots > 0 or progress_measures='on' train into DIR/runs/ID)")
        return Run(path)

    def resume(self, threads=0, progress=True):
        """Trains the runs still pending (and those a killed process left running);
        a refined sweep goes on with its rounds."""
        _run(self.path, None, threads, 0, 0, progress)
        return self

    def complete(self, threads=0, progress=True):
        """A refined sweep into its full grid: trains the points its rounds left
        out (groklab sweep --resume DIR --complete); no run is trained twice."""
        _run(self.path, None, threads, 0, 0, progress, complete=True)
        return self
