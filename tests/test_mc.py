"""Tests of seru/mc.py: the vectorised, chunked grid equals plain Python loops."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from seru import mc


def _window_fn(cache_w, key):
    """A toy stochastic head: one scale per window draw, one noise per frame."""
    x = cache_w["x"]
    k1, k2 = jax.random.split(key)
    a = jax.random.normal(k1, ())
    y = a * x + 0.1 * jax.random.normal(k2, x.shape)
    return y, jnp.sum(a * a)


def _loop(cache, rng, n, window):
    """Independent reference: Python loops over passes and windows, numpy padding."""
    x = np.asarray(cache["x"])
    b, t = x.shape[:2]
    w = -(-t // window)
    xp = np.concatenate([x, np.zeros((b, w * window - t) + x.shape[2:], x.dtype)], axis=1)
    keys = jax.random.split(rng, n)
    fn = jax.jit(_window_fn)
    ys = np.zeros((n, b, w * window) + x.shape[2:])
    cs = np.zeros((n, w))
    for i in range(n):
        for j in range(w):
            y, c = fn({"x": jnp.asarray(xp[:, j * window:(j + 1) * window])},
                              jax.random.fold_in(keys[i], j))
            ys[i, :, j * window:(j + 1) * window] = np.asarray(y)
            cs[i, j] = float(c)
    return ys[:, :, :t], cs


@pytest.mark.parametrize("chunk", [None, 1, 4, 7, 100])
def test_vectorised_equals_python_loop(chunk):
    x = np.random.default_rng(0).normal(size=(2, 23, 3)).astype(np.float32)  # 23 frames: partial window
    cache = {"x": jnp.asarray(x)}
    rng = jax.random.key(42)
    ys, cs = jax.jit(lambda c, r: mc.sample_passes(_window_fn, c, r, 5, 5, chunk))(cache, rng)
    ref_y, ref_c = _loop(cache, rng, 5, 5)
    assert ys.shape == (5, 2, 23, 3) and cs.shape == (5, 5)
    np.testing.assert_allclose(np.asarray(ys), ref_y, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(np.asarray(cs), ref_c, rtol=1e-6)


def test_mc_predict_summaries():
    x = np.random.default_rng(1).normal(size=(1, 12, 2)).astype(np.float32)
    rng = jax.random.key(3)
    out = mc.mc_predict(lambda f: {"x": f}, _window_fn, lambda f: 2.0 * f, jnp.asarray(x), rng,
                        num_samples=6, window=4, chunk=5, return_samples=True)
    ref_y, _ = _loop({"x": jnp.asarray(x)}, rng, 6, 4)
    np.testing.assert_allclose(np.asarray(out["samples"]), ref_y, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(np.asarray(out["m_hat"]), 2.0 * x, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(out["s_hat"]), np.std(ref_y, axis=0, ddof=1),
                               rtol=1e-5, atol=1e-6)
    out0 = mc.mc_predict(lambda f: {"x": f}, _window_fn, lambda f: f, jnp.asarray(x), rng,
                         num_samples=6, window=4, ddof=0)
    np.testing.assert_allclose(np.asarray(out0["s_hat"]), np.std(ref_y, axis=0), rtol=1e-5, atol=1e-6)
    assert "samples" not in out0


def test_single_pass_spread_is_zero_and_bad_arguments():
    s = mc.sample_std(jnp.ones((1, 3)))
    np.testing.assert_array_equal(np.asarray(s), np.zeros(3))
    with pytest.raises(ValueError, match="num_samples"):
        mc.sample_passes(_window_fn, {"x": jnp.ones((1, 4, 1))}, jax.random.key(0), 0, 2)
    with pytest.raises(ValueError, match="window"):
        mc.sample_passes(_window_fn, {"x": jnp.ones((1, 4, 1))}, jax.random.key(0), 1, 0)
