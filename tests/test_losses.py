"""Tests for seru/losses.py against independent oracles (scipy, distrax, numpy)."""

import audmetric
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


# ---------------------------------------------------------------------------
# CCC loss and weighted MSE
# ---------------------------------------------------------------------------


def test_ccc_loss_vs_audmetric(x64):
    rng = np.random.default_rng(10)
    pred = rng.standard_normal((3, 20, 2))
    target = 0.5 * pred + rng.standard_normal((3, 20, 2))
    got = jax.jit(losses.ccc_loss)(pred, target)
    want = np.mean([1 - audmetric.concordance_cc(target[..., d].ravel(), pred[..., d].ravel())
                    for d in range(2)])
    np.testing.assert_allclose(got, want, rtol=1e-7)
    # 1-D input = one output
    np.testing.assert_allclose(losses.ccc_loss(pred[..., 0].ravel(), target[..., 0].ravel()),
                               1 - audmetric.concordance_cc(target[..., 0].ravel(), pred[..., 0].ravel()), rtol=1e-7)


def test_ccc_loss_mask_and_nan_targets(x64):
    rng = np.random.default_rng(11)
    pred = rng.standard_normal((2, 15, 1))
    target = pred + rng.standard_normal((2, 15, 1))
    mask = np.ones((2, 15, 1), bool)
    mask[1, 9:] = False
    target_bad = np.where(mask, target, np.nan)   # padding holds NaN
    target_bad[0, 3, 0] = np.nan                  # a missing annotation
    valid = mask & np.isfinite(target_bad)
    want = 1 - audmetric.concordance_cc(target[valid], pred[valid])
    got = losses.ccc_loss(pred, target_bad, mask=mask)
    np.testing.assert_allclose(got, want, rtol=1e-7)
    g = jax.grad(losses.ccc_loss)(pred, target_bad, mask)
    assert np.all(np.isfinite(g))
    assert np.all(g[~valid] == 0)


def test_ccc_loss_constant_segments_finite_grad():
    c = jnp.full((4, 1), 0.3, jnp.float32)
    for p, t in [(c, c), (c, c + 0.2), (c, jnp.linspace(0, 1, 4)[:, None])]:
        val, g = jax.jit(jax.value_and_grad(losses.ccc_loss))(p, t)
        assert np.isfinite(val) and np.all(np.isfinite(g))
    # constant & equal -> CCC counted as 0, loss 1
    np.testing.assert_allclose(losses.ccc_loss(c, c), 1.0, atol=1e-6)
    # nothing valid -> finite
    val, g = jax.value_and_grad(losses.ccc_loss)(c, c, jnp.zeros((4, 1)))
    assert np.isfinite(val) and np.all(np.isfinite(g))


def test_ccc_loss_grad_vs_finite_differences(x64):
    rng = np.random.default_rng(12)
    pred = rng.standard_normal((9, 1))
    target = rng.standard_normal((9, 1))
    g = jax.grad(losses.ccc_loss)(pred, target)
    h = 1e-6
    fd = np.zeros_like(pred)
    for i in range(9):
        e = np.zeros_like(pred)
        e[i] = h
        fd[i] = ((1 - audmetric.concordance_cc(target[:, 0], (pred + e)[:, 0]))
                 - (1 - audmetric.concordance_cc(target[:, 0], (pred - e)[:, 0]))) / (2 * h)
    np.testing.assert_allclose(g, fd, rtol=1e-5, atol=1e-9)


def test_weighted_mse(x64):
    rng = np.random.default_rng(13)
    pe, ye, ps, ys = rng.standard_normal((4, 3, 10))
    for w in (0.0, 0.7, 1.0, 2.0):
        want = w * np.mean((pe - ye) ** 2) + (2 - w) * np.mean((ps - ys) ** 2)
        np.testing.assert_allclose(jax.jit(losses.weighted_mse)(pe, ye, ps, ys, w), want, rtol=1e-12)
    mask = np.arange(10)[None, :] < np.array([[10], [4], [7]])
    ye_nan = np.where(mask, ye, np.nan)
    want = 1.3 * np.mean((pe - ye)[mask] ** 2) + 0.7 * np.mean((ps - ys)[mask] ** 2)
    np.testing.assert_allclose(losses.weighted_mse(pe, ye_nan, ps, ys, 1.3, mask=mask), want, rtol=1e-12)
    g = jax.grad(losses.weighted_mse, argnums=(0, 2))(pe, ye_nan, ps, ys, 1.3, mask)
    assert all(np.all(np.isfinite(x)) for x in g)
    with pytest.raises(ValueError, match="w_e"):
        losses.weighted_mse(pe, ye, ps, ys, 2.5)


