"""A tiny System (seru/systems/base.py) for the tests of the loop and the pipeline.

Adding a system is this module: a subclass of ``System`` with its field table,
input type, model, loss, MC prediction and metrics -- nothing in the trainer,
the evaluation job or predict (``tests/test_system_contract.py`` shows it).

Per frame of the dataset's time base: log energy, mean and std of its
samples -> Dense(hidden) -> tanh -> dropout -> Dense(2 D) -> (m, softplus s).
MC prediction = dropout passes vmapped over keys. Metrics in plain numpy (CCC
with population moments).
"""

from pathlib import Path

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from seru import mc
from seru.data.timebase import CONTINUOUS
from seru.fields import Field
from seru.systems.base import Regression, System, median_filtered

MODEL_FIELDS = (Field("hidden", 8, "hidden units"),
                Field("dropout", 0.1, "dropout rate (MC passes at prediction)"))


class ToyModel(nn.Module):
    dims: int
    hidden: int = 8
    dropout: float = 0.1
    frame_samples: int = 640

    @nn.compact
    def __call__(self, audio, train: bool):
        b = audio.shape[0]
        x = audio.reshape(b, -1, self.frame_samples)
        feats = jnp.stack([jnp.log(jnp.mean(x**2, -1) + 1e-6), 10 * x.mean(-1), x.std(-1)], -1)
        h = jnp.tanh(nn.Dense(self.hidden)(feats))
        h = nn.Dropout(self.dropout, deterministic=not train)(h)
        out = nn.Dense(2 * self.dims)(h)
        return out[..., : self.dims], jax.nn.softplus(out[..., self.dims:])


def np_ccc(x, y):
    mx, my = x.mean(), y.mean()
    return 2 * ((x - mx) * (y - my)).mean() / (x.var() + y.var() + (mx - my) ** 2)


class ToySystem(System):
    MODEL_FIELDS = MODEL_FIELDS
    INPUT = "raw_audio"

    @classmethod
    def check_config(cls, config):
        return ([] if 0 <= config.model.dropout < 1 else
                [f"model.dropout={config.model.dropout}: expected in [0, 1)"])

    def __init__(self, config, time_base=None):
        super().__init__(config, time_base or CONTINUOUS)
        self.model = ToyModel(len(config.data.dimensions), config.model.hidden,
                              config.model.dropout, self.time_base.samples_per_frame)

    @property
    def outputs(self):
        return (Regression(samples="samples"),)

    def postprocess(self, predictions, fitted):
        return median_filtered(predictions, ("m_hat", "s_hat"), self.config.eval.median_window)

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

        ms, ss = mc.dropout_passes(one, rng, num_samples)
        return {"m_hat": ms.mean(0), "s_hat": ss.mean(0), "samples": ms}

    def evaluate(self, predictions, targets):
        m, s = predictions["m_hat"], predictions["s_hat"]
        g, sd = targets["gold"], targets["std"]
        return {"ccc_m": float(np_ccc(m.ravel(), g.ravel())),
                "ccc_s": float(np_ccc(s.ravel(), sd.ravel())),
                "rmse": float(np.sqrt(np.mean((m - g) ** 2)))}


# ---------------------------------------------------------------------------
# Tiny in-memory corpus and config for the tests of the loop and the pipeline
# ---------------------------------------------------------------------------

REPO = Path(__file__).resolve().parents[1]


def make_record(rid, n_frames, n_ann=3, dims=("arousal",), seed=0, sample_rate=16000,
                missing=0.1, audio_frames=None):
    """A random continuous record in the schema of seru/data/schema.py."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_frames) / 25.0
    rec = {"id": rid.encode(), "speaker": b"spk", "sample_rate": np.int32(sample_rate)}
    base = np.sin(2 * np.pi * t / 7.0 + seed)
    for d in dims:
        r = base[:, None] + 0.3 * rng.standard_normal((n_frames, n_ann))
        r[rng.random(r.shape) < missing] = np.nan
        rec[d] = r.astype(np.float32)
    af = n_frames if audio_frames is None else audio_frames
    n_samples = int(round(af * 0.04 * sample_rate))
    env = np.repeat(1.0 + 0.5 * base, int(0.04 * 16000))[:n_samples] if sample_rate == 16000 \
        else np.ones(n_samples)
    env = np.pad(env, (0, max(0, n_samples - env.size)), constant_values=1.0)
    rec["audio"] = (0.1 * env * rng.standard_normal(n_samples)).astype(np.float32)
    return rec


def make_toy_config():
    """The shared defaults (seru.config) with the toy system and tiny shapes."""
    from seru import config as config_lib

    c = config_lib.defaults()
    c.system = "toy_system:ToySystem"
    c.model = config_lib.model_defaults(c.system)
    c.data.seq_len = 20
    c.data.batch_size = 4
    c.data.eval_seq_len = 30
    c.data.eval_context = 5
    c.eval.batch_size = 4
    c.eval.num_samples = 3
    c.eval.median_window = 0
    c.eval.plot = False
    c.train.num_epochs = 3
    c.train.log_every_steps = 1
    c.train.checkpoint_every_steps = 2
    c.train.progress_bar = False
    c.model.hidden = 8
    c.model.dropout = 0.1
    return c


def make_toy_records():
    return {"train": [make_record(f"train_{i}", 50 + 13 * i, seed=i) for i in range(3)],
            "dev": [make_record(f"dev_{i}", 45 + 20 * i, seed=10 + i) for i in range(2)]}
