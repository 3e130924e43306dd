"""Recomputes `groklab ipr RUN` from the run's weights with numpy and compares.

usage: check_ipr.py RUN

Reads RUN/model.safetensors (and init.safetensors when present), RUN/ipr.csv
and RUN/ipr_summary.json of a two-layer MLP run. The convention and r are
taken from the summary (they are options of the command); the basis is what
`--basis auto` must pick for the run's task (discrete log to the smallest
primitive root for mul and div with p prime, additive otherwise). Per neuron
k, the IPR of a vector x (length n after the basis) is

    rfft: a = |np.fft.rfft(x)|         IPR = sum a^(2r) / (sum a^2)^r
    full: a = |np.fft.fft(x)|          (the same sums over all n bins)

of row k of U, row k of V and column k of W, and the neuron's IPR is their
mean. Compares ipr, ipr_u, ipr_v, ipr_w and ipr_init of every row (1e-5) and
the summary's mean_ipr and mean_ipr_init (1e-6). Prints one line; exit 1 on
a mismatch.
"""

import csv
import json
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import glio  # noqa: E402

TOL_ROW, TOL_MEAN = 1e-5, 1e-6


def is_prime(p):
    return p >= 2 and all(p % d for d in range(2, int(math.isqrt(p)) + 1))


def smallest_primitive_root(p):
    for g in range(2, p):
        if len({pow(g, e, p) for e in range(p - 1)}) == p - 1:
            return g
    return 2 if p == 3 else None


def ipr_rows(X, conv, r):
    """IPR of each row of X (rows are the vectors)."""
    X = np.asarray(X, dtype=np.float64)
    a = np.abs(np.fft.rfft(X, axis=1) if conv == "rfft" else np.fft.fft(X, axis=1))
    s2 = (a ** 2).sum(axis=1)
    return (a ** (2 * r)).sum(axis=1) / s2 ** r


def neuron_ipr(path, p, idx, conv, r):
    t, _ = glio.load_safetensors(path)
    U, V, W = t["U"], t["V"], t["W"]  # (N, p), (N, p), (p, N)
    iu = ipr_rows(U[:, idx], conv, r)
    iv = ipr_rows(V[:, idx], conv, r)
    iw = ipr_rows(W.T[:, idx], conv, r)
    return (iu + iv + iw) / 3.0, iu, iv, iw


def main():
    run = sys.argv[1]
    cfg = glio.load_config(run)
    with open(os.path.join(run, "ipr_summary.json")) as f:
        summ = json.load(f)
    with open(os.path.join(run, "ipr.csv")) as f:
        rows = list(csv.DictReader(f))
    p, conv, r = int(cfg["p"]), summ["convention"], float(summ["r"])
    errs = []
    if cfg["task"] in ("mul", "div") and is_prime(p) and p >= 3:
        g = smallest_primitive_root(p)
        idx = [pow(g, e, p) for e in range(p - 1)]
        basis = "dlog"
        if summ.get("primitive_root") != g:
            errs.append("primitive_root %s, want %d" % (summ.get("primitive_root"), g))
    else:
        idx, basis = list(range(p)), "additive"
    if summ["basis"] != basis:
        errs.append("basis %s, want %s" % (summ["basis"], basis))
    ipr, iu, iv, iw = neuron_ipr(os.path.join(run, "model.safetensors"), p, idx, conv, r)
    N = len(ipr)
    has_init = os.path.exists(os.path.join(run, "init.safetensors"))
    ipr0 = neuron_ipr(os.path.join(run, "init.safetensors"), p, idx, conv, r)[0] if has_init else None
    if len(rows) != N:
        errs.append("ipr.csv has %d rows, the model %d neurons" % (len(rows), N))
    worst = 0.0
    for k, row in enumerate(rows[:N]):
        if int(row["neuron"]) != k:
            errs.append("row %d is neuron %s" % (k, row["neuron"]))
        want = {"ipr": ipr[k], "ipr_u": iu[k], "ipr_v": iv[k], "ipr_w": iw[k]}
        if has_init:
            want["ipr_init"] = ipr0[k]
        for col, w in want.items():
            d = abs(float(row[col]) - w)
            worst = glio.worse(worst, d)
            if not d < TOL_ROW:
                errs.append("neuron %d %s %s, numpy %.9g" % (k, col, row[col], w))
        if not has_init and row["ipr_init"] != "nan":
            errs.append("neuron %d ipr_init %s without init.safetensors" % (k, row["ipr_init"]))
    means = {"mean_ipr": float(ipr.mean())}
    if has_init:
        means["mean_ipr_init"] = float(ipr0.mean())
    for key, w in means.items():
        got = summ.get(key)
        if got is None or not abs(got - w) < TOL_MEAN:
            errs.append("%s %s, numpy %.9g" % (key, got, w))
    if errs:
        print("%s: %d mismatches: %s" % (run, len(errs), "; ".join(errs[:5])))
        sys.exit(1)
    print("%d neurons' IPR (%s, %s basis, r = %g%s) = numpy within %.1e, mean %.6f" % (
        N, conv, basis, r, ", and at init" if has_init else "", worst, means["mean_ipr"]))


if __name__ == "__main__":
    main()
