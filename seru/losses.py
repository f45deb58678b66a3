"""Training losses for label-uncertainty SER (pure ``jnp`` functions).

Contents
--------
* Regression / distribution losses: :func:`ccc_loss` (prabhu22 Eq. (2),
  sridhar21 Eq. (3)), :func:`weighted_mse` (han17 Eq. (7)),
  :func:`soft_label_kld` (sridhar21 Eq. (3)), :func:`label_kl_loss` and
  :func:`label_kl_loss_student_t` (prabhu22 Eq. (7)).
* VAE terms, sridhar21 Eqs. (1)-(4): :func:`reparameterize`, :func:`vae_kl`,
  :func:`reconstruction_nll`.
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

from seru import metrics, sampling  # the vocabulary modules import only each other

_LOG_2PI = math.log(2.0 * math.pi)


# ---------------------------------------------------------------------------
# Bayes-by-Backprop (prabhu22 Eqs. (5)-(6), Blundell et al. 2015)
# ---------------------------------------------------------------------------


def softplus_sigma(rho):
    """Posterior standard deviation ``sigma = softplus(rho) = log(1 + e^rho)``.

    The BBB parameterisation of prabhu22 Sec. 3.2 (Eqs. (5)-(6)), after
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


def _tree_sum(fn, *trees):
    """Sum of ``fn`` over matching leaves: arrays, or whole parameter pytrees."""
    leaves = jax.tree_util.tree_leaves(jax.tree_util.tree_map(fn, *trees))
    if not leaves:
        return jnp.zeros(())
    return sum(leaves[1:], leaves[0])


def bbb_log_q(w, mu, rho):
    """Log-density of sampled weights under the variational posterior.

    ``sum_j log N(w_j; mu_j, softplus(rho_j))`` over all elements: the
    ``log q(w^(i) | theta)`` term of Eq. (6) of prabhu22 (one MC sample i).

    sigma is floored at sqrt(finfo.tiny) (only reached for rho < -43 in f32)
    so that value and gradients stay finite.

    Args:
      w: sampled weights, any shape -- or a pytree of them (the sum then runs
        over all leaves).
      mu, rho: posterior parameters, broadcastable to ``w`` (same pytree
        structure as ``w``).

    Returns:
      Scalar.
    """
    def leaf(w, mu, rho):
        w, mu, rho = jnp.broadcast_arrays(w, mu, rho)
        return jnp.sum(_normal_logpdf(w, mu, _floored_sigma(rho)))

    return _tree_sum(leaf, w, mu, rho)


def bbb_log_prior_gaussian(w, sigma=1.0):
    """Log-density of weights under the Gaussian prior N(0, sigma).

    ``sum_j log N(w_j; 0, sigma)``: the ``log P(w^(i))`` term of Eq. (6) of
    prabhu22 with their prior N(0, 1). ``sigma`` is a standard deviation.
    ``w`` may be an array or a pytree (sum over all leaves).

    Returns:
      Scalar.
    """
    return _tree_sum(
        lambda w: jnp.sum(_normal_logpdf(w, 0.0, jnp.asarray(sigma, jnp.result_type(w, float)))), w)


def bbb_log_prior_mixture(w, pi=0.5, sigma1=1.0, sigma2=0.0025):
    """Log-density of weights under the scale-mixture prior of Blundell et al.

    ``sum_j log(pi N(w_j; 0, sigma1) + (1 - pi) N(w_j; 0, sigma2))``, the
    alternative ``log P(w^(i))`` of Eq. (6) of prabhu22 (Blundell et al. 2015,
    Eq. (7)). ``sigma1`` and ``sigma2`` are standard deviations used as they
    are -- NOT passed through softplus (the authors' released code did that).
    Computed with ``logsumexp`` so that tiny sigma2 does not underflow.
    ``w`` may be an array or a pytree (sum over all leaves).

    Returns:
      Scalar.
    """
    def leaf(w):
        dtype = jnp.result_type(w, float)
        w = jnp.asarray(w, dtype)
        p = jnp.asarray(pi, dtype)
        lp1 = jnp.log(p) + _normal_logpdf(w, 0.0, jnp.asarray(sigma1, dtype))
        lp2 = jnp.log1p(-p) + _normal_logpdf(w, 0.0, jnp.asarray(sigma2, dtype))
        return jnp.sum(jnp.logaddexp(lp1, lp2))

    return _tree_sum(leaf, w)


