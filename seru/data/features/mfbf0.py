"""MFBF0: 40 log mel filterbank energies + F0 + voicing per 10 ms frame (mitra25's baseline).

mitra25 Sec. 4 trains its baseline TC-GRU on "mel-filterbank and pitch
(MFBF0)" features without giving the recipe; this module is our librosa
version of it. Per frame (25 ms window, 10 ms hop, 16 kHz), ``[T, 42]``
float32 with the defaults (:data:`MFBF0_DEFAULTS`), columns in the order of
:func:`mfbf0_names`:

* ``[:40]`` log mel filterbank: ``ln(max(mel_power, log_floor))``, the power
  spectrum (``|STFT|^2``, Hann window of ``win_length`` = 400 samples zero-padded
  to ``n_fft`` = 512, hop 160) through 40 Slaney-style mel filters (librosa's
  default ``htk=False, norm='slaney'``) from ``mel_fmin`` = 20 Hz to ``mel_fmax``
  = 8000 Hz (Nyquist), natural log, floor 1e-10 (so the values are at least
  ``ln 1e-10 = -23.03``; full-scale sines, square waves and noise in [-1, 1]
  stay below +6). ``librosa.feature.melspectrogram`` with ``center=True,
  pad_mode='constant'``.
* ``[40]`` F0: ``ln(F0 / 1 Hz)`` (``log_f0=True``, the default; in
  ``[ln 60, ln 500] = [4.09, 6.21]``) or F0 in Hz (``log_f0=False``) in voiced
  frames, **exactly 0 in unvoiced frames** (voicing below
  ``voicing_threshold``). F0 is ``librosa.yin`` (de Cheveigne & Kawahara 2002;
  60-500 Hz, 64 ms analysis frames, trough threshold 0.1).
* ``[41]`` voicing probability in [0, 1]: the maximum normalised
  autocorrelation over the F0 lag range (the voicing measure of the ``'librosa'``
  LLD set, :func:`seru.data.features.librosa_llds._voicing`): near 1 for a
  periodic frame, near 0.1 for white noise, 0 for digital silence. The voiced
  flag is ``column 41 >= voicing_threshold`` (0.45), the rule that zeroed
  column 40.

Why ``yin`` + an autocorrelation voicing measure and not ``librosa.pyin``
(which gives F0 and a voicing probability from an HMM): on a 5 s utterance at
16 kHz on a 2-core host shared with another job, ``pyin`` took 0.40 s against
0.012 s for ``yin`` (33x), and the whole MFBF0 matrix with ``yin`` about 0.06 s.
For 5,000 such utterances that is about 37 min with ``pyin`` against 5 min,
and each noise-degraded copy of a test set (mitra25's 15 and 5 dB sets) costs
its share again: too slow for seru's CPU protocol of about an hour.

Frames: frame ``i`` is centred at ``i * hop_length`` samples (``i * 10`` ms),
``T = 1 + samples // hop_length`` at 16 kHz (after resampling with
``librosa.resample`` when the input rate differs), as the other 10 ms LLDs of
seru (:func:`seru.data.features.frame_functionals.lld_frames`). Silent audio is
not skipped: it gives the log floor, F0 0 and voicing 0 (all finite).

Caching: one ``.npz`` per utterance on the atomic cache of
:mod:`seru.data.cache` (:func:`cached_mfbf0`), keyed by every option of
:data:`MFBF0_DEFAULTS`, :data:`MFBF0_VERSION`, the corpus, variant, record id
and a fingerprint of the audio samples (so a noise-degraded copy of an
utterance with the same id is a new entry, never the clean one's features).

Integration (not done here): this module is self-contained. It is not an
entry of :data:`seru.data.features.extraction.EXTRACTORS`, whose extractors
return one utterance-level vector ``[F]`` for the functionals input; MFBF0 is
a frame sequence ``[T, 42]`` for a frame-sequence input type, registered with
:func:`seru.data.inputs.register`, that reads :func:`mfbf0_utterances` (or
:func:`cached_mfbf0` per record) and standardises with the training split's
statistics. To re-export the names as ``features.X``, add to
``seru/data/features/__init__.py``: ``from seru.data.features.mfbf0 import (...)``
and the names to its ``__all__``.

Public API: :data:`MFBF0_DEFAULTS`, :data:`MFBF0_VERSION`, :func:`mfbf0_config`,
:func:`num_mfbf0_features`, :func:`mfbf0_names`, :func:`num_frames`,
:func:`mfbf0`, :func:`audio_fingerprint`, :func:`mfbf0_cache_key`,
:func:`mfbf0_cache_path`, :func:`cached_mfbf0`, :func:`mfbf0_utterances`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np

from seru.data import cache
from seru.data.audio import mono_16k
from seru.data.features.config import SAMPLE_RATE, SkipUtterance

log = logging.getLogger(__name__)

#: Part of every MFBF0 cache key: bump it when a code change changes the values.
MFBF0_VERSION = 1

#: The MFBF0 options (every key changes the features, so every key is in the cache key).
#: Lengths in samples at 16 kHz, frequencies in Hz.
MFBF0_DEFAULTS = dict(
    n_mels=40,               # mel bands (mitra25 baseline: 40-d mel filterbank)
    n_fft=512,               # FFT size (32 ms)
    win_length=400,          # 25 ms Hann window
    hop_length=160,          # 10 ms hop
    mel_fmin=20.0,           # lowest mel filter edge, Hz
    mel_fmax=8000.0,         # highest mel filter edge, Hz (<= 8000, Nyquist at 16 kHz)
    log_floor=1e-10,         # mel power floor before the natural log
    f0_fmin=60.0,            # F0 search range, Hz
    f0_fmax=500.0,
    f0_frame_length=1024,    # 64 ms F0 analysis frame: two periods of f0_fmin
    voicing_threshold=0.45,  # voicing probability from which a frame is voiced
    log_f0=True,             # column n_mels: ln(F0 / Hz) (True) or F0 in Hz (False); 0 unvoiced
)


def mfbf0_config(cfg: Mapping[str, Any] | None = None) -> dict:
    """:data:`MFBF0_DEFAULTS` updated with ``cfg``, checked.

    Args:
      cfg: a dict (or an object with ``to_dict``, e.g. a ``ConfigDict``) of
        some of the keys of :data:`MFBF0_DEFAULTS`, or ``None`` (all defaults).

    Returns:
      a new ``dict`` with every key of :data:`MFBF0_DEFAULTS`.

    Raises:
      ValueError: an unknown key, or a value out of range: ``n_mels``,
        ``hop_length`` < 1; ``win_length`` not in ``[1, n_fft]``; not
        ``0 <= mel_fmin < mel_fmax <= 8000``; not ``0 < f0_fmin < f0_fmax <=
        8000``; ``f0_frame_length // 2`` not longer than one period of
        ``f0_fmin`` (``librosa.yin`` warns below two periods per frame);
        ``log_floor <= 0``; ``voicing_threshold`` outside [0, 1].
    """
    cfg = cfg or {}
    if hasattr(cfg, "to_dict"):
        cfg = cfg.to_dict()
    unknown = set(cfg) - set(MFBF0_DEFAULTS)
    if unknown:
        raise ValueError(f"MFBF0 config: unknown keys {sorted(unknown)}; "
                         f"known: {sorted(MFBF0_DEFAULTS)}")
    c = dict(MFBF0_DEFAULTS, **cfg)
    nyq = SAMPLE_RATE / 2
    problems = []
    if c["n_mels"] < 1 or c["hop_length"] < 1:
        problems.append(f"n_mels and hop_length must be >= 1 ({c['n_mels']}, {c['hop_length']})")
    if not 1 <= c["win_length"] <= c["n_fft"]:
        problems.append(f"win_length must be in [1, n_fft={c['n_fft']}], got {c['win_length']}")
    if not 0 <= c["mel_fmin"] < c["mel_fmax"] <= nyq:
        problems.append(f"need 0 <= mel_fmin < mel_fmax <= {nyq}, got {c['mel_fmin']}, "
                        f"{c['mel_fmax']}")
    if not 0 < c["f0_fmin"] < c["f0_fmax"] <= nyq:
        problems.append(f"need 0 < f0_fmin < f0_fmax <= {nyq}, got {c['f0_fmin']}, "
                        f"{c['f0_fmax']}")
    elif SAMPLE_RATE / c["f0_fmin"] >= c["f0_frame_length"] // 2:
        problems.append(f"f0_frame_length={c['f0_frame_length']} is shorter than two periods "
                        f"of f0_fmin={c['f0_fmin']} Hz ({2 * SAMPLE_RATE / c['f0_fmin']:.0f})")
    if not c["log_floor"] > 0:
        problems.append(f"log_floor must be > 0, got {c['log_floor']}")
    if not 0 <= c["voicing_threshold"] <= 1:
        problems.append(f"voicing_threshold must be in [0, 1], got {c['voicing_threshold']}")
    if problems:
        raise ValueError("MFBF0 config: " + "; ".join(problems))
    return c


def num_mfbf0_features(cfg: Mapping[str, Any] | None = None) -> int:
    """Columns of :func:`mfbf0`: ``n_mels + 2`` (42 with the defaults). Raises as
    :func:`mfbf0_config`."""
    return mfbf0_config(cfg)["n_mels"] + 2


def mfbf0_names(cfg: Mapping[str, Any] | None = None) -> list[str]:
    """Names of :func:`mfbf0`'s columns: ``logmel_0`` .. ``logmel_{n_mels-1}`` (low to
    high frequency), ``log_f0`` (or ``f0_hz`` with ``log_f0=False``), ``voicing``.
    Raises as :func:`mfbf0_config`."""
    c = mfbf0_config(cfg)
    return ([f"logmel_{i}" for i in range(c["n_mels"])]
            + ["log_f0" if c["log_f0"] else "f0_hz", "voicing"])


def num_frames(num_samples: int, cfg: Mapping[str, Any] | None = None) -> int:
    """Frames of :func:`mfbf0` for ``num_samples`` samples at 16 kHz:
    ``1 + num_samples // hop_length`` (501 for 5 s). Raises as :func:`mfbf0_config`."""
    return 1 + int(num_samples) // mfbf0_config(cfg)["hop_length"]


