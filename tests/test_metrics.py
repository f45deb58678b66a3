"""Tests for seru/metrics.py against independent oracles (audmetric, scipy, distrax, numpy)."""

import audmetric
import distrax
import jax
import numpy as np
import pytest
from scipy import integrate, stats

from seru import metrics


@pytest.fixture
def x64():
    """float64 for this test only (never globally)."""
    with jax.enable_x64(True):
        yield


def _np_ccc_ddof1(x, y):
    cov = np.cov(x, y, ddof=1)
    return 2 * cov[0, 1] / (cov[0, 0] + cov[1, 1] + (x.mean() - y.mean()) ** 2)


# ---------------------------------------------------------------------------
# CCC / Pearson / RMSE
# ---------------------------------------------------------------------------


def test_ccc_vs_audmetric_random(x64):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 40))
    y = 0.6 * x + 0.3 + 0.5 * rng.standard_normal((3, 40))
    got = jax.jit(metrics.ccc)(x, y)
    want = [audmetric.concordance_cc(y[i], x[i]) for i in range(3)]
    np.testing.assert_allclose(got, want, rtol=1e-12)
    # axis=0
    np.testing.assert_allclose(metrics.ccc(x.T, y.T, axis=0), want, rtol=1e-12)
    # symmetric
    np.testing.assert_allclose(metrics.ccc(y, x), want, rtol=1e-12)


def test_ccc_ddof1(x64):
    rng = np.random.default_rng(1)
    x = rng.standard_normal(25)
    y = x + 0.8 + rng.standard_normal(25)
    got = metrics.ccc(x, y, ddof=1)
    np.testing.assert_allclose(got, _np_ccc_ddof1(x, y), rtol=1e-12)
    assert abs(got - metrics.ccc(x, y)) > 1e-4  # the estimator matters through the bias term


def test_ccc_mask_excludes_padding(x64):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 30))
    y = x + rng.standard_normal((2, 30))
    lengths = [30, 17]
    mask = np.arange(30)[None, :] < np.array(lengths)[:, None]
    x_pad = np.where(mask, x, np.nan)  # garbage (NaN) in the padding
    y_pad = np.where(mask, y, 1e6)
    got = jax.jit(metrics.ccc)(x_pad, y_pad, mask=mask)
    want = [audmetric.concordance_cc(y[i, :l], x[i, :l]) for i, l in enumerate(lengths)]
    np.testing.assert_allclose(got, want, rtol=1e-12)
    np.testing.assert_allclose(
        metrics.pearson(x_pad, y_pad, mask=mask),
        [stats.pearsonr(x[i, :l], y[i, :l])[0] for i, l in enumerate(lengths)], rtol=1e-12)
    np.testing.assert_allclose(
        metrics.rmse(x_pad, y_pad, mask=mask),
        [np.sqrt(np.mean((x[i, :l] - y[i, :l]) ** 2)) for i, l in enumerate(lengths)], rtol=1e-12)


def test_ccc_nan_policy(x64):
    x = np.array([0.1, 0.5, np.nan, 0.9, 0.3])
    y = np.array([0.0, 0.4, 0.2, 1.0, np.nan])
    assert np.isnan(metrics.ccc(x, y))
    np.testing.assert_allclose(metrics.ccc(x, y, ignore_nan=True),
                               audmetric.concordance_cc(y, x, ignore_nan=True), rtol=1e-12)