# ---------------------------------------------------------------------------
# Soft labels and label distribution KL
# ---------------------------------------------------------------------------


def test_soft_label_kld(x64):
    rng = np.random.default_rng(14)
    t = rng.dirichlet(np.ones(7), size=5)
    t[0] = [0, 0, 0.5, 0.5, 0, 0, 0]   # zeros in the target: 0 log 0 = 0
    logits = rng.standard_normal((5, 7))
    p = special.softmax(logits, axis=-1)
    want = np.mean(stats.entropy(t, p, axis=-1))   # scipy: sum t log(t / p)
    np.testing.assert_allclose(jax.jit(losses.soft_label_kld)(t, logits), want, rtol=1e-10)
    np.testing.assert_allclose(losses.soft_label_kld(t, p, from_logits=False), want, rtol=1e-8)
    # distrax as a second oracle
    np.testing.assert_allclose(
        losses.soft_label_kld(t, logits),
        np.mean(distrax.Categorical(probs=t).kl_divergence(distrax.Categorical(logits=logits))), rtol=1e-8)
    # mask and NaN rows
    t_nan = t.copy()
    t_nan[4] = np.nan
    m = np.array([1, 1, 0, 1, 1], bool)
    want_m = np.mean(stats.entropy(t, p, axis=-1)[[0, 1, 3]])
    np.testing.assert_allclose(losses.soft_label_kld(t_nan, logits, mask=m), want_m, rtol=1e-10)
    g = jax.grad(losses.soft_label_kld, argnums=1)(t_nan, logits, True, -1, m)
    assert np.all(np.isfinite(g)) and np.all(np.asarray(g)[[2, 4]] == 0)
    # a zero predicted probability where the target has mass: clipped, finite
    p0 = np.array([[1.0, 0.0]])
    t0 = np.array([[0.5, 0.5]])
    np.testing.assert_allclose(losses.soft_label_kld(t0, p0, from_logits=False),
                               0.5 * np.log(0.5 / 1.0) + 0.5 * np.log(0.5 / 1e-7), rtol=1e-6)


def test_label_kl_loss_vs_quad(x64):
    rng = np.random.default_rng(15)
    m, mh = rng.standard_normal((2, 2, 6)) * 0.3
    s, sh = rng.uniform(0.05, 0.5, (2, 2, 6))
    mask = np.ones((2, 6), bool)
    mask[1, 4:] = False
    per = np.array([[integrate.quad(
        lambda x: stats.norm.pdf(x, m[i, j], s[i, j]) * (stats.norm.logpdf(x, m[i, j], s[i, j])
                                                         - stats.norm.logpdf(x, mh[i, j], sh[i, j])),
        m[i, j] - 15 * s[i, j], m[i, j] + 15 * s[i, j], epsabs=1e-12)[0] for j in range(6)] for i in range(2)])
    got = jax.jit(losses.label_kl_loss)(m, s, mh, sh, mask)
    np.testing.assert_allclose(got, per[mask].mean(), rtol=1e-7)


def test_label_kl_loss_awkward_inputs_finite():
    # zero spread (single annotator), NaN labels, padding, zero predicted spread
    m = jnp.array([0.1, 0.2, jnp.nan, 0.4, 0.0], jnp.float32)
    s = jnp.array([0.0, 0.2, 0.1, jnp.nan, 0.3], jnp.float32)
    mh = jnp.array([0.1, 0.1, 0.3, 0.3, 0.0], jnp.float32)
    sh = jnp.array([0.2, 0.0, 0.2, 0.2, 0.3], jnp.float32)
    mask = jnp.array([1, 1, 1, 1, 0], bool)
    val, g = jax.jit(jax.value_and_grad(losses.label_kl_loss, argnums=(2, 3)))(m, s, mh, sh, mask)
    assert np.isfinite(val) and all(np.all(np.isfinite(x)) for x in g)
    # only frames 0 and 1 are valid; floors of 1e-2 apply to s[0] and sh[1]
    f = lambda a, b, c, d: np.log(d / b) + (b**2 + (a - c) ** 2) / (2 * d**2) - 0.5
    want = 0.5 * (f(0.1, 0.01, 0.1, 0.2) + f(0.2, 0.2, 0.1, 0.01))
    np.testing.assert_allclose(val, want, rtol=1e-5)
    assert np.all(np.asarray(g[0])[2:] == 0)
    # no valid frame: 0, finite grads
    val0, g0 = jax.value_and_grad(losses.label_kl_loss, argnums=(2, 3))(m, s, mh, sh, jnp.zeros(5, bool))
    assert val0 == 0 and all(np.all(np.isfinite(x)) for x in g0)


