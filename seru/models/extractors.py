"""Paralinguistic feature extractor of prabhu22 (Sec. 3.1, Fig. 1).

Raw 16 kHz audio -> 3 x (Conv1D + ReLU + max-pool + dropout) -> 2 stacked
LSTM layers, after Tzirakis et al. (prabhu22 ref. [8], hyper-parameters of
ref. [27]): filters (50, 125, 125), kernels (8, 6, 6), pools (10, 5, 5).

Frame reshaping. The three pools shrink time by 10 * 5 * 5 = 250 samples, so
a 40 ms frame of 640 samples becomes 640 / 250 = 2.56 conv positions of 125
channels = 320 values. We run the convolutions over the whole recording
(``[B, T*640]``, channels last, ``SAME`` padding), giving ``[B, 2.56 T, 125]``,
and cut the *time-major* flat stream into frames of 320: frame t holds the
125-channel vectors of positions [2.56 t, 2.56 (t + 1)), i.e. exactly the
conv outputs whose pooled window starts inside the frame's 640 samples.
(A channel-major ``view`` of a ``[B, 125, L]`` tensor would mix far-apart
times into one frame; we do not do that.) The exact length needs T * 640 to
be a multiple of 250 * 64 = 16000 samples (25 frames, 1 s): the audio is
zero-padded at the end to the next such multiple and the frames beyond T are
dropped. The LSTM runs forward in time, so end padding never changes frame
t < T's LSTM output; only the last conv position of frame T-1 can see
padding through the conv's receptive field. For bounded memory and speed
the conv stack runs block by block with halos (:class:`ConvFrontEnd`,
``block_frames``), with exactly the result of the whole-recording computation.

Cost (batch 5 x 300 frames = 960,000 samples, 2 AMD EPYC cores with AVX-512;
``benchmarks/trunk.py``, ``benchmarks/results/trunk.json``). FLOPs: conv 1
0.77 G (2 N k c_out, N samples), conv 2 7.2 G, conv 3 3.6 G, LSTM 1.77 G +
1.57 G. The first convolution (1 -> 50 channels on raw audio) has the fewest
FLOPs but the largest output, 50 floats per sample before its pool of 10
(183 MB here): written to memory and read back it ran at 12-15 GFLOP/s and
took most of the trunk. :func:`conv_relu_pool` computes conv + ReLU + pool
per pooled position in registers, so that intermediate never exists, and the
block loop keeps every other intermediate in cache (large fresh buffers
move at ~3 GB/s on this host: ``x * 2`` on 64 MB). Measured in one run, against the
code before (XLA's convolution, blocks of 100 frames in evaluation, one
whole-crop convolution in training), the cores shared with other jobs, so
compare ratios: evaluation, trunk 254 -> 106 ms (2.4x; conv 1 98 -> 15 ms),
0.58 of its FLOP floor at the 1024^3 matmul rate measured alternating with it
(0.71 with the LSTM recurrence at its [5, 256] x [256, 1024] step rate);
training step of the trunk (forward + backward, dropout) 968 -> 632 ms
(1.5x; conv 1 262 -> 102 ms, each LSTM ~2.6x, the dropout masks 148 -> 12
ms). In training, blocks as a batch axis (``jax.vmap`` over the blocks instead
of the loop; 336 vs 234 ms for the front end in one run) and the whole crop
as one block (648 vs 420 ms) were slower; see ``BLOCK_FRAMES``.

The LSTM is :class:`seru.models.layers.LSTM` (our own i, f, g, o cell,
kept for its parameter tree: see its docstring).

Time base. The front ends take ``frame_samples`` (default 640: 40 ms at
16 kHz), the samples of one frame, so the frame rate can come from the
corpus; the numbers above are those of the default.
"""

from __future__ import annotations

import functools
import math
import operator
from typing import Sequence

import jax
import jax.numpy as jnp
import flax.linen as nn
import numpy as np

from seru import sampling
from seru.models.layers import LSTM

