"""Where and how runs execute: the library's runtime settings (gl_runtime in
groklab/runtime.h), and whether --device cuda can run here.

At import the package applies the environment variables the groklab program
reads (GROKLAB_GPU, GROKLAB_TF32, GROKLAB_GPU_EMULATE, ...), so a script
behaves as the program does under the same environment; runtime() changes
the settings from Python.
"""
import ctypes
import warnings

from ._core import call, fail, text
from ._lib import Error as _Err, buffer, lib

# the Python type of each setting's text (the library's list is the authority
# on the names: a name missing here comes back as its text)
_FLAG = {"0": False, "1": True}
_READ = {
    "memory_limit": float,
    "gpu": int,
    "local_rank": int,
    "tf32": _FLAG.get,
    "gpu_emulate": lambda s: "strict" if s == "strict" else _FLAG[s],
    "gpu_emulate_bytes": float,
    "gpu_graphs": _FLAG.get,
    "gpu_sync": _FLAG.get,
}


def _names():
    return lib.gl_runtime_names().decode().split()


def _read(buf):
    out, value = {}, ctypes.create_string_buffer(64)
    for name in _names():
        call(lib.gl_runtime_format, buf, name.encode(), value, len(value))
        s = value.value.decode()
        out[name] = _READ.get(name, str)(s)
    return out


def _current():
    buf = buffer("gl_runtime")
    ctypes.memmove(buf, lib.gl_runtime_get(), len(buf))
    return buf


def runtime(**settings):
    """The process's runtime settings as a dict; with keywords, sets those
    first (all or none: a bad value raises ValueError naming the setting and
    its allowed values, and changes nothing). They apply to runs started
    afterwards and change where and how runs execute, never what they compute
    (except tf32):

        memory_limit       bytes runs may use, > 80% refused (0: physical memory)
        gpu                the GPU to use (-1: the local rank modulo the GPUs, or 0)
        local_rank         this process's rank on its machine under MPI (-1: none)
        tf32               True: cuBLAS may use TF32 tensor cores (about 10-bit mantissas)
        gpu_emulate        device="cuda" runs on the host emulator: True, or "strict"
                           with the checks of what a GPU would enforce
        gpu_emulate_bytes  the emulated device's memory (0: half of physical memory)
        gpu_graphs         False: a GPU step's kernels are launched one by one
                           instead of replaying the step recorded once (same numbers)
        gpu_sync           True: synchronize after every GPU operation, so that a
                           fault is reported under the one that caused it (slow)

    groklab.runtime(gpu_emulate="strict") lets device="cuda" run without a GPU;
    groklab.runtime(gpu=1, tf32=True) picks the second GPU with TF32 products.
    """
    buf = _current()
    for name, value in settings.items():
        call(lib.gl_runtime_parse, buf, name.encode(), text(value).encode())
    if settings:
        lib.gl_runtime_set(buf)
    return _read(buf)


def gpu_available(why=False):
    """True when device="cuda" can run here with the current settings (a GPU
    and the CUDA module, or the emulator when runtime(gpu_emulate=...) is on).
    With why=True, a pair (available, the reason it is not: '' when it is)."""
    reason = ctypes.create_string_buffer(512)
    ok = bool(lib.gl_gpu_available(reason, len(reason)))
    return (ok, "" if ok else reason.value.decode("utf-8", "replace")) if why else ok


def _from_environment():
    """The settings of the environment, as the groklab program reads them; a
    bad value warns (naming the variable) and leaves that one at its default."""
    buf, err = buffer("gl_runtime"), _Err()
    rc = lib.gl_runtime_environment(buf, ctypes.byref(err))
    lib.gl_runtime_set(buf)
    if rc < 0:
        try:
            fail(err, rc)
        except ValueError as e:
            warnings.warn(f"groklab: {e} (the default is used)", stacklevel=3)
