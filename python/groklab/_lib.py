"""The shared library, loaded with ctypes, and its calls' signatures.

The library is found through $GROKLAB_LIB (a path to libgroklab.so), else
the path written into _libpath.py when the package was installed, else a
build tree beside the package's source (build/libgroklab.so), else the
loader's search path. Structs that Python reads or fills are mirrored here
and checked against the library's own sizes (gl_struct_size) at import;
the others are passed as buffers of the library's size.
"""
import ctypes
import ctypes.util
import os
import pathlib

c_int, c_long, c_double, c_char_p, c_void_p = ctypes.c_int, ctypes.c_long, ctypes.c_double, ctypes.c_char_p, ctypes.c_void_p
c_size_t, c_uint64 = ctypes.c_size_t, ctypes.c_uint64
P = ctypes.POINTER


def _library_path():
    env = os.environ.get("GROKLAB_LIB")
    if env:
        return env
    try:
        from ._libpath import LIBRARY  # written by cmake --install
        if os.path.exists(LIBRARY):
            return LIBRARY
    except ImportError:
        pass
    here = pathlib.Path(__file__).resolve().parent
    for build in ("build", "build-test"):
        cand = here.parent.parent / build / "libgroklab.so"
        if cand.exists():
            return str(cand)
    found = ctypes.util.find_library("groklab")
    if found:
        return found
    raise ImportError("groklab: cannot find libgroklab.so; set GROKLAB_LIB to its path, or install groklab "
                      "(cmake --install build --prefix PREFIX)")


PATH = _library_path()
lib = ctypes.CDLL(PATH)
libc = ctypes.CDLL(None)
libc.free.argtypes = [c_void_p]
libc.free.restype = None
libc.signal.argtypes = [c_int, c_void_p]
libc.signal.restype = c_void_p

ERRLEN = 512


class Error(ctypes.Structure):
    _fields_ = [("msg", ctypes.c_char * ERRLEN), ("code", c_int)]


class IprOpts(ctypes.Structure):
    _fields_ = [("conv", c_int), ("basis", c_int), ("r", c_double), ("split", c_double)]


class DynamicsOpts(ctypes.Structure):
    _fields_ = [("key_threshold", c_double)]


class PruneOpts(ctypes.Structure):
    _fields_ = [("orders", c_int), ("seeds", c_int), ("seed", c_uint64), ("on_all", c_int),
                ("threshold", c_double), ("threads", c_int)]


class PrunePoint(ctypes.Structure):
    _fields_ = [("pruned", c_int), ("v", c_double * 8)]


class PruneResult(ctypes.Structure):
    _fields_ = [("N", c_int), ("has", c_int * 3), ("noise", c_double), ("seconds", c_double),
                ("prunable", c_int), ("prefix", c_int), ("curve", (PrunePoint * 11) * 3)]


TICK = ctypes.CFUNCTYPE(None, c_void_p, c_void_p)           # (ctx, gl_store *)
DONE = ctypes.CFUNCTYPE(None, c_void_p, c_long, c_void_p, c_void_p)  # (ctx, id, config, result)
PROGRESS = ctypes.CFUNCTYPE(None, c_void_p, c_void_p)       # (ctx, gl_trainer *)


class SweepOpts(ctypes.Structure):
    _fields_ = [("threads", c_int), ("keep_weights", c_int), ("extend", c_int), ("shard_i", c_int),
                ("shard_n", c_int), ("max_population", c_int), ("on_start", c_void_p), ("on_done", DONE),
                ("on_tick", TICK), ("ctx", c_void_p), ("refine", c_int), ("complete", c_int),
                ("refine_x", c_char_p), ("refine_y", c_char_p), ("refine_seeds", c_int)]


def _sig(name, res, *args):
    f = getattr(lib, name)
    f.restype = res
    f.argtypes = list(args)


