"""Tests of seru/models/layers.py against plain numpy implementations of the
LSTM / GRU equations with the same weights."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from numpy_rnn import np_gru, sigmoid

from seru.models.layers import BLSTM, GRU, LSTM


def _np_lstm(x, w_i, w_h, b):
    """Our LSTM's layout: one [D, 4H] / [H, 4H] matrix, gates i, f, g, o."""
    h = np.zeros(w_h.shape[0])
    c = np.zeros(w_h.shape[0])
    outs = []
    for t in range(x.shape[0]):
        z = x[t] @ w_i + h @ w_h + b
        i, f, g, o = np.split(z, 4)
        c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
        h = sigmoid(o) * np.tanh(c)
        outs.append(h)
    return np.stack(outs)


def _np_flax_lstm(x, p):
    """x [T, D]; p: an LSTMCell's parameters (ii..io kernels, hi..ho kernels and biases)."""
    k = lambda n: np.asarray(p[n]["kernel"], np.float64)
    bias = lambda n: np.asarray(p[n]["bias"], np.float64)
    hsz = k("hi").shape[0]
    h, c = np.zeros(hsz), np.zeros(hsz)
    outs = []
    for t in range(x.shape[0]):
        i = sigmoid(x[t] @ k("ii") + h @ k("hi") + bias("hi"))
        f = sigmoid(x[t] @ k("if") + h @ k("hf") + bias("hf"))
        g = np.tanh(x[t] @ k("ig") + h @ k("hg") + bias("hg"))
        o = sigmoid(x[t] @ k("io") + h @ k("ho") + bias("ho"))
        c = f * c + i * g
        h = o * np.tanh(c)
        outs.append(h)
    return np.stack(outs).reshape(x.shape[0], hsz)


def _randomise(v, seed):
    """Every parameter random (biases too, which init to 0), so each one is tested."""
    leaves, tree = jax.tree_util.tree_flatten(v)
    rng = np.random.default_rng(seed)
    return jax.tree_util.tree_unflatten(
        tree, [jnp.asarray(rng.normal(size=a.shape) * 0.5, jnp.float32) for a in leaves])


def test_lstm_matches_numpy_loop():
    x = np.random.default_rng(2).normal(size=(3, 7, 4)).astype(np.float32)
    m = LSTM(6)
    v = m.init(jax.random.key(2), jnp.asarray(x))
    p = {k: np.asarray(a, np.float64) for k, a in v["params"].items()}
    p["b"] = np.random.default_rng(3).normal(size=p["b"].shape) * 0.5
    v = {"params": {k: jnp.asarray(a, jnp.float32) for k, a in p.items()}}
    out = np.asarray(m.apply(v, jnp.asarray(x)))
    for bi in range(3):
        np.testing.assert_allclose(out[bi], _np_lstm(x[bi].astype(np.float64), p["w_i"], p["w_h"], p["b"]),
                                   rtol=1e-4, atol=1e-5)


def _lstm_by_autodiff(p, x):
    """The LSTM as a plain scan, differentiated by JAX (the custom VJP's oracle)."""
    xz = jnp.einsum("btd,dk->tbk", x, p["w_i"]) + p["b"]

    def step(carry, z_in):
        c, h = carry
        i, f, g, o = jnp.split(z_in + h @ p["w_h"], 4, axis=-1)
        c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
        h = jax.nn.sigmoid(o) * jnp.tanh(c)
        return (c, h), h

    zeros = jnp.zeros((x.shape[0], p["w_h"].shape[0]), x.dtype)
    return jnp.swapaxes(jax.lax.scan(step, (zeros, zeros), xz)[1], 0, 1)