def _librosa_resample(y: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    """MFBF0's resampler: ``librosa.resample`` (its default soxr, not
    :func:`seru.data.audio.resample`'s polyphase filter, whose samples differ: the cached
    features of :data:`MFBF0_VERSION` were made with it); no sample is ``too_short``."""
    import librosa

    if len(y) == 0:
        raise SkipUtterance("too_short", "no samples")
    return librosa.resample(y, orig_sr=sr_in, target_sr=sr_out).astype(np.float32)


def _prepare(audio, sr: int, c: Mapping[str, Any]) -> np.ndarray:
    """The checked float32 16 kHz waveform; the skip checks (see :func:`mfbf0`)."""
    y = mono_16k(audio, sr, resampler=_librosa_resample)
    if len(y) < c["n_fft"]:
        raise SkipUtterance("too_short", f"{len(y)} samples at 16 kHz < one FFT frame of "
                                         f"n_fft={c['n_fft']}")
    return y


def mfbf0(audio: np.ndarray, sr: int, cfg: Mapping[str, Any] | None = None) -> np.ndarray:
    """The MFBF0 frames of one utterance (module docstring: columns, units, ranges).

    Args:
      audio: mono waveform [samples], float in [-1, 1] (full scale); resampled
        to 16 kHz with ``librosa.resample`` first if ``sr`` differs.
      sr: its sample rate in Hz.
      cfg: MFBF0 options (:func:`mfbf0_config`; missing keys take
        :data:`MFBF0_DEFAULTS`).

    Returns:
      float32 ``[T, n_mels + 2]`` (``[T, 42]`` with the defaults), ``T = 1 +
      samples // hop_length`` (samples at 16 kHz), all finite: log-mel
      ``[:, :n_mels]``, F0 ``[:, n_mels]`` (log or Hz, 0 unvoiced),
      voicing probability ``[:, n_mels + 1]`` in [0, 1].

    Raises:
      ValueError: ``audio`` is not 1-d; a bad ``cfg`` (:func:`mfbf0_config`).
      SkipUtterance: ``too_short`` (fewer samples at 16 kHz than one FFT
        frame, ``n_fft`` = 512 = 32 ms), ``extractor_failed`` (non-finite samples).
    """
    import librosa

    from seru.data.features.librosa_llds import _voicing

    c = mfbf0_config(cfg)
    y = _prepare(audio, sr, c)
    sr = SAMPLE_RATE
    hop = c["hop_length"]
    mel = librosa.feature.melspectrogram(
        y=y, sr=sr, n_fft=c["n_fft"], hop_length=hop, win_length=c["win_length"],
        window="hann", center=True, pad_mode="constant", power=2.0, n_mels=c["n_mels"],
        fmin=c["mel_fmin"], fmax=c["mel_fmax"])
    logmel = np.log(np.maximum(mel, c["log_floor"]))
    f0 = librosa.yin(y, fmin=c["f0_fmin"], fmax=c["f0_fmax"], sr=sr,
                     frame_length=c["f0_frame_length"], hop_length=hop, trough_threshold=0.1,
                     center=True, pad_mode="constant")
    voicing = _voicing(y, {"f0_frame_length": c["f0_frame_length"], "hop_length": hop,
                           "fmin": c["f0_fmin"], "fmax": c["f0_fmax"]}, sr)
    t = num_frames(len(y), c)
    if not (logmel.shape[1] == f0.shape[0] == voicing.shape[0] == t):
        raise RuntimeError(f"frame counts differ: mel {logmel.shape[1]}, yin {f0.shape[0]}, "
                           f"voicing {voicing.shape[0]}, expected {t}")
    voiced = voicing >= c["voicing_threshold"]
    pitch = np.log(f0) if c["log_f0"] else f0
    pitch = np.where(voiced, pitch, 0.0)
    out = np.concatenate([logmel.T, pitch[:, None], voicing[:, None]], axis=1)
    return out.astype(np.float32)


def audio_fingerprint(audio: np.ndarray, sr: int) -> str:
    """16 hex digits of a SHA-256 of the samples (as float32, C order) and the rate.

    Part of the cache key, so that other audio under the same record id (a
    noise-degraded copy, a rebuilt corpus) is a new entry. About 0.3 ms for
    5 s at 16 kHz. Raises nothing for an array-like ``audio``.
    """
    h = hashlib.sha256(np.ascontiguousarray(np.asarray(audio, np.float32)).tobytes())
    h.update(f"|sr={int(sr)}".encode())
    return h.hexdigest()[:16]


def mfbf0_cache_key(record_id: str, audio: np.ndarray, sr: int,
                    cfg: Mapping[str, Any] | None = None, *, corpus: str, variant: str) -> str:
    """The cache key (12 hex digits, :func:`seru.data.cache.cache_key`) of one utterance.

    It covers every option of :func:`mfbf0_config` (defaults filled in), the
    16 kHz time base, :data:`MFBF0_VERSION`, the record id, corpus, variant
    (``''`` for ``None``) and :func:`audio_fingerprint` of ``(audio, sr)``: any
    changed value is a new entry. Raises as :func:`mfbf0_config`.
    """
    c = mfbf0_config(cfg)
    payload = {"mfbf0": c, "sample_rate": SAMPLE_RATE, "record": str(record_id),
               "corpus": corpus, "variant": variant or "",
               "audio": audio_fingerprint(audio, sr), "version": MFBF0_VERSION}
    return cache.cache_key(payload)


def mfbf0_cache_path(cache_dir, record_id: str, key: str, *, corpus: str, variant: str
                     ) -> Path:
    """``<cache_dir>/<corpus>-<variant or 'default'>-mfbf0-<id>-<key>.npz``; characters of
    the id other than ``[A-Za-z0-9._-]`` become ``_`` (the key still tells ids apart).
    ``key`` from :func:`mfbf0_cache_key`. Touches no file; raises nothing."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", str(record_id))
    return cache.cache_path(cache_dir, f"{corpus}-{variant or 'default'}-mfbf0-{safe}", key)


def cached_mfbf0(record_id: str, audio: np.ndarray, sr: int,
                 cfg: Mapping[str, Any] | None = None, *, cache_dir, corpus: str,
                 variant: str) -> np.ndarray:
    """:func:`mfbf0` of one utterance, cached on disk per utterance.

    The entry (an ``.npz`` with ``features``, ``cache_key`` and
    ``config_json``) lives at :func:`mfbf0_cache_path` for
    :func:`mfbf0_cache_key` and is written atomically
    (:func:`seru.data.cache.write_atomic`): an interrupted extraction leaves
    no file a later call trusts. A later call with the same key reads it
    instead of extracting; a corrupt entry or one of another key is extracted
    and written again (:func:`seru.data.cache.read`).

    Args:
      record_id: the utterance's id within ``corpus`` / ``variant``.
      audio, sr, cfg: as :func:`mfbf0`.
      cache_dir: the cache folder (created if missing).
      corpus, variant: name the corpus' build (key and file name).

    Returns:
      float32 ``[T, n_mels + 2]``, as :func:`mfbf0`.

    Raises:
      as :func:`mfbf0` (nothing is cached for an utterance that raises);
      OSError: the cache cannot be written.
    """
    c = mfbf0_config(cfg)
    key = mfbf0_cache_key(record_id, audio, sr, c, corpus=corpus, variant=variant)
    path = mfbf0_cache_path(cache_dir, record_id, key, corpus=corpus, variant=variant)
    data = cache.read(path, key)
    if data is not None and "features" in data:
        return data["features"]
    feats = mfbf0(audio, sr, c)
    config = {"mfbf0": c, "record": str(record_id), "corpus": corpus,
              "variant": variant or "", "version": MFBF0_VERSION}
    cache.write_atomic(path, {"features": feats, cache.KEY_FIELD: np.asarray(key),
                              "config_json": np.asarray(json.dumps(config, sort_keys=True))})
    return feats


def mfbf0_utterances(items: Iterable[tuple[str, np.ndarray, int]],
                     cfg: Mapping[str, Any] | None = None, *, cache_dir=None,
                     corpus: str = "", variant: str = "", progress: bool = False) -> dict:
    """MFBF0 of a list of utterances, each cached (:func:`cached_mfbf0`) when ``cache_dir``
    is given; unusable utterances are skipped and counted, never raised.

    Args:
      items: ``(id, audio [samples] float in [-1, 1], sample_rate Hz)`` per
        utterance (the ``signals`` of ``seru.data.inputs``' ``from_signals``);
        any iterable, consumed once.
      cfg: MFBF0 options (:func:`mfbf0_config`).
      cache_dir: the per-utterance cache folder, or ``None``: extract without
        caching (new audio for the Predictor).
      corpus, variant: name the corpus' build (cache key and file names).
      progress: show a tqdm progress bar.

    Returns:
      ``dict`` with ``ids`` (list of str, the kept utterances in input order),
      ``features`` (list of float32 ``[T_i, n_mels + 2]``), ``lengths`` (int32
      ``[N]``: ``T_i``), ``skipped_ids`` and ``skipped_reasons`` (lists of str;
      reasons ``too_short`` or ``extractor_failed`` of
      :class:`~seru.data.features.config.SkipUtterance`). Padding to one
      ``[N, T_max, F]`` array is the caller's (the TC-GRU takes the lengths).

    Raises:
      ValueError: a bad ``cfg``, checked before any utterance; an audio that
        is not 1-d. OSError: the cache cannot be written.
    """
    from tqdm.auto import tqdm

    c = mfbf0_config(cfg)
    ids, feats, skipped_ids, skipped_reasons = [], [], [], []
    for rid, audio, sr in tqdm(items, desc=f"MFBF0 {corpus}/{variant}", disable=not progress,
                               leave=False):
        try:
            if cache_dir is None:
                x = mfbf0(audio, sr, c)
            else:
                x = cached_mfbf0(rid, audio, sr, c, cache_dir=cache_dir, corpus=corpus,
                                 variant=variant)
        except SkipUtterance as s:
            log.info("MFBF0: skipping %s: %s", rid, s)
            skipped_ids.append(str(rid))
            skipped_reasons.append(s.reason)
            continue
        ids.append(str(rid))
        feats.append(x)
    return {"ids": ids, "features": feats,
            "lengths": np.asarray([len(x) for x in feats], np.int32),
            "skipped_ids": skipped_ids, "skipped_reasons": skipped_reasons}