def test_label_kl_loss_student_t(x64):
    df = np.array([6.0, 3.0, 1.0])   # the last one is clipped to df_min = 3
    m = np.array([0.0, 0.2, -0.1])
    s = np.array([0.2, 0.1, 0.3])
    mh = np.array([0.1, 0.1, 0.0])
    sh = np.array([0.25, 0.2, 0.4])
    per = [integrate.quad(lambda x: stats.t.pdf(x, max(d, 3.0), a, b) * (
        stats.t.logpdf(x, max(d, 3.0), a, b) - stats.norm.logpdf(x, c, e)), -np.inf, np.inf)[0]
        for d, a, b, c, e in zip(df, m, s, mh, sh)]
    got = jax.jit(losses.label_kl_loss_student_t)(df, m, s, mh, sh)
    np.testing.assert_allclose(got, np.mean(per), rtol=1e-7)
    # NaN df / s / m, zero spread, masks: finite value and grads
    with jax.enable_x64(False):
        args = [jnp.array(a, jnp.float32) for a in (
            [np.nan, 4.0, 2.0, 5.0], [0.0, 0.1, 0.2, np.nan], [0.1, 0.0, 0.1, 0.2], [0.0, 0.1, 0.2, 0.3],
            [0.2, 0.0, 0.1, 0.2])]
        val, g = jax.value_and_grad(losses.label_kl_loss_student_t, argnums=(3, 4))(*args)
        assert np.isfinite(val) and all(np.all(np.isfinite(x)) for x in g)


# ---------------------------------------------------------------------------
# VAE terms
# ---------------------------------------------------------------------------


def test_reparameterize_moments_and_grad():
    key = jax.random.PRNGKey(1)
    mean = jnp.array([0.5, -1.0, 2.0])
    logvar = jnp.array([0.0, np.log(0.25), np.log(4.0)])
    z = jax.jit(jax.vmap(losses.reparameterize, in_axes=(0, None, None)))(
        jax.random.split(key, 40_000), mean, logvar)
    np.testing.assert_allclose(z.mean(0), mean, atol=4 * np.sqrt(np.exp(logvar) / 40_000).max())
    np.testing.assert_allclose(z.std(0), np.exp(0.5 * logvar), rtol=0.03)
    # same key -> same sample, and dz/dmean = 1
    np.testing.assert_array_equal(losses.reparameterize(key, mean, logvar), losses.reparameterize(key, mean, logvar))
    g = jax.grad(lambda mu: losses.reparameterize(key, mu, logvar).sum())(mean)
    np.testing.assert_allclose(g, 1.0)


def test_vae_kl_vs_distrax(x64):
    rng = np.random.default_rng(16)
    mean = rng.standard_normal((4, 8))
    logvar = rng.uniform(-3, 1, (4, 8))
    want = distrax.MultivariateNormalDiag(mean, np.exp(0.5 * logvar)).kl_divergence(
        distrax.MultivariateNormalDiag(np.zeros(8), np.ones(8)))
    got = jax.jit(losses.vae_kl)(mean, logvar)
    assert got.shape == (4,)
    np.testing.assert_allclose(got, want, rtol=1e-10)
    g = jax.grad(lambda a, b: losses.vae_kl(a, b).sum(), argnums=(0, 1))(mean, logvar)
    np.testing.assert_allclose(g[0], mean, rtol=1e-12)                       # d/dmu = mu
    np.testing.assert_allclose(g[1], 0.5 * (np.exp(logvar) - 1), rtol=1e-12)  # d/dlogvar


