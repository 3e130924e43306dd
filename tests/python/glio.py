"""groklab test helpers: a strict safetensors reader/writer, the Philox
generator and groklab's random functions, and the expected dataset split.

Only numpy is needed. Everything here re-implements what the C code does, from
its specification, so that the tests compare two independent implementations.
"""

import json
import math
import os
import struct

import numpy as np

# ----------------------------------------------------------------------------
# safetensors

_DTYPES = {
    "F32": np.dtype("<f4"),
    "F64": np.dtype("<f8"),
    "I32": np.dtype("<i4"),
    "I64": np.dtype("<i8"),
    "U8": np.dtype("u1"),
}
_DTYPE_NAMES = {v: k for k, v in _DTYPES.items()}

# The official package refuses headers above 100 MB.
_MAX_HEADER = 100_000_000


def worse(a, b):
    """The larger of two errors, NaN if either is NaN (max(0.0, nan) is 0.0,
    so an error accumulated with max would pass when the code returns NaN)."""
    return math.nan if math.isnan(a) or math.isnan(b) else max(a, b)


def _no_duplicates(pairs):
    """object_pairs_hook for json.loads that rejects repeated keys."""
    out = {}
    for k, v in pairs:
        if k in out:
            raise ValueError("safetensors: duplicate key %r in header" % k)
        out[k] = v
    return out