__all__ = ["ConvFrontEnd", "LogMelFrontEnd", "Extractor", "LSTM", "COMPRESS", "FRONTENDS",
           "BLOCK_FRAMES", "bias_relu_pool", "conv_relu_pool", "conv_same"]

#: Default frames per block of :class:`ConvFrontEnd` (``model.conv_block_frames`` of prabhu22):
#: 2 s. Front end on 5 x 300 frames, ms for blocks of 25 / 50 / 75 / 100 / 150 / 300 frames
#: (``benchmarks/results/trunk.json``): evaluation 81 / 77 / 76 / 76 / 94 / 122, training
#: (forward + backward) 424 / 420 / 455 / 472 / 502 / 648. 50 is the fastest in training and
#: within run-to-run noise of the fastest in evaluation; larger blocks leave the cache,
#: smaller ones pay the loop and the halos (500 samples a side) more often.
BLOCK_FRAMES = 50

#: Compression of the conv front end's output (see :class:`ConvFrontEnd`).
COMPRESS = ("none", "log")


def _max_pool(x, p):
    b, length, c = x.shape
    return jnp.max(x[:, : length // p * p].reshape(b, length // p, p, c), axis=2)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def bias_relu_pool(y, b, pool):
    """``_max_pool(relu(y + b), pool)``: ``y`` [B, L, C], ``b`` [C] -> [B, L // pool, C].

    Equal to the composition, bit for bit (``+ b`` and ReLU are monotone in
    float32 too, so they commute with the max: ``relu(max(y) + b)``). Its own
    VJP: the gradient goes to the index of each window's maximum, kept from the
    forward pass as int8; JAX's rule for ``max`` compares every element with
    the maximum and divides by the count of ties (layer 2 of a training block,
    forward and backward: 18.2 against 15.8 ms, one run). Ties (exactly equal
    pre-activations in a window, as in digital silence) send the gradient to
    the first of them, where JAX splits it between them; where the ReLU is off
    both give 0.
    """
    return _bias_relu_pool_fwd(y, b, pool)[0]


def _bias_relu_pool_fwd(y, b, pool):
    bsz, length, c = y.shape
    windows = y[:, : length // pool * pool].reshape(bsz, length // pool, pool, c)
    best, arg = jnp.max(windows, axis=2), jnp.argmax(windows, axis=2).astype(jnp.int8)
    out = jax.nn.relu(best + b)
    return out, (out > 0, arg, length)


def _bias_relu_pool_bwd(pool, res, g):
    positive, arg, length = res
    gm = jnp.where(positive, g, 0.0)  # [B, M, C] through the ReLU
    q = jnp.arange(pool, dtype=arg.dtype)[None, None, :, None]
    dy = jnp.where(q == arg[:, :, None, :], gm[:, :, None, :], 0.0)
    dy = dy.reshape(gm.shape[0], -1, gm.shape[-1])
    dy = jnp.pad(dy, ((0, 0), (0, length - dy.shape[1]), (0, 0)))
    return dy, jnp.sum(gm, axis=(0, 1))


bias_relu_pool.defvjp(_bias_relu_pool_fwd, _bias_relu_pool_bwd)


# --- first layer: conv (1 input channel) + ReLU + max-pool, fused ------------------------
#
# y[n, c] = sum_i w[i, c] x[n - l + i] (XLA's SAME cross-correlation, l = (k - 1) // 2),
# out[m, c] = max_{q < p} relu(y[p m + q, c] + b[c]) = relu(max_q y[p m + q, c] + b[c])
# (ReLU and + b are monotone, so they commute with the max). Pooled position m
# needs the p + k - 1 samples x[p m - l], ..., x[p m + p + k - 2 - l]: the
# "planes" P[s, m] = x[p m - l + s], s < p + k - 1, hold them as p + k - 1 rows
# of contiguous positions, and every term of the sum is a plane times a scalar,
# vectorised along m. The k x p products per output stay in registers: the
# [L, C] conv output (50 floats per sample) is never written.


def _planes(x, kernel, pool):
    """``x`` [B, L] -> planes [B, pool + kernel - 1, L // pool]:
    ``P[b, s, m] = x[b, pool m - l + s]``, zero outside ``[0, L)``
    (``l = (kernel - 1) // 2``: XLA's SAME padding)."""
    bsz, length = x.shape
    m = length // pool
    left = (kernel - 1) // 2
    span = pool + kernel - 1
    need = pool * (m - 1) + span  # padded samples the last window reaches
    xp = jnp.pad(x, ((0, 0), (left, max(0, need - length - left))))
    return jnp.stack([xp[:, s: s + pool * (m - 1) + 1: pool] for s in range(span)], axis=1)


def _pooled_max(planes, w, pool):
    """``max_q sum_i w[i] P[q + i]``: [B, C, M], one fused loop (evaluation)."""
    best = None
    for q in range(pool):
        y = planes[:, None, q, :] * w[0][None, :, None]
        for i in range(1, w.shape[0]):
            y = y + planes[:, None, q + i, :] * w[i][None, :, None]
        best = y if best is None else jnp.maximum(best, y)
    return best


@functools.partial(jax.custom_vjp, nondiff_argnums=(3,))
def conv_relu_pool(x, w, b, pool):
    """``relu(max_pool(conv_SAME(x, w) + b, pool))`` for one input channel, fused.

    ``x`` [B, L] (raw audio), ``w`` [k, C], ``b`` [C] -> [B, L // pool, C]
    (time-major; a remainder of ``L % pool`` samples is dropped, as by
    :func:`_max_pool`). Equal to the unfused ``conv_general_dilated(...,
    'SAME')`` + ReLU + max-pool up to float32 rounding. Gradient: custom VJP
    (below) from the index of each window's maximum, found in the forward
    pass. Ties (exactly equal conv outputs in one window, as in digital
    silence) send the gradient to the first of them where JAX's ``max``
    splits it: the same kernel and bias gradients when the tied outputs see
    the same samples (silence), and an audio gradient on one position
    instead of spread over the tied ones.
    """
    best = _pooled_max(_planes(x, w.shape[0], pool), w, pool)
    return jnp.swapaxes(jax.nn.relu(best + b[None, :, None]), 1, 2)


def _crp_fwd(x, w, b, pool):
    planes = _planes(x, w.shape[0], pool)
    k = w.shape[0]
    win = jnp.stack([planes[:, q:q + k] for q in range(pool)], axis=1)  # [B, pool, k, M]
    y = win[:, None, :, 0, :] * w[0][None, :, None, None]
    for i in range(1, k):
        y = y + win[:, None, :, i, :] * w[i][None, :, None, None]
    # One reduction gives both: its outputs are written once (a chain of
    # selects would be recomputed by XLA inside every consumer).
    best, arg = jnp.max(y, axis=2), jnp.argmax(y, axis=2).astype(jnp.int8)
    out = jax.nn.relu(best + b[None, :, None])
    return jnp.swapaxes(out, 1, 2), (x, w, out > 0, arg)


def _crp_bwd(pool, res, g):
    x, w, positive, arg = res
    k = w.shape[0]
    gm = jnp.where(positive, jnp.swapaxes(g, 1, 2), 0.0)  # [B, C, M] through the ReLU
    planes = _planes(x, k, pool)
    bsz, _, m = planes.shape
    # Per pool offset q, the windows whose maximum is at q: there d out / d w[i, c] =
    # P[q + i], so the kernel gradient is one [k, B M] x [B M, C] product per q (instead
    # of a chain of selects picking each window's plane: the front end's forward and
    # backward on 5 x 300 frames took 212 against 219 ms, one run).
    dw = jnp.zeros(w.shape, w.dtype)
    dplanes = jnp.zeros(planes.shape, planes.dtype)
    for q in range(pool):
        gq = jnp.where(arg == q, gm, 0.0)
        gq_rows = jnp.swapaxes(gq, 1, 2).reshape(bsz * m, -1)  # [B M, C]
        win_rows = jnp.swapaxes(planes[:, q:q + k], 1, 2).reshape(bsz * m, k)  # [B M, k]
        dw = dw + win_rows.T @ gq_rows
        dplanes = dplanes.at[:, q:q + k].add(jnp.einsum("bcm,ic->bim", gq, w))
    dx = jax.linear_transpose(lambda v: _planes(v, k, pool), x)(dplanes)[0]
    return dx, dw, jnp.sum(gm, axis=(0, 2))


conv_relu_pool.defvjp(_crp_fwd, _crp_bwd)


# --- later layers: XLA's convolution, gradient by matmuls ---------------------------------


def _conv(x, w, padding):
    return jax.lax.conv_general_dilated(
        x, w, (1,), [padding], dimension_numbers=("NWC", "WIO", "NWC"))


@jax.custom_vjp
def conv_same(x, w):
    """``jax.lax.conv_general_dilated(x, w, (1,), 'SAME')`` for ``x`` [B, L, C], ``w`` [k, C, O].

    Same forward; the custom VJP computes the kernel gradient by one matmul
    per kernel tap, the shifted input [C, B L] with the output gradient
    [B L, O] (one matmul of all taps' patches [k C, B L] writes them first:
    the front end's forward and backward took 222 against 210 ms). JAX's own
    rule makes it a convolution with a window as long as the input, which XLA
    on CPU runs ~50x slower inside a loop (the block loop of
    :class:`ConvFrontEnd`) than outside.
    """
    k = w.shape[0]
    return _conv(x, w, ((k - 1) // 2, k - 1 - (k - 1) // 2))


def _cs_fwd(x, w):
    return conv_same(x, w), (x, w)


def _cs_bwd(res, g):
    x, w = res
    k, c, o = w.shape
    bsz, length, _ = x.shape
    left = (k - 1) // 2
    dx = _conv(g, jnp.swapaxes(w[::-1], 1, 2), (k - 1 - left, left))
    xp = jnp.pad(x, ((0, 0), (left, k - 1 - left), (0, 0)))
    g_rows = g.reshape(bsz * length, o)
    dw = jnp.stack([xp[:, i:i + length].reshape(bsz * length, c).T @ g_rows for i in range(k)])
    return dx, dw


conv_same.defvjp(_cs_fwd, _cs_bwd)


class ConvFrontEnd(nn.Module):
    """3 x (Conv1D, ReLU, max-pool, dropout) on raw audio -> ``[B, T, 320]`` frames.

    prabhu22 Sec. 3.1 (Fig. 1), after Tzirakis et al.: ``audio`` ``[B, T *
    frame_samples]`` at 16 kHz -> ``[B, T, frame_samples * filters[-1] /
    prod(pools)]`` (320 for the defaults: 640-sample, 40 ms frames); layer j is
    ``Conv1D(filters[j], kernels[j], 'SAME')`` + ReLU + max-pool ``pools[j]``
    (non-overlapping) + dropout ``dropout`` (training only). Parameters
    ``conv{j}_kernel`` ``[k_j, c_in, c_out]`` (LeCun normal), ``conv{j}_bias``
    (zeros). Raises ``ValueError`` if ``audio`` is not 2-D, its length is not
    a multiple of ``frame_samples``, the pools do not split a frame into a
    whole number of features, ``compress`` is unknown, or ``block_frames`` is
    not an integer >= 1.

    How it runs (the same numbers as one SAME-padded convolution stack over
    the whole zero-padded recording, up to float32 rounding):

    * Layer 1 (1 input channel) is :func:`conv_relu_pool`: conv + ReLU + pool
      fused per pooled position, so its ``[B, samples, 50]`` output (50 floats
      per sample) is never written. Layers 2-3 are XLA's convolution
      (:func:`conv_same`) + :func:`bias_relu_pool` (bias, ReLU, max-pool).
    * Blocks: the padded recording is cut into blocks of ``block_frames``
      frames (rounded down to a whole number of 1 s quanta of 25 frames, at
      least one; for other frame sizes / pools the quantum holds whole frames
      and whole pooled positions), each with a halo of true neighbouring audio
      per side (a whole number of total pools covering the stack's receptive
      field: 500 samples for the defaults); before layers 2-3 the positions
      outside the recording are zeroed (what SAME padding of the whole
      recording sees), and the halo is cut off the output. Blocks run one
      after the other (``jax.lax.map``), in evaluation and in training alike,
      so the largest intermediate is that of one block: layer 2's pre-pool
      output, 12.5 floats per sample (8 MB for 5 sequences x 50 frames),
      whatever the recording length (front end on a 300 s recording: peak RSS
      41 MB above the process's, 73 MB with the former code). Small blocks
      keep it in cache; the loop costs a little per block (see
      ``BLOCK_FRAMES``).
    * Training differentiates the same block loop, keeping each block's
      residuals (a few floats per sample: the block's input to layers 2-3,
      the pools' argmax as int8, ReLU masks: 57 MB more temporary memory
      than recomputing them for 5 x 300 frames); both convolution kinds and
      the pools have custom VJPs (XLA on CPU runs JAX's kernel-gradient
      convolution ~50x slower inside a loop). Dropout masks are drawn for the
      whole crop as one block (:func:`seru.sampling.bernoulli`, masks from
      single random bits, with key ``fold_in(fold_in(key, 0), layer)`` over
      the crop with its halos): each block cuts its window, so a position two
      blocks share is dropped in both and a fixed key gives the same masks
      for any ``block_frames``.
    """

    filters: Sequence[int] = (50, 125, 125)
    kernels: Sequence[int] = (8, 6, 6)
    pools: Sequence[int] = (10, 5, 5)
    dropout: float = 0.5
    block_frames: int = BLOCK_FRAMES
    compress: str = "none"
    compress_eps: float = 1e-2
    frame_samples: int = 640

    @nn.compact
    def __call__(self, audio, train: bool = False):
        fs = self.frame_samples
        if audio.ndim != 2:
            raise ValueError(f"audio must be [batch, samples], got shape {audio.shape}")
        try:
            block_frames = operator.index(self.block_frames)
        except TypeError:
            block_frames = 0
        if isinstance(self.block_frames, bool) or block_frames < 1:
            raise ValueError(f"block_frames={self.block_frames!r}: must be an integer >= 1 "
                             f"(frames per block of the conv front end)")
        num_samples = audio.shape[1]
        if num_samples % fs:
            raise ValueError(
                f"audio length {num_samples} is not a multiple of {fs} "
                f"samples ({fs}-sample frames at 16 kHz)")
        num_frames = num_samples // fs
        total_pool = math.prod(self.pools)
        if (fs * self.filters[-1]) % total_pool:
            raise ValueError(
                f"pools {tuple(self.pools)} (product {total_pool}) do not split a "
                f"{fs}-sample frame into a whole number of features")
        # The audio is zero-padded to a multiple of `quantum`, which must hold
        # whole frames and whole pooled positions: lcm(fs, pool) does (16000
        # samples = 25 frames = 1 s for the default 640-sample frames and
        # pool 250). Other pool products keep fs * pool, the quantum they have
        # always had, so their end padding (and last frame) is unchanged.
        quantum = math.lcm(fs, total_pool) if total_pool == 250 else fs * total_pool
        padded = -(-num_samples // quantum) * quantum  # the recording SAME padding sees
        block = min(max(1, block_frames * fs // quantum) * quantum, padded)
        num_blocks = -(-padded // block)
        # Halo: a multiple of the total pool (keeps the pooling grid) that
        # covers the receptive field of the conv stack on either side.
        reach, spacing = 0, 1
        for k, p in zip(self.kernels, self.pools):
            reach += (k // 2 + 1) * spacing
            spacing *= p
        halo = -(-(reach + total_pool) // total_pool) * total_pool
        span = block + 2 * halo
        x_all = jnp.pad(audio, ((0, 0), (halo, num_blocks * block - num_samples + halo)))

        params = []
        c_in = 1
        for j, (f, k) in enumerate(zip(self.filters, self.kernels)):
            w = self.param(f"conv{j}_kernel", nn.initializers.lecun_normal(), (k, c_in, f))
            b = self.param(f"conv{j}_bias", nn.initializers.zeros, (f,))
            params.append((w, b))
            c_in = f
        if self.compress not in COMPRESS:
            raise ValueError(f"compress={self.compress!r}: use one of {COMPRESS}")
        eps = self.compress_eps
        rate = self.dropout

        # Dropout masks of the whole (padded) recording with halos, the masks
        # of one block spanning it (key fold_in(fold_in(key, 0), layer)); each
        # block cuts its window, so a position two blocks share is dropped in both.
        masks = None
        if train and rate > 0:
            drop_key = jax.random.fold_in(self.make_rng("dropout"), 0)
            masks, spacing = [], 1
            for j, (f, p) in enumerate(zip(self.filters, self.pools)):
                spacing *= p
                keep = sampling.bernoulli(jax.random.fold_in(drop_key, j), 1.0 - rate,
                                          (audio.shape[0], (padded + 2 * halo) // spacing, f))
                beyond = (num_blocks * block - padded) // spacing  # past the recording
                masks.append(jnp.pad(keep, ((0, 0), (0, beyond), (0, 0))) if beyond else keep)

        def run_block(i):
            start = i * block
            x = jax.lax.dynamic_slice_in_dim(x_all, start, span, axis=1)
            offset = start - halo  # global sample index of x[:, 0]
            spacing = 1
            for j, ((w, b), p) in enumerate(zip(params, self.pools)):
                if j == 0:
                    x = conv_relu_pool(x, w[:, 0, :], b, p)
                else:  # zero what lies outside the recording (SAME padding)
                    g = offset // spacing + jnp.arange(x.shape[1])
                    valid = (g >= 0) & (g < padded // spacing)
                    x = jnp.where(valid[None, :, None], x, 0.0)
                    x = bias_relu_pool(conv_same(x, w), b, p)
                spacing *= p
                if masks is not None:
                    keep = jax.lax.dynamic_slice_in_dim(masks[j], start // spacing,
                                                        span // spacing, axis=1)
                    x = jnp.where(keep, x / (1.0 - rate), 0.0)
            h = halo // total_pool
            x = x[:, h: x.shape[1] - h]
            return jnp.log(x + eps) if self.compress == "log" else x

        if num_blocks == 1:
            x = run_block(0)
        else:
            # Training keeps each block's residuals (the custom VJPs keep little: a
            # block's input, the pools' argmax as int8 and ReLU masks); recomputing the
            # block's forward in the backward pass instead (jax.checkpoint) made the
            # training step 5-7 % slower (benchmarks/mc_eval.py's step, one run).
            x = jax.lax.map(run_block, jnp.arange(num_blocks))  # [nb, B, L, C]
            x = jnp.swapaxes(x, 0, 1).reshape(audio.shape[0], -1, x.shape[-1])
        bsz, length, c = x.shape
        per_frame = c * fs // total_pool
        x = x.reshape(bsz, length * c // per_frame, per_frame)
        return x[:, :num_frames]


class LogMelFrontEnd(nn.Module):
    """Log-mel energies, one vector per frame: ``[B, T * frame_samples]`` -> ``[B, T, n_mels]``.

    Each frame's ``frame_samples`` samples (default 640: 40 ms at 16 kHz;
    non-overlapping) are Hann-windowed, their power spectrum (``rfft``; 321
    bins of 25 Hz for the default) is pooled by ``n_mels`` Slaney mel
    filters (``librosa.filters.mel``, 0-8 kHz) and compressed:
    ``(log(mel + eps) - shift) / scale``. The fixed ``shift`` / ``scale``
    (-5, 4) put recording-standardised speech (``data.audio_norm =
    'recording'``) roughly in [-1, 3]; the first LSTM layer's input weights
    absorb any other level. No parameters; dropout is not applied (the conv
    front end's dropout has no counterpart here).

    Not prabhu22's front end (Sec. 3.1 learns its filters from raw audio with
    :class:`ConvFrontEnd`): a fixed, standard SER input (mitra25's mel
    filterbank energies; log-mel in most SER systems) that the rest of the
    model sees the same way. Why it is offered for prabhu22: on the synthetic
    corpus the conv front end, trained on the raters' std alone, does not
    learn it at all in the CPU budget (train r 0.01 after 600 steps), while
    the same LSTM on these log-mel energies reaches train r 0.64 / test r 0.38
    (``benchmarks/spread_trunk.py``; ``model.frontend`` in the prabhu22
    configs).
    """

    n_mels: int = 40
    eps: float = 1e-6
    shift: float = -5.0
    scale: float = 4.0
    frame_samples: int = 640

    @nn.compact
    def __call__(self, audio, train: bool = False):
        import librosa  # slow to import: only when this front end is used

        if audio.ndim != 2:
            raise ValueError(f"audio must be [batch, samples], got shape {audio.shape}")
        fs = self.frame_samples
        if audio.shape[1] % fs:
            raise ValueError(
                f"audio length {audio.shape[1]} is not a multiple of {fs} "
                f"samples ({fs}-sample frames at 16 kHz)")
        fb = librosa.filters.mel(sr=16000, n_fft=fs, n_mels=self.n_mels)
        window = np.hanning(fs + 1)[:-1]  # periodic Hann
        frames = audio.reshape(audio.shape[0], -1, fs) * jnp.asarray(window, audio.dtype)
        power = jnp.square(jnp.abs(jnp.fft.rfft(frames, axis=-1)))
        mel = power @ jnp.asarray(fb.T, audio.dtype)
        return (jnp.log(mel + self.eps) - self.shift) / self.scale


#: Front ends of :class:`Extractor`.
FRONTENDS = ("conv", "logmel")


class Extractor(nn.Module):
    """The deterministic trunk of prabhu22 Fig. 1: conv front end + 2 x LSTM(256).

    ``audio`` ``[B, T * frame_samples]`` at 16 kHz (default 640 samples =
    40 ms frames) -> features ``[B, T, lstm_size]``. Dropout (rate
    ``dropout``, rng stream ``"dropout"``) acts after every pooling layer when
    ``train`` is true. Parameters: ``ConvFrontEnd_0`` (conv front end only),
    ``LSTM_0`` ... ``LSTM_{num_lstm-1}`` (:class:`seru.models.layers.LSTM`).
    ``block_frames`` (frames per block of the conv front end, default
    ``BLOCK_FRAMES``; prabhu22's ``model.conv_block_frames``) changes speed
    and peak memory only. Raises ``ValueError`` for an unknown ``frontend``
    and as the front ends.
    """

    lstm_size: int = 256
    num_lstm: int = 2
    dropout: float = 0.5
    filters: Sequence[int] = (50, 125, 125)
    kernels: Sequence[int] = (8, 6, 6)
    pools: Sequence[int] = (10, 5, 5)
    compress: str = "none"
    compress_eps: float = 1e-2
    frontend: str = "conv"      # 'conv' (prabhu22) | 'logmel' (LogMelFrontEnd)
    n_mels: int = 40
    frame_samples: int = 640    # samples per frame at 16 kHz (40 ms)
    block_frames: int = BLOCK_FRAMES  # frames per block of the conv front end

    @nn.compact
    def __call__(self, audio, train: bool = False):
        if self.frontend not in FRONTENDS:
            raise ValueError(f"frontend={self.frontend!r}: use one of {FRONTENDS}")
        if self.frontend == "logmel":
            x = LogMelFrontEnd(self.n_mels, frame_samples=self.frame_samples)(audio, train)
        else:
            x = ConvFrontEnd(self.filters, self.kernels, self.pools, self.dropout,
                             block_frames=self.block_frames, compress=self.compress,
                             compress_eps=self.compress_eps,
                             frame_samples=self.frame_samples)(audio, train)
        for _ in range(self.num_lstm):
            x = LSTM(self.lstm_size)(x)
        return x
