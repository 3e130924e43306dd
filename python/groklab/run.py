"""Runs: training one or several, and a run directory read back."""
import ctypes
import json
import os
import pathlib
import shutil
import tempfile
import weakref

import numpy as np

from . import _st
from ._core import Config, Progress, b, call, fail, read_table, stop_on_interrupt, text, INTERRUPTED
from ._lib import DynamicsOpts, Error, IprOpts, PROGRESS, PruneOpts, PruneResult, buffer, lib

_CONV = {"rfft": 0, "full": 1}
_BASIS = {"auto": 0, "additive": 1, "dlog": 2}


def _word(value, words, what):
    if value not in words:
        raise ValueError(f"{what}: '{value}' is not allowed (allowed: {', '.join(words)})")
    return words[value]


def _ipr_opts(basis, convention, r, split):
    o = IprOpts()
    lib.gl_ipr_opts_default(ctypes.byref(o))
    o.basis = _word(basis, _BASIS, "basis")
    o.conv = _word(convention, _CONV, "convention")
    if not (1e-3 <= r <= 100):
        raise ValueError(f"r: {r} is out of range (allowed: 0.001 to 100)")
    o.r = float(r)
    if split is not None:
        if not (0 <= split <= 1):
            raise ValueError(f"split: {split} is out of range (allowed: 0 to 1, or None for Otsu's threshold)")
        o.split = float(split)
    return o


