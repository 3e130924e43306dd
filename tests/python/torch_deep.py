"""PyTorch equivalence of groklab's deep MLP (include/groklab/deep.h).

Usage: torch_deep.py DEEP_EQUIV_BINARY WORKDIR [CASE ...]

For each case (all by default) this builds the deep MLP in PyTorch (below:
bias-free layers, the activation, then BatchNorm1d / LayerNorm / nothing on
every hidden layer), initializes it with deep.h's scheme (standard
N(0, 2/fan_in) or lazy N(0, 2/N^(2/3)), drawn here by torch), and writes its
initial weights and a small corrupted training set (add mod p, p = 23,
alpha 0.5, 10% of the training labels replaced at random) to
WORKDIR/<case>.safetensors. Then it runs

    DEEP_EQUIV_BINARY WORKDIR/<case>.safetensors p=.. N=.. depth=.. ... out=...

which trains groklab's model full batch with AdamW (lr 1e-3, betas 0.9/0.98,
wd 1) and prints the loss of every step and the evaluation-mode loss after
the last; trains the PyTorch model the same 50 steps in float32 with
torch.optim.AdamW; and checks that the losses agree at every step, and the
evaluation losses, within relative 1e-4. The final weights and the BatchNorm
running statistics are compared too (relative Frobenius error per tensor,
see WEIGHT_RTOL).

When a check fails, the PyTorch run is repeated in float64 and the gap between
PyTorch float32 and float64 is printed next to it: a mismatch of the size of
that gap is float32 rounding amplified by training, a much larger one a bug.

Prints "OK case ..." or "NOT OK case ..." lines; exits 1 on any failure and
77 (skip) when PyTorch is not installed. GLTEST_VERBOSE=1 prints every step.
Dropout is not compared: PyTorch draws its masks from its own generator.
"""

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
except ImportError:
    print("SKIP torch_deep: PyTorch is not installed")
    sys.exit(77)

STEPS = 50
LOSS_RTOL = 1e-4
# Final weights after 50 AdamW steps, relative Frobenius error per tensor: the
# losses are the acceptance check; this one catches a tensor that is not
# trained, or trained wrongly (errors of order 1e-2 and up), with room for
# Adam's amplification of float32 rounding.
WEIGHT_RTOL = 1e-3
VERBOSE = os.environ.get("GLTEST_VERBOSE", "") not in ("", "0")

BASE = dict(p=23, N=64, depth=3, act="relu", norm="none", param="standard", norm_eps=1e-5,
            momentum=0.1, loss="mse", lr=1e-3, wd=1.0, beta1=0.9, beta2=0.98, eps=1e-8,
            alpha=0.5, xi=0.1, seed=1)
CASES = {
    "mse": dict(),
    "ce_bn": dict(depth=4, act="gelu", norm="batchnorm", loss="ce", seed=2),
    "ln_lazy": dict(depth=3, act="quadratic", norm="layernorm", param="lazy", seed=3),
    "relu_bn": dict(depth=4, act="relu", norm="batchnorm", seed=6),
    # GELU at depth 6: with ReLU, BatchNorm and the lazy scale at depth 6 the
    # float32 trajectory itself is ill-conditioned (PyTorch float32 against
    # float64 from the same init: 7e-5 relative in the loss, 6e-3 in the
    # weights after 50 steps), too close to the tolerance to test anything;
    # with GELU that gap is 3e-6.
    "deep_bn": dict(depth=6, act="gelu", norm="batchnorm", param="lazy", momentum=0.2, seed=4),
}


class DeepMLP(nn.Module):
    """h_1 = U e_m + V e_n; z_l = norm_l(act(h_l)); h_{l+1} = H_l z_l; out = W z_{L-1}."""

    def __init__(self, cfg):
        super().__init__()
        p, N, depth = cfg["p"], cfg["N"], cfg["depth"]
        self.act = cfg["act"]
        self.U = nn.Parameter(torch.empty(N, p))
        self.V = nn.Parameter(torch.empty(N, p))
        self.H = nn.ModuleList([nn.Linear(N, N, bias=False) for _ in range(depth - 2)])
        self.W = nn.Linear(N, p, bias=False)
        if cfg["norm"] == "batchnorm":
            self.norms = nn.ModuleList([nn.BatchNorm1d(N, eps=cfg["norm_eps"],
                                                       momentum=cfg["momentum"])
                                        for _ in range(depth - 1)])
        elif cfg["norm"] == "layernorm":
            self.norms = nn.ModuleList([nn.LayerNorm(N, eps=cfg["norm_eps"])
                                        for _ in range(depth - 1)])
        else:
            self.norms = None
        # deep.h: standard std = sqrt(2 / fan_in) (fan_in 2p for the first
        # layer, N after), lazy sqrt(2 / N^(2/3)) everywhere
        lazy = math.sqrt(2.0 / N ** (2.0 / 3.0))
        first = lazy if cfg["param"] == "lazy" else math.sqrt(2.0 / (2 * p))
        rest = lazy if cfg["param"] == "lazy" else math.sqrt(2.0 / N)
        with torch.no_grad():
            self.U.normal_(0.0, first)
            self.V.normal_(0.0, first)
            for lin in list(self.H) + [self.W]:
                lin.weight.normal_(0.0, rest)

    def forward(self, m, n):
        h = self.U.t()[m] + self.V.t()[n]
        layers = list(self.H) + [self.W]
        for l, lin in enumerate(layers):
            if self.act == "quadratic":
                a = h * h
            elif self.act == "relu":
                a = torch.relu(h)
            elif self.act == "gelu":
                a = F.gelu(h)
            else:
                a = h
            if self.norms is not None:
                a = self.norms[l](a)
            h = lin(a)
        return h


