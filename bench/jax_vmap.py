#!/usr/bin/env python3
"""jax_vmap.py -- throughput of a population of MLPs batched with jax.vmap.

Baseline for groklab's population training on a GPU: what a skilled JAX user
gets by writing one model's training step as a pure function and batching it
over a population with jax.vmap. The model is batched_torch.py's default
setting:

  (m+n) mod p, p=97, all p^2 pairs shuffled, training fraction 0.5 -> B=4704
  (full batch, the same data for every model); width N=500;
  U, V: (N, p), W: (p, N), float32, each ~ Normal(0, 0.5*(2N)^(-1/3)),
  a different random key per model;
  h = U[:, m] + V[:, n]  (gather; --embed onehot: [e_m e_n] @ [U V]^T instead),
  out = (h**2) @ W^T,  loss = mean((out - onehot(y))^2) over B*p;
  AdamW lr 0.01, betas (0.9, 0.98), eps 1e-8, weight decay 0: optax.adamw
  when optax is importable, otherwise the same update written by hand
  (--optimizer hand forces the hand-written one).

One model's step (value_and_grad + AdamW) is a pure function; the population
step is jax.vmap of it over the stacked parameters and optimizer states
(leading axis M); S steps run in a jax.lax.fori_loop inside one jax.jit.

Timing, for each M of --pop: the first call of the jitted S-step loop
(compilation + one run, blocked on with block_until_ready) is reported as
"compile+first"; then K = --reps further calls are timed one by one with
time.perf_counter, each blocked on; reported is the median, as
model-steps/s = M * S / median loop time. Training goes on from call to call.
Only the training step is timed (no evaluation).

Matmul precision: JAX on a GPU by default lets float32 matmuls use TF32;
--precision highest (the default here) asks for full float32, like torch's
default (allow_tf32 off), so the baselines compare the same arithmetic.
--precision default gives JAX its default.

A population size that does not fit in GPU memory (XLA RESOURCE_EXHAUSTED) is
reported as OOM and the next one is tried; any other error of one M is
reported as ERROR (traceback on stderr) and the script exits 1 at the end.
JAX preallocates 75% of the GPU's memory by default
(XLA_PYTHON_CLIENT_PREALLOCATE=false turns that off); OOM is relative to that.

Prints jax.__version__, the backend and jax.devices(), then a table; --json
prints only the JSON lines (one per M) on stdout; --json FILE writes them to
FILE and prints the table. Exits 2 with a message when jax is not importable,
3 with --require-gpu when JAX's default backend is the CPU.

Usage: python3 bench/jax_vmap.py [--pop 1,16,64,256,1024] [--steps S]
           [--reps K] [--embed gather|onehot] [--precision highest|default]
           [--optimizer auto|optax|hand] [--require-gpu] [--json [FILE]]
"""
import argparse
import gc
import json
import statistics
import sys
import time
import traceback

LR, BETA1, BETA2, EPS, WD = 0.01, 0.9, 0.98, 1e-8, 0.0


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pop", default="1,16,64,256,1024", help="comma-separated population sizes M")
    ap.add_argument("--steps", type=int, default=100, help="steps S per timed loop")
    ap.add_argument("--reps", type=int, default=3, help="timed loops K per M (median reported)")
    ap.add_argument("--embed", choices=("gather", "onehot"), default="gather")
    ap.add_argument("--precision", choices=("highest", "default"), default="highest",
                    help="matmul precision (highest: full float32, no TF32)")
    ap.add_argument("--optimizer", choices=("auto", "optax", "hand"), default="auto",
                    help="auto: optax.adamw if optax is importable, else hand-written AdamW")
    ap.add_argument("--require-gpu", action="store_true",
                    help="exit 3 when JAX's default backend is the CPU")
    ap.add_argument("--p", type=int, default=97)
    ap.add_argument("--width", type=int, default=500)
    ap.add_argument("--frac", type=float, default=0.5, help="training fraction")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", nargs="?", const="-", metavar="FILE",
                    help="print one JSON line per M instead of the table; "
                         "with FILE, write them there and print the table too")
    args = ap.parse_args()
    if args.steps < 1 or args.reps < 1:
        ap.error("--steps and --reps must be at least 1")
    return args


args = parse_args()
try:
    import jax
    import jax.numpy as jnp
    import numpy as np
except ImportError as e:
    print(f"jax_vmap.py: JAX is not importable ({e}); this baseline needs jax "
          "(with its CUDA plugin for a GPU run)", file=sys.stderr)
    sys.exit(2)

