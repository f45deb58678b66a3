"""Vectorised Monte Carlo prediction (trunk once, heads many).

This module knows models only through pure functions (closures over
parameters, e.g. ``functools.partial(model.apply, variables, method=...)``);
it imports no model. The deterministic part runs once per batch, only the
stochastic part is ``jax.vmap``-ed over the Monte Carlo keys. Three samplers:

1. Windowed Bayes-by-Backprop passes (prabhu22 Sec. 3.2): :func:`sample_passes`,
   :func:`sample_std`, :func:`mc_predict`, through

   * ``prepare_fn(features) -> cache``: deterministic work shared by all passes
     (leaves ``[B, T, ...]``); run once.
   * ``window_fn(cache_w, key) -> (y [B, b, D], c)``: one stochastic pass over
     one window of ``b`` frames (``cache_w`` the window's slice ``[B, b, ...]``);
     ``c`` a scalar (e.g. ``log q - log p`` of the window's weight draw).
   * ``mean_fn(features) -> [B, T, D]``: the deterministic posterior-mean pass.

   Keys: pass ``i`` uses ``keys[i] = jax.random.split(rng, n)[i]`` and window
   ``j`` of it ``jax.random.fold_in(keys[i], j)`` -- so a (pass, window) draw
   does not depend on how the grid is vectorised or chunked.

   Vectorisation: the ``n x W`` grid of (pass, window) draws is flattened; with
   ``chunk=None`` it is one ``jax.vmap``; with ``chunk=c`` it is ``jax.lax.map``
   over ``floor(nW / c)`` chunks of a ``vmap`` of ``c`` draws, and one ``vmap``
   of the remaining ``nW mod c`` (no cell is padded or computed twice), so peak
   memory is that of ``c`` draws (plus the ``[n, B, T, D]`` outputs) for any
   recording length. Small chunks also keep a chunk's working set in cache
   (``benchmarks/mc_eval.py``). Recordings are zero-padded to whole windows and
   cropped back; a recording of one window is passed as it is.

2. MC dropout (the baselines of sridhar21 Sec. V-D): :func:`dropout_passes`,
   the whole network is stochastic, so the whole ``apply_fn(key)`` is vmapped.

3. Latent sampling of a VAE (sridhar21 Sec. IV-B): :func:`latent_passes`
   (``encode_fn`` once, ``sample_and_regress_fn`` vmapped) and
   :func:`projected_latent_passes` (the same distribution drawn on the head's
   first pre-activation), summarised by :func:`average_soft`.

Keys of 2 and 3: pass ``i`` uses ``jax.random.split(rng, n)[i]``; the passes of
:func:`dropout_passes` and :func:`latent_passes` run ``chunk`` at a time as the grid
of 1 (:func:`vmap_chunked`, the same draws).

Under a mesh with a ``"passes"`` axis (``jax.set_mesh``; ``seru.sharding.make_mesh``
with ``pass_shards > 1``) the passes (the cells of 1) are sharded over that axis
(:func:`on_pass_shards`): each device runs its share; the draws do not change.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp

from seru import sampling


#: The mesh axis the Monte Carlo passes are sharded over, when the current mesh has it.
PASSES_AXIS = "passes"


def on_pass_shards(x, axis: int = 0):
    """``x`` with its axis ``axis`` (a pass or cell axis) sharded over the ``"passes"``
    axis of the current mesh (``jax.set_mesh``), so that each device of that axis runs its
    share of the passes; ``x`` unchanged outside such a mesh. The values do not change."""
    mesh = jax.sharding.get_abstract_mesh()
    if PASSES_AXIS not in mesh.axis_names:
        return x
    spec = [None] * x.ndim
    spec[axis] = PASSES_AXIS
    return jax.lax.with_sharding_constraint(x, jax.sharding.PartitionSpec(*spec))


def vmap_chunked(fn: Callable, args: tuple, chunk: int | None = None):
    """``jax.vmap(fn)(*args)`` over the leading axis of every leaf of ``args``, in chunks.

    ``chunk=None`` (or at least the axis length ``N``): one ``jax.vmap``.
    Otherwise ``jax.lax.map`` over ``floor(N / chunk)`` chunks of a ``vmap`` of
    ``chunk`` rows, and one ``vmap`` of the ``N mod chunk`` remaining rows: no
    row is padded or computed twice, and the result is the one ``vmap``'s up
    to float rounding. A chunk's working set stays in cache where the whole
    vmap's intermediates (e.g. 100 latent draws of a batch) would not. The
    rows are sharded over the ``"passes"`` mesh axis (:func:`on_pass_shards`).
    Raises ``ValueError`` if ``chunk < 1``.
    """
    if chunk is not None and chunk < 1:
        raise ValueError(f"chunk must be >= 1 or None, got {chunk}")
    n = jax.tree.leaves(args)[0].shape[0]
    if chunk is None or chunk >= n:
        return jax.vmap(fn)(*jax.tree.map(on_pass_shards, args))
    num_chunks, rest = divmod(n, chunk)
    full = num_chunks * chunk
    chunked = jax.tree.map(
        lambda x: on_pass_shards(x[:full].reshape(num_chunks, chunk, *x.shape[1:]), 1), args)
    out = jax.lax.map(lambda c: jax.vmap(fn)(*c), chunked)
    out = jax.tree.map(lambda y: y.reshape(full, *y.shape[2:]), out)
    if rest:
        out_r = jax.vmap(fn)(*jax.tree.map(lambda x: on_pass_shards(x[full:]), args))
        out = jax.tree.map(lambda a, b: jnp.concatenate([a, b]), out, out_r)
    return out


def _to_windows(x, window: int):
    """``[B, T, ...]`` -> ``[W, B, b, ...]``, zero-padding T to ``W * b``."""
    b, t = x.shape[:2]
    num_windows = -(-t // window)
    pad = num_windows * window - t
    x = jnp.pad(x, [(0, 0), (0, pad)] + [(0, 0)] * (x.ndim - 2))
    x = x.reshape(b, num_windows, window, *x.shape[2:])
    return jnp.swapaxes(x, 0, 1)


def num_windows(num_frames: int, window: int) -> int:
    """Number of (possibly partial) windows of ``window`` frames in ``num_frames``."""
    return -(-num_frames // window)


def sample_passes(window_fn: Callable, cache, rng, num_samples: int, window: int,
                  chunk: int | None = None):
    """Run ``num_samples`` stochastic passes, windowed, vectorised (and chunked).

    Returns ``(samples [n, B, T, D], c [n, W])`` with ``c[i, j]`` the scalar
    that ``window_fn`` returned for pass i, window j (e.g. the ``log q - log P``
    of one weight draw in Eq. (6) of prabhu22; sum it over the grid).
    """
    if num_samples < 1:
        raise ValueError(f"num_samples must be >= 1, got {num_samples}")
    if window < 1:
        raise ValueError(f"window must be >= 1, got {window}")
    leaves = jax.tree.leaves(cache)
    batch, num_frames = leaves[0].shape[:2]
    n_win = num_windows(num_frames, window)
    wins = None if n_win == 1 else jax.tree.map(lambda x: _to_windows(x, window), cache)
    keys = jax.random.split(rng, num_samples)
    pass_idx = jnp.repeat(jnp.arange(num_samples), n_win)
    win_idx = jnp.tile(jnp.arange(n_win), num_samples)

    def body(i, j):
        # One window: the cache itself (no per-cell slice of it).
        cache_w = cache if n_win == 1 else jax.tree.map(lambda x: x[j], wins)
        return window_fn(cache_w, jax.random.fold_in(keys[i], j))

    ys, cs = vmap_chunked(body, (pass_idx, win_idx), chunk)
    if n_win == 1:  # [n, B, T, D] already (not padded)
        return ys, cs.reshape(num_samples, 1)
    # ys: [n*W, B, b, D] -> [n, B, W*b, D]
    ys = ys.reshape(num_samples, n_win, batch, window, *ys.shape[3:])
    ys = jnp.swapaxes(ys, 1, 2).reshape(num_samples, batch, n_win * window, *ys.shape[4:])
    return ys[:, :, :num_frames], cs.reshape(num_samples, n_win)


def sample_std(samples, ddof: int = 1, eps: float = 0.0):
    """Std over the MC passes (axis 0): ``s_hat`` of prabhu22 Sec. 3.2.

    ``ddof=1`` (the unbiased estimator, as the rater std of Eq. (3) and
    ``torch.std``); with a single pass the spread is undefined and 0 is
    returned. ``sqrt(var + eps)``: a small ``eps`` keeps the gradient finite
    where all passes agree (inside a loss).
    """
    n = samples.shape[0]
    if n <= ddof:
        return jnp.zeros(samples.shape[1:], samples.dtype)
    dev = samples - jnp.mean(samples, axis=0)
    var = jnp.sum(dev * dev, axis=0) / (n - ddof)
    return jnp.sqrt(var + eps)


def mc_predict(prepare_fn: Callable, window_fn: Callable, mean_fn: Callable, features, rng,
               num_samples: int = 30, window: int = 50, chunk: int | None = None,
               return_samples: bool = False, ddof: int = 1) -> dict:
    """Vectorised MC prediction of prabhu22 Sec. 3.2 on trunk ``features`` ``[B, T, F]``.

    ``m_hat`` is the posterior-mean pass (``mean_fn``), ``s_hat`` the std over
    the ``num_samples`` passes (:func:`sample_std`); ``samples``
    ``[n, B, T, D]`` when ``return_samples``.
    """
    cache = prepare_fn(features)
    samples, _ = sample_passes(window_fn, cache, rng, num_samples, window, chunk)
    out = {"m_hat": mean_fn(features), "s_hat": sample_std(samples, ddof)}
    if return_samples:
        out["samples"] = samples
    return out


def _pass_keys(rng, num_samples: int):
    """``jax.random.split(rng, num_samples)``: one key per MC pass (on the pass shards)."""
    if num_samples < 1:
        raise ValueError(f"num_samples must be >= 1, got {num_samples}")
    return on_pass_shards(jax.random.split(rng, num_samples))


def dropout_passes(apply_fn: Callable, rng, num_samples: int, chunk: int | None = None):
    """MC dropout: ``num_samples`` passes of a network stochastic in every layer.

    ``apply_fn(key)`` is one pass with dropout on under ``key`` (e.g. the MCD
    baselines of sridhar21 Sec. V-D); it returns a pytree of arrays. The whole
    of it is vmapped over ``jax.random.split(rng, num_samples)`` (nothing is
    deterministic to hoist), ``chunk`` passes at a time (:func:`vmap_chunked`).
    Returns that pytree with a leading pass axis ``[n, ...]``. Raises
    ``ValueError`` if ``num_samples < 1`` or ``chunk < 1``.
    """
    return vmap_chunked(apply_fn, (_pass_keys(rng, num_samples),), chunk)


def latent_passes(encode_fn: Callable, sample_and_regress_fn: Callable, x, rng,
                  num_samples: int, chunk: int | None = None):
    """Latent Monte Carlo of sridhar21 Sec. IV-B: encoder once, draw + head vmapped.

    ``encode_fn(x) -> posterior`` is the deterministic encoder (any pytree, e.g.
    ``(mean [B, L], logvar [B, L])`` of ``q(z|x)``); it runs once.
    ``sample_and_regress_fn(key, posterior) -> outputs`` is one latent draw
    (Eq. (4) of sridhar21) and the head on it; it is vmapped over
    ``jax.random.split(rng, num_samples)``, ``chunk`` samples at a time
    (:func:`vmap_chunked`). Returns ``(outputs, posterior)`` with the pytree
    ``outputs`` stacked on a leading ``[n]`` axis. Raises ``ValueError`` if
    ``num_samples < 1`` or ``chunk < 1``.
    """
    posterior = encode_fn(x)
    keys = _pass_keys(rng, num_samples)
    return vmap_chunked(lambda k: sample_and_regress_fn(k, posterior), (keys,), chunk), posterior


def projected_latent_passes(encode_fn: Callable, sample_and_regress_fn: Callable,
                            first_layer, head_fn: Callable, x, rng, num_samples: int,
                            jitter: float = 1e-6):
    """:func:`latent_passes` with the latent draw projected onto the head's first layer.

    ``encode_fn(x) -> (mean [B, L], logvar [B, L] or None)``; ``first_layer``
    is ``(w [L, h], b [h])`` of the head's first dense layer, ``head_fn(a)``
    the head from that layer's pre-activation ``a [B, h]``. The pre-activation
    ``a = W^T z + b`` of ``z ~ N(mu, diag(sigma^2))`` (Eq. (4) of sridhar21) is
    exactly ``N(W^T mu + b, W^T diag(sigma^2) W)``; it is drawn directly through
    the Cholesky factor of that covariance (once per utterance), which needs
    ``h`` normals per sample instead of ``L`` and a ``h x h`` instead of a
    ``L x h`` product. The outputs have the same distribution as with
    :func:`latent_passes`, not the same draws. Exact when ``h <= L`` (full-rank
    covariance; a relative ``jitter`` guards the factorisation); otherwise, or
    when ``logvar`` is None (a plain autoencoder), this is :func:`latent_passes`
    with ``sample_and_regress_fn``. Returns ``(outputs, (mean, logvar))``.
    """
    w, bias = first_layer
    h = w.shape[1]
    mean, logvar = posterior = encode_fn(x)
    if logvar is None or h > w.shape[0]:
        return latent_passes(lambda _: posterior, sample_and_regress_fn, x, rng, num_samples)
    m1 = mean @ w + bias
    cov = jnp.einsum("lh,bl,lk->bhk", w, jnp.exp(logvar), w)
    scale = jnp.mean(jnp.diagonal(cov, axis1=-2, axis2=-1), axis=-1)[:, None, None]
    chol = jnp.linalg.cholesky(cov + jitter * scale * jnp.eye(h, dtype=cov.dtype))
    keys = _pass_keys(rng, num_samples)

    def one(key):
        eps = sampling.normal(key, m1.shape, m1.dtype)
        return head_fn(m1 + jnp.einsum("bhk,bk->bh", chol, eps))

    return jax.vmap(one)(keys), posterior


def average_soft(soft_logp_samples):
    """The averaged soft-label distribution over MC samples, sridhar21 Sec. IV-B.

    ``soft_logp_samples`` ``[n, ..., bins]`` are log-probabilities;
    ``p_bar = (1/n) sum_i p_i`` ``[..., bins]`` (in [0, 1], summing to 1),
    computed as ``exp(logsumexp_i log p_i - log n)``.
    """
    n = soft_logp_samples.shape[0]
    return jnp.exp(jax.scipy.special.logsumexp(soft_logp_samples, axis=0) - jnp.log(n))