def test_lstm_gradient_equals_autodiff_of_the_scan():
    """The custom VJP (reverse scan of dz, dW_h as one matmul) = JAX's gradient of the
    plain scan, w.r.t. every parameter and the input; float64, and float32 jitted."""
    rng = np.random.default_rng(7)
    m = LSTM(6)
    for dtype, rtol in ((jnp.float64, 1e-10), (jnp.float32, 2e-4)):
        with jax.enable_x64(dtype == jnp.float64):
            x = jnp.asarray(rng.normal(size=(3, 11, 4)), dtype)
            v = _randomise(m.init(jax.random.key(0), x), 9)
            v = jax.tree_util.tree_map(lambda a: jnp.asarray(a, dtype), v)
            ct = jnp.asarray(rng.normal(size=(3, 11, 6)), dtype)
            np.testing.assert_allclose(np.asarray(m.apply(v, x)),
                                       np.asarray(_lstm_by_autodiff(v["params"], x)),
                                       rtol=rtol, atol=rtol)
            mine = jax.jit(jax.grad(lambda p, x: jnp.sum(m.apply({"params": p}, x) * ct),
                                    argnums=(0, 1)))(v["params"], x)
            ref = jax.grad(lambda p, x: jnp.sum(_lstm_by_autodiff(p, x) * ct),
                           argnums=(0, 1))(v["params"], x)
            for a, b in zip(jax.tree_util.tree_leaves(mine), jax.tree_util.tree_leaves(ref)):
                assert a.dtype == dtype
                np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=rtol,
                                           atol=rtol * float(np.abs(np.asarray(b)).max()))


LENGTHS = np.array([9, 5, 1, 0])


def _padded(seed, feat=3, t=9):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(len(LENGTHS), t, feat)).astype(np.float32)
    junk = x.copy()
    for b, n in enumerate(LENGTHS):
        junk[b, n:] = rng.normal(size=junk[b, n:].shape) * 10  # other padding values
    return x, junk


def test_blstm_matches_numpy_and_backward_is_forward_on_reversed_valid_part():
    h = 5
    x, junk = _padded(0)
    m = BLSTM(h)
    v0 = m.init(jax.random.key(0), jnp.asarray(x), LENGTHS)
    cells = v0["params"]["layer0"]
    assert set(cells) == {"forward_rnn", "backward_rnn"}
    assert set(cells["forward_rnn"]["cell"]) == {"ii", "if", "ig", "io", "hi", "hf", "hg", "ho"}
    assert not np.allclose(cells["forward_rnn"]["cell"]["ii"]["kernel"],
                           cells["backward_rnn"]["cell"]["ii"]["kernel"])  # separate inits
    v = _randomise(v0, 1)
    out = np.asarray(m.apply(v, jnp.asarray(x), LENGTHS))
    assert out.shape == (4, 9, 2 * h)
    p = v["params"]["layer0"]
    fwd_layer = nn.RNN(nn.OptimizedLSTMCell(h))  # flax's forward layer, for the backward weights
    for b, n in enumerate(LENGTHS):
        valid = x[b, :n].astype(np.float64)
        if n:
            np.testing.assert_allclose(out[b, :n, :h], _np_flax_lstm(valid, p["forward_rnn"]["cell"]),
                                       rtol=1e-4, atol=1e-5)
            back = _np_flax_lstm(valid[::-1], p["backward_rnn"]["cell"])[::-1]
            np.testing.assert_allclose(out[b, :n, h:], back, rtol=1e-4, atol=1e-5)
            rev = np.asarray(fwd_layer.apply({"params": p["backward_rnn"]},
                                             jnp.asarray(x[b:b + 1, :n][:, ::-1])))[0, ::-1]
            np.testing.assert_allclose(out[b, :n, h:], rev, rtol=1e-5, atol=1e-6)
        np.testing.assert_array_equal(out[b, n:], 0.0)
    # padding content never reaches a valid output; a mask is the same as lengths
    np.testing.assert_allclose(np.asarray(m.apply(v, jnp.asarray(junk), LENGTHS)), out,
                               rtol=1e-6, atol=1e-7)
    mask = np.arange(9)[None, :] < LENGTHS[:, None]
    np.testing.assert_allclose(np.asarray(m.apply(v, jnp.asarray(junk), mask=mask)), out,
                               rtol=1e-6, atol=1e-7)
    # without lengths every frame is valid: the first row (full length) is unchanged
    full = np.asarray(jax.jit(m.apply)(v, jnp.asarray(x)))
    np.testing.assert_allclose(full[0], out[0], rtol=1e-5, atol=1e-6)
    assert np.abs(full[1, :5, h:] - out[1, :5, h:]).max() > 1e-3  # backward now starts at T-1


