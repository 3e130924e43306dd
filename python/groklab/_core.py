"""Errors, configs and tables: what the rest of the package shares."""
import contextlib
import csv
import ctypes
import json
import math
import os
import signal
import threading
from collections import namedtuple

import numpy as np

from ._lib import Error as _Err, lib, libc, STOP_HANDLER

_pandas = []  # [module or None] once looked up: pandas is imported on the first table, not with groklab


def _pd():
    if not _pandas:
        try:
            import pandas
        except ImportError:  # tables are then dicts of numpy arrays
            pandas = None
        _pandas.append(pandas)
    return _pandas[0]


class GroklabError(Exception):
    """A failure reported by the library; .code is its gl_status (a negative int)."""

    def __init__(self, message, code):
        super().__init__(message)
        self.code = code


class InputError(GroklabError, ValueError):
    """Bad input: a value, an option, a combination, a path that is not one."""


class CorruptError(GroklabError, ValueError):
    """A file is malformed, truncated, or not groklab's."""


class NoDeviceError(GroklabError, RuntimeError):
    """The backend asked for cannot run here (no GPU, or no CUDA in this build)."""


class DeviceError(GroklabError, RuntimeError):
    """The device failed while running."""


class OutOfMemory(GroklabError, MemoryError):
    """Out of memory (host or device)."""


class FileError(GroklabError, OSError):
    """Reading or writing a file failed."""


class InternalError(GroklabError, RuntimeError):
    """A broken invariant in the library: a bug."""


_BY_CODE = {-1: InputError, -2: OutOfMemory, -3: FileError, -4: CorruptError, -5: NoDeviceError,
            -6: DeviceError, -8: InternalError}
INTERRUPTED = -7


def fail(err, rc):
    """Raises the exception of a failed call (rc < 0) with the library's message."""
    code = err.code or rc
    msg = err.msg.decode("utf-8", "replace") or lib.gl_status_name(code).decode()
    if code == INTERRUPTED:
        raise KeyboardInterrupt(msg)
    raise _BY_CODE.get(code, GroklabError)(msg, code)


def call(fn, *args):
    """fn(*args, &err), raising on a negative return."""
    err = _Err()
    rc = fn(*args, ctypes.byref(err))
    if rc is not None and rc < 0:
        fail(err, rc)
    return rc


def b(s):
    return os.fsencode(s) if isinstance(s, os.PathLike) else str(s).encode()


# ---- the knobs: the library's field table ----

Knob = namedtuple("Knob", "name default kind allowed help")


def knobs():
    """Every knob of groklab train, from the library's field table: a list of
    Knob(name, default, kind, allowed, help); kind is int, float, str, enum or
    path; allowed is a range ("0..1 (excl.)"), '|'-separated words, or ""."""
    out = []
    buf = ctypes.create_string_buffer(256)
    for i in range(lib.gl_config_nfields()):
        lib.gl_config_field_allowed(i, buf, len(buf))
        out.append(Knob(lib.gl_config_field_name(i).decode(), lib.gl_config_field_default(i).decode(),
                        lib.gl_config_field_kind(i).decode(), buf.value.decode(),
                        lib.gl_config_field_help(i).decode()))
    return out


def knob_table():
    lines = []
    for k in knobs():
        allowed = f"; allowed {k.allowed}" if k.allowed else ""
        default = k.default if k.default else "none"
        lines.append(f"    {k.name} ({k.kind}, default {default}{allowed})\n        {k.help}")
    return "\n".join(lines)


def text(value):
    """A knob value as the library's text: exact for floats (repr round-trips)."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (float, np.floating)):
        return repr(float(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return str(value)


class Config:
    """A gl_config owned by Python (freed with the object)."""

    def __init__(self, knobs=None, validate=True):
        self.ptr = lib.gl_config_new()
        if not self.ptr:
            raise MemoryError("groklab: out of memory for a config")
        self.set(knobs or {})
        if validate:
            self.validate()

    def __del__(self):
        if getattr(self, "ptr", None):
            lib.gl_config_free(self.ptr)
            self.ptr = None

    def set(self, knobs):
        for name, value in knobs.items():
            call(lib.gl_config_set, self.ptr, b(name), b(text(value)))
        return self

    def validate(self):
        call(lib.gl_config_validate, self.ptr)
        return self

    def read(self, path):
        call(lib.gl_run_read_config, b(path), self.ptr)
        return self

    def get(self, name):
        buf = ctypes.create_string_buffer(1024)
        for i in range(lib.gl_config_nfields()):
            if lib.gl_config_field_name(i).decode() == name:
                lib.gl_config_field_text(self.ptr, i, buf, len(buf))
                return buf.value.decode()
        raise KeyError(name)

    def to_dict(self):
        p = lib.gl_config_to_json(self.ptr)
        if not p:
            raise MemoryError("groklab: out of memory for a config's JSON")
        try:
            d = json.loads(ctypes.string_at(p).decode())
        finally:
            libc.free(p)
        d.pop("groklab_version", None)
        return d


# ---- stopping on Ctrl-C ----

@contextlib.contextmanager
def stop_on_interrupt():
    """While training, SIGINT asks the library to stop after the current step
    (the state stays consistent and is checkpointed); Python's own handler is
    back afterwards."""
    lib.gl_stop_clear()
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.getsignal(signal.SIGINT)
    libc.signal(signal.SIGINT, STOP_HANDLER)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old if old is not None else signal.default_int_handler)
        lib.gl_stop_clear()


# ---- progress ----

class Progress:
    """A progress bar over steps: tqdm when it is installed, else a line on stderr."""

    def __init__(self, total, desc, enabled=True):
        self.total, self.done, self.bar, self.enabled = total, 0, None, enabled
        if not enabled:
            return
        try:
            from tqdm.auto import tqdm
            self.bar = tqdm(total=total, desc=desc, unit="step", leave=False)
        except ImportError:
            self.desc = desc

    def update(self, done):
        if not self.enabled or done <= self.done:
            return
        if self.bar is not None:
            self.bar.update(done - self.done)
        else:
            import sys
            sys.stderr.write(f"\r{self.desc}: {done}/{self.total} steps")
            sys.stderr.flush()
        self.done = done

    def close(self):
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.close()
        elif self.done:
            import sys
            sys.stderr.write("\n")


# ---- tables ----

def _column(values):
    try:
        return np.array([float(v) if v != "" else math.nan for v in values])
    except ValueError:
        return np.array(values)


def read_table(path):
    """A CSV file groklab wrote: a pandas DataFrame when pandas is installed,
    else a dict of numpy arrays (numbers as float64, other columns as str)."""
    pd = _pd()
    if pd is not None:
        return pd.read_csv(path, float_precision="round_trip")
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    return {name: _column([r[i] for r in body]) for i, name in enumerate(header)}
