"""safetensors files: read as read-only memory maps (no copy), and written.

The format: an 8-byte little-endian header length, a JSON header naming each
tensor's dtype, shape and byte range in the data that follows, and the data.
"""
import json
import os
import struct

import numpy as np

_DTYPES = {"F32": np.float32, "F64": np.float64, "I32": np.int32, "I64": np.int64, "U8": np.uint8,
           "F16": np.float16, "I8": np.int8, "I16": np.int16, "BOOL": np.bool_}
_NAMES = {np.dtype(v): k for k, v in _DTYPES.items()}


def read(path):
    """(tensors, metadata): tensors maps each name to a read-only numpy array
    backed by the file."""
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) != 8:
            raise ValueError(f"{path}: not a safetensors file (shorter than its header)")
        (n,) = struct.unpack("<Q", head)
        header = json.loads(f.read(n))
    meta = header.pop("__metadata__", {}) or {}
    if not header:
        return {}, meta
    data = np.memmap(path, dtype=np.uint8, mode="r", offset=8 + n)
    out = {}
    for name, t in header.items():
        lo, hi = t["data_offsets"]
        dt = np.dtype(_DTYPES[t["dtype"]]).newbyteorder("<")
        out[name] = data[lo:hi].view(dt).reshape(t["shape"])
    return out, meta


def write(path, tensors, metadata=None):
    """Writes tensors (name -> array) with string metadata, atomically."""
    header, blobs, off = {}, [], 0
    for name, a in tensors.items():
        a = np.ascontiguousarray(a)
        if a.dtype not in _NAMES:
            raise ValueError(f"tensor '{name}': dtype {a.dtype} cannot be written (allowed: "
                             f"{', '.join(str(np.dtype(v)) for v in _DTYPES.values())})")
        raw = a.astype(a.dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {"dtype": _NAMES[a.dtype], "shape": list(a.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for raw in blobs:
            f.write(raw)
    os.replace(tmp, path)
