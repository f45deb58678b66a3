"""han17: emotional state and perception uncertainty by single- and multi-task BLSTMs
(Han, Zhang, Schmitt, Pantic, Schuller, ACM MM 2017).

Per 100 ms frame and dimension the BLSTM-RNN of ``seru/models/blstm.py`` predicts the
emotional state E (the EWE gold standard of the raters, ``batch['gold']``) and/or the
perception uncertainty sigma (the raters' unbiased std rescaled to [0, 1] on the
training split, ``batch['std']``). Tasks (``config.model.task``):

* ``stl_e`` -- E only, loss MSE_E;
* ``stl_sigma`` -- sigma only, loss MSE_sigma;
* ``mtl`` -- both, loss ``w_E MSE_E + (2 - w_E) MSE_sigma`` (Eqs. (7)-(8);
  ``config.model.w_e``; the paper sweeps w_E over 0, 0.1, ..., 2 on dev).

Batch (input type ``frame_features``, ``seru/data/frames.py``): ``features`` [B, T, F]
standardised, ``gold`` / ``std`` [B, T, D], ``mask`` [B, T] (1 = a rated frame).

Prediction is deterministic (no Monte Carlo): ``e_hat`` and/or ``sigma_hat`` [B, T, D].
Post-processing (``config.model.chain``): the AVEC chain of Sec. 4.2 -- median
smoothing, centring, scaling, time shift -- fitted on the dev split per output and
dimension (``seru.postprocess.fit_chain_sequences``) and applied to every split.
Metrics (Eqs. (10)-(11)): ``ccc_e``, ``rmse_e`` against E and ``ccc_sigma``,
``rmse_sigma`` against sigma, per dimension ``<key>/<dim>`` when D > 1 (plain keys: the
mean over dimensions).
"""

from __future__ import annotations

from typing import Any, Mapping

import jax.numpy as jnp
import ml_collections
import numpy as np

from seru import losses, metrics, postprocess
from seru.fields import Field, from_fields
from seru.models.blstm import BLSTMRegressor
from seru.systems.base import Regression, System

TASKS = ("stl_e", "stl_sigma", "mtl")

MODEL_FIELDS = (
    Field("task", "mtl", "single-task E, single-task sigma, or multi-task (Eqs. (7)-(8))",
          TASKS),
    Field("w_e", 1.0, "w_E of Eq. (7) in [0, 2] (w_sigma = 2 - w_E); mtl only"),
    Field("hidden", 240, "LSTM cells per direction and layer (han17: 240)"),
    Field("num_layers", 2, "bidirectional LSTM layers (han17: 2)"),
    Field("input_noise", 0.2, "std of the Gaussian noise on the inputs in training (han17: "
          "0.2)"),
    Field("init_range", 0.1, "weights ~ U[-init_range, init_range] (han17: 0.1)"),
    Field("chain", True, "the AVEC post-processing chain fitted on dev (han17 Sec. 4.2)"),
)


def default_model_config() -> ml_collections.ConfigDict:
    """``config.model`` of han17 at its defaults (the paper's values)."""
    return from_fields(MODEL_FIELDS)


def _masked_mse(pred, target, mask):
    w = jnp.broadcast_to(mask[..., None], pred.shape)
    return jnp.sum(w * (pred - target) ** 2) / jnp.maximum(jnp.sum(w), 1.0)


def _lengths(mask):
    """Frames up to the last rated one of each row: the BLSTM's backward pass starts there."""
    t = jnp.arange(mask.shape[1])
    return jnp.max(jnp.where(mask > 0, t[None] + 1, 0), axis=1)


