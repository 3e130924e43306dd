#!/usr/bin/python3
"""authors_loop.py -- time one training step of the paper authors' PyTorch loop.

Baseline for groklab: a faithful CPU equivalent of the training loop of
Doshi et al. 2024 ("To grok or not to grok", code: github.com/d-doshi/Grokking,
utils/optimization.py train_one_epoch_grokking + utils/models.py fcn), one model
at a time, in the default groklab setting:

  (m+n) mod p, p=97, all p^2 pairs shuffled, train fraction 0.5 -> B=4704
  (full batch); input = concatenated one-hots (B, 2p) float32;
  model = Linear(2p, N, bias=False) -> x**2 -> Linear(N, p, bias=False), N=500,
  weights ~ Normal(0, 0.5*(2N)^(-1/3)); MSELoss vs F.one_hot(labels, p).float();
  AdamW(lr=0.01, betas=(0.9, 0.98), eps=1e-8, weight_decay=0).

Each step is timed on its own with time.perf_counter (after --warmup untimed
steps); median and min ms/step are printed for three loop variants, run one
after the other on the same model:

  train_acc   zero_grad, forward, MSE, backward, AdamW step; then, as the
              authors do every step, train and test accuracy under no_grad
              (argmax vs labels) with loss/accuracies appended to Python lists.
              This is the headline "authors' loop" number.
  train_full  train_acc plus the test-loss forward the authors' code also runs
              every step (test_loss_grokking): one more forward on the test set.
  train_only  the optimisation step alone, no per-step evaluation.

--threads T sets torch.set_num_threads(T) and also OMP_NUM_THREADS,
OPENBLAS_NUM_THREADS and MKL_NUM_THREADS before torch is imported: Debian's
torch does its GEMMs in OpenBLAS (pthread build), whose thread count
torch.set_num_threads does not change.

--device cuda puts the model and the data on the GPU (float32; the JSON field
"allow_tf32" records whether torch let cuBLAS use TF32 for the GEMMs, off by
default) and calls torch.cuda.synchronize() before every clock read, so each
step's time includes all its kernels. --threads is ignored there. Without a
GPU visible to torch it exits with status 2 and a one-line message.

Memory note: torch's CPU allocator uses glibc malloc, so tensors above glibc's
mmap threshold are fresh mmaps, page-faulted in again every step. Running with
MALLOC_MMAP_THRESHOLD_=4294967296 MALLOC_TRIM_THRESHOLD_=4294967296 avoids
that; the JSON field "malloc_tuned" records whether that variable was set.

--json prints one JSON line (and nothing else) on stdout; --json FILE writes
that line to FILE and prints the readable report on stdout.

Usage: /usr/bin/python3 bench/authors_loop.py [--device cpu|cuda] [--threads T]
           [--steps S] [--warmup W] [--json [FILE]]
"""
import argparse
import json
import os
import random
import statistics
import sys
import time


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    ap.add_argument("--threads", type=int, default=1, help="CPU threads (cpu only)")
    ap.add_argument("--steps", type=int, default=200, help="timed steps per variant")
    ap.add_argument("--warmup", type=int, default=10, help="untimed steps per variant")
    ap.add_argument("--p", type=int, default=97)
    ap.add_argument("--width", type=int, default=500)
    ap.add_argument("--frac", type=float, default=0.5, help="training fraction")
    ap.add_argument("--noise", type=float, default=0.0,
                    help="fraction of training labels replaced by random ones")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", nargs="?", const="-", metavar="FILE",
                    help="print one JSON line instead of the report; with FILE, "
                         "write it there and print the report too")
    return ap.parse_args()


args = parse_args()
if args.device == "cpu":
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)

import torch  # noqa: E402  (after the thread variables are set)
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

if args.device == "cpu":
    torch.set_num_threads(args.threads)
elif not torch.cuda.is_available():
    why = (f"built with CUDA {torch.version.cuda}" if torch.version.cuda
           else "a build without CUDA")
    print(f"authors_loop.py: --device cuda, but torch {torch.__version__} ({why}) "
          "sees no CUDA device", file=sys.stderr)
    sys.exit(2)
DEVICE = torch.device(args.device)


def sync():
    """Wait for the GPU's queued kernels, so that a clock read sees them done."""
    if DEVICE.type == "cuda":
        torch.cuda.synchronize()


class Square(nn.Module):
    def forward(self, x):
        return x ** 2


