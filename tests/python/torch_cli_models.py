"""End-to-end PyTorch check of `groklab train --model transformer|deep-mlp`.

Usage: torch_cli_models.py GROKLAB_BINARY WORKDIR [CASE ...]

For each case, groklab trains a small run (full batch or minibatch, logging
every step); this script reads the run's init.safetensors, data.safetensors
and config.json, builds the same model in PyTorch from those initial weights
(the Transformer of torch_transformer.py; the deep MLP below), trains it with
torch.optim.AdamW over the same batches, and checks:

  - metrics.csv train_loss and test_loss (evaluation mode: no dropout,
    BatchNorm with running statistics) at every step within relative 1e-4;
  - train and test accuracy at every step equal (up to one example, for
    argmax ties within float32 rounding);
  - the final weights of model.safetensors (and BatchNorm running
    statistics) within relative 1e-3 per tensor;
  - the logged mean_ipr at the last step against numpy's rfft of the
    final weights (input layer: U and V rows of the MLP, the token
    embedding's columns of the Transformer) within 1e-6.

Minibatch order is groklab's Philox shuffle, re-implemented in glio.py.
Prints "OK ..." / "NOT OK ..." lines; exits 1 on a failure, 77 without torch.
"""

import csv
import json
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
    print("SKIP torch_cli_models: PyTorch is not installed")
    sys.exit(77)

from torch_transformer import Transformer  # noqa: E402

STEPS = 40
LOSS_RTOL = 1e-4
WEIGHT_RTOL = 1e-3
STREAM_MINIBATCH = 5

COMMON = ["--p", "13", "--frac", "0.6", "--noise", "0.1", "--steps", str(STEPS), "--log-every", "1",
          "--lr", "0.003", "--wd", "1", "--seed", "3", "--split-seed", "4", "--noise-seed", "5"]
CASES = {
    "tf_mse": ["--model", "transformer", "--embed", "16", "--heads", "2"],
    "tf_ce_ln_tie": ["--model", "transformer", "--embed", "16", "--heads", "4", "--loss", "ce",
                     "--norm", "layernorm", "--tie", "1", "--depth", "2", "--act", "gelu"],
    "deep_mse": ["--model", "deep-mlp", "--width", "24", "--depth", "3"],
    "deep_bn_mb": ["--model", "deep-mlp", "--width", "24", "--depth", "4", "--norm", "batchnorm",
                   "--batch", "32", "--loss", "ce"],
    "deep_lazy_ln": ["--model", "deep-mlp", "--width", "24", "--depth", "3", "--norm", "layernorm",
                     "--param", "lazy", "--act", "gelu"],
}


class DeepMLP(nn.Module):
    """h1 = U[:, m] + V[:, n]; z = norm(phi(h)) per hidden layer; out = W z."""

    def __init__(self, c, w):
        super().__init__()
        p, N, L = c["p"], c["width"], c["depth"]
        self.U = nn.Parameter(torch.from_numpy(w["U"].copy()))
        self.V = nn.Parameter(torch.from_numpy(w["V"].copy()))
        self.H = nn.ParameterList([nn.Parameter(torch.from_numpy(w["H%d" % l].copy())) for l in range(1, L - 1)])
        self.W = nn.Parameter(torch.from_numpy(w["W"].copy()))
        self.act = {"relu": nn.ReLU(), "gelu": nn.GELU(), "quadratic": None}[c["act"]]
        self.norms = nn.ModuleList()
        for l in range(L - 1):
            if c["norm"] == "batchnorm":
                n = nn.BatchNorm1d(N, eps=c["norm_eps"], momentum=c["bn_momentum"])
            elif c["norm"] == "layernorm":
                n = nn.LayerNorm(N, eps=c["norm_eps"])
            else:
                n = nn.Identity()
            if c["norm"] != "none":
                with torch.no_grad():
                    n.weight.copy_(torch.from_numpy(w["norm.weight"][l].copy()))
                    n.bias.copy_(torch.from_numpy(w["norm.bias"][l].copy()))
            self.norms.append(n)
        self.p = p

    def forward(self, idx):
        h = self.U[:, idx[:, 0]].T + self.V[:, idx[:, 1]].T
        for l, norm in enumerate(self.norms):
            a = h * h if self.act is None else self.act(h)
            z = norm(a)
            h = z @ (self.H[l].T if l < len(self.H) else self.W.T)
        return h


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    if r.returncode != 0:
        raise RuntimeError("%s\nexit %d\n%s%s" % (" ".join(cmd), r.returncode, r.stdout, r.stderr))


def loss_of(out, y, kind, p):
    if kind == "mse":
        return F.mse_loss(out, F.one_hot(y, p).to(out.dtype))
    return F.cross_entropy(out, y)


def ipr_rfft(x):
    """IPR of each column of x (p, K) along its first axis, rfft convention."""
    a2 = np.abs(np.fft.rfft(x.astype(np.float64), axis=0)) ** 2
    return (a2 ** 2).sum(axis=0) / a2.sum(axis=0) ** 2


