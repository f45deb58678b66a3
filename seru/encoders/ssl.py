"""seru's own small self-supervised speech encoder: runs offline, no download, no PyTorch.

A HuBERT-style encoder (Hsu et al. 2021, "HuBERT: Self-supervised speech
representation learning by masked prediction of hidden units", first
iteration) pre-trained on an unlabeled pool of 16 kHz utterances, so that the
encoder-layer input of mitra25 (saliency-selected layers, CCS Eqs. (1)-(3))
runs on the embedded corpus without a foundation model.

Recipe (:class:`SSLConfig` holds every number):

* **Front end** (fixed, jitted JAX): 40 log mel energies per 10 ms frame,
  exactly the first 40 columns of :func:`seru.data.features.mfbf0.mfbf0`
  (Hann 25 ms window in a 512-point FFT, hop 160 samples, Slaney mel filters
  20-8000 Hz, ``ln(max(power, 1e-10))``; its settings are read from
  :data:`~seru.data.features.mfbf0.MFBF0_DEFAULTS`), two consecutive frames
  stacked into one 80-d frame every **20 ms** (HuBERT's frame rate),
  standardised with the pool's per-dimension mean and std.
  ``T = (1 + samples // 160) // 2`` frames (:func:`num_frames`).
* **Model**: a linear input projection to ``dim`` + sinusoidal position
  encoding (layer 0), ``num_layers`` pre-LN transformer blocks
  (``x + MHA(LN(x))``, ``x + MLP(LN(x))``, GELU, no dropout; layers 1..L), a
  final LayerNorm and a linear head to ``num_clusters`` logits (pre-training only).
* **Targets**: k-means cluster ids of MFCC frames (HuBERT's first iteration):
  13 MFCCs (orthonormal DCT-II of the 10 ms log mel) + deltas + delta-deltas
  (``librosa.feature.delta``, width 9) = 39-d, taken at the first 10 ms frame
  of each 20 ms frame (HuBERT subsamples its 100 Hz MFCC labels the same way),
  standardised on the pool, clustered with ``scipy.cluster.vq.kmeans2``
  (k-means++ initialisation, ``kmeans_iter`` iterations, a numpy Generator
  from the seed). scipy, not sklearn: scipy is a core dependency of seru.
* **Masking**: every valid frame starts a masked span with probability
  ``mask_prob`` = 0.08, spans of ``mask_span`` = 10 frames (HuBERT's p and l;
  starts are drawn independently per frame rather than as a fixed number of
  spans, so about ``1 - (1 - p)^l`` = 57 % of the frames are masked). Masked
  frames of the projected input are replaced by a learned mask embedding.
* **Loss**: softmax cross-entropy of the head's logits against the cluster
  ids on the masked valid frames only (HuBERT's alpha = 1; a linear head in
  place of HuBERT's cosine similarity to code embeddings).
* **Optimisation**: AdamW (``weight_decay``), linear warm-up then cosine
  decay to 5 % of ``learning_rate``, global-norm clipping; ``steps`` steps of
  ``batch_size`` random crops of at most ``crop_frames`` frames (shorter
  utterances are padded and masked). Utterance and crop choice come from a
  numpy Generator of the seed, parameters and masks from ``PRNGKey(seed)``:
  the same pool, config and seed give the same parameters.

Cost (default config: 4 layers of 192, 4 heads, MLP 768, k = 100, 400
steps of 8 x 5 s crops, about 18 passes over the pool; 1.81 M parameters):
on ``seru_synth_utterances/quickstart``'s 150 unlabeled utterances (14.6 min,
43,698 frames) pre-training took 159 s on 2 CPU cores shared with another
job (9 s of it front end, MFCCs and k-means); the masked cross-entropy fell
from 4.6 nats (ln 100) to 3.77. The cached checkpoint (7.3 MB) loads in
0.25 s.

Parameters (:func:`pretrain`'s return value, a dict pytree of float32
arrays): ``model`` (flax parameters), ``norm`` (``mean``, ``std`` [80] of the
stacked log mel), ``kmeans`` (``centroids`` [K, 39], ``mfcc_mean``, ``mfcc_std``
[39]). Only ``model`` and ``norm`` enter :func:`layer_outputs`.

Checkpoint: one ``.npz`` (flattened params under ``param/<path>``, the config
as JSON, the version, the training log) in
``<data_dir>/seru_encoders/<name>-<key>/checkpoint.npz``, written atomically
with :func:`seru.data.cache.write_atomic` and read back with
:func:`seru.data.cache.read` (a missing, truncated or corrupt file, one of
another key, or one whose arrays do not have the config's structure is
never trusted: the encoder is trained again). A plain ``.npz`` rather than
Orbax: one file is replaced atomically by ``os.replace`` (an Orbax
checkpoint is a folder of files with its own commit protocol), the house
cache already reads and validates ``.npz`` entries, the model is small (1.8
M parameters, 7.3 MB) and the file is readable with numpy alone.

Integration (not done here): this module is self-contained. An input type
(``seru.data.inputs.register``) gets an encoder with :func:`load_or_pretrain`
(the :class:`~seru.encoders.base.Encoder` interface) and caches its layers with
:mod:`seru.encoders.layer_cache`.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import logging
import math
import time
from pathlib import Path
from typing import Any, Mapping, Sequence

import jax
import numpy as np

from seru.data import cache
from seru.data.audio import mono_16k
from seru.data.features.config import SAMPLE_RATE, SkipUtterance
from seru.data.features.mfbf0 import MFBF0_DEFAULTS, audio_fingerprint

log = logging.getLogger(__name__)

__all__ = ["SSL_VERSION", "SSLConfig", "SSLEncoder", "num_frames", "log_mel", "pretrain",
           "layer_outputs", "load_or_pretrain", "corpus_audio", "checkpoint_dir",
           "save_checkpoint", "load_checkpoint"]

#: Part of every checkpoint key: bump it when a code change changes the trained encoder.
SSL_VERSION = 1

#: 10 ms frames of the front end (MFBF0's settings, 16 kHz samples).
_FE = {k: MFBF0_DEFAULTS[k] for k in ("n_fft", "win_length", "hop_length", "mel_fmin",
                                      "mel_fmax", "log_floor")}
_N_MELS = 40
#: Audio is padded to a multiple of this many samples before the jitted forward pass, so
#: utterances of similar length share one compilation (padding never changes a result).
_BUCKET = SAMPLE_RATE


@dataclasses.dataclass(frozen=True)
class SSLConfig:
    """Every setting of the offline encoder (module docstring: the recipe).

    Attributes:
      name: the encoder's name in paths and cache keys (``[A-Za-z0-9._-]``).
      num_layers, dim, num_heads, mlp_dim: transformer blocks L, width H,
        attention heads (``dim % num_heads == 0``), MLP hidden width.
      stack: 10 ms log-mel frames per encoder frame (2: 20 ms frames).
      num_clusters: k of the k-means targets (HuBERT iteration 1: 100).
      num_mfcc: MFCCs before deltas (13 -> 39-d k-means features).
      kmeans_iter: iterations of ``scipy.cluster.vq.kmeans2``.
      mask_prob, mask_span: HuBERT's p (span start probability per frame) and l.
      steps, batch_size, crop_frames: optimisation steps, crops per step,
        frames per crop (250 = 5 s).
      learning_rate, warmup_steps, weight_decay, clip_norm: AdamW settings.
    """

    name: str = "seru_ssl"
    num_layers: int = 4
    dim: int = 192
    num_heads: int = 4
    mlp_dim: int = 768
    stack: int = 2
    num_clusters: int = 100
    num_mfcc: int = 13
    kmeans_iter: int = 20
    mask_prob: float = 0.08
    mask_span: int = 10
    steps: int = 400
    batch_size: int = 8
    crop_frames: int = 250
    learning_rate: float = 1e-3
    warmup_steps: int = 40
    weight_decay: float = 0.01
    clip_norm: float = 1.0

    def __post_init__(self):
        problems = []
        if not self.name or not all(c.isalnum() or c in "._-" for c in self.name):
            problems.append(f"name must be non-empty [A-Za-z0-9._-], got {self.name!r}")
        for f in ("num_layers", "dim", "num_heads", "mlp_dim", "stack", "num_clusters",
                  "num_mfcc", "kmeans_iter", "mask_span", "steps", "batch_size",
                  "crop_frames"):
            if int(getattr(self, f)) < 1:
                problems.append(f"{f} must be >= 1, got {getattr(self, f)}")
        if self.num_heads >= 1 and self.dim % self.num_heads:
            problems.append(f"dim={self.dim} is not a multiple of num_heads={self.num_heads}")
        if not 0 < self.mask_prob < 1:
            problems.append(f"mask_prob must be in (0, 1), got {self.mask_prob}")
        if self.num_mfcc > _N_MELS:
            problems.append(f"num_mfcc must be <= {_N_MELS}, got {self.num_mfcc}")
        if not self.learning_rate > 0 or self.warmup_steps < 0 or self.weight_decay < 0 \
                or not self.clip_norm > 0:
            problems.append("need learning_rate > 0, warmup_steps >= 0, weight_decay >= 0, "
                            "clip_norm > 0")
        if problems:
            raise ValueError("SSLConfig: " + "; ".join(problems))

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "SSLConfig":
        """The config of ``d`` (e.g. a checkpoint's); ``ValueError`` for unknown keys or
        bad values."""
        d = dict(d.to_dict() if hasattr(d, "to_dict") else d)
        unknown = set(d) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"SSLConfig: unknown keys {sorted(unknown)}")
        return cls(**d)

    @property
    def input_dim(self) -> int:
        return _N_MELS * self.stack


def num_frames(num_samples: int, config: SSLConfig | None = None) -> int:
    """Encoder frames of an utterance of ``num_samples`` samples at 16 kHz:
    ``(1 + num_samples // 160) // stack`` (250 for 5 s with the default 20 ms frames)."""
    stack = (config or SSLConfig()).stack
    return (1 + int(num_samples) // _FE["hop_length"]) // stack


# ----------------------------------------------------------------------------
# Front end: log mel in JAX (equal to MFBF0's first 40 columns)
# ----------------------------------------------------------------------------


@functools.lru_cache(maxsize=None)
def _front_end_constants():
    import librosa

    window = librosa.filters.get_window("hann", _FE["win_length"], fftbins=True)
    window = librosa.util.pad_center(window, size=_FE["n_fft"]).astype(np.float32)
    mel = librosa.filters.mel(sr=SAMPLE_RATE, n_fft=_FE["n_fft"], n_mels=_N_MELS,
                              fmin=_FE["mel_fmin"], fmax=_FE["mel_fmax"]).astype(np.float32)
    return window, mel.T  # [n_fft], [n_fft // 2 + 1, n_mels]


def _log_mel_jax(audio, lengths):
    """[B, N] audio (samples past ``lengths`` zeroed) -> [B, 1 + N // hop, 40] log mel."""
    import jax.numpy as jnp

    window, mel = _front_end_constants()
    n_fft, hop = _FE["n_fft"], _FE["hop_length"]
    n = audio.shape[1]
    audio = jnp.where(jnp.arange(n)[None] < lengths[:, None], audio, 0.0)
    padded = jnp.pad(audio, ((0, 0), (n_fft // 2, n_fft // 2)))
    t10 = 1 + n // hop
    idx = jnp.arange(t10)[:, None] * hop + jnp.arange(n_fft)[None]
    frames = padded[:, idx] * window                          # [B, T10, n_fft]
    spec = jnp.fft.rfft(frames, axis=-1)
    power = jnp.real(spec) ** 2 + jnp.imag(spec) ** 2
    return jnp.log(jnp.maximum(power @ mel, _FE["log_floor"]))


def log_mel(audio: np.ndarray, sr: int = SAMPLE_RATE) -> np.ndarray:
    """The front end's 10 ms log mel energies of one utterance (JAX, jitted).

    Args:
      audio: mono waveform [samples], float in [-1, 1]; resampled to 16 kHz
        (:func:`seru.data.audio.resample`) when ``sr`` differs.
      sr: its sample rate in Hz.

    Returns:
      float32 ``[1 + samples // 160, 40]`` natural-log mel power, at least
      ``ln 1e-10``; equal to ``seru.data.features.mfbf0.mfbf0(audio, sr)[:, :40]``
      up to float32 FFT rounding (about 1e-4 nats near a frame's peak, up to
      about 1e-2 nats in bands 40 dB and more below it).
    """
    y = _prepare(audio, sr, min_samples=0)
    return np.asarray(_jit_log_mel(y[None], np.asarray([len(y)], np.int32))[0])


_jit_log_mel = jax.jit(_log_mel_jax)


def _prepare(audio, sr: int, min_samples: int) -> np.ndarray:
    """:func:`seru.data.audio.mono_16k` of ``audio``; ``too_short`` below ``min_samples``."""
    y = mono_16k(audio, sr)
    if len(y) < min_samples:
        raise SkipUtterance("too_short", f"{len(y)} samples at 16 kHz < {min_samples} "
                                         f"(one encoder frame)")
    return y


def _min_samples(config: SSLConfig) -> int:
    return (config.stack - 1) * _FE["hop_length"]


# ----------------------------------------------------------------------------
# Model
# ----------------------------------------------------------------------------


def _sinusoid(t: int, dim: int):
    """[t, dim] sinusoidal position encoding (Vaswani et al. 2017): sin on the first
    half of the channels, cos on the second."""
    import jax.numpy as jnp

    half = dim // 2
    freq = jnp.exp(-math.log(10000.0) * jnp.arange(half, dtype=jnp.float32) / max(half, 1))
    ang = jnp.arange(t, dtype=jnp.float32)[:, None] * freq[None]
    pe = jnp.concatenate([jnp.sin(ang), jnp.cos(ang)], axis=1)
    return jnp.pad(pe, ((0, 0), (0, dim - 2 * half)))


def _model(config: SSLConfig):
    import flax.linen as nn
    import jax.numpy as jnp

    class Block(nn.Module):
        """Pre-LN transformer block; ``valid`` [B, T] masks the keys (and queries)."""

        @nn.compact
        def __call__(self, x, valid):
            h = nn.LayerNorm(name="ln_attn")(x)
            h = nn.MultiHeadDotProductAttention(
                num_heads=config.num_heads, qkv_features=config.dim, out_features=config.dim,
                deterministic=True, name="attn")(h, mask=nn.make_attention_mask(valid, valid))
            x = x + h
            h = nn.LayerNorm(name="ln_mlp")(x)
            h = nn.Dense(config.mlp_dim, name="mlp_in")(h)
            h = nn.Dense(config.dim, name="mlp_out")(nn.gelu(h))
            return x + h

    class SSLModel(nn.Module):
        """``(feats [B, T, F], valid [B, T], masked [B, T] | None) -> ([L+1] x [B, T, H],
        logits [B, T, K])``."""

        @nn.compact
        def __call__(self, feats, valid, masked=None):
            x = nn.Dense(config.dim, name="input_proj")(feats)
            mask_emb = self.param("mask_emb", nn.initializers.normal(0.02), (config.dim,))
            if masked is not None:
                x = jnp.where(masked[..., None], mask_emb, x)
            x = x + _sinusoid(x.shape[1], config.dim)
            hidden = [x]
            for i in range(config.num_layers):
                x = Block(name=f"block_{i}")(x, valid)
                hidden.append(x)
            logits = nn.Dense(config.num_clusters, name="head")(nn.LayerNorm(name="ln_out")(x))
            return hidden, logits

    return SSLModel()


def _features(params, config: SSLConfig, audio, lengths):
    """Standardised stacked log mel [B, T, 80] and validity [B, T] (jittable)."""
    import jax.numpy as jnp

    lm = _log_mel_jax(audio, lengths)
    t = lm.shape[1] // config.stack
    x = lm[:, : t * config.stack].reshape(lm.shape[0], t, config.input_dim)
    x = (x - params["norm"]["mean"]) / params["norm"]["std"]
    n_valid = (1 + lengths // _FE["hop_length"]) // config.stack
    valid = jnp.arange(t)[None] < n_valid[:, None]
    return x, valid


@functools.partial(jax.jit, static_argnums=(1,))
def _layer_outputs_jit(params, config: SSLConfig, audio, lengths):
    import jax.numpy as jnp

    x, valid = _features(params, config, audio, lengths)
    hidden, _ = _model(config).apply({"params": params["model"]}, x, valid)
    h = jnp.stack(hidden, axis=1)                             # [B, L+1, T, H]
    return jnp.where(valid[:, None, :, None], h, 0.0)


def layer_outputs(params, config: SSLConfig, audio, sr: int = SAMPLE_RATE, lengths=None
                  ) -> np.ndarray:
    """Outputs of every layer of the offline encoder (jitted; padding-safe).

    Layer 0 is the input projection (plus the position encoding, as Hugging
    Face's ``hidden_states[0]``), layers 1..L each transformer block's output
    (before the final LayerNorm). No masking at inference.

    Args:
      params: from :func:`pretrain` / :func:`load_checkpoint` (``model`` and ``norm``).
      config: the :class:`SSLConfig` the params were trained with.
      audio: one utterance ``[samples]``, or a zero-padded batch ``[B, N]``
        with ``lengths``; float in [-1, 1].
      sr: sample rate in Hz (resampled to 16 kHz when it differs; a batch is
        resampled row by row, ``lengths`` scaled).
      lengths: ``[B]`` valid samples per row of a batch (default: all ``N``);
        samples past a row's length are ignored, whatever their value.

    Returns:
      float32 numpy: ``[L + 1, T, H]`` for one utterance, ``T =``
      :func:`num_frames` of its length; ``[B, L + 1, T_max, H]`` for a batch,
      ``T_max = num_frames(N)``, frames past :func:`num_frames` of a row's
      length exactly 0. A row's valid frames equal the utterance's outputs
      alone (float rounding of batched matmuls aside, about 1e-6): audio is
      zero-padded to a multiple of 1 s internally, so similar lengths share
      one compilation.

    Raises:
      ValueError: audio of more than 2 dims, ``lengths`` of the wrong shape.
      SkipUtterance: ``too_short`` (fewer samples than one encoder frame:
        ``(stack - 1) * 160``), ``extractor_failed`` (non-finite samples of a
        single utterance).
    """
    a = np.asarray(audio, np.float32)
    single = a.ndim == 1
    if single:
        y = _prepare(a, sr, _min_samples(config))
        batch, lens = y[None], np.asarray([len(y)], np.int64)
    elif a.ndim == 2:
        lens = np.full(a.shape[0], a.shape[1]) if lengths is None else np.asarray(lengths)
        if lens.shape != (a.shape[0],) or np.any(lens < 0) or np.any(lens > a.shape[1]):
            raise ValueError(f"lengths must be [B] ints in [0, N] for audio {a.shape}, "
                             f"got {lens}")
        if int(sr) != SAMPLE_RATE:
            rows = [_prepare(r[:n], sr, 0) for r, n in zip(a, lens)]
            lens = np.asarray([len(r) for r in rows])
            batch = np.zeros((len(rows), max(lens.max(initial=0), 1)), np.float32)
            for i, r in enumerate(rows):
                batch[i, : len(r)] = r
        else:
            batch = np.where(np.arange(a.shape[1])[None] < lens[:, None], a, 0.0)
    else:
        raise ValueError(f"audio must be [samples] or [B, N], got shape {a.shape}")
    n = batch.shape[1]
    n_pad = max(_BUCKET, -(-n // _BUCKET) * _BUCKET)
    batch = np.pad(batch, ((0, 0), (0, n_pad - n)))
    out = _layer_outputs_jit(params, config, batch.astype(np.float32),
                             np.asarray(lens, np.int32))
    out = np.asarray(out[:, :, : num_frames(n, config)], np.float32)
    return out[0] if single else out


# ----------------------------------------------------------------------------
# Pre-training
# ----------------------------------------------------------------------------


def _pool_features(audio_list: Sequence[np.ndarray], config: SSLConfig, chunk: int = 8):
    """Per utterance: stacked 20 ms log mel [T, 80] and 39-d MFCC (+ deltas) at the
    first 10 ms frame of each 20 ms frame [T, 3 * num_mfcc]."""
    import librosa
    from scipy.fft import dct

    ys = [_prepare(a, SAMPLE_RATE, _min_samples(config)) for a in audio_list]
    order = np.argsort([len(y) for y in ys])
    stacked, mfccs = [None] * len(ys), [None] * len(ys)
    for s in range(0, len(ys), chunk):
        idx = order[s: s + chunk]
        n = max(len(ys[i]) for i in idx)
        n_pad = -(-n // _BUCKET) * _BUCKET
        batch = np.zeros((len(idx), n_pad), np.float32)
        for j, i in enumerate(idx):
            batch[j, : len(ys[i])] = ys[i]
        lm = np.asarray(_jit_log_mel(batch, np.asarray([len(ys[i]) for i in idx], np.int32)))
        for j, i in enumerate(idx):
            t10 = 1 + len(ys[i]) // _FE["hop_length"]
            t = t10 // config.stack
            x = lm[j, :t10]
            stacked[i] = x[: t * config.stack].reshape(t, config.input_dim)
            c = dct(x, type=2, norm="ortho", axis=1)[:, : config.num_mfcc].T   # [13, T10]
            d1 = librosa.feature.delta(c, width=9, order=1, mode="nearest")
            d2 = librosa.feature.delta(c, width=9, order=2, mode="nearest")
            mfccs[i] = np.concatenate([c, d1, d2]).T[: t * config.stack: config.stack]
    return stacked, mfccs


def _kmeans(mfccs, config: SSLConfig, seed: int):
    from scipy.cluster.vq import kmeans2, vq

    allf = np.concatenate(mfccs).astype(np.float64)
    mean, std = allf.mean(0), allf.std(0) + 1e-8
    z = (allf - mean) / std
    if len(z) < config.num_clusters:
        raise ValueError(f"pretrain: {len(z)} frames in the pool < num_clusters="
                         f"{config.num_clusters}")
    centroids, _ = kmeans2(z, config.num_clusters, iter=config.kmeans_iter, minit="++",
                           seed=np.random.default_rng(seed))
    targets = [vq((m - mean) / std, centroids)[0].astype(np.int32) for m in mfccs]
    return targets, {"centroids": centroids.astype(np.float32),
                     "mfcc_mean": mean.astype(np.float32), "mfcc_std": std.astype(np.float32)}


def _span_mask(key, valid, p: float, span: int):
    """HuBERT masking: starts ~ Bernoulli(p) per valid frame, each masks ``span`` frames."""
    import jax.numpy as jnp

    starts = jax.random.bernoulli(key, p, valid.shape) & valid
    c = jnp.cumsum(starts.astype(jnp.int32), axis=1)
    before = jnp.pad(c, ((0, 0), (span, 0)))[:, : c.shape[1]]
    return ((c - before) > 0) & valid


def _masked_loss(logits, targets, masked):
    import jax.numpy as jnp
    import optax

    ce = optax.softmax_cross_entropy_with_integer_labels(logits, targets)
    m = masked.astype(ce.dtype)
    return jnp.sum(ce * m) / jnp.maximum(jnp.sum(m), 1.0)


def pretrain(audio_list: Sequence[np.ndarray], config: SSLConfig | None = None, seed: int = 0,
             *, history: list | None = None, progress: bool = False) -> dict:
    """Pre-trains the offline encoder by HuBERT-style masked prediction (module docstring).

    Args:
      audio_list: the pool, mono 16 kHz waveforms [samples] float in [-1, 1]
        (at least ``(stack - 1) * 160`` samples each); its order matters for
        the seed's draws (:func:`corpus_audio` sorts by id).
      config: :class:`SSLConfig` (default: ``SSLConfig()``).
      seed: the only source of randomness (k-means++, crops, masks, init).
      history: if a list, one dict per step is appended (``step``, ``loss``:
        masked cross-entropy in nats, ``masked``: masked frames of the batch),
        then one ``{"seconds": ..., "frames": ...}`` summary.
      progress: a tqdm progress bar.

    Returns:
      params: ``{"model": flax params, "norm": {"mean", "std"} [80],
      "kmeans": {"centroids" [K, 39], "mfcc_mean", "mfcc_std" [39]}}``, numpy
      float32. Same pool, config and seed -> the same params on one machine
      and library version.

    Raises:
      ValueError: an empty pool, fewer frames than clusters.
      SkipUtterance: an utterance shorter than one frame or non-finite.
    """
    import jax.numpy as jnp
    import optax
    from tqdm.auto import tqdm

    config = config or SSLConfig()
    if len(audio_list) == 0:
        raise ValueError("pretrain: the pool is empty")
    t0 = time.perf_counter()
    stacked, mfccs = _pool_features(audio_list, config)
    targets, km = _kmeans(mfccs, config, seed)
    allx = np.concatenate(stacked)
    norm = {"mean": allx.mean(0).astype(np.float32),
            "std": (allx.std(0) + 1e-5).astype(np.float32)}
    feats = [((x - norm["mean"]) / norm["std"]).astype(np.float32) for x in stacked]
    t_feat = time.perf_counter() - t0

    model = _model(config)
    b, c = config.batch_size, config.crop_frames
    key = jax.random.PRNGKey(seed)
    init_key, mask_key = jax.random.split(key)
    variables = model.init(init_key, jnp.zeros((1, c, config.input_dim)),
                           jnp.ones((1, c), bool))
    sched = optax.warmup_cosine_decay_schedule(
        0.0, config.learning_rate, min(config.warmup_steps, config.steps - 1), config.steps,
        end_value=0.05 * config.learning_rate)
    opt = optax.chain(optax.clip_by_global_norm(config.clip_norm),
                      optax.adamw(sched, weight_decay=config.weight_decay))
    mparams = variables["params"]
    opt_state = opt.init(mparams)

    def loss_fn(p, x, valid, y, masked):
        _, logits = model.apply({"params": p}, x, valid, masked)
        return _masked_loss(logits, y, masked)

    @jax.jit
    def step(p, s, x, valid, y, k):
        masked = _span_mask(k, valid, config.mask_prob, config.mask_span)
        loss, g = jax.value_and_grad(loss_fn)(p, x, valid, y, masked)
        upd, s = opt.update(g, s, p)
        return optax.apply_updates(p, upd), s, loss, jnp.sum(masked)

    rng = np.random.default_rng(seed)
    for i in tqdm(range(config.steps), desc="pre-training the SSL encoder", disable=not progress,
                  leave=False):
        # fresh buffers every step: JAX may still read the previous step's (zero-copy on CPU)
        x = np.zeros((b, c, config.input_dim), np.float32)
        y = np.zeros((b, c), np.int32)
        valid = np.zeros((b, c), bool)
        for j, u in enumerate(rng.integers(len(feats), size=b)):
            t = len(feats[u])
            o = int(rng.integers(0, max(t - c, 0) + 1))
            n = min(c, t - o)
            x[j, :n], y[j, :n], valid[j, :n] = feats[u][o: o + n], targets[u][o: o + n], True
        mparams, opt_state, loss, n_masked = step(mparams, opt_state, x, valid, y,
                                                  jax.random.fold_in(mask_key, i))
        if history is not None:
            history.append({"step": i, "loss": float(loss), "masked": int(n_masked)})
    mparams = jax.tree_util.tree_map(lambda a: np.asarray(a, np.float32), mparams)
    if history is not None:
        history.append({"seconds": time.perf_counter() - t0, "feature_seconds": t_feat,
                        "frames": int(sum(len(f) for f in feats)), "utterances": len(feats)})
    return {"model": mparams, "norm": norm, "kmeans": km}


# ----------------------------------------------------------------------------
# The encoder object, checkpoints, the corpus pool
# ----------------------------------------------------------------------------


def _flatten(params) -> dict[str, np.ndarray]:
    from flax.traverse_util import flatten_dict

    return {"/".join(k): np.asarray(v) for k, v in flatten_dict(params).items()}


def _params_hash(params) -> str:
    h = hashlib.sha256()
    for k, v in sorted(_flatten(params).items()):
        h.update(k.encode())
        h.update(np.ascontiguousarray(v, np.float32).tobytes())
    return h.hexdigest()[:12]


def _expected_shapes(config: SSLConfig) -> dict[str, tuple]:
    import jax.numpy as jnp

    shapes = jax.eval_shape(lambda: _model(config).init(
        jax.random.PRNGKey(0), jnp.zeros((1, 4, config.input_dim)), jnp.ones((1, 4), bool)))
    d = {f"model/{k}": tuple(v.shape) for k, v in _flatten_shapes(shapes["params"]).items()}
    m = 3 * config.num_mfcc
    d.update({"norm/mean": (config.input_dim,), "norm/std": (config.input_dim,),
              "kmeans/centroids": (config.num_clusters, m), "kmeans/mfcc_mean": (m,),
              "kmeans/mfcc_std": (m,)})
    return d


def _flatten_shapes(tree) -> dict:
    from flax.traverse_util import flatten_dict

    return {"/".join(k): v for k, v in flatten_dict(tree).items()}


@dataclasses.dataclass(frozen=True, eq=False)
class SSLEncoder:
    """The offline encoder behind the :class:`~seru.encoders.base.Encoder` interface.

    Attributes:
      params, config: as :func:`pretrain` returns them / as trained.
      key: 12 hex digits naming the weights: the checkpoint key of
        :func:`load_or_pretrain` (config, seed, pool, version), or a hash of
        the parameters (:meth:`from_params`).
      checkpoint: the checkpoint file it was loaded from or written to, or None.
      info: training log of the checkpoint (``seconds``, ``losses``, ...) or {}.
    """

    params: dict
    config: SSLConfig
    key: str
    checkpoint: Path | None = None
    info: dict = dataclasses.field(default_factory=dict)
    frame_hop_s: float = 0.02

    @classmethod
    def from_params(cls, params: dict, config: SSLConfig) -> "SSLEncoder":
        """An encoder of ``params`` (from :func:`pretrain`), keyed by a hash of them."""
        return cls(params, config, _params_hash(params))

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def identity(self) -> str:
        """``<name>-<key>``: what caches of this encoder's outputs key on."""
        return f"{self.config.name}-{self.key}"

    @property
    def num_layers(self) -> int:
        return self.config.num_layers

    @property
    def hidden_size(self) -> int:
        return self.config.dim

    def layer_outputs(self, audio: np.ndarray, sr: int = SAMPLE_RATE) -> np.ndarray:
        """``[L + 1, T, H]`` float32 of one utterance: :func:`layer_outputs`."""
        return layer_outputs(self.params, self.config, audio, sr)


def checkpoint_dir(data_dir, config: SSLConfig, key: str) -> Path:
    """``<data_dir>/seru_encoders/<name>-<key>/``: where a checkpoint lives (touches nothing)."""
    return Path(data_dir) / "seru_encoders" / f"{config.name}-{key}"


def save_checkpoint(path, params: dict, config: SSLConfig, key: str, info: Mapping | None = None
                    ) -> None:
    """Writes ``params``, ``config``, :data:`SSL_VERSION` and ``info`` (JSON) to the
    ``.npz`` ``path`` atomically (:func:`seru.data.cache.write_atomic`), under ``key``."""
    arrays = {f"param/{k}": v for k, v in _flatten(params).items()}
    arrays.update({cache.KEY_FIELD: np.asarray(key),
                   "config_json": np.asarray(json.dumps(config.to_dict(), sort_keys=True)),
                   "version": np.asarray(SSL_VERSION),
                   "info_json": np.asarray(json.dumps(dict(info or {}), sort_keys=True))})
    cache.write_atomic(path, arrays)


def load_checkpoint(path, key: str, config: SSLConfig | None = None) -> SSLEncoder | None:
    """The encoder of the checkpoint ``path`` if it is intact and made for ``key``, else None.

    None (never an exception) when the file is missing, unreadable (truncated,
    corrupt), of another key or version, or when its config differs from
    ``config`` (if given) or its arrays do not have exactly the config's
    names and shapes.
    """
    from flax.traverse_util import unflatten_dict

    data = cache.read(path, key)
    if data is None:
        return None
    try:
        if int(data["version"]) != SSL_VERSION:
            return None
        saved = SSLConfig.from_dict(json.loads(str(data["config_json"])))
        if config is not None and saved != config:
            log.warning("checkpoint %s has another config: training again", path)
            return None
        flat = {k[len("param/"):]: v for k, v in data.items() if k.startswith("param/")}
        expected = _expected_shapes(saved)
        if {k: tuple(v.shape) for k, v in flat.items()} != expected or not all(
                np.all(np.isfinite(v)) for v in flat.values()):
            log.warning("checkpoint %s does not hold the config's parameters: training again",
                        path)
            return None
        params = unflatten_dict({tuple(k.split("/")): np.asarray(v, np.float32)
                                 for k, v in flat.items()})
        info = json.loads(str(data.get("info_json", "{}")))
    except Exception as e:  # a checkpoint is trusted only when everything checks out
        log.warning("checkpoint %s unusable (%s): training again", path, e)
        return None
    return SSLEncoder(params, saved, key, Path(path), info)


def corpus_audio(data_dir=None, corpus: str = "seru_synth_utterances",
                 variant: str | None = "quickstart", split: str = "unlabeled", *,
                 build: bool = True) -> list[tuple[str, np.ndarray, int]]:
    """``(id, audio [samples] float32, sample_rate Hz)`` of every record of a corpus split,
    sorted by id (the data source's order is not the ids' order).

    Args:
      data_dir: the TFDS data dir (default :func:`seru.data.corpora.default_data_dir`).
      corpus, variant, split: which records (default: the 150 unlabeled
        utterances of ``seru_synth_utterances/quickstart``, 3-11 s, 16 kHz).
      build: build the corpus if it is not built yet (else FileNotFoundError).

    Raises:
      ValueError: unknown corpus / variant / split.
    """
    from seru.data import corpora
    from seru.data.schema import decode_text

    _, sources = corpora.load(corpus, variant, data_dir, build=build)
    if split not in sources:
        raise ValueError(f"corpus {corpus!r} ({variant}) has no split {split!r}; splits: "
                         f"{sorted(sources)}")
    src = sources[split]
    out = []
    for i in range(len(src)):
        r = src[i]
        out.append((decode_text(r["id"]), np.asarray(r["audio"], np.float32),
                    int(r["sample_rate"])))
    return sorted(out, key=lambda t: t[0])


def load_or_pretrain(data_dir=None, corpus: str = "seru_synth_utterances",
                     variant: str | None = "quickstart", config: SSLConfig | None = None,
                     seed: int = 0, *, split: str = "unlabeled", build: bool = True,
                     progress: bool = False) -> SSLEncoder:
    """The offline encoder pre-trained on a corpus' unlabeled pool, cached in ``data_dir``.

    The checkpoint key (:func:`seru.data.cache.cache_key`) covers the whole
    config, the seed, corpus / variant / split, a fingerprint of the pool
    (every id and :func:`~seru.data.features.mfbf0.audio_fingerprint`) and
    :data:`SSL_VERSION`; the checkpoint is
    ``<data_dir>/seru_encoders/<name>-<key>/checkpoint.npz``. A later call
    with the same key loads it (about 1 s, mostly reading the pool); a
    missing or untrustworthy file (:func:`load_checkpoint`) is trained again
    and written atomically.

    Measured (default config, ``seru_synth_utterances/quickstart``, 150
    utterances, 14.6 min, 2 CPU cores shared with another job): 160 s for
    the first call (``info["seconds"]``: 159 s of pre-training), 0.25 s for
    the next.

    Args:
      data_dir: the TFDS data dir, also the cache root (default
        :func:`seru.data.corpora.default_data_dir`).
      corpus, variant, split: the pool (:func:`corpus_audio`).
      config: :class:`SSLConfig` (default ``SSLConfig()``).
      seed: as :func:`pretrain`.
      build: build the corpus when it is missing.
      progress: a progress bar while training.

    Returns:
      :class:`SSLEncoder` with ``checkpoint`` set and ``info`` holding the
      training log (``seconds``, ``losses`` per step, ``pool`` size).

    Raises:
      as :func:`corpus_audio` and :func:`pretrain`; OSError when the
      checkpoint cannot be written.
    """
    from seru.data import corpora

    config = config or SSLConfig()
    data_dir = data_dir or corpora.default_data_dir()
    pool = corpus_audio(data_dir, corpus, variant, split, build=build)
    fp = hashlib.sha256()
    for rid, audio, sr in pool:
        fp.update(f"{rid}|{audio_fingerprint(audio, sr)};".encode())
    key = cache.cache_key({"ssl": config.to_dict(), "seed": int(seed), "corpus": corpus,
                           "variant": variant or "", "split": split,
                           "pool": fp.hexdigest()[:16], "version": SSL_VERSION})
    path = checkpoint_dir(data_dir, config, key) / "checkpoint.npz"
    enc = load_checkpoint(path, key, config)
    if enc is not None:
        return enc
    from seru.data.audio import resample

    audios = [resample(a, sr, SAMPLE_RATE) for _, a, sr in pool]
    history: list = []
    log.info("pre-training the offline encoder %s on %s/%s/%s (%d utterances)", config.name,
             corpus, variant, split, len(audios))
    params = pretrain(audios, config, seed, history=history, progress=progress)
    summary = history[-1]
    info = dict(summary, losses=[h["loss"] for h in history[:-1]], corpus=corpus,
                variant=variant or "", split=split, seed=int(seed))
    save_checkpoint(path, params, config, key, info)
    return SSLEncoder(params, config, key, path, info)
