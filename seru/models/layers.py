"""Recurrent layers over padded batches ``[B, T, F]`` (batch, frames, features).

* :class:`LSTM`: one forward LSTM layer, our own code (the trunk of
  :class:`seru.models.extractors.Extractor`); kept for its parameter tree.
* :class:`BLSTM`: a stack of bidirectional LSTM layers, flax's
  ``nn.Bidirectional`` of two ``nn.RNN(nn.OptimizedLSTMCell)``.
* :class:`GRU`: a stack of forward GRU layers, flax's ``nn.RNN(nn.GRUCell)``.

Padding. ``BLSTM`` and ``GRU`` take optional ``lengths`` ``[B]`` (valid
frames per sequence) or a ``mask`` ``[B, T]`` (1 = valid). The valid frames
must be a prefix ``[0, length)`` of each row (padding at the end, as the data
pipeline writes it); a mask is read as ``lengths = mask.sum(-1)``. With either
given, outputs at padded frames are 0, and no valid output depends on the
padded inputs: the forward direction reaches padding only after the last valid
frame, and the backward direction starts at each sequence's last valid frame
(flax's ``flip_sequences`` reverses the valid prefix only). Without them every
frame is valid.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import flax.linen as nn

__all__ = ["LSTM", "BLSTM", "GRU"]


def _lstm_cell(w_h, carry, z_in):
    """One step: ``((c, h), (h, c, gates))`` with the activated gates ``[i, f, g, o]``
    (kept for the backward pass; the forward pass drops them)."""
    c, hh = carry
    z = z_in + hh @ w_h
    i, f, g, o = jnp.split(z, 4, axis=-1)
    si, sf, tg, so = jax.nn.sigmoid(i), jax.nn.sigmoid(f), jnp.tanh(g), jax.nn.sigmoid(o)
    c = sf * c + si * tg
    hh = so * jnp.tanh(c)
    return (c, hh), (hh, c, jnp.concatenate([si, sf, tg, so], axis=-1))


def _lstm_step(w_h, carry, z_in):
    """:func:`_lstm_cell` emitting ``h`` only (the scan body of the forward pass)."""
    carry, (hh, _, _) = _lstm_cell(w_h, carry, z_in)
    return carry, hh


@jax.custom_vjp
def _recurrence(xz, w_h):
    """The LSTM recurrence: ``xz`` [T, B, 4H] (input projection + bias), ``w_h`` [H, 4H]
    -> ``h`` [T, B, H], zero initial state."""
    zeros = jnp.zeros((xz.shape[1], w_h.shape[0]), xz.dtype)
    return jax.lax.scan(functools.partial(_lstm_step, w_h), (zeros, zeros), xz)[1]


def _recurrence_fwd(xz, w_h):
    zeros = jnp.zeros((xz.shape[1], w_h.shape[0]), xz.dtype)
    _, (hs, cs, gates) = jax.lax.scan(functools.partial(_lstm_cell, w_h), (zeros, zeros), xz)
    return hs, (w_h, hs, cs, gates)


def _recurrence_bwd(res, dhs):
    """Backpropagation through time: the reverse scan carries only dh, dc ([B, H]) and
    emits dz_t; ``dW_h = sum_t h_{t-1}^T dz_t`` is one matmul after it. (JAX's own
    transpose of the scan adds an [H, 4H] outer product into a carried dW_h at every
    step: ~4x slower here.)"""
    w_h, hs, cs, gates = res
    t, b, h = hs.shape
    zeros = jnp.zeros((b, h), hs.dtype)
    c_prev = jnp.concatenate([zeros[None], cs[:-1]])
    w_ht = w_h.T

    def step(carry, inputs):
        dh_next, dc_next = carry
        dh_out, c, cp, gate = inputs
        si, sf, tg, so = jnp.split(gate, 4, axis=-1)
        tc = jnp.tanh(c)
        dh = dh_out + dh_next
        dc = dc_next + dh * so * (1 - tc * tc)
        dz = jnp.concatenate([dc * tg * si * (1 - si), dc * cp * sf * (1 - sf),
                              dc * si * (1 - tg * tg), dh * tc * so * (1 - so)], axis=-1)
        return (dz @ w_ht, dc * sf), dz

    _, dzs = jax.lax.scan(step, (zeros, zeros), (dhs, cs, c_prev, gates), reverse=True)
    h_prev = jnp.concatenate([zeros[None], hs[:-1]])
    dw_h = h_prev.reshape(t * b, h).T @ dzs.reshape(t * b, 4 * h)
    return dzs, dw_h


_recurrence.defvjp(_recurrence_fwd, _recurrence_bwd)


class LSTM(nn.Module):
    """One forward LSTM layer over ``[B, T, D]`` -> ``[B, T, features]``.

    Gates (Hochreiter & Schmidhuber; PyTorch's layout i, f, g, o)::

        z_t = x_t W_i + h_{t-1} W_h + b
        c_t = sigmoid(f) c_{t-1} + sigmoid(i) tanh(g);  h_t = sigmoid(o) tanh(c_t)

    Zero initial state; every frame is processed (no lengths: padding at the
    end never reaches an earlier frame). Parameters ``w_i`` [D, 4H]
    (LeCun normal), ``w_h`` [H, 4H] (orthogonal), ``b`` [4H] (zeros).

    Why our own code and not ``nn.RNN(nn.LSTMCell)``: the parameter names and
    layout above are those of every stored checkpoint and fixed-seed result
    of the models built on :class:`seru.models.extractors.Extractor`; flax's
    cells name and split the weights differently (eight ``Dense`` kernels).

    Cost. The input projection ``x W_i + b`` of all frames is one matmul
    outside the recurrence (time-major ``[T, B, 4H]``); ``jax.lax.scan``
    carries only ``h W_h`` and the gates. The gradient is a custom VJP
    (:func:`_recurrence_bwd`): the reverse scan emits ``dz_t`` and the
    weight gradient ``dW_h`` is one ``[H, T B] x [T B, 4H]`` matmul after it,
    equal to JAX's own (which accumulates an outer product into a carried
    ``dW_h`` every step) up to float rounding. Forward + backward on 2 shared
    AMD EPYC cores (B 5, T 300, H 256; ``benchmarks/results/trunk.json``):
    109 -> 42 ms (D 320), 97 -> 37 ms (D 256); the forward pass ~15 ms.
    Forward-mode differentiation (``jax.jvp``) is not defined for it.
    """

    features: int

    @nn.compact
    def __call__(self, x):
        h = self.features
        w_i = self.param("w_i", nn.initializers.lecun_normal(), (x.shape[-1], 4 * h))
        w_h = self.param("w_h", nn.initializers.orthogonal(), (h, 4 * h))
        b = self.param("b", nn.initializers.zeros, (4 * h,))
        xz = jnp.swapaxes(x, 0, 1) @ w_i + b  # time-major [T, B, 4H]
        return jnp.swapaxes(_recurrence(xz, w_h), 0, 1)


def _check(name, features, num_layers):
    if features < 1:
        raise ValueError(f"{name}: features must be >= 1, got {features}")
    if num_layers < 1:
        raise ValueError(f"{name}: num_layers must be >= 1, got {num_layers}")


def _lengths(x, lengths, mask):
    """``lengths`` [B] int32 (or None) from ``lengths`` or a prefix ``mask``; checks shapes."""
    if x.ndim != 3:
        raise ValueError(f"x must be [batch, frames, features], got shape {x.shape}")
    if lengths is not None and mask is not None:
        raise ValueError("give lengths or mask, not both")
    if mask is not None:
        mask = jnp.asarray(mask)
        if mask.shape != x.shape[:2]:
            raise ValueError(f"mask must be [batch, frames] = {x.shape[:2]}, got {mask.shape}")
        return jnp.sum(mask.astype(bool), axis=-1).astype(jnp.int32)
    if lengths is not None:
        lengths = jnp.asarray(lengths)
        if lengths.shape != x.shape[:1]:
            raise ValueError(f"lengths must be [batch] = {x.shape[:1]}, got {lengths.shape}")
        return jnp.clip(lengths.astype(jnp.int32), 0, x.shape[1])
    return None


def _zero_padding(y, lengths):
    if lengths is None:
        return y
    valid = jnp.arange(y.shape[1])[None, :] < lengths[:, None]
    return jnp.where(valid[..., None], y, 0.0)


def uniform_inits(init_range: float) -> dict:
    """Keyword arguments that make a flax cell (or Dense: use ``kernel_init`` and
    ``bias_init``) draw its kernels and biases from U[-r, r]; ``{}`` for ``r <= 0`` (flax's
    own initialisers)."""
    if init_range <= 0:
        return {}

    def uniform(key, shape, dtype=jnp.float32):
        return jax.random.uniform(key, shape, dtype, -init_range, init_range)

    return {"kernel_init": uniform, "recurrent_kernel_init": uniform, "bias_init": uniform}


class BLSTM(nn.Module):
    """Stack of ``num_layers`` bidirectional LSTM layers: ``[B, T, F]`` -> ``[B, T, 2 features]``.

    Each layer is ``nn.Bidirectional(nn.RNN(nn.OptimizedLSTMCell(features)),
    nn.RNN(nn.OptimizedLSTMCell(features)))`` (flax): a forward and a
    backward LSTM (Graves & Schmidhuber 2005) with zero initial states, outputs
    concatenated ``[forward, backward]`` on the last axis (units 0..H-1 and
    H..2H-1); layer ``l + 1`` reads layer ``l``'s ``[B, T, 2H]``. Cell
    equations (flax ``LSTMCell``; gates i, f, g, o)::

        i = sigmoid(x W_ii + h W_hi + b_hi)   f = sigmoid(x W_if + h W_hf + b_hf)
        g = tanh(x W_ig + h W_hg + b_hg)      o = sigmoid(x W_io + h W_ho + b_ho)
        c' = f c + i g;  h' = o tanh(c')

    Parameters: ``layer{l}/{forward_rnn,backward_rnn}/cell/{ii,if,ig,io}/kernel``
    [F_in, H] and ``.../{hi,hf,hg,ho}/{kernel [H, H], bias [H]}``.

    ``lengths`` [B] (ints in [0, T]; clipped) or ``mask`` [B, T] (1 = valid,
    a prefix of each row) give the valid frames: the backward direction starts
    at each sequence's last valid frame, and padded outputs are 0 (see the
    module docstring). ``init_range`` > 0 draws every kernel and bias from
    U[-init_range, init_range] (han17 Sec. 4.3: 0.1; CURRENNT's default) instead
    of flax's initialisers. Raises ``ValueError`` for ``x`` not 3-D, both
    ``lengths`` and ``mask`` given, or their shapes not ``[B]`` / ``[B, T]``,
    and for ``features`` or ``num_layers`` below 1.
    """

    features: int
    num_layers: int = 1
    init_range: float = 0.0

    @nn.compact
    def __call__(self, x, lengths=None, mask=None):
        _check("BLSTM", self.features, self.num_layers)
        lengths = _lengths(x, lengths, mask)
        for layer in range(self.num_layers):
            # parent=None: the cells and RNNs belong to the Bidirectional they
            # are passed to (param paths layer{l}/forward_rnn/cell/...), not to
            # this compact method (which would name them OptimizedLSTMCell_{k}).
            cell = lambda: nn.OptimizedLSTMCell(self.features, parent=None,
                                                **uniform_inits(self.init_range))
            x = nn.Bidirectional(nn.RNN(cell(), parent=None), nn.RNN(cell(), parent=None),
                                 name=f"layer{layer}")(x, seq_lengths=lengths)
            x = _zero_padding(x, lengths)
        return x


class GRU(nn.Module):
    """Stack of ``num_layers`` forward GRU layers: ``[B, T, F]`` -> ``[B, T, features]``.

    Each layer is ``nn.RNN(nn.GRUCell(features))`` (flax) with a zero initial
    state; layer ``l + 1`` reads layer ``l``'s output. Cell equations (Cho et
    al. 2014, in flax's / PyTorch's form with the reset gate applied after
    the recurrent matmul)::

        r = sigmoid(x W_ir + b_ir + h W_hr)   z = sigmoid(x W_iz + b_iz + h W_hz)
        n = tanh(x W_in + b_in + r (h W_hn + b_hn));  h' = (1 - z) n + z h

    Parameters: ``layer{l}/cell/{ir,iz,in}/{kernel [F_in, H], bias [H]}``,
    ``.../{hr,hz}/kernel`` [H, H], ``.../hn/{kernel [H, H], bias [H]}``.

    ``lengths`` / ``mask`` as in :class:`BLSTM`; they only zero the padded
    outputs (a forward recurrence never carries padding into a valid frame).
    Raises ``ValueError`` as :class:`BLSTM`.
    """

    features: int
    num_layers: int = 1

    @nn.compact
    def __call__(self, x, lengths=None, mask=None):
        _check("GRU", self.features, self.num_layers)
        lengths = _lengths(x, lengths, mask)
        for layer in range(self.num_layers):
            x = nn.RNN(nn.GRUCell(self.features, parent=None), name=f"layer{layer}")(x)
            x = _zero_padding(x, lengths)
        return x
