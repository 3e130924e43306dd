#!/usr/bin/env python3
"""Figures 1 and 6 of the paper from Python, with the knobs of
`groklab reproduce fig1` and `groklab reproduce fig6`.

Figure 1: addition mod 97, width 500, alpha 0.5, xi 0.35, 2000 steps, at
weight decay 0, 5 and 15 (Coexistence, Partial Inversion, Full Inversion),
trained together as one population; train, test and corrupted accuracy
against step.
Figure 6: the Coexistence run (weight decay 0, 1000 steps) pruned lowest IPR
first, highest IPR first and in 20 random orders; test and corrupted
accuracy against the fraction pruned.

usage: quickstart.py [OUT] [--p P] [--steps S]
  OUT        output folder (default quickstart-out): fig1/wd0, fig1/wd5,
             fig1/wd15 and fig6/coexistence run directories, fig1.png, fig6.png
  --p, --steps  as reproduce's: a smaller modulus and fewer steps (both
             figures) for a check in seconds, e.g. --p 23 --steps 300
"""
import argparse
import pathlib

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt

import groklab

FIG1 = {"noise": 0.35, "steps": 2000, "checkpoint_every": 0}  # the other knobs: groklab's defaults
FIG1_WD = {"wd0": 0, "wd5": 5, "wd15": 15}
FIG6 = {"noise": 0.35, "wd": 0, "steps": 1000, "checkpoint_every": 0}
PRUNE = {"order": "all", "seeds": 20, "on": "all", "threshold": 0.9}  # groklab prune's defaults
CURVES = {"train_acc": "train", "test_acc": "test", "corrupted_acc": "corrupted (given labels)"}


def figure1(out, scale):
    runs = groklab.train_population([dict(FIG1, wd=wd, **scale) for wd in FIG1_WD.values()],
                                    out=[out / "fig1" / name for name in FIG1_WD], force=True, progress=False)
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6), sharey=True)
    for (name, wd), run, ax in zip(FIG1_WD.items(), runs, axes):
        m, s = run.metrics, run.summary
        for col, label in CURVES.items():
            ax.plot(m["step"], m[col], label=label)
        ax.set(title=f"weight decay {wd}: {s['phase']}", xlabel="step")
        print(f"{name:5s} train {s['train_acc']:.4f}  test {s['test_acc']:.4f}  "
              f"corrupted {s['corrupted_acc']:.4f}  phase {s['phase']}")
    axes[0].set_ylabel("accuracy")
    axes[0].legend()
    fig.tight_layout()
    fig.savefig(out / "fig1.png", dpi=120)


def figure6(out, scale):
    run = groklab.train(out / "fig6" / "coexistence", force=True, progress=False, **dict(FIG6, **scale))
    table = run.prune(**PRUNE)
    width = run.config["width"]
    # prunable: the most neurons removed lowest IPR first with test accuracy
    # still >= the threshold (-1: below it before any pruning)
    print(f"fig6  prunable (lowest IPR first, test accuracy >= {PRUNE['threshold']}): "
          f"{run.prunable} of {width} neurons, fraction {run.prunable / width:.4f}")
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), sharey=True)
    for order, label in (("low", "lowest IPR first"), ("high", "highest IPR first"), ("random", "random")):
        t = table[table["order"] == order]
        for ax, col in zip(axes, ("test_acc", "corrupted_acc")):
            ax.plot(t["fraction"], t[col], label=label)
    axes[0].set(title="test accuracy", xlabel="fraction pruned", ylabel="accuracy")
    axes[1].set(title="corrupted accuracy (given labels)", xlabel="fraction pruned")
    axes[0].legend()
    fig.tight_layout()
    fig.savefig(out / "fig6.png", dpi=120)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", nargs="?", default="quickstart-out")
    ap.add_argument("--p", type=int)
    ap.add_argument("--steps", type=int)
    a = ap.parse_args()
    out = pathlib.Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    scale = {k: v for k, v in (("p", a.p), ("steps", a.steps)) if v is not None}
    figure1(out, scale)
    figure6(out, scale)
    print(f"figures {out / 'fig1.png'}, {out / 'fig6.png'}")


if __name__ == "__main__":
    main()
