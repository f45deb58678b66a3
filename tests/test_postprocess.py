"""Tests for seru/postprocess.py against scipy.ndimage / scipy.signal / numpy oracles."""

import audmetric
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import ndimage, signal, stats

from seru import metrics
from seru import postprocess as pp
from seru.postprocess import median_filter


@pytest.fixture
def x64():
    with jax.enable_x64(True):
        yield


@pytest.mark.parametrize("mode", ["nearest", "reflect", "mirror", "constant"])
def test_median_filter_odd_vs_ndimage(x64, mode):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 37))
    for w in (3, 7):
        got = jax.jit(pp.median_filter, static_argnums=(1,), static_argnames="mode")(x, w, mode=mode)
        np.testing.assert_allclose(got, ndimage.median_filter(x, size=(1, w), mode=mode), rtol=1e-15)


def test_median_filter_vs_medfilt_and_axis(x64):
    rng = np.random.default_rng(1)
    x = rng.standard_normal(41)
    np.testing.assert_allclose(pp.median_filter(x, 9, mode="constant"), signal.medfilt(x, 9), rtol=1e-15)
    xm = rng.standard_normal((30, 3))
    np.testing.assert_allclose(pp.median_filter(xm, 5, axis=0),
                               ndimage.median_filter(xm, size=(5, 1), mode="nearest"), rtol=1e-15)


