"""A tiny System (seru/systems/base.py) for the tests of the loop and the pipeline.

Per 40 ms frame: log energy, mean and std of the 640 samples -> Dense(hidden)
-> tanh -> dropout -> Dense(2 D) -> (m, softplus s). MC prediction = dropout
passes vmapped over keys. Metrics in plain numpy (CCC with population moments).
"""

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np


def default_model_config():
    c = ml_collections.ConfigDict()
    c.hidden = 8
    c.dropout = 0.1
    return c


class ToyModel(nn.Module):
    dims: int
    hidden: int = 8
    dropout: float = 0.1

    @nn.compact
    def __call__(self, audio, train: bool):
        b = audio.shape[0]
        x = audio.reshape(b, -1, 640)
        feats = jnp.stack([jnp.log(jnp.mean(x**2, -1) + 1e-6), 10 * x.mean(-1), x.std(-1)], -1)
        h = jnp.tanh(nn.Dense(self.hidden)(feats))
        h = nn.Dropout(self.dropout, deterministic=not train)(h)
        out = nn.Dense(2 * self.dims)(h)
        return out[..., : self.dims], jax.nn.softplus(out[..., self.dims:])


def np_ccc(x, y):
    mx, my = x.mean(), y.mean()
    return 2 * ((x - mx) * (y - my)).mean() / (x.var() + y.var() + (mx - my) ** 2)


class ToySystem:
    def __init__(self, config):
        self.config = config
        self.model = ToyModel(len(config.data.dimensions), config.model.hidden,
                              config.model.dropout)

    def init(self, rng, batch):
        return self.model.init({"params": rng}, batch["audio"], False)

    def loss(self, params, batch, rng):
        m, s = self.model.apply(params, batch["audio"], True, rngs={"dropout": rng})
        w = batch["mask"][..., None]
        n = jnp.maximum(w.sum() * m.shape[-1], 1.0)
        lm = jnp.sum(w * (m - batch["gold"]) ** 2) / n
        ls = jnp.sum(w * (s - batch["std"]) ** 2) / n
        return lm + ls, {"mse_m": lm, "mse_s": ls}

    def predict(self, params, batch, rng, num_samples):
        def one(key):
            return self.model.apply(params, batch["audio"], True, rngs={"dropout": key})

        ms, ss = jax.vmap(one)(jax.random.split(rng, num_samples))
        return {"m_hat": ms.mean(0), "s_hat": ss.mean(0), "samples": ms}

    def evaluate(self, predictions, targets):
        m, s = predictions["m_hat"], predictions["s_hat"]
        g, sd = targets["gold"], targets["std"]
        return {"ccc_m": float(np_ccc(m.ravel(), g.ravel())),
                "ccc_s": float(np_ccc(s.ravel(), sd.ravel())),
                "rmse": float(np.sqrt(np.mean((m - g) ** 2)))}
