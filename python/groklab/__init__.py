"""groklab from Python: memorization and generalization on corrupted
modular-arithmetic datasets.

    import groklab
    run = groklab.train(p=23, noise=0.1, wd=5, steps=500)
    run.phase, run.summary["test_acc"], run.metrics, run.ipr()

train / train_population   train runs (the knobs of groklab train)
Run                        a run directory: config, summary, metrics,
                           weights, data, ipr(), spectrum(), prune(), phase;
                           Run.from_arrays for networks trained elsewhere
ipr / power_spectrum       the IPR and Fourier power of any numpy array
phase / phase_subset       the two phase rules on final accuracies
analytic                   the analytic solution of addition
sweep / open_sweep         grids of runs in a SQLite store
knobs                      every knob with its default and allowed values
runtime / gpu_available    where runs execute (GPU, TF32, emulator, memory
                           limit: the program's GROKLAB_* variables), and
                           whether device="cuda" can run here

The package calls the groklab shared library (libgroklab.so) through
ctypes; see docs/python.md.
"""
from ._core import (CorruptError, DeviceError, FileError, GroklabError, InputError, InternalError, Knob,
                    NoDeviceError, OutOfMemory, knob_table, knobs)
from ._lib import PATH as library_path, lib as _lib
from .arrays import ipr, phase, phase_subset, power_spectrum
from .run import Run, analytic, train, train_population
from .runtime import _from_environment, gpu_available, runtime
from .sweep import Sweep, open_sweep, sweep

_from_environment()
__version__ = _lib.gl_version().decode()
blas = _lib.gl_blas_name().decode()

train.__doc__ += "\n" + knob_table() + "\n\n    tasks: " + _lib.gl_task_names().decode() + "\n"

__all__ = ["train", "train_population", "Run", "ipr", "power_spectrum", "phase", "phase_subset", "analytic", "sweep",
           "open_sweep", "Sweep", "knobs", "Knob", "runtime", "gpu_available", "GroklabError", "InputError",
           "CorruptError", "NoDeviceError", "DeviceError", "OutOfMemory", "FileError", "InternalError", "library_path"]