def test_ccc_degenerate_cases(x64):
    # constant and equal -> 0/0 -> NaN (audmetric returns NaN too when the mean is exact)
    c = np.full(10, 0.5)
    assert np.isnan(metrics.ccc(c, c)) and np.isnan(audmetric.concordance_cc(c, c))
    # ... and also when round-off makes the variance ~1e-33 (audmetric then says 1.0)
    assert np.isnan(metrics.ccc(np.full(10, 0.3), np.full(10, 0.3)))
    assert np.isnan(metrics.pearson(np.full(10, 0.3), np.linspace(0, 1, 10)))
    # constant but different: defined, 0
    assert metrics.ccc(c, c + 0.1) == audmetric.concordance_cc(c + 0.1, c) == 0.0
    # one series constant, other varying: 0
    v = np.linspace(0, 1, 10)
    np.testing.assert_allclose(metrics.ccc(c, v), audmetric.concordance_cc(v, c), atol=1e-15)
    # fewer than 2 samples
    assert np.isnan(metrics.ccc(np.array([1.0]), np.array([2.0])))
    assert np.isnan(metrics.ccc(v, v, mask=np.arange(10) < 1))
    # Pearson undefined on a constant series (scipy gives NaN as well)
    assert np.isnan(metrics.pearson(c, v))
    # RMSE with nothing valid
    assert np.isnan(metrics.rmse(v, v, mask=np.zeros(10)))
    # perfect agreement
    np.testing.assert_allclose(metrics.ccc(v, v), 1.0, rtol=1e-14)


def test_ccc_bad_mask_shape():
    with pytest.raises(ValueError, match="mask of shape"):
        metrics.ccc(np.zeros((2, 5)), np.zeros((2, 5)), mask=np.ones((3, 5)))


def test_ccc_float32_tolerance():
    rng = np.random.default_rng(3)
    x = rng.standard_normal(500).astype(np.float32)
    y = (0.5 * x + rng.standard_normal(500)).astype(np.float32)
    np.testing.assert_allclose(metrics.ccc(x, y), audmetric.concordance_cc(y.astype(float), x.astype(float)),
                               rtol=1e-5)


# ---------------------------------------------------------------------------
# KL divergences
# ---------------------------------------------------------------------------


def _quad_kl(p, q, lo, hi):
    val, _ = integrate.quad(lambda t: p.pdf(t) * (p.logpdf(t) - q.logpdf(t)), lo, hi,
                            limit=200, epsabs=1e-13, epsrel=1e-11)
    return val


def test_gaussian_kl_vs_distrax_and_quad(x64):
    rng = np.random.default_rng(4)
    m, mh = rng.standard_normal((2, 6)) * 0.5
    s, sh = rng.uniform(0.05, 0.6, (2, 6))
    got = jax.jit(metrics.gaussian_kl)(m, s, mh, sh)
    np.testing.assert_allclose(got, distrax.Normal(m, s).kl_divergence(distrax.Normal(mh, sh)), rtol=1e-10)
    for i in range(2):
        want = _quad_kl(stats.norm(m[i], s[i]), stats.norm(mh[i], sh[i]), m[i] - 15 * s[i], m[i] + 15 * s[i])
        np.testing.assert_allclose(got[i], want, rtol=1e-7)
    # direction matters: label first
    assert not np.allclose(got, metrics.gaussian_kl(mh, sh, m, s))


def test_gaussian_kl_zero_spread_is_inf(x64):
    got = metrics.gaussian_kl(np.array([0.1, 0.1, 0.1]), np.array([0.0, 0.2, 0.0]),
                              np.array([0.1, 0.1, 0.1]), np.array([0.2, 0.0, 0.0]))
    assert np.all(np.isposinf(got))


@pytest.mark.parametrize("df", [3.0, 6.0, 20.0])
def test_student_t_kl_vs_quad(x64, df):
    m, s, mh, sh = 0.1, 0.2, 0.25, 0.3
    got = jax.jit(metrics.student_t_kl)(df, m, s, mh, sh)
    want = _quad_kl(stats.t(df, m, s), stats.norm(mh, sh), -np.inf, np.inf)
    np.testing.assert_allclose(got, want, rtol=1e-7)
    # s_is_std: the t's standard deviation equals s
    scale = s * np.sqrt((df - 2) / df)
    assert np.isclose(stats.t(df, m, scale).std(), s)
    want2 = _quad_kl(stats.t(df, m, scale), stats.norm(mh, sh), -np.inf, np.inf)
    np.testing.assert_allclose(metrics.student_t_kl(df, m, s, mh, sh, s_is_std=True), want2, rtol=1e-7)