def make_data(cfg):
    """Training pairs of (m + n) mod p: a seeded shuffle of all p^2 pairs, the
    first floor(alpha p^2), the first floor(xi n_train) labels random."""
    p = cfg["p"]
    rng = np.random.default_rng(cfg["seed"])
    pairs = np.array([(m, n) for m in range(p) for n in range(p)], dtype=np.int32)
    pairs = pairs[rng.permutation(len(pairs))]
    n_train = int(math.floor(cfg["alpha"] * p * p))
    m, n = pairs[:n_train, 0].copy(), pairs[:n_train, 1].copy()
    y = (m + n) % p
    n_bad = int(math.floor(cfg["xi"] * n_train))
    y[:n_bad] = rng.integers(0, p, n_bad)
    return m.astype(np.int32), n.astype(np.int32), y.astype(np.int32)


def file_tensors(model, cfg, running=False):
    """The model's tensors under deep_equiv's names, float32 numpy: U, V,
    H.l, W, and the norms' gains and shifts stacked (depth-1, N); with
    running, BatchNorm's running statistics too."""
    t = {"U": model.U, "V": model.V, "W": model.W.weight}
    for l, lin in enumerate(model.H):
        t["H.%d" % (l + 1)] = lin.weight
    if model.norms is not None:
        t["norm.weight"] = torch.stack([nm.weight for nm in model.norms])
        t["norm.bias"] = torch.stack([nm.bias for nm in model.norms])
        if running and cfg["norm"] == "batchnorm":
            t["norm.running_mean"] = torch.stack([nm.running_mean for nm in model.norms])
            t["norm.running_var"] = torch.stack([nm.running_var for nm in model.norms])
    return {k: v.detach().to(torch.float32).numpy().copy() for k, v in t.items()}


def loss_of(out, y, cfg):
    if cfg["loss"] == "mse":
        return F.mse_loss(out, F.one_hot(y, cfg["p"]).to(out.dtype))
    return F.cross_entropy(out, y)


def train_torch(cfg, init, data, dtype):
    """STEPS full-batch AdamW steps from init; returns (losses, eval loss,
    final tensors)."""
    model = DeepMLP(cfg).to(dtype)
    with torch.no_grad():
        model.U.copy_(torch.from_numpy(init["U"]))
        model.V.copy_(torch.from_numpy(init["V"]))
        model.W.weight.copy_(torch.from_numpy(init["W"]))
        for l, lin in enumerate(model.H):
            lin.weight.copy_(torch.from_numpy(init["H.%d" % (l + 1)]))
        if model.norms is not None:
            for l, nm in enumerate(model.norms):
                nm.weight.copy_(torch.from_numpy(init["norm.weight"][l]))
                nm.bias.copy_(torch.from_numpy(init["norm.bias"][l]))
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=cfg["lr"], betas=(cfg["beta1"], cfg["beta2"]),
                            eps=cfg["eps"], weight_decay=cfg["wd"])
    m, n, y = (torch.from_numpy(a.astype(np.int64)) for a in data)
    losses = []
    for _ in range(STEPS):
        loss = loss_of(model(m, n), y, cfg)
        losses.append(float(loss))
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        eval_loss = float(loss_of(model(m, n), y, cfg))
    return losses, eval_loss, file_tensors(model, cfg, running=True)


