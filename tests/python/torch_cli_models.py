"""End-to-end PyTorch check of `groklab train --model transformer|deep-mlp`,
and of the training methods around the optimizer step on every family.

Usage: torch_cli_models.py GROKLAB_BINARY WORKDIR [CASE ... | models | methods]
  (no case: the model cases; `methods`: the training-method cases)

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

The method cases train with GrokFast (EMA and MA), gradient clipping,
learning-rate warmup and cosine/linear decay, the weight-norm constraint,
weight decay toward the initialization (AdamW, Adam, SGD), decay groups
that exempt 1-D tensors, training only the norm tensors, and drop-last
minibatches; the reference below implements each in PyTorch from its
definition (docs/training.md), independently of groklab's C code.
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

STEPS = 50
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
MLP = ["--model", "mlp", "--width", "24"]
DEEP = ["--model", "deep-mlp", "--width", "24", "--depth", "3"]
TF = ["--model", "transformer", "--embed", "16", "--heads", "2"]
METHOD_CASES = {
    "mlp_grokfast_ema": MLP + ["--grokfast", "ema", "--grokfast-alpha", "0.8", "--grokfast-lambda", "2"],
    "mlp_grokfast_ma_droplast": MLP + ["--grokfast", "ma", "--grokfast-window", "7", "--batch", "32",
                                       "--drop-last", "on"],
    "mlp_clip_cosine": MLP + ["--clip", "0.05", "--warmup", "10", "--lr-decay", "cosine"],
    "mlp_wnorm_linear": MLP + ["--weight-norm", "1", "--wd", "0", "--lr-decay", "linear"],
    "mlp_adam_wd_init": MLP + ["--optim", "adam", "--wd-toward", "init", "--wd", "0.5"],
    "mlp_sgd_wd_init": MLP + ["--optim", "sgd", "--momentum", "0.9", "--lr", "0.5", "--wd-toward", "init"],
    "mlp_bn_groups": MLP + ["--norm", "batchnorm", "--wd-groups", "matrices", "--batch", "32", "--loss", "ce"],
    "deep_bn_trainable": DEEP + ["--norm", "batchnorm", "--trainable", "norm", "--batch", "32"],
    "deep_ma_clip_wd_init": DEEP + ["--grokfast", "ma", "--grokfast-window", "5", "--clip", "0.1",
                                    "--wd-toward", "init"],
    "tf_ln_groups_ema": TF + ["--norm", "layernorm", "--wd-groups", "matrices", "--grokfast", "ema",
                              "--grokfast-alpha", "0.9"],
    "tf_wnorm_warmup": TF + ["--weight-norm", "1.2", "--wd", "0", "--warmup", "20", "--lr-decay", "linear"],
}
ALL_CASES = dict(CASES, **METHOD_CASES)


class DeepMLP(nn.Module):
    """h1 = U[:, m] + V[:, n]; z = norm(phi(h)) per hidden layer; out = W z."""

    def __init__(self, c, w):
        super().__init__()
        p, N, L = c["p"], c["width"], c["depth"] if c["model"] == "deep-mlp" else 2
        if c["model"] == "mlp" and c["norm"] != "none":  # the two-layer MLP's norm tensors are (N)
            w = dict(w, **{k: w[k].reshape(1, -1) for k in ("norm.weight", "norm.bias")})
        self.U = nn.Parameter(torch.from_numpy(w["U"].copy()))
        self.V = nn.Parameter(torch.from_numpy(w["V"].copy()))
        self.H = nn.ParameterList([nn.Parameter(torch.from_numpy(w["H%d" % l].copy())) for l in range(1, L - 1)])
        self.W = nn.Parameter(torch.from_numpy(w["W"].copy()))
        act = c["act"] if c["act"] != "auto" else "quadratic" if c["model"] == "mlp" else "relu"
        self.act = {"relu": nn.ReLU(), "gelu": nn.GELU(), "quadratic": None}[act]
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


def lr_factor(c, t):
    """The learning rate's factor at step t (1-based): linear warmup, then
    constant, cosine or linear decay over the remaining steps."""
    warm, steps = c.get("warmup", 0), c["steps"]
    if t <= warm:
        return t / warm
    u = (t - 1 - warm) / (steps - warm)
    return {"none": 1.0, "cosine": 0.5 * (1 + math.cos(math.pi * u)), "linear": 1 - u}[c.get("lr_decay", "none")]


class Methods:
    """The training methods of config c around torch's optimizer step, as
    their definitions state them (GrokFast after Lee et al.'s reference
    filters, Omnigrok's norm constraint, decay toward the initialization)."""

    def __init__(self, c, model):
        self.c = c
        params = list(model.parameters())
        if c.get("trainable", "all") == "norm":
            for q in params:
                q.requires_grad_(q.ndim == 1)
        self.train = [q for q in params if q.requires_grad]
        self.all = params
        self.init = [q.detach().clone() for q in self.train]
        self.init_norm = math.sqrt(sum(float(q.detach().double().norm()) ** 2 for q in params))
        self.to_init = c.get("wd_toward", "zero") == "init"
        exempt = c.get("wd_groups", "all") == "matrices"
        wd = c["wd"]
        groups = [{"params": [q for q in self.train if not (exempt and q.ndim == 1)], "weight_decay": wd},
                  {"params": [q for q in self.train if exempt and q.ndim == 1], "weight_decay": 0.0}]
        self.decayed = [not (exempt and q.ndim == 1) for q in self.train]
        if self.to_init:
            for g in groups:
                g["weight_decay"] = 0.0
        groups = [g for g in groups if g["params"]]
        kind = c.get("optim", "adamw")
        if kind == "sgd":
            self.opt = torch.optim.SGD(groups, lr=c["lr"], momentum=c["momentum"])
        else:
            cls = torch.optim.AdamW if kind == "adamw" else torch.optim.Adam
            self.opt = cls(groups, lr=c["lr"], betas=(c["beta1"], c["beta2"]), eps=c["eps"])
        self.sched = torch.optim.lr_scheduler.LambdaLR(self.opt, lambda e: lr_factor(c, e + 1))
        self.kind, self.wd = kind, wd
        self.gf = c.get("grokfast", "off")
        lam = c.get("grokfast_lambda", 0.0)
        self.lam = lam if lam > 0 else (5.0 if self.gf == "ma" else 2.0)
        self.ema = None
        self.window = [[] for _ in self.train]

    def step(self, loss):
        c = self.c
        self.opt.zero_grad()
        loss.backward()
        if self.gf == "ema":  # the EMA starts at the first gradient
            alpha = c.get("grokfast_alpha", 0.98)
            if self.ema is None:
                self.ema = [q.grad.detach().clone() for q in self.train]
            for i, q in enumerate(self.train):
                self.ema[i] = self.ema[i] * alpha + q.grad.detach() * (1 - alpha)
                q.grad = q.grad + self.ema[i] * self.lam
        elif self.gf == "ma":  # acts once the window is full
            w = c.get("grokfast_window", 100)
            for i, q in enumerate(self.train):
                self.window[i] = (self.window[i] + [q.grad.detach().clone()])[-w:]
                if len(self.window[i]) == w:
                    q.grad = q.grad + sum(self.window[i]) / w * self.lam
        if c.get("clip", 0) > 0:
            torch.nn.utils.clip_grad_norm_(self.train, c["clip"])
        if self.to_init and self.wd:
            lr = self.opt.param_groups[0]["lr"]
            with torch.no_grad():
                for q, q0, dec in zip(self.train, self.init, self.decayed):
                    if not dec:
                        continue
                    if self.kind == "adamw":
                        q -= lr * self.wd * (q - q0)
                    else:
                        q.grad = q.grad + self.wd * (q - q0)
        self.opt.step()
        self.sched.step()
        if c.get("weight_norm", 0) > 0:
            with torch.no_grad():
                now = math.sqrt(sum(float(q.double().norm()) ** 2 for q in self.all))
                for q in self.all:
                    q *= c["weight_norm"] * self.init_norm / now


def check_case(binary, workdir, name):
    fails = 0

    def report(ok, msg):
        nonlocal fails
        print(("OK " if ok else "NOT OK ") + name + " " + msg)
        fails += not ok

    d = os.path.join(workdir, name)
    try:
        run([binary, "train"] + COMMON + ALL_CASES[name] + ["--quiet", "--out", d])
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
    methods = Methods(c, model)
    tm, tn, ty = (torch.from_numpy(data[k].astype(np.int64)) for k in ("train_m", "train_n", "train_label"))
    em, en, ey = (torch.from_numpy(data[k].astype(np.int64)) for k in ("test_m", "test_n", "test_label"))
    tr_idx, te_idx = torch.stack([tm, tn], 1), torch.stack([em, en], 1)
    n_train = len(ty)
    B = c["batch"] if 0 < c["batch"] < n_train else n_train
    nb = n_train // B if c.get("drop_last", "off") == "on" else (n_train + B - 1) // B

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
        methods.step(loss_of(model(tr_idx[bi]), ty[bi], c["loss"], p))
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
        if c["model"] == "mlp":  # the paper's neuron IPR: its U row, V row and W column
            ipr_ref = (ipr_rfft(final["U"].T) + ipr_rfft(final["V"].T) + ipr_rfft(final["W"])).mean() / 3
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
    groups = {"models": list(CASES), "methods": list(METHOD_CASES)}
    names = [n for a in (sys.argv[3:] or ["models"]) for n in groups.get(a, [a])]
    torch.manual_seed(0)
    fails = sum(check_case(binary, workdir, n) for n in names)
    sys.exit(1 if fails else 0)


if __name__ == "__main__":
    main()
