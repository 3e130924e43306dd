"""Milliseconds per full-batch training step of the authors' Transformer in
PyTorch (the module of tests/python/torch_transformer.py), at the setting of
bench/transformer_step.c: p 97, alpha 0.5 (4704 pairs), n_embd 128, 4 heads,
1 block, MSE, AdamW; float32 on the CPU. One step = forward, loss, backward,
optimizer step. Prints median and min over the repetitions for 1 and 2
threads (torch.set_num_threads).

Usage: /usr/bin/python3 bench/transformer_torch.py [reps]
"""
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "python"))
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch_transformer import BASE, Transformer  # noqa: E402


def main():
    reps = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    cfg = dict(BASE, p=97)
    p = cfg["p"]
    torch.manual_seed(1)
    rng = np.random.default_rng(1)
    pairs = rng.permutation(p * p)[: p * p // 2]
    m, n = torch.from_numpy(pairs // p), torch.from_numpy(pairs % p)
    idx = torch.stack([m, n], dim=1)
    target = F.one_hot((m + n) % p, p).float()
    model = Transformer(cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=0.01, betas=(0.9, 0.98), weight_decay=1.0)
    print("torch %s transformer step: p %d, B %d, n_embd %d, heads %d, layers %d, mse, adamw, %d reps"
          % (torch.__version__, p, len(pairs), cfg["d"], cfg["heads"], cfg["layers"], reps))
    for threads in (1, 2):
        torch.set_num_threads(threads)
        times = []
        for r in range(reps + 3):
            t0 = time.perf_counter()
            loss = F.mse_loss(model(idx), target)
            opt.zero_grad()
            loss.backward()
            opt.step()
            if r >= 3:
                times.append((time.perf_counter() - t0) * 1e3)
        times.sort()
        print("threads %d: median %.2f ms, min %.2f ms per step (loss %.5f)"
              % (threads, times[len(times) // 2], times[0], float(loss)))


if __name__ == "__main__":
    main()