def test_reconstruction_nll(x64):
    rng = np.random.default_rng(17)
    x = rng.uniform(0, 1, (3, 10))
    x[0, :4] = [0.0, 1.0, 0.0, 1.0]
    logits = rng.standard_normal((3, 10))
    p = special.expit(logits)
    want_b = -np.sum(x * np.log(p) + (1 - x) * np.log(1 - p), axis=-1)
    np.testing.assert_allclose(jax.jit(losses.reconstruction_nll)(x, p), want_b, rtol=1e-10)
    np.testing.assert_allclose(losses.reconstruction_nll(x, logits, from_logits=True), want_b, rtol=1e-10)
    # binary x: the Bernoulli log-likelihood of distrax
    xb = (x > 0.5).astype(float)
    np.testing.assert_allclose(losses.reconstruction_nll(xb, logits, from_logits=True),
                               -distrax.Bernoulli(logits=logits).log_prob(xb).sum(-1), rtol=1e-10)
    want_g = -stats.norm.logpdf(x, p, 1.0).sum(-1)
    np.testing.assert_allclose(losses.reconstruction_nll(x, p, kind="gaussian"), want_g, rtol=1e-12)
    # saturated sigmoid outputs: clipped, finite value and gradient
    with jax.enable_x64(False):
        ph = jnp.array([[0.0, 1.0, 0.5]], jnp.float32)
        xx = jnp.array([[1.0, 0.0, 0.5]], jnp.float32)
        val, g = jax.value_and_grad(lambda a: losses.reconstruction_nll(xx, a).sum())(ph)
        assert np.isfinite(val) and np.all(np.isfinite(g))
    with pytest.raises(ValueError, match="kind"):
        losses.reconstruction_nll(x, p, kind="laplace")


def test_bbb_terms_on_pytrees(x64):
    rng = np.random.default_rng(20)
    mu = {"w1": rng.uniform(-0.1, 0.1, (3, 4)), "b1": rng.uniform(-0.1, 0.1, 4)}
    rho = {"w1": rng.uniform(-3, -2, (3, 4)), "b1": rng.uniform(-3, -2, 4)}
    w = {k: mu[k] + _np_softplus(rho[k]) * rng.standard_normal(mu[k].shape) for k in mu}
    f = jax.jit(lambda w, mu, rho: (losses.bbb_log_q(w, mu, rho), losses.bbb_log_prior_gaussian(w),
                                    losses.bbb_log_prior_mixture(w), losses.bbb_kl_gaussian(mu, rho)))
    got = f(w, mu, rho)
    want = (sum(stats.norm.logpdf(w[k], mu[k], _np_softplus(rho[k])).sum() for k in mu),
            sum(stats.norm.logpdf(w[k]).sum() for k in mu),
            sum(np.log(0.5 * stats.norm.pdf(w[k]) + 0.5 * stats.norm.pdf(w[k], 0, 0.0025)).sum() for k in mu),
            sum(distrax.Normal(mu[k], _np_softplus(rho[k])).kl_divergence(distrax.Normal(0., 1.)).sum()
                for k in mu))
    np.testing.assert_allclose(got, want, rtol=1e-10)


def test_ccc_loss_per_frame_mask(x64):
    rng = np.random.default_rng(21)
    pred = rng.standard_normal((2, 12, 3))
    target = pred + rng.standard_normal((2, 12, 3))
    m = np.arange(12)[None, :] < np.array([[12], [7]])      # [B, T] mask for [B, T, D] data
    want = np.mean([1 - audmetric.concordance_cc(target[..., d][m], pred[..., d][m]) for d in range(3)])
    np.testing.assert_allclose(losses.ccc_loss(pred, target, mask=m), want, rtol=1e-7)


def test_nan_predictions_in_padding_do_not_poison_gradients():
    # a model may output garbage on padded frames: masked losses must ignore it, gradients included
    mask = jnp.array([[1, 1, 1, 0]], bool)
    pred = jnp.array([[0.1, 0.4, -0.2, jnp.nan]], jnp.float32)
    y = jnp.array([[0.0, 0.5, -0.1, 0.3]], jnp.float32)
    s = jnp.array([[0.1, 0.2, 0.1, 0.2]], jnp.float32)
    checks = {
        "ccc_loss": lambda p: losses.ccc_loss(p[..., None], y[..., None], mask),
        "weighted_mse": lambda p: losses.weighted_mse(p, y, p, s, 1.2, mask),
        "label_kl_loss_m": lambda p: losses.label_kl_loss(y, s, p, s, mask),
        "label_kl_loss_s": lambda p: losses.label_kl_loss(y, s, y, jnp.abs(p), mask),
        "label_kl_loss_student_t": lambda p: losses.label_kl_loss_student_t(6.0, y, s, p, s, mask),
        "soft_label_kld": lambda p: losses.soft_label_kld(
            jnp.array([[0.2, 0.8], [0.5, 0.5]]), jnp.stack([p[0, :2], p[0, 2:]]), True, -1,
            jnp.array([True, False])),
    }
    for name, f in checks.items():
        val, g = jax.jit(jax.value_and_grad(f))(pred)
        assert np.isfinite(val), name
        assert np.all(np.isfinite(g)), name
        assert g[0, 3] == 0, name
