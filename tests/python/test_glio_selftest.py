"""Self-test of the Python helpers in glio.py (no groklab binary needed).

Usage: test_glio_selftest.py

Checks the Philox known answers, that the vectorized and scalar versions of
groklab's random functions agree, the dataset split's invariants, a
safetensors save/load round trip, and that the strict reader refuses broken
files. Prints OK / NOT OK lines; exits 1 on any failure.
"""

import json
import os
import struct
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import glio  # noqa: E402

FAILS = 0


def report(ok, msg):
    global FAILS
    print(("OK " if ok else "NOT OK ") + msg)
    FAILS += not ok


def test_philox():
    problems = glio.philox_selftest()
    for msg in problems:
        report(False, msg)
    report(not problems, "philox4x32_10 known answers (%d vectors)" % len(glio.PHILOX_KAT))


def test_random_functions():
    seed = 0xFEDCBA9876543210  # exercises both key words
    a = [0, 1, 7, 0x1_0000_0003, 2**40 + 5]
    ns = [1, 2, 97, 9409, 2**31 + 11]
    scalar = [glio.uniform_int(seed, glio.STREAM_CORRUPT, x, 3, n) for x, n in zip(a, ns)]
    vector = glio.uniform_int_np(seed, glio.STREAM_CORRUPT, np.array(a, dtype=np.uint64), 3,
                                 np.array(ns, dtype=np.uint64)).tolist()
    report(scalar == vector, "uniform_int scalar == vectorized: %s" % scalar)
    report(all(0 <= v < n for v, n in zip(scalar, ns)), "uniform_int in range")
    o = glio.gl_philox(seed, 5, 0x1_0000_0003, 9)
    d = glio.philox4x32_10((3, 1, 9, 5), (0x76543210, 0xFEDCBA98))
    report(o == d, "gl_philox counter/key layout")
    for n, b in ((1, 0), (2, 0), (100, 4), (2822, 1)):
        fast = glio.shuffle(n, 42, glio.STREAM_MINIBATCH, b)
        slow = glio.shuffle_slow(n, 42, glio.STREAM_MINIBATCH, b)
        report(fast == slow and sorted(fast) == list(range(n)),
               "shuffle(n=%d, b=%d) is a permutation equal to the scalar version" % (n, b))


def test_split():
    cfg = {"task": "add", "p": 11, "frac": 0.5, "noise": 0.3, "split_seed": 3,
           "noise_seed": 4}
    d = glio.expected_split(cfg)
    n_train = int(0.5 * 121)
    ok = len(d["train_m"]) == n_train and len(d["test_m"]) == 121 - n_train
    pairs = set(zip(d["train_m"].tolist() + d["test_m"].tolist(),
                    d["train_n"].tolist() + d["test_n"].tolist()))
    ok = ok and len(pairs) == 121
    ok = ok and np.array_equal(d["train_true_label"], (d["train_m"] + d["train_n"]) % 11)
    ok = ok and np.array_equal(d["test_label"], (d["test_m"] + d["test_n"]) % 11)
    n_c = int(0.3 * n_train)
    ok = ok and int(d["train_corrupted"].sum()) == n_c and d["train_corrupted"][:n_c].all()
    ok = ok and np.array_equal(d["train_label"][n_c:], d["train_true_label"][n_c:])
    report(ok, "expected_split(add, p=11) invariants")
    div = glio.expected_split(dict(cfg, task="div"))
    ok = len(div["train_m"]) + len(div["test_m"]) == 110 and (div["train_n"] != 0).all()
    ok = ok and np.array_equal((div["test_label"] * div["test_n"]) % 11, div["test_m"])
    report(ok, "expected_split(div, p=11) skips n == 0 and inverts")


