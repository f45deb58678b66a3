"""Evaluation metrics for SER under label uncertainty (pure ``jnp``, jit-able).

Conventions
-----------
* **Masks.** ``mask`` has the shape of the data (or broadcasts to it); 1 / True
  marks a valid element, 0 / False a padded or missing one. Masked elements
  are never read: a NaN under a 0 in the mask does no harm.
* **NaN.** A NaN under a valid mask entry propagates (the metric is NaN),
  unless ``ignore_nan=True`` is given, which -- as in audmetric -- drops every
  element where either input is NaN.
* **Undefined values are NaN, never a made-up number.** CCC with fewer than
  two valid samples or a zero denominator (both series constant and equal),
  Pearson's r when either series is constant, RMSE with no valid sample:
  all return NaN (audmetric's convention). Static shape errors raise
  ``ValueError``.
* **Variance estimator.** CCC and Pearson use the population estimator
  (``ddof=0``, as audmetric and the AVEC scripts, and as Eq. (2) of prabhu22
  writes it); ``ddof=1`` gives the N - 1 estimator. Pearson's r does not
  depend on it; CCC does (through the bias term (mu_x - mu_y)^2).
"""

from __future__ import annotations

import functools
import math
import statistics

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy import special as jsp
from jax.scipy.stats import norm as jnorm

_LOG_2PI = math.log(2.0 * math.pi)


def _jit(*static):
    """jax.jit with static keyword arguments: eager calls (notebooks, the
    evaluation job) compile once per shape instead of op by op."""
    return functools.partial(jax.jit, static_argnames=static)

__all__ = [
    "ccc", "rmse", "pearson", "gaussian_kl", "student_t_kl",
    "student_t_entropy", "entropy", "reject_curve", "uar", "pa_uar",
    "kbest_predictions", "kbest_uar", "gaussian_nll", "crps_gaussian",
    "interval_coverage",
]


# ---------------------------------------------------------------------------
# Regression metrics: CCC, RMSE, Pearson
# ---------------------------------------------------------------------------


def _weights(x, y, mask, ignore_nan):
    """Float weights (1 valid, 0 not) with the shape of broadcast(x, y)."""
    x, y = jnp.broadcast_arrays(jnp.asarray(x), jnp.asarray(y))
    dtype = jnp.result_type(x, y, float)
    x = x.astype(dtype)
    y = y.astype(dtype)
    if mask is None:
        valid = jnp.ones(x.shape, bool)
    else:
        mask = jnp.asarray(mask)
        try:
            valid = jnp.broadcast_to(mask.astype(bool), x.shape)
        except ValueError as e:
            raise ValueError(
                f"mask of shape {mask.shape} does not broadcast to the data shape {x.shape}") from e
    if ignore_nan:
        valid = valid & ~jnp.isnan(x) & ~jnp.isnan(y)
    w = valid.astype(dtype)
    # masked elements are replaced by 0 so that NaN/inf there never leaks
    x = jnp.where(valid, x, 0.0)
    y = jnp.where(valid, y, 0.0)
    return x, y, w


def _moments(x, y, w, axis, ddof):
    """Masked means, (co)variances and the valid count along ``axis``."""
    n = jnp.sum(w, axis=axis, keepdims=True)
    n_safe = jnp.maximum(n, 1.0)
    mx = jnp.sum(w * x, axis=axis, keepdims=True) / n_safe
    my = jnp.sum(w * y, axis=axis, keepdims=True) / n_safe
    dx = w * (x - mx)
    dy = w * (y - my)
    denom = jnp.maximum(n - ddof, 1.0)
    vx = jnp.sum(dx * dx, axis=axis) / jnp.squeeze(denom, axis)
    vy = jnp.sum(dy * dy, axis=axis) / jnp.squeeze(denom, axis)
    cxy = jnp.sum(dx * dy, axis=axis) / jnp.squeeze(denom, axis)
    return (jnp.squeeze(n, axis), jnp.squeeze(mx, axis), jnp.squeeze(my, axis), vx, vy, cxy)


def _roundoff(mx, my):
    """Variance that is round-off noise: a constant series of value c gets a
    computed variance of order (eps c)^2, not 0; below this it counts as 0."""
    eps = jnp.finfo(jnp.result_type(mx, float)).eps
    return (16.0 * eps) ** 2 * (mx**2 + my**2) + jnp.finfo(jnp.result_type(mx, float)).tiny


