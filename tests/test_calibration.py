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


# ---------------------------------------------------------------------------
# reject option: the curve, its area, the oracle ordering
# ---------------------------------------------------------------------------


def _np_ccc(x, y):
    """Lin's CCC with population moments, written out (the oracle of the reject curves)."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    if x.size < 2:
        return np.nan
    cov = np.mean((x - x.mean()) * (y - y.mean()))
    return 2 * cov / (x.var() + y.var() + (x.mean() - y.mean()) ** 2)


def _loop_curve(y, m, u, score, coverages=calibration.COVERAGES):
    """A reject curve written as a loop: sort by u (stable), score the first round(c N)."""
    order = sorted(range(len(u)), key=lambda i: (u[i], i))
    out = []
    for c in coverages:
        keep = order[:max(1, round(c * len(u)))]
        out.append(score(y[keep], m[keep]))
    return np.array(out)


def _regression(n=2000, seed=0):
    """Predictions with a noise level that varies by row: the std is an informative,
    imperfect uncertainty."""
    rng = np.random.default_rng(seed)
    y = rng.normal(size=n)
    s = rng.uniform(0.1, 1.5, size=n)
    return y, y + s * rng.normal(size=n), s


def test_reject_curve_against_a_loop_and_seru_metrics():
    from seru import metrics

    y, m, s = _regression()
    got = calibration.reject_curve(y, m, s)
    np.testing.assert_allclose(got, _loop_curve(y, m, s, _np_ccc), rtol=2e-5)
    assert got[0] > got[-1] + 0.1  # the most certain rows are predicted better
    # sridhar21's grid: the curve of seru.metrics.reject_curve (which sorts the same way)
    cov = (0.2, 0.4, 0.6, 0.8, 1.0)
    np.testing.assert_allclose(calibration.reject_curve(y, m, s, coverages=cov),
                               np.asarray(metrics.reject_curve(y, m, s, cov)), rtol=1e-5)


def test_a_perfect_ranking_gives_the_oracle_curve():
    y, m, s = _regression()
    err = np.abs(y - m)
    np.testing.assert_array_equal(calibration.oracle_error(y, m), err)
    oracle = calibration.reject_curve(y, m, calibration.oracle_error(y, m))
    np.testing.assert_allclose(oracle, _loop_curve(y, m, err, _np_ccc), rtol=2e-5)
    # any increasing function of the error orders the rows the same way: the same curve
    np.testing.assert_array_equal(calibration.reject_curve(y, m, 3.0 * err ** 2 + 1.0), oracle)
    # the noisy uncertainty lies below the oracle and above the full-data CCC on the whole
    area = calibration.reject_area(y, m, s)
    best = calibration.reject_area(y, m, err)
    assert _np_ccc(y, m) + 0.05 < area < best - 0.02


def test_a_random_uncertainty_gives_a_flat_curve_in_expectation():
    y, m, _ = _regression()
    full = _np_ccc(y, m)
    rng = np.random.default_rng(1)
    curves = np.array([calibration.reject_curve(y, m, rng.uniform(size=y.size))
                       for _ in range(40)])
    # 40 curves of >= 200 rows each: the standard error of the mean is below 0.01
    np.testing.assert_allclose(curves.mean(0), full, atol=0.02)
    assert calibration.curve_area(calibration.COVERAGES, curves.mean(0)) == pytest.approx(
        full, abs=0.015)


def test_ties_are_broken_by_row_order():
    y, m, _ = _regression(n=500)
    const = np.zeros(y.size)
    got = calibration.reject_curve(y, m, const)
    # the first round(c N) rows in input order
    want = [_np_ccc(y[:round(c * y.size)], m[:round(c * y.size)]) for c in calibration.COVERAGES]
    np.testing.assert_allclose(got, want, rtol=2e-5)
    assert got[-1] == pytest.approx(_np_ccc(y, m), rel=1e-5)  # the full-data CCC at 100 %
    # iid rows: a constant uncertainty is a random subset, the full-data CCC within noise
    np.testing.assert_allclose(got, _np_ccc(y, m), atol=0.1)
    # two tied rows: the earlier is kept first
    y2, m2 = np.array([0.0, 1.0, 2.0, 3.0]), np.array([0.0, 1.0, 2.0, 30.0])
    keep_log = []

    def record(y, pred, keep):
        keep_log.append(np.flatnonzero(keep).tolist())
        return 0.0

    calibration.reject_curve(y2, m2, [0.5, 0.2, 0.5, 0.2], record, coverages=(0.25, 0.5, 0.75))
    assert keep_log == [[1], [1, 3], [0, 1, 3]]


def test_curve_area_is_the_normalised_trapezoid():
    from scipy.integrate import trapezoid

    c = np.array(calibration.COVERAGES)
    assert calibration.curve_area(c, np.full(c.size, 0.42)) == pytest.approx(0.42)
    assert calibration.curve_area(c, c) == pytest.approx(0.55)  # mean of c over [0.1, 1]
    v = np.random.default_rng(0).uniform(size=c.size)
    assert calibration.curve_area(c, v) == pytest.approx(trapezoid(v, c) / 0.9, rel=1e-12)
    v[3] = np.nan
    assert np.isnan(calibration.curve_area(c, v))


def test_reject_curve_of_class_labels_against_audmetric():
    import audmetric

    rng = np.random.default_rng(3)
    n, k = 300, 4
    y = rng.integers(0, k, n)
    hit = rng.uniform(size=n) < 0.6
    pred = np.where(hit, y, rng.integers(0, k, n))
    u = np.where(pred == y, rng.uniform(0.0, 1.0, n), rng.uniform(0.5, 1.5, n))  # informative
    score = calibration.uar_metric(k)
    got = calibration.reject_curve(y, pred, u, score)

    def uar(a, b):
        return audmetric.unweighted_average_recall(list(a), list(b))

    np.testing.assert_allclose(got, _loop_curve(y, pred, u, uar), rtol=1e-6)
    # the oracle keeps every hit before any miss: UAR 1 while only hits are kept
    err = calibration.oracle_error(y, pred)
    np.testing.assert_array_equal(err, (y != pred) * 1.0)
    oracle = calibration.reject_curve(y, pred, err, score)
    np.testing.assert_allclose(oracle, _loop_curve(y, pred, err, uar), rtol=1e-6)
    only_hits = np.array([round(c * n) for c in calibration.COVERAGES]) <= np.sum(y == pred)
    np.testing.assert_allclose(oracle[only_hits], 1.0)
    assert (calibration.reject_area(y, pred, err, score)
            > calibration.reject_area(y, pred, u, score) > uar(y, pred))


def test_reject_errors():
    y = np.zeros(4)
    with pytest.raises(ValueError, match="must be \\[N\\]"):
        calibration.reject_curve(y, y, np.zeros(3))
    with pytest.raises(ValueError, match="NaN"):
        calibration.reject_curve(y, y, [0.0, np.nan, 0.0, 0.0])
    with pytest.raises(ValueError, match="increasing fractions"):
        calibration.reject_curve(y, y, y, coverages=(0.5, 0.2))
    with pytest.raises(ValueError, match="increasing fractions"):
        calibration.reject_curve(y, y, y, coverages=(0.0, 0.5))
    with pytest.raises(ValueError, match=">= 2 increasing"):
        calibration.reject_area(y, y, y, coverages=(1.0,))
    with pytest.raises(ValueError, match="one shape"):
        calibration.oracle_error(y, np.zeros(3))
