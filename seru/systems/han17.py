"""han17: emotional state and perception uncertainty by single- and multi-task BLSTMs
(Han, Zhang, Schmitt, Pantic, Schuller, ACM MM 2017).

Per 100 ms frame and dimension the BLSTM-RNN of ``seru/models/blstm.py`` predicts the
emotional state E (the EWE gold standard of the raters, ``batch['gold']``) and/or the
perception uncertainty sigma (the raters' unbiased std rescaled to [0, 1] on the
training split, ``batch['std']``). Tasks (``config.model.task``):

* ``stl_e`` -- E only, loss MSE_E;
* ``stl_sigma`` -- sigma only, loss MSE_sigma;
* ``mtl`` -- both, loss ``w_E MSE_E + (2 - w_E) MSE_sigma`` (Eqs. (7)-(8);
  ``config.model.w_e``);
* ``sweep`` -- the paper's weight sweep as one program: one MTL model per weighting of
  ``config.model.sweep_w_e`` (han17: 0, 0.1, ..., 2), their parameters stacked on a
  leading member axis and trained together on the sum of their losses. Every member starts
  from the run's init key and sees the run's noise keys, and the optimizers allowed here
  act element by element, so member k follows exactly the ``mtl`` run with
  ``w_e = sweep_w_e[k]`` and the same seed. ``config.model.sweep_program`` says how the
  members share the program: ``vmap`` (``jax.vmap`` over the member axis) or ``unroll``
  (every member written out in the one jitted step; on CPU the faster of the two,
  ``benchmarks/results/han17_sweep``). The weighting is selected on dev per target and
  dimension (the best dev CCC of the raw predictions, E for E and sigma for sigma) as
  part of the dev-fitted post-processing; the per-member dev CCCs and the selection are
  kept in ``eval/postprocess_<kind>_<step>.json``.

Batch (input type ``frame_features``, ``seru/data/frames.py``): ``features`` [B, T, F]
standardised, ``gold`` / ``std`` [B, T, D], ``mask`` [B, T] (1 = a rated frame).

Prediction is deterministic (no Monte Carlo): ``e_hat`` and/or ``sigma_hat`` [B, T, D]
(``sweep``: ``e_hat_sweep`` and ``sigma_hat_sweep`` [B, T, D, K] for the K members, which
the post-processing reduces to the selected ``e_hat`` and ``sigma_hat``).
Post-processing (``config.model.chain``): the AVEC chain of Sec. 4.2 -- median
smoothing, centring, scaling, time shift -- fitted on the dev split per output and
dimension (``seru.postprocess.fit_chain_sequences``) and applied to every split.
Metrics (Eqs. (10)-(11)): ``ccc_e``, ``rmse_e`` against E and ``ccc_sigma``,
``rmse_sigma`` against sigma, per dimension ``<key>/<dim>`` when D > 1 (plain keys: the
mean over dimensions).
"""

from __future__ import annotations

from typing import Any, Mapping

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from seru import losses, metrics, postprocess
from seru.fields import Field, from_fields
from seru.models.blstm import BLSTMRegressor
from seru.systems.base import Regression, System, per_dimension

TASKS = ("stl_e", "stl_sigma", "mtl", "sweep")
#: han17 Sec. 4.3: w_E in {0, 0.1, ..., 2}
PAPER_SWEEP = tuple(round(0.1 * i, 1) for i in range(21))

