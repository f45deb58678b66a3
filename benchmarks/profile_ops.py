"""Where a step's time goes: XLA's own operations, summed over a few runs; prints JSON.

Runs one jitted step under ``jax.profiler`` (compilation and a warm-up excluded),
reads the trace it writes (``*.trace.json.gz``, Chrome trace events) and sums the
duration of every event by name: the fusions, products (``ynn_fusion``: a product or
elementwise work run by YNNPACK), loops and copies of the compiled program, per run.
On 2 cores two independent operations can run at once, so the sum can exceed the
wall time. The names are those of the compiled HLO: pass ``--hlo FILE`` to write it
and look an operation up there (``%name = ... fusion(...), calls=...``).

Steps (prabhu22 as ``benchmarks/vs_authors.py`` builds it: the paper's sizes,
dropout 0.5, its batch of 5 x 300 frames):

* ``train``: prabhu22's gradient (variant lu, sampler ``--sampler``, n = 30);
* ``eval``: prabhu22's MC prediction (eval sampler ``--sampler``, n = ``--n``);
* ``vae_er`` / ``mcd``: sridhar21's prediction of 256 utterances of 6,373 features,
  100 samples.

    python benchmarks/profile_ops.py train --top 25
    python benchmarks/profile_ops.py eval --sampler faithful --hlo /tmp/faithful.txt
"""

from __future__ import annotations

import argparse
import collections
import glob
import gzip
import json
import os
import sys
import tempfile

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from seru.config import defaults, model_defaults  # noqa: E402


def _prabhu22_step(what: str, sampler: str, n: int):
    from vs_authors import BATCH, FRAMES, _batch, seru_system

    system = seru_system(sampler, sampler)
    batch = _batch(system, BATCH, FRAMES)
    params = system.init(jax.random.key(0), batch)
    if what == "train":
        fn = jax.jit(jax.grad(lambda p, k: system.loss(p, batch, k)[0]))
        return fn, (params, jax.random.key(1))
    audio = {"audio": batch["audio"]}
    return jax.jit(lambda p, k: system.predict(p, audio, k, n)), (params, jax.random.key(1))


def _sridhar21_step(method: str):
    from seru.systems.sridhar21 import Sridhar21

    c = defaults()
    c.system = "sridhar21"
    c.model = model_defaults("sridhar21")
    c.model.method = method
    system = Sridhar21(c)
    x = jnp.asarray(np.random.default_rng(0).normal(size=(256, 6373)), jnp.float32)
    params = system.init(jax.random.key(0), {"features": x})
    return (jax.jit(lambda p, k: system.predict(p, {"features": x}, k, 100)),
            (params, jax.random.key(1)))


def profile(fn, args, runs: int) -> dict[str, dict]:
    """``{op name: {"ms": mean ms per run, "count": calls per run}}`` of ``fn(*args)``."""
    jax.block_until_ready(fn(*args))
    jax.block_until_ready(fn(*args))
    with tempfile.TemporaryDirectory() as tmp:
        jax.profiler.start_trace(tmp)
        for _ in range(runs):
            jax.block_until_ready(fn(*args))
        jax.profiler.stop_trace()
        traces = glob.glob(os.path.join(tmp, "plugins", "profile", "*", "*.trace.json.gz"))
        if not traces:
            raise RuntimeError(f"jax.profiler wrote no *.trace.json.gz under {tmp}")
        with gzip.open(traces[0]) as f:
            events = json.load(f)["traceEvents"]
    total, count = collections.Counter(), collections.Counter()
    for e in events:
        if e.get("ph") == "X":
            total[e["name"]] += e["dur"]
            count[e["name"]] += 1
    return {name: {"ms": round(us / runs / 1e3, 3), "count": round(count[name] / runs, 1)}
            for name, us in total.most_common()}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("step", choices=("train", "eval", "vae_er", "mcd"))
    ap.add_argument("--sampler", default="local_pass", help="prabhu22's head sampler")
    ap.add_argument("--n", type=int, default=30, help="MC passes of 'eval'")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--top", type=int, default=30, help="operations to print")
    ap.add_argument("--hlo", help="also write the compiled HLO (text) here")
    args = ap.parse_args(argv)
    if args.step in ("train", "eval"):
        fn, fargs = _prabhu22_step(args.step, args.sampler, args.n)
    else:
        fn, fargs = _sridhar21_step(args.step)
    if args.hlo:
        with open(args.hlo, "w") as f:
            f.write(fn.lower(*fargs).compile().as_text())
    ops = profile(fn, fargs, args.runs)
    out = {"step": args.step, "sampler": args.sampler, "runs": args.runs,
           "ops": dict(list(ops.items())[:args.top])}
    print(json.dumps(out, indent=1))
    return out


if __name__ == "__main__":
    main()
