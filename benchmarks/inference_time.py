"""Inference time of sridhar21's VAE-ER (100 latent samples) against the MC-dropout baselines.

sridhar21 Sec. V-F: on the MSP-Podcast test set (10,124 utterances, 6,373-d
ComParE features) the proposed model took 11.39 s against 19.86 s for MCD,
21.26 s for MCD soft, 26.32 s for MCD MTL and 41.38 s for AE-MCD. The claim is
structural (trunk once, heads many): the VAE's encoder runs once per batch and
only the latent draw + the small ER are vmapped over the 100 samples, while
MC dropout runs the whole network 100 times.

This script times ``Sridhar21.predict`` (the path the evaluation job uses) of
every method, with the paper's layer sizes, on random inputs of the paper's
width (the time does not depend on the values), in one process, and prints
JSON: seconds per method (median of ``--trials`` passes over the whole
"test split", compile time excluded) and the ratio to the proposed model.

    python benchmarks/inference_time.py                      # CPU: 2,000 utterances
    python benchmarks/inference_time.py --utterances 10124   # the paper's test-set size

Measured (2 CPU cores, quiet; 2,000 utterances, batch 256, 100 samples, median of 5;
two rounds alternating with the code before ``seru.sampling``, commit 4033d28;
``benchmarks/results/inference_time.json``): vae_er 0.185 / 0.179 s against 0.617 /
0.632 s before (3.3x / 3.5x faster), mcd 0.072 s (before 0.68 / 0.67 s), mcd_soft
0.076 / 0.077, mcd_mtl 0.076 / 0.077, ae_mcd 0.54 / 0.48 s, vae_er_projected 0.56 s.
The VAE-ER draws its 100 latent samples 20 at a time (``model.mc_chunk``): one chunk's
latents stay in cache for the ER's first product, where all 100 (26 MB a batch) did
not. So on this CPU the MC-dropout baselines MCD, MCD-soft and MCD-MTL are about 2.4x
FASTER than the VAE-ER, the reverse of the paper (GPU: 1.74x, 1.87x, 2.31x slower);
only AE-MCD (2.7-2.9x slower) keeps the paper's order. Why: their first layer (6,373 ->
128, the bulk of their FLOPs) is computed once for all passes (exact: dropout follows
it), so a pass is three 128-wide layers and dropout masks, which ``seru.sampling``
cuts from single random bits (p = 0.5); a VAE-ER pass needs 256 latent normals and a
256 -> 128 layer first, twice the work of an MCD pass whatever the implementation. The
paper's ordering is that of running the whole MCD network in every pass. The VAE-ER's
remaining time is its 51 M latent normals (Box-Muller on Threefry) and the ER's 27
GFLOP of tanh layers. ``vae_er_projected`` (``model.latent_sampler='projected'``: the
ER's first pre-activation drawn through a per-utterance Cholesky factor, 128 instead of
256 normals per sample) stays slower on this CPU: the covariance and the Cholesky cost
more than the normals they save, and the per-utterance factor turns a shared GEMM into
a batched product. Kept as an option for accelerators (not measured: no GPU here).
"""

from __future__ import annotations

import argparse
import json
import time

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from seru.config import defaults, model_defaults
from seru.systems import sridhar21 as S


def _config(method: str) -> ml_collections.ConfigDict:
    """``vae_er_projected``: vae_er with the projected latent sampler."""
    c = defaults()
    c.system = "sridhar21"
    c.model = model_defaults("sridhar21")
    c.model.method = "vae_er" if method == "vae_er_projected" else method
    if method == "vae_er_projected":
        c.model.latent_sampler = "projected"
    return c


def time_method(method: str, x: np.ndarray, batch: int, num_samples: int, trials: int):
    system = S.Sridhar21(_config(method))
    example = {"features": jnp.asarray(x[:batch])}
    params = system.init(jax.random.key(0), example)
    fn = jax.jit(lambda p, f, r: system.predict(p, {"features": f}, r, num_samples))
    batches = [jnp.asarray(x[i:i + batch]) for i in range(0, len(x), batch)]
    if len(batches[-1]) != batch:  # pad the last batch: one compiled shape
        pad = batch - len(batches[-1])
        batches[-1] = jnp.pad(batches[-1], ((0, pad), (0, 0)))
    jax.block_until_ready(fn(params, batches[0], jax.random.key(1)))  # compile
    times = []
    for t in range(trials):
        t0 = time.perf_counter()
        for i, f in enumerate(batches):
            out = fn(params, f, jax.random.fold_in(jax.random.key(t), i))
        jax.block_until_ready(out)
        times.append(time.perf_counter() - t0)
    nparams = sum(int(np.prod(a.shape)) for a in jax.tree.leaves(params))
    return float(np.median(times)), nparams


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--utterances", type=int, default=2000)
    ap.add_argument("--input_dim", type=int, default=6373)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--num_samples", type=int, default=100)
    ap.add_argument("--trials", type=int, default=3)
    ap.add_argument("--methods", default="vae_er,vae_er_projected,mcd,mcd_soft,mcd_mtl,ae_mcd")
    args = ap.parse_args(argv)
    x = np.random.default_rng(0).normal(size=(args.utterances, args.input_dim)).astype(np.float32)
    methods = args.methods.split(",")
    result = {"device": jax.devices()[0].device_kind, "platform": jax.default_backend(),
              "utterances": args.utterances, "input_dim": args.input_dim,
              "batch": args.batch, "num_samples": args.num_samples, "trials": args.trials,
              "seconds": {}, "num_params": {}, "ratio_to_vae_er": {},
              "paper_seconds": {"vae_er": 11.39, "mcd": 19.86, "mcd_soft": 21.26,
                                "mcd_mtl": 26.32, "ae_mcd": 41.38}}
    for m in methods:
        sec, n = time_method(m, x, args.batch, args.num_samples, args.trials)
        result["seconds"][m] = round(sec, 4)
        result["num_params"][m] = n
    if "vae_er" in result["seconds"]:
        base = result["seconds"]["vae_er"]
        result["ratio_to_vae_er"] = {m: round(s / base, 3) for m, s in result["seconds"].items()}
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