@_jit("axis", "ddof", "ignore_nan")
def ccc(x, y, axis=-1, ddof=0, mask=None, ignore_nan=False):
    """Concordance correlation coefficient (Lin 1989).

    ``2 cov(x, y) / (var(x) + var(y) + (mean(x) - mean(y))^2)``, i.e.
    Eq. (2) of prabhu22 / Eq. (10) of han17 (``2 r s_x s_y = 2 cov``).

    Args:
      x, y: arrays of the same (broadcast) shape; symmetric in x and y.
      axis: the axis (int) the coefficient is computed along (time / samples).
      ddof: 0 (default) = population (co)variances, the estimator of
        audmetric, the AVEC scripts and prabhu22 Eq. (2); 1 = N - 1 estimator.
      mask: optional validity mask (1 = valid) broadcastable to x.
      ignore_nan: drop elements where x or y is NaN (as audmetric's flag).

    Returns:
      CCC with ``axis`` reduced. NaN where fewer than 2 valid samples remain or
      where the denominator is 0 (both series constant and equal), as audmetric
      -- but with round-off taken into account: audmetric returns 1.0 for two
      copies of ``[0.3] * 10`` because their computed variance is ~1e-33; here
      a variance below (16 eps mean)^2 counts as 0, so that is NaN too.
    """
    x, y, w = _weights(x, y, mask, ignore_nan)
    n, mx, my, vx, vy, cxy = _moments(x, y, w, axis, ddof)
    den = vx + vy + (mx - my) ** 2
    ok = (n >= 2) & (den > _roundoff(mx, my))
    return jnp.where(ok, 2.0 * cxy / jnp.where(ok, den, 1.0), jnp.nan)


@_jit("axis", "ignore_nan")
def pearson(x, y, axis=-1, mask=None, ignore_nan=False):
    """Pearson correlation coefficient (the r of Eq. (2) of prabhu22 / Eq. (10) of han17).

    NaN where fewer than 2 valid samples remain or either series is constant.
    Masks and NaN as in :func:`ccc`.
    """
    x, y, w = _weights(x, y, mask, ignore_nan)
    n, mx, my, vx, vy, cxy = _moments(x, y, w, axis, 0)
    ok = (n >= 2) & (vx > _roundoff(mx, 0.0)) & (vy > _roundoff(my, 0.0))
    den = jnp.sqrt(jnp.where(ok, vx * vy, 1.0))
    return jnp.where(ok, jnp.clip(cxy / den, -1.0, 1.0), jnp.nan)


@_jit("axis", "ignore_nan")
def rmse(x, y, axis=-1, mask=None, ignore_nan=False):
    """Root mean square error, Eq. (11) of han17.

    NaN where no valid sample remains. Masks and NaN as in :func:`ccc`.
    """
    x, y, w = _weights(x, y, mask, ignore_nan)
    n = jnp.sum(w, axis=axis)
    sse = jnp.sum(w * (x - y) ** 2, axis=axis)
    return jnp.where(n > 0, jnp.sqrt(sse / jnp.maximum(n, 1.0)), jnp.nan)


# ---------------------------------------------------------------------------
# Divergences between label and predicted distributions
# ---------------------------------------------------------------------------


@_jit()
def gaussian_kl(m, s, m_hat, s_hat):
    """KL(N(m, s) || N(m_hat, s_hat)) per element; s, s_hat standard deviations.

    Eq. (7) of prabhu22 with the Gaussian label distribution of their Eq. (4),
    label distribution first (mean-seeking):
    ``log(s_hat / s) + (s^2 + (m - m_hat)^2) / (2 s_hat^2) - 1/2``.

    Zero spread: the divergence from or to a point mass is +inf, and that is
    what is returned wherever ``s <= 0`` or ``s_hat <= 0``. Losses floor both
    scales instead (:func:`seru.losses.label_kl_loss`).
    """
    m, s, m_hat, s_hat = jnp.broadcast_arrays(*map(jnp.asarray, (m, s, m_hat, s_hat)))
    dtype = jnp.result_type(m, s, m_hat, s_hat, float)
    ok = (s > 0) & (s_hat > 0)
    s_ = jnp.where(ok, s, 1.0).astype(dtype)
    sh = jnp.where(ok, s_hat, 1.0).astype(dtype)
    kl = jnp.log(sh) - jnp.log(s_) + (s_**2 + (m - m_hat) ** 2) / (2.0 * sh**2) - 0.5
    return jnp.where(ok, kl, jnp.inf)


