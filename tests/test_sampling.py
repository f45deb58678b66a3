"""seru.sampling: the cipher against JAX's Threefry-2x32, the laws against closed forms and
scipy (moments, KS, tails, binomial bounds), independence across keys and within a draw,
reproducibility (repeat, jit, vmap), shapes, dtypes and errors.

Bounds are 5 Monte Carlo standard errors at fixed keys (deterministic); each statistical
check is also run on a slightly wrong sample to show that it can fail.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.extend.random import threefry_2x32
from scipy import stats

from seru import sampling

KEY = jax.random.PRNGKey(20240611)
N = 1_000_000


def _normals(key=KEY, n=N):
    return np.asarray(sampling.normal(key, (n,)), np.float64)


def _moment_violations(z):
    """Which of mean 0, var 1, skew 0, kurtosis 3 ~1e6 draws miss by more than 5 standard errors."""
    n = z.size
    checks = {
        "mean": (z.mean(), 0.0, math.sqrt(1 / n)),
        "var": (z.var(), 1.0, math.sqrt(2 / n)),
        "skew": (stats.skew(z), 0.0, math.sqrt(6 / n)),
        "kurtosis": (stats.kurtosis(z, fisher=False), 3.0, math.sqrt(24 / n)),
    }
    return [name for name, (got, want, se) in checks.items() if abs(got - want) > 5 * se]


def _binomial_ok(count, n, p):
    return abs(count / n - p) <= 5 * math.sqrt(p * (1 - p) / n) + 1e-12


# ------------------------------------------------------------------ the cipher


def test_cipher_is_threefry2x32_20_bit_for_bit():
    rng = np.random.default_rng(0)
    for _ in range(3):
        key = rng.integers(0, 2**32, 2, dtype=np.uint32)
        x = rng.integers(0, 2**32, (2, 1000), dtype=np.uint32)
        want = threefry_2x32(jnp.asarray(key), jnp.asarray(x))
        got = sampling._threefry2x32(jnp.uint32(key[0]), jnp.uint32(key[1]), jnp.asarray(x[0]), jnp.asarray(x[1]))
        np.testing.assert_array_equal(np.asarray(got[0]), np.asarray(want[0]))
        np.testing.assert_array_equal(np.asarray(got[1]), np.asarray(want[1]))


def _blocks(key, stream, n):
    """The cipher blocks (stream, 0..n-1) by jax.extend.random.threefry_2x32 (JAX's own)."""
    x = jnp.stack([jnp.full(n, stream, jnp.uint32), jnp.arange(n, dtype=jnp.uint32)])
    w0, w1 = threefry_2x32(jax.random.key_data(key), x)
    return np.asarray(w0, np.float64), np.asarray(w1, np.float64)


def test_transforms_against_float64_oracle():
    """normal = Box-Muller sqrt(-2 ln u) sin(phi) and uniform = top bits, recomputed in float64
    with numpy from JAX's cipher blocks: the transforms, the counters and the streams."""
    n = 200_000
    w0, w1 = _blocks(KEY, sampling._STREAM["normal"], n)
    # u as specified, in float32 (w0 rounded to 24 bits; near u = 1 this quantises r)
    u = ((w0.astype(np.float32) + np.float32(0.5)) * np.float32(2.0**-32)).astype(np.float64)
    phi = (np.floor(w1 / 2**8) + 0.5) * 2.0**-24 * np.pi - np.pi / 2
    want = np.sqrt(-2 * np.log(u)) * np.sin(phi)
    got = np.asarray(sampling.normal(KEY, (n,)), np.float64)
    np.testing.assert_allclose(got, want, rtol=2e-6, atol=2e-6)
    # the extremes of the radius word: u = 2^-33 (largest |z|), 1/2, 1 - 2^-32 (rounds to 1)
    w0 = np.array([0, 1, 2**24 - 1, 2**24 + 1, 2**31, 2**32 - 129, 2**32 - 1], np.uint32)
    w1 = np.full(w0.shape, 0xFFFFFFFF, np.uint32)  # phi at its top: sin ~ 1
    u = ((w0.astype(np.float32) + np.float32(0.5)) * np.float32(2.0**-32)).astype(np.float64)
    phi = (np.floor(w1 / 2**8) + 0.5) * 2.0**-24 * np.pi - np.pi / 2
    got = np.asarray(sampling._box_muller(jnp.asarray(w0), jnp.asarray(w1)), np.float64)
    np.testing.assert_allclose(got, np.sqrt(-2 * np.log(u)) * np.sin(phi), rtol=2e-6, atol=2e-6)
    assert 6.7 < got[0] < 6.8
    w0, _ = _blocks(KEY, sampling._STREAM["uniform"], n)
    np.testing.assert_array_equal(np.asarray(sampling.uniform(KEY, (n,))), np.floor(w0 / 2**8) * 2.0**-24)
    half = np.floor(w0 / 2**24) * 2.0**-8  # bfloat16: the top 8 bits
    np.testing.assert_array_equal(np.asarray(sampling.uniform(KEY, (n,), jnp.bfloat16), np.float64), half)


def test_masks_against_oracle():
    """Masks recomputed with numpy from JAX's cipher: p = 0.5 is bit i % 32 of word i // 32
    (word = both block words XORed), p = 0.25 a 2-bit chunk, other p one block per mask."""
    n = 10_000
    stream = sampling._STREAM["bernoulli"]
    w0, w1 = _blocks(KEY, stream, n)
    words = w0.astype(np.uint32) ^ w1.astype(np.uint32)
    i = np.arange(n)
    bit = (words[i // 32] >> (i % 32).astype(np.uint32)) & 1
    np.testing.assert_array_equal(np.asarray(sampling.bernoulli(KEY, 0.5, (n,))), bit < 1)
    two = (words[i // 16] >> (2 * (i % 16)).astype(np.uint32)) & 3
    np.testing.assert_array_equal(np.asarray(sampling.bernoulli(KEY, 0.25, (n,))), two < 1)
    np.testing.assert_array_equal(np.asarray(sampling.bernoulli(KEY, 0.1, (n,))), w0 < round(0.1 * 2**32))


# ------------------------------------------------------------------ normals


def test_normal_moments():
    z = _normals()
    assert _moment_violations(z) == []
    # the check has power: 1% too wide, shifted by 0.01, or a uniform of variance 1 fail
    assert "var" in _moment_violations(1.01 * z)
    assert "mean" in _moment_violations(z + 0.01)
    u = np.asarray(sampling.uniform(KEY, (N,)), np.float64)
    assert "kurtosis" in _moment_violations((u - 0.5) * math.sqrt(12))


def test_normal_ks_against_scipy():
    for key in (KEY, jax.random.fold_in(KEY, 1)):
        z = _normals(key)
        assert stats.kstest(z, "norm", method="asymp").pvalue > 1e-3
    assert stats.kstest(1.01 * z, "norm", method="asymp").pvalue < 1e-3  # a 1% wider law is caught


def test_normal_tails():
    z = np.abs(_normals(jax.random.fold_in(KEY, 2), 4 * N))
    for t in (2.0, 3.0, 4.0, 4.5):
        assert _binomial_ok(int((z > t).sum()), z.size, 2 * stats.norm.sf(t)), t
    assert z.max() < 6.8 and np.isfinite(z).all()


def test_normal_independent_within_a_draw():
    z = _normals()
    for lag in (1, 2, 31, 32, 33):
        r = np.corrcoef(z[:-lag], z[lag:])[0, 1]
        assert abs(r) < 5 / math.sqrt(N), lag
    # the same estimate flags a sequence with lag-1 dependence
    y = z[1:] + 0.05 * z[:-1]
    assert abs(np.corrcoef(y[:-1], y[1:])[0, 1]) > 5 / math.sqrt(N)


@pytest.mark.parametrize("derive", ["fold_in", "split"])
def test_normal_independent_across_keys(derive):
    n, m = 100_000, 16
    if derive == "fold_in":  # key k and its neighbouring windows fold_in(k, j)
        keys = [KEY] + [jax.random.fold_in(KEY, j) for j in range(m - 1)]
    else:
        keys = list(jax.random.split(KEY, m))
    z = np.stack([np.asarray(sampling.normal(k, (n,))) for k in keys])
    r = np.corrcoef(z)[np.triu_indices(m, 1)]
    assert np.abs(r).max() < 5 / math.sqrt(n)
    assert np.abs(r).max() > 0.1 / math.sqrt(n)  # not degenerate


def test_streams_do_not_overlap():
    """normal, uniform, bernoulli and jax.random on one key give unrelated numbers."""
    n = 200_000
    z = np.asarray(sampling.normal(KEY, (n,)), np.float64)
    others = [np.asarray(sampling.uniform(KEY, (n,))), np.asarray(sampling.bernoulli(KEY, 0.5, (n,)), float),
              np.asarray(sampling.bernoulli(KEY, 0.3, (n,)), float), np.asarray(jax.random.normal(KEY, (n,)))]
    for o in others:  # z and z^2: z^2 carries the radius, which a shared word would tie to o
        assert abs(np.corrcoef(z, o)[0, 1]) < 5 / math.sqrt(n)
        assert abs(np.corrcoef(z * z, o)[0, 1]) < 5 / math.sqrt(n)


# ------------------------------------------------------------------ uniforms


def test_uniform_range_and_law():
    u = np.asarray(sampling.uniform(KEY, (N,)), np.float64)
    assert u.min() >= 0.0 and u.max() < 1.0
    assert stats.kstest(u, "uniform", method="asymp").pvalue > 1e-3
    assert stats.kstest(u ** 1.01, "uniform", method="asymp").pvalue < 1e-3
    for dtype in (jnp.bfloat16, jnp.float16):
        v = np.asarray(sampling.uniform(KEY, (100_000,), dtype).astype(jnp.float32))
        assert v.max() < 1.0 and v.min() >= 0.0 and abs(v.mean() - 0.5) < 5 * math.sqrt(1 / 12 / v.size)


# ------------------------------------------------------------------ masks


@pytest.mark.parametrize("p", [0.5, 0.1, 0.9, 0.25, 0.75, 1 / 3, 3 / 256])
def test_bernoulli_frequency(p):
    m = np.asarray(sampling.bernoulli(KEY, p, (N,)))
    assert m.dtype == bool and m.shape == (N,)
    assert _binomial_ok(int(m.sum()), N, p)
    assert not _binomial_ok(int(m.sum()), N, p + 6 * math.sqrt(p * (1 - p) / N))  # the bound bites


def test_bernoulli_array_p():
    p = jnp.asarray([0.1, 0.5, 0.9], jnp.float32)
    m = np.asarray(sampling.bernoulli(KEY, p, (N // 4, 3)))
    for j, pj in enumerate([0.1, 0.5, 0.9]):
        assert _binomial_ok(int(m[:, j].sum()), m.shape[0], pj)
    m = np.asarray(sampling.bernoulli(KEY, jnp.float32(0.3), (N,)))
    assert _binomial_ok(int(m.sum()), N, 0.3)
    assert np.asarray(sampling.bernoulli(KEY, jnp.float32(1.0), (1000,))).all()
    assert not np.asarray(sampling.bernoulli(KEY, jnp.float32(0.0), (1000,))).any()


def test_bernoulli_extremes():
    assert np.asarray(sampling.bernoulli(KEY, 1.0, (1000,))).all()
    assert not np.asarray(sampling.bernoulli(KEY, 0.0, (1000,))).any()
    assert sampling.bernoulli(KEY, jnp.full((4, 2), 0.5)).shape == (4, 2)  # shape from p


@pytest.mark.parametrize("p", [0.5, 0.25, 0.1])
def test_bernoulli_independent_within_a_draw(p):
    """Neighbouring masks share a word (1- and 2-bit chunks): no correlation at any lag to 64."""
    m = np.asarray(sampling.bernoulli(KEY, p, (N,)), np.float64)
    m -= m.mean()
    var = (m * m).mean()
    r = np.array([(m[:-lag] * m[lag:]).mean() / var for lag in range(1, 65)])
    assert np.abs(r).max() < 5 / math.sqrt(N)


def test_bernoulli_independent_across_keys():
    n, m = 100_000, 16
    keys = [KEY] + [jax.random.fold_in(KEY, j) for j in range(m - 1)]
    x = np.stack([np.asarray(sampling.bernoulli(k, 0.5, (n,)), float) for k in keys])
    r = np.corrcoef(x)[np.triu_indices(m, 1)]
    assert np.abs(r).max() < 5 / math.sqrt(n)


def test_dropout_scaling():
    x = jnp.full((1000, 100), 3.0)
    for rate in (0.5, 0.1, jnp.float32(0.3)):
        y = np.asarray(sampling.dropout(KEY, x, rate))
        keep = 1 - float(rate)
        kept = y != 0
        np.testing.assert_allclose(y[kept], np.float32(3.0) / np.float32(keep), rtol=1e-6)
        assert _binomial_ok(int(kept.sum()), kept.size, keep)
        assert abs(y.mean() - 3.0) < 5 * 3.0 * math.sqrt(float(rate) / keep / y.size)
    np.testing.assert_array_equal(np.asarray(sampling.dropout(KEY, x, 0.0)), np.asarray(x))
    np.testing.assert_array_equal(np.asarray(sampling.dropout(KEY, x, 1.0)), 0.0)
    # gradient: keep / (1 - rate); the mask is the bernoulli keep mask of the same key
    g = np.asarray(jax.grad(lambda v: sampling.dropout(KEY, v, 0.5).sum())(x))
    keep = np.asarray(sampling.bernoulli(KEY, 0.5, x.shape))
    np.testing.assert_array_equal(g, np.where(keep, 2.0, 0.0))
    assert sampling.dropout(KEY, x.astype(jnp.bfloat16), 0.5).dtype == jnp.bfloat16


# ------------------------------------------------------------------ reproducibility


DRAWS = {
    "normal": lambda k, s: sampling.normal(k, s),
    "uniform": lambda k, s: sampling.uniform(k, s),
    "bernoulli_half": lambda k, s: sampling.bernoulli(k, 0.5, s),
    "bernoulli_quarter": lambda k, s: sampling.bernoulli(k, 0.25, s),
    "bernoulli_general": lambda k, s: sampling.bernoulli(k, 0.1, s),
    "bernoulli_array": lambda k, s: sampling.bernoulli(k, jnp.float32(0.3), s),
    "dropout": lambda k, s: sampling.dropout(k, jnp.ones(s), 0.5),
}


@pytest.mark.parametrize("name", list(DRAWS))
def test_reproducible_repeat_jit_vmap(name):
    draw = DRAWS[name]
    shape = (5, 33)
    a = np.asarray(draw(KEY, shape))
    np.testing.assert_array_equal(a, np.asarray(draw(KEY, shape)))  # same key, same numbers
    np.testing.assert_array_equal(a, np.asarray(jax.jit(lambda k: draw(k, shape))(KEY)))  # jit
    assert not np.array_equal(a, np.asarray(draw(jax.random.fold_in(KEY, 1), shape)))  # other key
    for keys in (jax.random.split(KEY, 6), jax.vmap(lambda j: jax.random.fold_in(KEY, j))(jnp.arange(6))):
        batched = np.asarray(jax.jit(jax.vmap(lambda k: draw(k, shape)))(keys))
        looped = np.stack([np.asarray(draw(k, shape)) for k in keys])
        np.testing.assert_array_equal(batched, looped)  # vmap == loop, bit for bit


def test_inside_a_larger_jit_and_nested_vmap():
    s = (7, 3)
    want = np.asarray(sampling.normal(KEY, s))
    got = jax.jit(lambda k: 2.0 * sampling.normal(k, s) + 1.0)(KEY)
    np.testing.assert_array_equal(np.asarray(got), 2.0 * want.astype(np.float32) + 1.0)
    keys = jax.random.split(KEY, 6).reshape(2, 3, 2)
    nested = np.asarray(jax.vmap(jax.vmap(lambda k: sampling.normal(k, s)))(keys))
    np.testing.assert_array_equal(nested[1, 2], np.asarray(sampling.normal(keys[1, 2], s)))


def test_typed_keys_and_layout():
    typed = jax.random.wrap_key_data(KEY)
    np.testing.assert_array_equal(np.asarray(sampling.normal(typed, (9,))), np.asarray(sampling.normal(KEY, (9,))))
    # counters run row-major over the shape, so a shorter draw is a prefix of a longer one
    long = np.asarray(sampling.normal(KEY, (20,)))
    np.testing.assert_array_equal(np.asarray(sampling.normal(KEY, (11,))), long[:11])
    np.testing.assert_array_equal(np.asarray(sampling.normal(KEY, (4, 5))), long.reshape(4, 5))
    np.testing.assert_array_equal(np.asarray(sampling.normal(KEY, ())), long[0])
    masks = np.asarray(sampling.bernoulli(KEY, 0.5, (100,)))
    np.testing.assert_array_equal(np.asarray(sampling.bernoulli(KEY, 0.5, (37,))), masks[:37])


# ------------------------------------------------------------------ shapes, dtypes, errors


@pytest.mark.parametrize("shape", [(), (1,), (7,), (3, 5, 7), (0,), (0, 3), (100_001,)])
def test_odd_shapes(shape):
    z = sampling.normal(KEY, shape)
    assert z.shape == shape and z.dtype == jnp.float32 and bool(jnp.isfinite(z).all())
    assert sampling.uniform(KEY, shape).shape == shape
    for p in (0.5, 0.1):
        m = sampling.bernoulli(KEY, p, shape)
        assert m.shape == shape and m.dtype == bool
    if math.prod(shape) > 1:
        assert len(np.unique(np.asarray(z))) > 0.999 * z.size  # no repeated blocks (float32 ties aside)


def test_dtypes():
    z32 = sampling.normal(KEY, (1000,))
    for dtype in (jnp.bfloat16, jnp.float16):
        z = sampling.normal(KEY, (1000,), dtype)
        assert z.dtype == dtype
        np.testing.assert_array_equal(np.asarray(z), np.asarray(z32.astype(dtype)))
    for bad in (jnp.int32, jnp.uint32, jnp.complex64, "float64"):
        with pytest.raises(ValueError, match="dtype"):
            sampling.normal(KEY, (3,), bad)


def test_errors():
    with pytest.raises(ValueError, match="threefry2x32"):
        sampling.normal(jnp.zeros(3, jnp.uint32), (2,))
    with pytest.raises(ValueError, match="threefry2x32"):
        sampling.normal(jnp.zeros(2, jnp.int32), (2,))
    with pytest.raises(ValueError, match="one key per call|threefry2x32"):
        sampling.normal(jax.random.split(KEY, 2), (2,))
    with pytest.raises(ValueError, match="impl"):
        sampling.normal(jax.random.key(0, impl="rbg"), (2,))
    with pytest.raises(ValueError, match="negative"):
        sampling.normal(KEY, (2, -1))
    with pytest.raises(ValueError, match="2\\^32"):
        sampling.normal(KEY, (2**32 + 1,))
    with pytest.raises(ValueError, match="p must lie"):
        sampling.bernoulli(KEY, 1.5, (2,))
    with pytest.raises(ValueError, match="broadcast"):
        sampling.bernoulli(KEY, jnp.ones(3), (2,))
    with pytest.raises(ValueError, match="rate"):
        sampling.dropout(KEY, jnp.ones(3), -0.1)
    with pytest.raises(ValueError, match="floating"):
        sampling.dropout(KEY, jnp.ones(3, jnp.int32), 0.5)
