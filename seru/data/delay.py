"""Annotation delay chosen on dev: a scan over label shifts scored by a quick linear model.

han17 (Sec. 4.2): "annotation delay compensation was performed to compensate for
the temporal delay between the observable cues ... and the corresponding emotion
reported by the annotators [21 = Mariooryad & Busso, 2015]. In this study, we
identified this delay to be four seconds which was duly compensated, by shifting
the 'gold standard' back in time with respect to the audio-visual features". The
paper does not say how the delay was identified nor over which range (it cites
[21] for the compensation, which models the reaction lag of the evaluators); this
module scans candidate delays on dev: for every candidate delay ``N`` frames,
shift the targets back by ``N`` (:func:`seru.data.labels.shift_labels`), fit a linear
model from features to the shifted targets on train, and keep the ``N`` whose
predictions have the highest concordance (CCC, Eq. (10) of han17,
:func:`seru.metrics.ccc`) with the shifted dev targets. The default search range,
0 to 8 s, is ours (it contains the 4 s of han17).

Details, per candidate shift ``N`` (in frames of the hop):

* **Targets**: per recording ``y_N[t] = y[t + N]``; the last ``N`` frames, which
  :func:`~seru.data.labels.shift_labels` fills with copies of the last label, are
  left out of the fit and of the score (they are padding, not observations, and
  would favour small shifts), as are frames whose (shifted) mask is ``False`` or
  whose target is ``NaN``. A recording of ``T <= N`` frames then contributes nothing.
* **Model**: ridge regression with an unpenalised intercept on the features
  standardised with the training mean / std (so ``ridge`` is scale-free), solved
  with ``numpy.linalg.lstsq`` on the normal equations
  ``(X'X + ridge I') w = X'y``; one model per target dimension.
* **Score**: CCC (population moments) over all valid dev frames pooled (the dev
  recordings concatenated, as the AVEC challenges score), per target dimension;
  the curve is the mean over the dimensions. The best shift is the first maximum
  (ties go to the smaller shift); shifts with an undefined CCC (fewer than 2 dev
  frames) are skipped.
"""

from __future__ import annotations

import jax
import numpy as np

from seru import metrics
from seru.data import labels

__all__ = ["select_delay"]


def _recordings(features, targets, masks, split):
    """Validated float64 lists: features ``[T, F]``, targets ``[T, D]``, masks ``[T, D]``."""
    if isinstance(features, np.ndarray) or isinstance(targets, np.ndarray):
        raise ValueError(f"{split}_features / {split}_targets must be lists of per-recording "
                         "arrays, got an array")
    features, targets = list(features), list(targets)
    if not features:
        raise ValueError(f"{split}_features: expected at least one recording, got none")
    if len(targets) != len(features):
        raise ValueError(f"{split}_targets: expected {len(features)} recordings (as "
                         f"{split}_features), got {len(targets)}")
    masks = [None] * len(features) if masks is None else list(masks)
    if len(masks) != len(features):
        raise ValueError(f"{split}_masks: expected {len(features)} recordings, got {len(masks)}")
    xs, ys, ms = [], [], []
    for i, (x, y, m) in enumerate(zip(features, targets, masks)):
        x = np.asarray(x, np.float64)
        y = np.asarray(y, np.float64)
        if x.ndim != 2:
            raise ValueError(f"{split}_features[{i}]: expected [T, F], got shape {x.shape}")
        if y.ndim == 1:
            y = y[:, None]
        if y.ndim != 2 or y.shape[0] != x.shape[0]:
            raise ValueError(f"{split}_targets[{i}]: expected [T] or [T, D] with T = "
                             f"{x.shape[0]} (as the features), got shape {y.shape}")
        ok = ~np.isnan(y)
        if m is not None:
            m = np.asarray(m, bool)
            if m.ndim == 1:
                m = m[:, None]
            if m.shape[0] != y.shape[0] or m.shape[1] not in (1, y.shape[1]):
                raise ValueError(f"{split}_masks[{i}]: expected [T] or [T, D] = "
                                 f"{list(y.shape)}, got shape {m.shape}")
            ok &= m
        if not np.all(np.isfinite(x)):
            raise ValueError(f"{split}_features[{i}]: features must be finite")
        xs.append(x)
        ys.append(y)
        ms.append(ok)
    if len({x.shape[1] for x in xs}) > 1 or len({y.shape[1] for y in ys}) > 1:
        raise ValueError(f"{split}: all recordings need the same F and D, got feature dims "
                         f"{sorted({x.shape[1] for x in xs})}, target dims "
                         f"{sorted({y.shape[1] for y in ys})}")
    return xs, ys, ms


def _shifted(ys, ms, n):
    """Targets shifted back by ``n`` frames, pooled, with their validity (padding excluded)."""
    yy, mm = [], []
    for y, m in zip(ys, ms):
        t = y.shape[0]
        keep = (np.arange(t) < t - n)[:, None]
        yy.append(labels.shift_labels(y, n, axis=0))
        mm.append(labels.shift_labels(m, n, axis=0) & keep)
    return np.concatenate(yy), np.concatenate(mm)


