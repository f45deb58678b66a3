"""Tests of seru/mc.py: the vectorised, chunked grid equals plain Python loops; MC dropout
and latent passes equal separate applies and their closed-form moments; trunk once."""

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


@pytest.mark.parametrize("chunk", [None, 1, 3, 4, 10])
def test_vmap_chunked_equals_one_vmap_for_pytrees(chunk):
    """10 rows in chunks (with a remainder for 3 and 4): the one vmap's pytree."""
    xs = jnp.arange(30.0).reshape(10, 3)
    keys = jax.random.split(jax.random.key(0), 10)
    fn = lambda x, k: {"a": x * 2.0, "b": (jnp.sum(x), jax.random.normal(k, (2,)))}  # noqa: E731
    out = mc.vmap_chunked(fn, (xs, keys), chunk)
    ref = jax.vmap(fn)(xs, keys)
    for a, b in zip(jax.tree.leaves(out), jax.tree.leaves(ref)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6)
    with pytest.raises(ValueError, match="chunk"):
        mc.vmap_chunked(fn, (xs, keys), 0)


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


# -- MC dropout and latent sampling (sridhar21) --------------------------------------------------


def test_dropout_passes_equal_separate_applies_with_the_same_keys():
    x = jnp.asarray(np.random.default_rng(2).normal(size=(3, 4)), jnp.float32)

    def apply_fn(key):  # a toy network with inverted dropout on its input
        keep = jax.random.bernoulli(key, 0.5, x.shape)
        h = jnp.where(keep, x / 0.5, 0.0)
        return {"y": jnp.tanh(h).sum(-1), "h": h}

    rng, n = jax.random.key(5), 7
    out = mc.dropout_passes(apply_fn, rng, n)
    assert out["y"].shape == (n, 3) and out["h"].shape == (n, 3, 4)
    refs = [apply_fn(k) for k in jax.random.split(rng, n)]
    for i, ref in enumerate(refs):
        np.testing.assert_allclose(out["y"][i], ref["y"], rtol=1e-6)
    np.testing.assert_allclose(np.asarray(out["y"]).mean(0),
                               np.mean([np.asarray(r["y"]) for r in refs], 0), rtol=1e-6)
    with pytest.raises(ValueError, match="num_samples"):
        mc.dropout_passes(apply_fn, rng, 0)


def _gaussian_encoder(calls):
    def encode_fn(x):
        calls["encode"] += 1
        return x[:, :2], x[:, 2:]  # (mean, logvar)
    return encode_fn


def _linear_head(key, posterior):  # z ~ N(mean, diag(exp(logvar))), head = z @ W
    mean, logvar = posterior
    z = mean + jnp.exp(0.5 * logvar) * jax.random.normal(key, mean.shape)
    return {"y": z @ _W}


_W = jnp.asarray([[1.0, -2.0, 0.5], [0.5, 1.0, 3.0]])


def test_latent_passes_run_the_encoder_once_and_match_the_closed_form():
    x = jnp.asarray([[0.3, -1.0, np.log(0.25), np.log(4.0)], [2.0, 0.0, 0.0, np.log(0.01)]],
                    jnp.float32)
    calls = {"encode": 0, "head": 0}

    def head(key, posterior):
        calls["head"] += 1
        return _linear_head(key, posterior)

    n = 20000
    jaxpr = jax.make_jaxpr(lambda x: mc.latent_passes(_gaussian_encoder(calls), head, x,
                                                      jax.random.key(0), n))(x)
    # trunk once, heads many: one trace of each; the posterior is not batched over passes
    assert calls == {"encode": 1, "head": 1}
    slices = [e for e in jaxpr.jaxpr.eqns if e.primitive.name == "slice"]
    assert len(slices) == 2 and all(e.outvars[0].aval.shape == (2, 2) for e in slices)
    assert f"f32[{n},2,2]" in str(jaxpr)  # while the draws are per pass
    out, (mean, logvar) = jax.jit(lambda x: mc.latent_passes(
        _gaussian_encoder(calls), _linear_head, x, jax.random.key(1), n))(x)
    np.testing.assert_array_equal(mean, x[:, :2])
    y = np.asarray(out["y"], np.float64)
    assert y.shape == (n, 2, 3)
    # y = z W with z ~ N(mu, diag(s^2)): mean mu W, covariance W^T diag(s^2) W
    w = np.asarray(_W, np.float64)
    mu, var = np.asarray(x[:, :2], np.float64), np.exp(np.asarray(x[:, 2:], np.float64))
    cov = np.einsum("lh,bl,lk->bhk", w, var, w)
    sd = np.sqrt(np.diagonal(cov, axis1=1, axis2=2))
    assert np.all(np.abs(y.mean(0) - mu @ w) < 5 * sd / np.sqrt(n))
    for b in range(2):
        np.testing.assert_allclose(np.cov(y[:, b].T), cov[b], rtol=0.05, atol=0.05 * sd[b].max() ** 2)
    # key i draws z from jax.random.split(rng, n)[i]
    k3 = jax.random.split(jax.random.key(1), n)[3]
    np.testing.assert_allclose(out["y"][3], _linear_head(k3, (mean, logvar))["y"], rtol=1e-6)


