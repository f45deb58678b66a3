"""Figures of an evaluation (matplotlib, Agg backend; files only, no display).

* :func:`plot_recording`: like prabhu22 Fig. 2, the annotators' individual
  ratings of one recording over time with their mean +- std, and the
  predicted mean +- predicted std (m_hat +- s_hat).
* :func:`plot_state_and_spread`: like han17 Fig. 4, one recording's predicted
  mean against the gold standard and its predicted spread against the
  targets' ``std`` over time, each in a panel of its own (for a spread on a
  scale of its own, or a system that predicts only one of them).
* :func:`plot_spread_distribution`: like han17 Fig. 1, the histogram of the
  targets' ``std`` (the perception uncertainty) per dimension, with the
  predicted spread's overlaid.
* :func:`plot_std_scatter`: predicted s_hat against the raters' std, frame by
  frame, with the identity line and their CCC.
* :func:`plot_reject_curves`: CCC against test coverage, one curve per method
  (the reject option, sridhar21 Fig. 3); :func:`reject_curve_points` reads
  such a curve from the ``ccc_cov<percent>`` keys of an evaluation's metrics.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

import jax
import numpy as np

from seru import metrics
from seru.data.schema import FRAME_HOP_S


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_recording(targets: Mapping[str, np.ndarray], mean: np.ndarray, spread: np.ndarray,
                   dim: int, path: str | Path, title: str = "",
                   hop_s: float = FRAME_HOP_S) -> Path:
    """Annotators' ratings, their mean +- std, and the predicted mean +- spread over time
    (prabhu22 Fig. 2); a PNG of 11 x 6 in at 110 dpi.

    ``targets`` holds ``ratings`` [T, D, A] (NaN = missing), ``gold``, ``std``
    and ``mask``; ``mean`` and ``spread`` are the predictions [T, D] (m_hat,
    s_hat); frames are ``hop_s`` seconds apart. Returns the path written.
    """
    plt = _plt()
    mask = np.asarray(targets["mask"]) > 0
    t = np.arange(mask.shape[0]) * hop_s
    fig, (ax, ax2) = plt.subplots(2, 1, figsize=(11, 6), sharex=True,
                                  gridspec_kw={"height_ratios": [2, 1]})
    ratings = np.asarray(targets["ratings"])[:, dim]
    for a in range(ratings.shape[1]):
        ax.plot(t, ratings[:, a], color="0.6", lw=0.6, alpha=0.7,
                label="annotators" if a == 0 else None)
    gold = np.where(mask, np.asarray(targets["gold"])[:, dim], np.nan)
    std = np.where(mask, np.asarray(targets["std"])[:, dim], np.nan)
    ax.fill_between(t, gold - std, gold + std, color="tab:blue", alpha=0.15,
                    label="raters: mean ± std")
    ax.plot(t, gold, color="tab:blue", lw=1.2, label="raters: mean (m)")
    m_hat, s_hat = np.asarray(mean)[:, dim], np.asarray(spread)[:, dim]
    ax.fill_between(t, m_hat - s_hat, m_hat + s_hat, color="tab:red", alpha=0.2,
                    label="predicted: m̂ ± ŝ")
    ax.plot(t, m_hat, color="tab:red", lw=1.2, label="predicted: m̂")
    ax.set_ylabel("rating")
    ax.legend(loc="upper right", fontsize=8, ncol=3)
    ax.set_title(title)
    ax2.plot(t, std, color="tab:blue", lw=1.0, label="raters' std (s)")
    ax2.plot(t, s_hat, color="tab:red", lw=1.0, label="predicted ŝ")
    ax2.set_xlabel("time (s)")
    ax2.set_ylabel("std")
    ax2.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_state_and_spread(targets: Mapping[str, np.ndarray], mean: np.ndarray | None,
                          spread: np.ndarray | None, dim: int, path: str | Path,
                          title: str = "", hop_s: float = FRAME_HOP_S,
                          spread_label: str = "spread") -> Path:
    """Predicted mean vs the gold standard and predicted spread vs the targets' std over
    time, a panel each (han17 Fig. 4: predictions red, gold standard blue); a PNG 11 in wide,
    3 in high per panel, at 110 dpi.

    ``targets`` holds ``mask`` [T] and, for the panels drawn, ``gold`` / ``std`` [T, D]
    (a panel without its target shows the prediction alone); ``mean`` / ``spread`` are the
    predictions [T, D] or ``None`` (no panel). The spread panel's y axis is labelled
    ``spread_label`` (the spread's own scale: ``std`` must be on the same one). Frames
    are ``hop_s`` seconds apart; masked frames are not drawn. Raises ``ValueError`` if
    both predictions are ``None``. Returns the path written.
    """
    panels = [(k, x) for k, x in (("gold", mean), ("std", spread)) if x is not None]
    if not panels:
        raise ValueError("plot_state_and_spread: neither a mean nor a spread to plot")
    plt = _plt()
    mask = np.asarray(targets["mask"]) > 0
    t = np.arange(mask.shape[0]) * hop_s
    fig, axes = plt.subplots(len(panels), 1, figsize=(11, 3 * len(panels)), sharex=True,
                             squeeze=False)
    for ax, (key, pred) in zip(axes[:, 0], panels):
        what = "emotional state (mean)" if key == "gold" else f"uncertainty ({spread_label})"
        if key in targets:
            gold = np.where(mask, np.asarray(targets[key], np.float64)[:, dim], np.nan)
            ax.plot(t, gold, color="tab:blue", lw=1.0, label=f"target {key}")
        ax.plot(t, np.where(mask, np.asarray(pred, np.float64)[:, dim], np.nan),
                color="tab:red", lw=1.0, label="predicted")
        ax.set_ylabel("rating" if key == "gold" else spread_label, fontsize=8)
        ax.set_title(f"{title}: {what}" if title else what, fontsize=9)
        ax.legend(loc="upper right", fontsize=8)
    axes[-1, 0].set_xlabel("time (s)")
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_spread_distribution(std: np.ndarray, dims, path: str | Path,
                             spread: np.ndarray | None = None, scale_label: str = "std",
                             title: str = "", bins: int = 30) -> Path:
    """Histogram of the targets' std per dimension (han17 Fig. 1: the perception
    uncertainty's distribution), a panel per dimension, with the predicted spread's
    histogram overlaid on the same bins when ``spread`` is given (it must be on the std's
    scale, which labels the x axis: ``scale_label``); a PNG 4.5 in wide per panel, 3.5 in
    high, at 110 dpi.

    ``std`` and ``spread`` are ``[N, D]`` (the valid frames of a split, ``D = len(dims)``);
    bars are fractions of the finite values (NaN and inf left out). Raises ``ValueError``
    on a shape mismatch. Returns the path written.
    """
    std = np.asarray(std, np.float64)
    dims = tuple(dims)
    if std.ndim != 2 or std.shape[1] != len(dims) or (
            spread is not None and np.shape(spread) != std.shape):
        raise ValueError(f"plot_spread_distribution: std {std.shape}, spread "
                         f"{None if spread is None else np.shape(spread)}, dims {dims}")
    plt = _plt()
    fig, axes = plt.subplots(1, len(dims), figsize=(4.5 * len(dims), 3.5), squeeze=False)
    for d, (ax, dim) in enumerate(zip(axes[0], dims)):
        series = [("target std", std[:, d], "tab:blue")]
        if spread is not None:
            series.append(("predicted", np.asarray(spread, np.float64)[:, d], "tab:red"))
        series = [(n, x[np.isfinite(x)], c) for n, x, c in series]
        pooled = np.concatenate([x for _, x, _ in series])
        edges = np.histogram_bin_edges(pooled if pooled.size else [0.0, 1.0], bins)
        for name, x, color in series:
            ax.hist(x, bins=edges, weights=np.full(x.size, 1.0 / max(x.size, 1)),
                    color=color, alpha=0.5, label=f"{name} ({x.size} frames)")
        ax.set_xlabel(scale_label, fontsize=8)
        ax.set_ylabel("fraction of frames", fontsize=8)
        ax.set_title(f"{title}: {dim}" if title else dim, fontsize=9)
        ax.legend(fontsize=7)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_std_scatter(s_hat: np.ndarray, std: np.ndarray, path: str | Path,
                     title: str = "", max_points: int = 20_000) -> Path:
    """Predicted s_hat vs the raters' std, frame by frame (every frame of a split).

    The title gives their CCC (:func:`seru.metrics.ccc`, population moments,
    in float64): NaN if either holds a NaN, fewer than 2 frames are given or
    both are constant and equal.
    """
    plt = _plt()
    s_hat, std = np.asarray(s_hat).ravel(), np.asarray(std).ravel()
    with jax.enable_x64(True):
        ccc = float(metrics.ccc(std.astype(np.float64), s_hat.astype(np.float64), ddof=0))
    idx = np.arange(s_hat.size)
    if s_hat.size > max_points:
        idx = np.random.default_rng(0).choice(s_hat.size, max_points, replace=False)
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.scatter(std[idx], s_hat[idx], s=3, alpha=0.3, color="tab:red")
    hi = float(max(std.max(initial=0), s_hat.max(initial=0))) * 1.05 or 1.0
    ax.plot([0, hi], [0, hi], color="0.3", lw=0.8, ls="--")
    ax.set_xlim(0, hi)
    ax.set_ylim(0, hi)
    ax.set_xlabel("raters' std s")
    ax.set_ylabel("predicted ŝ")
    ax.set_title(f"{title}\nCCC = {ccc:.3f}, {s_hat.size} frames", fontsize=9)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_calibration(curves: Mapping[str, tuple], pits: Mapping[str, np.ndarray],
                     path: str | Path, title: str = "", bins: int = 10) -> Path:
    """Calibration of a predicted spread, one colour per dimension: left, the observed
    coverage of the central intervals against their nominal level (the diagonal is
    calibrated; below it: overconfident); right, the PIT histogram (flat = calibrated,
    U-shaped = overconfident, hump = underconfident). ``curves[dim] = (levels, observed)``
    (:func:`seru.calibration.quantile_calibration`), ``pits[dim]``: PIT values in [0, 1]."""
    plt = _plt()
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 4))
    a.plot([0, 1], [0, 1], color="0.3", lw=0.8, ls="--")
    for dim, (levels, observed) in curves.items():
        a.plot(levels, observed, marker="o", label=dim)
    a.set_xlabel("nominal coverage of the central interval")
    a.set_ylabel("observed coverage")
    a.set_xlim(0, 1)
    a.set_ylim(0, 1)
    a.legend(fontsize=8)
    edges = np.linspace(0, 1, bins + 1)
    for dim, u in pits.items():
        b.hist(np.asarray(u).ravel(), bins=edges, density=True, histtype="step", label=dim)
    b.axhline(1.0, color="0.3", lw=0.8, ls="--")
    b.set_xlabel("PIT = Φ((y − m̂) / ŝ)")
    b.set_ylabel("density")
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_reject_curves(curves: Mapping[str, list], path: str | Path, title: str = "",
                       ylabel: str = "CCC") -> Path:
    """CCC against test coverage, one curve per method (reject option, sridhar21 Fig. 3).

    ``curves`` maps a method name to ``[(coverage, ccc), ...]`` with the
    coverage as a fraction (0.2 = 20 %) or a percentage (> 1); the x axis is in
    percent, decreasing from left to right as in the paper (more rejected
    utterances to the right). Points with a non-finite CCC are left out.
    """
    plt = _plt()
    if not curves:
        raise ValueError("plot_reject_curves: no curves to plot")
    fig, ax = plt.subplots(figsize=(5.5, 4))
    markers = "osD^vP*Xh<>"
    for i, (name, pts) in enumerate(curves.items()):
        arr = np.asarray(pts, np.float64).reshape(-1, 2)
        if arr.size == 0:
            raise ValueError(f"plot_reject_curves: curve {name!r} has no points")
        cov = np.where(arr[:, 0] <= 1.0, 100.0 * arr[:, 0], arr[:, 0])
        order = np.argsort(-cov)
        cov, ccc = cov[order], arr[order, 1]
        ok = np.isfinite(ccc)
        ax.plot(cov[ok], ccc[ok], marker=markers[i % len(markers)], ms=4, lw=1.2, label=name)
    ax.invert_xaxis()
    ax.set_xlabel("test coverage (%)")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def reject_curve_points(metrics: Mapping[str, float], prefix: str = "ccc_cov"
                        ) -> list[tuple[float, float]]:
    """``[(coverage, ccc), ...]`` (coverage as a fraction, decreasing) from the
    ``<prefix><percent>`` keys of a metrics dict (``ccc_cov100``, ``ccc_cov80``, ...,
    as :func:`seru.systems.sridhar21.reject_option_metrics` writes them); ``[]``
    when there is none."""
    pts = []
    for k, v in metrics.items():
        if k.startswith(prefix) and k[len(prefix):].isdigit():
            pts.append((int(k[len(prefix):]) / 100.0, float(v)))
    return sorted(pts, key=lambda p: -p[0])