optax = None
if args.optimizer != "hand":
    try:
        import optax
    except ImportError:
        if args.optimizer == "optax":
            print("jax_vmap.py: --optimizer optax, but optax is not importable", file=sys.stderr)
            sys.exit(2)

PRECISION = jax.lax.Precision.HIGHEST if args.precision == "highest" else jax.lax.Precision.DEFAULT
tree_map = jax.tree_util.tree_map


def make_data(p, frac, seed):
    """All p^2 pairs shuffled, the first frac*p^2 for training (as in
    batched_torch.py): (m, n) indices, the one-hot targets (B, p) and the
    one-hot inputs [e_m e_n] (B, 2p)."""
    perm = np.random.default_rng(seed).permutation(p * p)
    idx = perm[:int(frac * p * p)]
    m_idx, n_idx = idx // p, idx % p
    eye = np.eye(p, dtype=np.float32)
    target = eye[(m_idx + n_idx) % p]
    x = np.concatenate([eye[m_idx], eye[n_idx]], axis=1)
    return (jnp.asarray(m_idx, dtype=jnp.int32), jnp.asarray(n_idx, dtype=jnp.int32),
            jnp.asarray(target), jnp.asarray(x))


def init_params(key, p, width):
    """One model's weights, float32, std 0.5 * (2N)^(-1/3)."""
    std = 0.5 * (2 * width) ** (-1.0 / 3.0)
    ku, kv, kw = jax.random.split(key, 3)
    return {"U": std * jax.random.normal(ku, (width, p), dtype=jnp.float32),
            "V": std * jax.random.normal(kv, (width, p), dtype=jnp.float32),
            "W": std * jax.random.normal(kw, (p, width), dtype=jnp.float32)}


def loss_fn(params, data):
    """MSE of one model against the one-hot targets, mean over B*p."""
    m_idx, n_idx, target, x = data
    U, V, W = params["U"], params["V"], params["W"]
    if args.embed == "gather":
        h = U.T[m_idx] + V.T[n_idx]                                              # (B, N)
    else:
        h = jnp.matmul(x, jnp.concatenate([U, V], axis=1).T, precision=PRECISION)  # (B, N)
    out = jnp.matmul(h * h, W.T, precision=PRECISION)                            # (B, p)
    return jnp.mean((out - target) ** 2)


# AdamW written by hand, torch.optim.AdamW's update: decay, moments, bias
# correction. The state is a step count and the two moments.
def hand_init(params):
    return {"t": jnp.zeros((), dtype=jnp.int32),
            "m": tree_map(jnp.zeros_like, params),
            "v": tree_map(jnp.zeros_like, params)}


def hand_update(grads, state, params):
    t = state["t"] + 1
    m = tree_map(lambda m, g: BETA1 * m + (1 - BETA1) * g, state["m"], grads)
    v = tree_map(lambda v, g: BETA2 * v + (1 - BETA2) * g * g, state["v"], grads)
    tf = t.astype(jnp.float32)
    step_size = LR / (1 - BETA1 ** tf)
    bc2_sqrt = jnp.sqrt(1 - BETA2 ** tf)
    params = tree_map(lambda w, m, v: w * (1 - LR * WD) - step_size * m / (jnp.sqrt(v) / bc2_sqrt + EPS),
                      params, m, v)
    return params, {"t": t, "m": m, "v": v}


if optax is not None:
    _opt = optax.adamw(learning_rate=LR, b1=BETA1, b2=BETA2, eps=EPS, weight_decay=WD)
    opt_init = _opt.init

    def opt_update(grads, state, params):
        updates, state = _opt.update(grads, state, params)
        return optax.apply_updates(params, updates), state
    OPTIMIZER = f"optax {getattr(optax, '__version__', '?')} adamw"
else:
    opt_init, opt_update = hand_init, hand_update
    OPTIMIZER = "hand-written AdamW"


def model_step(params, opt_state, data):
    """One training step of one model: a pure function."""
    loss, grads = jax.value_and_grad(loss_fn)(params, data)
    params, opt_state = opt_update(grads, opt_state, params)
    return params, opt_state, loss


# The population's step: every model's step at once, the data shared.
pop_step = jax.vmap(model_step, in_axes=(0, 0, None))


def train(params, opt_state, data):
    """args.steps population steps in one fori_loop; returns the new params,
    optimizer states and each model's loss of the last step."""
    def body(i, carry):
        params, opt_state, _ = carry
        return pop_step(params, opt_state, data)
    loss0 = jnp.zeros(params["U"].shape[:1], dtype=jnp.float32)
    return jax.lax.fori_loop(0, args.steps, body, (params, opt_state, loss0))