def test_roundtrip(tmp):
    path = os.path.join(tmp, "rt.safetensors")
    rng = np.random.default_rng(0)
    t = {"U": rng.standard_normal((5, 3)).astype(np.float32),
         "d": rng.standard_normal(7),
         "i32": np.arange(-3, 4, dtype=np.int32),
         "i64": np.array([[2**40, -1]], dtype=np.int64),
         "u8": np.array([0, 1, 255], dtype=np.uint8),
         "empty": np.zeros((0, 4), dtype=np.float32),
         "scalar": np.array(1.5, dtype=np.float32)}
    meta = {"step": "50", "note": "ü"}
    glio.save_safetensors(path, t, meta)
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
    report(n % 8 == 0, "header padded to a multiple of 8 (%d)" % n)
    back, meta2 = glio.load_safetensors(path)
    ok = meta2 == meta and set(back) == set(t)
    ok = ok and all(back[k].dtype == t[k].dtype and back[k].shape == t[k].shape
                    and np.array_equal(back[k], t[k]) for k in t)
    report(ok, "save/load round trip (%d tensors, metadata)" % len(t))


def _write(path, header, data, n_override=None, raw_header=None):
    text = raw_header if raw_header is not None else json.dumps(header).encode()
    n = len(text) if n_override is None else n_override
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", n) + text + data)


def test_rejects(tmp):
    path = os.path.join(tmp, "bad.safetensors")
    f32 = lambda b, e, shape=(2,): {"dtype": "F32", "shape": list(shape), "data_offsets": [b, e]}
    good = {"a": f32(0, 8), "b": f32(8, 16)}
    _write(path, good, bytes(16))
    try:
        glio.load_safetensors(path)
        report(True, "strict reader accepts a valid hand-written file")
    except ValueError as e:
        report(False, "strict reader accepts a valid hand-written file: %s" % e)
    cases = [
        ("file shorter than 8 bytes", None),
        ("header size past end of file", dict(header=good, data=bytes(16), n_override=10**6)),
        ("header not JSON", dict(header=None, data=b"", raw_header=b"{nope")),
        ("header not an object", dict(header=[1, 2], data=b"")),
        ("duplicate key", dict(header=None, data=bytes(8), raw_header=(
            b'{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},'
            b'"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}'))),
        ("unknown dtype", dict(header={"a": {"dtype": "F16", "shape": [2],
                                             "data_offsets": [0, 4]}}, data=bytes(4))),
        ("size != dtype * shape", dict(header={"a": f32(0, 12)}, data=bytes(12))),
        ("overlapping offsets", dict(header={"a": f32(0, 8), "b": f32(4, 12)}, data=bytes(12))),
        ("gap between tensors", dict(header={"a": f32(0, 8), "b": f32(12, 20)}, data=bytes(20))),
        ("buffer longer than tensors", dict(header=good, data=bytes(20))),
        ("buffer shorter than tensors", dict(header=good, data=bytes(12))),
        ("negative shape", dict(header={"a": {"dtype": "F32", "shape": [-2],
                                              "data_offsets": [0, 0]}}, data=b"")),
        ("end < begin", dict(header={"a": f32(8, 0, (0,))}, data=bytes(8))),
        ("metadata value not a string", dict(header={"__metadata__": {"k": 1}}, data=b"")),
        ("extra field in tensor entry", dict(header={"a": dict(f32(0, 8), extra=1)},
                                             data=bytes(8))),
    ]
    for what, kw in cases:
        if kw is None:
            with open(path, "wb") as f:
                f.write(b"\x01\x00")
        else:
            _write(path, **kw)
        try:
            glio.load_safetensors(path)
            report(False, "strict reader rejects: %s (accepted)" % what)
        except ValueError as e:
            report(True, "strict reader rejects: %s -> %s" % (what, e))


def main():
    test_philox()
    test_random_functions()
    test_split()
    with tempfile.TemporaryDirectory() as tmp:
        test_roundtrip(tmp)
        test_rejects(tmp)
    print("glio self-test: %s" % ("FAIL (%d)" % FAILS if FAILS else "PASS"))
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main())
