"""Figures of a predicted class distribution (matplotlib, Agg backend; files only).

* :func:`plot_hypothesis_confusion`: like mitra25 Fig. 5, the first vs the
  second most probable class, row-normalised, with a panel per consensus
  class whose first-hypothesis row and second-hypothesis column are outlined.
* :func:`plot_speaker_uar`: like mitra25 Fig. 4, each speaker's UAR against
  the share of each emotion among the speaker's items.
* :func:`plot_reliability`: the reliability diagram of the top-label
  confidence (accuracy per equal-width confidence bin, and the bins' counts).
* :func:`plot_entropy_agreement`: the predicted entropy against the vote
  entropy (the graders' disagreement), item by item, with binned means and
  the identity line.

House style of ``seru/plots.py``: PNG at 110 dpi, one call one file, the path
returned.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from seru import class_metrics
from seru.plots import _plt

DPI = 110


def _save(fig, path) -> Path:
    plt = _plt()
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


def _matrix(ax, m, classes, title, vmax=1.0):
    im = ax.imshow(m, cmap="Greys_r", vmin=0.0, vmax=vmax)
    k = len(classes)
    ax.set_xticks(range(k), classes, rotation=90, fontsize=7)
    ax.set_yticks(range(k), classes, fontsize=7)
    ax.set_xlabel("2nd hypothesis", fontsize=8)
    ax.set_ylabel("1st hypothesis", fontsize=8)
    ax.set_title(title, fontsize=9)
    for i in range(k):
        for j in range(k):
            if m[i, j] >= 0.005:
                ax.text(j, i, f"{m[i, j]:.2f}", ha="center", va="center", fontsize=6,
                        color="black" if m[i, j] > 0.5 * vmax else "white")
    return im


def plot_hypothesis_confusion(first: np.ndarray, second: np.ndarray, classes: Sequence[str],
                              path: str | Path, y_true: np.ndarray | None = None,
                              title: str = "") -> Path:
    """First vs second hypothesis (mitra25 Appendix A.7, Fig. 5); a PNG of 3.6 x 3.4 in per
    panel (at most 4 panels a row) at 110 dpi.

    Panel 1: ``C[i, j]`` = the share of the items whose first hypothesis is class i that
    have class j second (row-normalised, :func:`seru.class_metrics.confusion`; the
    diagonal is empty by construction). With ``y_true`` (consensus labels ``[N]``), one
    more panel per class c that has items: the same matrix over the items of class c as
    shares of those items (the panel sums to 1), row c outlined (first hypothesis right,
    the paper's horizontal bar) and column c outlined (second hypothesis right, the
    vertical bar).

    Args:
      first, second: class indices ``[N]`` (:func:`seru.class_metrics.top_hypotheses`).
      classes: the K class names.
      path: the PNG to write.
      y_true: optional consensus labels ``[N]`` in [0, K).
      title: a suptitle.

    Returns the path written.
    """
    classes = [str(c) for c in classes]
    k = len(classes)
    panels = [("all items: row-normalised",
               class_metrics.confusion(first, second, k, normalize="row"), None)]
    if y_true is not None:
        y_true = np.asarray(y_true)
        for c in range(k):
            rows = y_true == c
            if rows.any():
                m = class_metrics.confusion(np.asarray(first)[rows], np.asarray(second)[rows],
                                            k, normalize="all")
                panels.append((f"consensus {classes[c]} ({int(rows.sum())} items)", m, c))
    plt = _plt()
    from matplotlib.patches import Rectangle

    cols = min(len(panels), 4)
    nrows = math.ceil(len(panels) / cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(3.6 * cols, 3.4 * nrows), squeeze=False)
    for ax, (name, m, c) in zip(axes.ravel(), panels):
        _matrix(ax, m, classes, name)
        if c is not None:
            for xy, w, h in (((-0.5, c - 0.5), k, 1), ((c - 0.5, -0.5), 1, k)):
                ax.add_patch(Rectangle(xy, w, h, fill=False, edgecolor="0.55", lw=2.0))
    for ax in axes.ravel()[len(panels):]:
        ax.axis("off")
    if title:
        fig.suptitle(title, fontsize=10)
    return _save(fig, path)


def plot_speaker_uar(uar: Mapping[str, float], shares: Mapping[str, np.ndarray],
                     classes: Sequence[str], path: str | Path,
                     labels: Mapping[str, str] | None = None, title: str = "") -> Path:
    """Per-speaker UAR against the speaker's emotion distribution (mitra25 Appendix A.6,
    Fig. 4); a PNG 3 in high, 0.28 in wide per speaker (6 to 30 in), at 110 dpi.

    One stacked bar per speaker (sorted by UAR, ascending) of the share of each class
    among the speaker's items (0-1), with the speaker's UAR as a black dot on the same
    axis.

    Args:
      uar: speaker -> UAR; shares: speaker -> ``[K]`` shares (summing to 1); the speakers
        of ``uar`` are drawn (NaN UARs last).
      classes: the K class names.
      labels: optional speaker -> tick label (e.g. the name with its gender).
      title: the axes title.

    Returns the path written.
    """
    speakers = sorted(uar, key=lambda s: (not np.isfinite(uar[s]), uar[s], s))
    k = len(classes)
    plt = _plt()
    fig, ax = plt.subplots(figsize=(min(max(6.0, 0.28 * len(speakers) + 2.0), 30.0), 3.0 + 0.6))
    x = np.arange(len(speakers))
    bottom = np.zeros(len(speakers))
    cmap = plt.get_cmap("tab10" if k <= 10 else "tab20")
    for c in range(k):
        h = np.array([np.asarray(shares[s], np.float64)[c] for s in speakers])
        ax.bar(x, h, bottom=bottom, width=0.8, color=cmap(c % cmap.N), label=str(classes[c]))
        bottom += h
    u = np.array([uar[s] for s in speakers], np.float64)
    ax.plot(x, u, "o", color="black", ms=4, label="UAR")
    ax.set_xticks(x, [(labels or {}).get(s, s) for s in speakers], rotation=90, fontsize=6)
    ax.set_ylim(0.0, 1.02)
    ax.set_xlim(-0.6, len(speakers) - 0.4)
    ax.set_ylabel("share of items / UAR", fontsize=8)
    ax.set_xlabel("speaker (sorted by UAR)", fontsize=8)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    if title:
        ax.set_title(title, fontsize=9)
    return _save(fig, path)


def plot_reliability(confidence: np.ndarray, correct: np.ndarray, path: str | Path,
                     n_bins: int = 15, soft: tuple[np.ndarray, np.ndarray] | None = None,
                     title: str = "") -> Path:
    """Reliability diagram of the top-label confidence; a PNG of 5 x 6 in at 110 dpi.

    Top panel: the hit rate per equal-width confidence bin
    (:func:`seru.class_metrics.reliability_bins`) as bars, with the identity (perfect
    calibration) and, when ``soft`` is given, the mean soft correctness per bin (e.g. the
    vote share of the predicted class) as a line; the title gives the ECE of the hits
    (as :func:`seru.class_metrics.top_label_ece`). Bottom panel: the number of items per
    bin (of ``confidence``).

    Args:
      confidence: ``[N]`` top-label probabilities; correct: ``[N]`` 1/0 hits (e.g. the
        items with a consensus label).
      soft: optional ``(confidence [M], soft correctness [M] in [0, 1])``, possibly over
        other items (e.g. all items, against the vote PDF).

    Returns the path written.
    """
    counts, conf, acc = class_metrics.reliability_bins(confidence, correct, n_bins)
    n = int(counts.sum())
    full = counts > 0
    ece = float(np.sum(counts[full] / n * np.abs(acc[full] - conf[full]))) if n else np.nan
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    mids = 0.5 * (edges[:-1] + edges[1:])
    plt = _plt()
    fig, (ax, ax2) = plt.subplots(2, 1, figsize=(5, 6), sharex=True,
                                  gridspec_kw={"height_ratios": [3, 1]})
    ax.bar(mids[full], acc[full], width=1.0 / n_bins, color="tab:blue", alpha=0.7,
           edgecolor="white", label="accuracy (consensus)")
    ax.plot([0, 1], [0, 1], color="0.3", ls="--", lw=0.8, label="perfect calibration")
    if soft is not None:
        _, _, sacc = class_metrics.reliability_bins(soft[0], soft[1], n_bins)
        ok = np.isfinite(sacc)
        ax.plot(mids[ok], sacc[ok], "o-", color="tab:red", ms=3, lw=1.0,
                label="vote share of the predicted class")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_ylabel("accuracy", fontsize=8)
    ax.legend(fontsize=7, loc="upper left")
    head = f"{title}\n" if title else ""
    ax.set_title(f"{head}top-label ECE = {ece:.3f} ({n_bins} bins, {int(counts.sum())} items)",
                 fontsize=9)
    ax2.bar(mids, counts, width=1.0 / n_bins, color="0.5", edgecolor="white")
    ax2.set_xlabel("top-label confidence", fontsize=8)
    ax2.set_ylabel("items", fontsize=8)
    return _save(fig, path)


def plot_entropy_agreement(pred_entropy: np.ndarray, vote_entropy: np.ndarray,
                           num_classes: int, path: str | Path, n_bins: int = 10,
                           title: str = "") -> Path:
    """Predicted entropy against vote entropy, item by item; a PNG of 5 x 5 in at 110 dpi.

    Both axes in nats on ``[0, ln K]`` (:func:`seru.class_metrics.entropy` of the predicted
    distribution and of the vote PDF). Grey dots: the items; red line: the mean predicted
    entropy in each of ``n_bins`` equal-width bins of the vote entropy (bins without items
    left out; right-closed as :func:`seru.class_metrics.reliability_bins`, on ``[0, ln
    K]``); dashed: ``y = x``, where a model that is as uncertain as its graders disagree
    would lie. The title gives Spearman's rho (``scipy.stats.spearmanr``, as
    :func:`seru.class_metrics.spearman_entropy_votes`) and the number of items.

    Args:
      pred_entropy, vote_entropy: ``[N]`` in nats.
      num_classes: K (the axis limit ``ln K``; >= 2).
      path: the PNG to write.

    Returns the path written. Raises ``ValueError`` for arrays that are not ``[N]`` of one
    length or ``num_classes < 2``.
    """
    h = np.asarray(pred_entropy, np.float64)
    hv = np.asarray(vote_entropy, np.float64)
    if h.ndim != 1 or h.shape != hv.shape or num_classes < 2:
        raise ValueError(f"plot_entropy_agreement: need two [N] arrays and K >= 2, got "
                         f"{h.shape}, {hv.shape}, K = {num_classes}")
    top = math.log(num_classes)
    counts, mean_v, mean_h = class_metrics.reliability_bins(
        np.clip(hv / top, 0.0, 1.0), np.clip(h / top, 0.0, 1.0), n_bins)
    full = counts > 0
    rho = float("nan")
    if h.size >= 2 and np.ptp(h) > 0 and np.ptp(hv) > 0:
        from scipy.stats import spearmanr

        rho = float(spearmanr(h, hv).statistic)
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot(hv, h, "o", color="0.5", ms=3, alpha=0.35, label="items")
    ax.plot(top * mean_v[full], top * mean_h[full], "o-", color="tab:red", ms=4, lw=1.2,
            label=f"mean per vote-entropy bin ({n_bins} bins)")
    ax.plot([0, top], [0, top], color="0.3", ls="--", lw=0.8, label="y = x")
    pad = 0.03 * top
    ax.set_xlim(-pad, top + pad)
    ax.set_ylim(-pad, top + pad)
    ax.set_xlabel("vote entropy (graders' disagreement, nats)", fontsize=8)
    ax.set_ylabel("predicted entropy (nats)", fontsize=8)
    ax.legend(fontsize=7, loc="upper left")
    head = f"{title}\n" if title else ""
    ax.set_title(f"{head}Spearman rho = {rho:.3f} ({h.size} items)", fontsize=9)
    return _save(fig, path)
