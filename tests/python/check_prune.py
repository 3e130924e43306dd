"""Recomputes `groklab prune RUN` from the run's files and compares.

usage: check_prune.py RUN [--threshold T] [--on train]
                                 check RUN/prune.csv, RUN/prune_summary.json
       check_prune.py --pick RUN   print a threshold for RUN's low-IPR-first test
                                 curve that makes an off-by-one visible

The check, for a two-layer MLP run without a norm layer:
  - prune_summary.json from the rows of prune.csv with order == low (accuracies
    turned back into counts of the n_test test examples): `prunable`, the
    largest pruned count with test_acc >= threshold (-1 if none);
    `prunable_prefix`, the largest k with test_acc >= threshold at every count
    0..k (-1 if count 0 already fails); `prunable_fraction` = prunable / N;
    `width` = N; all exact. --threshold T: the value passed to groklab prune
    (the summary prints it to 9 digits; default 0.9); --on train: the run was
    pruned with --on train (no test columns, and prune_summary.json is only
    checked when the low order was pruned: groklab prune writes it then).
  - the count-0 row of every order in prune.csv against numpy's forward pass
    of the unpruned network from model.safetensors and data.safetensors,
    f = W phi(U[:, m] + V[:, n]) with phi from config.json (quadratic x^2,
    relu, gelu, identity), argmax (first maximum) against the labels: train,
    test, corrupted (given and true labels), clean and all-true accuracy as
    exact counts, train and test loss (mse: mean of |f - onehot|^2 / p; ce:
    logsumexp - f_y) to 1e-6 relative.
  - the low and high order's curves at every count whose pruned set is
    unambiguous (neurons sorted by numpy's IPR, ties by index, no two IPRs on
    either side of the cut within 1e-6): every count for N <= 64, about 25
    counts (those around prunable and prunable_prefix among them) otherwise;
    the same forward pass with the pruned neurons left out.
The true labels come from the task's formula, not from the data file.
Prints one line per part; exit 1 on a mismatch.
"""

import csv
import json
import math
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import glio  # noqa: E402
import check_ipr  # noqa: E402

ACCS = ["train_acc", "test_acc", "corrupted_acc", "corrupted_true_acc", "clean_acc", "all_true_acc"]
LOSSES = ["train_loss", "test_loss"]


def read_csv(run):
    with open(os.path.join(run, "prune.csv")) as f:
        return list(csv.DictReader(f))


def curve(rows, order, col):
    r = sorted((x for x in rows if x["order"] == order), key=lambda x: int(x["pruned"]))
    if [int(x["pruned"]) for x in r] != list(range(len(r))):
        raise SystemExit("prune.csv: order %s does not list the counts 0..N in order" % order)
    return [float(x[col]) for x in r]


def as_counts(values, n):
    """accuracies (9 digits) back to counts of n examples; None for nan"""
    out = []
    for v in values:
        if math.isnan(v):
            out.append(None)
            continue
        k = round(v * n)
        if abs(k / n - v) > 1e-8:
            raise SystemExit("prune.csv: accuracy %r is not a count of %d examples" % (v, n))
        out.append(k)
    return out


def prunable(counts, n, thr):
    ok = [k is not None and k / n >= thr for k in counts]
    last = max((c for c, o in enumerate(ok) if o), default=-1)
    prefix = -1
    while prefix + 1 < len(ok) and ok[prefix + 1]:
        prefix += 1
    return last, prefix


def n_test_of(run):
    t, _ = glio.load_safetensors(os.path.join(run, "data.safetensors"))
    return len(t["test_label"])


def pick(run):
    """The test accuracy at the first count c where lowest-IPR-first pruning dips
    below it on the way (prefix < c <= prunable), as the exact double k/n;
    else the accuracy at count N/4 when count 0 is at or above it."""
    n = n_test_of(run)
    counts = as_counts(curve(read_csv(run), "low", "test_acc"), n)
    for c in range(1, len(counts)):
        thr = counts[c] / n
        last, prefix = prunable(counts, n, thr)
        if 0 <= prefix < c <= last:
            return repr(thr)
    c = (len(counts) - 1) // 4
    return repr(min(counts[: c + 1]) / n)