def load_safetensors(path):
    """Reads a safetensors file strictly.

    Returns (tensors, metadata): tensors maps name -> numpy array (native byte
    order, a copy), metadata is the "__metadata__" dict ({} when absent).
    Raises ValueError for anything the official package would refuse: short
    file, oversized or non-JSON header, unknown dtype, bad shape, byte sizes
    that do not match dtype * shape, overlapping/gapped offsets, or a data
    buffer that is not covered exactly.
    """
    with open(path, "rb") as f:
        raw = f.read()
    where = os.fspath(path)
    if len(raw) < 8:
        raise ValueError("%s: file is %d bytes, shorter than the 8-byte header size" % (where, len(raw)))
    (n,) = struct.unpack("<Q", raw[:8])
    if n > _MAX_HEADER:
        raise ValueError("%s: header size %d exceeds the limit %d" % (where, n, _MAX_HEADER))
    if 8 + n > len(raw):
        raise ValueError("%s: header size %d runs past the end of the %d-byte file" % (where, n, len(raw)))
    try:
        text = raw[8:8 + n].decode("utf-8")
    except UnicodeDecodeError as e:
        raise ValueError("%s: header is not UTF-8: %s" % (where, e))
    if not text.startswith("{"):
        raise ValueError("%s: header does not start with '{'" % where)
    try:
        header = json.loads(text, object_pairs_hook=_no_duplicates)
    except json.JSONDecodeError as e:
        raise ValueError("%s: header is not valid JSON: %s" % (where, e))
    except ValueError as e:  # duplicate key
        raise ValueError("%s: %s" % (where, e))
    if not isinstance(header, dict):
        raise ValueError("%s: header is not a JSON object" % where)

    metadata = header.pop("__metadata__", None)
    if metadata is None:
        metadata = {}
    if not isinstance(metadata, dict):
        raise ValueError("%s: __metadata__ is not an object" % where)
    for k, v in metadata.items():
        if not isinstance(v, str):
            raise ValueError("%s: __metadata__[%r] is not a string" % (where, k))

    buf = raw[8 + n:]
    entries = []
    for name, info in header.items():
        if not isinstance(info, dict):
            raise ValueError("%s: entry %r is not an object" % (where, name))
        keys = set(info)
        if keys != {"dtype", "shape", "data_offsets"}:
            raise ValueError("%s: entry %r has keys %s, expected dtype, shape, data_offsets"
                             % (where, name, sorted(keys)))
        dt = info["dtype"]
        if dt not in _DTYPES:
            raise ValueError("%s: %r has unsupported dtype %r" % (where, name, dt))
        shape = info["shape"]
        if not isinstance(shape, list) or not all(
                isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
            raise ValueError("%s: %r has a bad shape %r" % (where, name, shape))
        offs = info["data_offsets"]
        if (not isinstance(offs, list) or len(offs) != 2 or not all(
                isinstance(o, int) and not isinstance(o, bool) and o >= 0 for o in offs)):
            raise ValueError("%s: %r has bad data_offsets %r" % (where, name, offs))
        begin, end = offs
        if end < begin:
            raise ValueError("%s: %r has data_offsets end %d < begin %d" % (where, name, end, begin))
        nbytes = math.prod(shape) * _DTYPES[dt].itemsize
        if end - begin != nbytes:
            raise ValueError("%s: %r spans %d bytes but dtype %s shape %s needs %d"
                             % (where, name, end - begin, dt, shape, nbytes))
        entries.append((begin, end, name, dt, shape))

    # Offsets, in order, must tile [0, len(buf)) exactly.
    entries.sort()
    pos = 0
    for begin, end, name, _, _ in entries:
        if begin != pos:
            what = "overlaps the previous tensor" if begin < pos else "leaves a gap"
            raise ValueError("%s: %r starts at %d, expected %d (%s)" % (where, name, begin, pos, what))
        pos = end
    if pos != len(buf):
        raise ValueError("%s: tensors cover %d bytes but the data buffer has %d" % (where, pos, len(buf)))

    tensors = {}
    for begin, end, name, dt, shape in entries:
        arr = np.frombuffer(buf, dtype=_DTYPES[dt], count=math.prod(shape), offset=begin)
        tensors[name] = arr.reshape(tuple(shape)).astype(_DTYPES[dt].newbyteorder("="), copy=True)
    return tensors, metadata


def save_safetensors(path, tensors, metadata=None):
    """Writes tensors (name -> numpy array of F32/F64/I32/I64/U8) to path.

    Tensors are laid out like the official writer (larger dtypes first, then
    by name); the header is padded with spaces to a multiple of 8 bytes.
    """
    arrays = {}
    for name, a in tensors.items():
        a = np.asarray(a)
        dt = a.dtype.newbyteorder("<") if a.dtype.itemsize > 1 else a.dtype
        if dt not in _DTYPE_NAMES:
            raise ValueError("save_safetensors: %r has unsupported dtype %s" % (name, a.dtype))
        arrays[name] = np.array(a, dtype=dt, order="C")  # keeps 0-d shapes
    header = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    order = sorted(arrays, key=lambda k: (-arrays[k].dtype.itemsize, k))
    pos = 0
    for name in order:
        a = arrays[name]
        header[name] = {"dtype": _DTYPE_NAMES[a.dtype], "shape": list(a.shape),
                        "data_offsets": [pos, pos + a.nbytes]}
        pos += a.nbytes
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for name in order:
            f.write(arrays[name].tobytes())


# ----------------------------------------------------------------------------
# Philox4x32-10 (Random123)

PHILOX_M0 = 0xD2511F53
PHILOX_M1 = 0xCD9E8D57
PHILOX_W0 = 0x9E3779B9
PHILOX_W1 = 0xBB67AE85
_MASK32 = 0xFFFFFFFF


def philox4x32_10(ctr, key):
    """Philox4x32 with 10 rounds on Python ints: ctr 4 words, key 2 words."""
    c0, c1, c2, c3 = (int(x) & _MASK32 for x in ctr)
    k0, k1 = (int(x) & _MASK32 for x in key)
    for r in range(10):
        if r:
            k0 = (k0 + PHILOX_W0) & _MASK32
            k1 = (k1 + PHILOX_W1) & _MASK32
        p0 = PHILOX_M0 * c0
        p1 = PHILOX_M1 * c2
        c0, c1, c2, c3 = ((p1 >> 32) ^ c1 ^ k0, p1 & _MASK32,
                          (p0 >> 32) ^ c3 ^ k1, p0 & _MASK32)
    return (c0, c1, c2, c3)


def philox4x32_10_np(c0, c1, c2, c3, k0, k1):
    """Vectorized Philox4x32-10: arguments broadcast, any integer arrays
    holding 32-bit values; returns four uint64 arrays of 32-bit words."""
    m32 = np.uint64(_MASK32)
    s32 = np.uint64(32)
    c0, c1, c2, c3, k0, k1 = (np.asarray(x, dtype=np.uint64) & m32
                              for x in (c0, c1, c2, c3, k0, k1))
    c0, c1, c2, c3, k0, k1 = np.broadcast_arrays(c0, c1, c2, c3, k0, k1)
    for r in range(10):
        if r:
            k0 = (k0 + np.uint64(PHILOX_W0)) & m32
            k1 = (k1 + np.uint64(PHILOX_W1)) & m32
        p0 = np.uint64(PHILOX_M0) * c0  # < 2^64: exact in uint64
        p1 = np.uint64(PHILOX_M1) * c2
        c0, c1, c2, c3 = ((p1 >> s32) ^ c1 ^ k0, p1 & m32,
                          (p0 >> s32) ^ c3 ^ k1, p0 & m32)
    return c0, c1, c2, c3


# Known answers from Random123's kat_vectors (philox4x32_10).
PHILOX_KAT = [
    ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((0xFFFFFFFF,) * 4, (0xFFFFFFFF,) * 2, (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
     (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1)),
]


def philox_selftest():
    """Checks both Philox implementations against the known answers.
    Returns a list of failure messages (empty = pass)."""
    fails = []
    for ctr, key, want in PHILOX_KAT:
        got = philox4x32_10(ctr, key)
        if tuple(got) != want:
            fails.append("philox4x32_10(%s, %s) = %s, want %s"
                         % ([hex(x) for x in ctr], [hex(x) for x in key],
                            [hex(x) for x in got], [hex(x) for x in want]))
        gotv = tuple(int(x) for x in philox4x32_10_np(*ctr, *key))
        if gotv != want:
            fails.append("philox4x32_10_np(%s, %s) = %s, want %s"
                         % ([hex(x) for x in ctr], [hex(x) for x in key],
                            [hex(x) for x in gotv], [hex(x) for x in want]))
    return fails


# ----------------------------------------------------------------------------
# groklab's random functions (src/core/rng.c)

STREAM_SPLIT = 1
STREAM_CORRUPT = 2
STREAM_INIT = 3
STREAM_DROPOUT = 4
STREAM_MINIBATCH = 5


def gl_philox(seed, stream, a, b):
    """Counter (a_lo, a_hi, b, stream), key (seed_lo, seed_hi)."""
    seed, a = int(seed), int(a)
    return philox4x32_10((a & _MASK32, (a >> 32) & _MASK32, b, stream),
                         (seed & _MASK32, (seed >> 32) & _MASK32))


def uniform_int(seed, stream, a, b, n):
    """Uniform integer in [0, n): high 64 bits of (out0:out1) * n."""
    o = gl_philox(seed, stream, a, b)
    return (((o[0] << 32) | o[1]) * int(n)) >> 64


def uniform_int_np(seed, stream, a, b, n):
    """Vectorized uniform_int over arrays a, b, n (n < 2^32); int64 result."""
    seed = int(seed)
    a = np.asarray(a, dtype=np.uint64)
    o0, o1, _, _ = philox4x32_10_np(a & np.uint64(_MASK32), a >> np.uint64(32), b, stream,
                                    seed & _MASK32, (seed >> 32) & _MASK32)
    n = np.asarray(n, dtype=np.uint64)
    s32 = np.uint64(32)
    # (x * n) >> 64 with x = o0 * 2^32 + o1, without 128-bit integers:
    # o0 * n <= (2^32 - 1)^2, plus a value < 2^32, still fits in uint64.
    t = o0 * n + ((o1 * n) >> s32)
    return (t >> s32).astype(np.int64)


def shuffle(n, seed, stream, b):
    """groklab's Fisher-Yates shuffle of range(n) (gl_shuffle on the identity)."""
    n = int(n)
    perm = list(range(n))
    if n < 2:
        return perm
    i = np.arange(n - 1, 0, -1, dtype=np.uint64)
    js = uniform_int_np(seed, stream, i, b, i + np.uint64(1)).tolist()
    for i, j in zip(range(n - 1, 0, -1), js):
        perm[i], perm[j] = perm[j], perm[i]
    return perm


def shuffle_slow(n, seed, stream, b):
    """The same shuffle with scalar Philox calls (reference for the self-test)."""
    perm = list(range(n))
    for i in range(n - 1, 0, -1):
        j = uniform_int(seed, stream, i, b, i + 1)
        perm[i], perm[j] = perm[j], perm[i]
    return perm


# ----------------------------------------------------------------------------
# tasks and the dataset split


def _inverse(n, p):
    return pow(n, p - 2, p)  # p prime


# label(m, n, p); None marks a pair outside the task.
TASKS = {
    "add": lambda m, n, p: (m + n) % p,
    "sub": lambda m, n, p: (m - n) % p,
    "mul": lambda m, n, p: (m * n) % p,
    "div": lambda m, n, p: None if n == 0 else (m * _inverse(n, p)) % p,
    "sq_sum": lambda m, n, p: (m * m + n * n) % p,
    "quad1": lambda m, n, p: (m * m + m * n + n * n) % p,
    "quad2": lambda m, n, p: (m * m + m * n + n * n + m) % p,
    "cubic1": lambda m, n, p: (m ** 3 + m * n) % p,
    "cubic2": lambda m, n, p: (m ** 3 + m * n * n + n) % p,
    # as documented by `groklab train --help`: integer m // n for odd n, and
    # n == 0 is even, so (m, 0) belongs to the task with label m
    "odd_div": lambda m, n, p: m // n if n % 2 == 1 else (m - n) % p,
    "even_mul": lambda m, n, p: (m + n) % p if m % 2 == 0 else (m * n) % p,
    "even_sub": lambda m, n, p: (m + n) % p if m % 2 == 0 else (m - n) % p,
}


def task_pairs(task, p):
    """The (m, n, label) triples of a task in m-major order."""
    if task not in TASKS:
        raise ValueError("expected_split: task %r not implemented in glio.py (known: %s)"
                         % (task, ", ".join(sorted(TASKS))))
    f = TASKS[task]
    out = []
    for m in range(p):
        for n in range(p):
            y = f(m, n, p)
            if y is not None:
                out.append((m, n, y))
    return out


def load_config(path_or_dir):
    """Reads config.json (a run directory or the file itself)."""
    path = os.fspath(path_or_dir)
    if os.path.isdir(path):
        path = os.path.join(path, "config.json")
    with open(path) as f:
        return json.load(f)


def expected_split(config):
    """The dataset groklab must build for config (a dict from config.json).

    Returns a dict of numpy arrays named like data.safetensors: train_m,
    train_n, train_label, train_true_label (int32), train_corrupted (uint8),
    test_m, test_n, test_label (int32).
    """
    p = int(config["p"])
    pairs = task_pairs(config["task"], p)
    total = len(pairs)
    perm = shuffle(total, int(config["split_seed"]), STREAM_SPLIT, 0)
    n_train = int(math.floor(float(config["frac"]) * total))
    ordered = np.array([pairs[k] for k in perm], dtype=np.int32).reshape(total, 3)
    train, test = ordered[:n_train], ordered[n_train:]
    n_corrupt = int(math.floor(float(config["noise"]) * n_train))
    label = train[:, 2].copy()
    if n_corrupt:
        label[:n_corrupt] = uniform_int_np(int(config["noise_seed"]), STREAM_CORRUPT,
                                           np.arange(n_corrupt, dtype=np.uint64), 0, p)
    corrupted = np.zeros(n_train, dtype=np.uint8)
    corrupted[:n_corrupt] = 1
    return {
        "train_m": np.ascontiguousarray(train[:, 0]),
        "train_n": np.ascontiguousarray(train[:, 1]),
        "train_label": label.astype(np.int32),
        "train_true_label": np.ascontiguousarray(train[:, 2]),
        "train_corrupted": corrupted,
        "test_m": np.ascontiguousarray(test[:, 0]),
        "test_n": np.ascontiguousarray(test[:, 1]),
        "test_label": np.ascontiguousarray(test[:, 2]),
    }


if __name__ == "__main__":
    problems = philox_selftest()
    for msg in problems:
        print("NOT OK", msg)
    print("philox self-test:", "FAIL" if problems else "OK")
    raise SystemExit(1 if problems else 0)
