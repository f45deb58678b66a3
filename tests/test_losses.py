"""Tests for seru/losses.py against independent oracles (scipy, distrax, numpy)."""

import distrax
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import integrate, special, stats

from seru import losses


@pytest.fixture
def x64():
    """float64 for this test only (never globally: other test files run in f32)."""
    with jax.enable_x64(True):
        yield


def _np_softplus(x):
    return np.logaddexp(0.0, x)


# ---------------------------------------------------------------------------
# Bayes-by-Backprop
# ---------------------------------------------------------------------------


def test_softplus_sigma(x64):
    rho = np.array([-50.0, -3.0, -2.0, 0.0, 1.5, 40.0])
    np.testing.assert_allclose(losses.softplus_sigma(rho), _np_softplus(rho), rtol=1e-12)


def test_bbb_log_q_vs_distrax(x64):
    rng = np.random.default_rng(0)
    mu = rng.uniform(-0.1, 0.1, (4, 3))
    rho = rng.uniform(-3, -2, (4, 3))
    w = mu + _np_softplus(rho) * rng.standard_normal((4, 3))
    want = distrax.Normal(mu, _np_softplus(rho)).log_prob(w).sum()
    got = jax.jit(losses.bbb_log_q)(w, mu, rho)
    assert got.shape == ()
    np.testing.assert_allclose(got, want, rtol=1e-10)
    # scipy as a second oracle
    np.testing.assert_allclose(got, stats.norm.logpdf(w, mu, _np_softplus(rho)).sum(), rtol=1e-10)


def test_bbb_log_q_very_negative_rho(x64):
    # softplus(-800) underflows to 0 in float64: sigma is floored at sqrt(tiny)
    # so that the value stays finite; w == mu keeps the quadratic term 0.
    mu = np.array([0.3])
    rho = np.array([-800.0])
    floor = np.sqrt(np.finfo(np.float64).tiny)
    got = losses.bbb_log_q(mu, mu, rho)
    np.testing.assert_allclose(got, -np.log(floor) - 0.5 * np.log(2 * np.pi), rtol=1e-12)
    # above the floor (rho = -300: sigma = e^-300) nothing is changed
    np.testing.assert_allclose(losses.bbb_log_q(mu, mu, np.array([-300.0])),
                               300.0 - 0.5 * np.log(2 * np.pi), rtol=1e-12)


def test_bbb_log_prior_gaussian(x64):
    rng = np.random.default_rng(1)
    w = rng.standard_normal((5, 2))
    for sigma in (1.0, 0.3):
        got = jax.jit(losses.bbb_log_prior_gaussian)(w, sigma)
        np.testing.assert_allclose(got, stats.norm.logpdf(w, 0, sigma).sum(), rtol=1e-10)
    np.testing.assert_allclose(losses.bbb_log_prior_gaussian(w),
                               distrax.Normal(0.0, 1.0).log_prob(w).sum(), rtol=1e-10)


def test_bbb_log_prior_mixture_vs_scipy(x64):
    rng = np.random.default_rng(2)
    w = np.concatenate([rng.standard_normal(6) * 0.01, rng.standard_normal(6)])
    for pi, s1, s2 in [(0.5, 1.0, 0.0025), (0.25, 2.0, 0.1)]:
        want = np.log(pi * stats.norm.pdf(w, 0, s1) + (1 - pi) * stats.norm.pdf(w, 0, s2)).sum()
        got = jax.jit(losses.bbb_log_prior_mixture)(w, pi, s1, s2)
        np.testing.assert_allclose(got, want, rtol=1e-10)
    # distrax mixture as a second oracle
    mix = distrax.MixtureSameFamily(
        distrax.Categorical(probs=np.array([0.5, 0.5])),
        distrax.Normal(np.zeros(2), np.array([1.0, 0.0025])))
    np.testing.assert_allclose(losses.bbb_log_prior_mixture(w), mix.log_prob(w).sum(), rtol=1e-9)


