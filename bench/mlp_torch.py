"""Milliseconds per training step of the default two-layer MLP in PyTorch at
given batch sizes, float32 on the CPU: the baseline `groklab bench --batches`
prints beside its own figures. It can also be run alone.

The model is groklab's two-layer MLP: h = U[m] + V[n] (the first layer as
a gather, PyTorch's fastest form of the one-hot product), a = phi(h) with
phi(x) = x^2 (act=relu: ReLU), an optional norm of a (torch.nn.BatchNorm1d
or LayerNorm), out = a W^T, MSE against the one-hot label (mean over B*p;
loss=ce: cross-entropy), AdamW (lr 0.01 unless lr=, betas (0.9, 0.98), eps
1e-8, wd 0 unless wd=). A minibatch step takes the next B rows of
an epoch's random permutation (a new one each epoch), as groklab does;
batch 0 is the full training set. One step = gather the batch, forward,
loss, zero_grad, backward, AdamW step. Each step is timed after 10 untimed
steps; reported is the median.

Usage: /usr/bin/python3 bench/mlp_torch.py [key=value ...]
  keys: p (97), frac (0.5), width (500), act (quadratic|relu), norm
        (none|batchnorm|layernorm), loss (mse|ce), lr (0.01), wd (0),
        batches (comma list, default 8,32,64,256,0), steps (200),
        threads (comma list, default 1)
Prints one line per batch size and thread count:
  torch batch B threads T: median M ms per step
"""
import math
import sys
import time

import numpy as np
import torch


def bench(o, B, threads):
    p, frac, N, steps = int(o["p"]), float(o["frac"]), int(o["width"]), int(o["steps"])
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    rng = np.random.default_rng(1)
    pairs = rng.permutation(p * p)[: int(math.floor(frac * p * p))]
    T = len(pairs)
    m_all, n_all = torch.from_numpy(pairs // p), torch.from_numpy(pairs % p)
    labels = (m_all + n_all) % p
    y_all = torch.nn.functional.one_hot(labels, p).float() if o["loss"] == "mse" else labels
    B = T if B <= 0 or B > T else B
    U = (torch.randn(p, N) / math.sqrt(p)).requires_grad_()
    V = (torch.randn(p, N) / math.sqrt(p)).requires_grad_()
    W = (torch.randn(p, N) / math.sqrt(N)).requires_grad_()
    norm = {"none": None, "batchnorm": torch.nn.BatchNorm1d(N), "layernorm": torch.nn.LayerNorm(N)}[o["norm"]]
    act = {"quadratic": torch.square, "relu": torch.relu}[o["act"]]
    params = [U, V, W] + (list(norm.parameters()) if norm is not None else [])
    opt = torch.optim.AdamW(params, lr=float(o["lr"]), betas=(0.9, 0.98), eps=1e-8,
                            weight_decay=float(o["wd"]))
    lossf = torch.nn.functional.mse_loss if o["loss"] == "mse" else torch.nn.functional.cross_entropy
    perm, pos, times = torch.randperm(T), 0, []
    for s in range(steps + 10):
        t0 = time.perf_counter()
        if pos + B > T:
            perm, pos = torch.randperm(T), 0
        idx = perm[pos:pos + B]
        pos += B
        m, n, y = m_all[idx], n_all[idx], y_all[idx]
        a = act(U[m] + V[n])
        out = (norm(a) if norm is not None else a) @ W.t()
        loss = lossf(out, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if s >= 10:
            times.append((time.perf_counter() - t0) * 1e3)
    times.sort()
    return B, times[len(times) // 2]


def main():
    opts = dict(p="97", frac="0.5", width="500", act="quadratic", norm="none", loss="mse", lr="0.01", wd="0",
                batches="8,32,64,256,0", steps="200", threads="1")
    for a in sys.argv[1:]:
        k, _, v = a.partition("=")
        if k not in opts:
            sys.exit("mlp_torch.py: unknown key '%s' (keys: %s)" % (k, ", ".join(opts)))
        opts[k] = v
    print("torch %s mlp step: p %s, width %s, %s, norm %s, %s, adamw, %s steps"
          % (torch.__version__, opts["p"], opts["width"], opts["act"], opts["norm"], opts["loss"], opts["steps"]))
    for threads in [int(t) for t in opts["threads"].split(",")]:
        for b in [int(x) for x in opts["batches"].split(",")]:
            B, med = bench(opts, b, threads)
            print("torch batch %d threads %d: median %.3f ms per step" % (b, threads, med), flush=True)


if __name__ == "__main__":
    main()
