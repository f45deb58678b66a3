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
padding through the conv's receptive field. For bounded memory the conv
stack runs block by block with halos (:class:`ConvFrontEnd`), with exactly
the result of the whole-recording computation.

The LSTM is :class:`seru.models.layers.LSTM` (our own i, f, g, o cell,
kept for its parameter tree: see its docstring).

Time base. The front ends take ``frame_samples`` (default 640: 40 ms at
16 kHz), the samples of one frame, so the frame rate can come from the
corpus; the numbers above are those of the default.
"""

from __future__ import annotations

import math
from typing import Sequence

import jax
import jax.numpy as jnp
import flax.linen as nn
import numpy as np

from seru.models.layers import LSTM

__all__ = ["ConvFrontEnd", "LogMelFrontEnd", "Extractor", "LSTM", "COMPRESS", "FRONTENDS"]

#: Compression of the conv front end's output (see :class:`ConvFrontEnd`).
COMPRESS = ("none", "log")


def _max_pool(x, p):
    b, length, c = x.shape
    return jnp.max(x[:, : length // p * p].reshape(b, length // p, p, c), axis=2)


class ConvFrontEnd(nn.Module):
    """3 x (Conv1D, ReLU, max-pool, dropout) on raw audio -> ``[B, T, 320]`` frames.

    ``audio`` ``[B, T * frame_samples]`` at 16 kHz -> ``[B, T, frame_samples
    * filters[-1] / prod(pools)]`` (320 for the defaults: 640-sample, 40 ms
    frames). Raises ``ValueError`` if ``audio`` is not 2-D, its length is not
    a multiple of ``frame_samples``, the pools do not split a frame into a
    whole number of features, or ``compress`` is unknown.

    Memory: at 16 kHz the first conv's output is 50 floats per sample (1 GB
    for a 300 s recording), so the audio is processed in blocks of
    ``block_frames`` frames (``jax.lax.map``, sequential) with a halo of
    ``HALO`` samples of true neighbouring audio on each side. Inside a block,
    positions that lie outside the (zero-padded) recording are zeroed before
    each conv, which is what ``SAME`` padding of the whole recording sees, so
    the blocked result equals the unblocked one; peak memory is that of one
    block whatever the recording length. Blocks are used in evaluation mode
    only: in training (short crops) one whole-crop conv is differentiated,
    which on CPU is ~20x faster than the gradient through ``lax.map``.
    """

    filters: Sequence[int] = (50, 125, 125)
    kernels: Sequence[int] = (8, 6, 6)
    pools: Sequence[int] = (10, 5, 5)
    dropout: float = 0.5
    block_frames: int = 100
    compress: str = "none"
    compress_eps: float = 1e-2
    frame_samples: int = 640

    @nn.compact
    def __call__(self, audio, train: bool = False):
        fs = self.frame_samples
        if audio.ndim != 2:
            raise ValueError(f"audio must be [batch, samples], got shape {audio.shape}")
        num_samples = audio.shape[1]
        if num_samples % fs:
            raise ValueError(
                f"audio length {num_samples} is not a multiple of {fs} "
                f"samples ({fs}-sample frames at 16 kHz)")
        num_frames = num_samples // fs
        total_pool = 1
        for p in self.pools:
            total_pool *= p
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
        block = max(1, self.block_frames * fs // quantum) * quantum
        if train:
            # Training crops are short (12 s) and XLA CPU differentiates convs
            # inside a loop ~20x slower than one whole conv: no blocks.
            block = padded
        block = min(block, padded)
        num_blocks = -(-padded // block)
        # Halo: a multiple of the total pool (keeps the pooling grid) that
        # covers the receptive field of the conv stack on either side.
        reach, spacing = 0, 1
        for k, p in zip(self.kernels, self.pools):
            reach += (k // 2 + 1) * spacing
            spacing *= p
        halo = -(-(reach + total_pool) // total_pool) * total_pool
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

        def compress(x):  # elementwise, so blocked == unblocked still holds
            return jnp.log(x + eps) if self.compress == "log" else x

        use_dropout = train and self.dropout > 0
        drop_key = self.make_rng("dropout") if use_dropout else None
        rate = self.dropout

        def run_block(i):
            start = i * block
            x = jax.lax.dynamic_slice_in_dim(x_all, start, block + 2 * halo, axis=1)[..., None]
            offset = start - halo  # global sample index of x[:, 0]
            spacing = 1
            for j, ((w, b), p) in enumerate(zip(params, self.pools)):
                if j > 0:  # zero what lies outside the recording (SAME padding)
                    g = offset // spacing + jnp.arange(x.shape[1])
                    valid = (g >= 0) & (g < padded // spacing)
                    x = jnp.where(valid[None, :, None], x, 0.0)
                x = jax.lax.conv_general_dilated(
                    x, w, (1,), "SAME", dimension_numbers=("NWC", "WIO", "NWC")) + b
                x = _max_pool(jax.nn.relu(x), p)
                spacing *= p
                if use_dropout:
                    keep = jax.random.bernoulli(
                        jax.random.fold_in(jax.random.fold_in(drop_key, i), j), 1.0 - rate, x.shape)
                    x = jnp.where(keep, x / (1.0 - rate), 0.0)
            h = halo // total_pool
            return compress(x[:, h: x.shape[1] - h])

        if num_blocks == 1:
            x = run_block(0)
        else:
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
    Raises ``ValueError`` for an unknown ``frontend`` and as the front ends.
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

    @nn.compact
    def __call__(self, audio, train: bool = False):
        if self.frontend not in FRONTENDS:
            raise ValueError(f"frontend={self.frontend!r}: use one of {FRONTENDS}")
        if self.frontend == "logmel":
            x = LogMelFrontEnd(self.n_mels, frame_samples=self.frame_samples)(audio, train)
        else:
            x = ConvFrontEnd(self.filters, self.kernels, self.pools, self.dropout,
                             compress=self.compress, compress_eps=self.compress_eps,
                             frame_samples=self.frame_samples)(audio, train)
        for _ in range(self.num_lstm):
            x = LSTM(self.lstm_size)(x)
        return x