def select_delay(train_features, train_targets, dev_features, dev_targets, hop_s: float,
                 max_delay_s: float = 8.0, train_masks=None, dev_masks=None,
                 ridge: float = 1.0, step_frames: int = 1) -> dict:
    """Scan annotation delays 0..``max_delay_s``; return the best one on dev and the curve.

    Args:
      train_features, dev_features: lists of per-recording features ``[T, F]`` (finite),
        one row per frame of hop ``hop_s``.
      train_targets, dev_targets: lists of per-recording targets ``[T]`` or ``[T, D]``
        (the unshifted gold standard, same frames as the features; ``NaN`` = missing).
      hop_s: frame hop in seconds (> 0), e.g. 0.1 for han17.
      max_delay_s: largest delay tried, seconds (>= 0; default 8.0); the shifts are
        ``0, step_frames, 2 step_frames, ... <= labels.delay_frames(max_delay_s, hop_s)``.
      train_masks, dev_masks: optional lists of ``[T]`` or ``[T, D]`` booleans
        (``True`` = a valid target frame), given for the *unshifted* targets.
      ridge: L2 penalty (>= 0) on the weights of the standardised features.
      step_frames: stride of the scan in frames (>= 1).

    Returns:
      JSON-able dict: ``best_shift_frames`` (int), ``best_delay_s`` (float, seconds),
      ``shift_frames`` (``[S]`` ints), ``delay_s`` (``[S]`` seconds), ``ccc`` (``[S]``:
      dev CCC per shift, mean over the D target dimensions; ``None`` where undefined),
      ``ccc_per_dim`` (``[S][D]``, ``None`` where undefined).

    Raises:
      ValueError: naming the argument: ``hop_s`` not > 0; ``max_delay_s`` < 0;
        ``ridge`` < 0; ``step_frames`` < 1; a split with no recording, recordings
        of different counts / lengths / feature or target dims, non-finite features,
        a dev split with F or D other than train's, no valid training frame for some
        shift; or no shift with a defined dev CCC.
    """
    hop = float(hop_s)
    if not np.isfinite(hop) or hop <= 0:
        raise ValueError(f"hop_s must be a frame hop in seconds (> 0), got {hop_s!r}")
    if not max_delay_s >= 0:
        raise ValueError(f"max_delay_s must be >= 0 seconds, got {max_delay_s!r}")
    if not ridge >= 0:
        raise ValueError(f"ridge must be >= 0, got {ridge!r}")
    if int(step_frames) < 1:
        raise ValueError(f"step_frames must be >= 1, got {step_frames!r}")
    xs, ys, ms = _recordings(train_features, train_targets, train_masks, "train")
    dxs, dys, dms = _recordings(dev_features, dev_targets, dev_masks, "dev")
    f, d = xs[0].shape[1], ys[0].shape[1]
    if dxs[0].shape[1] != f or dys[0].shape[1] != d:
        raise ValueError(f"dev: expected F = {f} features and D = {d} targets (as train), got "
                         f"F = {dxs[0].shape[1]}, D = {dys[0].shape[1]}")
    ms = [np.broadcast_to(m, y.shape) for m, y in zip(ms, ys)]
    dms = [np.broadcast_to(m, y.shape) for m, y in zip(dms, dys)]

    x = np.concatenate(xs)
    mu, sd = x.mean(0), x.std(0)
    sd = np.where(sd > 0, sd, 1.0)
    xa = np.concatenate([(x - mu) / sd, np.ones((len(x), 1))], axis=1)  # [N, F + 1]
    dxa = np.concatenate([(np.concatenate(dxs) - mu) / sd, np.ones((sum(map(len, dxs)), 1))], 1)
    pen = ridge * np.diag(np.r_[np.ones(f), 0.0])  # intercept unpenalised

    shifts = np.arange(0, labels.delay_frames(max_delay_s, hop) + 1, int(step_frames))
    preds, dtargets, dvalid = [], [], []
    for n in shifts:
        y, m = _shifted(ys, ms, int(n))
        dy, dm = _shifted(dys, dms, int(n))
        pred = np.empty((d, len(dxa)))
        for k in range(d):
            rows = xa[m[:, k]]
            if len(rows) == 0:
                raise ValueError(f"train: no valid target frame in dimension {k} at shift {n} "
                                 "frames (recordings too short or fully masked)")
            w = np.linalg.lstsq(rows.T @ rows + pen, rows.T @ y[m[:, k], k], rcond=None)[0]
            pred[k] = dxa @ w
        preds.append(pred)
        dtargets.append(np.where(dm, dy, 0.0).T)
        dvalid.append(dm.T)
    with jax.enable_x64(True):
        ccc = np.asarray(metrics.ccc(np.stack(preds), np.stack(dtargets),
                                     mask=np.stack(dvalid), ddof=0), np.float64)  # [S, D]
    score = np.mean(ccc, axis=1)  # NaN if any dimension is undefined
    if np.all(np.isnan(score)):
        raise ValueError("dev: the CCC is undefined at every shift (fewer than 2 valid dev "
                         "frames, or constant targets and predictions)")
    best = int(np.nanargmax(score))

    def _list(a):
        return [None if np.isnan(v) else float(v) for v in a]

    return {
        "best_shift_frames": int(shifts[best]),
        "best_delay_s": float(shifts[best] * hop),
        "shift_frames": [int(s) for s in shifts],
        "delay_s": [float(s * hop) for s in shifts],
        "ccc": _list(score),
        "ccc_per_dim": [_list(row) for row in ccc],
    }