def bbb_kl_gaussian(mu, rho, prior_sigma=1.0):
    """Closed-form KL(N(mu, softplus(rho)) || N(0, prior_sigma)), summed.

    The expectation of ``log q(w|theta) - log P(w)`` in Eq. (5) of prabhu22,
    in closed form for the Gaussian prior (the sampled form is Eq. (6)):
    ``log(sp/s) + (s^2 + mu^2) / (2 sp^2) - 1/2`` per element, with
    ``s = softplus(rho)`` (floored at sqrt(finfo.tiny) as in
    :func:`bbb_log_q`), ``sp = prior_sigma``. Arrays or matching pytrees.

    Returns:
      Scalar.
    """
    def leaf(mu, rho):
        mu, rho = jnp.broadcast_arrays(mu, rho)
        dtype = jnp.result_type(mu, float)
        sigma = _floored_sigma(rho)
        sp = jnp.asarray(prior_sigma, dtype)
        return jnp.sum(jnp.log(sp) - jnp.log(sigma) + (sigma**2 + mu**2) / (2.0 * sp**2) - 0.5)

    return _tree_sum(leaf, mu, rho)


# ---------------------------------------------------------------------------
# Helpers: masks and valid targets
# ---------------------------------------------------------------------------


def _valid(shape, mask, *targets):
    """Boolean validity: mask (broadcast to ``shape``) and finite targets.

    Non-finite *targets* (NaN = missing annotation) are treated as masked
    out, so that no NaN reaches a loss value or its gradient.
    """
    valid = jnp.ones(shape, bool)
    if mask is not None:
        mask = jnp.asarray(mask)
        try:
            valid = jnp.broadcast_to(mask.astype(bool), shape)
        except ValueError as e:
            raise ValueError(f"mask of shape {mask.shape} does not broadcast to the data shape {shape}") from e
    for t in targets:
        valid = valid & jnp.isfinite(t)
    return valid


def _masked_mean(v, valid):
    """Mean of ``v`` over valid elements; 0 when none is valid (keeps grads finite)."""
    w = valid.astype(v.dtype)
    return jnp.sum(jnp.where(valid, v, 0.0)) / jnp.maximum(jnp.sum(w), 1.0)


# ---------------------------------------------------------------------------
# Regression losses
# ---------------------------------------------------------------------------


def ccc_loss(pred, target, mask=None, eps=1e-8):
    """1 - CCC, averaged over outputs: the L_CCC term of Eq. (8) of prabhu22
    (Eq. (2) there), the (1 - CCC)_consensus term of Eq. (3) of sridhar21 and
    mitra25's dimensional loss.

    Axes: ``pred`` and ``target`` are ``[..., D]`` -- the LAST axis holds the D
    outputs (e.g. arousal/valence/dominance); for each output the CCC is
    computed over ALL other axes pooled (batch and time together, as prabhu22
    does over the frames of a batch); the loss is the mean over outputs of
    1 - CCC_d. A 1-D input is one output with N samples. So pass a single
    time-continuous output as ``[B, T, 1]``, not ``[B, T]``.

    Population (co)variances (ddof = 0, the default of :func:`seru.metrics.ccc`).
    ``mask`` ([..., D] or per-frame [...], 1 = valid) excludes padded frames;
    non-finite targets are excluded too. ``eps`` in the denominator keeps the
    loss finite on constant segments: where both pred and target are constant
    and equal the CCC counts as 0 (loss 1) instead of 0/0; gradients stay finite.
    """
    pred = jnp.asarray(pred)
    target = jnp.asarray(target)
    if pred.ndim == 1:
        pred, target = pred[:, None], target[:, None]
        mask = None if mask is None else jnp.asarray(mask)[:, None]
    elif mask is not None and jnp.ndim(mask) == pred.ndim - 1:
        mask = jnp.asarray(mask)[..., None]   # per-frame mask, shared by all outputs
    pred, target = jnp.broadcast_arrays(pred, target)
    dtype = jnp.result_type(pred, target, float)
    valid = _valid(pred.shape, mask, target)
    w = valid.reshape(-1, pred.shape[-1]).astype(dtype)
    x = jnp.where(valid, pred, 0.0).reshape(-1, pred.shape[-1]).astype(dtype)
    y = jnp.where(valid, target, 0.0).reshape(-1, pred.shape[-1]).astype(dtype)
    n = jnp.maximum(jnp.sum(w, axis=0), 1.0)
    mx = jnp.sum(w * x, axis=0) / n
    my = jnp.sum(w * y, axis=0) / n
    dx = w * (x - mx)
    dy = w * (y - my)
    vx = jnp.sum(dx * dx, axis=0) / n
    vy = jnp.sum(dy * dy, axis=0) / n
    cxy = jnp.sum(dx * dy, axis=0) / n
    c = 2.0 * cxy / (vx + vy + (mx - my) ** 2 + eps)
    return jnp.mean(1.0 - c)


