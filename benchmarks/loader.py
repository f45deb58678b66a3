"""Does reading training batches ahead pay? grain threads and worker processes, measured.

For each config (the quickstart: prabhu22 on log-mel frames; prabhu22 with the paper's conv
front end on raw audio, quickstart sizes otherwise; sridhar21's functionals), the seconds of
``--steps`` jitted training steps fed by ``seru.data.loader`` with

* ``threads=0``: each batch built in the training loop's thread;
* ``threads=1`` / ``2``: built ahead by grain threads (``data.loader_threads``);
* ``processes=1`` / ``2``: grain worker processes (``IterDataset.mp_prefetch``), or the
  reason they could not start;

and the seconds of building the same batches alone (no training). Variants alternate,
``--reps`` times; medians. Prints JSON (``--out FILE`` also writes it).

Usage::

    python benchmarks/loader.py [--steps 60] [--reps 3] [--out benchmarks/results/loader.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

CONFIGS = {
    "quickstart (prabhu22, log-mel)": ("configs/quickstart.py", {}),
    "prabhu22 conv on raw audio": ("configs/quickstart.py", {"model.frontend": "conv"}),
    "sridhar21 functionals": ("configs/sridhar21_vae.py", {}),
}


def _config(path, overrides):
    from seru import config as config_lib
    c = config_lib.load_file(path)
    for k, v in overrides.items():
        node = c
        *parents, leaf = k.split(".")
        for p in parents:
            node = node[p]
        node[leaf] = v
    return c


def _iterator(ds, seed, steps, variant):
    import grain
    from seru.data import loader
    kind, n = variant
    if kind == "threads":
        return loader.train_iterator(ds, seed, steps, threads=n)
    return iter(loader.train_batches(ds, seed, steps).to_iter_dataset().mp_prefetch(
        grain.MultiprocessingOptions(num_workers=n)))


def measure(path, overrides, steps, reps):
    import jax
    from seru import config as config_lib, sharding, trainer
    from seru.data import inputs
    cfg = _config(path, overrides)
    ds = inputs.get(cfg.data.input).build(cfg, None, 0, 1)
    system = config_lib.get_system(cfg, ds.time_base)
    tx = sharding.make_optimizer(cfg.optimizer)
    mesh = sharding.make_mesh()
    data_sh, repl = sharding.data_sharding(mesh), sharding.replicated(mesh)
    state = sharding.init_state(system, tx, jax.random.key(0),
                                sharding.to_global(ds.example_batch(), data_sh), mesh)
    step_fn = trainer.make_train_step(system, tx, repl)
    variants = [("threads", 0), ("threads", 1), ("threads", 2), ("processes", 1),
                ("processes", 2)]
    times = {f"{k}={n}": [] for k, n in variants}
    errors = {}
    build = []
    for rep in range(reps + 1):  # rep 0 compiles and warms up
        t = time.perf_counter()
        for _ in _iterator(ds, rep, steps, ("threads", 0)):
            pass
        if rep:
            build.append(time.perf_counter() - t)
        for v in variants:
            name = f"{v[0]}={v[1]}"
            if name in errors:
                continue
            try:
                it = _iterator(ds, rep, steps, v)
                t = time.perf_counter()
                for i, batch in enumerate(it):
                    state, m = step_fn(state, sharding.to_global(batch, data_sh),
                                       jax.random.key(i))
                jax.block_until_ready(m["loss"])
                if rep:
                    times[name].append(time.perf_counter() - t)
            except Exception as e:  # a variant that cannot run here: recorded
                errors[name] = f"{type(e).__name__}: {str(e)[:300]}"
    out = {"steps": steps, "batch_build_s": statistics.median(build),
           "train_s": {k: statistics.median(v) for k, v in times.items() if v},
           "errors": errors}
    base = out["train_s"]["threads=0"]
    out["speedup_vs_threads0"] = {k: base / v for k, v in out["train_s"].items()}
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    from absl import flags
    flags.FLAGS.mark_as_parsed()  # grain's worker processes read absl flags (seru.train parses them)
    import jax
    result = {"benchmark": "loader", "jax": jax.__version__, "cpus": os.cpu_count(),
              "configs": {}}
    for name, (path, overrides) in CONFIGS.items():
        result["configs"][name] = measure(os.path.join(ROOT, path), overrides, args.steps,
                                          args.reps)
        print(f"[loader] {name} done", file=sys.stderr)
    text = json.dumps(result, indent=1)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
