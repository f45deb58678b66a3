"""Fast, keyed random numbers for every Monte Carlo path: normals, uniforms, Bernoulli masks.

Bayes-by-Backprop weight and pre-activation draws (prabhu22), VAE latent draws
(sridhar21) and MC-dropout masks are bound by random-number generation on CPU
(35-47 M normals per evaluation batch of prabhu22). This module is the one
place they draw from. It imports nothing of seru.

API (pure functions, jit / vmap / grad safe, nothing global)::

    normal(key, shape, dtype=jnp.float32)   -> dtype[shape], N(0, 1), |z| < 6.8
    uniform(key, shape, dtype=jnp.float32)  -> dtype[shape], U[0, 1), never 1
    bernoulli(key, p, shape=None)           -> bool[shape], P(True) = p
    dropout(key, x, rate)                   -> where(keep, x / (1 - rate), 0), like x

``key``: one JAX PRNG key of the default ``threefry2x32`` implementation, raw
(``uint32[2]``, ``jax.random.PRNGKey``) or typed (``jax.random.key``), derived
with ``jax.random.split`` / ``fold_in`` as usual. One key per call: batch over
keys with ``jax.vmap``; row ``i`` of a vmapped draw is, bit for bit, the
unbatched draw with key ``i``. ``shape``: a tuple of non-negative ints (``()``,
odd sizes and 0-size allowed). ``dtype``: float32 (computed), bfloat16 or
float16. ``p`` / ``rate``: in ``[0, 1]``.

How the numbers are made
------------------------
1. **Bits**: the Threefry-2x32 block cipher, 20 rounds (Salmon, Moraes, Dror,
   Shaw, "Parallel random numbers: as easy as 1, 2, 3", SC 2011; the function
   of ``jax.extend.random.threefry_2x32``, checked bit for bit in the tests),
   keyed by the PRNG key, on the counters ``(stream, i)``, ``i`` the row-major
   index of the element. ``stream`` is a nonzero constant per function, so no
   two functions, and no ``jax.random`` call (which counts from ``(0, 0)``),
   reuse a counter of one key. seru writes the 20 rounds out (unrolled) so XLA
   fuses cipher and transform into one loop, into the consumer where there is
   one (``mu + sigma * normal(...)``); ``jax.random`` on CPU runs the rounds in
   an XLA while loop that stores every intermediate, which is what makes it
   slow.
   Everything is elementwise in the counter, as ``jax.random``'s partitionable
   threefry: a shorter draw is a prefix of a longer one with the same key, and
   a sharded draw needs no communication.
2. **Normals**: Box-Muller (Box & Muller, "A note on the generation of random
   normal deviates", Ann. Math. Stat. 29, 1958), one output per block:
   ``z = sqrt(-2 ln u) sin(phi)``, ``u = (w0 + 1/2) 2^-32`` from the first word
   (in float32: largest |z| 6.77), ``phi`` uniform on ``(-pi/2, pi/2)`` from the
   top 24 bits of the second (sin of a uniform angle on the circle has the
   law of sin of one on ``(-pi/2, pi/2)``); sin by its Taylor polynomial to
   degree 13 (error < 7e-10; XLA's own sin / cos ran several times slower
   here). Both
   outputs of each pair would need half the cipher blocks, but XLA on CPU
   fuses per output element and recomputes the shared block for each of the
   two (it has no multi-output fusion): measured slower (``pairs`` below).
3. **Uniforms**: the top ``m + 1`` bits of the first word (``m`` = mantissa bits
   of the dtype: 24 for float32, 8 for bfloat16, 11 for float16) times
   ``2^-(m+1)``: exact in the dtype, in ``[0, 1)``.
4. **Masks from bits, not floats**: a static ``p`` that is a multiple of
   ``2^-k``, k = 1, 2, 4 or 8 (0.5; 0.25, 0.75; 1/16 ...; 1/256 ...), is
   exact: mask ``i`` is ``chunk < p 2^k``, chunk ``i mod 32/k`` of stored
   word ``i div 32/k`` (word = XOR of a block's two words): p = 0.5 costs one
   bit, 32 masks per cipher block. The words are written as a reduction on
   purpose, so that XLA computes each once (it would otherwise recompute the
   cipher per mask). Any other ``p`` (0.1, 0.9, an array) takes one block per
   mask and compares its first word with ``round(p 2^32)``: **p is resolved to
   2^-32** (``jax.random.bernoulli``: a float with 23 random bits, 2^-23).
   ``dropout`` keeps with ``p = 1 - rate``: rate 0.5 is one bit per element.

Measured (``benchmarks/sampling.py``, ``benchmarks/results/sampling.json``):
one run, ratio = ``jax.random``'s time (default threefry key) / this module's
time, jit, compile excluded, median of 5 alternating repetitions, on the
shared 2-core AMD EPYC (AVX-512) host at load average 2.5-3.7 (others' jobs);
per second, M = 10^6, G = 10^9::

                            single 10 M     vmap 1500 keys x [5, 769]   vmap 180 keys x [5, 50, 1024]
    normals  jax.random       81 M             137 M                        79 M
             seru            263 M  3.2x       931 M  6.8x                 255 M  3.2x
    masks    jax.random       91 M             136 M                       127 M
    p = 0.5  seru             10.8 G 119x      3.0 G  22x                  3.5 G  27x
    masks    jax.random       71 M              85 M                       153 M
    p = 0.1  seru             1.7 G  24x       1.7 G  20x                  1.9 G  13x

Each call writes a fresh output, and allocating and first touching it is
part of every time: writing 10 M float32 alone (``write_floor``) took 18 ms
of ``normal``'s 38 ms here.

Why this option (all options measured side by side, same run):

* ``rbg`` / ``unsafe_rbg`` keys (XLA's ``RngBitGenerator``) **break under
  ``jax.vmap``**: its batching rule draws one long stream from the *first* key
  of the batch only, so row ``i`` of a vmapped draw is not the draw with key
  ``i`` (``vmap_equals_loop: false``, also for their bits + Box-Muller), and
  they are slower than threefry here anyway (normals 0.43-0.51x, masks
  0.96-1.5x). Not usable.
* ``jax.random.bits`` + Box-Muller pairs / ``ndtri``: pays JAX's rolled
  threefry (0.86-1.06x).
* seru's cipher + inverse CDF, ``erfinv`` (as ``jax.random.normal``) 2.1-3.1x,
  ``ndtri`` 1.6-2.5x; + Box-Muller pairs 0.37-1.9x (the recomputation above);
  + single-output Box-Muller (this module) 3.2-6.8x. All pass the moment and
  KS checks.
* Masks: 1-bit chunks of JAX's ``bits`` 15-60x, of seru's stored words
  22-119x; for p = 0.1, 16-bit chunks of JAX's bits 1.8-2.0x, one seru block
  per mask 13-24x.

Caveats: the numbers differ from ``jax.random``'s for the same key (other
counters, other transform). Same key, same numbers: across calls, ``jax.jit``
or not (the functions are jitted inside), vmapped or looped, sharded or not;
only under ``jax.disable_jit()`` may normals differ in the last bit or two
(XLA fuses multiply-adds in compiled code). Under ``jax.grad`` the draws are
constants; ``dropout`` is differentiable in ``x``. The cipher loop is
latency-bound: XLA's 256-bit vectors are its width here
(``XLA_FLAGS=--xla_cpu_prefer_vector_width=512``, a process-wide choice left
to the user, made it about 1.4x faster in one trial). A single draw holds at most
``2^32`` elements.

Raises:
  ValueError: a key that is not one threefry2x32 key (a typed key of another
    implementation; a raw key whose shape is not ``(2,)`` or dtype not
    uint32, e.g. a batch of keys: vmap instead), a negative dimension, a draw
    of more than ``2^32`` elements, a dtype other than float32 / bfloat16 /
    float16, a static ``p`` or ``rate`` outside ``[0, 1]``, ``p`` not
    broadcastable to ``shape``, a non-floating ``x`` in ``dropout``.
"""