def gaussian_nll_loss(y, mean, logvar, mask=None):
    """Mean over valid rows of -log N(y; mean, exp(logvar)).

    ``1/2 log(2 pi) + 1/2 logvar + (y - mean)^2 / (2 exp(logvar))``: Eq. (5) of
    Kendall & Gal 2017 (with its constant), Eq. (1) of Lakshminarayanan et al.
    2017; per element it is :func:`seru.metrics.gaussian_nll` with
    ``s_hat = exp(logvar / 2)``.

    Args:
      y, mean, logvar: ``[...]`` arrays of one shape (target units; logvar in
        log target-units squared).
      mask: broadcastable to ``y``; 1 = a valid row. Rows with ``mask == 0`` or a
        non-finite ``y`` enter neither the value nor the gradient.

    Returns:
      a scalar (nats per row); 0 when no row is valid.
    """
    y, mean, logvar = jnp.broadcast_arrays(*map(jnp.asarray, (y, mean, logvar)))
    valid = _valid(y.shape, None if mask is None else jnp.asarray(mask) > 0, y)
    nll = metrics.gaussian_nll(jnp.where(valid, y, 0.0), mean, jnp.exp(0.5 * logvar))
    return _masked_mean(nll, valid)


def weighted_mse(pred_e, y_e, pred_s, y_s, w_e, mask=None):
    """Multi-task loss ``w_E MSE_E + w_s MSE_s`` with ``w_E + w_s = 2``.

    Eqs. (7)-(8) of han17: E is the emotional state (EWE gold standard),
    s the perception uncertainty (unbiased std of the raters); w_s = 2 - w_E.
    Each MSE is the mean over valid elements (``mask`` and finite targets).
    ``w_E`` must lie in [0, 2] (checked when it is a concrete number).
    """
    try:
        w_val = float(w_e)
    except (TypeError, jax.errors.ConcretizationTypeError):
        w_val = None
    if w_val is not None and not 0.0 <= w_val <= 2.0:
        raise ValueError(f"weighted_mse: w_e must be in [0, 2] (w_E + w_s = 2, han17 Eq. (8)), got {w_val}")
    pred_e, y_e = jnp.broadcast_arrays(jnp.asarray(pred_e), jnp.asarray(y_e))
    pred_s, y_s = jnp.broadcast_arrays(jnp.asarray(pred_s), jnp.asarray(y_s))
    ve = _valid(pred_e.shape, mask, y_e)
    vs = _valid(pred_s.shape, mask, y_s)
    mse_e = _masked_mean((jnp.where(ve, pred_e, 0.0) - jnp.where(ve, y_e, 0.0)) ** 2, ve)
    mse_s = _masked_mean((jnp.where(vs, pred_s, 0.0) - jnp.where(vs, y_s, 0.0)) ** 2, vs)
    return w_e * mse_e + (2.0 - w_e) * mse_s


