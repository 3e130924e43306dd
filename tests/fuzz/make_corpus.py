#!/usr/bin/env python3
"""Writes the fuzzer's seed corpus (tests/fuzz/corpus): a few small valid
safetensors files that between them use every dtype, metadata, a 0-d and an
empty tensor, a header whose length is not a multiple of 8 and tensors at odd
offsets (both need the reader's aligned copies).
usage: tests/fuzz/make_corpus.py [DIR]"""
import json
import os
import struct
import sys


def write(path, entries, data, meta=None, pad=True, sep=(",", ":")):
    """entries: [(name, dtype, shape, begin, end)], in header order; data: the
    data section. pad=False leaves the header length as it falls."""
    header = {}
    if meta:
        header["__metadata__"] = meta
    for name, dtype, shape, begin, end in entries:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [begin, end]}
    text = json.dumps(header, separators=sep).encode()
    if pad:
        text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + data)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus")
    os.makedirs(out, exist_ok=True)

    def p(name):
        return os.path.join(out, name + ".safetensors")

    write(p("empty"), [], b"", meta={"p": "7"})
    write(p("scalar"), [("s", "F32", [], 0, 4), ("z", "F32", [0, 4], 4, 4)], struct.pack("<f", 3.0))
    small = (struct.pack("<6d", *[1.0] * 6) + struct.pack("<q", 5) + struct.pack("<6f", 0, 1, 2, 3, 4, 5)
             + struct.pack("<3i", 1, 2, 3) + bytes([1, 0]))
    write(p("small"), [("W", "F64", [3, 2], 0, 48), ("l", "I64", [1], 48, 56), ("U", "F32", [2, 3], 56, 80),
                       ("i", "I32", [3], 80, 92), ("m", "U8", [2], 92, 94)], small, meta={"step": "10"})
    write(p("unpadded"), [("a", "F32", [2], 0, 8)], struct.pack("<2f", 1, 2), pad=False, sep=(", ", ": "))
    odd = bytes([7]) + struct.pack("<d", -2.5) + struct.pack("<i", -3) + struct.pack("<q", 1 << 40)
    write(p("odd"), [("b", "U8", [1], 0, 1), ("d", "F64", [1], 1, 9), ("i", "I32", [1, 1], 9, 13),
                     ("q", "I64", [1], 13, 21)], odd, meta={"k": "v", "": ""})


if __name__ == "__main__":
    main()
