"""Tests of seru/models/tcgru.py: the forward pass against a numpy oracle, the parameter count
against mitra25 Appendix A.8, padding invariance, shapes, finite gradients and errors."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from numpy_rnn import np_gru

from seru.models.tcgru import TCGRU

#: mitra25 Appendix A.8: "The TC-GRU models had 1.6M parameters" (1024-d FM inputs).
PAPER_PARAMS = 1.6e6


def _np_tcgru(x, p):
    """One utterance x [T, F] (valid frames only) through the TC-GRU, in float64 numpy."""
    x = np.asarray(x, np.float64)
    w = np.asarray(p["conv"]["kernel"], np.float64)  # [k, F, K]
    k = w.shape[0]
    xp = np.pad(x, ((k // 2, (k - 1) // 2), (0, 0)))  # 'SAME': zeros around the utterance
    conv = sum(xp[j:j + len(x)] @ w[j] for j in range(k)) + np.asarray(p["conv"]["bias"])
    h = np.maximum(conv, 0)
    for layer in sorted(p["gru"]):
        h = np_gru(h, p["gru"][layer]["cell"])
    dense = lambda name, v: v @ np.asarray(p[name]["kernel"]) + np.asarray(p[name]["bias"])
    e = np.maximum(dense("embedding", h.mean(0)), 0)
    return {"dimensional": dense("dimensional", e), "logits": dense("categorical", e),
            "embedding": e}


def _randomise(v, seed, scale=0.4):
    """Every parameter random (the biases too, which init to 0), so each one is tested."""
    leaves, tree = jax.tree_util.tree_flatten(v)
    rng = np.random.default_rng(seed)
    return jax.tree_util.tree_unflatten(
        tree, [jnp.asarray(rng.normal(size=a.shape) * scale, jnp.float32) for a in leaves])


SMALL = dict(num_dimensions=2, num_classes=3, conv_features=5, gru_features=6,
             embedding_features=7)


def _small(seed=0, feat=4):
    m = TCGRU(**SMALL)
    v = m.init(jax.random.key(0), jnp.zeros((1, 3, feat)))
    return m, _randomise(v, seed)


def hand_count(f, k=256, h=256, layers=2, e=256, d=3, c=9, kernel=3):
    """Parameters from the layer sizes (flax GRUCell: 3 input biases + 1 recurrent bias)."""
    conv = kernel * f * k + k
    gru = (3 * k * h + 3 * h * h + 4 * h) + (layers - 1) * (3 * h * h + 3 * h * h + 4 * h)
    emb = h * e + e
    heads = e * d + d + e * c + c
    return conv + gru + emb + heads


def _count(tree):
    return sum(int(np.prod(a.shape)) for a in jax.tree_util.tree_leaves(tree))


def test_parameter_count_against_mitra25_appendix_a8():
    shapes = lambda m, f: jax.eval_shape(m.init, jax.random.key(0), jnp.zeros((1, 4, f)))
    v = shapes(TCGRU(num_dimensions=3, num_classes=9), 1024)
    p = v["params"]
    assert p["conv"]["kernel"].shape == (3, 1024, 256)
    assert set(p["gru"]) == {"layer0", "layer1"}
    assert p["gru"]["layer0"]["cell"]["ir"]["kernel"].shape == (256, 256)
    assert p["embedding"]["kernel"].shape == (256, 256)
    assert p["dimensional"]["kernel"].shape == (256, 3)
    assert p["categorical"]["kernel"].shape == (256, 9)
    n = _count(v)
    assert n == hand_count(1024) == 1_644_044
    # the paper's "1.6M" (two significant digits): ours is within its rounding
    assert abs(n - PAPER_PARAMS) / PAPER_PARAMS < 0.04
    # reported on the six evaluation classes, and the MFBF0 (42-d) model
    assert _count(shapes(TCGRU(3, 6), 1024)) == hand_count(1024, c=6) == 1_643_273
    assert _count(shapes(TCGRU(3, 9), 42)) == hand_count(42) == 889_868
    # other convolution widths miss the paper's total: 256 channels is the one that fits it
    assert _count(shapes(TCGRU(3, 9, conv_features=128), 1024)) == hand_count(1024, k=128)
    assert abs(hand_count(1024, k=128) - PAPER_PARAMS) > 0.25 * PAPER_PARAMS
    assert abs(hand_count(1024, k=512) - PAPER_PARAMS) > 0.6 * PAPER_PARAMS


def test_forward_matches_numpy_oracle_per_utterance():
    m, v = _small(1)
    lengths = np.array([6, 3, 1])
    x = np.random.default_rng(2).normal(size=(3, 6, 4)).astype(np.float32)
    out = jax.jit(m.apply)(v, jnp.asarray(x), jnp.asarray(lengths))
    assert out["dimensional"].shape == (3, 2) and out["logits"].shape == (3, 3)
    assert out["embedding"].shape == (3, 7) and out["embedding"].dtype == jnp.float32
    assert float(jnp.min(out["embedding"])) >= 0.0
    for b, n in enumerate(lengths):
        ref = _np_tcgru(x[b, :n], v["params"])
        for key in ("dimensional", "logits", "embedding"):
            np.testing.assert_allclose(np.asarray(out[key][b]), ref[key], rtol=1e-4, atol=1e-5)
    # without lengths every frame counts: row 0 (full length) is the same
    full = m.apply(v, jnp.asarray(x))
    np.testing.assert_allclose(np.asarray(full["logits"][0]), np.asarray(out["logits"][0]),
                               rtol=1e-5, atol=1e-6)


def test_padding_never_changes_a_result():
    m, v = _small(3, feat=4)
    rng = np.random.default_rng(4)
    a = rng.normal(size=(7, 4)).astype(np.float32)   # the utterance
    b = rng.normal(size=(12, 4)).astype(np.float32)  # a longer one in its batch
    alone = m.apply(v, jnp.asarray(a[None]))          # no padding, no lengths
    for t, fill in ((12, 0.0), (12, 1e3), (20, np.nan), (20, np.inf)):
        batch = np.full((2, t, 4), fill, np.float32)
        batch[0, :7], batch[1, :12] = a, b
        lengths = jnp.asarray([7, 12])
        mask = np.arange(t)[None] < np.array([[7], [12]])
        for out in (m.apply(v, jnp.asarray(batch), lengths),
                    m.apply(v, jnp.asarray(batch), mask=jnp.asarray(mask, jnp.float32))):
            for key in ("dimensional", "logits", "embedding"):
                assert np.all(np.isfinite(np.asarray(out[key])))
                np.testing.assert_allclose(np.asarray(out[key][0]), np.asarray(alone[key][0]),
                                           rtol=1e-5, atol=1e-6)
    b_alone = m.apply(v, jnp.asarray(b[None]))
    np.testing.assert_allclose(np.asarray(out["logits"][1]), np.asarray(b_alone["logits"][0]),
                               rtol=1e-5, atol=1e-6)
    # a row without valid frames pools to zeros: finite, the heads' value at e = relu(bias)
    empty = m.apply(v, jnp.asarray(batch), jnp.asarray([0, 12]))
    e0 = np.maximum(np.asarray(v["params"]["embedding"]["bias"]), 0)
    np.testing.assert_allclose(np.asarray(empty["embedding"][0]), e0, rtol=1e-6)


def test_gradients_are_finite_with_garbage_padding():
    m, v = _small(5)
    x = np.random.default_rng(6).normal(size=(2, 9, 4)).astype(np.float32)
    x[0, 4:] = np.nan
    lengths = jnp.asarray([4, 9])

    def loss(params, xx):
        out = m.apply({"params": params}, xx, lengths)
        return (jnp.sum(out["dimensional"] ** 2)
                - jnp.sum(jax.nn.log_softmax(out["logits"])[:, 0]))

    g_params, g_x = jax.grad(loss, argnums=(0, 1))(v["params"], jnp.asarray(x))
    leaves = jax.tree_util.tree_leaves(g_params)
    assert all(np.all(np.isfinite(np.asarray(g))) for g in leaves)
    assert all(float(jnp.max(jnp.abs(g))) > 0 for g in leaves)  # every parameter is used
    g_x = np.asarray(g_x)
    assert np.all(np.isfinite(g_x))
    np.testing.assert_array_equal(g_x[0, 4:], 0.0)  # padded inputs get no gradient
    assert np.abs(g_x[0, :4]).min() > 0


def test_bad_arguments_raise():
    x = jnp.zeros((2, 5, 4))
    with pytest.raises(ValueError, match="num_classes"):
        TCGRU(2, 0).init(jax.random.key(0), x)
    with pytest.raises(ValueError, match="not both"):
        TCGRU(2, 3).init(jax.random.key(0), x, jnp.array([5, 2]), jnp.ones((2, 5)))
    with pytest.raises(ValueError, match="batch, frames, features"):
        TCGRU(2, 3).init(jax.random.key(0), jnp.zeros((5, 4)))
    with pytest.raises(ValueError, match="lengths must be"):
        TCGRU(2, 3).init(jax.random.key(0), x, jnp.array([5]))
