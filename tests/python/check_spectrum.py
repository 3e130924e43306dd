"""Recomputes `groklab spectrum RUN --neuron K` from the run's weights with numpy.

usage: check_spectrum.py RUN K

For a two-layer MLP run in the additive basis (or the discrete-log one for
mul and div with p prime, as check_ipr.py picks it):
  - spectrum.csv: per neuron k and frequency j of the rfft, power_u, power_v,
    power_w = |rfft(x)_j|^2 of row k of U, row k of V and column k of W
    (1e-5 relative to the neuron's largest power); amp_* = sqrt(power / the
    vector's largest power) (1e-5); rank: the heat map's row, neurons sorted
    by dominant frequency (argmax over j of the sum over the three vectors of
    power_j / total power; first maximum), then IPR from high to low, then
    index (exact).
  - neuron_K.csv: the neuron's weights at init and now in basis order (1e-7
    relative); neuron_K_spectrum.csv: its power at init and now (as above).
Prints one line; exit 1 on a mismatch.
"""

import csv
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import glio  # noqa: E402
import check_ipr  # noqa: E402


def vectors(path, idx):
    t, _ = glio.load_safetensors(path)
    return [np.asarray(x, dtype=np.float64)[:, idx] for x in (t["U"], t["V"], t["W"].T)]  # each (N, n)


def power(vecs):
    return [np.abs(np.fft.rfft(x, axis=1)) ** 2 for x in vecs]  # each (N, bins)


def close(a, b, scale, tol):
    return abs(a - b) <= tol * max(scale, 1e-30)


def main():
    run, K = sys.argv[1], int(sys.argv[2])
    cfg = glio.load_config(run)
    p = int(cfg["p"])
    if cfg["task"] in ("mul", "div") and check_ipr.is_prime(p) and p >= 3:
        g = check_ipr.smallest_primitive_root(p)
        idx = [pow(g, e, p) for e in range(p - 1)]
    else:
        idx = list(range(p))
    vec = vectors(os.path.join(run, "model.safetensors"), idx)
    pw = power(vec)
    N, nb = pw[0].shape
    ipr = check_ipr.neuron_ipr(os.path.join(run, "model.safetensors"), p, idx, cfg.get("ipr", "rfft"), 2.0)[0]
    share = sum(q / q.sum(axis=1, keepdims=True) for q in pw)
    freq = share.argmax(axis=1)
    rank = {k: r for r, k in enumerate(sorted(range(N), key=lambda k: (freq[k], -ipr[k], k)))}
    errs = []
    with open(os.path.join(run, "spectrum.csv")) as f:
        rows = list(csv.DictReader(f))
    if len(rows) != N * nb:
        errs.append("spectrum.csv has %d rows, want %d x %d" % (len(rows), N, nb))
    for row in rows:
        k, j = int(row["neuron"]), int(row["freq"])
        if j == 0 and int(row["rank"]) != rank[k]:
            errs.append("neuron %d rank %s, recomputed %d" % (k, row["rank"], rank[k]))
        for q, name in enumerate("uvw"):
            mx = pw[q][k].max()
            if not close(float(row["power_" + name]), pw[q][k, j], mx, 1e-5):
                errs.append("neuron %d freq %d power_%s %s, numpy %.9g" % (k, j, name, row["power_" + name], pw[q][k, j]))
            if not close(float(row["amp_" + name]), np.sqrt(pw[q][k, j] / mx), 1.0, 1e-5):
                errs.append("neuron %d freq %d amp_%s %s, numpy %.9g" % (k, j, name, row["amp_" + name],
                                                                       np.sqrt(pw[q][k, j] / mx)))
    init = os.path.join(run, "init.safetensors")
    vec0 = vectors(init, idx) if os.path.exists(init) else None
    pw0 = power(vec0) if vec0 else None
    with open(os.path.join(run, "neuron_%d.csv" % K)) as f:
        wrows = list(csv.DictReader(f))
    if [int(r["residue"]) for r in wrows] != idx:
        errs.append("neuron_%d.csv residues %s, want %s" % (K, [r["residue"] for r in wrows], idx))
    for j, row in enumerate(wrows):
        for q, name in enumerate("uvw"):
            for col, v in ((name, vec), (name + "_init", vec0)):
                if v is None:
                    continue
                if not close(float(row[col]), v[q][K, j], abs(v[q][K, j]), 1e-7):
                    errs.append("neuron_%d.csv position %d %s %s, weights %.9g" % (K, j, col, row[col], v[q][K, j]))
    with open(os.path.join(run, "neuron_%d_spectrum.csv" % K)) as f:
        srows = list(csv.DictReader(f))
    for row in srows:
        j = int(row["freq"])
        for q, name in enumerate("uvw"):
            for col, v in (("power_" + name, pw), ("power_%s_init" % name, pw0)):
                if v is None:
                    continue
                if not close(float(row[col]), v[q][K, j], v[q][K].max(), 1e-5):
                    errs.append("neuron_%d_spectrum.csv freq %d %s %s, numpy %.9g" % (K, j, col, row[col], v[q][K, j]))
    if len(srows) != nb:
        errs.append("neuron_%d_spectrum.csv has %d rows, want %d" % (K, len(srows), nb))
    if errs:
        print("%s: %d mismatches: %s" % (run, len(errs), "; ".join(errs[:5])))
        sys.exit(1)
    print("%d neurons x %d frequencies: power, amplitude and heat-map rank = numpy; neuron %d's weights and "
          "spectrum%s = the safetensors'" % (N, nb, K, " (and at init)" if vec0 else ""))


if __name__ == "__main__":
    main()