MODEL_FIELDS = (
    Field("task", "mtl", "single-task E, single-task sigma, multi-task (Eqs. (7)-(8)), or the "
          "multi-task weight sweep as one program", TASKS),
    Field("w_e", 1.0, "w_E of Eq. (7) in [0, 2] (w_sigma = 2 - w_E); mtl only"),
    Field("sweep_w_e", PAPER_SWEEP, "the weightings w_E trained together by task=sweep "
          "(han17: 0, 0.1, ..., 2)"),
    Field("sweep_program", "vmap", "how the sweep's members share one jitted program: "
          "jax.vmap over them, or each written out (faster on CPU)", ("vmap", "unroll")),
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
        if m.task == "sweep":
            if not m.sweep_w_e or any(not 0.0 <= w <= 2.0 for w in m.sweep_w_e):
                errors.append(f"model.sweep_w_e={tuple(m.sweep_w_e)}: expected one or more "
                              "weightings in [0, 2] (w_E + w_sigma = 2, Eq. (8))")
            clip = config.get("optimizer", {}).get("grad_clip_norm", 0)
            if clip:
                errors.append(f"optimizer.grad_clip_norm={clip} with model.task=sweep: "
                              "clipping by the global norm couples the sweep's members; "
                              "set it to 0")
        for name in ("hidden", "num_layers"):
            if m[name] < 1:
                errors.append(f"model.{name}={m[name]}: expected >= 1")
        return errors

    def __init__(self, config, time_base=None):
        super().__init__(config, time_base)
        m = config.model
        self.task = m.task
        self.dims = tuple(config.data.dimensions)
        self.keys = {"stl_e": ("e_hat",), "stl_sigma": ("sigma_hat",)}.get(
            self.task, ("e_hat", "sigma_hat"))
        self.sweep = (jnp.asarray(m.sweep_w_e, jnp.float32) if self.task == "sweep"
                      else None)
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
                           spread_name="raters' std, rescaled to [0, 1] on train",
                           spread_on_rating_scale=False),)

    def _split(self, out):
        d = len(self.dims)
        return {k: out[..., i * d:(i + 1) * d] for i, k in enumerate(self.keys)}

    # -- System interface -------------------------------------------------------------

    def _members(self, fn, params, *args):
        """``fn(member_params, w_E, *args)`` of every sweep member, stacked on axis 0."""
        if self.config.model.sweep_program == "vmap":
            return jax.vmap(fn, in_axes=(0, 0) + (None,) * len(args))(params, self.sweep, *args)
        outs = [fn(jax.tree.map(lambda a: a[k], params), self.sweep[k], *args)
                for k in range(self.sweep.shape[0])]
        return jax.tree.map(lambda *xs: jnp.stack(xs), *outs)

    def init(self, rng, batch):
        """The BLSTM's parameters; ``sweep``: the same draw for every member (leading axis K),
        as K separate runs with this seed would start."""
        params = self.model.init({"params": rng}, jnp.asarray(batch["features"]))
        if self.sweep is None:
            return params
        k = self.sweep.shape[0]
        return jax.tree.map(lambda a: jnp.broadcast_to(a, (k,) + a.shape), params)

    def _loss(self, params, w_e, batch, rng):
        mask = jnp.asarray(batch["mask"], jnp.float32)
        out = self._split(self.model.apply(params, jnp.asarray(batch["features"]),
                                           _lengths(mask), noise_key=rng))
        terms = {}
        if "e_hat" in out:
            terms["mse_e"] = _masked_mse(out["e_hat"], batch["gold"], mask)
        if "sigma_hat" in out:
            terms["mse_sigma"] = _masked_mse(out["sigma_hat"], batch["std"], mask)
        if len(terms) == 2:
            w = jnp.broadcast_to(mask[..., None], out["e_hat"].shape)
            total = losses.weighted_mse(out["e_hat"], batch["gold"], out["sigma_hat"],
                                        batch["std"], w_e, mask=w)
        else:
            total = next(iter(terms.values()))
        return total, terms

    def loss(self, params, batch, rng):
        """``(loss, terms)``; ``sweep``: the sum of the members' Eq. (7) losses (each member's
        gradient is its own loss's), with ``loss_members``, ``mse_e`` and ``mse_sigma`` [K]."""
        if self.sweep is None:
            return self._loss(params, self.config.model.w_e, batch, rng)
        totals, terms = self._members(self._loss, params, batch, rng)
        return jnp.sum(totals), {"loss_members": totals, **terms}

    def _predict(self, params, w_e, batch):
        mask = jnp.asarray(batch["mask"], jnp.float32)
        return self._split(self.model.apply(params, jnp.asarray(batch["features"]),
                                            _lengths(mask)))

    def predict(self, params, batch, rng, num_samples=None):
        """Deterministic (``rng`` and ``num_samples`` are unused: no Monte Carlo)."""
        if self.sweep is None:
            return self._predict(params, None, batch)
        out = self._members(self._predict, params, batch)  # [K, B, T, D]
        return {f"{k}_sweep": jnp.moveaxis(v, 0, -1) for k, v in out.items()}

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
        return per_dimension(self.dims, per_dim)

    # -- post-processing: the AVEC chain, fitted on dev ----------------------------

    @property
    def postprocess_needs_fit(self) -> bool:
        return bool(self.config.model.chain) or self.sweep is not None

    def _select_members(self, predictions, targets) -> dict:
        """The sweep member with the best dev CCC per target and dimension (raw predictions,
        before the chain; valid frames pooled over the recordings): ``dev_ccc[key][d][k]``
        for dimension ``dimensions[d]`` and weighting ``w_e[k]``, ``selected[key][d]`` (an
        index) and ``selected_w_e[key][d]``."""
        ids = list(targets)
        valid = [np.asarray(targets[r]["mask"]) > 0 for r in ids]
        ccc, selected = {}, {}
        for key, target in (("e_hat", "gold"), ("sigma_hat", "std")):
            y = np.concatenate([np.asarray(targets[r][target])[v] for r, v in zip(ids, valid)])
            x = np.concatenate([np.asarray(predictions[r][f"{key}_sweep"])[v]
                                for r, v in zip(ids, valid)])  # [N, D, K]
            ccc[key] = [[float(metrics.ccc(x[:, d, k], y[:, d])) for k in range(x.shape[2])]
                        for d in range(len(self.dims))]
            selected[key] = [int(np.argmax(np.nan_to_num(c, nan=-np.inf))) for c in ccc[key]]
        w = [float(v) for v in self.config.model.sweep_w_e]
        return {"w_e": w, "dimensions": list(self.dims), "dev_ccc": ccc, "selected": selected,
                "selected_w_e": {k: [w[i] for i in v] for k, v in selected.items()}}

    @staticmethod
    def _apply_selection(predictions, sweep) -> dict:
        out = {k: v for k, v in predictions.items() if not k.endswith("_sweep")}
        for key, per_dim in sweep["selected"].items():
            x = np.asarray(predictions[f"{key}_sweep"])
            out[key] = np.stack([x[:, d, k] for d, k in enumerate(per_dim)], axis=-1)
        return out

    def fit_postprocess(self, predictions, targets) -> dict:
        """Fitted on ``predictions`` (dev) against the targets' valid frames: ``sweep`` --
        the member per target and dimension with the best dev CCC; ``chain`` -- ChainParams
        per output and dimension (``seru.postprocess.fit_chain_sequences``), fitted on the
        selected members' predictions."""
        fitted = {}
        if self.sweep is not None:
            fitted["sweep"] = self._select_members(predictions, targets)
            predictions = {r: self._apply_selection(p, fitted["sweep"])
                           for r, p in predictions.items()}
        if not self.config.model.chain:
            return fitted
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
        fitted["chain"] = chains
        return fitted

    def postprocess(self, predictions, fitted):
        """The dev-selected sweep members (``sweep``; ``ValueError`` without a selection),
        then the fitted chain, of one item's ``[T, D]`` predictions."""
        fitted = fitted or {}
        out = dict(predictions)
        if self.sweep is not None:
            if "sweep" not in fitted:
                raise ValueError("model.task=sweep: the weighting is selected on dev; "
                                 "fit the post-processing on data.dev_split first")
            out = self._apply_selection(out, fitted["sweep"])
        for key, per_dim in fitted.get("chain", {}).items():
            if key in out:
                x = np.asarray(out[key], np.float32)
                cols = [np.asarray(postprocess.apply_chain(jnp.asarray(x[:, d]),
                                                          postprocess.ChainParams(**c), axis=0))
                        for d, c in enumerate(per_dim)]
                out[key] = np.stack(cols, axis=-1).astype(np.float32)
        return out

    def postprocess_info(self) -> dict:
        info = {"chain": bool(self.config.model.chain)}
        if self.sweep is not None:
            info["sweep_w_e"] = [float(w) for w in self.config.model.sweep_w_e]
        return info
