"""Tests of seru/plots.py: the reject-option curves (sridhar21 Fig. 3)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.image  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from seru import plots  # noqa: E402


def test_reject_curve_points_reads_coverage_keys():
    m = {"ccc": 0.5, "ccc_cov100": 0.5, "ccc_cov20": 0.9, "ccc_cov60": 0.7, "ccc_q1": 0.1,
         "ccc_covx": 3.0, "stl_ccc_cov80": 0.2}
    assert plots.reject_curve_points(m) == [(1.0, 0.5), (0.6, 0.7), (0.2, 0.9)]
    assert plots.reject_curve_points(m, prefix="stl_ccc_cov") == [(0.8, 0.2)]
    assert plots.reject_curve_points({"ccc": 1.0}) == []


def test_plot_reject_curves_draws_each_method(tmp_path, monkeypatch):
    figs = []
    plt = plots._plt()
    monkeypatch.setattr(plt, "close", lambda fig: figs.append(fig))
    curves = {"vae_er": [(0.2, 0.8), (1.0, 0.6), (0.6, 0.7)],
              "mcd": [(100, 0.55), (80, np.nan), (20, 0.75)]}
    path = plots.plot_reject_curves(curves, tmp_path / "fig3.png", title="arousal")
    (fig,) = figs
    (ax,) = fig.axes
    lines = {l.get_label(): l for l in ax.get_lines()}
    assert sorted(lines) == ["mcd", "vae_er"]
    # coverage in percent, sorted from 100 % down; NaN points left out
    np.testing.assert_allclose(lines["vae_er"].get_xdata(), [100, 60, 20])
    np.testing.assert_allclose(lines["vae_er"].get_ydata(), [0.6, 0.7, 0.8])
    np.testing.assert_allclose(lines["mcd"].get_xdata(), [100, 20])
    np.testing.assert_allclose(lines["mcd"].get_ydata(), [0.55, 0.75])
    lo, hi = ax.get_xlim()
    assert lo > hi  # inverted: decreasing coverage to the right, as in the paper
    img = matplotlib.image.imread(path)
    assert img.shape[:2] == (round(4 * 110), round(5.5 * 110))


def test_plot_reject_curves_rejects_empty(tmp_path):
    with pytest.raises(ValueError, match="no curves"):
        plots.plot_reject_curves({}, tmp_path / "x.png")
    with pytest.raises(ValueError, match="'a' has no points"):
        plots.plot_reject_curves({"a": []}, tmp_path / "x.png")


def test_std_scatter_title_gives_the_ccc(tmp_path, monkeypatch):
    """The title's CCC is Lin's with population moments (audmetric as the oracle);
    NaN, not a made-up 0, when both series are constant and equal."""
    import audmetric

    figs = []
    plt = plots._plt()
    monkeypatch.setattr(plt, "close", lambda fig: figs.append(fig))
    rng = np.random.default_rng(0)
    std = rng.uniform(0.1, 1.0, size=300).astype(np.float32)
    s_hat = (0.7 * std + 0.2 * rng.normal(size=300) + 0.1).astype(np.float32)
    plots.plot_std_scatter(s_hat, std, tmp_path / "s.png", title="arousal")
    want = audmetric.concordance_cc(std.astype(np.float64), s_hat.astype(np.float64))
    assert figs[-1].axes[0].get_title() == f"arousal\nCCC = {want:.3f}, 300 frames"
    const = np.full(10, 0.3, np.float32)
    plots.plot_std_scatter(const, const, tmp_path / "c.png")
    assert figs[-1].axes[0].get_title() == "\nCCC = nan, 10 frames"
