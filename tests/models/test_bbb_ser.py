"""Tests of seru/models/bbb_ser.py: posterior-mean head, window sharing, samplers."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from seru import mc
from seru.models.bayes import Prior, window_sample
from seru.models.bbb_ser import PASS_SAMPLERS, BBBHead, BBBSER
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


def test_which_rows_share_a_draw_in_each_sampler(head):
    """faithful: one draw per (window, sequence); batch_shared: one per window for the whole
    batch; local: per frame; local_window: one noise vector per window; local_pass: one
    noise vector per window of window_frames (first layer), one draw of the later layers."""
    m, v, _ = head
    x = jnp.tile(jnp.asarray([[0.3, -1.0, 0.5, 2.0]]), (2, 5, 1))  # identical frames and sequences
    y = np.asarray(m.apply(v, {"x": x}, jax.random.key(1), method="window")[0])
    assert np.ptp(y[0]) < 1e-6 and np.ptp(y[1]) < 1e-6   # inside a sequence's window: shared
    assert abs(float(y[0, 0, 0] - y[1, 0, 0])) > 1e-3     # two sequences: their own draws
    y2, _ = m.apply(v, {"x": x}, jax.random.key(2), method="window")
    assert abs(float(y2[0, 0, 0]) - float(y[0, 0, 0])) > 1e-4
    mb = BBBHead(4, 1, hidden=(8, 6), sampler="batch_shared")
    yb, _ = mb.apply(v, {"x": x}, jax.random.key(1), method="window")
    assert np.ptp(np.asarray(yb)) < 1e-6  # one draw for every frame of every sequence
    ml = BBBHead(4, 1, hidden=(8, 6), sampler="local")
    yl, _ = ml.apply(v, ml.apply(v, x, method="prepare"), jax.random.key(1), method="window")
    assert np.ptp(np.asarray(yl)) > 1e-3  # per-frame draws
    mw = BBBHead(4, 1, hidden=(8, 6), sampler="local_window")
    yw, _ = mw.apply(v, mw.apply(v, x, method="prepare"), jax.random.key(1), method="window")
    assert np.ptp(np.asarray(yw)) < 1e-6  # one noise vector per window
    mp = BBBHead(4, 1, hidden=(8, 6), sampler="local_pass", window_frames=3)
    yp = np.asarray(mp.apply(v, mp.apply(v, x, method="prepare"), jax.random.key(1),
                             method="window")[0])
    assert yp.shape == (2, 5, 1) and np.ptp(yp[:, :3]) < 1e-6 and np.ptp(yp[:, 3:]) < 1e-6
    assert abs(float(yp[0, 0, 0] - yp[0, 3, 0])) > 1e-4  # windows 0 and 1: own noise


def test_local_pass_window_applies_its_pass_draws(head):
    """local_pass: the window is the first layer's window noise, then each later layer with
    the weights of pass_draws(key): its output recomputed from them by hand."""
    _, v, x = head
    mp = BBBHead(4, 1, hidden=(8, 6), sampler="local_pass", window_frames=3)
    cache = mp.apply(v, jnp.asarray(x), method="prepare")
    key = jax.random.key(7)
    draws = mp.apply(v, key, method="pass_draws")
    assert [w.shape for w, _ in draws] == [(8, 6), (6, 1)]
    h = window_sample(cache["mean"], cache["std"], jax.random.split(key, 3)[0], 3)
    for i, (w, b) in enumerate(draws):
        a = float(v["params"][f"acts_{i}"]["negative_slope"])
        h = jnp.where(h >= 0, h, a * h) @ w + b
    np.testing.assert_allclose(np.asarray(mp.apply(v, cache, key, method="window")[0]),
                               np.asarray(h), rtol=1e-6, atol=1e-7)
    with pytest.raises(ValueError, match="pass_draws"):
        BBBHead(4, 1, hidden=(8, 6), sampler="local").apply(v, key, method="pass_draws")


def test_faithful_sequence_draw_does_not_depend_on_the_batch(head):
    """Sequence s draws with fold_in(window key, s): the same whatever else is in the batch."""
    m, v, x = head
    x2 = np.concatenate([x, x[:, ::-1]], axis=0)  # [2, 6, 4]
    y1 = np.asarray(m.apply(v, {"x": jnp.asarray(x)}, jax.random.key(4), method="window")[0])
    y2 = np.asarray(m.apply(v, {"x": jnp.asarray(x2)}, jax.random.key(4), method="window")[0])
    np.testing.assert_allclose(y2[:1], y1, rtol=1e-6)


def test_faithful_sequences_of_a_batch_get_independent_weights(head):
    """Two identical sequences in one batch: with the authors' per-(sequence, window) draws
    their outputs at a frame are uncorrelated over the passes (|r| within 4 standard errors of
    0); with batch_shared they are the same draw (r = 1)."""
    _, v, x = head
    pair = np.concatenate([x, x], axis=0)  # [2, 6, 4]
    n = 3000
    _, _, ys = _moments_by_sampler("faithful", v, pair, n)
    r = np.array([np.corrcoef(ys[:, 0, t, 0], ys[:, 1, t, 0])[0, 1] for t in range(6)])
    assert np.all(np.abs(r) < 4 / np.sqrt(n))
    _, _, yb = _moments_by_sampler("batch_shared", v, pair, 200)
    np.testing.assert_allclose(yb[:, 0], yb[:, 1], rtol=1e-6)


def _np_faithful(x, layers, slopes, window, n, rng):
    """numpy oracle of the authors' structure: fresh weights per (pass, sequence, window)."""
    b, t, _ = x.shape
    out = np.empty((n, b, t, 1))
    for i in range(n):
        for s in range(b):
            for start in range(0, t, window):
                ws = [l["w_mu"] + _softplus(l["w_rho"]) * rng.normal(size=l["w_mu"].shape)
                      for l in layers]
                bs = [l["b_mu"] + _softplus(l["b_rho"]) * rng.normal(size=l["b_mu"].shape)
                      for l in layers]
                out[i, s, start:start + window] = _np_forward(x[s, start:start + window], ws,
                                                              bs, slopes)
    return out