class Run:
    """A run directory: what `groklab train` (or `groklab.train`) writes.

    Run(path) opens one; groklab.train() returns one. A run trained without
    `out` lives in a temporary directory owned by this object (removed with
    it; `save(path)` keeps a copy). Attributes read the directory's files:
    config, summary, metrics, weights, init_weights, data, phase; the methods
    ipr(), spectrum() and prune() compute groklab ipr's, spectrum's and
    prune's tables into the directory and return them.
    """

    def __init__(self, path, _temporary=False):
        self.path = pathlib.Path(path)
        cfg = Config(validate=False)
        call(lib.gl_run_open, b(self.path), cfg.ptr)
        self._finalizer = weakref.finalize(self, shutil.rmtree, str(self.path), True) if _temporary else None

    def __repr__(self):
        s = self.summary if (self.path / "summary.json").exists() else {}
        tail = f", phase {s.get('phase')}, train {s.get('train_acc'):.4f}, test {s.get('test_acc'):.4f}" if s else ""
        return f"<groklab.Run {str(self.path)!r}{tail}>"

    @property
    def temporary(self):
        """Whether the directory goes away with this object."""
        return self._finalizer is not None and self._finalizer.alive

    def save(self, path, force=False):
        """Copies the run directory to path (refused if it exists, unless
        force) and returns the Run there."""
        path = pathlib.Path(path)
        if path.exists():
            if not force:
                raise FileExistsError(f"{path} exists (pass force=True to replace it)")
            shutil.rmtree(path)
        shutil.copytree(self.path, path)
        return Run(path)

    # ---- the files ----

    def _json(self, name):
        p = self.path / name
        if not p.exists():
            raise FileNotFoundError(f"{p}: the run has no {name} (it did not finish; resume it)")
        with open(p) as f:
            return json.load(f)

    @property
    def config(self):
        """config.json as a dict (every knob)."""
        d = self._json("config.json")
        d.pop("groklab_version", None)
        return d

    @property
    def summary(self):
        """summary.json as a dict: final metrics, phase, milestones, sizes."""
        return self._json("summary.json")

    @property
    def phase(self):
        """The run's phase (summary.json), e.g. 'coexistence'."""
        return self.summary["phase"]

    @property
    def metrics(self):
        """metrics.csv: one row per logged step (a DataFrame with pandas, else a dict of arrays)."""
        return read_table(self.path / "metrics.csv")

    def _weights(self, which):
        p = self.path / f"{which}.safetensors"
        if not p.exists():
            raise FileNotFoundError(f"{p}: the run has no {which} weights")
        return _st.read(p)[0]

    @property
    def weights(self):
        """The final weights, name -> read-only numpy array mapped from
        model.safetensors (the two-layer MLP: U (N, p), V (N, p), W (p, N))."""
        return self._weights("model")

    @property
    def init_weights(self):
        """The initial weights (init.safetensors), as weights."""
        return self._weights("init")

    @property
    def data(self):
        """The dataset: train_pairs (n_train, 2) of (m, n), train_labels (given,
        corrupted ones included), train_true_labels, corrupted (bool mask),
        test_pairs (n_test, 2), test_labels, p."""
        t, meta = _st.read(self.path / "data.safetensors")
        return {
            "p": int(meta.get("p", self.config["p"])),
            "train_pairs": np.stack([t["train_m"], t["train_n"]], axis=1),
            "train_labels": t["train_label"],
            "train_true_labels": t["train_true_label"],
            "corrupted": t["train_corrupted"].astype(bool),
            "test_pairs": np.stack([t["test_m"], t["test_n"]], axis=1),
            "test_labels": t["test_label"],
        }

    @property
    def examples(self):
        """examples.csv: every training example's first and last step at its
        given label and (corrupted ones) the step it was unlearned (-1: never)."""
        return read_table(self.path / "examples.csv")

    @property
    def progress(self):
        """progress.csv (a run trained with progress_measures="on"): the full,
        restricted and excluded logits' loss and accuracy on every subset."""
        return read_table(self.path / "progress.csv")

    @property
    def snapshots(self):
        """The steps of the run's snapshots (snapshots=K), in order."""
        d = self.path / "snapshots"
        if not d.is_dir():
            return []
        return sorted(int(f.name[5:-12]) for f in d.glob("step_*.safetensors"))

    def snapshot(self, step):
        """(step, weights) of the snapshot nearest to step; weights as for .weights."""
        steps = self.snapshots
        if not steps:
            raise FileNotFoundError(f"{self.path} has no snapshots (train it with snapshots=K)")
        s = min(steps, key=lambda x: (abs(x - step), x))
        return s, _st.read(self.path / "snapshots" / f"step_{s:09d}.safetensors")[0]

    # ---- analysis ----

    def dynamics(self, step=None, key_threshold=0.1, plot=False):
        """groklab dynamics: the progress measures, key-frequency power,
        neuron IPR and power at every snapshot (step: the one nearest to it
        only), the examples' times and (two-layer MLP) the neurons carrying
        each example's given label, written to RUN/dynamics (RUN/at_S/dynamics)
        with the figures when plot; returns a dict of its tables (pandas
        DataFrames, or dicts of arrays) and "summary" (dynamics_summary.json)."""
        ref = str(self.path) if step is None else f"{self.path}@{int(step)}"
        out = self.path / "dynamics" if step is None else self.path / f"at_{self.snapshot(step)[0]}" / "dynamics"
        o = DynamicsOpts(float(key_threshold))
        rep = buffer("gl_dynamics_report")
        call(lib.gl_dynamics_run, b(ref), b(out), ctypes.byref(o), rep)
        if plot:
            call(lib.gl_figure_dynamics, b(out), b("../.." if step is not None else ".."), 1)
        tables = {f.stem: read_table(f) for f in sorted(out.glob("*.csv"))}
        tables["summary"] = json.loads((out / "dynamics_summary.json").read_text())
        return tables


    def ipr(self, basis="auto", convention="rfft", r=2.0, split=None):
        """groklab ipr: per-neuron IPR (the two-layer MLP: U rows, V rows, W
        columns, their mean, dominant frequencies, norms, gains; other
        families: the input and output layers' units), written to ipr.csv and
        ipr_summary.json in the run directory and returned as a table.
        basis: auto|additive|dlog; convention: rfft|full; r: the order;
        split: the low/high mode threshold (None: Otsu's)."""
        o = _ipr_opts(basis, convention, r, split)
        call(lib.gl_ipr_run, b(self.path), ctypes.byref(o))
        return read_table(self.path / "ipr.csv")

    def ipr_summary(self):
        """ipr_summary.json (after ipr()): mean IPR, the mode threshold and counts."""
        return self._json("ipr_summary.json")

    def spectrum(self, neuron=None, basis="auto"):
        """groklab spectrum (two-layer MLP): every neuron's power per frequency
        (spectrum.csv, returned), and neuron_K.csv / neuron_K_spectrum.csv for
        neuron K (default: the one with the highest IPR)."""
        o = _ipr_opts(basis, "rfft", 2.0, None)
        chosen = ctypes.c_int(-1)
        call(lib.gl_spectrum_run, b(self.path), ctypes.byref(o), -1 if neuron is None else int(neuron),
             ctypes.byref(chosen))
        self.spectrum_neuron = chosen.value
        return read_table(self.path / "spectrum.csv")

    def prune(self, order="all", seeds=None, seed=None, on=None, threshold=None, threads=None):
        """groklab prune (two-layer MLP): remove neurons one at a time in the
        given order(s) ('low' IPR first, 'high', 'random', a comma list or
        'all') and measure the network after each; writes prune.csv and
        prune_summary.json and returns prune.csv's table. seeds: random
        orders averaged; on: 'all' (every pair) or 'train' (the training
        set); threshold: the test accuracy counted as kept (.prunable gets
        the count). Options left None take groklab prune's defaults."""
        po = PruneOpts()
        lib.gl_prune_opts_default(ctypes.byref(po))
        mask = ctypes.c_int(0)
        call(lib.gl_prune_parse_orders, b(order), ctypes.byref(mask))
        po.orders = mask.value
        if on is not None:
            if on not in ("train", "all"):
                raise ValueError(f"on: '{on}' is not allowed (allowed: all, train)")
            po.on_all = on == "all"
        if seeds is not None:
            if not 1 <= int(seeds) <= 100000:
                raise ValueError(f"seeds: {seeds} is out of range (allowed: 1 to 100000)")
            po.seeds = int(seeds)
        if seed is not None:
            po.seed = int(seed)
        if threshold is not None:
            po.threshold = float(threshold)
        if threads is not None:
            po.threads = int(threads)
        res = PruneResult()
        call(lib.gl_prune_run, b(self.path), ctypes.byref(po), ctypes.byref(res))
        self.prunable = res.prunable
        return read_table(self.path / "prune.csv")

    # ---- bring your own ----

    @classmethod
    def from_arrays(cls, out, weights, train_pairs, train_labels, test_pairs, train_true_labels=None,
                    test_labels=None, corrupted=None, init_weights=None, step=0, force=False, **knobs):
        """A run directory from outside weights and an outside dataset, so
        every analysis works on a network trained by other code.

        weights (and init_weights): name -> array in groklab's names and file
        shapes for the model family (the two-layer MLP: U (N, p), V (N, p),
        W (p, N); a PyTorch nn.Linear(2p, N) first layer's weight is [U | V]
        and the second layer's weight is W). train_pairs, test_pairs: (n, 2)
        integer operand pairs; train_labels: the labels trained on (corrupted
        ones included); train_true_labels: the task's labels (default: equal
        to train_labels); corrupted: the examples whose labels were redrawn
        (default: those whose given label is not the true one; a redrawn
        label can equal the true one); test_labels (default: the task's).
        knobs: the run's
        config (task, p, width, ...). The library checks shapes, ranges and
        labels against the task, evaluates the network and writes the run."""
        train_pairs = np.asarray(train_pairs)
        test_pairs = np.asarray(test_pairs)
        for name, a in (("train_pairs", train_pairs), ("test_pairs", test_pairs)):
            if a.ndim != 2 or a.shape[1] != 2:
                raise ValueError(f"{name}: shape {a.shape} should be (n, 2): one (m, n) pair per row")
        given = np.asarray(train_labels)
        true = given if train_true_labels is None else np.asarray(train_true_labels)
        with tempfile.TemporaryDirectory(prefix="groklab-import-") as tmp:
            tmp = pathlib.Path(tmp)
            data = {"train_m": train_pairs[:, 0], "train_n": train_pairs[:, 1], "train_label": given,
                    "train_true_label": true,
                    "train_corrupted": (given != true if corrupted is None else np.asarray(corrupted)).astype(np.uint8),
                    "test_m": test_pairs[:, 0], "test_n": test_pairs[:, 1]}
            if test_labels is not None:
                data["test_label"] = np.asarray(test_labels)
            cfg = Config(knobs, validate=False)
            p = int(cfg.get("p"))
            if test_labels is None:
                data["test_label"] = _task_labels(cfg.get("task"), p, test_pairs)
            for k in data:
                if k != "train_corrupted":
                    data[k] = _int32(data[k], k)
            _st.write(tmp / "data.safetensors", data, {"p": p})
            _st.write(tmp / "model.safetensors", {k: np.asarray(v, dtype=np.float32) for k, v in weights.items()})
            init = None
            if init_weights is not None:
                init = tmp / "init.safetensors"
                _st.write(init, {k: np.asarray(v, dtype=np.float32) for k, v in init_weights.items()})
            cfg.set({"data": tmp / "data.safetensors"})
            call(lib.gl_run_import, b(out), cfg.ptr, b(tmp / "model.safetensors"), b(init) if init else None,
                 int(step), int(bool(force)))
        return cls(out)