from __future__ import annotations

import functools
import math
import operator

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["normal", "uniform", "bernoulli", "dropout"]

#: the first counter word of each function's blocks ("stream"): distinct per
#: function and nonzero (jax.random counts from 0), so no two of them, and no
#: jax.random call, reuse a counter of the same key.
_STREAM = {"normal": 0x6E6F726D, "uniform": 0x756E6966, "bernoulli": 0x62657272}
#: rotation distances of Threefry-2x32 (Salmon et al. 2011), rounds 0-3 and 4-7 of each 8.
_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))
_PARITY = 0x1BD11BDA  # Threefry's key-schedule constant
_ROUNDS = 20
_MAX_COUNT = 2**32
_FLOATS = (jnp.float32, jnp.bfloat16, jnp.float16)
#: chunk widths a mask may use (they divide 32)
_CHUNKS = (1, 2, 4, 8)


# ------------------------------------------------------------------ the cipher


def _rotl(x, d):
    return (x << np.uint32(d)) | (x >> np.uint32(32 - d))


def _threefry2x32(k0, k1, x0, x1):
    """Threefry-2x32-20 of the counter pair (x0, x1) under the key (k0, k1): uint32 arrays."""
    ks = (k0, k1, k0 ^ k1 ^ np.uint32(_PARITY))
    x0 = x0 + k0
    x1 = x1 + k1
    for r in range(_ROUNDS):
        x0 = x0 + x1
        x1 = _rotl(x1, _ROTATIONS[(r // 4) % 2][r % 4])
        x1 = x1 ^ x0
        if r % 4 == 3:  # key injection after every 4 rounds
            s = r // 4 + 1
            x0 = x0 + ks[s % 3]
            x1 = x1 + ks[(s + 1) % 3] + np.uint32(s)
    return x0, x1


def _counters(n):
    if n > _MAX_COUNT:
        raise ValueError(f"seru.sampling: a draw of {n} elements exceeds 2^32 counters; "
                         "split it over keys (jax.random.split / fold_in)")
    return jax.lax.iota(jnp.uint32, n)


def _cipher(key_data, stream, shape):
    """Both words of block ``(stream, i)`` for every element ``i`` (row-major) of ``shape``."""
    counters = _counters(math.prod(shape)).reshape(shape)
    return _threefry2x32(key_data[0], key_data[1], jnp.full_like(counters, stream), counters)


def _words(key_data, stream, n_words):
    """uint32[n_words] random words ``x0 ^ x1`` of the blocks ``(stream, i)``, computed once.

    Written as a reduction over the two words of each block on purpose: XLA on
    CPU fuses elementwise code into its consumer, and would recompute the
    cipher for every mask cut from a word; it does not fuse an expensive
    producer (a reduction is one) into a consumer that reads each of its
    elements several times, so the words are computed once and stored. Only
    speed depends on this, never the numbers.
    """
    counters = jnp.broadcast_to(_counters(n_words), (2, n_words))
    x0, x1 = _threefry2x32(key_data[0], key_data[1], jnp.full_like(counters, stream), counters)
    which = jax.lax.broadcasted_iota(jnp.uint32, (2, n_words), 0)
    return jax.lax.reduce(jnp.where(which == 0, x0, x1), np.uint32(0), jax.lax.bitwise_xor, (0,))


# ------------------------------------------------------------------ validation


def _key_data(key):
    key = jnp.asarray(key) if not isinstance(key, jax.Array) else key
    if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        impl = str(jax.random.key_impl(key))
        if impl != "threefry2x32":
            raise ValueError(f"seru.sampling: the key must be a threefry2x32 key, got impl {impl!r}")
        if key.shape != ():
            raise ValueError("seru.sampling: one key per call (vmap over a batch of keys), "
                             f"got a key array of shape {key.shape}")
        return jax.random.key_data(key)
    if key.shape != (2,) or key.dtype != jnp.uint32:
        raise ValueError("seru.sampling: the key must be a single threefry2x32 key (uint32[2], "
                         f"as jax.random.PRNGKey makes; vmap over batches), got {key.dtype}{list(key.shape)}")
    return key


def _shape(shape):
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    try:
        shape = tuple(operator.index(d) for d in shape)
    except TypeError:
        raise ValueError(f"seru.sampling: shape must be a tuple of ints, got {shape!r}") from None
    if any(d < 0 for d in shape):
        raise ValueError(f"seru.sampling: negative dimension in shape {shape}")
    return shape


def _float_dtype(dtype):
    dtype = jnp.dtype(dtype)
    if dtype not in [jnp.dtype(d) for d in _FLOATS]:
        raise ValueError(f"seru.sampling: dtype must be float32, bfloat16 or float16, got {dtype} "
                         "(for float64 use jax.random)")
    return dtype


# ------------------------------------------------------------------ normals and uniforms

#: Taylor coefficients of sin(x) / x in x^2, to x^12: on |x| <= pi/2 the first
#: omitted term is below 7e-10, far under float32 rounding.
_SIN = tuple((-1) ** i / math.factorial(2 * i + 1) for i in range(7))
#: ln(1 + x) / x on [sqrt(1/2) - 1, sqrt(2) - 1], degree 8 in x: seru's Chebyshev
#: interpolant (numpy, 9 nodes) in powers of x, rounded to float32; error of
#: x * poly below 2e-8.
_LOG1P = (1.0, -0.4999999701976776, 0.33334192633628845, -0.250013530254364, 0.19955933094024658,
          -0.1657799333333969, 0.14977401494979858, -0.14269258081912994, 0.08533313125371933)
_SQRT_HALF_BITS = 0x3F3504F3  # float32 sqrt(1/2)
_ONE_BITS = 0x3F800000  # float32 1.0


def _poly(coeffs, x):
    acc = jnp.float32(coeffs[-1])
    for c in coeffs[-2::-1]:
        acc = acc * x + np.float32(c)
    return acc


def _minus_2_log(u):
    """``-2 ln u`` for normal positive float32 ``u`` <= 1: ``u = 2^e m``, m in [sqrt(1/2), sqrt(2)).

    Own short polynomial instead of XLA's general log: the radius is the
    longest dependency chain of the transform, and this one is ~20% faster.
    """
    bits = jax.lax.bitcast_convert_type(u, jnp.int32) + np.int32(_ONE_BITS - _SQRT_HALF_BITS)
    e = ((bits >> 23) - 127).astype(jnp.float32)
    m = jax.lax.bitcast_convert_type((bits & 0x7FFFFF) + np.int32(_SQRT_HALF_BITS), jnp.float32)
    x = m - np.float32(1.0)
    return np.float32(-2.0) * (e * np.float32(math.log(2.0)) + x * _poly(_LOG1P, x))


def _box_muller(w0, w1):
    """N(0, 1) float32 from two uniform uint32 words: ``sqrt(-2 ln u) sin(phi)`` (Box & Muller 1958).

    ``u = (w0 + 1/2) 2^-32`` in ``(0, 1]`` (float32 of it: largest |z| 6.77);
    ``phi`` uniform on ``(-pi/2, pi/2)`` from the top 24 bits of ``w1`` (sin of
    a uniform angle on the circle has the same law as sin of one on
    ``(-pi/2, pi/2)``), sin by its odd Taylor polynomial.
    """
    u = (w0.astype(jnp.float32) + np.float32(0.5)) * np.float32(2.0**-32)
    r = jnp.sqrt(_minus_2_log(u))
    top = (w1 >> np.uint32(8)).astype(jnp.int32).astype(jnp.float32)  # exact: < 2^24
    phi = (top + np.float32(0.5 - 2**23)) * np.float32(math.pi * 2.0**-24)
    return r * (phi * _poly(_SIN, phi * phi))


@functools.partial(jax.jit, static_argnums=(1, 2))
def _normal(key_data, shape, dtype):
    return _box_muller(*_cipher(key_data, _STREAM["normal"], shape)).astype(dtype)


def normal(key, shape, dtype=jnp.float32):
    """Standard normal draws of ``shape``: Box-Muller on one Threefry-2x32-20 block per element.

    Args:
      key: one threefry2x32 PRNG key (raw ``uint32[2]`` or typed).
      shape: tuple of non-negative ints (``()`` for a scalar, 0-size allowed).
      dtype: float32 (computed), bfloat16 or float16 (float32 draws rounded).

    Returns:
      ``dtype[shape]``, N(0, 1), finite, ``|z| < 6.8``.

    Raises:
      ValueError: see the module docstring (key, shape, dtype, size).
    """
    return _normal(_key_data(key), _shape(shape), _float_dtype(dtype))


@functools.partial(jax.jit, static_argnums=(1, 2))
def _uniform(key_data, shape, dtype):
    bits = jnp.finfo(dtype).nmant + 1
    w, _ = _cipher(key_data, _STREAM["uniform"], shape)
    top = (w >> np.uint32(32 - bits)).astype(jnp.int32).astype(jnp.float32)
    return (top * np.float32(2.0**-bits)).astype(dtype)


def uniform(key, shape, dtype=jnp.float32):
    """Uniform draws on ``[0, 1)`` of ``shape``: multiples of ``2^-(m+1)`` (m = mantissa bits).

    Args and Raises: as :func:`normal`. Returns ``dtype[shape]`` in ``[0, 1)``.
    """
    return _uniform(_key_data(key), _shape(shape), _float_dtype(dtype))


# ------------------------------------------------------------------ masks


def _chunks(key_data, shape, k):
    """uint32[shape] independent uniform ``k``-bit integers: element ``i`` (row-major) is
    chunk ``i mod (32 / k)`` (from the low bits up) of stored word ``i div (32 / k)``."""
    per_word = 32 // k
    n = math.prod(shape)
    words = _words(key_data, _STREAM["bernoulli"], -(-n // per_word))
    shifts = jnp.arange(per_word, dtype=jnp.uint32) * np.uint32(k)
    chunks = (words[:, None] >> shifts) & np.uint32(2**k - 1)
    return chunks.reshape(-1)[:n].reshape(shape)


@functools.partial(jax.jit, static_argnums=(1, 2, 3))
def _bernoulli_static(key_data, threshold, k, shape):
    if threshold == 0:
        return jnp.zeros(shape, bool)
    if threshold == 2**k:
        return jnp.ones(shape, bool)
    if k == 32:  # one cipher block per mask
        word, _ = _cipher(key_data, _STREAM["bernoulli"], shape)
        return word < np.uint32(threshold)
    return _chunks(key_data, shape, k) < np.uint32(threshold)


@functools.partial(jax.jit, static_argnums=(2,))
def _bernoulli_array(key_data, p, shape):
    p = jnp.clip(p.astype(jnp.float32), 0.0, 1.0)
    threshold = jnp.minimum(p * np.float32(2.0**32), np.float32(2.0**32 - 256)).astype(jnp.uint32)
    word, _ = _cipher(key_data, _STREAM["bernoulli"], shape)
    return (word < threshold) | (p >= 1.0)


def _quantise(p):
    """(threshold, k) for a static p: k = 1, 2, 4 or 8 bits if that holds p exactly, else 32."""
    p = float(p)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"seru.sampling: p must lie in [0, 1], got {p}")
    for k in _CHUNKS:
        if (p * 2**k).is_integer():
            return int(p * 2**k), k
    return min(round(p * 2**32), 2**32), 32


def bernoulli(key, p, shape=None):
    """Bernoulli(p) mask of ``shape``: True with probability p (the keep mask of dropout).

    Args:
      key: one threefry2x32 PRNG key.
      p: a Python float (static). A multiple of 1/2, 1/4, 1/16 or 1/256 is
        exact and cut from stored random words (p = 0.5: one bit per mask, 32
        masks per word); any other p is rounded to a multiple of 2^-32 and
        takes one cipher block per mask. Or an array (p as float32, clipped to
        [0, 1]) broadcastable to ``shape``: one block per mask.
      shape: output shape; default ``jnp.shape(p)``.

    Returns:
      ``bool[shape]``.

    Raises:
      ValueError: a static p outside [0, 1], p not broadcastable to shape,
        or as :func:`normal` for the key and shape.
    """
    key_data = _key_data(key)
    shape = _shape(jnp.shape(p) if shape is None else shape)
    if isinstance(p, (float, int, np.floating, np.integer)) and not isinstance(p, bool):
        threshold, k = _quantise(p)
        return _bernoulli_static(key_data, threshold, k, shape)
    p = jnp.asarray(p)
    try:
        ok = jnp.broadcast_shapes(p.shape, shape) == shape
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(f"seru.sampling: p of shape {p.shape} does not broadcast to {shape}")
    return _bernoulli_array(key_data, p, shape)


def dropout(key, x, rate):
    """Inverted dropout (as ``flax.linen.Dropout``): ``where(keep, x / (1 - rate), 0)``.

    ``keep = bernoulli(key, 1 - rate, x.shape)``: a static rate of 0.5 takes
    one random bit per element. A static ``rate = 0`` returns ``x``, ``rate = 1``
    zeros.

    Args:
      key: one threefry2x32 PRNG key.
      x: a floating array.
      rate: drop probability, a Python float in [0, 1] (or a scalar array).

    Returns:
      An array like ``x``; differentiable in ``x``.

    Raises:
      ValueError: a static rate outside [0, 1], a non-floating x, or as
        :func:`bernoulli`.
    """
    x = jnp.asarray(x)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        raise ValueError(f"seru.sampling.dropout: x must be floating, got {x.dtype}")
    if isinstance(rate, (float, int, np.floating, np.integer)):
        rate = float(rate)
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"seru.sampling.dropout: rate must lie in [0, 1], got {rate}")
        if rate == 0.0:
            return x
        if rate == 1.0:
            return jnp.zeros_like(x)
    keep = bernoulli(key, 1.0 - rate, x.shape)
    return jnp.where(keep, x / (1.0 - rate), jnp.zeros_like(x))