def _t_scale(df, s, s_is_std):
    return s * jnp.sqrt((df - 2.0) / df) if s_is_std else s


@_jit()
def student_t_entropy(df, s):
    """Differential entropy of a Student-t with ``df`` degrees of freedom and scale ``s``.

    ``log s + (df+1)/2 [psi((df+1)/2) - psi(df/2)] + log(sqrt(df) B(df/2, 1/2))``
    (closed form; used by :func:`student_t_kl`, the t-distribution label model
    of the ACII 2022 follow-up to prabhu22).
    """
    df = jnp.asarray(df, jnp.result_type(df, s, float))
    half = 0.5 * df
    betaln = jsp.gammaln(half) + jsp.gammaln(0.5) - jsp.gammaln(half + 0.5)
    return (jnp.log(s) + (half + 0.5) * (jsp.digamma(half + 0.5) - jsp.digamma(half))
            + 0.5 * jnp.log(df) + betaln)


@_jit("df_min", "s_is_std")
def student_t_kl(df, m, s, m_hat, s_hat, df_min=3.0, s_is_std=False):
    """KL(t_df(m, s) || N(m_hat, s_hat)) per element.

    The label distribution of the ACII 2022 follow-up to prabhu22 (Student-t
    with df = number of annotators in place of the Gaussian of Eq. (4)),
    plugged into Eq. (7) of prabhu22, label distribution first. Computed as
    cross-entropy minus entropy::

        CE = 1/2 log(2 pi s_hat^2) + (Var_t + (m - m_hat)^2) / (2 s_hat^2)
        KL = CE - H(t),   Var_t = scale^2 df / (df - 2)

    Scale convention: by default ``s`` is the t's *scale* parameter (scipy's
    ``t(df, loc=m, scale=s)``), so with s = the annotators' unbiased std the
    label distribution is wider than N(m, s) by sqrt(df / (df - 2)). With
    ``s_is_std=True``, ``s`` is the t's standard deviation instead (scale =
    s sqrt((df - 2) / df)).

    df <= 2: the t has no finite variance and the KL to any Gaussian is
    infinite; df is therefore clipped to ``df_min`` (default 3, > 2) before
    use -- a recording with 1 or 2 annotators is treated as having 3.
    Zero or negative ``s`` / ``s_hat`` give +inf, as in :func:`gaussian_kl`.
    """
    if not df_min > 2:
        raise ValueError(f"student_t_kl: df_min must be > 2 (finite variance), got {df_min}")
    df, m, s, m_hat, s_hat = jnp.broadcast_arrays(*map(jnp.asarray, (df, m, s, m_hat, s_hat)))
    dtype = jnp.result_type(df, m, s, m_hat, s_hat, float)
    df = jnp.maximum(df.astype(dtype), df_min)
    ok = (s > 0) & (s_hat > 0)
    s_ = jnp.where(ok, s, 1.0).astype(dtype)
    sh = jnp.where(ok, s_hat, 1.0).astype(dtype)
    scale = _t_scale(df, s_, s_is_std)
    var_t = scale**2 * df / (df - 2.0)
    ce = 0.5 * _LOG_2PI + jnp.log(sh) + (var_t + (m - m_hat) ** 2) / (2.0 * sh**2)
    kl = ce - student_t_entropy(df, scale)
    return jnp.where(ok, kl, jnp.inf)


# ---------------------------------------------------------------------------
# Categorical uncertainty
# ---------------------------------------------------------------------------


@_jit("axis", "base")
def entropy(p, axis=-1, base=None):
    """Shannon entropy ``-sum p log p`` of categorical distributions, 0 log 0 = 0.

    The uncertainty measure of sridhar21 (Sec. III-C: entropy of the averaged
    soft-label prediction). ``p`` must already sum to 1 along ``axis`` (it is
    not renormalised). Natural log (nats) unless ``base`` is given.
    """
    p = jnp.asarray(p)
    p = p.astype(jnp.result_type(p, float))
    plogp = jnp.where(p > 0, p * jnp.log(jnp.where(p > 0, p, 1.0)), 0.0)
    h = -jnp.sum(plogp, axis=axis)
    if base is not None:
        h = h / math.log(base)
    return h


