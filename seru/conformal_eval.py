"""Conformal calibration of a trained run: fitted on dev, applied to any split.

``python -m seru.evaluate --workdir DIR --split test --conformal`` fits the
thresholds of :mod:`seru.conformal` on ``data.dev_split`` (:func:`fit`, kept
in ``DIR/eval/conformal_<checkpoint>_<step>.json``), adds the interval or set
of every item to the predictions (:func:`apply`) and reports coverage and size
(the ``conformal`` evaluator, :func:`conformal_metrics`). The Predictor applies
the same file when it exists (``seru.inference``).

What is calibrated, per output the system declares (``system.outputs``):

* :class:`~seru.systems.base.Regression` with a mean: the normalised score
  ``|gold - m_hat| / s_hat`` per dimension (``s_hat`` = the declared spread,
  whatever its scale -- a std, an entropy, han17's sigma -- floored at 1 % of
  its median positive value on dev, :func:`spread_floor`; without a spread
  ``s_hat = 1``: intervals of constant width). The interval ``m_hat +- q s_hat`` is written as ``<mean>_lower`` and
  ``<mean>_upper`` ``[T, D]``.

  - Utterances (one row per item): ``q`` from every dev row; the interval
    covers the gold standard of a new exchangeable utterance with probability
    at least ``1 - alpha``.
  - Recordings (frame-level data): frames of one recording are not
    exchangeable. The ``recording`` unit (default, ``eval.conformal_unit``)
    takes one frame drawn at random from each dev recording
    (:func:`seru.conformal.recording_quantile`, seeded by ``config.seed``): the
    interval covers a frame drawn at random from a new exchangeable recording
    with probability at least ``1 - alpha``. It needs at least
    ``ceil(1 / alpha) - 1`` dev recordings (9 at alpha = 0.1, 19 at 0.05); with fewer,
    ``q`` is infinite and so is the interval. The ``frame`` unit pools every
    dev frame as if exchangeable: a recalibration with no finite-sample
    guarantee. Both are reported; the unit chooses the one written and
    returned.

* :class:`~seru.systems.base.ClassDistribution` ``[T, K]`` (or ``[T, D, K]``, per
  task): adaptive prediction sets (APS) from the dev rows with a consensus label
  (``targets['label'] >= 0``); the Mondrian (class-conditional) thresholds are
  fitted as well and ``eval.conformal_mondrian`` chooses which sets are written as
  ``<probs>_set`` (bool, the shape of the probabilities).

Evaluated on dev itself the coverage holds by construction; on another corpus
(cross-corpus) the rows are not exchangeable with the calibration rows and no
guarantee holds (the numbers are reported all the same).
"""

from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np

from seru import conformal
from seru.systems.base import ClassDistribution, Regression, per_dimension

#: the spread floor as a share of the median calibration spread (:func:`spread_floor`)
FLOOR_SHARE = 0.01
#: consensus label of an item without one (as ``seru.class_evaluators.NO_CONSENSUS``)
NO_LABEL = -1


def _regressions(system):
    return [o for o in system.outputs if isinstance(o, Regression) and o.mean]


def _classes(system):
    return [o for o in system.outputs if isinstance(o, ClassDistribution)]


def _rows(values, dims: int):
    """``[N, D]`` float64 of pooled ``[N, ...]`` values."""
    return np.asarray(values, np.float64).reshape(len(values), dims)


def _spread(p: Mapping, out: Regression, dims: int, like: np.ndarray):
    """The declared spread ``[N, D]`` (ones when the output has none)."""
    return _rows(p[out.spread], dims) if out.spread and out.spread in p else np.ones_like(like)