train_jit = jax.jit(train, donate_argnums=(0, 1))


def block(tree):
    """Wait until every array of tree is computed."""
    for leaf in jax.tree_util.tree_leaves(tree):
        leaf.block_until_ready()


def time_population(M, data):
    keys = jax.random.split(jax.random.PRNGKey(args.seed), M)
    params = jax.jit(jax.vmap(lambda k: init_params(k, args.p, args.width)))(keys)
    opt_state = jax.jit(jax.vmap(opt_init))(params)
    block((params, opt_state))

    t0 = time.perf_counter()
    params, opt_state, loss = train_jit(params, opt_state, data)   # compile + one loop
    block((params, opt_state, loss))
    first_s = time.perf_counter() - t0

    times = []
    for _ in range(args.reps):
        t0 = time.perf_counter()
        params, opt_state, loss = train_jit(params, opt_state, data)
        block((params, opt_state, loss))
        times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    return {"M": M, "oom": False, "compile_and_first_s": first_s,
            "median_loop_s": med, "min_loop_s": min(times),
            "ms_per_pop_step": 1e3 * med / args.steps,
            "ms_per_model_step": 1e3 * med / (args.steps * M),
            "model_steps_per_s": M * args.steps / med,
            "final_loss": float(jnp.mean(loss))}


def is_oom(e):
    """True for XLA's out-of-memory errors (at compile or run time)."""
    msg = str(e)
    return "RESOURCE_EXHAUSTED" in msg or "out of memory" in msg.lower()


def main():
    backend = jax.default_backend()
    devices = jax.devices()
    print(f"jax {jax.__version__}, backend {backend}, devices {devices}", file=sys.stderr)
    if args.require_gpu and backend == "cpu":
        print("jax_vmap.py: --require-gpu, but JAX's default backend is the CPU "
              "(no CUDA plugin, or no GPU visible)", file=sys.stderr)
        return 3

    data = make_data(args.p, args.frac, args.seed)
    common = {"bench": "jax_vmap", "jax": jax.__version__, "backend": backend,
              "device": str(devices[0]), "device_kind": getattr(devices[0], "device_kind", None),
              "optimizer": OPTIMIZER, "precision": args.precision, "embed": args.embed,
              "p": args.p, "N": args.width, "B": int(data[0].shape[0]),
              "steps": args.steps, "reps": args.reps}
    rows = []
    for M in [int(s) for s in args.pop.split(",")]:
        try:
            r = time_population(M, data)
            note = f"{r['model_steps_per_s']:.1f} model-steps/s"
        except Exception as e:   # XlaRuntimeError (RESOURCE_EXHAUSTED when out of memory)
            if is_oom(e):
                r, note = {"M": M, "oom": True}, "out of memory"
            else:
                traceback.print_exc()
                msg = str(e).strip().splitlines()
                r = {"M": M, "oom": False, "error": msg[0][:300] if msg else type(e).__name__}
                note = "ERROR " + r["error"]
        gc.collect()             # out of the except block: drop the failed M's arrays
        print(f"jax_vmap.py: M={M}: {note}", file=sys.stderr)
        rows.append(dict(common, **r))

    report(rows)
    return 1 if any("error" in r for r in rows) else 0


def report(rows):
    if args.json == "-":
        for r in rows:
            print(json.dumps(r))
        return
    if args.json:
        with open(args.json, "w") as f:
            for r in rows:
                f.write(json.dumps(r) + "\n")
    c = rows[0] if rows else {}
    print(f"jax vmap population, jax {jax.__version__}, {c.get('backend')} "
          f"{c.get('device_kind')}, {OPTIMIZER}, precision {args.precision}, "
          f"{args.embed} embeddings")
    print(f"  p={args.p} N={args.width} B={c.get('B')}, {args.steps} steps per loop "
          f"(lax.fori_loop under jit), median of {args.reps} timed loops, train step only")
    print(f"  {'M':>5} {'compile+1st s':>13} {'ms/pop-step':>11} {'ms/model-step':>13} "
          f"{'model-steps/s':>13}")
    for r in rows:
        if r["oom"] or "error" in r:
            print(f"  {r['M']:>5} {'OOM' if r['oom'] else 'ERROR':>13}")
            continue
        print(f"  {r['M']:>5} {r['compile_and_first_s']:>13.2f} {r['ms_per_pop_step']:>11.3f} "
              f"{r['ms_per_model_step']:>13.4f} {r['model_steps_per_s']:>13.1f}")


if __name__ == "__main__":
    sys.exit(main())
