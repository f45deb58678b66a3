"""Benchmark of prabhu22's Monte Carlo evaluation and training step on CPU; prints JSON.

Measures, for every head sampler (``seru.models.bbb_ser.SAMPLERS``: ``faithful``, the
authors' per-(sequence, window) weight draws; ``batch_shared``; ``local``; ``local_window``;
``local_pass``, the default):

* ``throughput``: frames/s of MC evaluation (trunk + posterior-mean pass +
  n sampled passes) at n = 1, 10, 30, 100 for

  - ``vectorised``: seru's path (``Prabhu22.predict``): trunk once, the
    (pass x window) grid vmapped and chunked (``seru/mc.py``);
  - ``naive``: the whole network (trunk + head) re-run n times from Python,
    one jitted pass per call (the authors' way, minus their window loop);

  each sampler in a fresh process, as an evaluation job runs one. On this host
  the n = 30 time of ``local_pass`` falls into one of two modes from run to run
  (about 58 or 71-74 ms), depending on whether glibc serves its fresh buffers by
  mmap; with ``MALLOC_MMAP_THRESHOLD_`` and ``MALLOC_TRIM_THRESHOLD_`` fixed it
  stays in the fast one (``benchmarks/results/mc_eval_local_pass_repeats.json``);

* ``peak_rss``: peak resident memory (``VmHWM``, in a fresh subprocess per
  sampler) of the vectorised evaluation of a 300 s recording (7,500 frames) at
  n = 30; the parameters are made as the evaluation job makes them (shapes from
  ``jax.eval_shape``, values filled in, as a checkpoint restore does), so no
  initialisation program is compiled;
* ``train_step``: seconds per jitted Adam step, batch 5 x 300 frames, variant
  ``lu`` with n = ``num_samples_train`` passes (paper: 30), and ``mu`` with n = 1.

Targets: n = 30 at most 1.5x the cost of n = 1 (conv trunk); vectorised at
least 20x the naive loop at n = 30; 300 s at n = 30 at most 512 MB peak RSS.
The comparison with the authors' PyTorch model is ``benchmarks/vs_authors.py``.

Usage::

    python benchmarks/mc_eval.py            # ~15-25 min on 2 idle CPU cores
    python benchmarks/mc_eval.py --quick    # shorter recordings, fewer reps
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from _memory import restored_like, vm_hwm_kb  # noqa: E402
from seru import mc  # noqa: E402
from seru.config import defaults, model_defaults  # noqa: E402
from seru.models import bbb_ser  # noqa: E402
from seru.systems.prabhu22 import Prabhu22  # noqa: E402

SAMPLERS = bbb_ser.SAMPLERS
FRAME = 640
FRONTEND = "conv"  # the trunk's front end (--frontend): the paper's conv stack or log-mel


def make_system(sampler, variant="lu", num_samples_train=30, mc_chunk=None):
    c = defaults()
    c.model = model_defaults("prabhu22")
    c.model.update(variant=variant, sampler=sampler, num_samples_train=num_samples_train,
                   eval_sampler=sampler,  # each row measures its own sampler
                   frontend=FRONTEND)
    if mc_chunk is not None:
        c.model.mc_chunk = mc_chunk
    return Prabhu22(c)


def _timeit(fn, reps):
    jax.block_until_ready(fn())  # compile + warm-up
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def throughput(sampler, frames, ns, naive_ns, reps):
    system = make_system(sampler)
    audio = jnp.asarray(np.random.default_rng(0).normal(size=(1, frames * FRAME)), jnp.float32)
    batch = {"audio": audio}
    params = system.init(jax.random.key(0), batch)
    key = jax.random.key(1)
    out = {"frames": frames, "vectorised": {}, "naive": {}}
    for n in ns:
        pred = jax.jit(lambda p, b, k, n=n: system.predict(p, b, k, n))
        sec = _timeit(lambda: pred(params, batch, key)["s_hat"], reps)
        out["vectorised"][str(n)] = {"seconds": sec, "frames_per_s": frames / sec}

    model = system.model
    window = system.config.model.window

    @jax.jit
    def one_pass(p, a, k):
        """The whole network once: trunk + one sampled head pass."""
        feats = model.apply(p, a, method="trunk")
        prepare = lambda f: model.apply(p, f, method="head_prepare")
        win = lambda c, kk: model.apply(p, c, kk, method="head_window")
        ys, _ = mc.sample_passes(win, prepare(feats), k, 1, window)
        return ys[0]

    mean_pass = jax.jit(lambda p, a: model.apply(p, a))

    def naive(n):
        keys = jax.random.split(key, n)
        m_hat = mean_pass(params, audio)
        ys = [one_pass(params, audio, keys[i]) for i in range(n)]
        return m_hat, mc.sample_std(jnp.stack(ys))

    for n in naive_ns:
        sec = _timeit(lambda n=n: naive(n), max(1, reps if n <= 10 else 1))
        out["naive"][str(n)] = {"seconds": sec, "frames_per_s": frames / sec}
    v = out["vectorised"]
    if "1" in v and "30" in v:
        out["cost_ratio_n30_vs_n1"] = v["30"]["seconds"] / v["1"]["seconds"]
    if "30" in v and "30" in out["naive"]:
        out["speedup_vs_naive_n30"] = out["naive"]["30"]["seconds"] / v["30"]["seconds"]
    return out


def rss_child(sampler, frames, n, chunk):
    """Runs in a subprocess: peak RSS of one vectorised evaluation."""
    system = make_system(sampler, mc_chunk=chunk)
    audio = jnp.asarray(np.random.default_rng(0).normal(size=(1, frames * FRAME)), jnp.float32)
    batch = {"audio": audio}
    params = restored_like(system, {"audio": audio[:, :25 * FRAME]})
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    from seru import evaluation, sharding

    pred = evaluation.make_predict_fn(system, n, sharding.make_mesh())  # as the evaluation job
    t = time.perf_counter()
    jax.block_until_ready(pred(params, batch, jax.random.key(1)))
    first = time.perf_counter() - t
    t = time.perf_counter()
    jax.block_until_ready(pred(params, batch, jax.random.key(2)))
    sec = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    hwm = vm_hwm_kb()
    # On Linux ru_maxrss of an exec'd child starts at the parent's RSS at fork
    # time (the old mm's high-water mark is carried over), so VmHWM of this
    # process's own address space is the number to trust when available.
    print(json.dumps({"peak_rss_mb": (hwm if hwm is not None else peak) / 1024,
                      "ru_maxrss_mb": peak / 1024, "ru_maxrss_before_predict_mb": before / 1024,
                      "seconds": sec, "seconds_with_compile": first,
                      "frames_per_s": frames / sec}))


def _child(*args):
    """This script in a fresh process with ``args``: its last JSON line, or ``{"error": ...}``."""
    cmd = [sys.executable, os.path.abspath(__file__), "--frontend", FRONTEND, *map(str, args)]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        return {"error": res.stderr[-2000:]}
    return json.loads(res.stdout.strip().splitlines()[-1])


def peak_rss(sampler, frames, n, chunk):
    out = _child("--rss-child", sampler, frames, n, chunk)
    if "error" not in out:
        out.update(frames=frames, num_samples=n, mc_chunk=chunk,
                   at_most_512mb=out["peak_rss_mb"] <= 512)
    return out


def train_step(sampler, variant, n, reps, batch_size=5, frames=300):
    system = make_system(sampler, variant=variant, num_samples_train=n)
    rng = np.random.default_rng(0)
    batch = {
        "audio": jnp.asarray(rng.normal(size=(batch_size, frames * FRAME)), jnp.float32),
        "gold": jnp.asarray(0.3 * rng.normal(size=(batch_size, frames, 1)), jnp.float32),
        "std": jnp.asarray(0.2 + 0.05 * rng.random((batch_size, frames, 1)), jnp.float32),
        "num_raters": jnp.full((batch_size, frames, 1), 6.0),
        "mask": jnp.ones((batch_size, frames)),
    }
    params = system.init(jax.random.key(0), batch)
    opt = optax.adam(1e-4)
    state = opt.init(params)

    @jax.jit
    def step(p, s, k):
        (loss, _), g = jax.value_and_grad(system.loss, has_aux=True)(p, batch, k)
        u, s = opt.update(g, s, p)
        return optax.apply_updates(p, u), s, loss

    sec = _timeit(lambda: step(params, state, jax.random.key(1))[2], reps)
    return {"variant": variant, "num_samples_train": n, "batch": [batch_size, frames],
            "seconds_per_step": sec, "frames_per_s": batch_size * frames / sec}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="shorter recordings, fewer repetitions")
    ap.add_argument("--samplers", default=",".join(SAMPLERS))
    ap.add_argument("--sections", default="throughput,rss,train",
                    help="comma-separated subset of throughput,rss,train")
    ap.add_argument("--frontend", default="conv", choices=("conv", "logmel"),
                    help="the trunk's front end (model.frontend); the paper's is conv")
    ap.add_argument("--rss-child", nargs=4, metavar=("SAMPLER", "FRAMES", "N", "CHUNK"),
                    help=argparse.SUPPRESS)
    ap.add_argument("--throughput-child", metavar="SAMPLER", help=argparse.SUPPRESS)
    args = ap.parse_args()
    global FRONTEND
    FRONTEND = args.frontend
    if args.rss_child:
        s, f, n, c = args.rss_child
        rss_child(s, int(f), int(n), int(c))
        return
    frames = 250 if args.quick else 750
    reps = 1 if args.quick else 3
    ns = (1, 10, 30, 100)
    naive_ns = (1, 10, 30) if args.quick else (1, 10, 30, 100)
    if args.throughput_child:
        print(json.dumps(throughput(args.throughput_child, frames, ns, naive_ns, reps)))
        return
    samplers = args.samplers.split(",")
    result = {
        "benchmark": "mc_eval",
        "mode": "quick" if args.quick else "full",
        "frontend": FRONTEND,
        "host": {"platform": platform.platform(), "cpus": os.cpu_count(),
                 "jax": jax.__version__, "backend": jax.default_backend(),
                 "loadavg_start": os.getloadavg()},
        "throughput": {}, "peak_rss": {}, "train_step": {},
    }
    sections = args.sections.split(",")
    t0 = time.time()
    if "throughput" in sections:
        for s in samplers:  # each in a fresh process, as an evaluation job runs one sampler
            result["throughput"][s] = _child("--throughput-child", s,
                                             *(["--quick"] if args.quick else []))
            print(f"[mc_eval] throughput {s} done at {time.time() - t0:.0f}s", file=sys.stderr)
    if "rss" in sections:
        for s in samplers:
            result["peak_rss"][s] = peak_rss(s, 7500, 30, model_defaults("prabhu22").mc_chunk)
            print(f"[mc_eval] peak_rss {s} done at {time.time() - t0:.0f}s", file=sys.stderr)
    if "train" in sections:
        for s in samplers:
            result["train_step"][f"{s}/lu/n30"] = train_step(s, "lu", 30, reps)
            print(f"[mc_eval] train {s} done at {time.time() - t0:.0f}s", file=sys.stderr)
        default = model_defaults("prabhu22").sampler
        result["train_step"][f"{default}/mu/n1"] = train_step(default, "mu", 1, reps)
    result["host"]["loadavg_end"] = os.getloadavg()
    result["wall_seconds"] = time.time() - t0
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