def make_data(p, frac, noise, seed):
    """All p^2 pairs, deterministically shuffled, split into train/test (as
    the authors' noisy_dataset); the first noise*B training labels are random."""
    pairs = [(m, n) for m in range(p) for n in range(p)]
    random.Random(seed).shuffle(pairs)
    x = torch.tensor(pairs)
    y = (x[:, 0] + x[:, 1]) % p
    n_train = int(frac * len(pairs))
    n_noise = int(noise * n_train)
    g = torch.Generator().manual_seed(seed)
    y[:n_noise] = torch.randint(0, p, (n_noise,), generator=g)
    onehot = F.one_hot(x, p).float().flatten(1)  # (P, 2p): [e_m, e_n]
    parts = (onehot[:n_train], y[:n_train], onehot[n_train:], y[n_train:])
    return tuple(t.to(DEVICE) for t in parts)


def make_model(p, width):
    model = nn.Sequential(nn.Linear(2 * p, width, bias=False), Square(),
                          nn.Linear(width, p, bias=False))
    std = 0.5 * (2 * width) ** (-1.0 / 3.0)
    for layer in (model[0], model[2]):
        nn.init.normal_(layer.weight, mean=0.0, std=std)
    return model.to(DEVICE)


@torch.no_grad()
def accuracy(model, x, y):
    return (model(x).argmax(dim=1) == y).float().mean().item()


@torch.no_grad()
def test_loss(model, criterion, x, y, p):
    return criterion(model(x), F.one_hot(y, p).float()).item()


def run_variant(name, model, opt, criterion, data, p, steps, warmup):
    x_tr, y_tr, x_te, y_te = data
    hist = {"loss": [], "train_acc": [], "test_acc": [], "test_loss": []}
    times = []
    for i in range(warmup + steps):
        sync()
        t0 = time.perf_counter()
        model.train()
        opt.zero_grad()
        loss = criterion(model(x_tr), F.one_hot(y_tr, p).float())
        loss.backward()
        opt.step()
        hist["loss"].append(loss.item())
        if name != "train_only":
            model.eval()
            hist["train_acc"].append(accuracy(model, x_tr, y_tr))
            hist["test_acc"].append(accuracy(model, x_te, y_te))
            if name == "train_full":
                hist["test_loss"].append(test_loss(model, criterion, x_te, y_te, p))
        sync()
        t1 = time.perf_counter()
        if i >= warmup:
            times.append((t1 - t0) * 1e3)
    return {"median_ms": statistics.median(times), "min_ms": min(times),
            "final_loss": hist["loss"][-1],
            "final_train_acc": hist["train_acc"][-1] if hist["train_acc"] else None,
            "final_test_acc": hist["test_acc"][-1] if hist["test_acc"] else None}


def malloc_tuned():
    """True when glibc malloc was told to keep big blocks (see baselines.sh)."""
    return "MALLOC_MMAP_THRESHOLD_" in os.environ


def main():
    torch.manual_seed(args.seed)
    data = make_data(args.p, args.frac, args.noise, args.seed)
    model = make_model(args.p, args.width)
    opt = torch.optim.AdamW(model.parameters(), lr=0.01, betas=(0.9, 0.98),
                            eps=1e-8, weight_decay=0.0)
    criterion = nn.MSELoss()

    res = {}
    for name in ("train_acc", "train_full", "train_only"):
        res[name] = run_variant(name, model, opt, criterion, data, args.p,
                                args.steps, args.warmup)

    cuda = DEVICE.type == "cuda"
    out = {"bench": "authors_loop", "device": args.device,
           "gpu": torch.cuda.get_device_name() if cuda else None,
           "allow_tf32": torch.backends.cuda.matmul.allow_tf32 if cuda else None,
           "threads": None if cuda else args.threads,
           "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
           "B": int(data[0].shape[0]), "N": args.width, "p": args.p,
           "steps": args.steps, "warmup": args.warmup,
           "malloc_tuned": malloc_tuned(),
           "median_ms": res["train_acc"]["median_ms"],
           "min_ms": res["train_acc"]["min_ms"],
           "train_only_median_ms": res["train_only"]["median_ms"],
           "train_only_min_ms": res["train_only"]["min_ms"],
           "variants": res}
    if args.json == "-":
        print(json.dumps(out))
        return
    if args.json:
        with open(args.json, "w") as f:
            f.write(json.dumps(out) + "\n")
    where = f"GPU {out['gpu']}" if cuda else f"{args.threads} thread(s)"
    print(f"authors' loop, torch {torch.__version__}, {where}, "
          f"B={out['B']} N={args.width} p={args.p}, {args.steps} timed steps"
          + (", glibc malloc tuned" if out["malloc_tuned"] else ""))
    for name, r in res.items():
        print(f"  {name:10s}  median {r['median_ms']:8.2f} ms/step   "
              f"min {r['min_ms']:8.2f} ms/step")
    r = res["train_full"]
    print(f"  after {2 * (args.steps + args.warmup)} steps: loss {r['final_loss']:.5f}, "
          f"train acc {r['final_train_acc']:.3f}, test acc {r['final_test_acc']:.3f}")


if __name__ == "__main__":
    sys.exit(main())
