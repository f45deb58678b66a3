"""Tests of seru/plots.py: the reject-option curves (sridhar21 Fig. 3), the std scatter, the
state-and-spread time series (han17 Fig. 4) and the spread distribution (han17 Fig. 1)."""

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


@pytest.fixture
def closed_figs(monkeypatch):
    """The figures the plot functions close, kept open for inspection."""
    figs = []
    monkeypatch.setattr(plots._plt(), "close", lambda fig: figs.append(fig))
    return figs


def _recording(n=40, dims=2, seed=0):
    rng = np.random.default_rng(seed)
    mask = (rng.random(n) > 0.25).astype(np.float32)
    targets = {"gold": rng.normal(size=(n, dims)), "std": rng.uniform(0, 1, (n, dims)),
               "mask": mask}
    return targets, rng.normal(size=(n, dims)), rng.uniform(0, 1, (n, dims))


def test_state_and_spread_panels_show_valid_frames_only(tmp_path, closed_figs):
    targets, mean, spread = _recording()
    valid = targets["mask"] > 0
    path = plots.plot_state_and_spread(targets, mean, spread, 1, tmp_path / "r.png",
                                       title="rec: valence", hop_s=0.1, spread_label="sigma")
    (fig,) = closed_figs
    top, bottom = fig.axes
    t = np.arange(40) * 0.1
    for ax, target, pred in ((top, targets["gold"], mean), (bottom, targets["std"], spread)):
        lines = {line.get_label(): line for line in ax.get_lines()}
        assert sorted(lines) == ["predicted", f"target {'gold' if ax is top else 'std'}"]
        tgt = lines[f"target {'gold' if ax is top else 'std'}"]
        np.testing.assert_allclose(tgt.get_xdata(), t)
        np.testing.assert_array_equal(np.isnan(tgt.get_ydata()), ~valid)  # masked: not drawn
        np.testing.assert_allclose(tgt.get_ydata()[valid], target[valid, 1])
        np.testing.assert_array_equal(np.isnan(lines["predicted"].get_ydata()), ~valid)
        np.testing.assert_allclose(lines["predicted"].get_ydata()[valid], pred[valid, 1])
    assert bottom.get_ylabel() == "sigma" and bottom.get_xlabel() == "time (s)"
    assert top.get_title() == "rec: valence: emotional state (mean)"
    assert matplotlib.image.imread(path).shape[:2] == (660, 1210)


def test_state_and_spread_with_one_prediction(tmp_path, closed_figs):
    targets, mean, spread = _recording()
    p1 = plots.plot_state_and_spread(targets, None, spread, 0, tmp_path / "s.png")
    p2 = plots.plot_state_and_spread(targets, mean, None, 0, tmp_path / "m.png")
    (ax1,), (ax2,) = (f.axes for f in closed_figs)
    assert {line.get_label() for line in ax1.get_lines()} == {"target std", "predicted"}
    assert {line.get_label() for line in ax2.get_lines()} == {"target gold", "predicted"}
    for path in (p1, p2):
        assert matplotlib.image.imread(path).shape[:2] == (330, 1210)
    with pytest.raises(ValueError, match="neither a mean nor a spread"):
        plots.plot_state_and_spread(targets, None, None, 0, tmp_path / "x.png")


def test_spread_distribution_bars_are_fractions_on_shared_bins(tmp_path, closed_figs):
    rng = np.random.default_rng(1)
    std = rng.uniform(0, 1, (200, 2))
    std[3, 0] = np.nan
    spread = rng.uniform(0.2, 0.6, (200, 2))
    path = plots.plot_spread_distribution(std, ("arousal", "valence"), tmp_path / "d.png",
                                          spread=spread, scale_label="sigma", bins=10)
    (fig,) = closed_figs
    assert [ax.get_title() for ax in fig.axes] == ["arousal", "valence"]
    ax = fig.axes[0]
    target, pred = ax.containers
    x = std[:, 0][np.isfinite(std[:, 0])]
    edges = np.histogram_bin_edges(np.concatenate([x, spread[:, 0]]), 10)
    np.testing.assert_allclose([b.get_height() for b in target], np.histogram(x, edges)[0] / 199)
    np.testing.assert_allclose([b.get_height() for b in pred],
                               np.histogram(spread[:, 0], edges)[0] / 200)
    np.testing.assert_allclose([b.get_x() for b in pred], edges[:-1])
    assert ax.get_xlabel() == "sigma"
    assert matplotlib.image.imread(path).shape[:2] == (385, 990)
    plots.plot_spread_distribution(std[:, :1], ("arousal",), tmp_path / "one.png")
    assert len(closed_figs[-1].axes[0].containers) == 1  # no prediction: the targets alone
    with pytest.raises(ValueError, match="spread"):
        plots.plot_spread_distribution(std, ("arousal", "valence"), tmp_path / "x.png",
                                       spread=spread[:, :1])
