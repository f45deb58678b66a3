"""Training losses for label-uncertainty SER (pure ``jnp`` functions).

Contents
--------
* Bayes-by-Backprop (BBB) terms, Eqs. (5)-(6) of prabhu22 (after Blundell et
  al. 2015, "Weight uncertainty in neural networks"):
  :func:`softplus_sigma`, :func:`bbb_log_q`, :func:`bbb_log_prior_gaussian`,
  :func:`bbb_log_prior_mixture`, :func:`bbb_kl_gaussian`.

Every function here is jit-able and differentiable; none of them lets a NaN
or an inf escape on finite inputs (scales are floored, logs go through
``logsumexp`` / ``log_softmax``).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

_LOG_2PI = math.log(2.0 * math.pi)


# ---------------------------------------------------------------------------
# Bayes-by-Backprop (prabhu22 Eqs. (5)-(6), Blundell et al. 2015)
# ---------------------------------------------------------------------------


def softplus_sigma(rho):
    """Posterior standard deviation ``sigma = softplus(rho) = log(1 + e^rho)``.

    The BBB parameterisation of prabhu22 Sec. 2.2 (Eqs. (5)-(6)), after
    Blundell et al. 2015: the variational posterior of each weight is
    N(mu, softplus(rho)), which keeps sigma positive for any real rho.
    Uses ``jax.nn.softplus`` (stable for large |rho|).
    """
    return jax.nn.softplus(rho)


def _floored_sigma(rho):
    """softplus(rho) floored at sqrt(finfo.tiny) (~1e-19 in f32, ~1e-154 in f64).

    Below the floor sigma**2 would underflow to 0 and ``(w - mu) / sigma``
    (and its gradient) would become 0/0; rho that negative (< -43 in f32) is
    far outside any sensible initialisation, so the floor changes nothing in
    practice but keeps every value and gradient finite.
    """
    dtype = jnp.result_type(rho, float)
    floor = math.sqrt(float(jnp.finfo(dtype).tiny))
    return jnp.maximum(softplus_sigma(rho), floor)


def _normal_logpdf(x, loc, scale):
    """Element-wise log N(x; loc, scale), scale a standard deviation."""
    z = (x - loc) / scale
    return -0.5 * z * z - jnp.log(scale) - 0.5 * _LOG_2PI


def bbb_log_q(w, mu, rho):
    """Log-density of sampled weights under the variational posterior.

    ``sum_j log N(w_j; mu_j, softplus(rho_j))`` over all elements: the
    ``log q(w^(i) | theta)`` term of Eq. (6) of prabhu22 (one MC sample i).

    sigma is floored at sqrt(finfo.tiny) (only reached for rho < -43 in f32)
    so that value and gradients stay finite.

    Args:
      w: sampled weights, any shape.
      mu, rho: posterior parameters, broadcastable to ``w``.

    Returns:
      Scalar.
    """
    w, mu, rho = jnp.broadcast_arrays(w, mu, rho)
    return jnp.sum(_normal_logpdf(w, mu, _floored_sigma(rho)))


def bbb_log_prior_gaussian(w, sigma=1.0):
    """Log-density of weights under the Gaussian prior N(0, sigma).

    ``sum_j log N(w_j; 0, sigma)``: the ``log P(w^(i))`` term of Eq. (6) of
    prabhu22 with their prior N(0, 1). ``sigma`` is a standard deviation.

    Returns:
      Scalar.
    """
    return jnp.sum(_normal_logpdf(w, 0.0, jnp.asarray(sigma, jnp.result_type(w, float))))


def bbb_log_prior_mixture(w, pi=0.5, sigma1=1.0, sigma2=0.0025):
    """Log-density of weights under the scale-mixture prior of Blundell et al.

    ``sum_j log(pi N(w_j; 0, sigma1) + (1 - pi) N(w_j; 0, sigma2))``, the
    alternative ``log P(w^(i))`` of Eq. (6) of prabhu22 (Blundell et al. 2015,
    Eq. (7)). ``sigma1`` and ``sigma2`` are standard deviations used as they
    are -- NOT passed through softplus (the authors' released code did that).
    Computed with ``logsumexp`` so that tiny sigma2 does not underflow.

    Returns:
      Scalar.
    """
    dtype = jnp.result_type(w, float)
    w = jnp.asarray(w, dtype)
    pi = jnp.asarray(pi, dtype)
    lp1 = jnp.log(pi) + _normal_logpdf(w, 0.0, jnp.asarray(sigma1, dtype))
    lp2 = jnp.log1p(-pi) + _normal_logpdf(w, 0.0, jnp.asarray(sigma2, dtype))
    return jnp.sum(jnp.logaddexp(lp1, lp2))


def bbb_kl_gaussian(mu, rho, prior_sigma=1.0):
    """Closed-form KL(N(mu, softplus(rho)) || N(0, prior_sigma)), summed.

    The expectation of ``log q(w|theta) - log P(w)`` in Eq. (5) of prabhu22,
    in closed form for the Gaussian prior (the sampled form is Eq. (6)):
    ``log(sp/s) + (s^2 + mu^2) / (2 sp^2) - 1/2`` per element, with
    ``s = softplus(rho)`` (floored at sqrt(finfo.tiny) as in
    :func:`bbb_log_q`), ``sp = prior_sigma``.

    Returns:
      Scalar.
    """
    mu, rho = jnp.broadcast_arrays(mu, rho)
    dtype = jnp.result_type(mu, float)
    sigma = _floored_sigma(rho)
    sp = jnp.asarray(prior_sigma, dtype)
    kl = jnp.log(sp) - jnp.log(sigma) + (sigma**2 + mu**2) / (2.0 * sp**2) - 0.5
    return jnp.sum(kl)
