"""Recomputes a run's dynamics from its snapshots and saved data, and compares.

usage: check_dynamics.py RUN      (a two-layer MLP run of add, quadratic, no norm,
                                   trained with --snapshots K and a --log-every
                                   longer than the run, so that every logged
                                   step has a snapshot; RUN/dynamics from
                                   groklab dynamics RUN)

The checks, each printed as one line "OK ..." or "NOT OK ...":
  - examples.csv against numpy: at every snapshot (in step order) the forward
    pass f = W (U[:, m] + V[:, n])^2 in float64, argmax per training example;
    first_given / last_given: the first and last snapshot step where the
    argmax is the given label; unlearned: for corrupted examples, the first
    step after first_given where it is the true label instead of the given
    one (a corrupted example whose drawn label is its true label never
    unlearns); -1 for never. Equal
    for every example except those whose top two outputs are within 1e-5 of
    each other at some step (float32 rounding may swap them).
  - the final snapshot is model.safetensors, tensor for tensor, to the bit.
  - dynamics/progress_snapshots.csv (or progress.csv) at the last snapshot:
    the logits of every pair split with numpy's 2-D FFT into the modes
    (k, k) and (-k, -k) of the key frequencies (restricted) and the rest
    (excluded); the key frequencies are those whose line power is at least
    0.1 of the largest; their accuracies on the four subsets as exact counts.
"""
import csv
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import glio  # noqa: E402

bad = 0


def check(ok, msg):
    global bad
    print(("OK      " if ok else "NOT OK  ") + msg)
    bad += not ok


def logits(path, m, n):
    t, meta = glio.load_safetensors(path)
    U, V, W = (t[k].astype(np.float64) for k in ("U", "V", "W"))
    return W @ ((U[:, m] + V[:, n]) ** 2), int(meta["step"]), t


def main(run):
    data, _ = glio.load_safetensors(os.path.join(run, "data.safetensors"))
    m, n = data["train_m"], data["train_n"]
    y, yt, cor = data["train_label"], data["train_true_label"], data["train_corrupted"].astype(bool)
    snaps = sorted(f for f in os.listdir(os.path.join(run, "snapshots")) if f.endswith(".safetensors"))
    E = len(y)
    first = np.full(E, -1)
    last = np.full(E, -1)
    unl = np.full(E, -1)
    close = np.zeros(E, bool)
    steps = []
    for f in snaps:
        out, step, _ = logits(os.path.join(run, "snapshots", f), m, n)
        steps.append(step)
        top2 = np.sort(out, axis=0)[-2:]
        close |= top2[1] - top2[0] < 1e-5
        a = out.argmax(axis=0)
        given = a == y
        first[(first < 0) & given] = step
        last[given] = step
        unl[(unl < 0) & cor & (first >= 0) & (first < step) & (a == yt) & (a != y)] = step
    check(steps == sorted(set(steps)) and len(steps) > 2, f"{len(steps)} snapshots at distinct steps {steps[:6]}...")
    with open(os.path.join(run, "examples.csv")) as fh:
        rows = list(csv.DictReader(fh))
    got = {k: np.array([int(r[k]) for r in rows]) for k in ("first_given", "last_given", "unlearned")}
    same_data = len(rows) == E and all(
        np.array_equal(np.array([int(r[k]) for r in rows]), v) for k, v in (("m", m), ("n", n), ("label", y)))
    check(same_data, f"examples.csv lists the {E} training examples of data.safetensors in order")
    for k, want in (("first_given", first), ("last_given", last), ("unlearned", unl)):
        diff = (got[k] != want) & ~close
        check(same_data and not diff.any(),
              f"examples.csv {k} = numpy's from the snapshots for all but {close.sum()} near-tied examples "
              f"({diff.sum()} differ; {np.count_nonzero(want >= 0)} happened)")
    final, _ = glio.load_safetensors(os.path.join(run, "model.safetensors"))
    last_snap, meta = glio.load_safetensors(os.path.join(run, "snapshots", snaps[-1]))
    check(set(final) == set(last_snap) and all(final[k].tobytes() == last_snap[k].tobytes() for k in final),
          f"the last snapshot (step {meta['step']}) equals model.safetensors tensor for tensor, to the bit")
    check_progress(run, os.path.join(run, "snapshots", snaps[-1]), data)
    return bad


def check_progress(run, snap, data):
    cfg = glio.load_config(run)
    p = cfg["p"]
    mm, nn = np.meshgrid(np.arange(p), np.arange(p), indexing="ij")
    L, step, _ = logits(snap, mm.ravel(), nn.ravel())  # (p classes, p*p pairs)
    L = L.reshape(p, p, p)  # class, m, n
    F = np.fft.fft2(L, axes=(1, 2))
    k = np.arange(p)
    line = np.abs(F[:, k, k]) ** 2  # (class, k): the modes (k, k)
    K = p // 2
    power = np.array([line[:, j].sum() + line[:, p - j].sum() for j in range(1, K + 1)])
    keys = [j + 1 for j in range(K) if power[j] >= 0.1 * power.max()]
    mask = np.zeros((p, p), bool)
    for j in keys:
        mask[j, j] = mask[p - j, p - j] = True
    R = np.real(np.fft.ifft2(np.where(mask[None], F, 0), axes=(1, 2)))
    X = L - R
    sets = {}
    tm, tn, ty, tt = data["train_m"], data["train_n"], data["train_label"], data["train_true_label"]
    c = data["train_corrupted"].astype(bool)
    sets["clean"] = (tm[~c], tn[~c], ty[~c])
    sets["corrupted"] = (tm[c], tn[c], ty[c])
    sets["corrupted_true"] = (tm[c], tn[c], tt[c])
    sets["test"] = (data["test_m"], data["test_n"], data["test_label"])
    name = "progress_snapshots.csv" if os.path.exists(os.path.join(run, "dynamics", "progress_snapshots.csv")) \
        else "progress.csv"
    with open(os.path.join(run, "dynamics", name)) as fh:
        rows = {int(r["step"]): r for r in csv.DictReader(fh)}
    row = rows.get(step)
    check(row is not None, f"dynamics/{name} has a row for the last snapshot's step {step}")
    if row is None:
        return
    got_keys = sorted(int(x) for x in row["key_frequencies"].split())
    check(got_keys == keys, f"key frequencies at step {step}: {len(keys)} by numpy, {len(got_keys)} in {name}")
    worst = 0
    for part, A in (("full", L), ("restricted", R), ("excluded", X)):
        for s, (a, b, lab) in sets.items():
            if len(lab) == 0:
                continue
            hits = int((A[:, a, b].argmax(axis=0) == lab).sum())
            worst = max(worst, abs(hits - float(row[f"{part}_{s}_acc"]) * len(lab)))
    check(worst <= 2.01, f"accuracies of the full, restricted and excluded logits on the four subsets = numpy's "
                         f"2-D FFT split to within {worst:.0f} examples (float32 ties; allowed 2)")


if __name__ == "__main__":
    sys.exit(1 if main(sys.argv[1]) else 0)