def _int32(a, name):
    a = np.asarray(a)
    if a.ndim != 1:
        raise ValueError(f"{name}: shape {a.shape} should be 1-d")
    if a.size and not np.issubdtype(a.dtype, np.integer):
        if not np.all(a == np.round(a)):
            raise ValueError(f"{name}: values should be integers (got dtype {a.dtype})")
    if a.size and (a.min() < -2**31 or a.max() >= 2**31):
        raise ValueError(f"{name}: values out of the int32 range")
    return a.astype(np.int32)


def _task_labels(task, p, pairs):
    """The task's labels of pairs, from the library (gl_task_label)."""
    f = lib.gl_task_label
    return np.array([f(task.encode(), p, int(m), int(n)) for m, n in pairs], dtype=np.int32)


# ---- training ----

def _threads(cfg):
    return int(cfg.get("threads"))


def _make_trainer(cfg):
    t = ctypes.c_void_p()
    call(lib.gl_trainer_create, ctypes.byref(t), cfg.ptr)
    return t


def _adopt_data(cfg):
    if cfg.get("data"):
        call(lib.gl_config_adopt_data, cfg.ptr)


def _interrupted(err, dirs):
    lib.gl_stop_clear()
    where = ", ".join(str(d) for d in dirs)
    raise KeyboardInterrupt(f"{err.msg.decode()}; continue with groklab.train({where!r}, resume=True)"
                            if len(dirs) == 1 else f"{err.msg.decode()}; checkpoints written in {where}")