def test_two_layer_blstm_matches_numpy_stack():
    h = 4
    x, _ = _padded(2, feat=6)
    m = BLSTM(h, num_layers=2)
    v = _randomise(m.init(jax.random.key(0), jnp.asarray(x), LENGTHS), 3)
    assert v["params"]["layer1"]["forward_rnn"]["cell"]["ii"]["kernel"].shape == (2 * h, h)
    out = np.asarray(jax.jit(m.apply)(v, jnp.asarray(x), LENGTHS))
    assert out.shape == (4, 9, 2 * h)
    for b, n in enumerate(LENGTHS[:3]):
        y = x[b, :n].astype(np.float64)
        for layer in ("layer0", "layer1"):
            p = v["params"][layer]
            y = np.concatenate([_np_flax_lstm(y, p["forward_rnn"]["cell"]),
                                _np_flax_lstm(y[::-1], p["backward_rnn"]["cell"])[::-1]], axis=-1)
        np.testing.assert_allclose(out[b, :n], y, rtol=1e-4, atol=1e-5)
        np.testing.assert_array_equal(out[b, n:], 0.0)


def test_gru_stack_matches_numpy():
    h = 5
    x, junk = _padded(4, feat=3)
    m = GRU(h, num_layers=2)
    v0 = m.init(jax.random.key(0), jnp.asarray(x))
    assert set(v0["params"]) == {"layer0", "layer1"}
    assert set(v0["params"]["layer1"]["cell"]) == {"ir", "iz", "in", "hr", "hz", "hn"}
    v = _randomise(v0, 5)
    out = np.asarray(m.apply(v, jnp.asarray(x), LENGTHS))
    assert out.shape == (4, 9, h)
    for b, n in enumerate(LENGTHS):
        y = x[b].astype(np.float64)
        for layer in ("layer0", "layer1"):
            y = np_gru(y, v["params"][layer]["cell"])
        np.testing.assert_allclose(out[b, :n], y[:n], rtol=1e-4, atol=1e-5)
        np.testing.assert_array_equal(out[b, n:], 0.0)
    float_mask = (np.arange(9) < LENGTHS[:, None]).astype(np.float32)  # 1 = valid
    np.testing.assert_allclose(np.asarray(m.apply(v, jnp.asarray(junk), mask=float_mask)),
                               out, rtol=1e-6, atol=1e-7)
    free = np.asarray(m.apply(v, jnp.asarray(x)))  # no lengths: nothing zeroed
    y = np_gru(np_gru(x[3].astype(np.float64), v["params"]["layer0"]["cell"]),
                v["params"]["layer1"]["cell"])
    np.testing.assert_allclose(free[3], y, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("layer", [BLSTM, GRU])
def test_bad_inputs_raise(layer):
    x = jnp.zeros((2, 4, 3))
    with pytest.raises(ValueError, match="batch, frames, features"):
        layer(4).init(jax.random.key(0), jnp.zeros((4, 3)))
    with pytest.raises(ValueError, match="not both"):
        layer(4).init(jax.random.key(0), x, jnp.array([4, 2]), jnp.ones((2, 4)))
    with pytest.raises(ValueError, match="lengths must be"):
        layer(4).init(jax.random.key(0), x, jnp.array([4, 2, 1]))
    with pytest.raises(ValueError, match="mask must be"):
        layer(4).init(jax.random.key(0), x, mask=jnp.ones((2, 3)))
    with pytest.raises(ValueError, match="features"):
        layer(0).init(jax.random.key(0), x)
    with pytest.raises(ValueError, match="num_layers"):
        layer(4, num_layers=0).init(jax.random.key(0), x)