def spread_floor(s: np.ndarray) -> np.ndarray:
    """The smallest spread a normalised score divides by, per dimension ``[D]``:
    :data:`FLOOR_SHARE` of the median positive finite spread of the calibration rows
    ``s`` ``[N, D]``, at least ``conformal.S_FLOOR`` (which it is when no spread is
    positive). A spread the model regresses (han17's sigma) reaches 0 or below on some
    rows; dividing by it there would make one score, and so a recording-level
    threshold, arbitrarily large."""
    med = np.array([np.median(c[np.isfinite(c) & (c > 0)])
                    if (np.isfinite(c) & (c > 0)).any() else 0.0 for c in s.T])
    return np.maximum(FLOOR_SHARE * med, conformal.S_FLOOR)


def _scores(p: Mapping, t: Mapping, out: Regression, dims: int, floor):
    """``(scores [N, D], finite [N, D])``: normalised scores of the pooled rows, the spread
    floored at ``floor`` ``[D]``."""
    m = _rows(p[out.mean], dims)
    s = _spread(p, out, dims, m)
    y = _rows(t["gold"], dims)
    ok = np.isfinite(y) & np.isfinite(m) & np.isfinite(s)
    scores = np.where(ok, np.abs(y - m) / np.maximum(np.where(ok, s, 1.0), floor), np.nan)
    return scores, ok


def _task_probs(p: Mapping, t: Mapping, out: ClassDistribution):
    """``[(probs [N, K], labels [N])]``, one per task (one without a task axis)."""
    pr = np.asarray(p[out.probs], np.float64)
    lab = np.asarray(t.get("label", np.full(pr.shape[0], NO_LABEL)), np.int64)
    if pr.ndim == 2:
        return [(pr, lab.reshape(-1))]
    lab = lab.reshape(pr.shape[0], pr.shape[1])
    return [(pr[:, d], lab[:, d]) for d in range(pr.shape[1])]


def fit(system, pooled: tuple[Mapping, Mapping], alpha: float, framewise: bool,
        seed: int = 0) -> dict:
    """Conformal thresholds of a calibration split (a JSON-able dict).

    Args:
      system: the run's system (its ``outputs`` say what is calibrated).
      pooled: ``(predictions, targets)`` of the valid rows of the calibration split
        (``seru.evaluators.pool``: post-processed, ``targets['item']`` the item of each
        row), ``targets['gold']`` ``[N, D]`` for regression outputs, ``targets['label']``
        (consensus class, -1 = none) for class outputs.
      alpha: the miscoverage in (0, 1) (0.1: 90 % intervals / sets).
      framewise: rows are frames of recordings (fit the ``recording`` and ``frame``
        units) or one row per utterance.
      seed: seeds the frame drawn from each recording.

    Returns ``{'alpha', 'outputs': {key: ...}}``: per regression output (by its mean
    key) ``q`` ``[D]`` (recording unit for frames, else per utterance), ``q_frame``
    ``[D]`` (frames only), ``n_calibration`` (recordings or utterances); per class
    output (by its probabilities key) ``q`` and ``q_mondrian`` per task (``[K]``) and
    ``n_calibration``. Infinite thresholds are kept as ``inf``. Raises ``ValueError``
    for ``alpha`` outside (0, 1) and ``KeyError`` for a target the output needs.
    """
    if not 0 < alpha < 1:
        raise ValueError(f"eval.conformal_alpha must lie in (0, 1), got {alpha}")
    p, t = pooled
    dims = len(system.config.data.dimensions)
    rng = np.random.default_rng(seed)
    outputs: dict[str, Any] = {}
    for out in _regressions(system):
        if out.mean not in p:
            continue
        floor = spread_floor(_spread(p, out, dims, _rows(p[out.mean], dims)))
        scores, ok = _scores(p, t, out, dims, floor)
        item = np.asarray(t["item"])
        res = {"kind": "interval", "mean": out.mean, "spread": out.spread,
               "s_floor": floor.tolist()}
        if framewise:
            per_rec = [[scores[(item == i) & ok[:, d], d] for i in np.unique(item)]
                       for d in range(dims)]
            res["q"] = [conformal.recording_quantile([s for s in recs if s.size], alpha, rng)
                        for recs in per_rec]
            res["q_frame"] = [conformal.conformal_quantile(scores[ok[:, d], d], alpha)
                              for d in range(dims)]
            res["n_calibration"] = int(min(sum(s.size > 0 for s in recs) for recs in per_rec))
        else:
            res["q"] = [conformal.conformal_quantile(scores[ok[:, d], d], alpha)
                        for d in range(dims)]
            res["n_calibration"] = int(ok.all(axis=1).sum())
        outputs[out.mean] = res
    for out in _classes(system):
        if out.probs not in p:
            continue
        qs, qm, n = [], [], []
        for probs, labels in _task_probs(p, t, out):
            has = labels >= 0
            qs.append(conformal.aps_quantile(probs[has], labels[has], alpha))
            qm.append(conformal.mondrian_quantiles(probs[has], labels[has], alpha).tolist())
            n.append(int(has.sum()))
        outputs[out.probs] = {"kind": "set", "probs": out.probs, "q": qs, "q_mondrian": qm,
                              "n_calibration": min(n)}
    return {"alpha": float(alpha), "outputs": outputs}