def run_groklab(binary, path, out, cfg):
    keys = ("p", "N", "depth", "act", "norm", "norm_eps", "momentum", "loss", "lr", "wd", "beta1",
            "beta2", "eps")
    cmd = [binary, path] + ["%s=%s" % (k, cfg[k]) for k in keys] + [
        "steps=%d" % STEPS, "out=%s" % out]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    if r.returncode != 0:
        raise RuntimeError("%s\nexit %d\n%s" % (" ".join(cmd), r.returncode, r.stderr))
    losses, eval_loss = {}, math.nan
    for line in r.stdout.splitlines():
        w = line.split()
        if len(w) == 4 and w[0] == "step" and w[2] == "loss":
            losses[int(w[1])] = float(w[3])
        elif len(w) == 3 and w[0] == "eval" and w[1] == "loss":
            eval_loss = float(w[2])
    return [losses.get(s, math.nan) for s in range(STEPS)], eval_loss


def rel_err(a, b):
    r = abs(a - b) / abs(b) if b != 0 else abs(a)
    return math.inf if math.isnan(r) else r


def check_case(binary, workdir, name):
    fails = 0

    def report(ok, msg):
        nonlocal fails
        print(("OK " if ok else "NOT OK ") + name + " " + msg)
        fails += not ok

    cfg = dict(BASE, **CASES[name])
    torch.manual_seed(cfg["seed"])
    init = file_tensors(DeepMLP(cfg), cfg)
    data = make_data(cfg)
    path = os.path.join(workdir, name + ".safetensors")
    out = os.path.join(workdir, name + ".final.safetensors")
    glio.save_safetensors(path, dict(init, m=data[0], n=data[1], y=data[2]))
    print("# %s: %s; %d training pairs, %d tensors"
          % (name, " ".join("%s=%s" % kv for kv in sorted(cfg.items())), len(data[0]), len(init)))

    try:
        ours, ours_eval = run_groklab(binary, path, out, cfg)
    except (OSError, RuntimeError, subprocess.TimeoutExpired) as e:
        report(False, "deep_equiv failed: %s" % e)
        return fails
    ref, ref_eval, ref_w = train_torch(cfg, init, data, torch.float32)

    worst, bad = (0.0, 0), []
    for s in range(STEPS):
        r = rel_err(ours[s], ref[s])
        if VERBOSE:
            print("# %s step=%d ours=%.9g torch=%.9g rel=%.2e" % (name, s, ours[s], ref[s], r))
        if r >= worst[0]:
            worst = (r, s)
        if not r <= LOSS_RTOL:
            bad.append((s, ours[s], ref[s], r))
    report(not bad, "loss at every step of %d: max rel err %.3g (step %d), tolerance %g; "
           "loss %.6g -> %.6g" % (STEPS, worst[0], worst[1], LOSS_RTOL, ref[0], ref[-1]))
    for s, o, t, r in bad[:5]:
        print("#   step=%d ours=%.9g torch=%.9g rel=%.3g" % (s, o, t, r))
    r = rel_err(ours_eval, ref_eval)
    report(r <= LOSS_RTOL, "evaluation-mode loss after %d steps: %.9g vs %.9g, rel err %.3g"
           % (STEPS, ours_eval, ref_eval, r))

    try:
        final, _ = glio.load_safetensors(out)
    except (OSError, ValueError) as e:
        report(False, "final weights load: %s" % e)
        final = None
    if final is not None:
        errs = {}
        for k, t in ref_w.items():
            if k not in final or final[k].shape != t.shape:
                errs[k] = math.inf
            else:
                errs[k] = float(np.linalg.norm(final[k].astype(np.float64) - t)
                                / max(np.linalg.norm(t.astype(np.float64)), 1e-30))
                if math.isnan(errs[k]):
                    errs[k] = math.inf  # max(errs, key=...) could pass over a NaN
        worst_k = max(errs, key=errs.get)
        report(errs[worst_k] <= WEIGHT_RTOL,
               "final tensors (%s): max relative Frobenius error %.3g (%s), tolerance %g"
               % (", ".join(sorted(errs)), errs[worst_k], worst_k, WEIGHT_RTOL))

    if fails:
        ref64, _, _ = train_torch(cfg, init, data, torch.float64)
        gap = max(rel_err(a, b) for a, b in zip(ref, ref64))
        print("# %s: PyTorch float32 vs float64 max rel loss gap %.3g" % (name, gap))
    return fails


def main(argv):
    if len(argv) < 3:
        print(__doc__)
        return 2
    binary, workdir = argv[1], argv[2]
    names = argv[3:] or list(CASES)
    unknown = [c for c in names if c not in CASES]
    if unknown:
        print("unknown case(s) %s; known: %s" % (", ".join(unknown), ", ".join(CASES)))
        return 2
    os.makedirs(workdir, exist_ok=True)
    fails = sum(check_case(binary, workdir, c) for c in names)
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