def test_projected_latent_passes_match_the_closed_form_and_fall_back():
    x = jnp.asarray([[0.3, -1.0, np.log(0.25), np.log(4.0)]], jnp.float32)
    w, b = _W[:, :2], jnp.asarray([0.1, -0.2])  # h = 2 <= L = 2: exact
    calls = {"encode": 0}
    n = 20000
    out, _ = mc.projected_latent_passes(_gaussian_encoder(calls), _linear_head, (w, b),
                                        lambda a: {"a": a}, x, jax.random.key(2), n)
    assert calls["encode"] == 1
    a = np.asarray(out["a"][:, 0], np.float64)
    wn = np.asarray(w, np.float64)
    cov = wn.T @ np.diag(np.exp(np.asarray(x[0, 2:], np.float64))) @ wn
    m = np.asarray(x[0, :2], np.float64) @ wn + np.asarray(b)
    sd = np.sqrt(np.diag(cov))
    assert np.all(np.abs(a.mean(0) - m) < 5 * sd / np.sqrt(n))
    np.testing.assert_allclose(np.cov(a.T), cov, rtol=0.05, atol=0.05 * sd.max() ** 2)
    # h = 3 > L = 2 (rank-deficient covariance), or no logvar (an AE): the faithful sampler
    rng = jax.random.key(3)
    wide, _ = mc.projected_latent_passes(_gaussian_encoder(calls), _linear_head,
                                         (_W, jnp.zeros(3)), None, x, rng, 4)
    ref, _ = mc.latent_passes(_gaussian_encoder(calls), _linear_head, x, rng, 4)
    np.testing.assert_array_equal(wide["y"], ref["y"])
    ae, post = mc.projected_latent_passes(lambda x: (x[:, :2], None), lambda k, p: {"z": p[0]},
                                          (w, b), None, x, rng, 3)
    assert post[1] is None
    np.testing.assert_array_equal(ae["z"], jnp.broadcast_to(x[:, :2], (3, 1, 2)))


def test_average_soft_matches_scipy():
    import scipy.special
    logits = np.random.default_rng(1).normal(size=(50, 3, 7)) * 2
    logp = jax.nn.log_softmax(jnp.asarray(logits, jnp.float32), -1)
    p_bar = np.asarray(mc.average_soft(logp))
    np.testing.assert_allclose(p_bar, scipy.special.softmax(logits, -1).mean(0), rtol=1e-5)
    np.testing.assert_allclose(p_bar.sum(-1), 1.0, rtol=1e-6)


PASS_SHARDS_SCRIPT = r'''
import json, jax, jax.numpy as jnp, numpy as np
from seru import mc, sharding

x = jnp.asarray(np.random.default_rng(0).normal(size=(4, 20, 64)), jnp.float32)
w = jnp.asarray(np.random.default_rng(1).normal(size=(64, 64)), jnp.float32) / 8


def window_fn(cache, key):
    h = jnp.tanh(cache @ (w + 0.1 * jax.random.normal(key, w.shape)))
    return jnp.tanh(h @ w).sum(-1, keepdims=True), jnp.zeros(())


def dropout_fn(key):
    keep = jax.random.bernoulli(key, 0.5, x.shape)
    return jnp.tanh(jnp.where(keep, x, 0.0) @ w) @ w


fns = {"cells": lambda x, k: mc.sample_passes(window_fn, x, k, 15, 5)[0],
       "cells_chunked": lambda x, k: mc.sample_passes(window_fn, x, k, 15, 5, chunk=4)[0],
       "dropout": lambda x, k: mc.dropout_passes(dropout_fn, k, 15)}
out = {}
# 2 devices on "data" against those 2 groups x 2 pass shards on 4: the same rows per device
meshes = {1: jax.sharding.Mesh(np.asarray(jax.devices()[:2]), ("data",)),
          2: sharding.make_mesh(2)}
for p, mesh in meshes.items():
    with jax.set_mesh(mesh):
        xs = jax.device_put(x, sharding.data_sharding(mesh))
        for name, f in fns.items():
            c = jax.jit(f).lower(xs, jax.random.key(3)).compile()
            out[f"{name}/{p}"] = {"flops": c.cost_analysis()["flops"],
                                  "y": np.asarray(c(xs, jax.random.key(3))).tolist()}
print(json.dumps(out))
'''


def test_passes_shard_over_a_mesh_axis_of_their_own():
    """2 virtual devices on "data", and 4 as ("data" 2, "passes" 2): the same passes, and
    with the same rows per device each device computes about half the FLOPs in the second
    (15 passes: an uneven split)."""
    import json
    import os
    import subprocess
    import sys

    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4",
               JAX_PLATFORMS="cpu")
    res = subprocess.run([sys.executable, "-c", PASS_SHARDS_SCRIPT], env=env,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    out = json.loads(res.stdout.strip().splitlines()[-1])
    for name in ("cells", "cells_chunked", "dropout"):
        one, two = out[f"{name}/1"], out[f"{name}/2"]
        np.testing.assert_allclose(two["y"], one["y"], rtol=1e-5, atol=1e-6)
        assert two["flops"] < 0.7 * one["flops"], (name, two["flops"], one["flops"])
