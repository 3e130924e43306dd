#!/usr/bin/python3
"""batched_torch.py -- throughput of a hand-batched PyTorch population of MLPs.

Baseline for groklab's population training: M independent models of the default
setting (p=97, N=500, B=4704 full batch, phi(x)=x^2, MSE vs one-hot, AdamW
lr 0.01, betas (0.9, 0.98), eps 1e-8, wd 0), with stacked weights

  U, V: (M, N, p)    W: (M, p, N)

trained together in one tensor program:

  h   = U[:, :, m] + V[:, :, n]              (M, B, N) gathered embeddings
        (--embed onehot: bmm of the (B, 2p) one-hot inputs with [U V]^T instead)
  out = torch.bmm(h**2, W^T)                 (M, B, p)
  loss = sum over models of mean((out - onehot)^2 over B*p)
  AdamW on the stacked tensors (elementwise, so each model gets exactly the
  update it would get alone).

Only the training step is timed (no per-step evaluation). Each step is timed
with time.perf_counter after --warmup untimed steps; reported are the median
ms per population step and model-steps per second = M / median step time.

Memory note: with M=8 the (M, B, N) activations are 75 MB each, above glibc's
largest mmap threshold, so by default every step page-faults them in afresh
(about half the step time at M=8). MALLOC_MMAP_THRESHOLD_=4294967296
MALLOC_TRIM_THRESHOLD_=4294967296 in the environment avoids that; the JSON
field "malloc_tuned" records whether it was set.

Each --threads value runs in its own subprocess, because OpenBLAS (which
Debian's torch uses for GEMMs) reads OPENBLAS_NUM_THREADS only at load time.

--device cuda runs everything in this process on the GPU (--threads ignored;
float32, the JSON field "allow_tf32" records whether cuBLAS may use TF32, off
by default in torch), with torch.cuda.synchronize() before every clock read.
A population size that does not fit in GPU memory is reported as OOM (JSON:
"oom": true) and the next one is tried. Without a GPU visible to torch the
script exits with status 2 and a one-line message.

--json prints the JSON lines (one per M and thread count) and nothing else on
stdout; --json FILE writes them to FILE and prints the readable table.

Usage: /usr/bin/python3 bench/batched_torch.py [--device cpu|cuda] [--pop 1,2,8]
           [--threads 1,2] [--steps S] [--warmup W] [--embed gather|onehot]
           [--json [FILE]]
e.g. on a GPU: bench/batched_torch.py --device cuda --pop 1,16,64,256,1024
"""
import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import time


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    ap.add_argument("--pop", default="1,2,8", help="comma-separated population sizes M")
    ap.add_argument("--threads", default="1,2", help="comma-separated thread counts (cpu only)")
    ap.add_argument("--steps", type=int, default=30, help="timed steps per (M, threads)")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--embed", choices=("gather", "onehot"), default="gather")
    ap.add_argument("--p", type=int, default=97)
    ap.add_argument("--width", type=int, default=500)
    ap.add_argument("--frac", type=float, default=0.5)
    ap.add_argument("--json", nargs="?", const="-", metavar="FILE",
                    help="print one JSON line per (M, threads) instead of the table; "
                         "with FILE, write them there and print the table too")
    return ap.parse_args()


def worker(args, threads, device="cpu"):
    """Times every M of --pop on one device. On the CPU this runs in a
    subprocess with the BLAS/OpenMP thread variables already set; with cuda
    (threads None) in the main process."""
    import torch
    import torch.nn.functional as F

    dev = torch.device(device)
    cuda = dev.type == "cuda"
    if not cuda:
        torch.set_num_threads(threads)
    torch.manual_seed(0)
    p, width = args.p, args.width

    # Data: all p^2 pairs, shuffled, first frac*p^2 used for training.
    perm = torch.randperm(p * p, generator=torch.Generator().manual_seed(0))
    n_train = int(args.frac * p * p)
    idx = perm[:n_train]
    m_idx, n_idx = idx // p, idx % p
    y = (m_idx + n_idx) % p
    target = F.one_hot(y, p).float()                       # (B, p)
    x_onehot = torch.cat([F.one_hot(m_idx, p), F.one_hot(n_idx, p)], 1).float()  # (B, 2p)
    m_idx, n_idx, target, x_onehot = (t.to(dev) for t in (m_idx, n_idx, target, x_onehot))
    std = 0.5 * (2 * width) ** (-1.0 / 3.0)

    def sync():
        if cuda:
            torch.cuda.synchronize()

    common = {"bench": "batched_torch", "embed": args.embed, "device": device,
              "gpu": torch.cuda.get_device_name(dev) if cuda else None,
              "allow_tf32": torch.backends.cuda.matmul.allow_tf32 if cuda else None,
              "threads": threads, "steps": args.steps, "torch": torch.__version__,
              "malloc_tuned": "MALLOC_MMAP_THRESHOLD_" in os.environ}
    results = []
    for M in [int(s) for s in args.pop.split(",")]:
        try:
            r = time_population(args, M, dev, sync, m_idx, n_idx, target, x_onehot, std)
        except RuntimeError as e:    # torch.cuda.OutOfMemoryError is a RuntimeError
            if not (cuda and is_oom(e)):
                raise
            r = None
        if r is None:                # out of the except block: its traceback, which
            gc.collect()             # holds the population's tensors, is released
            torch.cuda.empty_cache()
            r = {"M": M, "oom": True}
            print(f"batched_torch.py: M={M}: out of GPU memory", file=sys.stderr)
        elif cuda:                   # progress, in case a later M fails otherwise
            print(f"batched_torch.py: M={M}: {r['model_steps_per_s']:.1f} model-steps/s",
                  file=sys.stderr)
        results.append(dict(common, **r))
    return results