def soft_label_kld(target_probs, pred_logits_or_probs, from_logits=True, axis=-1, mask=None, eps=1e-7):
    """KL(target soft labels || predicted distribution), mean over samples.

    The (KLD)_soft term of Eq. (3) of sridhar21 (soft labels = histogram of the
    annotators' scores over 7 bins; mitra25 uses the grader-vote PDF the same
    way): ``sum_k t_k (log t_k - log p_k)`` along ``axis`` with 0 log 0 = 0.

    Args:
      target_probs: [..., K] target distributions (rows sum to 1).
      pred_logits_or_probs: [..., K] logits (``from_logits=True``, exact via log_softmax) or
        probabilities (``from_logits=False``; clipped to [eps, 1] before the
        log, as Keras' KLD loss used by sridhar21 does).
      mask: optional [...] validity per sample; rows whose target contains a
        non-finite value are dropped as well.
    """
    t = jnp.asarray(target_probs)
    pred = jnp.asarray(pred_logits_or_probs)
    dtype = jnp.result_type(t, pred, float)
    t = t.astype(dtype)
    pred = pred.astype(dtype)
    t, pred = jnp.broadcast_arrays(t, pred)
    row_ok = jnp.all(jnp.isfinite(t), axis=axis)
    valid = _valid(row_ok.shape, mask) & row_ok
    valid_k = jnp.expand_dims(valid, axis)
    # invalid rows: neutral values in target AND prediction (no NaN in value or gradient)
    t = jnp.where(valid_k, t, 0.0)
    pred = jnp.where(valid_k, pred, 0.0 if from_logits else 1.0)
    if from_logits:
        logp = jax.nn.log_softmax(pred, axis=axis)
    else:
        logp = jnp.log(jnp.clip(pred, eps, 1.0))
    tlogt = jnp.where(t > 0, t * jnp.log(jnp.where(t > 0, t, 1.0)), 0.0)
    kl = jnp.sum(tlogt - t * logp, axis=axis)
    return _masked_mean(kl, valid)


def _floor(s, s_floor):
    return jnp.maximum(s, s_floor)


def label_kl_loss(m, s, m_hat, s_hat, mask=None, s_floor=1e-2):
    """Label-uncertainty loss L_KL: mean over valid frames of KL(N(m, s) || N(m_hat, s_hat)).

    Eq. (7) of prabhu22 (the alpha-weighted term of their Eq. (8)), label
    distribution N(m, s) of Eq. (4) first; the per-frame divergence is
    :func:`seru.metrics.gaussian_kl`.

    Robustness: both standard deviations are floored at ``s_floor`` (zero
    spread from a single annotator or a constant segment would make the KL
    infinite); frames with ``mask == 0`` or non-finite m / s are excluded
    (NaN there -- in labels or predictions -- reaches neither the value nor
    the gradient); with no valid frame
    the loss is 0. Note: if s_hat is an MC standard deviation, compute it as
    ``sqrt(var + tiny)`` -- the gradient of ``jnp.std`` is NaN at zero spread.
    """
    m, s, m_hat, s_hat = jnp.broadcast_arrays(*map(jnp.asarray, (m, s, m_hat, s_hat)))
    valid = _valid(m.shape, mask, m, s)
    m, m_hat = jnp.where(valid, m, 0.0), jnp.where(valid, m_hat, 0.0)
    s, s_hat = jnp.where(valid, s, 1.0), jnp.where(valid, s_hat, 1.0)
    kl = metrics.gaussian_kl(m, _floor(s, s_floor), m_hat, _floor(s_hat, s_floor))
    return _masked_mean(kl, valid)