@pytest.mark.parametrize("w", [2, 4, 50])
def test_median_filter_even_window(x64, w):
    # even windows: placement of scipy.ndimage (origin 0), value = np.median (mean of the middle two)
    rng = np.random.default_rng(2)
    x = rng.standard_normal(120)
    want = ndimage.generic_filter(x, np.median, size=w, mode="nearest")
    np.testing.assert_allclose(pp.median_filter(x, w), want, rtol=1e-14)
    # by hand at one interior frame
    t = 60
    np.testing.assert_allclose(pp.median_filter(x, w)[t], np.median(x[t - w // 2: t - w // 2 + w]), rtol=1e-14)


def test_median_filter_window_longer_than_signal_and_errors(x64):
    x = np.array([3.0, 1.0, 2.0])
    np.testing.assert_allclose(pp.median_filter(x, 7), ndimage.median_filter(x, size=7, mode="nearest"))
    np.testing.assert_array_equal(pp.median_filter(x, 1), x)
    with pytest.raises(ValueError, match="window"):
        pp.median_filter(x, 0)
    with pytest.raises(ValueError, match="mode"):
        pp.median_filter(x, 3, mode="wrap")


def test_time_shift(x64):
    x = np.arange(6.0)
    np.testing.assert_array_equal(pp.time_shift(x, 2), [0, 0, 0, 1, 2, 3])
    np.testing.assert_array_equal(pp.time_shift(x, -2), [2, 3, 4, 5, 5, 5])
    xm = np.arange(12.0).reshape(2, 6)
    np.testing.assert_array_equal(pp.time_shift(xm.T, 1, axis=0).T, [[0, 0, 1, 2, 3, 4], [6, 6, 7, 8, 9, 10]])


def _np_shift(x, d):
    idx = np.clip(np.arange(x.shape[-1]) - d, 0, x.shape[-1] - 1)
    return x[..., idx]


def test_fit_chain_vs_numpy_grid_search(x64):
    rng = np.random.default_rng(3)
    T = 200
    y = np.cumsum(rng.standard_normal((3, T)), axis=-1) * 0.05
    y = ndimage.uniform_filter1d(y, 9, axis=-1)
    # predictions: delayed by 7 frames, shrunk, offset, noisy
    pred = 0.4 * _np_shift(y, 7) + 0.3 + 0.05 * rng.standard_normal((3, T))
    windows = (1, 5, 9)
    shifts = tuple(range(-10, 11))
    params = pp.fit_chain(pred, y, windows=windows, shifts=shifts)
    # numpy / scipy / audmetric oracle of the same greedy procedure
    cc = lambda p: audmetric.concordance_cc(y.ravel(), p.ravel())
    sm = {w: ndimage.median_filter(pred, size=(1, w), mode="nearest") for w in windows}
    w_best = max(windows, key=lambda w: cc(sm[w]))
    p = sm[w_best]
    b = y.mean() - p.mean()
    p = p + b
    c, s = p.mean(), y.std() / p.std()
    p = c + s * (p - c)
    d_best = max(shifts, key=lambda d: cc(_np_shift(p, d)))
    assert params.window == w_best and params.shift == d_best
    assert abs(params.shift + 7) <= 1  # the 7-frame delay is (about) undone
    np.testing.assert_allclose([params.bias, params.center, params.scale], [b, c, s], rtol=1e-10)
    # apply on "test" data reproduces the same transformation, under jit
    out = jax.jit(pp.apply_chain, static_argnums=1)(pred, params)
    np.testing.assert_allclose(out, _np_shift(p, d_best), rtol=1e-10)
    assert cc(np.asarray(out)) > cc(pred) + 0.2
    # centring and scaling alone: mean and std of y are matched on dev
    p2 = pp.apply_chain(pred, pp.fit_chain(pred, y, steps=("center", "scale")))
    np.testing.assert_allclose([np.mean(p2), np.std(p2)], [y.mean(), y.std()], rtol=1e-10)


def test_fit_chain_errors_and_constant_prediction(x64):
    y = np.linspace(0, 1, 20)
    with pytest.raises(ValueError, match="same shape"):
        pp.fit_chain(np.zeros(19), y)
    with pytest.raises(ValueError, match="finite"):
        pp.fit_chain(np.where(y > 0.5, np.nan, y), y)
    with pytest.raises(ValueError, match="unknown steps"):
        pp.fit_chain(y, y, steps=("smooth", "warp"))
    # constant prediction: no NaN parameter, scale stays 1
    params = pp.fit_chain(np.full(20, 0.2), y, windows=(1, 3), shifts=(0, 1))
    assert params.scale == 1.0 and np.isfinite(params.bias)


def test_late_fusion_vs_lstsq(x64):
    rng = np.random.default_rng(4)
    y = rng.standard_normal((2, 50))
    preds = np.stack([y + 0.5 * rng.standard_normal((2, 50)), 0.5 * y + 0.3 * rng.standard_normal((2, 50)),
                      rng.standard_normal((2, 50))])
    w = jax.jit(pp.fit_late_fusion)(preds, y)
    X = np.column_stack([np.ones(100), preds.reshape(3, -1).T])
    want = np.linalg.lstsq(X, y.ravel(), rcond=None)[0]
    np.testing.assert_allclose(w, want, rtol=1e-8)
    np.testing.assert_allclose(jax.jit(pp.apply_late_fusion)(preds, w), (X @ want).reshape(2, 50), rtol=1e-8)
    # one input: scipy's simple linear regression
    lr = stats.linregress(preds[0].ravel(), y.ravel())
    np.testing.assert_allclose(pp.fit_late_fusion(preds[:1], y), [lr.intercept, lr.slope], rtol=1e-8)
    # mask (NaN in the padding does not leak)
    m = np.ones((2, 50), bool)
    m[1, 30:] = False
    preds_nan = np.where(m, preds, np.nan)
    want_m = np.linalg.lstsq(X[m.ravel()], y.ravel()[m.ravel()], rcond=None)[0]
    np.testing.assert_allclose(pp.fit_late_fusion(preds_nan, y, mask=m), want_m, rtol=1e-8)
    with pytest.raises(ValueError, match="weights must have shape"):
        pp.apply_late_fusion(preds, w[:2])
    with pytest.raises(ValueError, match=r"\[k, \*y_dev.shape\]"):
        pp.fit_late_fusion(preds, y[0])


def test_median_filter_nan_propagates(x64):
    x = np.arange(10.0)
    x[4] = np.nan
    got = np.asarray(pp.median_filter(x, 3))
    assert np.all(np.isnan(got[3:6])) and np.all(np.isfinite(np.delete(got, [3, 4, 5])))
    np.testing.assert_allclose(np.delete(got, [3, 4, 5]),
                               np.delete(ndimage.median_filter(np.arange(10.0), 3, mode="nearest"), [3, 4, 5]))


def test_fit_chain_sequences_equals_fit_chain_on_one_sequence_and_stays_inside_each():
    from seru.postprocess import fit_chain, fit_chain_sequences

    rng = np.random.default_rng(4)
    t = np.arange(300)
    y = np.sin(t / 20.0)
    p = 0.5 * np.roll(y, 10) + 0.3 + 0.1 * rng.normal(size=t.size)
    one = fit_chain(jnp.asarray(p[None]), jnp.asarray(y[None]), axis=-1)
    seq = fit_chain_sequences([p], [y])
    assert seq.window == one.window and seq.shift == one.shift
    np.testing.assert_allclose([seq.bias, seq.center, seq.scale],
                               [one.bias, one.center, one.scale], rtol=1e-5, atol=1e-6)
    # two sequences: the same as pooling their separately post-processed frames by hand
    p2, y2 = p[:120] * 1.5, y[:120]
    fit = fit_chain_sequences([p, p2], [y, y2], steps=("smooth",), windows=(1, 21))
    def pooled(w):
        a = np.concatenate([np.asarray(median_filter(jnp.asarray(q), w, axis=0)) for q in (p, p2)])
        return float(metrics.ccc(jnp.asarray(a), jnp.asarray(np.concatenate([y, y2]))))
    assert fit.window == (21 if pooled(21) > pooled(1) else 1)
    # masked frames do not count
    m = np.ones(300, bool)
    m[:150] = False
    masked = fit_chain_sequences([p], [y], [m], steps=("center",))
    np.testing.assert_allclose(masked.bias, y[150:].mean() - p[150:].mean(), rtol=1e-9)
    with pytest.raises(ValueError, match="finite"):
        fit_chain_sequences([np.r_[p[:-1], np.nan]], [y])
