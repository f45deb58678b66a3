"""Cross-correlation layer saliency (CCS) of mitra25 (Sec. 3, Eqs. (1)-(3)).

Picks the foundation-model layer whose utterance-level representation is
most related to the emotion targets, without training a model per layer.

For layer k with utterance-mean representations H (U utterances x N dims,
Eq. (1): the mean over the M frames of each utterance) and targets L
(U x D), with r(a, b) the Pearson correlation over utterances::

    w_{j,l}   = |r(H_j, L_l)|                                         (Eq. 2)
    gamma_i,l = 1 / (N - 1) * sum_{j != i} w_{j,l} |r(H_i, H_j)|       (Eq. 2)
    S_i,k,l   = |r(H_i, L_l)| + gamma_i,l                               (Eq. 1)
    mu_k      = 1 / D * sum_l S_k,l                                     (Eq. 3)

mitra25 leaves open how the per-dimension S_i,k,l become the per-layer
S_k,l of Eq. (3); we take their mean over the N dimensions ("averaged per
layer"), so mu_k is the mean of S_i,k,l over dimensions and targets.

Degenerate data: a constant dimension or target (zero variance over
utterances) has no defined correlation; it counts as r = 0 (it carries no
information). N = 1 gives gamma = 0. Fewer than 2 utterances raise.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

__all__ = ["utterance_mean", "ccs_dimension_saliency", "layer_saliency", "layer_saliencies"]


@jax.jit
def utterance_mean(h, mask=None):
    """H-bar of Eq. (1) of mitra25: mean over frames of each utterance.

    Args:
      h: [U, M, N] frame-level representations of one layer.
      mask: optional [U, M] frame validity (padding = 0).

    Returns:
      [U, N]; an utterance with no valid frame gives zeros.
    """
    h = jnp.asarray(h)
    if h.ndim != 3:
        raise ValueError(f"utterance_mean: expected h of shape [U, M, N], got {h.shape}")
    if mask is None:
        return jnp.mean(h, axis=1)
    w = jnp.asarray(mask).astype(h.dtype)[..., None]
    hs = jnp.where(w > 0, h, 0.0)
    return jnp.sum(hs, axis=1) / jnp.maximum(jnp.sum(w, axis=1), 1.0)


def _standardise(a):
    """Columns centred and scaled to unit norm; constant columns become 0.

    A column counts as constant when its centred norm is round-off level
    relative to its magnitude (a column of 0.3s has a computed spread ~1e-17).
    """
    mag = jnp.max(jnp.abs(a), axis=0, keepdims=True)
    a = a - jnp.mean(a, axis=0, keepdims=True)
    norm = jnp.sqrt(jnp.sum(a * a, axis=0, keepdims=True))
    eps = jnp.finfo(a.dtype).eps
    ok = norm > 64 * eps * jnp.sqrt(a.shape[0]) * mag + jnp.finfo(a.dtype).tiny
    return jnp.where(ok, a / jnp.where(ok, norm, 1.0), 0.0)


def _check(h_mean, targets):
    h = jnp.asarray(h_mean)
    t = jnp.asarray(targets)
    if t.ndim == 1:
        t = t[:, None]
    if h.ndim != 2 or t.ndim != 2 or h.shape[0] != t.shape[0]:
        raise ValueError(
            f"CCS: expected h_mean [U, N] and targets [U] or [U, D] with the same U, got {h.shape} and "
            f"{jnp.shape(targets)}")
    if h.shape[0] < 2:
        raise ValueError(f"CCS: need at least 2 utterances for a correlation, got {h.shape[0]}")
    dtype = jnp.result_type(h, t, float)
    return h.astype(dtype), t.astype(dtype)


def ccs_dimension_saliency(h_mean, targets):
    """Per-dimension cross-correlation saliency S_{i,k,l}, Eqs. (1)-(2) of mitra25.

    Args:
      h_mean: [U, N] utterance-mean representations of one layer (Eq. (1)).
      targets: [U] or [U, D] utterance targets (e.g. valence, activation,
        dominance, or per-class scores).

    Returns:
      [N, D] saliency of each dimension for each target.
    """
    h, t = _check(h_mean, targets)
    return _ccs(h, t)


@jax.jit
def _ccs(h, t):
    n = h.shape[1]
    hz = _standardise(h)
    tz = _standardise(t)
    r_ht = jnp.abs(hz.T @ tz)                 # [N, D] |r(H_i, L_l)| (= w_i,l)
    r_hh = jnp.abs(hz.T @ hz)                 # [N, N] |r(H_i, H_j)|
    r_hh = r_hh * (1.0 - jnp.eye(n, dtype=h.dtype))
    gamma = (r_hh @ r_ht) / max(n - 1, 1)     # [N, D]
    return r_ht + gamma


def layer_saliency(h_mean, targets):
    """Layer saliency mu_{CCS,k}, Eq. (3) of mitra25: the mean of
    :func:`ccs_dimension_saliency` over the N dimensions and the D targets."""
    return jnp.mean(ccs_dimension_saliency(h_mean, targets))


def layer_saliencies(layers, targets):
    """mu_{CCS,k} for every layer k (Eq. (3) of mitra25); pick ``argmax`` as the salient layer.

    Args:
      layers: [K, U, N] utterance-mean representations of the K layers (or a
        sequence of [U, N_k] arrays, which may differ in N_k).
      targets: [U] or [U, D].

    Returns:
      [K] saliencies.
    """
    return jnp.stack([layer_saliency(h, targets) for h in layers])
