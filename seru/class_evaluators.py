"""Evaluators of predicted class distributions: ``classes`` and ``class_figures``.

They evaluate every :class:`~seru.systems.base.ClassDistribution` output a
system declares (through ``system.outputs``; a system without one gets
``{}``), on the valid rows of the split (``Context.pooled``). They are
registered in :data:`EVALUATORS`, which ``seru/evaluators.py`` merges into its
registry (this module does not import that one: no import cycle).

Targets a class system provides
-------------------------------
Per item of ``targets(split)``, beside ``mask`` ``[T]`` (the rows to evaluate;
``T = 1`` for an utterance, and an utterance without a consensus keeps
``mask = 1``):

* :data:`VOTES` (``'votes_pdf'``): the graders' vote distribution ``[T, K]``
  (:func:`seru.data.labels.vote_pdf`), rows summing to 1. For probabilities
  with a task axis (``[T, D, K]``) it is ``[T, D, K]``.
* :data:`LABEL` (``'label'``): the consensus class index ``[T]`` (``[T, D]``),
  an integer in ``[0, K)``, or :data:`NO_CONSENSUS` (-1) where the graders
  reached none.
* :data:`SPEAKER` / :data:`GENDER` (``'speaker'`` / ``'gender'``): 0-d str
  arrays, ``''`` if unknown (the pipeline's convention).

Either of :data:`VOTES` / :data:`LABEL` may be missing (the metrics that need it
are then left out); a class output with neither is a ``ValueError``.

Metrics of ``classes`` (prefixed ``<probs key>/`` when a system declares
several class outputs, and ``<task>/`` for a task axis, the task named by
``config.data.dimensions`` when their number matches)
------------------------------------------------------------------------------
Rows with a consensus only (the items without one are counted):

* ``n_items`` (all rows), ``n_no_consensus``, ``n_speakers`` (with a consensus row)
* ``uar`` (arg-max, :func:`seru.metrics.uar`), ``f1_macro``
  (:func:`seru.class_metrics.macro_f1`), ``uar_k1``, ``uar_k2``, ``uar_k3``
  (:func:`seru.metrics.kbest_uar`; ``uar_k1`` differs from ``uar`` only on
  exact ties), mitra25 Tables 2-3
* ``pa_uar50_k{k}``, ``pa_uar75_k{k}``: the share of speakers whose k-best UAR
  is above 50 / 75 % (mitra25 Table 3), rows of unknown speakers left out
* ``gender/<g>/n_speakers``, ``gender/<g>/uar_k{k}``,
  ``gender/<g>/pa_uar50_k{k}``, ``gender/<g>/pa_uar75_k{k}``: the same within
  each gender (mitra25 Table 6: paUAR among that gender's speakers)
* ``ece`` (top-label), ``ece_classwise``, ``brier`` (one-hot consensus):
  :func:`seru.class_metrics.top_label_ece` / ``classwise_ece`` / ``brier``,
  :data:`ECE_BINS` equal-width bins
* ``uar_reject_area``: the reject option with the predicted entropy as the
  uncertainty: UAR of the arg-max on the most certain 10 %, 20 %, ..., 100 %
  of the rows (ties by row order), and the normalised area under that curve
  (trapezoid over the grid divided by its span, i.e. the mean UAR over
  coverages 10-100 %), :func:`seru.calibration.reject_area` with
  :func:`seru.calibration.uar_metric`
* ``uar_reject_area_oracle``: the same area with the rows ordered by their own
  error (every hit kept before any miss, :func:`seru.calibration.oracle_error`):
  the reference a perfect ranking would reach; ``uar`` is what an uninformative
  one reaches in expectation

All rows, against the vote PDF:

* ``brier_votes``, ``kl_votes`` (mean KL(votes || predicted), nats, predicted
  floored at ``class_metrics.KL_EPS``), ``js_votes`` (mean Jensen-Shannon
  divergence, nats), ``ece_votes`` and ``ece_classwise_votes`` (the vote
  share of a class as its soft correctness)
* ``spearman_entropy_votes``: Spearman's rank correlation between the predicted
  entropy and the vote entropy (the graders' disagreement), both in nats
  (:func:`seru.class_metrics.spearman_entropy_votes`); NaN when either is
  constant

With no consensus row, the consensus metrics are NaN (keys kept; no gender keys).

Figures of ``class_figures`` (when ``ctx.write`` and ``eval.plot``; suffixed
like the metric prefix, ``/`` -> ``_``), :mod:`seru.class_plots`:
``class_hypotheses.png`` (mitra25 Fig. 5), ``class_speaker_uar.png`` (Fig. 4,
needs labels and speakers), ``class_reliability.png`` (needs labels or votes),
``class_entropy_agreement.png`` (predicted vs vote entropy, needs votes).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import numpy as np

from seru import calibration, class_metrics, metrics
from seru.systems.base import ClassDistribution

#: target key of the vote distribution ``[T, K]``
VOTES = "votes_pdf"
#: target key of the consensus class index ``[T]`` (int, :data:`NO_CONSENSUS` = none)
LABEL = "label"
#: target keys of the item's speaker and gender (0-d str, ``''`` = unknown)
SPEAKER, GENDER = "speaker", "gender"
#: the consensus label of an item without a consensus
NO_CONSENSUS = -1
#: hypotheses counted by the k-best metrics (mitra25 Table 3)
KBEST = (1, 2, 3)
#: paUAR thresholds (mitra25: paUAR-50 and paUAR-75)
PA_THRESHOLDS = (0.5, 0.75)
#: equal-width bins of the ECEs and the reliability diagram (Guo et al. 2017)
ECE_BINS = 15

#: name -> evaluator, merged into ``seru.evaluators.EVALUATORS``
EVALUATORS: dict[str, Callable] = {}


def _register(name: str):
    def deco(fn):
        EVALUATORS[name] = fn
        return fn

    return deco


@dataclasses.dataclass(frozen=True)
class ClassView:
    """One class distribution of a split, pooled over its valid rows (N of them).

    Attributes:
      tag: the metric prefix (``''``, ``'<probs>/'``, ``'<task>/'`` or both).
      classes: the K class names (``ClassDistribution.classes``, else the indices).
      probs: ``[N, K]`` predicted probabilities (float64).
      votes: ``[N, K]`` vote PDF, or ``None`` without :data:`VOTES`.
      label: ``[N]`` int64 consensus (-1 = none), or ``None`` without :data:`LABEL`.
      speaker, gender: ``[N]`` str (``''`` = unknown).
    """

    tag: str
    classes: tuple[str, ...]
    probs: np.ndarray
    votes: np.ndarray | None
    label: np.ndarray | None
    speaker: np.ndarray
    gender: np.ndarray

    @property
    def file_tag(self) -> str:
        return "_" + self.tag.strip("/").replace("/", "_") if self.tag else ""


def _item_strings(ctx, key) -> np.ndarray:
    return np.array([str(np.asarray(t.get(key, ""))) for t in ctx.targets.values()])


def _as_labels(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x)
    if np.issubdtype(x.dtype, np.integer):
        return x.astype(np.int64)
    if not np.all(np.isfinite(x)) or np.any(x != np.rint(x)):
        raise ValueError(f"classes: target {LABEL!r} must hold integer class indices "
                         f"({NO_CONSENSUS} = no consensus)")
    return x.astype(np.int64)


def views(ctx) -> list[ClassView]:
    """The :class:`ClassView` of every class output of ``ctx.system`` (``[]`` if none).

    Raises ``ValueError`` when the targets hold neither :data:`VOTES` nor :data:`LABEL`
    or their shapes do not match the probabilities', ``KeyError`` for an item without
    predictions.
    """
    outs = [o for o in ctx.system.outputs if isinstance(o, ClassDistribution)]
    if not outs:
        return []
    p, t = ctx.pooled
    if VOTES not in t and LABEL not in t:
        raise ValueError(f"classes: the targets hold neither {VOTES!r} ([T, K] per item) nor "
                         f"{LABEL!r} ([T] per item); they hold {sorted(t)}")
    speaker = _item_strings(ctx, SPEAKER)[t["item"]]
    gender = _item_strings(ctx, GENDER)[t["item"]]
    dims = tuple(getattr(getattr(ctx.config, "data", None), "dimensions", ()) or ())
    out = []
    for o in outs:
        probs = np.asarray(p[o.probs], np.float64)
        n, k = probs.shape[0], probs.shape[-1]
        probs = probs.reshape(n, -1, k)
        tasks = probs.shape[1]
        votes = label = None
        if VOTES in t:
            votes = np.asarray(t[VOTES], np.float64)
            if votes.size != probs.size:
                raise ValueError(f"classes: target {VOTES!r} {votes.shape} does not match the "
                                 f"probabilities {o.probs!r} {p[o.probs].shape}")
            votes = votes.reshape(probs.shape)
        if LABEL in t:
            label = _as_labels(t[LABEL])
            if label.size != n * tasks:
                raise ValueError(f"classes: target {LABEL!r} {label.shape} does not match the "
                                 f"probabilities {o.probs!r} {p[o.probs].shape}")
            label = label.reshape(n, tasks)
        names = tuple(o.classes) if len(o.classes) == k else tuple(str(c) for c in range(k))
        for d in range(tasks):
            tag = f"{o.probs}/" if len(outs) > 1 else ""
            if tasks > 1:
                tag += f"{dims[d] if len(dims) == tasks else d}/"
            out.append(ClassView(tag, names, probs[:, d],
                                 None if votes is None else votes[:, d],
                                 None if label is None else label[:, d], speaker, gender))
    return out


def _consensus_metrics(v: ClassView) -> dict[str, float]:
    k = v.probs.shape[1]
    kbest = tuple(j for j in KBEST if j <= k)
    pa_keys = [f"pa_uar{round(100 * x)}_k{j}" for x in PA_THRESHOLDS for j in kbest]
    has = v.label != NO_CONSENSUS
    out = {"n_no_consensus": float(np.sum(~has))}
    y, probs = v.label[has], v.probs[has]
    spk, gen = v.speaker[has], v.gender[has]
    known = spk != ""
    out["n_speakers"] = float(np.unique(spk[known]).size)
    if not y.size:
        nan = float("nan")
        return {**out, **dict.fromkeys(["uar", "f1_macro", *(f"uar_k{j}" for j in kbest),
                                        *pa_keys, "ece", "ece_classwise", "brier",
                                        "uar_reject_area", "uar_reject_area_oracle"], nan)}
    pred = probs.argmax(-1)
    out["uar"] = float(metrics.uar(y, pred, k))
    out["f1_macro"] = class_metrics.macro_f1(y, pred, k)
    for j in kbest:
        out[f"uar_k{j}"] = float(metrics.kbest_uar(y, probs, j))
    for x in PA_THRESHOLDS:
        for j in kbest:
            out[f"pa_uar{round(100 * x)}_k{j}"] = class_metrics.kbest_pa_uar(
                y[known], probs[known], spk[known], x, j)
    for g in sorted(set(gen) - {""}):
        rows = gen == g
        both = rows & known
        out[f"gender/{g}/n_speakers"] = float(np.unique(spk[both]).size)
        for j in kbest:
            out[f"gender/{g}/uar_k{j}"] = float(metrics.kbest_uar(y[rows], probs[rows], j))
        for x in PA_THRESHOLDS:
            for j in kbest:
                out[f"gender/{g}/pa_uar{round(100 * x)}_k{j}"] = class_metrics.kbest_pa_uar(
                    y[both], probs[both], spk[both], x, j)
    out["ece"] = class_metrics.top_label_ece(probs, y, ECE_BINS)
    out["ece_classwise"] = class_metrics.classwise_ece(probs, y, ECE_BINS)
    out["brier"] = float(np.mean(class_metrics.brier(probs, y)))
    score_uar = calibration.uar_metric(k)
    out["uar_reject_area"] = calibration.reject_area(y, pred, class_metrics.entropy(probs),
                                                     score_uar)
    out["uar_reject_area_oracle"] = calibration.reject_area(
        y, pred, calibration.oracle_error(y, pred), score_uar)
    return out


def _vote_metrics(v: ClassView) -> dict[str, float]:
    if not v.probs.shape[0]:
        return dict.fromkeys(["brier_votes", "kl_votes", "js_votes", "ece_votes",
                              "ece_classwise_votes", "spearman_entropy_votes"], float("nan"))
    return {"brier_votes": float(np.mean(class_metrics.brier(v.probs, v.votes))),
            "kl_votes": float(np.mean(class_metrics.kl_divergence(v.votes, v.probs))),
            "js_votes": float(np.mean(class_metrics.js_divergence(v.votes, v.probs))),
            "ece_votes": class_metrics.top_label_ece(v.probs, v.votes, ECE_BINS),
            "ece_classwise_votes": class_metrics.classwise_ece(v.probs, v.votes, ECE_BINS),
            "spearman_entropy_votes": class_metrics.spearman_entropy_votes(v.probs, v.votes)}


def score(v: ClassView) -> dict[str, float]:
    """Every ``classes`` metric of one :class:`ClassView`, without its prefix."""
    out = {"n_items": float(v.probs.shape[0])}
    if v.label is not None:
        out.update(_consensus_metrics(v))
    if v.votes is not None:
        out.update(_vote_metrics(v))
    return out


@_register("classes")
def classes(ctx: Any) -> dict[str, float]:
    """UAR, macro-F1, k-best UAR and paUAR by speaker and gender, calibration, the reject
    option, the divergence from the vote PDF and the predicted entropy as a ranking of the
    graders' disagreement, of every class output (see the module docstring)."""
    return {f"{v.tag}{k}": x for v in views(ctx) for k, x in score(v).items()}


