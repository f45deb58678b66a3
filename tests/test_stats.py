"""Tests for seru/stats.py against scipy.stats."""

import numpy as np
import pytest
from scipy import stats

from seru import stats as sstats


@pytest.mark.parametrize("equal_var", [True, False])
def test_ttest_independent_vs_scipy(equal_var):
    rng = np.random.default_rng(0)
    for _ in range(4):
        a = rng.normal(0.55, 0.02, 10)
        b = rng.normal(0.53, 0.03, 8)
        t, p = sstats.ttest_one_tailed(a, b, equal_var=equal_var)
        ref = stats.ttest_ind(a, b, equal_var=equal_var, alternative="greater")
        np.testing.assert_allclose([t, p], [ref.statistic, ref.pvalue], rtol=1e-10)


def test_ttest_paired_vs_scipy():
    rng = np.random.default_rng(1)
    base = rng.normal(0.5, 0.05, 10)
    a = base + rng.normal(0.01, 0.01, 10)
    for b in (base, base + 0.05):   # p small, then p large
        t, p = sstats.ttest_one_tailed(a, b, paired=True)
        ref = stats.ttest_rel(a, b, alternative="greater")
        np.testing.assert_allclose([t, p], [ref.statistic, ref.pvalue], rtol=1e-10)
    # direction: "a greater than b" with a < b gives p > 0.5
    assert sstats.ttest_one_tailed(base, a, paired=True)[1] > 0.5


def test_ttest_degenerate_and_errors():
    # zero variance, different means: t = +inf, p = 0 (and the reverse)
    assert sstats.ttest_one_tailed([1.0, 1.0, 1.0], [0.5, 0.5]) == (np.inf, 0.0)
    assert sstats.ttest_one_tailed([0.5, 0.5], [1.0, 1.0, 1.0]) == (-np.inf, 1.0)
    with pytest.raises(ValueError, match="0/0"):
        sstats.ttest_one_tailed([1.0, 1.0], [1.0, 1.0])
    with pytest.raises(ValueError, match="at least 2"):
        sstats.ttest_one_tailed([1.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="equal lengths"):
        sstats.ttest_one_tailed([1.0, 2.0, 3.0], [1.0, 2.0], paired=True)
    with pytest.raises(ValueError, match=r"non-finite values at positions \[1\]"):
        sstats.ttest_one_tailed([1.0, np.nan, 3.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="1-D"):
        sstats.ttest_one_tailed(np.ones((2, 2)), [1.0, 2.0])


def _oracle_fisher(r1, n1, r2, n2):
    z1 = 0.5 * np.log((1 + r1) / (1 - r1))
    z2 = 0.5 * np.log((1 + r2) / (1 - r2))
    return (z1 - z2) / np.sqrt(1 / (n1 - 3) + 1 / (n2 - 3))


def test_fisher_r_to_z_vs_closed_form():
    for r1, n1, r2, n2 in [(0.5, 50, 0.3, 50), (0.62, 7501, 0.6, 7501), (-0.2, 30, 0.4, 45)]:
        zref = _oracle_fisher(r1, n1, r2, n2)
        z, p = sstats.fisher_r_to_z(r1, n1, r2, n2)
        np.testing.assert_allclose(z, zref, rtol=1e-12)
        np.testing.assert_allclose(p, 2 * stats.norm.sf(abs(zref)), rtol=1e-10)
        np.testing.assert_allclose(sstats.fisher_r_to_z(r1, n1, r2, n2, "greater")[1], stats.norm.sf(zref), rtol=1e-10)
        np.testing.assert_allclose(sstats.fisher_r_to_z(r1, n1, r2, n2, "less")[1], stats.norm.cdf(zref), rtol=1e-10)
    # the textbook example r = .5 vs .3, n = 50 each: z = 1.16, two-sided p = .245
    z, p = sstats.fisher_r_to_z(0.5, 50, 0.3, 50)
    assert round(z, 2) == 1.16 and round(p, 3) == 0.245


def test_fisher_null_distribution_monte_carlo():
    # under H0 (both rho = 0.4) the two-sided p-value is uniform: ~5% below 0.05
    rng = np.random.default_rng(2)
    cov = [[1, 0.4], [0.4, 1]]
    ps = []
    for _ in range(400):
        x = rng.multivariate_normal([0, 0], cov, 40)
        y = rng.multivariate_normal([0, 0], cov, 60)
        r1 = np.corrcoef(x.T)[0, 1]
        r2 = np.corrcoef(y.T)[0, 1]
        ps.append(sstats.fisher_r_to_z(r1, 40, r2, 60)[1])
    rate = np.mean(np.array(ps) < 0.05)
    assert 0.02 < rate < 0.09


def test_fisher_errors_and_limits():
    with pytest.raises(ValueError, match="r1"):
        sstats.fisher_r_to_z(1.2, 10, 0.3, 10)
    with pytest.raises(ValueError, match="n2"):
        sstats.fisher_r_to_z(0.2, 10, 0.3, 3)
    with pytest.raises(ValueError, match="alternative"):
        sstats.fisher_r_to_z(0.2, 10, 0.3, 10, "bigger")
    with pytest.raises(ValueError, match="inf - inf"):
        sstats.fisher_r_to_z(1.0, 10, 1.0, 10)
    z, p = sstats.fisher_r_to_z(1.0, 10, 0.3, 10)
    assert z == np.inf and p == 0.0