E = P(Error)
for name, res, args in [
    ("gl_struct_size", c_size_t, [c_char_p]),
    ("gl_version", c_char_p, []),
    ("gl_blas_name", c_char_p, []),
    ("gl_status_name", c_char_p, [c_int]),
    # config
    ("gl_config_new", c_void_p, []),
    ("gl_config_free", None, [c_void_p]),
    ("gl_config_set", c_int, [c_void_p, c_char_p, c_char_p, E]),
    ("gl_config_validate", c_int, [c_void_p, E]),
    ("gl_config_has", c_int, [c_char_p]),
    ("gl_config_resume_safe", c_int, [c_char_p]),
    ("gl_config_set_on_resume", c_int, [c_void_p, c_char_p, c_char_p, E]),
    ("gl_config_nfields", c_int, []),
    ("gl_config_field_name", c_char_p, [c_int]),
    ("gl_config_field_help", c_char_p, [c_int]),
    ("gl_config_field_default", c_char_p, [c_int]),
    ("gl_config_field_kind", c_char_p, [c_int]),
    ("gl_config_field_allowed", None, [c_int, c_char_p, c_size_t]),
    ("gl_config_field_text", None, [c_void_p, c_int, c_char_p, c_size_t]),
    ("gl_config_to_json", c_void_p, [c_void_p]),
    ("gl_config_from_json", c_int, [c_void_p, c_char_p, E]),
    ("gl_task_names", c_char_p, []),
    ("gl_task_label", c_int, [c_char_p, c_int, c_int, c_int]),
    # trainers and runs
    ("gl_trainer_create", c_int, [P(c_void_p), c_void_p, E]),
    ("gl_trainer_free", None, [c_void_p]),
    ("gl_trainer_step_count", c_long, [c_void_p]),
    ("gl_trainer_set_progress", None, [c_void_p, PROGRESS, c_void_p]),
    ("gl_run_open", c_int, [c_char_p, c_void_p, E]),
    ("gl_run_read_config", c_int, [c_char_p, c_void_p, E]),
    ("gl_run_prepare", c_int, [c_char_p, c_int, E]),
    ("gl_run_resume", c_int, [c_char_p, c_void_p, E]),
    ("gl_run_train", c_int, [c_char_p, c_void_p, c_int, c_int, E]),
    ("gl_run_train_population", c_int, [P(c_char_p), P(c_void_p), c_int, c_int, E]),
    # analysis
    ("gl_ipr_opts_default", None, [P(IprOpts)]),
    ("gl_ipr_run", c_int, [c_char_p, P(IprOpts), E]),
    ("gl_spectrum_run", c_int, [c_char_p, P(IprOpts), c_int, P(c_int), E]),
    ("gl_prune_opts_default", None, [P(PruneOpts)]),
    ("gl_prune_run", c_int, [c_char_p, P(PruneOpts), P(PruneResult), E]),
    ("gl_prune_parse_orders", c_int, [c_char_p, P(c_int), E]),
    ("gl_analytic_run", c_int, [c_char_p, c_void_p, c_int, c_void_p, P(c_double), E]),
    ("gl_ipr_plan_create", c_int, [P(c_void_p), c_int, c_int, c_int, E]),
    ("gl_ipr_plan_free", None, [c_void_p]),
    ("gl_ipr_plan_bins", c_int, [c_void_p]),
    ("gl_ipr_plan_length", c_int, [c_void_p]),
    ("gl_ipr_plan_index", c_int, [c_void_p, c_int]),
    ("gl_ipr_batch", None, [c_void_p, P(c_double), P(ctypes.c_float), c_int, c_int, c_int, c_double]),
    ("gl_ipr_power", None, [c_void_p, P(c_double), P(ctypes.c_float), c_int, c_int]),
    ("gl_primitive_root", c_int, [c_int]),
    ("gl_phase_classify", c_int, [c_double, c_double, c_double, c_int]),
    ("gl_phase_classify_subset", c_int, [c_double, c_double, c_double, c_double, c_double, c_int]),
    ("gl_phase_name", c_char_p, [c_int]),
    # sweeps
    ("gl_grid_init", None, [c_void_p, c_void_p]),
    ("gl_grid_free", None, [c_void_p]),
    ("gl_grid_add", c_int, [c_void_p, c_char_p, c_char_p, E]),
    ("gl_grid_validate", c_int, [c_void_p, E]),
    ("gl_grid_size", c_long, [c_void_p]),
    ("gl_sweep_run", c_int, [c_char_p, c_void_p, P(SweepOpts), c_void_p, E]),
    ("gl_store_open", c_int, [P(c_void_p), c_char_p, c_int, E]),
    ("gl_store_close", None, [c_void_p]),
    ("gl_store_export_csv", c_int, [c_void_p, c_char_p, c_char_p, P(c_long), E]),
    ("gl_store_counts", c_int, [c_void_p, c_int, c_int, P(c_long), P(c_long), E]),
    ("gl_phase_cells", c_int, [c_void_p, c_char_p, c_char_p, c_char_p, c_int, c_void_p, E]),
    ("gl_phase_disagreements_write", c_int, [c_void_p, c_char_p, E]),
    ("gl_phase_grid_write", c_int, [c_void_p, c_char_p, E]),
    ("gl_phase_grid_free", None, [c_void_p]),
    # bring your own model and data
    ("gl_dynamics_run", c_int, [c_char_p, c_char_p, P(DynamicsOpts), c_void_p, E]),
    ("gl_figure_dynamics", c_int, [c_char_p, c_char_p, c_int, E]),
    ("gl_run_import", c_int, [c_char_p, c_void_p, c_char_p, c_char_p, c_long, c_int, E]),
    ("gl_config_adopt_data", c_int, [c_void_p, E]),
    # runtime settings and the GPU
    ("gl_runtime_names", c_char_p, []),
    ("gl_runtime_get", c_void_p, []),
    ("gl_runtime_set", None, [c_void_p]),
    ("gl_runtime_parse", c_int, [c_void_p, c_char_p, c_char_p, E]),
    ("gl_runtime_format", c_int, [c_void_p, c_char_p, c_char_p, c_size_t, E]),
    ("gl_runtime_environment", c_int, [c_void_p, E]),
    ("gl_gpu_available", c_int, [c_char_p, c_size_t]),
    # stopping
    ("gl_stop_clear", None, []),
    ("gl_stop_requested", c_int, []),
]:
    _sig(name, res, *args)

for _name, _mirror in [("gl_error", Error), ("gl_ipr_opts", IprOpts), ("gl_prune_opts", PruneOpts),
                       ("gl_prune_point", PrunePoint), ("gl_prune_result", PruneResult), ("gl_sweep_opts", SweepOpts),
                       ("gl_dynamics_opts", DynamicsOpts)]:
    _size = lib.gl_struct_size(_name.encode())
    if _size != ctypes.sizeof(_mirror):
        raise ImportError(f"groklab: {PATH} has a {_name} of {_size} bytes, this package expects "
                          f"{ctypes.sizeof(_mirror)}: the package and the library are from different versions")


def buffer(struct_name):
    """Zeroed memory for a struct the library fills (its own size)."""
    size = lib.gl_struct_size(struct_name.encode())
    if size == 0:
        raise RuntimeError(f"groklab: the library does not know the struct {struct_name}")
    return ctypes.create_string_buffer(size)


STOP_HANDLER = ctypes.cast(lib.gl_stop_signal_handler, c_void_p).value