def test_bbb_log_prior_mixture_no_softplus_and_no_underflow(x64):
    # w = 5 is ~2000 sigma2 away: N(w; 0, sigma2) underflows, the sum must not.
    w = np.array([5.0])
    want = special.logsumexp([np.log(0.5) + stats.norm.logpdf(5.0, 0, 1.0),
                              np.log(0.5) + stats.norm.logpdf(5.0, 0, 0.0025)])
    np.testing.assert_allclose(losses.bbb_log_prior_mixture(w), want, rtol=1e-12)
    # sigmas are used as given: with softplus(0.0025) ~ 0.69 the value would differ a lot
    wrong = np.log(0.5 * stats.norm.pdf(0.0, 0, _np_softplus(1.0))
                   + 0.5 * stats.norm.pdf(0.0, 0, _np_softplus(0.0025)))
    got0 = losses.bbb_log_prior_mixture(np.array([0.0]))
    assert abs(got0 - wrong) > 1.0
    np.testing.assert_allclose(
        got0, np.log(0.5 * stats.norm.pdf(0, 0, 1) + 0.5 * stats.norm.pdf(0, 0, 0.0025)), rtol=1e-12)


def test_bbb_log_prior_mixture_float32_finite_grad():
    w = jnp.array([0.0, 1e-3, 0.5, 30.0], jnp.float32)
    g = jax.grad(losses.bbb_log_prior_mixture)(w)
    assert np.all(np.isfinite(g))
    v = losses.bbb_log_prior_mixture(w)
    assert np.isfinite(v)


def test_bbb_kl_gaussian_vs_distrax_and_quad(x64):
    rng = np.random.default_rng(3)
    mu = rng.uniform(-0.5, 0.5, (3, 2))
    rho = rng.uniform(-3, 1, (3, 2))
    for ps in (1.0, 0.5):
        want = distrax.Normal(mu, _np_softplus(rho)).kl_divergence(distrax.Normal(0.0, ps)).sum()
        got = jax.jit(losses.bbb_kl_gaussian)(mu, rho, ps)
        assert got.shape == ()
        np.testing.assert_allclose(got, want, rtol=1e-10)
    # numeric integration of one element
    m, s = 0.2, _np_softplus(-1.0)
    q = stats.norm(m, s)
    p = stats.norm(0, 1.0)
    num, _ = integrate.quad(lambda x: q.pdf(x) * (q.logpdf(x) - p.logpdf(x)), m - 12 * s, m + 12 * s)
    np.testing.assert_allclose(losses.bbb_kl_gaussian(np.array(m), np.array(-1.0)), num, rtol=1e-8)


def test_bbb_kl_is_expectation_of_log_q_minus_log_p(x64):
    # Eq. (6) is the MC estimate of Eq. (5): average of sampled log q - log p -> closed form.
    key = jax.random.PRNGKey(0)
    mu = jnp.array([0.1, -0.05, 0.3])
    rho = jnp.array([-2.0, -1.0, 0.0])
    eps = jax.random.normal(key, (200_000, 3))
    w = mu + losses.softplus_sigma(rho) * eps
    mc = jax.vmap(lambda wi: losses.bbb_log_q(wi, mu, rho) - losses.bbb_log_prior_gaussian(wi))(w)
    closed = losses.bbb_kl_gaussian(mu, rho)
    se = np.std(mc) / np.sqrt(len(mc))
    assert abs(np.mean(mc) - closed) < 5 * se


def test_bbb_grads_finite():
    mu = jnp.array([0.0, 0.1, -0.1], jnp.float32)
    rho = jnp.array([-60.0, -3.0, 10.0], jnp.float32)
    w = mu + 0.01
    for f in (lambda m, r: losses.bbb_kl_gaussian(m, r),
              lambda m, r: losses.bbb_log_q(mu, m, r)):
        g = jax.jit(jax.grad(f, argnums=(0, 1)))(mu, rho)
        assert all(np.all(np.isfinite(x)) for x in g)
    g = jax.grad(losses.bbb_log_prior_gaussian)(w)
    np.testing.assert_allclose(g, -w, rtol=1e-6)