def check_case(binary, workdir, name):
    fails = 0

    def report(ok, msg):
        nonlocal fails
        print(("OK " if ok else "NOT OK ") + name + " " + msg)
        fails += not ok

    d = os.path.join(workdir, name)
    try:
        run([binary, "train"] + COMMON + CASES[name] + ["--quiet", "--out", d])
    except (OSError, RuntimeError, subprocess.TimeoutExpired) as e:
        report(False, "groklab train failed: %s" % e)
        return fails
    c = json.load(open(os.path.join(d, "config.json")))
    init = glio.load_safetensors(os.path.join(d, "init.safetensors"))[0]
    final = glio.load_safetensors(os.path.join(d, "model.safetensors"))[0]
    data = glio.load_safetensors(os.path.join(d, "data.safetensors"))[0]
    rows = list(csv.DictReader(open(os.path.join(d, "metrics.csv"))))
    p = c["p"]

    if c["model"] == "transformer":
        cfg = dict(p=p, d=c["embed"], heads=c["heads"], layers=c["depth"], mlp=c["mlp_factor"],
                   act=c["act"], ln=int(c["norm"] == "layernorm"), tie=c["tie"], mu=c["mu"], s=c["scale_s"])
        model = Transformer(cfg)
        with torch.no_grad():
            sd = model.state_dict()
            for k, v in init.items():
                sd[k].copy_(torch.from_numpy(v))
    else:
        model = DeepMLP(c, init)
    opt = torch.optim.AdamW(model.parameters(), lr=c["lr"], betas=(c["beta1"], c["beta2"]),
                            eps=c["eps"], weight_decay=c["wd"])
    tm, tn, ty = (torch.from_numpy(data[k].astype(np.int64)) for k in ("train_m", "train_n", "train_label"))
    em, en, ey = (torch.from_numpy(data[k].astype(np.int64)) for k in ("test_m", "test_n", "test_label"))
    tr_idx, te_idx = torch.stack([tm, tn], 1), torch.stack([em, en], 1)
    n_train = len(ty)
    B = c["batch"] if 0 < c["batch"] < n_train else n_train
    nb = (n_train + B - 1) // B

    worst, bad_acc = 0.0, 0
    for s in range(STEPS + 1):
        model.eval()
        with torch.no_grad():
            out_tr, out_te = model(tr_idx), model(te_idx)
            ref = dict(train_loss=float(loss_of(out_tr, ty, c["loss"], p)),
                       test_loss=float(loss_of(out_te, ey, c["loss"], p)),
                       train_acc=float((out_tr.argmax(1) == ty).float().mean()),
                       test_acc=float((out_te.argmax(1) == ey).float().mean()))
        row = rows[s]
        assert int(row["step"]) == s
        for k in ("train_loss", "test_loss"):
            worst = glio.worse(worst, abs(float(row[k]) - ref[k]) / abs(ref[k]))
        for k, n in (("train_acc", n_train), ("test_acc", len(ey))):
            bad_acc += abs(float(row[k]) - ref[k]) * n > 1.5
        if s == STEPS:
            break
        model.train()
        if B == n_train:
            bi = torch.arange(n_train)
        else:
            e, k = divmod(s, nb)
            perm = glio.shuffle(n_train, c["seed"], STREAM_MINIBATCH, e)
            bi = torch.from_numpy(np.asarray(perm[k * B:min(n_train, (k + 1) * B)], dtype=np.int64))
        loss = loss_of(model(tr_idx[bi]), ty[bi], c["loss"], p)
        opt.zero_grad()
        loss.backward()
        opt.step()
    report(worst <= LOSS_RTOL, "train/test loss at %d logged steps: worst relative error %.2e (limit %.0e)"
           % (STEPS + 1, worst, LOSS_RTOL))
    report(bad_acc == 0, "train/test accuracy at every step: %d disagreements beyond one example" % bad_acc)

    if c["model"] == "transformer":
        ours = {k: v.detach().numpy() for k, v in model.state_dict().items()
                if not (c["tie"] and k == "lm_head.weight")}
        emb = final["transformer.wte.weight"]  # (p, d): IPR of column j over the token axis
        ipr_ref = ipr_rfft(emb).mean()
    else:
        ours = {"U": model.U, "V": model.V, "W": model.W}
        ours.update({"H%d" % (l + 1): h for l, h in enumerate(model.H)})
        ours = {k: v.detach().numpy() for k, v in ours.items()}
        if c["norm"] != "none":
            ours["norm.weight"] = np.stack([n.weight.detach().numpy() for n in model.norms])
            ours["norm.bias"] = np.stack([n.bias.detach().numpy() for n in model.norms])
        if c["norm"] == "batchnorm":
            ours["norm.running_mean"] = np.stack([n.running_mean.numpy() for n in model.norms])
            ours["norm.running_var"] = np.stack([n.running_var.numpy() for n in model.norms])
        ipr_ref = 0.5 * (ipr_rfft(final["U"].T) + ipr_rfft(final["V"].T)).mean()
    werr = 0.0
    for k, v in ours.items():
        werr = glio.worse(werr, np.linalg.norm(final[k] - v) / max(np.linalg.norm(v), 1e-30))
    missing = sorted(set(final) ^ set(ours))
    report(not missing, "model.safetensors holds exactly the model's tensors%s"
           % (": differs in %s" % missing if missing else ""))
    report(werr <= WEIGHT_RTOL, "final weights: worst relative error %.2e over %d tensors (limit %.0e)"
           % (werr, len(ours), WEIGHT_RTOL))
    ipr_ours = float(rows[STEPS]["mean_ipr"])
    report(abs(ipr_ours - ipr_ref) <= 1e-6, "mean_ipr %.9f, numpy rfft of the final weights %.9f"
           % (ipr_ours, ipr_ref))
    return fails


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    binary, workdir = sys.argv[1], sys.argv[2]
    names = sys.argv[3:] or list(CASES)
    torch.manual_seed(0)
    fails = sum(check_case(binary, workdir, n) for n in names)
    sys.exit(1 if fails else 0)


if __name__ == "__main__":
    main()
