"""Heteroscedastic Gaussian regressor and its deep ensemble (pure functions).

* :class:`HeteroMLP`: an MLP on utterance features with two linear heads, the
  predicted mean and the log-variance of a Gaussian over the target (Nix &
  Weigend 1994, "Estimating the mean and variance of the target probability
  distribution"; Kendall & Gal 2017, "What uncertainties do we need in Bayesian
  deep learning for computer vision?", Eq. (5) with s = log sigma^2).
  Its training objective is :func:`seru.losses.gaussian_nll_loss`.
* :func:`init_members` / :func:`apply_members`: M independently initialised
  copies, their parameters stacked on a leading member axis and run with one
  ``jax.vmap`` (a deep ensemble, Lakshminarayanan, Pritzel, Blundell, NeurIPS
  2017, "Simple and scalable predictive uncertainty estimation using deep
  ensembles"). One member (M = 1) is the plain heteroscedastic model.
* :func:`mixture`: the ensemble's prediction, the mean and std of the uniform
  mixture of the members' Gaussians (Sec. 2.4 of Lakshminarayanan et al.),
  split into its epistemic and aleatoric parts.
"""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from seru.models.vae_er import MLP


class HeteroMLP(nn.Module):
    """MLP trunk (``hidden`` widths, ``activation``, dropout in training only) and two
    linear heads.

    ``__call__(x [B, F], deterministic)`` returns ``(mean [B], logvar [B])``: the
    predicted target (unbounded; here the consensus in [-1, 1]) and the log of the
    predicted variance (natural log, target units squared). Dropout needs the rng
    stream ``"dropout"`` when ``deterministic`` is False and ``dropout_rate`` > 0.
    """

    hidden: Sequence[int] = (128, 128, 128, 128)
    activation: str = "tanh"
    dropout_rate: float = 0.0

    @nn.compact
    def __call__(self, x, deterministic: bool = True):
        h = MLP(tuple(self.hidden), self.activation, self.dropout_rate, name="mlp")(
            x, deterministic)
        mean = nn.Dense(1, name="mean")(h)[..., 0]
        logvar = nn.Dense(1, name="logvar")(h)[..., 0]
        return mean, logvar


def init_members(model: nn.Module, rng, x, num_members: int):
    """Variables of ``num_members`` independently initialised copies of ``model``.

    Member ``i`` is initialised with key ``jax.random.split(rng, num_members)[i]``
    (the random initialisation that makes a deep ensemble diverse, Sec. 2.4 of
    Lakshminarayanan et al. 2017). Returns the variables pytree with a leading
    member axis ``[M, ...]`` on every leaf. ``x`` [B, F] fixes the input width.
    """
    keys = jax.random.split(rng, num_members)
    return jax.vmap(lambda k: model.init({"params": k}, x, True))(keys)


def apply_members(model: nn.Module, variables, x, deterministic: bool = True, rng=None):
    """Every member on the same input: ``(mean [M, B], logvar [M, B])``.

    ``variables`` has a leading member axis (:func:`init_members`); ``x`` [B, F]
    is shared (not copied per member). In training (``deterministic`` False)
    member ``i`` gets the dropout key ``jax.random.split(rng, M)[i]``. Raises
    ``ValueError`` when dropout needs ``rng`` and it is None.
    """
    num = jax.tree_util.tree_leaves(variables)[0].shape[0]
    if deterministic or model.dropout_rate == 0:
        return jax.vmap(lambda v: model.apply(v, x, True))(variables)
    if rng is None:
        raise ValueError("apply_members: training with dropout needs rng")
    keys = jax.random.split(rng, num)
    return jax.vmap(lambda v, k: model.apply(v, x, False, rngs={"dropout": k}))(variables,
                                                                                 keys)


def mixture(mean, logvar):
    """Mean and std of the uniform mixture of the M members' Gaussians, and its parts.

    Sec. 2.4 of Lakshminarayanan et al. 2017: ``m = mean_i mu_i``,
    ``sigma^2 = mean_i (sigma_i^2 + mu_i^2) - m^2``, written here as the
    aleatoric part ``mean_i sigma_i^2`` plus the epistemic part
    ``var_i mu_i`` (population variance over members).

    Args:
      mean, logvar: ``[M, ...]`` the members' means and log-variances.

    Returns:
      dict of ``[...]`` arrays (target units): ``m_hat`` (mixture mean), ``s_hat``
      (mixture std, ``sqrt(aleatoric^2 + epistemic^2)``), ``epistemic_std`` (std
      of the members' means; 0 for M = 1) and ``aleatoric_std`` (root of the mean
      member variance).
    """
    var_ale = jnp.mean(jnp.exp(logvar), axis=0)
    m = jnp.mean(mean, axis=0)
    var_epi = jnp.mean((mean - m) ** 2, axis=0)
    return {"m_hat": m, "s_hat": jnp.sqrt(var_ale + var_epi),
            "epistemic_std": jnp.sqrt(var_epi), "aleatoric_std": jnp.sqrt(var_ale)}
