"""Milliseconds per full-batch training step of the authors' Transformer in
PyTorch (the module of tests/python/torch_transformer.py), float32 on the
CPU. One step = forward, loss, backward, AdamW step. `groklab bench --model
transformer` runs this with its own settings and prints both; it can also be
run alone.

Usage: /usr/bin/python3 bench/transformer_torch.py [key=value ...]
  keys: p (97), frac (0.5), d (128), heads (4), layers (1), mlp (4),
        loss (mse|ce), reps (30), threads (comma list, default 1,2)
Prints one line per thread count:
  torch threads T: median M ms, min N ms per step (loss L)
"""
import math
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "python"))
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch_transformer import BASE, Transformer  # noqa: E402


def main():
    opts = dict(p="97", frac="0.5", d="128", heads="4", layers="1", mlp="4", loss="mse", reps="30",
                threads="1,2")
    for a in sys.argv[1:]:
        k, _, v = a.partition("=")
        if k not in opts:
            sys.exit("transformer_torch.py: unknown key '%s' (keys: %s)" % (k, ", ".join(opts)))
        opts[k] = v
    cfg = dict(BASE, p=int(opts["p"]), d=int(opts["d"]), heads=int(opts["heads"]),
               layers=int(opts["layers"]), mlp=int(opts["mlp"]))
    p, reps = cfg["p"], int(opts["reps"])
    torch.manual_seed(1)
    rng = np.random.default_rng(1)
    pairs = rng.permutation(p * p)[: int(math.floor(float(opts["frac"]) * p * p))]
    m, n = torch.from_numpy(pairs // p), torch.from_numpy(pairs % p)
    idx = torch.stack([m, n], dim=1)
    y = (m + n) % p
    target = F.one_hot(y, p).float()
    model = Transformer(cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=0.001, betas=(0.9, 0.98), weight_decay=1.0)
    print("torch %s transformer step: p %d, B %d, n_embd %d, heads %d, layers %d, %s, adamw, %d reps"
          % (torch.__version__, p, len(pairs), cfg["d"], cfg["heads"], cfg["layers"], opts["loss"], reps))
    for threads in [int(t) for t in opts["threads"].split(",")]:
        torch.set_num_threads(threads)
        times = []
        for r in range(reps + 3):
            t0 = time.perf_counter()
            out = model(idx)
            loss = F.mse_loss(out, target) if opts["loss"] == "mse" else F.cross_entropy(out, y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            if r >= 3:
                times.append((time.perf_counter() - t0) * 1e3)
        times.sort()
        print("torch threads %d: median %.2f ms, min %.2f ms per step (loss %.5f)"
              % (threads, times[len(times) // 2], times[0], float(loss)), flush=True)


if __name__ == "__main__":
    main()