def train(out=None, *, resume=False, force=False, progress=True, **knobs):
    """Trains one run, as `groklab train` does, and returns its Run.

    out: the run directory (None: a temporary one owned by the returned Run).
    resume: continue the run in out from its checkpoint (knobs may then only
    change what does not change the trajectory, e.g. steps). force: replace
    an existing run directory. progress: a progress bar (tqdm when
    installed). Ctrl-C stops after the current step with a checkpoint
    written (KeyboardInterrupt says how to resume).

    Knobs (the library's field table, as `groklab train --help`):
    """
    cfg = Config(validate=False)
    if resume:
        if out is None:
            raise ValueError("resume=True needs out, the run directory to continue")
        cfg.read(pathlib.Path(out) / "config.json")
        for name, value in knobs.items():
            try:
                call(lib.gl_config_set_on_resume, cfg.ptr, b(name), b(text(value)))
            except ValueError as e:
                if "cannot change when resuming" not in str(e):
                    raise
                raise ValueError(f"{e}; start a new run from {out}/config.json instead") from None
    else:
        cfg.set(knobs)
    cfg.validate()
    if not resume:
        _adopt_data(cfg)
    t = _make_trainer(cfg)
    temporary = out is None
    path = pathlib.Path(tempfile.mkdtemp(prefix="groklab-run-") if temporary else out)
    bar = None
    try:
        if resume:
            call(lib.gl_run_resume, b(path), t)
        else:
            call(lib.gl_run_prepare, b(path), int(bool(force) or temporary))
        steps = int(cfg.get("steps"))
        bar = Progress(steps, path.name, progress)
        cb = PROGRESS(lambda ctx, tr: bar.update(lib.gl_trainer_step_count(tr)))
        lib.gl_trainer_set_progress(t, cb, None)
        err = Error()
        with stop_on_interrupt():
            rc = lib.gl_run_train(b(path), t, int(bool(resume)), _threads(cfg), ctypes.byref(err))
        bar.update(lib.gl_trainer_step_count(t))
        if rc == INTERRUPTED:
            _interrupted(err, [path])
        if rc < 0:
            fail(err, rc)
    finally:
        if bar is not None:
            bar.close()
        lib.gl_trainer_free(t)
    return Run(path, _temporary=temporary)


