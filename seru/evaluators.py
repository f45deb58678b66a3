"""Evaluators: what the evaluation job computes and draws, chosen by ``config.eval.evaluators``.

In the manner of big_vision's evaluators, each is a function of one
:class:`Context` (the system, the post-processed per-item predictions and
targets, the output folder) that returns metrics to add to ``metrics.json``
and may write files. They read predictions through ``system.outputs``, never
through key names of their own. Registered here:

* ``metrics``: every metric of the system over the pooled valid rows
  (``system.evaluate``).
* ``per_speaker`` / ``per_gender``: the same metrics for each speaker / gender
  group, as ``speaker/<name>/<metric>`` (groups need at least two rows).
* ``figures``: per regression output, a time-series figure per recording and
  dimension (the first ``eval.plot_recordings``, frame-level data only),
  ``recording_<id>_<dim>.png``. A mean with a spread on the rating scale
  (``Regression.spread_on_rating_scale``): the ratings with m +- s and
  m_hat +- s_hat (prabhu22 Fig. 2), plus a predicted-vs-rater-std scatter
  ``std_scatter_<dim>.png`` when the spread is a std. A spread on a scale of
  its own, or only one of mean / spread: a panel of the predicted mean vs
  ``gold`` and one of the predicted spread vs the targets' ``std`` (han17
  Fig. 4). Skipped when ``eval.plot`` is False.
* ``spread_distribution``: the distribution of the targets' ``std`` over the
  valid frames (han17 Fig. 1), with the predicted spread's overlaid, in
  ``spread_distribution.png``; metrics ``std_mean/<dim>`` and the quartiles
  ``std_q25/<dim>``, ``std_q50/<dim>`` (median), ``std_q75/<dim>`` (and the
  same ``spread_*`` of the prediction). Frame-level data with a target ``std``
  only.
* ``reject_curve``: CCC vs coverage (sridhar21 Fig. 3) when the metrics hold
  ``ccc_cov<percent>`` keys.
* ``classes`` / ``class_figures``: for a ``ClassDistribution`` output, UAR,
  macro-F1, k-best UAR and paUAR by speaker and gender, calibration and the
  divergence from the vote PDF; mitra25 Figs. 4-5 and a reliability diagram.
  They live in ``seru/class_evaluators.py`` (targets and metric names there),
  merged into this registry at the bottom of this module.
* ``conformal``: coverage and width / set size of the split-conformal intervals and
  sets fitted on dev (``python -m seru.evaluate --conformal``), overall, per speaker
  and gender group and per class; ``seru/conformal_eval.py``, merged likewise. The
  evaluation job runs it whenever conformal calibration is on.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from seru.systems.base import Regression, per_dimension

EVALUATORS: dict[str, Callable] = {}


def sample_keys(system) -> tuple[str, ...]:
    """Keys of the system's outputs that carry a leading MC-sample axis."""
    return tuple(o.samples for o in system.outputs if isinstance(o, Regression) and o.samples)


def pool(system, preds: Mapping, targets: Mapping) -> tuple[dict, dict]:
    """``(predictions, targets)`` of the valid rows of every item, concatenated.

    Every array whose first axis is the item's time axis (for the sample keys:
    the second) is restricted to the frames where ``targets[id]['mask'] > 0``;
    the targets also get ``item``, the index (in ``targets``' order) of each
    row's item. Raises ``KeyError`` for an item without predictions.
    """
    keys = sample_keys(system)
    cat_p, cat_t = {}, {}
    for index, rid in enumerate(targets):
        if rid not in preds:
            raise KeyError(f"no prediction for item {rid!r}")
        valid = np.asarray(targets[rid]["mask"]) > 0
        n = valid.shape[0]
        for key, v in preds[rid].items():
            if key in keys and v.ndim >= 2 and v.shape[1] == n:
                cat_p.setdefault(key, []).append(v[:, valid])
            elif not key.endswith("_raw") and v.ndim >= 1 and v.shape[0] == n:
                cat_p.setdefault(key, []).append(v[valid])
        for key, v in targets[rid].items():
            v = np.asarray(v)
            if key != "mask" and v.ndim >= 1 and v.shape[0] == n:
                cat_t.setdefault(key, []).append(v[valid])
        cat_t.setdefault("item", []).append(np.full(int(valid.sum()), index, np.int64))
    predictions = {k: np.concatenate(v, axis=1 if k in keys else 0) for k, v in cat_p.items()}
    return predictions, {k: np.concatenate(v) for k, v in cat_t.items()}


