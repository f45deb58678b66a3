"""han17's weight sweep as one program against the same models trained one after another.

The system as it trains (``seru.systems.han17`` with ``configs/han17_blstm.py``'s CPU
protocol: BLSTM 2 x 240, Adam, batches of 4 x 300 frames of 118 functionals, the trainer's
own jitted step ``seru.trainer.make_train_step``), for K weightings w_E:

* ``sweep_vmap`` -- ``task=sweep, sweep_program=vmap``: one step updates the K members;
* ``sweep_unroll`` -- ``task=sweep, sweep_program=unroll``: the same, members written out;
* ``sequential`` -- K ``task=mtl`` models, one step each (what K separate runs compute).

Seconds per step of the K models, compile excluded (timed separately), measured in
interleaved rounds (each round times the three once) and reported as medians, so that a
shared machine's drift hits them alike. Prints JSON; the issue's target is a sweep at least
5x faster than the sequential models on 2 CPU cores.

    python benchmarks/han17_sweep.py [--members 21] [--rounds 3] [--steps 2]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import jax
import numpy as np
import optax

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from seru import config as config_lib  # noqa: E402
from seru import sharding, trainer  # noqa: E402
from seru.systems.han17 import Han17  # noqa: E402


def _config(task, weights, program, hidden):
    c = config_lib.load_file(f"configs/han17_blstm.py:task={task}")
    c.model.hidden = hidden
    c.model.sweep_w_e, c.model.sweep_program = tuple(weights), program
    return c


def _batch(args, seed=0):
    r = np.random.default_rng(seed)
    d = 2
    return {"features": r.normal(size=(args.batch, args.frames, args.features)).astype(np.float32),
            "gold": r.normal(size=(args.batch, args.frames, d)).astype(np.float32),
            "std": r.uniform(size=(args.batch, args.frames, d)).astype(np.float32),
            "mask": np.ones((args.batch, args.frames), np.float32)}


class Runner:
    """One model set (a sweep, or the K single models) with its state and jitted step."""

    def __init__(self, systems, batch, lr):
        mesh = sharding.make_mesh()
        tx = optax.adam(lr)
        self.steps = [trainer.make_train_step(s, tx, sharding.replicated(mesh)) for s in systems]
        self.states = [sharding.init_state(s, tx, jax.random.key(0), batch, mesh)
                       for s in systems]
        self.batch, self.i = batch, 0
        t = time.perf_counter()
        self.run(1)  # compile (one program: the K single models share shapes)
        self.compile_s = time.perf_counter() - t

    def run(self, steps):
        t = time.perf_counter()
        for _ in range(steps):
            key = jax.random.key(self.i)
            self.i += 1
            for m, step in enumerate(self.steps):
                self.states[m], _ = step(self.states[m], self.batch, key)
        jax.block_until_ready(self.states)
        return (time.perf_counter() - t) / steps


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--members", type=int, default=21, help="K: w_E = linspace(0, 2, K)")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--frames", type=int, default=300, help="100 ms frames per sequence")
    ap.add_argument("--features", type=int, default=118)
    ap.add_argument("--hidden", type=int, default=240)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=2, help="timed steps per round and runner")
    args = ap.parse_args()
    weights = [round(float(w), 3) for w in np.linspace(0.0, 2.0, args.members)]
    batch = _batch(args)
    runners = {
        "sweep_vmap": Runner([Han17(_config("sweep", weights, "vmap", args.hidden))], batch,
                             1e-3),
        "sweep_unroll": Runner([Han17(_config("sweep", weights, "unroll", args.hidden))],
                               batch, 1e-3),
        "sequential": Runner([_single(w, args.hidden) for w in weights], batch, 1e-3),
    }
    times = {k: [] for k in runners}
    for _ in range(args.rounds):
        for name, r in runners.items():
            times[name].append(r.run(args.steps))
    med = {k: float(np.median(v)) for k, v in times.items()}
    print(json.dumps({
        "members": args.members, "batch": args.batch, "frames": args.frames,
        "features": args.features, "hidden": args.hidden, "rounds": args.rounds,
        "steps_per_round": args.steps, "devices": jax.device_count(),
        "s_per_step": {k: round(v, 4) for k, v in med.items()},
        "s_per_step_rounds": {k: [round(x, 4) for x in v] for k, v in times.items()},
        "compile_s": {k: round(r.compile_s, 2) for k, r in runners.items()},
        "speedup_vs_sequential": {k: round(med["sequential"] / med[k], 2)
                                  for k in ("sweep_vmap", "sweep_unroll")}}))


def _single(w_e, hidden):
    c = _config("mtl", (w_e,), "vmap", hidden)
    c.model.w_e = w_e
    return Han17(c)


if __name__ == "__main__":
    main()