def train_population(members, out=None, *, force=False, progress=True, threads=0):
    """Trains several runs together (a population: on the CPU one member per
    core, on a GPU in lockstep) and returns their Runs, each identical to the
    same run trained alone.

    members: a list of knob dicts (as for train). out: None (temporary
    directories), a directory (members go to out/run-000, out/run-001, ...)
    or a list of directories, one per member. threads: cores (0: all).
    """
    members = list(members)
    if not members:
        raise ValueError("train_population: no members")
    if out is None:
        dirs, temporary = [pathlib.Path(tempfile.mkdtemp(prefix="groklab-run-")) for _ in members], True
    elif isinstance(out, (str, os.PathLike)):
        dirs, temporary = [pathlib.Path(out) / f"run-{i:03d}" for i in range(len(members))], False
    else:
        dirs, temporary = [pathlib.Path(d) for d in out], False
        if len(dirs) != len(members):
            raise ValueError(f"out: {len(dirs)} directories for {len(members)} members")
    cfgs = []
    for i, k in enumerate(members):
        try:
            cfg = Config(k)
        except ValueError as e:
            raise type(e)(f"member {i}: {e}", e.code) from None
        _adopt_data(cfg)
        cfgs.append(cfg)
    trainers = (ctypes.c_void_p * len(cfgs))()
    made = 0
    bar = None
    try:
        for i, cfg in enumerate(cfgs):
            trainers[i] = _make_trainer(cfg)
            made += 1
        for d in dirs:
            if not temporary:
                d.parent.mkdir(parents=True, exist_ok=True)
            call(lib.gl_run_prepare, b(d), int(bool(force) or temporary))
        total = sum(int(c.get("steps")) for c in cfgs)
        bar = Progress(total, f"population of {len(cfgs)}", progress)
        steps = {}

        def tick(ctx, tr):
            steps[tr] = lib.gl_trainer_step_count(tr)
            bar.update(sum(steps.values()))
        cb = PROGRESS(tick)
        for t in trainers:
            lib.gl_trainer_set_progress(t, cb, None)
        paths = (ctypes.c_char_p * len(dirs))(*[b(d) for d in dirs])
        err = Error()
        with stop_on_interrupt():  # the library writes every member's checkpoint when interrupted
            rc = lib.gl_run_train_population(paths, trainers, len(cfgs), int(threads), ctypes.byref(err))
        if rc == INTERRUPTED:
            _interrupted(err, dirs)
        if rc < 0:
            fail(err, rc)
    finally:
        if bar is not None:
            bar.close()
        for i in range(made):
            lib.gl_trainer_free(trainers[i])
    return [Run(d, _temporary=temporary) for d in dirs]


def analytic(p=97, width=500, seed=0, out=None, force=False):
    """The analytic solution of addition mod p (Eq. 2): a two-layer MLP of
    the given width whose neuron k has frequency sigma(k) and random phases
    from seed, as a Run (one logged row; .accuracy: over all p^2 pairs)."""
    cfg = Config({"p": p, "width": width, "seed": seed, "steps": 0, "checkpoint_every": 0})
    temporary = out is None
    path = pathlib.Path(tempfile.mkdtemp(prefix="groklab-analytic-") if temporary else out)
    metrics = ctypes.create_string_buffer(lib.gl_struct_size(b"gl_metrics"))
    acc = ctypes.c_double()
    call(lib.gl_analytic_run, b(path), cfg.ptr, int(bool(force) or temporary), metrics, ctypes.byref(acc))
    run = Run(path, _temporary=temporary)
    run.accuracy = acc.value
    return run