# ---------------------------------------------------------------------------
# Reject option (sridhar21)
# ---------------------------------------------------------------------------


def reject_curve(y_true, y_pred, uncertainty, coverages=(1.0, 0.8, 0.6, 0.4, 0.2), ddof=0):
    """CCC on the most certain fraction of samples at each coverage.

    The reject-option evaluation of sridhar21 (Fig. 3, Tables I-III): samples
    are sorted by ``uncertainty`` (ascending; ties keep their input order) and
    the CCC is computed on the first ``round(c * N)`` of them for each
    coverage ``c``. For uncertainty transfer (UTL) pass another attribute's
    uncertainty.

    Args:
      y_true, y_pred, uncertainty: 1-D arrays of length N.
      coverages: static sequence of fractions in (0, 1].

    Returns:
      Array [len(coverages)] of CCC values (NaN where fewer than 2 samples
      remain, see :func:`ccc`).
    """
    y_true, y_pred, uncertainty = map(jnp.asarray, (y_true, y_pred, uncertainty))
    if not (y_true.ndim == y_pred.ndim == uncertainty.ndim == 1) or not (
            y_true.shape == y_pred.shape == uncertainty.shape):
        raise ValueError(
            "reject_curve expects three 1-D arrays of equal length, got shapes "
            f"{y_true.shape}, {y_pred.shape}, {uncertainty.shape}")
    coverages = tuple(float(c) for c in coverages)
    for c in coverages:
        if not 0.0 < c <= 1.0:
            raise ValueError(f"reject_curve: coverage must be in (0, 1], got {c}")
    return _reject_curve(y_true, y_pred, uncertainty, coverages, ddof)


@_jit("coverages", "ddof")
def _reject_curve(y_true, y_pred, uncertainty, coverages, ddof):
    n = y_true.shape[0]
    order = jnp.argsort(uncertainty, stable=True)
    yt = y_true[order]
    yp = y_pred[order]
    out = []
    for c in coverages:
        k = int(round(c * n))
        out.append(ccc(yt, yp, mask=jnp.arange(n) < k, ddof=ddof))
    return jnp.stack(out)


# ---------------------------------------------------------------------------
# Classification: UAR, per-speaker UAR, k-best
# ---------------------------------------------------------------------------


def _check_labels(name, y, num_classes):
    """Integer dtype always; the range [0, num_classes) too when the values are
    concrete (outside jit) -- one_hot would silently drop out-of-range labels."""
    y = jnp.asarray(y)
    if not jnp.issubdtype(y.dtype, jnp.integer):
        raise ValueError(f"{name}: expected integer class labels, got dtype {y.dtype}")
    if num_classes is not None and not isinstance(y, jax.core.Tracer):
        yn = np.asarray(y)
        bad = np.flatnonzero((yn.ravel() < 0) | (yn.ravel() >= num_classes))
        if bad.size:
            raise ValueError(f"{name}: labels must lie in [0, {num_classes}); "
                             f"flat index {int(bad[0])} holds {int(yn.ravel()[bad[0]])} "
                             f"({bad.size} bad value(s) in all)")
    return y


def _recall_counts(y_true, y_pred, num_classes, mask, segment=None, num_segments=None):
    """Per-(segment,) class counts: hits, true occurrences, predicted occurrences."""
    w = jnp.ones(y_true.shape, jnp.float32) if mask is None else jnp.asarray(mask).astype(jnp.float32)
    t1 = jax.nn.one_hot(y_true, num_classes) * w[..., None]
    p1 = jax.nn.one_hot(y_pred, num_classes) * w[..., None]
    hit = t1 * p1
    if segment is None:
        red = lambda a: jnp.sum(a.reshape(-1, num_classes), axis=0)
    else:
        seg = jnp.asarray(segment).reshape(-1)
        red = lambda a: jax.ops.segment_sum(a.reshape(-1, num_classes), seg, num_segments)
    return red(hit), red(t1), red(p1)