@dataclasses.dataclass
class Context:
    """What an evaluator sees.

    Attributes:
      system: the :class:`seru.systems.base.System`.
      config: the run's config.
      preds: item id -> output key -> post-processed array (``[T, ...]``).
      targets: item id -> target key -> array (``gold``, ``std``, ``mask`` ...,
        ``speaker`` / ``gender`` 0-d str).
      outdir: where files go.
      info: the run info of ``metrics.json``.
      write: whether this process writes files (process 0).
      metrics: the metrics of the evaluators run so far.
      conformal: the conformal thresholds fitted on dev (``seru.conformal_eval.fit``),
        or ``None`` when the job runs without ``--conformal``.
    """

    system: Any
    config: Any
    preds: Mapping[str, Mapping[str, np.ndarray]]
    targets: Mapping[str, Mapping[str, np.ndarray]]
    outdir: Path
    info: dict
    write: bool = True
    metrics: dict = dataclasses.field(default_factory=dict)
    conformal: Mapping | None = None
    _pooled: tuple | None = None

    @property
    def pooled(self) -> tuple[dict, dict]:
        """``(predictions, targets)`` of the valid rows of every item (``evaluation.pool``)."""
        if self._pooled is None:
            self._pooled = pool(self.system, self.preds, self.targets)
        return self._pooled


def register(name: str):
    """Decorator: registers ``fn(ctx) -> dict[str, float]`` as evaluator ``name``."""
    def deco(fn):
        EVALUATORS[name] = fn
        return fn

    return deco


def run(names: Sequence[str], ctx: Context) -> dict[str, float]:
    """Runs the evaluators ``names`` in order; their metrics, merged. ``KeyError`` for an
    unknown name (``seru.config.validate`` reports it first)."""
    for name in names:
        if name not in EVALUATORS:
            raise KeyError(f"eval.evaluators: unknown {name!r}; known: {', '.join(EVALUATORS)}")
        ctx.metrics.update(EVALUATORS[name](ctx) or {})
    return ctx.metrics


@register("metrics")
def metrics_table(ctx: Context) -> dict[str, float]:
    p, t = ctx.pooled
    return {k: float(v) for k, v in ctx.system.evaluate(p, t).items()}


def _groups(ctx: Context, key: str) -> dict[str, float]:
    p, t = ctx.pooled
    keys = sample_keys(ctx.system)
    ids = list(ctx.targets)
    names = np.array([str(np.asarray(ctx.targets[r].get(key, ""))) for r in ids])
    row_group = names[t["item"]]
    out = {}
    for g in sorted(set(names)):
        rows = row_group == g
        if rows.sum() < 2 or not g:
            continue
        sub_p = {k: v[:, rows] if k in keys else v[rows] for k, v in p.items()}
        sub_t = {k: v[rows] for k, v in t.items()}
        out.update({f"{key}/{g}/{k}": float(v)
                    for k, v in ctx.system.evaluate(sub_p, sub_t).items()})
    return out


@register("per_speaker")
def per_speaker(ctx: Context) -> dict[str, float]:
    return _groups(ctx, "speaker")


@register("per_gender")
def per_gender(ctx: Context) -> dict[str, float]:
    return _groups(ctx, "gender")


@register("figures")
def figures(ctx: Context) -> dict[str, float]:
    """Time-series figures (and the std scatter) of every regression output; no metrics.

    Draws only when ``ctx.write`` and ``eval.plot``; recording figures need a time base
    (``system.time_base.hop_s``, seconds per frame).
    """
    if not (ctx.write and ctx.config.eval.plot):
        return {}
    from seru import plots

    dims = tuple(ctx.config.data.dimensions)
    hop = getattr(ctx.system.time_base, "hop_s", None)
    ctx.outdir.mkdir(parents=True, exist_ok=True)
    for out in ctx.system.outputs:
        if not isinstance(out, Regression) or not out.keys:
            continue
        views = {rid: p for rid, p in ctx.preds.items() if all(k in p for k in out.keys)}
        band = out.mean is not None and out.spread is not None and out.spread_on_rating_scale
        if not band:
            for rid in list(views)[:ctx.config.eval.plot_recordings] if hop else ():
                mean, spread = (views[rid][k] if k else None for k in (out.mean, out.spread))
                for d, dim in enumerate(dims):
                    plots.plot_state_and_spread(ctx.targets[rid], mean, spread, d,
                                                ctx.outdir / f"recording_{rid}_{dim}.png",
                                                title=f"{rid}: {dim}", hop_s=hop,
                                                spread_label=out.spread_name)
            continue
        if hop is not None:
            for rid in list(views)[:ctx.config.eval.plot_recordings]:
                for d, dim in enumerate(dims):
                    plots.plot_recording(ctx.targets[rid], views[rid][out.mean],
                                         views[rid][out.spread], d,
                                         ctx.outdir / f"recording_{rid}_{dim}.png",
                                         title=f"{rid}: {dim}", hop_s=hop)
        if out.spread_name == "std" and len(views) == len(ctx.preds):
            valid = {rid: np.asarray(ctx.targets[rid]["mask"]) > 0 for rid in views}
            for d, dim in enumerate(dims):
                spread = np.concatenate([views[r][out.spread][valid[r], d] for r in views])
                std = np.concatenate([ctx.targets[r]["std"][valid[r], d] for r in views])
                plots.plot_std_scatter(spread, std, ctx.outdir / f"std_scatter_{dim}.png",
                                       title=f"predicted vs rater std: {dim}")
    return {}