def test_student_t_entropy_vs_scipy(x64):
    for df in (2.5, 3.0, 6.0, 100.0):
        for s in (0.1, 1.7):
            np.testing.assert_allclose(metrics.student_t_entropy(df, s), stats.t(df, 0, s).entropy(), rtol=1e-10)


def test_student_t_kl_df_clipping_and_limit(x64):
    m, s, mh, sh = 0.0, 0.2, 0.1, 0.25
    # df <= 2 is clipped to df_min (3 by default)
    for df in (1.0, 2.0, 0.0):
        np.testing.assert_allclose(metrics.student_t_kl(df, m, s, mh, sh),
                                   _quad_kl(stats.t(3.0, m, s), stats.norm(mh, sh), -np.inf, np.inf), rtol=1e-7)
    np.testing.assert_allclose(metrics.student_t_kl(2.0, m, s, mh, sh, df_min=4.0),
                               _quad_kl(stats.t(4.0, m, s), stats.norm(mh, sh), -np.inf, np.inf), rtol=1e-7)
    # df -> inf recovers the Gaussian KL
    np.testing.assert_allclose(metrics.student_t_kl(1e7, m, s, mh, sh),
                               metrics.gaussian_kl(m, s, mh, sh), rtol=1e-5)
    with pytest.raises(ValueError, match="df_min"):
        metrics.student_t_kl(3.0, m, s, mh, sh, df_min=2.0)
    assert np.isposinf(metrics.student_t_kl(5.0, m, 0.0, mh, sh))


# ---------------------------------------------------------------------------
# Entropy and reject curve
# ---------------------------------------------------------------------------


def test_entropy_vs_scipy(x64):
    rng = np.random.default_rng(5)
    p = rng.dirichlet(np.ones(7), size=4)
    p[0, :3] = 0.0
    p[0] /= p[0].sum()
    got = jax.jit(metrics.entropy)(p)
    np.testing.assert_allclose(got, stats.entropy(p, axis=-1), rtol=1e-12)
    np.testing.assert_allclose(metrics.entropy(p.T, axis=0), stats.entropy(p, axis=-1), rtol=1e-12)
    np.testing.assert_allclose(metrics.entropy(p, base=2), stats.entropy(p, base=2, axis=-1), rtol=1e-12)
    # one-hot: exactly 0, uniform: log K
    assert metrics.entropy(np.eye(7)[2]) == 0.0
    np.testing.assert_allclose(metrics.entropy(np.full(7, 1 / 7)), np.log(7), rtol=1e-14)


def _np_reject_curve(yt, yp, u, coverages):
    order = np.argsort(u, kind="stable")
    return [audmetric.concordance_cc(yt[order][:int(round(c * len(u)))], yp[order][:int(round(c * len(u)))])
            for c in coverages]


def test_reject_curve_vs_audmetric(x64):
    rng = np.random.default_rng(6)
    n = 53
    yt = rng.standard_normal(n)
    u = rng.uniform(0, 1, n)
    yp = yt + u * rng.standard_normal(n) * 2  # more uncertain -> larger error
    cov = (1.0, 0.8, 0.6, 0.4, 0.2)
    got = jax.jit(metrics.reject_curve, static_argnames="coverages")(yt, yp, u, coverages=cov)
    np.testing.assert_allclose(got, _np_reject_curve(yt, yp, u, cov), rtol=1e-12)
    assert got[2] > got[0]  # rejecting uncertain samples helps here
    # ties keep input order
    u_tied = np.repeat([0.1, 0.2], [30, 23])
    np.testing.assert_allclose(metrics.reject_curve(yt, yp, u_tied, coverages=(0.5,)),
                               _np_reject_curve(yt, yp, u_tied, (0.5,)), rtol=1e-12)


