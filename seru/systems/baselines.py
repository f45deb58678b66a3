"""General uncertainty baselines on sridhar21's utterance-level input.

The same input as :mod:`seru.systems.sridhar21` (utterance functionals,
``INPUT = "functionals"``), the same target (the consensus, the mean rating
mapped to [-1, 1]) and one attribute per model (``config.data.dimensions``
has one entry). Methods (``config.model.method``), both on
:class:`seru.models.heteroscedastic.HeteroMLP`:

* ``hetero``: one heteroscedastic Gaussian regressor (Nix & Weigend 1994;
  Kendall & Gal 2017, Eq. (5)) trained by the Gaussian NLL of the consensus;
  predictive std ``s_hat = exp(logvar / 2)``. Deterministic: the number of MC
  passes (``eval.num_samples``) and the prediction key change nothing.
* ``ensemble``: a deep ensemble (Lakshminarayanan et al. 2017) of
  ``model.ensemble_members`` heteroscedastic members, each initialised with its
  own key, trained jointly in one run: the parameters carry a leading member
  axis and the members run under one ``jax.vmap``. The loss is the mean of the
  members' NLLs, so each member's gradient is that of its own NLL (divided by
  M). Every member sees the same batch in the same order (Lakshminarayanan et
  al. also shuffle the data per member; here only the initialisation, and the
  dropout keys when ``dropout_rate`` > 0, differ). Prediction: the mean and std
  of the uniform mixture (their Sec. 2.4), plus ``epistemic_std`` (std of the
  members' means) and ``aleatoric_std`` (root mean member variance).
  Deterministic as well: ``eval.num_samples`` changes nothing.

``hetero`` is stored as an ensemble of one (parameters ``[1, ...]``): the two
methods share every line of code.

Batch (``seru/data/features``): ``features`` [B, F] (z-scored), ``consensus``
[B, 1] in [-1, 1], ``label_mask`` [B, 1], ``mask`` [B].

Prediction (``predict``): ``m_hat``, ``s_hat`` [B, 1] (the consensus and its
predictive std, both in consensus units, [-1, 1] scale) and, for
``ensemble``, ``epistemic_std`` and ``aleatoric_std`` [B, 1].

Evaluation (``evaluate``): ``ccc`` of ``m_hat`` and the reject option of
sridhar21 with ``s_hat`` as the uncertainty (``ccc_cov*``, ``ccc_q*``:
:func:`seru.systems.sridhar21.reject_option_metrics`), ``nll`` and ``crps`` of
the consensus under N(m_hat, s_hat) (nats; :func:`seru.metrics.gaussian_nll`,
:func:`seru.metrics.crps_gaussian`), ``coverage_90``
(:func:`seru.metrics.interval_coverage`), ``s_hat_mean``,
``spearman_unc_std`` (Spearman's rho of ``s_hat`` and the raters' std), and for
``ensemble`` ``epistemic_std_mean`` and ``aleatoric_std_mean``.
"""

from __future__ import annotations

from typing import Any, Mapping

import jax
import jax.numpy as jnp
import numpy as np

from seru import losses, metrics
from seru.fields import Field
from seru.models import heteroscedastic as het
from seru.systems.base import Regression, System
from seru.systems.sridhar21 import reject_option_metrics

METHODS = ("hetero", "ensemble")

MODEL_FIELDS = (
    Field("method", "hetero", "heteroscedastic Gaussian regressor (Kendall & Gal 2017) or a "
          "deep ensemble of them (Lakshminarayanan et al. 2017)", METHODS),
    Field("hidden", (128, 128, 128, 128), "MLP hidden sizes (default: sridhar21's MCD/STL "
          "DNN, 4 x 128)"),
    Field("activation", "tanh", "hidden activation (sridhar21's DNN: tanh)", ("tanh", "relu")),
    Field("dropout_rate", 0.0, "dropout in training only (prediction stays deterministic)"),
    Field("ensemble_members", 5, "ensemble: number of members M (Lakshminarayanan et al.: 5)"),
    Field("ccc_ddof", 0, "CCC variance estimator (0 = population)"),
)