def is_oom(e):
    """True for the errors a too-large allocation on the GPU raises."""
    import torch
    oom = getattr(torch.cuda, "OutOfMemoryError", None)   # torch >= 1.13
    msg = str(e)
    return ((oom is not None and isinstance(e, oom)) or "out of memory" in msg
            or "ALLOC_FAILED" in msg)


def time_population(args, M, dev, sync, m_idx, n_idx, target, x_onehot, std):
    """Builds M stacked models and times args.steps training steps of them."""
    import torch

    p, width = args.p, args.width
    U = (torch.randn(M, width, p, device=dev) * std).requires_grad_()
    V = (torch.randn(M, width, p, device=dev) * std).requires_grad_()
    W = (torch.randn(M, p, width, device=dev) * std).requires_grad_()
    opt = torch.optim.AdamW([U, V, W], lr=0.01, betas=(0.9, 0.98), eps=1e-8,
                            weight_decay=0.0)
    xb = x_onehot.expand(M, -1, -1)

    def step():
        opt.zero_grad()
        if args.embed == "gather":
            h = (U.transpose(1, 2).index_select(1, m_idx)
                 + V.transpose(1, 2).index_select(1, n_idx))      # (M, B, N)
        else:
            h = torch.bmm(xb, torch.cat([U, V], 2).transpose(1, 2))
        out = torch.bmm(h * h, W.transpose(1, 2))                  # (M, B, p)
        loss = ((out - target) ** 2).mean(dim=(1, 2)).sum()
        loss.backward()
        opt.step()
        return loss.item() / M

    times = []
    for i in range(args.warmup + args.steps):
        sync()
        t0 = time.perf_counter()
        loss = step()
        sync()
        t1 = time.perf_counter()
        if i >= args.warmup:
            times.append((t1 - t0) * 1e3)
    med = statistics.median(times)
    return {"M": M, "oom": False, "median_ms": med, "min_ms": min(times),
            "ms_per_model_step": med / M,
            "model_steps_per_s": 1e3 * M / med, "final_loss": loss}


def main():
    args = parse_args()
    if os.environ.get("_BATCHED_TORCH_WORKER"):
        for r in worker(args, int(args.threads)):
            print(json.dumps(r))
        return 0

    if args.device == "cuda":
        import torch
        if not torch.cuda.is_available():
            why = (f"built with CUDA {torch.version.cuda}" if torch.version.cuda
                   else "a build without CUDA")
            print(f"batched_torch.py: --device cuda, but torch {torch.__version__} ({why}) "
                  "sees no CUDA device", file=sys.stderr)
            return 2
        rows = worker(args, None, "cuda")
    else:
        rows = cpu_rows(args)
    report(args, rows)
    return 0


def cpu_rows(args):
    """One worker subprocess per --threads value; their JSON lines as dicts."""
    rows = []
    for t in [int(s) for s in args.threads.split(",")]:
        env = dict(os.environ, _BATCHED_TORCH_WORKER="1", OMP_NUM_THREADS=str(t),
                   OPENBLAS_NUM_THREADS=str(t), MKL_NUM_THREADS=str(t))
        cmd = [sys.executable, os.path.abspath(__file__), "--threads", str(t),
               "--pop", args.pop, "--steps", str(args.steps), "--warmup", str(args.warmup),
               "--embed", args.embed, "--p", str(args.p), "--width", str(args.width),
               "--frac", str(args.frac)]
        proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, check=True, text=True)
        rows += [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    return rows


def report(args, rows):
    """The JSON lines (--json: on stdout; --json FILE: into FILE) and the table."""
    if args.json == "-":
        for r in rows:
            print(json.dumps(r))
        return
    if args.json:
        with open(args.json, "w") as f:
            for r in rows:
                f.write(json.dumps(r) + "\n")
    tuned = ", glibc malloc tuned" if "MALLOC_MMAP_THRESHOLD_" in os.environ else ""
    where = f", GPU {rows[0]['gpu']}" if rows and rows[0]["gpu"] else ""
    print(f"batched torch population ({args.embed} embeddings), p={args.p} N={args.width}, "
          f"{args.steps} timed steps, train step only{tuned}{where}")
    print(f"  {'M':>4} {'threads':>7} {'ms/step':>9} {'ms/model-step':>13} {'model-steps/s':>13}")
    for r in rows:
        threads = "-" if r["threads"] is None else r["threads"]
        if r["oom"]:
            print(f"  {r['M']:>4} {threads:>7} {'OOM':>9}")
            continue
        print(f"  {r['M']:>4} {threads:>7} {r['median_ms']:>9.2f} "
              f"{r['ms_per_model_step']:>13.3f} {r['model_steps_per_s']:>13.2f}")


if __name__ == "__main__":
    sys.exit(main())