class Han17(System):
    """han17 as a :class:`seru.systems.base.System` (see the module docstring)."""

    MODEL_FIELDS = MODEL_FIELDS
    INPUT = "frame_features"

    @classmethod
    def check_config(cls, config) -> list[str]:
        m, errors = config.model, []
        if not 0.0 <= m.w_e <= 2.0:
            errors.append(f"model.w_e={m.w_e}: expected in [0, 2] (w_E + w_sigma = 2, Eq. (8))")
        for name in ("hidden", "num_layers"):
            if m[name] < 1:
                errors.append(f"model.{name}={m[name]}: expected >= 1")
        return errors

    def __init__(self, config, time_base=None):
        super().__init__(config, time_base)
        m = config.model
        self.task = m.task
        self.dims = tuple(config.data.dimensions)
        self.keys = {"stl_e": ("e_hat",), "stl_sigma": ("sigma_hat",),
                     "mtl": ("e_hat", "sigma_hat")}[self.task]
        self.model = BLSTMRegressor(out_features=len(self.keys) * len(self.dims),
                                    hidden=int(m.hidden), num_layers=int(m.num_layers),
                                    input_noise=float(m.input_noise),
                                    init_range=float(m.init_range))

    @property
    def outputs(self):
        """E as the mean and sigma as the spread, on the targets' scales (sigma: the raters'
        std rescaled to [0, 1] on the training split)."""
        return (Regression(mean="e_hat" if "e_hat" in self.keys else None,
                           spread="sigma_hat" if "sigma_hat" in self.keys else None,
                           spread_name="raters' std, rescaled to [0, 1] on train"),)

    def _split(self, out):
        d = len(self.dims)
        return {k: out[..., i * d:(i + 1) * d] for i, k in enumerate(self.keys)}

    # -- System interface -------------------------------------------------------------

    def init(self, rng, batch):
        return self.model.init({"params": rng}, jnp.asarray(batch["features"]))

    def loss(self, params, batch, rng):
        mask = jnp.asarray(batch["mask"], jnp.float32)
        out = self._split(self.model.apply(params, jnp.asarray(batch["features"]),
                                           _lengths(mask), noise_key=rng))
        terms = {}
        if "e_hat" in out:
            terms["mse_e"] = _masked_mse(out["e_hat"], batch["gold"], mask)
        if "sigma_hat" in out:
            terms["mse_sigma"] = _masked_mse(out["sigma_hat"], batch["std"], mask)
        if self.task == "mtl":
            w = jnp.broadcast_to(mask[..., None], out["e_hat"].shape)
            total = losses.weighted_mse(out["e_hat"], batch["gold"], out["sigma_hat"],
                                        batch["std"], self.config.model.w_e, mask=w)
        else:
            total = next(iter(terms.values()))
        return total, terms

    def predict(self, params, batch, rng, num_samples=None):
        """Deterministic (``rng`` and ``num_samples`` are unused: no Monte Carlo)."""
        mask = jnp.asarray(batch["mask"], jnp.float32)
        return self._split(self.model.apply(params, jnp.asarray(batch["features"]),
                                            _lengths(mask)))

    def evaluate(self, predictions: Mapping[str, Any], targets: Mapping[str, Any]) -> dict:
        """CCC (Eq. (10), population moments) and RMSE (Eq. (11)) of E against the gold
        standard and of sigma against the rescaled raters' std; ``[N, D]`` numpy rows."""
        pairs = [(k, p, t) for k, p, t in (("e", "e_hat", "gold"), ("sigma", "sigma_hat", "std"))
                 if p in predictions]
        per_dim = []
        for d in range(len(self.dims)):
            res = {}
            for name, p, t in pairs:
                x = np.asarray(predictions[p], np.float64).reshape(-1, len(self.dims))[:, d]
                y = np.asarray(targets[t], np.float64).reshape(-1, len(self.dims))[:, d]
                res[f"ccc_{name}"] = float(metrics.ccc(x, y))
                res[f"rmse_{name}"] = float(metrics.rmse(x, y))
            per_dim.append(res)
        out = {}
        if len(self.dims) > 1:
            for dim, res in zip(self.dims, per_dim):
                out.update({f"{k}/{dim}": v for k, v in res.items()})
        out.update({k: float(np.mean([r[k] for r in per_dim])) for k in per_dim[0]})
        return out

    # -- post-processing: the AVEC chain, fitted on dev ----------------------------

    @property
    def postprocess_needs_fit(self) -> bool:
        return bool(self.config.model.chain)

    def fit_postprocess(self, predictions, targets) -> dict:
        """ChainParams per output and dimension, fitted on ``predictions`` (dev) against the
        targets' valid frames (``seru.postprocess.fit_chain_sequences``)."""
        target_of = {"e_hat": "gold", "sigma_hat": "std"}
        chains = {}
        for key in self.keys:
            chains[key] = []
            for d in range(len(self.dims)):
                ids = list(targets)
                fit = postprocess.fit_chain_sequences(
                    [np.asarray(predictions[r][key])[:, d] for r in ids],
                    [np.asarray(targets[r][target_of[key]])[:, d] for r in ids],
                    [np.asarray(targets[r]["mask"]) > 0 for r in ids])
                chains[key].append(fit._asdict())
        return {"chain": chains}

    def postprocess(self, predictions, fitted):
        out = dict(predictions)
        for key, per_dim in (fitted or {}).get("chain", {}).items():
            if key in out:
                x = np.asarray(out[key], np.float32)
                cols = [np.asarray(postprocess.apply_chain(jnp.asarray(x[:, d]),
                                                          postprocess.ChainParams(**c), axis=0))
                        for d, c in enumerate(per_dim)]
                out[key] = np.stack(cols, axis=-1).astype(np.float32)
        return out

    def postprocess_info(self) -> dict:
        return {"chain": bool(self.config.model.chain)}

