"""Benchmark of the random-number options for seru's Monte Carlo paths on CPU; prints JSON.

Every MC path (Bayes-by-Backprop weight / pre-activation draws, VAE latents,
MC-dropout masks) draws through ``seru/sampling.py``; this script measures the
options it was chosen from, in one run (hosts differ: only ratios measured side
by side mean anything):

* ``normals``: N(0, 1) float32 per second for

  - ``threefry_default``: ``jax.random.normal`` with the default threefry key
    (the reference of every ratio);
  - ``rbg`` / ``unsafe_rbg``: ``jax.random.normal`` with an rbg / unsafe_rbg key
    (XLA's ``RngBitGenerator``) derived from the threefry key
    (``wrap_key_data(bits(key, (4,)), impl=...)``);
  - ``jax_bits+boxmuller_pairs`` / ``rbg_bits+boxmuller_pairs``:
    ``jax.random.bits`` (threefry / rbg key) then Box-Muller, both outputs
    of each pair used;
  - ``jax_bits+ndtri``: ``jax.random.bits`` then the inverse CDF
    (``jax.scipy.special.ndtri``);
  - ``seru_threefry+boxmuller_pairs``: seru's unrolled Threefry-2x32-20, one
    block per pair, both words and both Box-Muller outputs used (pairs
    concatenated);
  - ``seru_threefry+erfinv`` / ``seru_threefry+ndtri``: seru's cipher, one
    block per normal, inverse CDF (as ``jax.random.normal`` does / ndtri);
  - ``seru.sampling.normal``: the pick (one block per normal, single-output
    Box-Muller);

* ``masks``: Bernoulli(p) bool masks per second, p = 0.5 and p = 0.1, for

  - ``threefry_default``: ``jax.random.bernoulli`` (one float per mask);
  - ``rbg`` / ``unsafe_rbg``: ``jax.random.bernoulli`` with those keys;
  - ``jax_bits_chunks``: ``jax.random.bits`` words cut into 1-bit (p = 0.5,
    32 masks per word) or 16-bit chunks compared with a threshold;
  - ``seru_threefry_block_per_mask``: one block of seru's cipher per mask, its
    top 16 bits compared with a threshold (no stored words);
  - ``seru.sampling.bernoulli``: the pick (p = 0.5: stored words cut into
    1-bit chunks, 32 masks per word; p = 0.1: one block per mask, 32-bit
    threshold);

  and in both, ``write_floor``: no random numbers, only a fresh output of the
  same shape and dtype (allocating and first touching it is part of every
  option's time: on this host about half of ``seru.sampling.normal``'s);

each in three settings, all inside ``jax.jit``:

* ``single``: one draw of 10 M elements;
* ``vmap_1500x5x769``: ``jax.vmap`` over 1,500 keys made by ``fold_in`` of draws
  of shape [5, 769] (a Bayesian layer's weights per (sample, window));
* ``vmap_180x5x50x1024``: ``jax.vmap`` over 180 keys of [5, 50, 1024] (the
  47 M normals of one prabhu22 evaluation batch).

Method: each function is compiled and run once before timing (compile
excluded); the repetitions alternate over the options (the order rotates each
repetition); the median of ``--reps`` is reported, with the ratio to
``threefry_default`` from the same run. ``vmap_equals_loop``: whether row i of a
vmapped draw over 5 keys equals the unbatched draw with key i (the
reproducibility every MC path relies on). ``stats``: moments and a
Kolmogorov-Smirnov p-value of 10^6 draws (normals), the observed frequency
(masks, 2 x 10^6 draws); ``p_resolution``: the quantum p is rounded to.

Usage::

    python benchmarks/sampling.py             # ~2-3 min on 2 idle CPU cores
    python benchmarks/sampling.py --quick     # smaller draws, fewer reps
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
from scipy import stats

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from seru import sampling  # noqa: E402

f32 = np.float32


# ------------------------------------------------------------------ building blocks


def _other_key(key, impl):
    """An rbg / unsafe_rbg key derived from a threefry key (4 words drawn from it)."""
    return jax.random.wrap_key_data(jax.random.bits(key, (4,), jnp.uint32), impl=impl)


def _seru_cipher(key, shape):
    return sampling._cipher(jax.random.key_data(key), 7, shape)


def _u01(w):
    """(0, 1) float32 from a uint32 word (top 24 bits, centred)."""
    return ((w >> 8).astype(jnp.int32).astype(jnp.float32) + f32(0.5)) * f32(2.0**-24)


_SIN = [f32((-1) ** i / math.factorial(2 * i + 1)) for i in range(5)]
_COS = [f32((-1) ** i / math.factorial(2 * i)) for i in range(6)]


def _bm_pair(w0, w1):
    """Both Box-Muller outputs of a pair of words: r cos(t), r sin(t).

    t = q pi/2 + phi, q from the top 2 bits of w1, phi uniform on [-pi/4, pi/4)
    from the next 24; sin / cos of phi by Taylor polynomials (XLA's own cos /
    sin on CPU are several times slower).
    """
    r = jnp.sqrt(f32(-2.0) * jnp.log(_u01(w0)))
    q = w1 >> np.uint32(30)
    frac = ((w1 >> np.uint32(6)) & np.uint32(0xFFFFFF)).astype(jnp.int32).astype(jnp.float32)
    phi = (frac + f32(0.5)) * f32(2.0**-24 * math.pi / 2) - f32(math.pi / 4)
    p2 = phi * phi
    s = phi * sampling._poly(_SIN, p2)
    c = sampling._poly(_COS, p2)
    odd = (q & np.uint32(1)) == 1
    cos_t, sin_t = jnp.where(odd, s, c), jnp.where(odd, c, s)
    cos_t = jnp.where((q == 1) | (q == 2), -cos_t, cos_t)
    sin_t = jnp.where(q >= 2, -sin_t, sin_t)
    return r * cos_t, r * sin_t


def _pairs_to_shape(z0, z1, shape):
    n = math.prod(shape)
    return jnp.concatenate([z0, z1])[:n].reshape(shape)


def _erfinv(w):
    u = f32(2.0) * _u01(w) - f32(1.0)
    return f32(math.sqrt(2.0)) * jax.lax.erf_inv(u)


def _write_floor(dtype):
    """No random numbers: a fresh output of the same shape and dtype, filled from the key
    (what every option pays for its output buffer: allocation and first touch of the pages)."""
    return lambda key, shape: jnp.full(shape, jax.random.key_data(key)[0] & 1, dtype)


def normal_options():
    def jax_bits_bm(key, shape, impl=None):
        h = -(-math.prod(shape) // 2)
        k = key if impl is None else _other_key(key, impl)
        w = jax.random.bits(k, (2, h), jnp.uint32)
        return _pairs_to_shape(*_bm_pair(w[0], w[1]), shape)

    def seru_bm_pairs(key, shape):
        h = -(-math.prod(shape) // 2)
        return _pairs_to_shape(*_bm_pair(*_seru_cipher(key, (h,))), shape)

    return {
        "threefry_default": lambda k, s: jax.random.normal(k, s),
        "rbg": lambda k, s: jax.random.normal(_other_key(k, "rbg"), s),
        "unsafe_rbg": lambda k, s: jax.random.normal(_other_key(k, "unsafe_rbg"), s),
        "jax_bits+boxmuller_pairs": jax_bits_bm,
        "rbg_bits+boxmuller_pairs": lambda k, s: jax_bits_bm(k, s, "rbg"),
        "jax_bits+ndtri": lambda k, s: jax.scipy.special.ndtri(_u01(jax.random.bits(k, s, jnp.uint32))),
        "seru_threefry+boxmuller_pairs": seru_bm_pairs,
        "seru_threefry+erfinv": lambda k, s: _erfinv(_seru_cipher(k, s)[0]),
        "seru_threefry+ndtri": lambda k, s: jax.scipy.special.ndtri(_u01(_seru_cipher(k, s)[0])),
        "seru.sampling.normal": lambda k, s: sampling.normal(k, s),
        "write_floor": _write_floor(jnp.float32),
    }


def mask_options(p):
    k_bits = 1 if p == 0.5 else 16
    threshold = round(p * 2**k_bits)

    def jax_bits_chunks(key, shape):
        n = math.prod(shape)
        per = 32 // k_bits
        w = jax.random.bits(key, (-(-n // per),), jnp.uint32)
        shifts = jnp.arange(per, dtype=jnp.uint32) * np.uint32(k_bits)
        c = (w[:, None] >> shifts) & np.uint32(2**k_bits - 1)
        return (c.reshape(-1)[:n] < np.uint32(threshold)).reshape(shape)

    def block_per_mask(key, shape):
        w, _ = _seru_cipher(key, shape)
        return (w >> np.uint32(32 - k_bits)) < np.uint32(threshold)

    return {
        "threefry_default": lambda k, s: jax.random.bernoulli(k, p, s),
        "rbg": lambda k, s: jax.random.bernoulli(_other_key(k, "rbg"), p, s),
        "unsafe_rbg": lambda k, s: jax.random.bernoulli(_other_key(k, "unsafe_rbg"), p, s),
        "jax_bits_chunks": jax_bits_chunks,
        "seru_threefry_block_per_mask": block_per_mask,
        "seru.sampling.bernoulli": lambda k, s: sampling.bernoulli(k, p, s),
        "write_floor": _write_floor(jnp.bool_),
    }


def p_resolution(name, p):
    if name == "seru.sampling.bernoulli":
        return 2.0 ** -sampling._quantise(p)[1]
    if name in ("jax_bits_chunks", "seru_threefry_block_per_mask"):
        return 2.0 ** -(1 if p == 0.5 else 16)
    return 2.0**-23  # jax.random.bernoulli: uniform float with 23 random mantissa bits


# ------------------------------------------------------------------ timing


def make_runner(draw, batch, shape):
    if batch is None:
        return jax.jit(lambda key: draw(key, shape))

    def run(key):
        keys = jax.vmap(lambda i: jax.random.fold_in(key, i))(jnp.arange(batch))
        return jax.vmap(lambda k: draw(k, shape))(keys)

    return jax.jit(run)


def time_options(options, batch, shape, reps, key):
    runners = {name: make_runner(draw, batch, shape) for name, draw in options.items()}
    for f in runners.values():  # compile (and the first run), excluded
        jax.block_until_ready(f(key))
    names = list(runners)
    times = {name: [] for name in names}
    for r in range(reps):
        for name in names[r % len(names):] + names[: r % len(names)]:
            t0 = time.perf_counter()
            jax.block_until_ready(runners[name](key))
            times[name].append(time.perf_counter() - t0)
    n = (batch or 1) * math.prod(shape)
    ref = float(np.median(times["threefry_default"]))
    out = {}
    for name in names:
        med = float(np.median(times[name]))
        out[name] = {"median_s": round(med, 5), "per_s": round(n / med), "ratio_vs_default": round(ref / med, 2)}
    return out


def vmap_equals_loop(draw, key):
    keys = jax.random.split(key, 5)
    batched = jax.jit(jax.vmap(lambda k: draw(k, (3, 7))))(keys)
    looped = jnp.stack([jax.jit(lambda k: draw(k, (3, 7)))(k) for k in keys])
    return bool(jnp.array_equal(batched, looped))


def normal_stats(draw, key):
    z = np.asarray(jax.jit(lambda k: draw(k, (1_000_000,)))(key), np.float64)
    return {"mean": round(float(z.mean()), 5), "var": round(float(z.var()), 5),
            "skew": round(float(stats.skew(z)), 5), "kurtosis": round(float(stats.kurtosis(z, fisher=False)), 4),
            "ks_pvalue": round(float(stats.kstest(z, "norm").pvalue), 4), "max_abs": round(float(np.abs(z).max()), 3)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller draws, 3 reps")
    ap.add_argument("--reps", type=int, default=None)
    args = ap.parse_args()
    reps = args.reps or (3 if args.quick else 5)
    settings = {
        "single": (None, (2_000_000,) if args.quick else (10_000_000,)),
        "vmap_1500x5x769": (1500, (5, 769)),
        "vmap_180x5x50x1024": (36 if args.quick else 180, (5, 50, 1024)),
    }
    key = jax.random.PRNGKey(0)
    load0 = os.getloadavg()
    t0 = time.time()
    result = {
        "host": {"machine": platform.machine(), "processor": platform.processor() or platform.platform(),
                 "cpu_count": os.cpu_count(), "jax": jax.__version__, "backend": jax.default_backend(),
                 "python": platform.python_version()},
        "settings": {name: {"keys": b, "shape": list(s), "elements": (b or 1) * math.prod(s)}
                     for name, (b, s) in settings.items()},
        "method": f"jit, compile excluded, alternating reps, median of {reps}; ratio = median time of "
                  "threefry_default / median time of the option, same run",
        "normals": {}, "masks": {},
    }
    nopts = normal_options()
    for name, (b, s) in settings.items():
        print(f"normals {name} ...", file=sys.stderr, flush=True)
        result["normals"][name] = time_options(nopts, b, s, reps, key)
    result["normals_checks"] = {name: {"vmap_equals_loop": vmap_equals_loop(d, key), **normal_stats(d, key)}
                                for name, d in nopts.items() if name != "write_floor"}
    for p in (0.5, 0.1):
        mopts = mask_options(p)
        tag = f"p={p}"
        result["masks"][tag] = {}
        for name, (b, s) in settings.items():
            print(f"masks {tag} {name} ...", file=sys.stderr, flush=True)
            result["masks"][tag][name] = time_options(mopts, b, s, reps, key)
        freq = {}
        for name, d in mopts.items():
            if name == "write_floor":
                continue
            m = np.asarray(jax.jit(lambda k, d=d: d(k, (2_000_000,)))(key))
            freq[name] = {"vmap_equals_loop": vmap_equals_loop(d, key), "frequency": round(float(m.mean()), 6),
                          "binomial_sd": round(math.sqrt(p * (1 - p) / m.size), 6),
                          "p_resolution": p_resolution(name, p)}
        result["masks"][tag]["checks"] = freq
    result["summary"] = {
        "normals_per_s_ratio_vs_default": {
            name: result["normals"][name]["seru.sampling.normal"]["ratio_vs_default"] for name in settings},
        **{f"masks_{tag}_ratio_vs_default": {
            name: result["masks"][tag][name]["seru.sampling.bernoulli"]["ratio_vs_default"] for name in settings}
           for tag in result["masks"]},
        "vmap_breaks": [name for name, c in result["normals_checks"].items() if not c["vmap_equals_loop"]],
    }
    result["load_average_start_end"] = [round(x, 2) for x in load0 + os.getloadavg()]
    result["wall_s"] = round(time.time() - t0, 1)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