def act(name):
    if name in ("quadratic", "auto"):
        return lambda x: x * x
    if name == "relu":
        return lambda x: np.maximum(x, 0.0)
    if name == "identity":
        return lambda x: x
    if name == "gelu":
        erf = np.vectorize(math.erf)
        return lambda x: 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))
    raise SystemExit("check_prune.py: activation %r not implemented" % name)


class Net:
    def __init__(self, run, cfg):
        if cfg.get("model", "mlp") != "mlp" or cfg.get("norm", "none") != "none":
            raise SystemExit("check_prune.py: only the two-layer MLP without a norm layer (got model %s, norm %s)"
                             % (cfg.get("model"), cfg.get("norm")))
        t, _ = glio.load_safetensors(os.path.join(run, "model.safetensors"))
        d, _ = glio.load_safetensors(os.path.join(run, "data.safetensors"))
        self.p = p = int(cfg["p"])
        self.U, self.V, self.W = (t[k].astype(np.float64) for k in "UVW")
        self.N = self.U.shape[0]
        self.phi = act(cfg.get("act", "auto"))
        self.loss = cfg.get("loss", "mse")
        f = glio.TASKS[cfg["task"]]
        true = lambda m, n: np.array([f(int(a), int(b), p) for a, b in zip(m, n)], dtype=np.int64)
        self.sets = {}
        for s in ("train", "test"):
            m, n = d[s + "_m"].astype(np.int64), d[s + "_n"].astype(np.int64)
            self.sets[s] = (m, n, d[s + "_label"].astype(np.int64), true(m, n))
        self.corrupted = d["train_corrupted"].astype(bool)

    def logits(self, s, live):
        m, n = self.sets[s][:2]
        h = self.U[live][:, m] + self.V[live][:, n]  # (live, E)
        return (self.W[:, live] @ self.phi(h)).T  # (E, p)

    def measure(self, live, with_test):
        """counts and losses of the network with only the neurons `live`"""
        out = {}
        for s in ("train", "test") if with_test else ("train",):
            _, _, y, t = self.sets[s]
            f = self.logits(s, live)
            pred = np.argmax(f, axis=1)
            if self.loss == "mse":
                onehot = np.eye(self.p)[y]
                loss = ((f - onehot) ** 2).sum(axis=1) / self.p
            else:
                mx = f.max(axis=1)
                loss = mx + np.log(np.exp(f - mx[:, None]).sum(axis=1)) - f[np.arange(len(y)), y]
            out[s] = (pred == y, pred == t, float(loss.mean()) if len(y) else float("nan"))
        tr_ok, tr_true, tr_loss = out["train"]
        c = self.corrupted
        r = {"train_acc": (int(tr_ok.sum()), len(tr_ok)),
             "corrupted_acc": (int(tr_ok[c].sum()), int(c.sum())),
             "corrupted_true_acc": (int(tr_true[c].sum()), int(c.sum())),
             "clean_acc": (int(tr_ok[~c].sum()), int((~c).sum())),
             "train_loss": tr_loss}
        if with_test:
            te_ok, te_true, te_loss = out["test"]
            r["test_acc"] = (int(te_ok.sum()), len(te_ok))
            r["all_true_acc"] = (int(tr_true.sum() + te_true.sum()), len(tr_true) + len(te_true))
            r["test_loss"] = te_loss
        return r


def compare_row(row, want, what, errs):
    for col in ACCS:
        got = float(row[col])
        if col not in want or want[col][1] == 0:
            if not math.isnan(got):
                errs.append("%s %s %s, want nan" % (what, col, row[col]))
            continue
        k, n = want[col]
        if math.isnan(got) or round(got * n) != k or abs(got - k / n) > 1e-8:
            errs.append("%s %s %s, numpy %d/%d" % (what, col, row[col], k, n))
    for col in LOSSES:
        got = float(row[col])
        if col not in want or math.isnan(want[col]):
            if not math.isnan(got):
                errs.append("%s %s %s, want nan" % (what, col, row[col]))
            continue
        if not abs(got - want[col]) <= 1e-6 * max(1.0, abs(want[col])):
            errs.append("%s %s %s, numpy %.9g" % (what, col, row[col], want[col]))