class Baselines(System):
    """Heteroscedastic regressor and deep ensemble (see the module doc)."""

    MODEL_FIELDS = MODEL_FIELDS
    INPUT = "functionals"

    @classmethod
    def check_config(cls, config) -> list[str]:
        m, errors = config.model, []
        dims = tuple(config.data.dimensions)
        if len(dims) != 1:
            errors.append(f"data.dimensions={dims}: the baselines train one model per "
                          f"attribute; set one of them")
        if not (len(m.hidden) > 0 and all(int(h) > 0 for h in m.hidden)):
            errors.append(f"model.hidden={tuple(m.hidden)}: expected one or more sizes > 0")
        if not 0 <= m.dropout_rate < 1:
            errors.append(f"model.dropout_rate={m.dropout_rate}: expected in [0, 1)")
        if m.method == "ensemble" and m.ensemble_members < 2:
            errors.append(f"model.ensemble_members={m.ensemble_members}: expected >= 2 for "
                          f"method 'ensemble'")
        return errors

    def __init__(self, config, time_base=None):
        super().__init__(config, time_base)
        errors = self.check_config(config)
        if errors:
            raise ValueError("; ".join(errors))
        m = config.model
        self.method = m.method
        self.members = int(m.ensemble_members) if m.method == "ensemble" else 1
        self.ddof = int(m.ccc_ddof)
        self.model = het.HeteroMLP(hidden=tuple(int(h) for h in m.hidden),
                                   activation=m.activation, dropout_rate=float(m.dropout_rate))

    @property
    def outputs(self):
        """Per utterance: the consensus ``m_hat`` in [-1, 1] and its predictive std
        ``s_hat`` in the same units, so ``m_hat +- s_hat`` is a band on the scale of the
        targets' ``gold`` (the consensus)."""
        return (Regression(mean="m_hat", spread="s_hat", spread_name="std",
                           spread_on_rating_scale=True),)

    def init(self, rng, batch):
        """Variables with a leading member axis ``[M, ...]`` (M = 1 for ``hetero``)."""
        return het.init_members(self.model, rng, jnp.asarray(batch["features"]), self.members)

    def loss(self, params, batch, rng):
        """Mean over members of each member's Gaussian NLL of the consensus (masked mean
        over the batch; Eq. (5) of Kendall & Gal 2017, Eq. (1) of Lakshminarayanan et al.
        2017). Terms: ``nll`` (the same value) and ``s_hat_mean`` (mean predicted std)."""
        mean, logvar = het.apply_members(self.model, params, batch["features"], False, rng)
        w = batch["label_mask"][:, 0] * batch["mask"]
        y = batch["consensus"][:, 0]
        nlls = jax.vmap(lambda mu, lv: losses.gaussian_nll_loss(y, mu, lv, w))(mean, logvar)
        total = jnp.mean(nlls)
        s_mean = jnp.sum(jnp.exp(0.5 * logvar).mean(0) * w) / jnp.maximum(jnp.sum(w), 1.0)
        return total, {"nll": total, "s_hat_mean": s_mean}

    def predict(self, params, batch, rng, num_samples: int) -> dict:
        """Deterministic: ``rng`` and ``num_samples`` are unused. Keys as in the module
        doc, each ``[B, 1]``."""
        mean, logvar = het.apply_members(self.model, params, batch["features"], True)
        out = het.mixture(mean, logvar)
        if self.method != "ensemble":
            out = {k: out[k] for k in ("m_hat", "s_hat")}
        # [B] -> [B, D=1]: utterance-level rows, no time axis (seru/data/pipeline.py)
        return {k: v[:, None] for k, v in out.items()}

    def evaluate(self, predictions: Mapping[str, Any], targets: Mapping[str, Any]) -> dict:
        """The metrics of the module doc from the pooled utterances of a split: ``gold``
        [N, 1] against ``m_hat``, ``s_hat`` [N, 1]; a flat dict of floats."""
        import scipy.stats

        y = np.asarray(targets["gold"], np.float64).reshape(-1)
        m = np.asarray(predictions["m_hat"], np.float64).reshape(-1)
        s = np.asarray(predictions["s_hat"], np.float64).reshape(-1)
        out = reject_option_metrics(y, m, s, ddof=self.ddof)
        out["nll"] = float(np.mean(metrics.gaussian_nll(y, m, s)))
        out["crps"] = float(np.mean(metrics.crps_gaussian(y, m, s)))
        out["coverage_90"] = float(metrics.interval_coverage(y, m, s, 0.9))
        out["s_hat_mean"] = float(np.mean(s))
        if "std" in targets and len(s) > 2 and np.ptp(s) > 0:
            std = np.asarray(targets["std"], np.float64).reshape(-1)
            out["spearman_unc_std"] = float(scipy.stats.spearmanr(s, std).statistic)
        for key in ("epistemic_std", "aleatoric_std"):
            if key in predictions:
                out[f"{key}_mean"] = float(np.mean(np.asarray(predictions[key], np.float64)))
        return out
