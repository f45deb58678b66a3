"""Post-processing of time-continuous predictions (pure ``jnp`` + host-side fitting).

* :func:`median_filter` -- the sole post-processing of prabhu22 (Sec. 4.3:
  window of b = 50 frames, 2 s).
* The AVEC post-processing chain used by han17 (Sec. 4.2, after Ringeval et
  al., AVEC 2015): smoothing, centring, scaling, time shift, each parameter
  fitted on the development set and applied unchanged to test:
  :func:`fit_chain` -> :class:`ChainParams` -> :func:`apply_chain`.
* Late fusion by linear regression, Eq. (9) of han17:
  :func:`fit_late_fusion` -> weights -> :func:`apply_late_fusion`.

Time is the last axis unless ``axis`` says otherwise; leading axes are
independent sequences (recordings) of equal length.
"""

from __future__ import annotations

import functools
from typing import NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from seru import metrics

__all__ = [
    "median_filter", "time_shift", "ChainParams", "fit_chain", "apply_chain",
    "fit_late_fusion", "apply_late_fusion",
]

_PAD_MODES = {"nearest": "edge", "reflect": "symmetric", "mirror": "reflect", "constant": "constant"}


@functools.partial(jax.jit, static_argnames=("window", "axis", "mode"))
def median_filter(x, window, axis=-1, mode="nearest"):
    """Running median along ``axis`` (time): the post-processing of prabhu22
    (Sec. 4.3, window 50 frames = 2 s, the BBB window size b).

    Conventions (identical to ``scipy.ndimage.median_filter(x, size=window,
    mode=mode)`` along one axis for odd windows):

    * Window of output t: input frames ``t - window // 2 ... t - window // 2 +
      window - 1``. Odd windows are centred; an even window (prabhu22's 50)
      reaches one frame further into the past than into the future (the
      placement of scipy.ndimage with origin 0).
    * Even windows return the mean of the two middle values (``np.median``;
      scipy.ndimage would return the upper one).
    * Edges (``mode``): "nearest" (default: the edge frame is repeated --
      a trace's first/last value, no artificial zeros), "reflect"
      (d c b a | a b c d | d c b a), "mirror" (d c b | a b c d | c b a) and
      "constant" (zeros, as scipy.signal.medfilt) -- the scipy.ndimage names.

    ``window`` is a static int >= 1 (1 returns x). A NaN makes every output
    whose window holds it NaN (never a median of the remaining values).
    """
    window = int(window)
    if window < 1:
        raise ValueError(f"median_filter: window must be >= 1, got {window}")
    if mode not in _PAD_MODES:
        raise ValueError(f"median_filter: mode must be one of {sorted(_PAD_MODES)}, got {mode!r}")
    x = jnp.asarray(x)
    if window == 1:
        return x
    xt = jnp.moveaxis(x, axis, -1)
    n = xt.shape[-1]
    left = window // 2
    right = window - 1 - left
    pad = [(0, 0)] * (xt.ndim - 1) + [(left, right)]
    xp = jnp.pad(xt, pad, mode=_PAD_MODES[mode])
    idx = jnp.arange(n)[:, None] + jnp.arange(window)[None, :]
    win = jnp.sort(xp[..., idx], axis=-1)          # [..., n, window]
    if window % 2:
        med = win[..., window // 2]
    else:
        med = 0.5 * (win[..., window // 2 - 1] + win[..., window // 2])
    med = jnp.where(jnp.isnan(win[..., -1]), jnp.nan, med)  # sort puts NaN last
    return jnp.moveaxis(med, -1, axis)


@functools.partial(jax.jit, static_argnames=("shift", "axis"))
def time_shift(x, shift, axis=-1):
    """Shift a prediction trace in time by ``shift`` frames (static int).

    The time-shift step of the AVEC chain of han17 (Sec. 4.2): ``shift > 0``
    delays the trace, ``y[t] = x[t - shift]``, repeating the first frame at
    the start; ``shift < 0`` advances it, ``y[t] = x[t + |shift|]``,
    repeating the last frame at the end. The length is unchanged.
    """
    shift = int(shift)
    x = jnp.asarray(x)
    if shift == 0:
        return x
    xt = jnp.moveaxis(x, axis, -1)
    n = xt.shape[-1]
    idx = jnp.clip(jnp.arange(n) - shift, 0, n - 1)
    return jnp.moveaxis(xt[..., idx], -1, axis)


class ChainParams(NamedTuple):
    """Fitted parameters of the AVEC post-processing chain (han17 Sec. 4.2).

    Applied in this order: median filter of ``window`` frames (1 = none);
    add ``bias``; scale around ``center``: ``center + scale * (p - center)``;
    :func:`time_shift` by ``shift`` frames. Hashable: usable as a static jit
    argument.
    """

    window: int = 1
    bias: float = 0.0
    center: float = 0.0
    scale: float = 1.0
    shift: int = 0


def apply_chain(pred, params: ChainParams, axis=-1, mode="nearest"):
    """Apply a fitted post-processing chain (han17 Sec. 4.2) to predictions.

    Pure and jit-able (``params`` static). See :class:`ChainParams`.
    """
    p = median_filter(pred, params.window, axis=axis, mode=mode)
    p = p + params.bias
    p = params.center + params.scale * (p - params.center)
    return time_shift(p, params.shift, axis=axis)


def _pooled_ccc(y, p):
    return float(metrics.ccc(jnp.ravel(p), jnp.ravel(y)))


def fit_chain(pred_dev, y_dev, windows: Sequence[int] = (1, 11, 21, 31, 41, 51),
              shifts: Sequence[int] = tuple(range(-20, 21, 5)),
              steps: Sequence[str] = ("smooth", "center", "scale", "shift"),
              axis=-1, mode="nearest") -> ChainParams:
    """Fit the AVEC post-processing chain of han17 (Sec. 4.2) on dev data.

    Greedy, in the paper's order; each step sees the output of the previous
    ones and the CCC is pooled over all dev sequences (ddof = 0):

    1. smoothing: the median-filter window in ``windows`` (1 = none) with the
       highest dev CCC;
    2. centring: ``bias = mean(y_dev) - mean(p)`` (removes the mean offset);
    3. scaling: ``scale = std(y_dev) / std(p)`` around ``center = mean(p)``
       (matches the spread; 1 if p is constant);
    4. time shift: the shift in ``shifts`` (frames, see :func:`time_shift`)
       with the highest dev CCC.

    ``steps`` selects which of the four are fitted (the others keep their
    identity value). Ties go to the first candidate. Host-side (a Python loop
    over candidates); the result feeds :func:`apply_chain` on test data.

    Args:
      pred_dev, y_dev: arrays of equal shape, time on ``axis`` (e.g. [B, T]);
        must be finite.
    """
    p = jnp.asarray(pred_dev)
    y = jnp.asarray(y_dev)
    if p.shape != y.shape:
        raise ValueError(f"fit_chain: pred_dev {p.shape} and y_dev {y.shape} must have the same shape")
    if not (bool(jnp.all(jnp.isfinite(p))) and bool(jnp.all(jnp.isfinite(y)))):
        raise ValueError("fit_chain: pred_dev and y_dev must be finite (mask or drop missing frames first)")
    unknown = set(steps) - {"smooth", "center", "scale", "shift"}
    if unknown:
        raise ValueError(f"fit_chain: unknown steps {sorted(unknown)}")
    window, bias, center, scale, shift = 1, 0.0, 0.0, 1.0, 0
    if "smooth" in steps:
        scores = [_pooled_ccc(y, median_filter(p, w, axis=axis, mode=mode)) for w in windows]
        window = int(windows[int(np.nanargmax(scores))])
        p = median_filter(p, window, axis=axis, mode=mode)
    if "center" in steps:
        bias = float(jnp.mean(y) - jnp.mean(p))
        p = p + bias
    if "scale" in steps:
        center = float(jnp.mean(p))
        sp = float(jnp.std(p))
        scale = float(jnp.std(y)) / sp if sp > 0 else 1.0
        p = center + scale * (p - center)
    if "shift" in steps:
        scores = [_pooled_ccc(y, time_shift(p, d, axis=axis)) for d in shifts]
        shift = int(shifts[int(np.nanargmax(scores))])
    return ChainParams(window=window, bias=bias, center=center, scale=scale, shift=shift)


def fit_chain_sequences(preds_dev, ys_dev, masks=None,
                        windows: Sequence[int] = (1, 11, 21, 31, 41, 51),
                        shifts: Sequence[int] = tuple(range(-20, 21, 5)),
                        steps: Sequence[str] = ("smooth", "center", "scale", "shift"),
                        mode="nearest") -> ChainParams:
    """:func:`fit_chain` on sequences of different lengths (whole recordings of dev).

    The same greedy steps in the same order (han17 Sec. 4.2), with the median
    filter and the time shift applied inside each sequence (never across two),
    and every statistic (CCC, means, stds) pooled over the valid frames of all
    sequences.

    Args:
      preds_dev, ys_dev: lists of 1-D arrays ``[T_i]`` (prediction, target), equal lengths
        pairwise; predictions must be finite.
      masks: list of ``[T_i]`` (True / 1 = a frame that counts), default: finite targets.

    Returns:
      :class:`ChainParams` for :func:`apply_chain` (axis = the time axis).

    Raises:
      ValueError: mismatched lists or lengths, non-finite predictions, no valid frame,
        unknown ``steps``.
    """
    if len(preds_dev) != len(ys_dev) or (masks is not None and len(masks) != len(preds_dev)):
        raise ValueError("fit_chain_sequences: preds_dev, ys_dev (and masks) must be lists of "
                         "the same length")
    unknown = set(steps) - {"smooth", "center", "scale", "shift"}
    if unknown:
        raise ValueError(f"fit_chain_sequences: unknown steps {sorted(unknown)}")
    ps = [np.asarray(p, np.float64).reshape(-1) for p in preds_dev]
    ys = [np.asarray(y, np.float64).reshape(-1) for y in ys_dev]
    ms = [np.isfinite(y) if masks is None else np.asarray(m, bool).reshape(-1) & np.isfinite(y)
          for y, m in zip(ys, masks or ys)]
    for i, (p, y) in enumerate(zip(ps, ys)):
        if p.shape != y.shape:
            raise ValueError(f"fit_chain_sequences: sequence {i}: prediction {p.shape} and "
                             f"target {y.shape} differ")
        if not np.all(np.isfinite(p)):
            raise ValueError(f"fit_chain_sequences: sequence {i}: predictions must be finite")
    y_all = np.concatenate([y[m] for y, m in zip(ys, ms)])
    if y_all.size == 0:
        raise ValueError("fit_chain_sequences: no valid frame")

    def valid(seqs):
        return np.concatenate([s[m] for s, m in zip(seqs, ms)])

    def score(seqs):
        return _pooled_ccc(y_all, valid(seqs))

    def each(fn):
        return [np.asarray(fn(jnp.asarray(p)), np.float64) for p in ps]

    window, bias, center, scale, shift = 1, 0.0, 0.0, 1.0, 0
    if "smooth" in steps:
        scores = [score(each(lambda p: median_filter(p, w, axis=0, mode=mode))) for w in windows]
        window = int(windows[int(np.nanargmax(scores))])
        ps = each(lambda p: median_filter(p, window, axis=0, mode=mode))
    if "center" in steps:
        bias = float(y_all.mean() - valid(ps).mean())
        ps = [p + bias for p in ps]
    if "scale" in steps:
        center = float(valid(ps).mean())
        sp = float(valid(ps).std())
        scale = float(y_all.std()) / sp if sp > 0 else 1.0
        ps = [center + scale * (p - center) for p in ps]
    if "shift" in steps:
        scores = [score(each(lambda p: time_shift(p, d, axis=0))) for d in shifts]
        shift = int(shifts[int(np.nanargmax(scores))])
    return ChainParams(window=window, bias=bias, center=center, scale=scale, shift=shift)


def fit_late_fusion(preds_dev, y_dev, mask=None):
    """Fit the late-fusion regression ``y = eps + sum_i gamma_i y_i`` on dev data.

    Eq. (9) of han17 (there: audio and video predictions). Ordinary least
    squares with intercept over all (valid) samples. Note: han17 used WEKA's
    "SimpleLinearRegression", which -- despite Eq. (9) -- picks the single best
    input; we fit all inputs jointly, as Eq. (9) writes it.

    Args:
      preds_dev: [k, ...] k prediction streams; y_dev: [...] targets.
      mask: optional [...] validity (1 = valid).

    Returns:
      weights [k + 1]: (eps, gamma_1, ..., gamma_k).
    """
    preds = jnp.asarray(preds_dev)
    y = jnp.asarray(y_dev)
    if preds.shape[1:] != y.shape:
        raise ValueError(f"fit_late_fusion: preds_dev must be [k, *y_dev.shape], got {preds.shape} and {y.shape}")
    k = preds.shape[0]
    X = jnp.concatenate([jnp.ones((1,) + y.shape, preds.dtype), preds], axis=0).reshape(k + 1, -1).T
    t = y.reshape(-1)
    if mask is not None:
        w = jnp.broadcast_to(jnp.asarray(mask), y.shape).reshape(-1).astype(X.dtype)
        X = jnp.where(w[:, None] > 0, X, 0.0)
        t = jnp.where(w > 0, t, 0.0)
    weights, *_ = jnp.linalg.lstsq(X, t)
    return weights


def apply_late_fusion(preds, weights):
    """Fused prediction ``eps + sum_i gamma_i preds_i`` (Eq. (9) of han17).

    Args:
      preds: [k, ...]; weights: [k + 1] from :func:`fit_late_fusion`.
    """
    preds = jnp.asarray(preds)
    weights = jnp.asarray(weights)
    if weights.shape != (preds.shape[0] + 1,):
        raise ValueError(f"apply_late_fusion: weights must have shape ({preds.shape[0] + 1},), got {weights.shape}")
    return weights[0] + jnp.tensordot(weights[1:], preds, axes=1)
