"""Checks a run's dataset against an independent recomputation.

Usage: test_data_split.py DIR

DIR/data.safetensors must equal glio.expected_split(DIR/config.json): the
same pairs in the same order, the same train/test boundary, the same
corrupted labels. Prints OK / NOT OK lines; exits 1 on any failure.
"""

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import glio  # noqa: E402

# name -> (dtype, which length)
SPEC = {
    "train_m": (np.int32, "train"),
    "train_n": (np.int32, "train"),
    "train_label": (np.int32, "train"),
    "train_true_label": (np.int32, "train"),
    "train_corrupted": (np.uint8, "train"),
    "test_m": (np.int32, "test"),
    "test_n": (np.int32, "test"),
    "test_label": (np.int32, "test"),
}


def check(run_dir):
    """Returns the number of failed checks, printing one line per check."""
    fails = 0

    def report(ok, msg):
        nonlocal fails
        print(("OK " if ok else "NOT OK ") + msg)
        fails += not ok

    try:
        config = glio.load_config(run_dir)
        want = glio.expected_split(config)
    except (OSError, ValueError, KeyError) as e:
        report(False, "config.json read and split recomputed: %r" % (e,))
        return fails
    try:
        got, _meta = glio.load_safetensors(os.path.join(run_dir, "data.safetensors"))
    except (OSError, ValueError) as e:
        report(False, "data.safetensors loads: %s" % e)
        return fails
    report(True, "data.safetensors loads (strict reader)")
    sizes = {"train": len(want["train_m"]), "test": len(want["test_m"])}
    print("# task=%s p=%s frac=%s noise=%s: n_train=%d n_test=%d n_corrupt=%d"
          % (config["task"], config["p"], config["frac"], config["noise"], sizes["train"],
             sizes["test"], int(want["train_corrupted"].sum())))

    extra = sorted(set(got) - set(SPEC))
    report(not extra, "no unexpected tensors" + (": %s" % extra if extra else ""))
    for name, (dtype, which) in SPEC.items():
        if name not in got:
            report(False, "%s present" % name)
            continue
        a, w = got[name], want[name]
        shape_ok = a.dtype == dtype and a.shape == (sizes[which],)
        report(shape_ok, "%s dtype %s shape %s (want %s %s)"
               % (name, a.dtype, a.shape, np.dtype(dtype), (sizes[which],)))
        if not shape_ok:
            continue
        diff = np.flatnonzero(a != w)
        if diff.size:
            i = int(diff[0])
            report(False, "%s values: %d differ, first at %d: got %d want %d"
                   % (name, diff.size, i, a[i], w[i]))
        else:
            report(True, "%s values" % name)

    # Consistency of the file with itself, independent of the recomputation.
    if all(k in got for k in ("train_label", "train_true_label", "train_corrupted")):
        clean = got["train_corrupted"] == 0
        same = np.array_equal(got["train_label"][clean], got["train_true_label"][clean])
        report(same, "uncorrupted examples have label == true label")
    return fails


def main(argv):
    if len(argv) != 2:
        print(__doc__.strip())
        return 2
    fails = check(argv[1])
    print("data split: %s" % ("FAIL (%d)" % fails if fails else "PASS"))
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
