"""Tests of han17's BLSTM regressor (seru/models/blstm.py): sizes, the U[-0.1, 0.1] init,
input noise in training only, and that a vmapped weight sweep trains exactly as separate
runs (the han17 sweep of w_E as one program)."""

import jax
import jax.numpy as jnp
import numpy as np
import optax

from seru import losses
from seru.models.blstm import BLSTMRegressor

B, T, F = 3, 12, 5


def _x(seed=0):
    return jnp.asarray(np.random.default_rng(seed).normal(size=(B, T, F)), jnp.float32)


def test_sizes_and_uniform_init():
    model = BLSTMRegressor(out_features=4, hidden=6)
    params = model.init({"params": jax.random.key(0)}, _x())
    leaves = jax.tree_util.tree_flatten_with_path(params)[0]
    assert all(float(jnp.max(jnp.abs(v))) <= 0.1 for _, v in leaves)
    # a uniform draw, not zeros or a narrow normal: the spread of U[-0.1, 0.1] is 0.1 / sqrt(3)
    big = np.concatenate([np.ravel(v) for _, v in leaves])
    assert abs(big.std() - 0.1 / np.sqrt(3)) < 0.01
    n_lstm = lambda f_in, h: 4 * (f_in * h + h * h + h)  # 4 gates: kernels, recurrent, bias
    expected = 2 * n_lstm(F, 6) + 2 * n_lstm(12, 6) + 12 * 4 + 4
    assert sum(v.size for _, v in leaves) == expected
    assert model.apply(params, _x()).shape == (B, T, 4)


def test_input_noise_only_in_training():
    model = BLSTMRegressor(out_features=2, hidden=4)
    params = model.init({"params": jax.random.key(0)}, _x())
    a = model.apply(params, _x())
    b = model.apply(params, _x())
    np.testing.assert_array_equal(a, b)
    n1 = model.apply(params, _x(), noise_key=jax.random.key(1))
    n2 = model.apply(params, _x(), noise_key=jax.random.key(2))
    # (small: U[-0.1, 0.1] weights damp the input; the exact check is the one below)
    assert float(jnp.max(jnp.abs(n1 - a))) > 1e-5 and float(jnp.max(jnp.abs(n1 - n2))) > 1e-5
    # the noise is N(0, 0.2^2) added to the inputs: a model without it on x + noise agrees
    quiet = BLSTMRegressor(out_features=2, hidden=4, input_noise=0.0)
    noise = 0.2 * jax.random.normal(jax.random.key(1), (B, T, F))
    np.testing.assert_allclose(quiet.apply(params, _x() + noise), n1, atol=1e-6)


def test_vmapped_weight_sweep_equals_separate_runs():
    """Two weightings of Eq. (7) trained as one vmapped program give the parameters of two
    separate runs with the same keys (Adam acts per parameter, the losses add)."""
    model = BLSTMRegressor(out_features=2, hidden=4)
    x, rng = _x(), np.random.default_rng(5)
    y_e = jnp.asarray(rng.normal(size=(B, T)), jnp.float32)
    y_s = jnp.asarray(rng.uniform(size=(B, T)), jnp.float32)
    tx = optax.adam(1e-2)

    def loss(params, w_e, key):
        out = model.apply(params, x, noise_key=key)
        return losses.weighted_mse(out[..., 0], y_e, out[..., 1], y_s, w_e)

    def run(w_e, init_key, steps=4):
        params = model.init({"params": init_key}, x)
        opt = tx.init(params)
        for i in range(steps):
            g = jax.grad(loss)(params, w_e, jax.random.fold_in(init_key, i))
            upd, opt = tx.update(g, opt, params)
            params = optax.apply_updates(params, upd)
        return params

    weights = jnp.asarray([0.3, 1.7])
    keys = jax.random.split(jax.random.key(9), 2)
    separate = [run(w, k) for w, k in zip(weights, keys)]

    params = jax.vmap(lambda k: model.init({"params": k}, x))(keys)
    opt = jax.vmap(tx.init)(params)
    for i in range(4):
        step_keys = jax.vmap(lambda k: jax.random.fold_in(k, i))(keys)
        total = lambda p: jnp.sum(jax.vmap(loss)(p, weights, step_keys))
        g = jax.grad(total)(params)
        upd, opt = jax.vmap(tx.update)(g, opt, params)
        params = optax.apply_updates(params, upd)
    for k in range(2):
        jax.tree.map(lambda a, b: np.testing.assert_allclose(a[k], b, rtol=2e-5, atol=2e-6),
                     params, separate[k])