def label_kl_loss_student_t(df, m, s, m_hat, s_hat, mask=None, s_floor=1e-2, df_min=3.0, s_is_std=False):
    """Student-t variant of :func:`label_kl_loss`: mean over valid frames of
    KL(t_df(m, s) || N(m_hat, s_hat)).

    Eq. (7) of prabhu22 with the Student-t label distribution of their ACII
    2022 follow-up (df = number of annotators); the per-frame divergence is
    :func:`seru.metrics.student_t_kl` (its docstring gives the scale
    convention; df is clipped to ``df_min`` > 2). Floors, masks and NaN as in
    :func:`label_kl_loss`; non-finite df also excludes a frame.
    """
    df, m, s, m_hat, s_hat = jnp.broadcast_arrays(*map(jnp.asarray, (df, m, s, m_hat, s_hat)))
    valid = _valid(m.shape, mask, m, s, df)
    m, m_hat = jnp.where(valid, m, 0.0), jnp.where(valid, m_hat, 0.0)
    s, s_hat = jnp.where(valid, s, 1.0), jnp.where(valid, s_hat, 1.0)
    df = jnp.where(valid, df, df_min)
    kl = metrics.student_t_kl(df, m, _floor(s, s_floor), m_hat, _floor(s_hat, s_floor),
                              df_min=df_min, s_is_std=s_is_std)
    return _masked_mean(kl, valid)


# ---------------------------------------------------------------------------
# VAE terms (sridhar21 Eqs. (1)-(4))
# ---------------------------------------------------------------------------


def reparameterize(rng, mean, logvar):
    """Sample z = mu + sigma * eps, eps ~ N(0, I), sigma = exp(logvar / 2).

    Eq. (4) of sridhar21 (the reparameterisation trick of Kingma & Welling);
    ``rng`` is an explicit PRNG key (``eps`` from :func:`seru.sampling.normal`);
    differentiable in mean and logvar.
    """
    mean = jnp.asarray(mean)
    eps = sampling.normal(rng, mean.shape, jnp.result_type(mean, float))
    return mean + jnp.exp(0.5 * logvar) * eps


def vae_kl(mean, logvar):
    """KL(q(z|x) || N(0, I)) for a diagonal Gaussian q, summed over the last (latent) axis.

    The KLD(q_phi(z|x) || p_theta(z)) term of Eq. (1) of sridhar21:
    ``-1/2 sum_j (1 + logvar_j - mean_j^2 - exp(logvar_j))``. Returns one
    value per sample (shape ``mean.shape[:-1]``).
    """
    mean = jnp.asarray(mean)
    logvar = jnp.asarray(logvar)
    return -0.5 * jnp.sum(1.0 + logvar - mean**2 - jnp.exp(logvar), axis=-1)


def reconstruction_nll(x, x_hat, kind="bernoulli", from_logits=False, eps=1e-7):
    """Reconstruction negative log-likelihood -log p(x | z), summed over the last (feature) axis.

    The -E_q log p_theta(x|z) term of Eqs. (1)-(2) of sridhar21 for one latent
    sample; returns one value per sample (shape ``x.shape[:-1]``).

    kind="bernoulli" (default; sridhar21's decoder ends in a sigmoid, its
      inputs are scaled to [0, 1]): binary cross-entropy
      ``-sum x log x_hat + (1 - x) log(1 - x_hat)``. ``x_hat`` are
      probabilities clipped to [eps, 1 - eps], or logits with
      ``from_logits=True`` (exact, via log_sigmoid). ``x`` may be any value in
      [0, 1] (continuous Bernoulli normaliser NOT included).
    kind="gaussian": unit-variance Gaussian,
      ``sum 1/2 (x - x_hat)^2 + 1/2 log(2 pi)``.
    """
    x = jnp.asarray(x)
    x_hat = jnp.asarray(x_hat)
    dtype = jnp.result_type(x, x_hat, float)
    x = x.astype(dtype)
    x_hat = x_hat.astype(dtype)
    if kind == "bernoulli":
        if from_logits:
            logp, log1mp = jax.nn.log_sigmoid(x_hat), jax.nn.log_sigmoid(-x_hat)
        else:
            p = jnp.clip(x_hat, eps, 1.0 - eps)
            logp, log1mp = jnp.log(p), jnp.log1p(-p)
        return -jnp.sum(x * logp + (1.0 - x) * log1mp, axis=-1)
    if kind == "gaussian":
        return jnp.sum(0.5 * (x - x_hat) ** 2 + 0.5 * _LOG_2PI, axis=-1)
    raise ValueError(f"reconstruction_nll: kind must be 'bernoulli' or 'gaussian', got {kind!r}")
