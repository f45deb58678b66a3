"""The interface between a published system and seru's training loop.

The trainer (``seru/trainer.py``) never looks inside a model: it calls these
four pure functions, jit-compiles them, and shards the batch over the
``"data"`` mesh axis. Batches are dicts of numpy/jax arrays with a leading
batch axis, produced by ``seru/data/pipeline.py`` from the config; the keys a
system reads are its own business (documented in its module).
"""

from __future__ import annotations

from typing import Any, Mapping, Protocol

import jax

Batch = Mapping[str, jax.Array]
Params = Any  # a pytree of parameters (flax variables dict)


class System(Protocol):
    config: Any

    def init(self, rng: jax.Array, batch: Batch) -> Params:
        """Initial parameters for a batch of the pipeline's shapes."""

    def loss(self, params: Params, batch: Batch, rng: jax.Array) -> tuple[jax.Array, dict]:
        """Training loss (a scalar, mean over the batch) and a dict of scalar terms.

        Runs in training mode (dropout on, weights sampled); pure, jittable,
        differentiable with respect to ``params``.
        """

    def predict(self, params: Params, batch: Batch, rng: jax.Array, num_samples: int) -> dict:
        """Vectorised Monte Carlo prediction in evaluation mode.

        Returns a dict of arrays with a leading batch axis, at least the
        predicted mean ``m_hat`` and spread ``s_hat`` (or class probabilities),
        and ``samples`` (``[num_samples, batch, ...]``) when the system has them.
        """

    def evaluate(self, predictions: Mapping[str, Any], targets: Mapping[str, Any]) -> dict:
        """Every metric of the system, from predictions and targets of a whole split
        (numpy, host side, after post-processing). Returns a flat dict of floats."""