@_register("class_figures")
def class_figures(ctx: Any) -> dict[str, float]:
    """mitra25 Fig. 5 (first vs second hypothesis), Fig. 4 (per-speaker UAR vs the
    speaker's emotion distribution), the top-label reliability diagram and the predicted vs
    vote entropy of every class output; no metrics. Draws only when ``ctx.write`` and
    ``eval.plot``."""
    if not (ctx.write and ctx.config.eval.plot):
        return {}
    vs = views(ctx)
    if not vs:
        return {}
    from seru import class_plots

    ctx.outdir.mkdir(parents=True, exist_ok=True)
    split = ctx.info.get("split", ctx.outdir.name)
    for v in vs:
        k = v.probs.shape[1]
        name = f"{v.tag.rstrip('/')} ({split})" if v.tag else split
        pred = v.probs.argmax(-1)
        if k >= 2 and v.probs.shape[0]:
            first, second = class_metrics.top_hypotheses(v.probs, 2).T
            class_plots.plot_hypothesis_confusion(
                first, second, v.classes, ctx.outdir / f"class_hypotheses{v.file_tag}.png",
                y_true=v.label, title=f"first vs second hypothesis: {name}")
        has = (v.label != NO_CONSENSUS) if v.label is not None else np.zeros(len(pred), bool)
        known = has & (v.speaker != "")
        if known.any():
            y, spk = v.label[known], v.speaker[known]
            uar = class_metrics.group_uar(y, pred[known], spk, k)
            shares = class_metrics.class_shares(y, spk, k)
            gender = dict(zip(spk, v.gender[known]))
            labels = {s: f"{s} ({gender[s]})" if gender[s] else s for s in uar}
            class_plots.plot_speaker_uar(uar, shares, v.classes,
                                         ctx.outdir / f"class_speaker_uar{v.file_tag}.png",
                                         labels=labels,
                                         title=f"per-speaker UAR and emotion distribution: {name}")
        conf = v.probs.max(-1)
        soft = None if v.votes is None else (conf, v.votes[np.arange(len(pred)), pred])
        if has.any() or soft is not None:
            hits = (pred == v.label)[has] if v.label is not None else np.zeros(0)
            class_plots.plot_reliability(conf[has], hits,
                                         ctx.outdir / f"class_reliability{v.file_tag}.png",
                                         n_bins=ECE_BINS, soft=soft, title=f"reliability: {name}")
        if v.votes is not None and k >= 2 and v.probs.shape[0]:
            class_plots.plot_entropy_agreement(
                class_metrics.entropy(v.probs), class_metrics.entropy(v.votes), k,
                ctx.outdir / f"class_entropy_agreement{v.file_tag}.png",
                title=f"predicted entropy vs graders' disagreement: {name}")
    return {}
