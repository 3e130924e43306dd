"""PyTorch equivalence test: groklab's training trajectory versus the authors'
model written in PyTorch, starting from groklab's own initial weights.

Usage: torch_equiv.py GROKLAB_BINARY WORKDIR [CASE ...]

For each case (all by default) it runs
    GROKLAB_BINARY train --steps 50 --log-every 1 --quiet --force --out WORKDIR/<case> <flags>
then replays the 50 steps in PyTorch (float32, AdamW) from init.safetensors on
the run's data.safetensors and config.json. At every step s = 0..50 the
evaluation-mode losses over the whole train and test sets must agree with
metrics.csv row s to 1e-4 relative; after 50 steps model.safetensors must agree
with the PyTorch weights to 1e-3 relative Frobenius error.

Prints "OK case ..." or "NOT OK case ..." lines; exits 1 on any failure and
77 (skip) when PyTorch is not installed.
"""

import csv
import math
import os
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import glio  # noqa: E402

try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError:  # scripts/install-deps.sh --no-torch
    print("SKIP torch_equiv: PyTorch is not installed")
    sys.exit(77)

STEPS = 50
LOSS_RTOL = 1e-4     # per-step train/test loss
WEIGHT_RTOL = 1e-3   # final weights, relative Frobenius error
ACC_ATOL = 0.01      # per-step accuracies (argmax near-ties may flip a few)

CASES = {
    "mse": ["--loss", "mse"],
    "ce": ["--loss", "ce"],
    "bn": ["--norm", "batchnorm", "--batch", "64", "--frac", "0.3"],
    "wd": ["--wd", "5", "--noise", "0.2", "--act", "relu"],
}


class AuthorsMLP(nn.Module):
    """f(m, n) = W norm(act([U | V] [e_m; e_n])), no biases."""

    def __init__(self, p, N, act, norm, norm_eps, bn_momentum):
        super().__init__()
        self.p = p
        self.embed = nn.Linear(2 * p, N, bias=False)
        self.act = act
        if norm == "batchnorm":
            self.norm = nn.BatchNorm1d(N, eps=norm_eps, momentum=bn_momentum)
        elif norm == "layernorm":
            self.norm = nn.LayerNorm(N, eps=norm_eps)
        elif norm == "none":
            self.norm = None
        else:
            raise ValueError("unknown norm %r" % norm)
        self.out = nn.Linear(N, p, bias=False)

    def forward(self, m, n):
        x = torch.cat([F.one_hot(m, self.p), F.one_hot(n, self.p)], dim=1).float()
        h = self.embed(x)
        if self.act == "quadratic":
            a = h ** 2
        elif self.act == "relu":
            a = torch.relu(h)
        elif self.act == "gelu":
            a = F.gelu(h)
        elif self.act == "identity":
            a = h
        else:
            raise ValueError("unknown act %r" % self.act)
        if self.norm is not None:
            a = self.norm(a)
        return self.out(a)


def run_groklab(binary, out_dir, flags):
    """Runs one training; returns None on success or an error text."""
    cmd = [binary, "train", "--steps", str(STEPS), "--log-every", "1", "--quiet", "--force",
           "--out", out_dir] + flags
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    except (OSError, subprocess.TimeoutExpired) as e:
        return "%s: %s" % (" ".join(cmd), e)
    if r.returncode != 0:
        return "%s\nexit status %d\n--- stderr ---\n%s" % (" ".join(cmd), r.returncode, r.stderr)
    return None


