#!/usr/bin/env python3
"""The layering rule of docs/design.md, checked on the built objects.

groklab is a one-way stack of layers, one folder of src/ each:

    core <- data <- model <- metrics <- train <- backend <- run <- analysis
         <- sweep <- figure <- bind <- cli

A file may use what its own layer and the layers before it define, never a
layer after it. This reads every object file of the library and the program
(nm: the symbols each defines and the symbols it needs) and the quoted
#include lines of every source file, and lists each use of a later layer:

    check_layers.py BUILD_DIR SOURCE_DIR

Exit status 0 when there is none, 1 otherwise (one line per violation).
"""
import os
import re
import subprocess
import sys

LAYERS = ["core", "data", "model", "metrics", "train", "backend", "run", "analysis", "sweep",
          "figure", "bind", "cli"]

# The layer whose files implement each public header (include/groklab/).
HEADERS = {
    "error.h": "core", "config.h": "core", "rng.h": "core", "modular.h": "core",
    "runtime.h": "core", "files.h": "core", "array.h": "core", "text.h": "core", "task.h": "core", "version.h": "core",
    "data.h": "data",
    "model.h": "model", "deep.h": "model", "transformer.h": "model", "arch.h": "model",
    "metrics.h": "metrics",
    "optim.h": "train", "train.h": "train",
    "gpu.h": "backend",
    "io.h": "run",
    "analysis.h": "analysis",
    "sweep.h": "sweep",
    "figure.h": "figure",
    "bind.h": "bind",
    "groklab.h": "cli",  # the umbrella: everything
}


def layer_of(path):
    m = re.search(r"(?:^|/)src/([a-z]+)/", path)
    return m.group(1) if m and m.group(1) in LAYERS else None


def nm(obj, *flags):
    out = subprocess.run(["nm", *flags, obj], capture_output=True, text=True, check=True).stdout
    syms = []
    for line in out.splitlines():
        parts = line.split()
        if not parts:
            continue
        syms.append(parts[-1])
    return syms


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    build, source = sys.argv[1], sys.argv[2]
    objs = []
    for root, _, files in os.walk(build):
        for f in files:
            if f.endswith(".o") and "/CMakeFiles/" in root + "/" and layer_of(os.path.join(root, f)):
                if "/tests/" in root or "/bench/" in root:
                    continue
                objs.append(os.path.join(root, f))
    if not objs:
        print(f"no object files of src/ under {build}")
        return 2
    defined = {}
    for o in objs:
        for s in nm(o, "--defined-only", "-g"):
            defined.setdefault(s, o)
    bad = []
    for o in objs:
        lo = LAYERS.index(layer_of(o))
        for s in nm(o, "-u"):
            d = defined.get(s)
            if d and LAYERS.index(layer_of(d)) > lo:
                bad.append(f"{os.path.relpath(o, build)} ({layer_of(o)}) uses {s} of "
                           f"{os.path.relpath(d, build)} ({layer_of(d)})")
    n_src = 0
    for root, _, files in os.walk(os.path.join(source, "src")):
        for f in files:
            if not f.endswith((".c", ".h", ".cu")):
                continue
            path = os.path.join(root, f)
            lo = layer_of(os.path.relpath(path, source))
            if not lo:
                continue
            n_src += 1
            for i, line in enumerate(open(path, encoding="utf-8"), 1):
                m = re.match(r'\s*#\s*include\s+"([^"]+)"', line)
                if not m:
                    continue
                inc = m.group(1)
                if inc.startswith("groklab/"):
                    h = HEADERS.get(inc[len("groklab/"):])
                    if h is None:
                        bad.append(f"{os.path.relpath(path, source)}:{i}: includes {inc}, "
                                   f"which check_layers.py does not place in a layer")
                        continue
                elif "/" in inc:
                    h = inc.split("/")[0]
                    if h not in LAYERS:
                        continue
                elif os.path.exists(os.path.join(root, inc)):
                    h = lo
                else:  # a header of another folder, found through an include path
                    hits = [d for d in LAYERS if os.path.exists(os.path.join(source, "src", d, inc))]
                    h = hits[0] if hits else lo
                if LAYERS.index(h) > LAYERS.index(lo):
                    bad.append(f"{os.path.relpath(path, source)}:{i} ({lo}) includes {inc} ({h})")
    for b in bad:
        print("upward:", b)
    print(f"{len(objs)} objects, {len(defined)} symbols, {n_src} sources: "
          f"{len(bad)} uses of a later layer")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
