"""Tests of seru/models/bbb_ser.py: posterior-mean head, window sharing, samplers."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from seru import mc
from seru.models.bayes import Prior
from seru.models.bbb_ser import BBBHead, BBBSER
from seru.models.extractors import Extractor


def _softplus(x):
    return np.log1p(np.exp(x))


def _prelu(x, a):
    return np.where(x >= 0, x, a * x)


@pytest.fixture(scope="module")
def head():
    m = BBBHead(4, 1, hidden=(8, 6))
    x = np.random.default_rng(0).normal(size=(1, 6, 4)).astype(np.float32)
    v = m.init(jax.random.key(0), jnp.asarray(x))
    return m, v, x


def _np_params(v):
    p = jax.tree.map(lambda a: np.asarray(a, np.float64), v["params"])
    layers = [p[f"layers_{i}"] for i in range(3)]
    slopes = [float(p[f"acts_{i}"]["negative_slope"]) for i in range(2)]
    return layers, slopes


def _np_forward(x, ws, bs, slopes):
    for i, (w, b) in enumerate(zip(ws, bs)):
        x = x @ w + b
        if i < 2:
            x = _prelu(x, slopes[i])
    return x


def test_mean_pass_matches_numpy(head):
    m, v, x = head
    layers, slopes = _np_params(v)
    assert slopes == [0.25, 0.25]
    ref = _np_forward(x.astype(np.float64), [l["w_mu"] for l in layers],
                      [l["b_mu"] for l in layers], slopes)
    np.testing.assert_allclose(np.asarray(m.apply(v, jnp.asarray(x), method="mean")), ref,
                               rtol=1e-5, atol=1e-6)


def test_faithful_shares_weights_inside_a_window_local_does_not(head):
    m, v, _ = head
    x = jnp.tile(jnp.asarray([[0.3, -1.0, 0.5, 2.0]]), (2, 5, 1))  # identical frames and sequences
    y, _ = m.apply(v, {"x": x}, jax.random.key(1), method="window")
    y = np.asarray(y)
    assert np.ptp(y) < 1e-6  # one weight draw for every frame of the window, every sequence
    y2, _ = m.apply(v, {"x": x}, jax.random.key(2), method="window")
    assert abs(float(y2[0, 0, 0]) - float(y[0, 0, 0])) > 1e-4
    ml = BBBHead(4, 1, hidden=(8, 6), sampler="local")
    yl, _ = ml.apply(v, ml.apply(v, x, method="prepare"), jax.random.key(1), method="window")
    assert np.ptp(np.asarray(yl)) > 1e-3  # per-frame draws
    mw = BBBHead(4, 1, hidden=(8, 6), sampler="local_window")
    yw, _ = mw.apply(v, mw.apply(v, x, method="prepare"), jax.random.key(1), method="window")
    assert np.ptp(np.asarray(yw)) < 1e-6  # one noise vector per window


def _moments_by_sampler(sampler, v, x, n):
    m = BBBHead(4, 1, hidden=(8, 6), sampler=sampler)
    prepare = functools.partial(m.apply, v, method="prepare")
    window = functools.partial(m.apply, v, method="window")
    ys, _ = jax.jit(lambda k: mc.sample_passes(window, prepare(jnp.asarray(x)), k, n, 3))(
        jax.random.key(11))
    ys = np.asarray(ys, np.float64)
    return ys.mean(0), ys.std(0), ys


def test_samplers_agree_per_frame_within_mc_error(head):
    """Faithful (weights per window), local reparameterisation and a numpy oracle
    (independent weight draws per frame) give the same per-frame mean and std."""
    _, v, x = head
    n = 4000
    mean_f, std_f, _ = _moments_by_sampler("faithful", v, x, n)
    mean_l, std_l, _ = _moments_by_sampler("local", v, x, n)
    mean_w, std_w, _ = _moments_by_sampler("local_window", v, x, n)
    layers, slopes = _np_params(v)
    rng = np.random.default_rng(5)
    ref = []
    for _ in range(n):
        ws = [l["w_mu"] + _softplus(l["w_rho"]) * rng.normal(size=l["w_mu"].shape) for l in layers]
        bs = [l["b_mu"] + _softplus(l["b_rho"]) * rng.normal(size=l["b_mu"].shape) for l in layers]
        ref.append(_np_forward(x.astype(np.float64), ws, bs, slopes))
    ref = np.stack(ref)
    mean_o, std_o = ref.mean(0), ref.std(0)
    se_mean = std_o / np.sqrt(n)
    se_std = std_o / np.sqrt(2 * n)
    for mean, std in ((mean_f, std_f), (mean_l, std_l), (mean_w, std_w)):
        assert np.all(np.abs(mean - mean_o) < 6 * np.sqrt(2) * se_mean)
        assert np.all(np.abs(std - std_o) < 6 * np.sqrt(2) * se_std)


def test_complexity_sums_every_window(head):
    """The faithful window returns log q - log p of its own draw; differs per window key."""
    m, v, x = head
    prepare = functools.partial(m.apply, v, method="prepare")
    window = functools.partial(m.apply, v, method="window", with_complexity=True)
    _, cs = jax.jit(lambda k: mc.sample_passes(window, prepare(jnp.asarray(x)), k, 3, 2))(
        jax.random.key(3))
    cs = np.asarray(cs)
    assert cs.shape == (3, 3) and len(np.unique(cs.round(3))) == 9
    kl = float(m.apply(v, method="kl"))
    # Each term is one sample of log q - log p, whose expectation is the KL (> 0).
    assert kl > 0 and abs(cs.mean() - kl) < 0.5 * kl


def test_full_model_shapes_and_errors():
    m = BBBSER(out_features=2, extractor=Extractor(lstm_size=8), hidden=(8, 4))
    audio = jnp.zeros((2, 30 * 640))
    v = m.init(jax.random.key(0), audio)
    f = m.apply(v, audio, method="trunk")
    assert f.shape == (2, 30, 8)
    np.testing.assert_allclose(np.asarray(m.apply(v, audio)),
                               np.asarray(m.apply(v, f, method="head_mean")), rtol=1e-6)
    with pytest.raises(ValueError, match="needs prior 'gaussian'"):
        BBBHead(4, 1, sampler="local", prior=Prior("mixture")).init(jax.random.key(0), jnp.ones((1, 1, 4)))
    with pytest.raises(ValueError, match="unknown sampler"):
        BBBHead(4, 1, sampler="nope").init(jax.random.key(0), jnp.ones((1, 1, 4)))


def test_rho_init_range_reaches_every_layer():
    """``rho_init`` sets U[lo, hi] of every rho (prabhu22 Sec. 4.3); mu keeps U[-0.1, 0.1]."""
    head = BBBHead(4, 1, (6, 3), sampler="local", rho_init=(-2.0, -1.0))
    params = head.init(jax.random.key(0), jnp.ones((1, 2, 4)))["params"]
    rhos = [np.asarray(v) for k, layer in params.items() if k.startswith("layers")
            for n, v in layer.items() if n.endswith("rho")]
    mus = [np.asarray(v) for k, layer in params.items() if k.startswith("layers")
           for n, v in layer.items() if n.endswith("mu")]
    assert len(rhos) == 6 and len(mus) == 6
    allr = np.concatenate([r.ravel() for r in rhos])
    assert allr.min() >= -2.0 and allr.max() < -1.0 and allr.min() < -1.8 and allr.max() > -1.2
    allm = np.concatenate([m.ravel() for m in mus])
    assert np.abs(allm).max() <= 0.1