def main():
    if sys.argv[1] == "--pick":
        print(pick(sys.argv[2]))
        return
    args = sys.argv[1:]
    run, thr, with_test = args[0], 0.9, True
    for i in range(1, len(args), 2):
        if args[i] == "--threshold":
            thr = float(args[i + 1])
        elif args[i] == "--on" and args[i + 1] in ("train", "all"):
            with_test = args[i + 1] == "all"
        else:
            raise SystemExit("check_prune.py: unknown option %r" % args[i])
    cfg = glio.load_config(run)
    rows = read_csv(run)
    net = Net(run, cfg)
    N, n_test = net.N, len(net.sets["test"][2]) if with_test else 0
    errs, lines = [], []
    orders = sorted({r["order"] for r in rows})

    # 1. the summary from the low-IPR-first rows
    last = prefix = -1
    if "low" in orders:
        with open(os.path.join(run, "prune_summary.json")) as f:
            summ = json.load(f)
        counts = as_counts(curve(rows, "low", "test_acc"), n_test) if with_test else [None] * (N + 1)
        if len(counts) != N + 1:
            errs.append("order low has %d counts, want 0..%d" % (len(counts), N))
        last, prefix = prunable(counts, n_test, thr)
        frac = float("%.9g" % (last / N))
        for key, want in (("threshold", float("%.9g" % thr)), ("prunable", last), ("prunable_prefix", prefix),
                          ("prunable_fraction", frac), ("width", N), ("on", "all" if with_test else "train")):
            if summ.get(key) != want or type(summ.get(key)) is bool:
                errs.append("%s %r, recomputed %r" % (key, summ.get(key), want))
        lines.append("summary: prunable %d, prunable_prefix %d, fraction %.9g of %d at threshold %.9g as recomputed "
                     "from the low order's test accuracy" % (last, prefix, frac, N, thr))

    # 2. count 0 of every order = the unpruned network
    base = net.measure(np.arange(N), with_test)
    for r in rows:
        if int(r["pruned"]) == 0:
            compare_row(r, base, "%s count 0" % r["order"], errs)
    lines.append("count 0 (%s) = numpy's unpruned network: train %d/%d, test %s" % (
        ", ".join(orders), base["train_acc"][0], base["train_acc"][1],
        "%d/%d" % base["test_acc"] if with_test else "not measured (--on train)"))

    # 3. the low and high curves where the pruned set is unambiguous
    conv = cfg.get("ipr", "rfft")
    p = net.p
    if cfg["task"] in ("mul", "div") and check_ipr.is_prime(p) and p >= 3:
        g = check_ipr.smallest_primitive_root(p)
        idx = [pow(g, e, p) for e in range(p - 1)]
    else:
        idx = list(range(p))
    ipr = check_ipr.neuron_ipr(os.path.join(run, "model.safetensors"), p, idx, conv, 2.0)[0]
    for order in ("low", "high"):
        if order not in orders:
            continue
        key = ipr if order == "low" else -ipr
        srt = sorted(range(N), key=lambda k: (key[k], k))
        want = sorted(set(range(N + 1)) if N <= 64 else
                      set(np.linspace(0, N, 21).round().astype(int)) |
                      {c for c in (last, last + 1, prefix, prefix + 1) if 0 <= c <= N})
        cut_ok = lambda c: c in (0, N) or abs(key[srt[c - 1]] - key[srt[c]]) > 1e-6
        done = [c for c in want if cut_ok(c)]
        by_count = {int(r["pruned"]): r for r in rows if r["order"] == order}
        for c in done:
            live = np.array(sorted(srt[c:]), dtype=np.int64)
            compare_row(by_count[c], net.measure(live, with_test), "%s count %d" % (order, c), errs)
        lines.append("order %s: %d of %d counts = numpy with the %s-IPR neurons left out%s" % (
            order, len(done), len(want), "lowest" if order == "low" else "highest",
            "" if len(done) == len(want) else " (the rest cut through IPR ties)"))

    for line in lines:
        print(line)
    if errs:
        print("%s: %d mismatches: %s" % (run, len(errs), "; ".join(errs[:6])))
        sys.exit(1)


if __name__ == "__main__":
    main()
