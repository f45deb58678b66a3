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

import jax
import jax.numpy as jnp
import flax.linen as nn

__all__ = ["LSTM", "BLSTM", "GRU"]


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
    The input projection ``x @ W_i`` of every frame is one matmul outside the
    recurrence and ``jax.lax.scan`` carries only ``h @ W_h``; this is not
    faster than flax's fused cell (on CPU, B 8, T 300, D 64, H 240, value and
    gradient: 0.105 s here, 0.067 s with ``nn.OptimizedLSTMCell``). New
    models use :class:`BLSTM` / flax's cells.
    """

    features: int

    @nn.compact
    def __call__(self, x):
        h = self.features
        w_i = self.param("w_i", nn.initializers.lecun_normal(), (x.shape[-1], 4 * h))
        w_h = self.param("w_h", nn.initializers.orthogonal(), (h, 4 * h))
        b = self.param("b", nn.initializers.zeros, (4 * h,))
        xz = jnp.einsum("btd,dk->tbk", x, w_i) + b  # time-major [T, B, 4H]

        def step(carry, z_in):
            c, hh = carry
            z = z_in + hh @ w_h
            i, f, g, o = jnp.split(z, 4, axis=-1)
            c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
            hh = jax.nn.sigmoid(o) * jnp.tanh(c)
            return (c, hh), hh

        zeros = jnp.zeros((x.shape[0], h), x.dtype)
        _, hs = jax.lax.scan(step, (zeros, zeros), xz)
        return jnp.swapaxes(hs, 0, 1)


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
