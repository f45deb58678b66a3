"""Can a trunk learn the raters' spread from the audio at all? The spread as the ONLY target.

A diagnosis, not a system: prabhu22's trunk (a front end + 2 LSTM layers,
``seru.models.extractors.Extractor``) with a small dense head and a softplus
output is trained on the raters' unbiased std ``s`` alone (MSE, Adam), on
random crops of the training recordings exactly as the trainer draws them
(``seru.data.pipeline``), and scored by the Pearson r between predicted and
raters' std per recording, on the training and the test recordings (the first
5 s of each left out). Compare the front ends (``--frontend conv`` is the
paper's conv stack on raw audio, ``logmel`` per-frame log-mel energies): if a
front end cannot learn ``s`` even as the only target, no multi-task model
built on it will predict it.

    python benchmarks/spread_trunk.py --frontend conv --steps 600
    python benchmarks/spread_trunk.py --frontend logmel --steps 600

Defaults: the ``full`` synthetic corpus with 4 recordings per split (the
probe's setting), recordings standardised, crops of 100 frames, batch 5,
LSTM 64, Adam 1e-3, no dropout. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--frontend", default="conv", choices=("conv", "logmel"))
    ap.add_argument("--compress", default="log", choices=("none", "log"),
                    help="conv front end only: log(eps + x) of its output")
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--max_recordings", type=int, default=4)
    ap.add_argument("--variant", default="full")
    ap.add_argument("--lstm", type=int, default=64)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    import flax.linen as nn
    import jax
    import jax.numpy as jnp
    import optax

    from seru import config as config_lib
    from seru.data import pipeline
    from seru.models.extractors import Extractor

    t0 = time.time()
    config = config_lib.defaults()  # the shared defaults, then the probe's data settings
    config.data.update(corpus="seru_synth_continuous", variant=args.variant,
                       dimensions=("arousal",), audio_norm="recording", seq_len=100,
                       batch_size=5, max_recordings=args.max_recordings)
    recs = pipeline.load_recordings(config, ["train", "test"])
    ds = pipeline.from_recordings(recs, config)

    class SpreadOnly(nn.Module):
        @nn.compact
        def __call__(self, audio):
            h = Extractor(lstm_size=args.lstm, dropout=0.0, frontend=args.frontend,
                          compress=args.compress)(audio)
            return jax.nn.softplus(nn.Dense(1)(nn.relu(nn.Dense(32)(h))))[..., 0]

    model = SpreadOnly()
    params = model.init(jax.random.key(args.seed), jnp.asarray(ds.example_batch()["audio"]))
    tx = optax.adam(args.lr)
    opt = tx.init(params)

    @jax.jit
    def step(params, opt, audio, s):
        loss, g = jax.value_and_grad(lambda p: jnp.mean(jnp.square(model.apply(p, audio) - s)))(
            params)
        updates, opt = tx.update(g, opt)
        return optax.apply_updates(params, updates), opt, loss

    losses, done, epoch = [], 0, 0
    while done < args.steps:
        for batch in ds.train_iter(args.seed, epoch):
            params, opt, loss = step(params, opt, jnp.asarray(batch["audio"]),
                                     jnp.asarray(batch["std"][..., 0]))
            losses.append(float(loss))
            done += 1
            if done >= args.steps:
                break
        epoch += 1
    predict = jax.jit(model.apply)

    def score(split):
        out = []
        for r in recs[split]:
            n = r.num_frames // 25 * 25
            s_hat = np.asarray(predict(params, jnp.asarray(r.audio[None, : n * 640])))[0]
            out.append(float(np.corrcoef(s_hat[125:], r.std[125:n, 0])[0, 1]))
        return out

    train_r, test_r = score("train"), score("test")
    var_s = float(np.var(np.concatenate([r.std[:, 0] for r in recs["train"]])))
    print(json.dumps({
        "benchmark": "spread_trunk", "frontend": args.frontend,
        "compress": args.compress if args.frontend == "conv" else None, "steps": args.steps,
        "train_recordings": len(recs["train"]), "final_mse": float(np.mean(losses[-100:])),
        "var_s_train": var_s, "train_r": train_r, "train_r_mean": float(np.mean(train_r)),
        "test_r": test_r, "test_r_mean": float(np.mean(test_r)), "wall_s": time.time() - t0}))


if __name__ == "__main__":
    main()
