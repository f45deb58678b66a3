"""han17's weight sweep as one program: w_E in {0, 0.1, ..., 2} (21 models) trained by
``jax.vmap`` over the weight and the key, against 21 sequential runs of the same models.

Same shapes for both (``--batch`` sequences of ``--frames`` 100 ms frames of ``--features``
functionals, BLSTM 2 x ``--hidden`` as han17 Sec. 4.3, Adam), same number of steps;
compile time excluded (one warm-up step each). Prints JSON: seconds per step of the sweep
and of the 21 sequential models, and their ratio (target: the sweep at least 5x faster on
2 CPU cores). The ratio is measured in one run, so shared machines do not skew it.

    python benchmarks/han17_sweep.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from seru import losses  # noqa: E402
from seru.models.blstm import BLSTMRegressor  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--frames", type=int, default=600, help="100 ms frames per sequence")
    ap.add_argument("--features", type=int, default=130)
    ap.add_argument("--hidden", type=int, default=240)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="hidden 64, 200 frames, 2 steps")
    args = ap.parse_args()
    if args.quick:
        args.hidden, args.frames, args.steps = 64, 200, 2
    weights = jnp.round(jnp.arange(21) * 0.1, 1)
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.normal(size=(args.batch, args.frames, args.features)), jnp.float32)
    y_e = jnp.asarray(rng.normal(size=(args.batch, args.frames)), jnp.float32)
    y_s = jnp.asarray(rng.uniform(size=(args.batch, args.frames)), jnp.float32)
    model = BLSTMRegressor(out_features=2, hidden=args.hidden)
    tx = optax.adam(1e-3)

    def loss(params, w_e, key):
        out = model.apply(params, x, noise_key=key)
        return losses.weighted_mse(out[..., 0], y_e, out[..., 1], y_s, w_e)

    @jax.jit
    def one_step(params, opt, w_e, key):
        g = jax.grad(loss)(params, w_e, key)
        upd, opt = tx.update(g, opt, params)
        return optax.apply_updates(params, upd), opt

    @jax.jit
    def sweep_step(params, opt, keys):
        g = jax.grad(lambda p: jnp.sum(jax.vmap(loss)(p, weights, keys)))(params)
        upd, opt = jax.vmap(tx.update)(g, opt, params)
        return optax.apply_updates(params, upd), opt

    keys = jax.random.split(jax.random.key(0), 21)
    # the sweep: one program over the 21 weightings
    params = jax.vmap(lambda k: model.init({"params": k}, x))(keys)
    opt = jax.vmap(tx.init)(params)
    params, opt = jax.block_until_ready(sweep_step(params, opt, keys))  # compile + warm-up
    t = time.perf_counter()
    for _ in range(args.steps):
        params, opt = sweep_step(params, opt, keys)
    jax.block_until_ready(params)
    sweep_s = (time.perf_counter() - t) / args.steps
    # 21 sequential models, the same steps each
    singles = [model.init({"params": k}, x) for k in keys]
    opts = [tx.init(p) for p in singles]
    singles[0], opts[0] = jax.block_until_ready(one_step(singles[0], opts[0], weights[0],
                                                         keys[0]))  # compile + warm-up
    t = time.perf_counter()
    for _ in range(args.steps):
        for m in range(21):
            singles[m], opts[m] = one_step(singles[m], opts[m], weights[m], keys[m])
    jax.block_until_ready(singles)
    seq_s = (time.perf_counter() - t) / args.steps
    print(json.dumps({"models": 21, "batch": args.batch, "frames": args.frames,
                      "features": args.features, "hidden": args.hidden, "steps": args.steps,
                      "sweep_s_per_step": round(sweep_s, 4),
                      "sequential_s_per_step": round(seq_s, 4),
                      "speedup": round(seq_s / sweep_s, 2), "devices": jax.device_count()}))


if __name__ == "__main__":
    main()