#: percentiles ``spread_distribution`` reports
QUARTILES = (25, 50, 75)


@register("spread_distribution")
def spread_distribution(ctx: Context) -> dict[str, float]:
    """Distribution of the perception uncertainty (han17 Fig. 1): the targets' ``std``
    ``[N, D]`` over the valid frames of the split, per dimension.

    Returns the mean and the quartiles (``np.percentile``, linear) of the finite target
    values, ``std_mean/<dim>``, ``std_q25/<dim>``, ``std_q50/<dim>`` (the median),
    ``std_q75/<dim>``, and, for the first regression output with a spread, the same
    ``spread_*`` of the prediction on the same frames (NaN where no value is finite).
    Writes ``spread_distribution.png`` (a histogram panel per dimension, the predicted
    spread overlaid on the std's axis: meant for a spread that estimates the std) when
    ``ctx.write`` and ``eval.plot``. Returns ``{}`` for
    data without a time base or an item without a target ``std``; ``KeyError`` for an
    item without predictions (``pool``).
    """
    if (getattr(ctx.system.time_base, "hop_s", None) is None or not ctx.targets
            or not all("std" in t for t in ctx.targets.values())):
        return {}
    p, t = ctx.pooled
    dims = tuple(ctx.config.data.dimensions)
    out = next((o for o in ctx.system.outputs
                if isinstance(o, Regression) and o.spread and o.spread in p), None)
    series = {"std": np.asarray(t["std"], np.float64)}
    if out is not None:
        series["spread"] = np.asarray(p[out.spread], np.float64)
    metrics = {}
    for name, values in series.items():
        for d, dim in enumerate(dims):
            v = values[:, d][np.isfinite(values[:, d])]
            keys = ["mean", *(f"q{q}" for q in QUARTILES)]
            stats = [np.mean(v), *np.percentile(v, QUARTILES)] if v.size else [np.nan] * len(keys)
            metrics.update({f"{name}_{k}/{dim}": float(x) for k, x in zip(keys, stats)})
    if ctx.write and ctx.config.eval.plot:
        from seru import plots

        ctx.outdir.mkdir(parents=True, exist_ok=True)
        split = ctx.info.get("split", ctx.outdir.name)
        plots.plot_spread_distribution(
            series["std"], dims, ctx.outdir / "spread_distribution.png",
            spread=series.get("spread"), scale_label=out.spread_name if out else "std",
            title=f"perception uncertainty ({split})")
    return metrics


@register("reject_curve")
def reject_curve(ctx: Context) -> dict[str, float]:
    from seru import plots

    curve = plots.reject_curve_points(ctx.metrics)
    if curve and ctx.write:
        ctx.outdir.mkdir(parents=True, exist_ok=True)
        split = ctx.info.get("split", ctx.outdir.name)
        plots.plot_reject_curves({"/".join(ctx.config.data.dimensions): curve},
                                 ctx.outdir / "reject_curve.png",
                                 title=f"reject option: CCC vs coverage ({split})")
    return {}


#: the smallest std ``cal_nll`` and ``cal_crps`` use (as prabhu22's ``nll`` and ``crps``)
NLL_STD_FLOOR = 0.01