def _floor(entry: Mapping) -> np.ndarray:
    """The spread floor ``[D]`` fitted with an interval (``conformal.S_FLOOR`` for a file
    written before floors were fitted)."""
    return np.asarray(entry.get("s_floor", conformal.S_FLOOR), np.float64)


def thresholds(entry: Mapping, unit: str = "recording", mondrian: bool = False):
    """The thresholds of one fitted output that ``unit`` (regression on frames:
    ``'recording'`` or ``'frame'``) or ``mondrian`` (classes) select: ``[D]`` for an
    interval, per task a scalar or ``[K]`` for a set."""
    if entry["kind"] == "interval":
        return np.asarray(entry["q_frame"] if unit == "frame" and "q_frame" in entry
                          else entry["q"], np.float64)
    return [np.asarray(q, np.float64) for q in (entry["q_mondrian"] if mondrian
                                                  else entry["q"])]


def apply(system, fitted: Mapping, item: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """One item's predictions (``[T, ...]``) with the conformal intervals and sets added:
    ``<mean>_lower`` / ``<mean>_upper`` ``[T, D]`` (rating scale; infinite where the
    threshold is) and ``<probs>_set`` (bool, the probabilities' shape; never empty).
    ``fitted``: from :func:`fit`, with the ``unit`` and ``mondrian`` to apply (defaults
    ``'recording'``, False); outputs it does not hold are left as they are."""
    unit, mondrian = fitted.get("unit", "recording"), bool(fitted.get("mondrian", False))
    out = dict(item)
    dims = len(system.config.data.dimensions)
    for key, entry in fitted["outputs"].items():
        if key not in item:
            continue
        if entry["kind"] == "interval":
            m = np.asarray(item[key], np.float64)
            shape = m.shape
            m = m.reshape(-1, dims)
            spread = entry.get("spread")
            s = (np.asarray(item[spread], np.float64).reshape(-1, dims) if spread in item
                 else np.ones_like(m))
            q = thresholds(entry, unit)
            half = q * np.maximum(s, _floor(entry))
            out[key + "_lower"] = (m - half).reshape(shape).astype(np.float32)
            out[key + "_upper"] = (m + half).reshape(shape).astype(np.float32)
        else:
            pr = np.asarray(item[key], np.float64)
            qs = thresholds(entry, mondrian=mondrian)
            if pr.ndim == 2:
                out[key + "_set"] = conformal.aps_sets(pr, qs[0])
            else:
                out[key + "_set"] = np.stack([conformal.aps_sets(pr[:, d], qs[d])
                                              for d in range(pr.shape[1])], axis=1)
    return out


def notes(fitted: Mapping) -> list[str]:
    """One line per fitted output whose selected threshold (``fitted['unit']``) is
    infinite, saying why and what to do (too few calibration recordings or items)."""
    unit = fitted.get("unit", "recording")
    need = math.ceil(1 / fitted["alpha"]) - 1
    lines = []
    for key, entry in fitted["outputs"].items():
        q = thresholds(entry, unit)
        if np.isinf(np.concatenate([np.ravel(x) for x in q])).any():
            what = ("recordings" if "q_frame" in entry and unit != "frame"
                    else "rows (per class for Mondrian sets)")
            hint = (" or --conformal_unit frame (no finite-sample guarantee)"
                    if "q_frame" in entry and unit != "frame" else "")
            lines.append(f"conformal: {key}: the threshold is infinite: {entry['n_calibration']}"
                         f" dev {what}, at least {need} needed at alpha = {fitted['alpha']}; "
                         f"use a larger alpha{hint}")
    return lines


# =============================================================================
# The evaluator
# =============================================================================


def _group_coverage(covered: np.ndarray, groups: np.ndarray, alpha: float, name: str,
                    metric: str) -> dict[str, float]:
    """``<name>/<g>/<metric>``: the mean of ``covered`` (``[N]`` or ``[N, D]``, NaN = no
    row) per group ``g`` of ``groups`` ``[N]`` (``''`` = unknown, left out), then
    ``<metric>_<name>_min`` (the lowest group) and ``<metric>_<name>s_below`` (the
    share of groups below ``1 - alpha``)."""
    res = {}
    for g in sorted(set(groups.tolist()) - {""}):
        c = covered[groups == g]
        if np.isfinite(c).any():
            res[f"{name}/{g}/{metric}"] = float(np.nanmean(c))
    if res:
        vals = np.array(list(res.values()))
        res[f"{metric}_{name}_min"] = float(vals.min())
        res[f"{metric}_{name}s_below"] = float(np.mean(vals < 1 - alpha))
    return res


def conformal_metrics(system, pooled: tuple[Mapping, Mapping], fitted: Mapping,
                      groups: Mapping[str, np.ndarray] | None = None) -> dict[str, float]:
    """Coverage and size of the conformal intervals / sets on an evaluated split.

    Args:
      system, pooled: as :func:`fit` (the split evaluated).
      fitted: from :func:`fit` (on dev).
      groups: ``{'speaker': [N] str, 'gender': [N] str}`` per row (``''`` = unknown),
        for the per-group coverage.

    Returns, for a regression output with a mean: ``conformal_coverage`` (share of
    rows whose gold standard lies in the interval), ``conformal_width`` (mean
    ``2 q s_hat``, rating units), ``conformal_q``, ``conformal_n_calibration``, for
    frames also ``conformal_frame_*`` (the frame unit); per dimension
    ``<name>/<dim>`` when there are several, with ``targets['ratings']``
    ``[N, D, A]`` also ``conformal_coverage_ratings`` (share of the individual
    ratings inside); per speaker and gender group ``speaker/<g>/conformal_coverage``,
    the lowest group's coverage and the share of groups below ``1 - alpha`` (with the
    unit ``fitted['unit']``). For
    class outputs ``conformal_set_coverage``, ``conformal_set_size`` (mean number of
    classes), their ``conformal_mondrian_*`` twins, ``conformal_set_n_calibration``
    (dev rows with a consensus), per class
    ``conformal_set_coverage/class/<c>`` and ``conformal_mondrian_coverage/class/<c>``
    (rows with a consensus; ``<task>/`` prefixed per task). A coverage is NaN
    where no row is finite.
    """
    p, t = pooled
    alpha = fitted["alpha"]
    dims = tuple(system.config.data.dimensions)
    res: dict[str, float] = {}
    for out in _regressions(system):
        entry = fitted["outputs"].get(out.mean)
        if entry is None or out.mean not in p:
            continue
        m = _rows(p[out.mean], len(dims))
        s = np.maximum(_spread(p, out, len(dims), m), _floor(entry))
        y = _rows(t["gold"], len(dims))
        ratings = t.get("ratings")
        units = [("", "recording")] + ([("frame_", "frame")] if "q_frame" in entry else [])
        for prefix, unit in units:
            q = thresholds(entry, unit)
            per_dim = []
            for d in range(len(dims)):
                ok = np.isfinite(y[:, d]) & np.isfinite(m[:, d])
                half = q[d] * s[:, d]
                covered = np.abs(y[:, d] - m[:, d]) <= half
                r = {f"conformal_{prefix}coverage": float(covered[ok].mean()) if ok.any()
                     else math.nan,
                     f"conformal_{prefix}width": float(np.mean(2 * half[ok])) if ok.any()
                     else math.nan,
                     f"conformal_{prefix}q": float(q[d])}
                if ratings is not None:
                    rat = np.asarray(ratings, np.float64)[:, d]
                    fin = np.isfinite(rat) & ok[:, None]
                    inside = np.abs(rat - m[:, d, None]) <= half[:, None]
                    r[f"conformal_{prefix}coverage_ratings"] = (
                        float(inside[fin].mean()) if fin.any() else math.nan)
                per_dim.append(r)
            res.update(per_dimension(dims, per_dim))
        res["conformal_n_calibration"] = float(entry["n_calibration"])
        covered = np.where(np.isfinite(y) & np.isfinite(m),
                           np.abs(y - m) <= thresholds(entry, fitted.get("unit", "recording"))
                           * s, np.nan)
        for name, g in (groups or {}).items():
            res.update(_group_coverage(covered, np.asarray(g), alpha, name,
                                       "conformal_coverage"))
    for out in _classes(system):
        entry = fitted["outputs"].get(out.probs)
        if entry is None or out.probs not in p:
            continue
        tasks = _task_probs(p, t, out)
        names = out.classes or tuple(str(k) for k in range(tasks[0][0].shape[-1]))
        for d, (probs, labels) in enumerate(tasks):
            pre = f"{dims[d]}/" if len(tasks) > 1 and len(tasks) == len(dims) else (
                f"task{d}/" if len(tasks) > 1 else "")
            has = labels >= 0
            for kind, mondrian in (("set", False), ("mondrian", True)):
                sets = conformal.aps_sets(probs, thresholds(entry, mondrian=mondrian)[d])
                hit = sets[np.arange(len(labels)), np.maximum(labels, 0)] & has
                res[f"{pre}conformal_{kind}_coverage"] = (float(hit[has].mean()) if has.any()
                                                          else math.nan)
                res[f"{pre}conformal_{kind}_size"] = float(sets.sum(axis=1).mean())
                for k, c in enumerate(names):
                    rows = labels == k
                    if rows.any():
                        res[f"{pre}conformal_{kind}_coverage/class/{c}"] = float(hit[rows].mean())
                for name, g in (groups or {}).items():
                    res.update(_group_coverage(hit[has], np.asarray(g)[has], alpha, name,
                                               f"{pre}conformal_{kind}_coverage"))
            res[f"{pre}conformal_set_n_calibration"] = float(entry["n_calibration"])
    return res


def conformal_evaluator(ctx) -> dict[str, float]:
    """The ``conformal`` evaluator: :func:`conformal_metrics` of the split with the
    thresholds ``ctx.conformal`` (fitted on dev by the evaluation job; ``{}`` when the
    run is evaluated without ``--conformal``), per ``speaker`` and ``gender`` group."""
    if not getattr(ctx, "conformal", None):
        return {}
    p, t = ctx.pooled
    ids = list(ctx.targets)
    groups = {}
    for key in ("speaker", "gender"):
        names = np.array([str(np.asarray(ctx.targets[r].get(key, ""))) for r in ids])
        if (names != "").any():
            groups[key] = names[t["item"]]
    return conformal_metrics(ctx.system, (p, t), ctx.conformal, groups)


#: name -> evaluator, merged into ``seru.evaluators.EVALUATORS``
EVALUATORS = {"conformal": conformal_evaluator}
