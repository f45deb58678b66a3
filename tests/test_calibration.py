"""Tests of seru/calibration.py against independent oracles: scipy's normal distribution,
loops written here, and the binomial spread of a calibrated prediction's coverage."""

import numpy as np
import pytest
from scipy import stats

from seru import calibration


def _data(n=20000, scale=1.0, seed=0):
    """Predictions N(m, s) and targets drawn from N(m, scale * s): calibrated at scale 1."""
    rng = np.random.default_rng(seed)
    m = rng.normal(size=n)
    s = rng.uniform(0.2, 2.0, size=n)
    return m + scale * s * rng.normal(size=n), m, s


def test_pit_is_the_normal_cdf_and_uniform_when_calibrated():
    y, m, s = _data()
    u = calibration.pit(y, m, s)
    np.testing.assert_allclose(u, stats.norm(m, s).cdf(y), rtol=1e-12)
    assert stats.kstest(u, "uniform").pvalue > 1e-3
    u_over = calibration.pit(*_data(scale=2.0))  # errors twice the predicted spread
    assert stats.kstest(u_over, "uniform").pvalue < 1e-10


def test_quantile_calibration_within_binomial_bounds_and_its_error():
    y, m, s = _data()
    levels, observed = calibration.quantile_calibration(y, m, s)
    n = y.size
    bound = 5 * np.sqrt(levels * (1 - levels) / n)
    assert np.all(np.abs(observed - levels) < bound)
    # oracle: the interval written out with scipy's quantile
    z = stats.norm.ppf((1 + levels) / 2)
    loop = [np.mean(np.abs(y - m) <= zz * s) for zz in z]
    np.testing.assert_allclose(observed, loop, atol=1.0 / n)
    assert calibration.calibration_error(y, m, s) < 0.01
    over = calibration.calibration_error(*_data(scale=2.0))  # overconfident: coverage too low
    _, obs_over = calibration.quantile_calibration(*_data(scale=2.0))
    assert over > 0.15 and np.all(obs_over < levels)


def test_ence_against_a_loop_and_its_extremes():
    y, m, s = _data(n=5000)
    order = np.argsort(s, kind="stable")
    want = []
    for part in np.array_split(order, 10):
        rmv = np.sqrt(np.mean(s[part] ** 2))
        rmse = np.sqrt(np.mean((y[part] - m[part]) ** 2))
        want.append(abs(rmv - rmse) / rmv)
    assert calibration.ence(y, m, s) == pytest.approx(np.mean(want), rel=1e-12)
    assert calibration.ence(y, m, s) < 0.06
    assert calibration.ence(*_data(n=5000, scale=2.0)) == pytest.approx(1.0, abs=0.06)


def test_sharpness_and_ratings_coverage():
    """The share of individual ratings inside the interval is seru.metrics.interval_coverage
    with the missing ratings masked (what the calibration evaluator reports)."""
    from seru import metrics

    s = np.array([0.5, 1.0, 1.5])
    assert calibration.sharpness(s, 0.9) == pytest.approx(2 * 1.6448536269514722 * 1.0)
    ratings = np.array([[0.0, 1.0, np.nan], [5.0, np.nan, np.nan], [np.nan] * 3])
    m, sd = np.array([0.0, 0.0, 0.0]), np.array([0.5, 1.0, 1.0])

    def coverage(r, m, sd):
        return float(metrics.interval_coverage(np.nan_to_num(r), m[:, None], sd[:, None], 0.9,
                                               mask=np.isfinite(r)))

    # inside +-1.645 s: 0.0 yes, 1.0 no (> 0.82); 5.0 no -> 1 of 3 ratings
    assert coverage(ratings, m, sd) == pytest.approx(1 / 3)
    assert np.isnan(coverage(np.full((1, 2), np.nan), np.zeros(1), np.ones(1)))


def test_errors():
    with pytest.raises(ValueError, match="one shape"):
        calibration.pit([1.0, 2.0], [1.0], [1.0])
    with pytest.raises(ValueError, match=">= 0"):
        calibration.pit([1.0], [1.0], [-1.0])
    with pytest.raises(ValueError, match=r"levels must lie in \(0, 1\)"):
        calibration.quantile_calibration([1.0], [1.0], [1.0], levels=(0.5, 1.0))
    with pytest.raises(ValueError, match="at least 10 rows"):
        calibration.ence([1.0] * 3, [1.0] * 3, [1.0] * 3)
    with pytest.raises(ValueError, match="level must lie"):
        calibration.sharpness([1.0], 1.0)