def test_reject_curve_errors():
    with pytest.raises(ValueError, match="1-D"):
        metrics.reject_curve(np.zeros((2, 3)), np.zeros((2, 3)), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="coverage"):
        metrics.reject_curve(np.zeros(4), np.zeros(4), np.zeros(4), coverages=(1.2,))
    # a coverage leaving fewer than 2 samples is NaN, not a number
    r = metrics.reject_curve(np.arange(10.0), np.arange(10.0), np.arange(10.0), coverages=(0.1,))
    assert np.isnan(r[0])


# ---------------------------------------------------------------------------
# UAR family
# ---------------------------------------------------------------------------


def test_uar_vs_audmetric():
    rng = np.random.default_rng(7)
    for trial in range(5):
        yt = rng.integers(0, 5, 40)
        yp = rng.integers(0, 5, 40)
        if trial == 1:      # class 4 never true but predicted
            yt[yt == 4] = 0
        if trial == 2:      # class 3 in neither
            yt[yt == 3] = 1
            yp[yp == 3] = 2
        got = jax.jit(metrics.uar, static_argnums=2)(yt, yp, 6)
        np.testing.assert_allclose(got, audmetric.unweighted_average_recall(list(yt), list(yp)), rtol=1e-6)


def test_uar_mask_and_empty():
    yt = np.array([0, 1, 1, 2, 2, 2])
    yp = np.array([0, 1, 0, 2, 1, 0])
    m = np.array([1, 1, 1, 1, 0, 0], bool)
    np.testing.assert_allclose(metrics.uar(yt, yp, 3, mask=m),
                               audmetric.unweighted_average_recall(list(yt[m]), list(yp[m])), rtol=1e-6)
    assert np.isnan(metrics.uar(yt, yp, 3, mask=np.zeros(6)))
    with pytest.raises(ValueError, match="integer"):
        metrics.uar(yt.astype(float), yp, 3)


def test_pa_uar_vs_audmetric_per_speaker():
    rng = np.random.default_rng(8)
    n, n_spk = 120, 7
    spk = rng.integers(0, n_spk, n)
    spk[spk == 5] = 4  # speaker 5 has no sample: excluded from the share
    yt = rng.integers(0, 4, n)
    yp = np.where(rng.uniform(size=n) < 0.6, yt, rng.integers(0, 4, n))
    for thr in (0.5, 0.6, 0.75):
        per = [audmetric.unweighted_average_recall(list(yt[spk == s]), list(yp[spk == s]))
               for s in np.unique(spk)]
        want = np.mean(np.array(per) > thr)
        got = jax.jit(metrics.pa_uar, static_argnums=(3, 4, 5))(yt, yp, spk, thr, 4, n_spk)
        np.testing.assert_allclose(got, want, rtol=1e-6)
    with pytest.raises(ValueError, match="fraction"):
        metrics.pa_uar(yt, yp, spk, 75, 4, n_spk)


def test_kbest_uar_vs_numpy_topk():
    rng = np.random.default_rng(9)
    probs = rng.dirichlet(np.ones(5), size=60)
    yt = rng.integers(0, 5, 60)
    for k in (1, 2, 3):
        topk = np.argsort(-probs, axis=-1)[:, :k]
        hit = (topk == yt[:, None]).any(-1)
        eff = np.where(hit, yt, probs.argmax(-1))
        want = audmetric.unweighted_average_recall(list(yt), list(eff))
        np.testing.assert_allclose(jax.jit(metrics.kbest_uar, static_argnums=2)(yt, probs, k), want, rtol=1e-6)
    # k = 1 is plain UAR of the arg-max; k = K is always 1
    np.testing.assert_allclose(metrics.kbest_uar(yt, probs, 1),
                               audmetric.unweighted_average_recall(list(yt), list(probs.argmax(-1))), rtol=1e-6)
    np.testing.assert_allclose(metrics.kbest_uar(yt, probs, 5), 1.0)


# ---------------------------------------------------------------------------
# Calibration
# ---------------------------------------------------------------------------