@register("calibration")
def calibration_metrics(ctx: Context) -> dict[str, float]:
    """How honest the predicted uncertainty is (``seru/calibration.py``), for the first
    :class:`Regression` output with a spread.

    Any spread (a std, an entropy, han17's sigma): ``cal_spearman_std`` (Spearman's rank
    correlation of the spread with the raters' std, scipy: the uncertainty as a ranking
    of the raters' disagreement) and, with a mean, ``cal_reject_area`` (the mean CCC of
    the most certain 10-100 % of the rows, ``calibration.reject_area``) and
    ``cal_reject_area_oracle`` (the same with the rows ranked by their own error: the
    best any uncertainty could do). A spread that is a std on the rating scale adds
    ``cal_nll`` and ``cal_crps`` of N(m_hat, s_hat) at the gold standard (mean per row,
    nats and rating units; the std floored at :data:`NLL_STD_FLOOR` as prabhu22's
    metrics do), ``cal_coverage_90`` (share of the gold standard inside the central
    90 % interval), ``cal_error`` (mean |observed - nominal| coverage over 10-90 %),
    ``cal_ence``,
    ``cal_pit_ks`` (Kolmogorov-Smirnov distance of the PIT from uniform, scipy),
    ``cal_sharpness_90`` (mean width of the 90 % interval, rating units) and, with
    ``targets['ratings']``, ``cal_coverage_90_ratings``, and the figure
    ``calibration.png`` (calibration curve and PIT histogram). Per dimension
    ``<name>/<dim>`` when there are several; the plain names hold their mean. Rows
    whose gold standard, mean or spread is not finite are left out."""
    from scipy.stats import kstest, spearmanr

    from seru import calibration, metrics, plots

    out = next((o for o in ctx.system.outputs if isinstance(o, Regression) and o.spread), None)
    preds, targets = ctx.pooled
    if out is None or out.spread not in preds:
        return {}
    dims = tuple(ctx.config.data.dimensions)

    def rows(a):
        return np.asarray(a, np.float64).reshape(-1, len(dims))

    spreads = rows(preds[out.spread])
    means = rows(preds[out.mean]) if out.mean and out.mean in preds else None
    gold = rows(targets["gold"]) if "gold" in targets else None
    std = rows(targets["std"]) if "std" in targets else None
    ratings = targets.get("ratings")
    gaussian = (out.spread_name == "std" and out.spread_on_rating_scale and means is not None
                and gold is not None)
    per_dim, curves, pits = [], {}, {}
    for k, dim in enumerate(dims):
        s = spreads[:, k]
        res = {}
        if std is not None:
            ok = np.isfinite(s) & np.isfinite(std[:, k])
            res["cal_spearman_std"] = float(spearmanr(s[ok], std[ok, k]).statistic)
        if means is not None and gold is not None:
            ok = np.isfinite(s) & np.isfinite(means[:, k]) & np.isfinite(gold[:, k])
            y, m = gold[ok, k], means[ok, k]
            res["cal_reject_area"] = calibration.reject_area(y, m, s[ok])
            res["cal_reject_area_oracle"] = calibration.reject_area(
                y, m, calibration.oracle_error(y, m))
        if gaussian:
            s = s[ok]
            u = calibration.pit(y, m, s)
            curves[dim], pits[dim] = calibration.quantile_calibration(y, m, s), u
            s_nll = np.maximum(s, NLL_STD_FLOOR)
            res.update({"cal_nll": float(np.mean(metrics.gaussian_nll(y, m, s_nll))),
                        "cal_crps": float(np.mean(metrics.crps_gaussian(y, m, s_nll))),
                        "cal_coverage_90": float(metrics.interval_coverage(y, m, s, 0.9)),
                        "cal_error": calibration.calibration_error(y, m, s),
                        "cal_ence": calibration.ence(y, m, s, bins=min(10, y.size)),
                        "cal_pit_ks": float(kstest(u, "uniform").statistic),
                        "cal_sharpness_90": calibration.sharpness(s, 0.9)})
            if ratings is not None:
                r = np.asarray(ratings, np.float64)[ok, k]
                res["cal_coverage_90_ratings"] = float(metrics.interval_coverage(
                    np.nan_to_num(r), m[:, None], s[:, None], 0.9, mask=np.isfinite(r)))
        per_dim.append(res)
    if not per_dim[0]:
        return {}
    out_metrics = per_dimension(dims, per_dim)
    if ctx.write and curves:
        ctx.outdir.mkdir(parents=True, exist_ok=True)
        split = ctx.info.get("split", ctx.outdir.name)
        plots.plot_calibration(curves, pits, ctx.outdir / "calibration.png",
                               title=f"calibration of {out.spread} ({split})")
    return out_metrics


# the class-distribution evaluators (classes, class_figures) and the conformal one have
# modules of their own
from seru.class_evaluators import EVALUATORS as _CLASS_EVALUATORS  # noqa: E402
from seru.conformal_eval import EVALUATORS as _CONFORMAL_EVALUATORS  # noqa: E402

EVALUATORS.update(_CLASS_EVALUATORS)
EVALUATORS.update(_CONFORMAL_EVALUATORS)