def test_faithful_matches_a_numpy_monte_carlo_of_the_authors_structure(head):
    """Per-frame mean and std, and the correlation of two frames of one window (shared
    weights) and of two windows (independent draws), against a numpy Monte Carlo."""
    _, v, x = head
    layers, slopes = _np_params(v)
    n = 3000
    _, _, ys = _moments_by_sampler("faithful", v, x, n)  # windows of 3 frames
    ref = _np_faithful(x.astype(np.float64), layers, slopes, 3, n, np.random.default_rng(8))
    se_mean = ref.std(0) / np.sqrt(n)
    assert np.all(np.abs(ys.mean(0) - ref.mean(0)) < 6 * np.sqrt(2) * se_mean)
    assert np.all(np.abs(ys.std(0) - ref.std(0)) < 6 * np.sqrt(2) * ref.std(0) / np.sqrt(2 * n))

    def corr(a, t1, t2):
        return np.corrcoef(a[:, 0, t1, 0], a[:, 0, t2, 0])[0, 1]

    for t1, t2 in ((0, 1), (3, 5), (2, 3)):  # same window, same window, across windows
        assert abs(corr(ys, t1, t2) - corr(ref, t1, t2)) < 6 * np.sqrt(2) / np.sqrt(n)
    assert corr(ref, 0, 1) > 0.3 and abs(corr(ref, 2, 3)) < 4 / np.sqrt(n)


def _moments_by_sampler(sampler, v, x, n):
    """n passes, windows of 3 frames; a per-pass sampler gets whole sequences."""
    m = BBBHead(4, 1, hidden=(8, 6), sampler=sampler, window_frames=3)
    prepare = functools.partial(m.apply, v, method="prepare")
    window = functools.partial(m.apply, v, method="window")
    grid = x.shape[1] if sampler in PASS_SAMPLERS else 3
    ys, _ = jax.jit(lambda k: mc.sample_passes(window, prepare(jnp.asarray(x)), k, n, grid))(
        jax.random.key(11))
    ys = np.asarray(ys, np.float64)
    return ys.mean(0), ys.std(0), ys


def test_samplers_agree_per_frame_within_mc_error(head):
    """Every sampler (weights per window, local reparameterisation, later weights per pass)
    and a numpy oracle (independent weight draws per frame) give the same per-frame mean
    and std."""
    _, v, x = head
    n = 4000
    mean_f, std_f, _ = _moments_by_sampler("faithful", v, x, n)
    mean_b, std_b, _ = _moments_by_sampler("batch_shared", v, x, n)
    mean_l, std_l, _ = _moments_by_sampler("local", v, x, n)
    mean_w, std_w, _ = _moments_by_sampler("local_window", v, x, n)
    mean_p, std_p, _ = _moments_by_sampler("local_pass", v, x, n)
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
    for mean, std in ((mean_f, std_f), (mean_b, std_b), (mean_l, std_l), (mean_w, std_w),
                      (mean_p, std_p)):
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