def test_gaussian_nll_vs_scipy(x64):
    rng = np.random.default_rng(10)
    y, mh = rng.standard_normal((2, 8))
    sh = rng.uniform(0.1, 1, 8)
    np.testing.assert_allclose(jax.jit(metrics.gaussian_nll)(y, mh, sh), -stats.norm.logpdf(y, mh, sh), rtol=1e-12)
    assert np.isposinf(metrics.gaussian_nll(0.0, 0.0, 0.0))


def test_crps_gaussian_vs_quad(x64):
    rng = np.random.default_rng(11)
    for _ in range(3):
        y, mh = rng.standard_normal(2)
        sh = rng.uniform(0.1, 1.0)
        # CRPS = int_{-inf}^{y} F^2 + int_{y}^{inf} (1 - F)^2
        want = (integrate.quad(lambda t: stats.norm.cdf(t, mh, sh) ** 2, -np.inf, y, epsabs=1e-13)[0]
                + integrate.quad(lambda t: stats.norm.sf(t, mh, sh) ** 2, y, np.inf, epsabs=1e-13)[0])
        np.testing.assert_allclose(jax.jit(metrics.crps_gaussian)(y, mh, sh), want, rtol=1e-7)
    # point forecast limit: |y - m|
    np.testing.assert_allclose(metrics.crps_gaussian(0.7, 0.2, 0.0), 0.5)
    # MC oracle of E|X - y| - 1/2 E|X - X'|
    x = np.random.default_rng(12).normal(0.3, 0.5, (2, 400_000))
    mc = np.mean(np.abs(x[0] - 1.0)) - 0.5 * np.mean(np.abs(x[0] - x[1]))
    np.testing.assert_allclose(metrics.crps_gaussian(1.0, 0.3, 0.5), mc, atol=3e-3)


def test_interval_coverage(x64):
    rng = np.random.default_rng(13)
    y, mh = rng.standard_normal((2, 200))
    sh = rng.uniform(0.2, 2.0, 200)
    lo, hi = stats.norm.interval(0.9, mh, sh)
    want = np.mean((y >= lo) & (y <= hi))
    np.testing.assert_allclose(jax.jit(metrics.interval_coverage, static_argnames="level")(y, mh, sh, level=0.9),
                               want, rtol=1e-12)
    m = np.arange(200) < 120
    np.testing.assert_allclose(metrics.interval_coverage(y, mh, sh, 0.5, mask=m),
                               np.mean(((y >= stats.norm.interval(0.5, mh, sh)[0])
                                        & (y <= stats.norm.interval(0.5, mh, sh)[1]))[m]), rtol=1e-12)
    # calibrated draws cover ~level
    yy = rng.normal(mh, sh, (50, 200))
    assert abs(float(metrics.interval_coverage(yy, mh, sh, 0.8)) - 0.8) < 0.02
    with pytest.raises(ValueError, match="level"):
        metrics.interval_coverage(y, mh, sh, level=90)


def test_uar_label_range_errors():
    with pytest.raises(ValueError, match=r"\[0, 3\); flat index 2 holds 3"):
        metrics.uar(np.array([0, 1, 3]), np.array([0, 1, 2]), 3)
    with pytest.raises(ValueError, match="pa_uar: speaker"):
        metrics.pa_uar(np.array([0, 1]), np.array([0, 1]), np.array([0, 5]), 0.5, 2, 2)


def test_pa_uar_infers_sizes():
    yt = np.array([0, 1, 2, 0, 1, 2, 0, 0])
    yp = np.array([0, 1, 1, 0, 2, 2, 1, 0])
    spk = np.array([0, 0, 0, 1, 1, 1, 2, 2])
    per = [audmetric.unweighted_average_recall(list(yt[spk == s]), list(yp[spk == s])) for s in range(3)]
    np.testing.assert_allclose(metrics.pa_uar(yt, yp, spk, 0.5), np.mean(np.array(per) > 0.5), rtol=1e-7)
    with pytest.raises(ValueError, match="under jit"):
        jax.jit(lambda a, b, c: metrics.pa_uar(a, b, c, 0.5))(yt, yp, spk)
