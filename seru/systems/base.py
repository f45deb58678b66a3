"""The contract between a published system and the rest of seru.

The training loop (``seru/trainer.py``), the evaluation job
(``seru/evaluation.py``) and the Predictor (``seru/inference.py``) know a
system only through :class:`System`: they validate its config before anything
is written (:meth:`System.check_config`), build the dataset of its input type
(``INPUT``, a name of the registry ``seru/data/inputs.py``), jit its pure
``init`` / ``loss`` / ``predict``, fit and apply its post-processing, and
read its predictions through the declared :attr:`System.outputs` -- never
through key names of their own.

Batches are dicts of arrays with a leading batch axis, made by the input
type's dataset; the keys a system reads are documented in its module.
A new system is a subclass in ``seru/systems/<tag>.py`` registered in
``seru/systems/__init__.py``, a config in ``configs/``, its models and tests.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping

import jax

from seru.fields import Field

Batch = Mapping[str, jax.Array]
Params = Any  # a pytree of parameters (flax variables dict)
Predictions = Mapping[str, Mapping[str, Any]]  # item id -> output key -> array


@dataclasses.dataclass(frozen=True)
class Regression:
    """Output kind: per dimension a predicted mean and (optionally) a spread.

    Attributes:
      mean: key of the predicted mean, ``[..., D]`` on the rating scale of the
        targets (``gold``), or ``None`` (a system that predicts only a spread).
      spread: key of the predicted spread ``[..., D]`` (>= 0), or ``None``.
      spread_name: what the spread is (``'std'``: a standard deviation on the
        rating scale; ``'entropy'``: nats of a soft-label distribution).
      samples: key of the MC samples ``[n, ..., D]`` of the mean, or ``None``.
      spread_on_rating_scale: whether the spread is in the units of the ratings
        (``gold``), so that ``mean +- spread`` is a band on the rating scale
        (prabhu22's s_hat). False for a spread on a scale of its own, e.g. the
        raters' std rescaled to [0, 1] on the training split (han17's sigma):
        the evaluation's figures then draw the spread in a panel of its own
        against the targets' ``std`` (on that same scale), never as a band.
    """

    mean: str | None = "m_hat"
    spread: str | None = "s_hat"
    spread_name: str = "std"
    samples: str | None = None
    spread_on_rating_scale: bool = True

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(k for k in (self.mean, self.spread) if k)


@dataclasses.dataclass(frozen=True)
class ClassDistribution:
    """Output kind: a distribution over ``classes``, per dimension (or task) or one.

    Attributes:
      probs: key of the probabilities ``[T, D, K]`` per item (one distribution per
        dimension, e.g. sridhar21's soft labels over rating bins) or ``[T, K]`` (one
        distribution, e.g. mitra25's emotion classes); each row sums to 1.
      classes: the K class names, in order (bins of a rating scale, or emotions).
    """

    probs: str = "probs"
    classes: tuple[str, ...] = ()

    @property
    def keys(self) -> tuple[str, ...]:
        return (self.probs,)


OutputKind = Regression | ClassDistribution


class System:
    """Base class of a published system; subclasses set the class attributes and
    implement ``init``, ``loss``, ``predict`` and ``evaluate``.

    Class attributes:
      MODEL_FIELDS: the table of ``config.model`` (:class:`seru.fields.Field`).
      INPUT: the input type it reads (``seru/data/inputs.py``).

    Args:
      config: the experiment config (validated: ``seru.config.validate``).
      time_base: the dataset's :class:`seru.data.timebase.TimeBase` (frame hop,
        samples per frame), or ``None`` for the input type's default.
    """

    MODEL_FIELDS: tuple[Field, ...] = ()
    INPUT: str = "raw_audio"

    def __init__(self, config, time_base=None):
        self.config = config
        self.time_base = time_base

    # -- contract ------------------------------------------------------------------

    @classmethod
    def check_config(cls, config) -> list[str]:
        """Problems of ``config`` beyond the field table (one line each, naming the field and
        what was expected); called before any file is written. Default: none."""
        return []

    @property
    def outputs(self) -> tuple[OutputKind, ...]:
        """The output kinds :meth:`predict` returns (default: mean + spread)."""
        return (Regression(),)

    def init(self, rng: jax.Array, batch: Batch) -> Params:
        """Initial parameters for a batch of the dataset's shapes (pure, jittable)."""
        raise NotImplementedError

    def warm_start(self, params: Params) -> Params:
        """Parameters to start a fresh run from (e.g. another run's), called once outside
        ``jit`` after :meth:`init`; not on resume. Default: ``params`` unchanged."""
        return params

    def loss(self, params: Params, batch: Batch, rng: jax.Array) -> tuple[jax.Array, dict]:
        """Training loss (a scalar, mean over the batch) and a dict of scalar terms; training
        mode, pure, jittable, differentiable with respect to ``params``."""
        raise NotImplementedError

    def predict(self, params: Params, batch: Batch, rng: jax.Array, num_samples: int) -> dict:
        """Vectorised Monte Carlo prediction (evaluation mode) with ``num_samples`` passes: a
        dict of arrays with a leading batch axis holding the keys of :attr:`outputs`."""
        raise NotImplementedError

    def evaluate(self, predictions: Mapping[str, Any], targets: Mapping[str, Any]) -> dict:
        """Every metric of the system from the valid frames (or utterances) of a split,
        post-processed, as numpy arrays with a leading row axis; a flat dict of floats."""
        raise NotImplementedError

    # -- post-processing: fit on one split, apply to others -------------------------

    def fit_postprocess(self, predictions: Predictions, targets: Predictions) -> dict:
        """Post-processing parameters fitted on one split (e.g. dev): a JSON-able dict.
        Default: nothing to fit."""
        return {}

    def postprocess(self, predictions: Mapping[str, Any], fitted: Mapping[str, Any]
                    ) -> dict[str, Any]:
        """One item's predictions post-processed with ``fitted`` (from
        :meth:`fit_postprocess`). Default: unchanged."""
        return dict(predictions)

    def postprocess_info(self) -> dict:
        """The post-processing's fixed settings, for ``metrics.json`` (default: none)."""
        return {}

    @property
    def postprocess_needs_fit(self) -> bool:
        """Whether :meth:`fit_postprocess` must see a split before others are scored."""
        return type(self).fit_postprocess is not System.fit_postprocess


def median_filtered(predictions: Mapping[str, Any], keys, window: int) -> dict[str, Any]:
    """``predictions`` with the arrays ``keys`` (``[T, ...]``) median-filtered over time
    (axis 0) with ``window`` frames, edges repeated (``seru.postprocess.median_filter``;
    prabhu22 Sec. 4.3: 50 frames). ``window`` 0 or 1: unchanged."""
    import jax.numpy as jnp
    import numpy as np

    from seru.postprocess import median_filter

    out = dict(predictions)
    if window and window > 1:
        for key in keys:
            if key in out:
                out[key] = np.asarray(median_filter(jnp.asarray(out[key]), window, axis=0),
                                      np.float32)
    return out


def per_dimension(dims, per_dim) -> dict[str, float]:
    """Metrics of several dimensions as one dict: ``per_dim[k]`` (``{name: value}``, the
    same names for every dimension) under ``<name>/<dims[k]>`` when there is more than
    one dimension, and under the plain ``<name>`` their mean over the dimensions."""
    import numpy as np

    out = {}
    if len(per_dim) > 1:
        for dim, res in zip(dims, per_dim):
            out.update({f"{name}/{dim}": float(v) for name, v in res.items()})
    out.update({name: float(np.mean([r[name] for r in per_dim])) for name in per_dim[0]})
    return out