def _uar_from_counts(hit, tru, prd):
    """audmetric's convention: classes seen in y_true or y_pred count; recall of a class
    never true is 0 (zero_division=0); classes in neither are skipped."""
    present = (tru > 0) | (prd > 0)
    recall = jnp.where(tru > 0, hit / jnp.maximum(tru, 1.0), 0.0)
    n_cls = jnp.sum(present, axis=-1)
    val = jnp.sum(jnp.where(present, recall, 0.0), axis=-1) / jnp.maximum(n_cls, 1)
    return jnp.where(n_cls > 0, val, jnp.nan), n_cls


def uar(y_true, y_pred, num_classes, mask=None):
    """Unweighted average recall (mean of the per-class recalls).

    The categorical metric of mitra25 (Tables 1-3). Which classes count: the
    convention of ``audmetric.unweighted_average_recall`` with inferred labels
    -- every class that occurs in ``y_true`` or in ``y_pred`` enters the mean;
    a class that is predicted but never true has recall 0; a class absent
    from both is skipped. NaN if no valid sample.

    Args:
      y_true, y_pred: integer labels in [0, num_classes), same shape.
      num_classes: static int.
      mask: optional validity mask of the same shape.
    """
    y_true = _check_labels("uar: y_true", y_true, num_classes)
    y_pred = _check_labels("uar: y_pred", y_pred, num_classes)
    return _uar(y_true, y_pred, num_classes, mask)


@_jit("num_classes")
def _uar(y_true, y_pred, num_classes, mask):
    hit, tru, prd = _recall_counts(y_true, y_pred, num_classes, mask)
    return _uar_from_counts(hit, tru, prd)[0]


def pa_uar(y_true, y_pred, speaker, threshold, num_classes=None, num_speakers=None, mask=None):
    """paUAR-X of mitra25 (Table 3): share of speakers whose UAR exceeds ``threshold``.

    The UAR of each speaker (same class convention as :func:`uar`) is
    compared with ``threshold`` strictly (UAR > X); speaker ids in
    [0, num_speakers) that have no valid sample are left out of the share.
    For the k-best variant pass ``y_pred = kbest_predictions(y_true, probs, k)``.

    Args:
      y_true, y_pred, speaker: integer arrays of the same shape.
      threshold: a fraction in [0, 1] (paUAR-75 is 0.75, not 75).
      num_classes, num_speakers: static ints; when None they are inferred
        from concrete inputs as max label + 1 / max speaker id + 1 (under
        jit they must be given).

    Returns:
      Fraction in [0, 1] (NaN if no speaker has a valid sample).
    """
    if not isinstance(threshold, jax.core.Tracer) and not 0.0 <= float(threshold) <= 1.0:
        raise ValueError(f"pa_uar: threshold is a fraction in [0, 1] (0.75 for paUAR-75), got {threshold}")
    if num_classes is None or num_speakers is None:
        if any(isinstance(a, jax.core.Tracer) for a in (y_true, y_pred, speaker)):
            raise ValueError("pa_uar: under jit pass num_classes and num_speakers (static ints)")
        if num_classes is None:
            num_classes = int(max(np.max(y_true), np.max(y_pred))) + 1
        if num_speakers is None:
            num_speakers = int(np.max(speaker)) + 1
    y_true = _check_labels("pa_uar: y_true", y_true, num_classes)
    y_pred = _check_labels("pa_uar: y_pred", y_pred, num_classes)
    speaker = _check_labels("pa_uar: speaker", speaker, num_speakers)
    return _pa_uar(y_true, y_pred, speaker, threshold, num_classes, num_speakers, mask)


@_jit("num_classes", "num_speakers")
def _pa_uar(y_true, y_pred, speaker, threshold, num_classes, num_speakers, mask):
    hit, tru, prd = _recall_counts(y_true, y_pred, num_classes, mask, speaker, num_speakers)
    per_spk, _ = _uar_from_counts(hit, tru, prd)
    has = jnp.sum(tru, axis=-1) > 0
    n_spk = jnp.sum(has)
    above = jnp.sum(has & (jnp.nan_to_num(per_spk, nan=-1.0) > threshold))
    return jnp.where(n_spk > 0, above / jnp.maximum(n_spk, 1), jnp.nan)


