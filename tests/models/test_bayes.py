"""Tests of seru/models/bayes.py against scipy / numpy oracles."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from seru import sampling
from seru.models.bayes import BayesDense, Prior, local_sample, materialised


def _softplus(x):
    return np.log1p(np.exp(x))


@pytest.fixture(scope="module")
def layer():
    m = BayesDense(5, 3)
    v = m.init(jax.random.key(0), jnp.ones((1, 5)))
    p = {k: np.asarray(x, np.float64) for k, x in v["params"].items()}
    return m, v, p


def test_init_ranges(layer):
    _, _, p = layer
    for k in ("w_mu", "b_mu"):
        assert p[k].min() >= -0.1 and p[k].max() <= 0.1
    for k in ("w_rho", "b_rho"):
        assert p[k].min() >= -3.0 and p[k].max() <= -2.0
    assert p["w_mu"].shape == (5, 3) and p["b_rho"].shape == (3,)


def test_mean_and_moments_closed_form(layer):
    m, v, p = layer
    x = np.random.default_rng(1).normal(size=(4, 5))
    np.testing.assert_allclose(m.apply(v, jnp.asarray(x, jnp.float32), method="mean"),
                               x @ p["w_mu"] + p["b_mu"], rtol=1e-5, atol=1e-6)
    mean, var = m.apply(v, jnp.asarray(x, jnp.float32), method="moments")
    np.testing.assert_allclose(mean, x @ p["w_mu"] + p["b_mu"], rtol=1e-5, atol=1e-6)
    var_np = (x ** 2) @ _softplus(p["w_rho"]) ** 2 + _softplus(p["b_rho"]) ** 2
    np.testing.assert_allclose(var, var_np, rtol=1e-5)


@pytest.mark.parametrize("prior", [Prior("gaussian", sigma=1.0),
                                   Prior("mixture", pi=0.3, sigma1=1.5, sigma2=0.05)])
def test_sample_complexity_matches_scipy(layer, prior):
    """Recover the draw (x = 0 gives b, x = I gives W + b) and score it with scipy."""
    m, v, p = layer
    key = jax.random.key(7)
    b, c0 = m.apply(v, jnp.zeros((1, 5)), key, prior, method="sample")
    wb, c1 = m.apply(v, jnp.eye(5), key, prior, method="sample")
    b = np.asarray(b[0], np.float64)
    w = np.asarray(wb, np.float64) - b
    logq = (stats.norm.logpdf(w, p["w_mu"], _softplus(p["w_rho"])).sum()
            + stats.norm.logpdf(b, p["b_mu"], _softplus(p["b_rho"])).sum())
    allw = np.concatenate([w.ravel(), b])
    if prior.kind == "gaussian":
        logp = stats.norm.logpdf(allw, 0, prior.sigma).sum()
    else:
        logp = np.log(prior.pi * stats.norm.pdf(allw, 0, prior.sigma1)
                      + (1 - prior.pi) * stats.norm.pdf(allw, 0, prior.sigma2)).sum()
    np.testing.assert_allclose(float(c0), logq - logp, rtol=2e-4)
    np.testing.assert_allclose(float(c1), float(c0), rtol=1e-6)
    # Evaluation mode: no complexity.
    _, c = m.apply(v, jnp.eye(5), key, None, method="sample")
    assert float(c) == 0.0


def test_per_sequence_draws_are_the_draws_of_their_fold_in_keys(layer):
    """per_sequence: sequence s is what a shared draw with fold_in(key, s) gives, and the
    complexity is the mean of the sequences' terms."""
    m, v, _ = layer
    prior = Prior("gaussian")
    x = jnp.asarray(np.random.default_rng(2).normal(size=(3, 4, 5)), jnp.float32)
    key = jax.random.key(9)
    y, c = m.apply(v, x, key, prior, True, method="sample")
    kw, kb = jax.random.split(key)
    ys, cs = [], []
    for s in range(3):
        # A shared draw whose two sub-keys are fold_in(kw, s) and fold_in(kb, s).
        w = (v["params"]["w_mu"] + jax.nn.softplus(v["params"]["w_rho"])
             * sampling.normal(jax.random.fold_in(kw, s), (5, 3)))
        b = (v["params"]["b_mu"] + jax.nn.softplus(v["params"]["b_rho"])
             * sampling.normal(jax.random.fold_in(kb, s), (3,)))
        ys.append(np.asarray(x[s] @ w + b))
        logq = (stats.norm.logpdf(np.asarray(w, np.float64), np.asarray(v["params"]["w_mu"]),
                                  _softplus(np.asarray(v["params"]["w_rho"], np.float64))).sum()
                + stats.norm.logpdf(np.asarray(b, np.float64), np.asarray(v["params"]["b_mu"]),
                                    _softplus(np.asarray(v["params"]["b_rho"], np.float64))).sum())
        logp = stats.norm.logpdf(np.concatenate([np.ravel(w), np.ravel(b)]), 0, 1).sum()
        cs.append(logq - logp)
    np.testing.assert_allclose(np.asarray(y), np.stack(ys), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(float(c), np.mean(cs), rtol=2e-4)
    with pytest.raises(ValueError, match=r"need x \[B, b, in\]"):
        m.apply(v, x[0], key, None, True, method="sample")


def test_sample_statistics(layer):
    """Empirical mean / variance of x w + b over many draws vs closed form."""
    m, v, p = layer
    x = np.random.default_rng(2).normal(size=(2, 5))
    keys = jax.random.split(jax.random.key(3), 5000)
    ys = jax.vmap(lambda k: m.apply(v, jnp.asarray(x, jnp.float32), k, method="sample")[0])(keys)
    ys = np.asarray(ys, np.float64)
    mean_np = x @ p["w_mu"] + p["b_mu"]
    var_np = (x ** 2) @ _softplus(p["w_rho"]) ** 2 + _softplus(p["b_rho"]) ** 2
    se = np.sqrt(var_np / len(keys))
    assert np.all(np.abs(ys.mean(0) - mean_np) < 5 * se)
    np.testing.assert_allclose(ys.var(0), var_np, rtol=0.1)


def test_local_sample_statistics():
    mean = jnp.array([0.5, -1.0, 2.0])
    var = jnp.array([0.01, 1.0, 4.0])
    keys = jax.random.split(jax.random.key(0), 20000)
    ys = jax.vmap(lambda k: local_sample(mean, jnp.sqrt(var), k))(keys)
    ys = np.asarray(ys, np.float64)
    assert np.all(np.abs(ys.mean(0) - np.asarray(mean)) < 5 * np.sqrt(np.asarray(var) / 20000))
    np.testing.assert_allclose(ys.var(0), np.asarray(var), rtol=0.05)


def test_kl_is_expectation_of_sampled_complexity(layer):
    """Closed-form KL vs the MC average of log q - log p over draws (Eq. (5) vs (6))."""
    m, v, p = layer
    prior = Prior("gaussian", sigma=0.7)
    keys = jax.random.split(jax.random.key(4), 1500)
    cs = jax.vmap(lambda k: m.apply(v, jnp.zeros((1, 5)), k, prior, method="sample")[1])(keys)
    cs = np.asarray(cs, np.float64)
    kl = float(m.apply(v, 0.7, method="kl"))
    # scipy oracle of the closed form: KL(N(mu, s) || N(0, sp)) per element.
    mu = np.concatenate([p["w_mu"].ravel(), p["b_mu"]])
    s = _softplus(np.concatenate([p["w_rho"].ravel(), p["b_rho"]]))
    kl_np = np.sum(np.log(0.7 / s) + (s ** 2 + mu ** 2) / (2 * 0.7 ** 2) - 0.5)
    np.testing.assert_allclose(kl, kl_np, rtol=1e-5)
    assert abs(cs.mean() - kl) < 5 * cs.std() / np.sqrt(len(cs))


def test_bad_input_width(layer):
    m, v, _ = layer
    with pytest.raises(Exception, match="5 input features"):
        m.apply(v, jnp.ones((1, 4)), method="mean")


def test_unknown_prior():
    with pytest.raises(ValueError, match="unknown prior"):
        Prior("laplace")


def test_materialised_is_exactly_its_input_with_its_gradient():
    """The stored-once helper of the broadcast draws changes no value (signed zeros,
    infinities included) and passes the gradient through unchanged."""
    x = jnp.asarray([[-0.0, 0.0, 1.5], [-jnp.inf, jnp.inf, -2.25]])
    np.testing.assert_array_equal(np.asarray(jax.jit(materialised)(x)), np.asarray(x))
    assert np.signbit(np.asarray(materialised(x))[0, 0])
    ct = jnp.asarray([[1.0, 2.0, 3.0]])
    g = jax.grad(lambda v: jnp.sum(ct * materialised(v) ** 2))(jnp.asarray([[0.5, -1.0, 2.0]]))
    np.testing.assert_allclose(np.asarray(g), [[1.0, -4.0, 12.0]])