def read_metrics(path):
    """metrics.csv -> {step: {column: float}}."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    out = {}
    for row in rows:
        vals = {k: float(v) for k, v in row.items() if k is not None and v not in (None, "")}
        out[int(vals["step"])] = vals
    return out


def eval_metrics(model, loss, m, n, y, p):
    """Evaluation-mode loss (float64 reduction of float32 outputs) and accuracy."""
    model.eval()
    with torch.no_grad():
        out = model(m, n).double()
        if loss == "mse":
            val = ((out - F.one_hot(y, p).double()) ** 2).mean()
        else:
            val = F.cross_entropy(out, y)
        acc = (out.argmax(dim=1) == y).double().mean()
    return float(val), float(acc)


def rel_fro(ours, ref):
    ours = np.asarray(ours, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    denom = np.linalg.norm(ref)
    return float(np.linalg.norm(ours - ref) / (denom if denom > 0 else 1.0))


def load_strict(path, report, label):
    """load_safetensors with a report line; None on failure."""
    try:
        t, meta = glio.load_safetensors(path)
    except (OSError, ValueError) as e:
        report(False, "%s loads (strict): %s" % (label, e))
        return None
    report(True, "%s loads (strict): %s" % (label, ", ".join(
        "%s%s" % (k, list(v.shape)) for k, v in sorted(t.items()))))
    return t


def check_case(name, run_dir):
    """Replays one run in PyTorch; returns the number of failed checks."""
    fails = 0

    def report(ok, msg):
        nonlocal fails
        print(("OK " if ok else "NOT OK ") + name + " " + msg)
        fails += not ok

    cfg = glio.load_config(run_dir)
    p, N = int(cfg["p"]), int(cfg["width"])
    loss_name, norm = cfg["loss"], cfg["norm"]
    unsupported = []
    if cfg.get("optim", "adamw") != "adamw":
        unsupported.append("optim=%s" % cfg["optim"])
    if float(cfg.get("dropout", 0)) != 0:
        unsupported.append("dropout=%s" % cfg["dropout"])
    if int(cfg["steps"]) != STEPS:
        unsupported.append("steps=%s" % cfg["steps"])
    if unsupported:
        report(False, "config not replayable here: " + ", ".join(unsupported))
        return fails
    print("# %s: task=%s p=%d width=%d act=%s norm=%s loss=%s frac=%s noise=%s batch=%s "
          "lr=%s wd=%s betas=(%s, %s) eps=%s"
          % (name, cfg["task"], p, N, cfg["act"], norm, loss_name, cfg["frac"], cfg["noise"],
             cfg["batch"], cfg["lr"], cfg["wd"], cfg["beta1"], cfg["beta2"], cfg["eps"]))

    init = load_strict(os.path.join(run_dir, "init.safetensors"), report, "init.safetensors")
    final = load_strict(os.path.join(run_dir, "model.safetensors"), report, "model.safetensors")
    data = load_strict(os.path.join(run_dir, "data.safetensors"), report, "data.safetensors")
    if init is None or data is None:
        return fails

    want = glio.expected_split(cfg)
    bad = [k for k in want if k not in data or not np.array_equal(data[k], want[k])]
    report(not bad, "data.safetensors equals the recomputed split"
           + (" (differs: %s)" % ", ".join(bad) if bad else ""))

    shapes = {"U": (N, p), "V": (N, p), "W": (p, N)}
    if norm != "none":
        shapes.update({"norm.weight": (N,), "norm.bias": (N,)})
    wrong = ["%s%s" % (k, list(init[k].shape) if k in init else " missing")
             for k, s in shapes.items() if k not in init or init[k].shape != s
             or init[k].dtype != np.float32]
    report(not wrong, "init tensors have float32 shapes %s" % shapes
           + (" (wrong: %s)" % ", ".join(wrong) if wrong else ""))
    if wrong:
        return fails
    std = {k: float(init[k].std()) for k in ("U", "V", "W")}
    print("# %s: init std U=%.5f V=%.5f W=%.5f (config init_std=%s, paper 0.5*(2N)^(-1/3)=%.5f)"
          % (name, std["U"], std["V"], std["W"], cfg.get("init_std"), 0.5 * (2 * N) ** (-1 / 3)))

    torch.manual_seed(0)  # nothing random is drawn; set for determinism anyway
    model = AuthorsMLP(p, N, cfg["act"], norm, float(cfg["norm_eps"]), float(cfg["bn_momentum"]))
    with torch.no_grad():
        model.embed.weight.copy_(torch.from_numpy(np.concatenate([init["U"], init["V"]], axis=1)))
        model.out.weight.copy_(torch.from_numpy(init["W"]))
        if model.norm is not None:
            model.norm.weight.copy_(torch.from_numpy(init["norm.weight"]))
            model.norm.bias.copy_(torch.from_numpy(init["norm.bias"]))
            if norm == "batchnorm":
                for k in ("running_mean", "running_var"):
                    if "norm." + k in init:
                        getattr(model.norm, k).copy_(torch.from_numpy(init["norm." + k]))
    opt = torch.optim.AdamW(model.parameters(), lr=float(cfg["lr"]),
                            betas=(float(cfg["beta1"]), float(cfg["beta2"])),
                            eps=float(cfg["eps"]), weight_decay=float(cfg["wd"]))

    def tens(k):
        return torch.from_numpy(data[k].astype(np.int64))

    tr_m, tr_n, tr_y = tens("train_m"), tens("train_n"), tens("train_label")
    te_m, te_n, te_y = tens("test_m"), tens("test_n"), tens("test_label")
    n_train = len(tr_y)
    batch = int(cfg["batch"])
    nb = 1 if batch == 0 else -(-n_train // batch)
    perms = {}

    metrics = read_metrics(os.path.join(run_dir, "metrics.csv"))
    missing = [s for s in range(STEPS + 1) if s not in metrics]
    report(not missing, "metrics.csv has rows for steps 0..%d" % STEPS
           + (" (missing %s)" % missing[:10] if missing else ""))

    worst = {"train_loss": (0.0, None), "test_loss": (0.0, None)}
    worst_acc = 0.0
    first_bad, n_bad = None, 0
    for s in range(STEPS + 1):
        tr_loss, tr_acc = eval_metrics(model, loss_name, tr_m, tr_n, tr_y, p)
        te_loss, te_acc = eval_metrics(model, loss_name, te_m, te_n, te_y, p)
        row = metrics.get(s)
        if row is not None:
            for col, ref in (("train_loss", tr_loss), ("test_loss", te_loss)):
                ours = row[col]
                rel = abs(ours - ref) / abs(ref) if ref != 0 else abs(ours)
                if not rel <= LOSS_RTOL:  # also catches NaN
                    rel = math.inf if math.isnan(rel) else rel
                    if first_bad is None:
                        first_bad = (s, col, ours, ref, rel)
                    n_bad += 1
                    if n_bad <= 5:
                        report(False, "step=%d %s ours=%.9g torch=%.9g rel=%.3g"
                               % (s, col, ours, ref, rel))
                if rel >= worst[col][0]:
                    worst[col] = (rel, s)
            for col, ref in (("train_acc", tr_acc), ("test_acc", te_acc)):
                if col in row:
                    worst_acc = max(worst_acc, abs(row[col] - ref))
        if s == STEPS:
            break
        # one optimizer step on the step-s batch, in training mode
        if batch == 0:
            idx = slice(None)
        else:
            e, k = divmod(s, nb)
            if e not in perms:
                perms[e] = torch.tensor(
                    glio.shuffle(n_train, int(cfg["seed"]), glio.STREAM_MINIBATCH, e))
            idx = perms[e][k * batch:(k + 1) * batch]
        model.train()
        out = model(tr_m[idx], tr_n[idx])
        if loss_name == "mse":
            l = nn.MSELoss()(out, F.one_hot(tr_y[idx], p).float())
        else:
            l = nn.CrossEntropyLoss()(out, tr_y[idx])
        opt.zero_grad()
        l.backward()
        opt.step()

    if first_bad is None and not missing:
        report(True, "max_rel train_loss=%.3g (step %s) test_loss=%.3g (step %s)"
               % (worst["train_loss"][0], worst["train_loss"][1],
                  worst["test_loss"][0], worst["test_loss"][1]))
    elif first_bad is not None:
        s, col, ours, ref, rel = first_bad
        if n_bad > 5:
            fails += n_bad - 5  # counted, not printed
        print("# %s: %d loss mismatches; first step=%d %s ours=%.9g torch=%.9g rel=%.3g"
              % (name, n_bad, s, col, ours, ref, rel))
    report(worst_acc <= ACC_ATOL, "max |acc difference| over steps = %.4g (tolerance %g)"
           % (worst_acc, ACC_ATOL))

    if final is not None:
        ref = {"U": model.embed.weight[:, :p], "V": model.embed.weight[:, p:],
               "W": model.out.weight}
        if model.norm is not None:
            ref["norm.weight"] = model.norm.weight
            ref["norm.bias"] = model.norm.bias
            if norm == "batchnorm":
                ref["norm.running_mean"] = model.norm.running_mean
                ref["norm.running_var"] = model.norm.running_var
        parts, ok = [], True
        for k, t in ref.items():
            t = t.detach().numpy()
            if k not in final or final[k].shape != t.shape:
                parts.append("%s %s" % (k, "missing" if k not in final
                                        else "shape %s" % (list(final[k].shape),)))
                ok = False
                continue
            err = rel_fro(final[k], t)
            ok = ok and err <= WEIGHT_RTOL
            parts.append("%s=%.3g" % (k, err))
        report(ok, "final weights rel_fro_err %s (tolerance %g)" % (" ".join(parts), WEIGHT_RTOL))
    return fails


def main(argv):
    if len(argv) < 3:
        print(__doc__.strip())
        return 2
    binary, workdir = argv[1], argv[2]
    names = argv[3:] or list(CASES)
    unknown = [c for c in names if c not in CASES]
    if unknown:
        print("unknown case(s) %s; known: %s" % (unknown, ", ".join(CASES)))
        return 2
    torch.set_num_threads(2)
    torch.set_default_dtype(torch.float32)
    os.makedirs(workdir, exist_ok=True)
    failed = []
    for name in names:
        run_dir = os.path.join(workdir, name)
        err = run_groklab(binary, run_dir, CASES[name])
        if err is not None:
            print("NOT OK %s groklab run failed: %s" % (name, err))
            failed.append(name)
            continue
        if check_case(name, run_dir):
            failed.append(name)
    print("torch_equiv: %s" % ("FAIL (%s)" % ", ".join(failed) if failed else "PASS"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