@_jit("k")
def kbest_predictions(y_true, probs, k):
    """Effective labels for k-best scoring (mitra25 Table 3, 2-/3-best hypotheses).

    Returns ``y_true`` where the target is among the ``k`` most probable
    classes of ``probs`` (ties counted in the target's favour: hit when fewer
    than k classes are strictly more probable), else the arg-max class.
    """
    y_true = jnp.asarray(y_true)
    probs = jnp.asarray(probs)
    p_t = jnp.take_along_axis(probs, y_true[..., None], axis=-1)
    n_above = jnp.sum(probs > p_t, axis=-1)
    return jnp.where(n_above < k, y_true, jnp.argmax(probs, axis=-1).astype(y_true.dtype))


def kbest_uar(y_true, probs, k, mask=None):
    """UAR where the target counts as hit if among the k most probable classes (mitra25 Table 3)."""
    probs = jnp.asarray(probs)
    y_true = _check_labels("kbest_uar: y_true", y_true, probs.shape[-1])
    return _uar(y_true, kbest_predictions(y_true, probs, k), probs.shape[-1], mask)


# ---------------------------------------------------------------------------
# Calibration of Gaussian predictive distributions
# ---------------------------------------------------------------------------


@_jit()
def gaussian_nll(y, m_hat, s_hat):
    """Negative log-likelihood of y under N(m_hat, s_hat), per element.

    ``1/2 log(2 pi s_hat^2) + (y - m_hat)^2 / (2 s_hat^2)``: the
    ``-log P(D|w)`` term of Eqs. (5)-(6) of prabhu22 for a Gaussian
    likelihood, used here as a calibration score. ``s_hat <= 0`` gives +inf.
    """
    y, m_hat, s_hat = jnp.broadcast_arrays(*map(jnp.asarray, (y, m_hat, s_hat)))
    ok = s_hat > 0
    sh = jnp.where(ok, s_hat, 1.0)
    nll = 0.5 * _LOG_2PI + jnp.log(sh) + (y - m_hat) ** 2 / (2.0 * sh**2)
    return jnp.where(ok, nll, jnp.inf)


@_jit()
def crps_gaussian(y, m_hat, s_hat):
    """Continuous ranked probability score of N(m_hat, s_hat) at y, closed form.

    ``s [z (2 Phi(z) - 1) + 2 phi(z) - 1/sqrt(pi)]`` with z = (y - m_hat) / s
    (Gneiting & Raftery 2007), a calibration score for the (m_hat, s_hat)
    predictions of prabhu22 / han17. Lower is better; for ``s_hat = 0`` it is
    the limit |y - m_hat| (the absolute error of a point forecast).
    """
    y, m_hat, s_hat = jnp.broadcast_arrays(*map(jnp.asarray, (y, m_hat, s_hat)))
    ok = s_hat > 0
    s = jnp.where(ok, s_hat, 1.0)
    z = (y - m_hat) / s
    crps = s * (z * (2.0 * jnorm.cdf(z) - 1.0) + 2.0 * jnorm.pdf(z) - 1.0 / math.sqrt(math.pi))
    return jnp.where(ok, crps, jnp.abs(y - m_hat))


def interval_coverage(y, m_hat, s_hat, level=0.9, mask=None):
    """Share of targets inside the central ``level`` interval of N(m_hat, s_hat).

    Interval ``m_hat +- Phi^-1((1 + level) / 2) s_hat`` (closed bounds); a
    calibrated predictor of prabhu22's (m_hat, s_hat) covers ``level`` of the
    targets. Reduces over all elements (masked); NaN if none is valid.
    """
    if not 0.0 < float(level) < 1.0:
        raise ValueError(f"interval_coverage: level must be in (0, 1), got {level}")
    z = statistics.NormalDist().inv_cdf(0.5 + 0.5 * float(level))
    return _interval_coverage(y, m_hat, s_hat, z, mask)


@_jit()
def _interval_coverage(y, m_hat, s_hat, z, mask):
    y, m_hat, s_hat = jnp.broadcast_arrays(*map(jnp.asarray, (y, m_hat, s_hat)))
    inside = (jnp.abs(y - m_hat) <= z * s_hat).astype(jnp.result_type(y, float))
    w = jnp.ones_like(inside) if mask is None else jnp.broadcast_to(jnp.asarray(mask), inside.shape).astype(inside.dtype)
    n = jnp.sum(w)
    return jnp.where(n > 0, jnp.sum(w * inside) / jnp.maximum(n, 1.0), jnp.nan)
