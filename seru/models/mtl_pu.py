"""Baselines of prabhu22 (Sec. 4.2) on the same extractor: STL and MTL-PU.

* ``stl`` -- single-task: a deterministic head 256 -> 512 -> 256 -> D
  (PReLU) predicting the mean m only.
* ``mtl_pu`` -- multi-task perception-uncertainty model after Han et al.
  (han17 Sec. 3.3; prabhu22 ref. [6]): the same head with 2 D outputs, the raw
  emotional state ``e`` and the perception uncertainty ``s`` (softplus, > 0),
  followed by a *dynamic tuning layer* that lets the predicted uncertainty
  adjust the final mean: ``m = e + Dense([e, s])``. The tuning layer is
  initialised to zero, so training starts from the plain multi-task model.
  (prabhu22 only names the layer; Han et al.'s 2020 paper that defines it is
  not among our papers, so this linear correction is our reading of it.)
"""

from __future__ import annotations

import dataclasses

from typing import Sequence

import jax
import jax.numpy as jnp
import flax.linen as nn

from seru.models.extractors import Extractor

VARIANTS = ("stl", "mtl_pu")


class DenseHead(nn.Module):
    """Deterministic MLP ``in -> hidden... -> out`` with PReLU between layers."""

    out_features: int
    hidden: Sequence[int] = (512, 256)

    @nn.compact
    def __call__(self, x):
        for h in self.hidden:
            x = nn.PReLU(negative_slope_init=0.25)(nn.Dense(h)(x))
        return nn.Dense(self.out_features)(x)


class MTLPU(nn.Module):
    """STL / MTL-PU baseline: :class:`Extractor` trunk + deterministic head.

    ``head(features)`` returns ``{"m_hat": [B, T, D]}`` (stl) or
    ``{"m_hat", "s_hat", "e_hat"}`` (mtl_pu; ``e_hat`` is the mean before the
    dynamic tuning layer).
    """

    out_features: int = 1
    variant: str = "mtl_pu"
    extractor: Extractor = dataclasses.field(default_factory=Extractor)  # the trunk
    hidden: Sequence[int] = (512, 256)

    def setup(self):
        if self.variant not in VARIANTS:
            raise ValueError(f"unknown baseline {self.variant!r}; expected one of {VARIANTS}")
        d = self.out_features
        self.mlp = DenseHead(d if self.variant == "stl" else 2 * d, tuple(self.hidden))
        if self.variant == "mtl_pu":
            self.tuning = nn.Dense(d, kernel_init=nn.initializers.zeros)

    def __call__(self, audio, train: bool = False):
        return self.head(self.trunk(audio, train))

    def trunk(self, audio, train: bool = False):
        return self.extractor(audio, train)

    def head(self, features):
        out = self.mlp(features)
        if self.variant == "stl":
            return {"m_hat": out}
        d = self.out_features
        e, s = out[..., :d], jax.nn.softplus(out[..., d:])
        m = e + self.tuning(jnp.concatenate([e, s], axis=-1))
        return {"m_hat": m, "s_hat": s, "e_hat": e}
