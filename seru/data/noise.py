"""Noise-degraded test sets: noise mixed into clean speech at an exact SNR by the active speech level.

mitra25 (Sec. 2 and Table 4) evaluates its models on copies of the test set
degraded by noise at 15 dB and 5 dB SNR. This module makes such copies,
deterministically, from the clean test items.

Hooking it into an evaluation
-----------------------------
A clean test item is a mapping with ``'id'`` (str, bytes or int), ``'audio'``
(mono float samples, shape ``[num_samples]``, full scale +-1) and optionally
``'sample_rate'`` (Hz) and ``'speaker'``, as the corpus records of
:mod:`seru.data.schema` are. ::

    from seru.data import noise

    source = noise.make_source("babble", pool=[r["audio"] for r in train_records],
                               pool_speakers=[r["speaker"] for r in train_records],
                               pool_sample_rate=16000)
    # or noise.make_source("pink"), ("hvac"), ("bursts"), ("clatter"),
    #    noise.make_source("directory", directory="/data/noise")
    for snr_db in noise.MITRA25_SNRS_DB:                     # (15.0, 5.0)
        noisy = noise.make_noisy(test_records, snr_db, source, seed=0)
        # evaluate ``noisy`` as the clean split; name the result e.g. f"test_{snr_db:g}dB"

Each noisy item is a shallow copy of its clean item with ``'audio'`` replaced
by the mixture (float32, same length) and these keys added (see
:data:`NOISE_KEYS`): ``noise_type`` (the source's name), ``snr_db`` (requested),
``achieved_snr_db`` (recomputed on the float32 mixture), ``speech_level_db``
(P.56 active level of the clean speech), ``noise_level_db`` (mean power of the
noise added), ``activity`` (P.56 activity factor), ``peak`` (max |mixture|) and
``overload_gain`` (1.0 unless ``overload="scale"`` scaled the mixture).
:func:`mix_item` does the same for one item (to map lazily).

Definitions
-----------
* **SNR** (dB) = ``10 log10(P_speech / P_noise)`` where ``P_speech`` is the
  ITU-T P.56 *active speech level* of the clean speech (method B, see
  :func:`active_speech_level`) and ``P_noise`` the mean power (mean square over
  all samples) of the noise segment actually added. The noise, not the speech,
  is scaled, so the speech in a noisy copy is the clean speech sample for
  sample.
* **Levels** are in dB relative to a mean square of 1 (digital full scale: the
  dBov of the ITU-T STL, where a full-scale sine measures -3.01 dB).
* **Determinism**: the noise segment of an item comes from
  ``numpy.random.default_rng`` seeded by (a constant tag, ``seed``, a BLAKE2b
  hash of the item id, the bits of ``snr_db``) (:func:`item_rng`; never
  Python's salted ``hash()``), so the same items, source, seed and SNR give a
  bit-identical mixture on the same software stack, whatever the order or
  subset of items; another seed, id or SNR gives other noise.
* **Overload**: a mixture is never clipped. ``overload="keep"`` (default)
  leaves it as it is (the pipeline reads float samples, so values past +-1 are
  harmless there; a change of gain would change level-dependent features),
  records its ``peak`` and warns once per call naming how many items exceed
  1; ``"scale"`` multiplies speech and noise by one gain ``1 / peak`` (the SNR
  is unchanged) and records it; ``"raise"`` refuses such an item.

Why seru has its own P.56 meter
-------------------------------
No maintained Python package provides it for this project's Python 3.11:
``p56-asl`` (a Rust core validated against the ITU-T G.191 STL) requires
Python >= 3.13 and has no installable build here; ``pyvoicebox-sap`` 0.1.1
(LGPL) ports VOICEBOX's ``activlev`` as a self-described simplified version;
``maracas`` 0.0.1 relies on a numba API that no longer exists; ``pyloudnorm``
implements ITU-R BS.1770 loudness, which is not P.56. So
:func:`active_speech_level` implements ITU-T P.56 (12/2011) method B as the
ITU-T STL's ``sv-p56.c`` (G.191) does it, vectorised; its tests check it
against values of the STL's ``actlev`` tool and a per-sample oracle.
"""

from __future__ import annotations

import hashlib
import math
import os
import struct
import warnings
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from seru.data.audio import AudioError, load_wav

__all__ = [
    "ENVELOPE_TIME_CONSTANT_S", "HANGOVER_S", "MARGIN_DB", "THRESHOLDS", "MITRA25_SNRS_DB",
    "NOISE_KEYS", "SOURCE_KINDS", "NoiseError", "NoiseFileError", "NoActiveSpeech", "SpeechLevel",
    "Mixture", "NoiseSource", "active_speech_level", "mean_power", "mix_at_snr", "item_rng",
    "stable_id_words", "Babble", "StationaryNoise", "NonStationaryNoise", "NoiseDirectory",
    "make_source", "mix_item", "make_noisy",
]

# ITU-T P.56 method B parameters (P.56 Sec. 8.3; ITU-T STL sv-p56.c).
ENVELOPE_TIME_CONSTANT_S = 0.03   # T: time constant of the two-stage envelope smoothing
HANGOVER_S = 0.2                  # H: hangover after the envelope falls below a threshold
MARGIN_DB = 15.9                  # M: margin between the active level and its threshold
THRESHOLDS = 2.0 ** np.arange(-15, 0)   # c_j: 2^-15 ... 2^-1 of full scale, 6.02 dB apart

MITRA25_SNRS_DB = (15.0, 5.0)     # mitra25, Sec. 2 / Table 4: Eval_15dB, Eval_5dB

NOISE_KEYS = ("noise_type", "snr_db", "achieved_snr_db", "speech_level_db", "noise_level_db",
              "activity", "peak", "overload_gain")
SOURCE_KINDS = ("babble", "white", "pink", "brown", "hvac", "bursts", "clatter", "directory")
_OVERLOAD = ("keep", "scale", "raise")
_RNG_TAG = 0x6E6F6973  # "nois": keeps these streams apart from other uses of the same seed


class NoiseError(ValueError):
    """Noise that cannot be made or mixed (bad argument, empty noise directory, silent noise)."""


class NoiseFileError(NoiseError, AudioError):
    """A noise file that is unreadable, empty, non-finite or digitally silent; names the file."""


class NoActiveSpeech(ValueError):
    """Speech without active speech by P.56 (digital silence, or below the meter's range)."""


# --------------------------------------------------------------------------- P.56 active level


@dataclass(frozen=True)
class SpeechLevel:
    """ITU-T P.56 method B measurement of one signal.

    ``active_power``: mean square over the active samples (full scale^2);
    ``level_db = 10 log10(active_power)`` (dB re full scale); ``activity``:
    activity factor in (0, 1] (long-term power / active power);
    ``long_term_power``: mean square over all samples.
    """

    level_db: float
    active_power: float
    activity: float
    long_term_power: float


def _check_signal(x, what: str) -> np.ndarray:
    a = np.asarray(x)
    if a.ndim != 1:
        raise ValueError(f"{what}: expected a mono signal of shape [num_samples], got shape {a.shape}")
    if a.size == 0:
        raise ValueError(f"{what}: empty signal")
    if not np.issubdtype(a.dtype, np.floating):
        raise ValueError(f"{what}: expected float samples (full scale +-1), got dtype {a.dtype}")
    if not np.all(np.isfinite(a)):
        bad = int(np.flatnonzero(~np.isfinite(a))[0])
        raise ValueError(f"{what}: non-finite sample at index {bad} ({a[bad]})")
    return a


def _check_rate(sample_rate) -> float:
    try:
        sr = float(sample_rate)
    except (TypeError, ValueError):
        raise ValueError(f"sample_rate must be a number of Hz > 0, got {sample_rate!r}") from None
    if not math.isfinite(sr) or sr <= 0:
        raise ValueError(f"sample_rate must be a finite number of Hz > 0, got {sample_rate!r}")
    return sr


def _activity_counts(q: np.ndarray, hang: int) -> np.ndarray:
    """a_j: samples that are active for threshold c_j (envelope >= c_j, or within ``hang``
    samples after the last sample where it was). Same counts as P.56's per-sample hangover
    counters: the union of the spans [m, m + hang] over the samples m with q[m] >= c_j."""
    n = q.size
    counts = np.zeros(THRESHOLDS.size, dtype=np.int64)
    for j, c in enumerate(THRESHOLDS):
        idx = np.flatnonzero(q >= c)
        if idx.size:
            counts[j] = np.minimum(np.diff(idx), hang + 1).sum() + min(hang + 1, n - int(idx[-1]))
    return counts


def _bisect(a_up, a_lo, c_up, c_lo, margin, tol):
    """The ITU-T STL's ``bin_interp``: bisection along the segment (a_lo, c_lo)-(a_up, c_up) to a
    point whose a - c is within ``tol`` dB of ``margin`` (tolerance widened by 10 % per iteration
    after 20)."""
    if abs((a_up - c_up) - margin) < tol:
        return a_up
    if abs((a_lo - c_lo) - margin) < tol:
        return a_lo
    a_mid, c_mid = (a_up + a_lo) / 2, (c_up + c_lo) / 2
    it = 1
    while abs(diff := (a_mid - c_mid) - margin) > tol:
        it += 1
        if it > 20:
            tol *= 1.1
        if diff > tol:
            a_lo, c_lo = a_mid, c_mid = (a_up + a_mid) / 2, (c_up + c_mid) / 2
        elif diff < -tol:
            a_up, c_up = a_mid, c_mid = (a_mid + a_lo) / 2, (c_mid + c_lo) / 2
    return a_mid


def active_speech_level(x, sample_rate, *, tol_db: float = 0.0) -> SpeechLevel:
    """The ITU-T P.56 (method B) active speech level of a mono signal.

    ``x``: float samples, shape ``[num_samples]``, full scale +-1 (values past it
    are measured as they are); ``sample_rate`` in Hz (any rate: the constants
    below are in seconds). Source: ITU-T Rec. P.56 (12/2011) Sec. 8, as
    implemented by the ITU-T STL (G.191) ``sv-p56.c``, without an input filter
    (the STL applies none):

    1. long-term power: ``sum(x^2) / n``;
    2. envelope: two cascaded one-pole smoothers of ``|x|``,
       ``p = g p + (1 - g)|x|``, ``q = g q + (1 - g) p``, ``g = exp(-1 / (T fs))``,
       time constant ``T`` = :data:`ENVELOPE_TIME_CONSTANT_S` (0.03 s), zero
       initial state;
    3. for each of the 15 thresholds ``c_j = 2^-15 ... 2^-1``
       (:data:`THRESHOLDS`, -90.3 ... -6.0 dB) the activity count ``a_j``: samples
       where ``q >= c_j`` or fewer than ``I = round(H fs)`` samples have passed
       since it was, hangover ``H`` = :data:`HANGOVER_S` (0.2 s);
    4. ``A_j = 10 log10(sum(x^2) / a_j)``, ``C_j = 20 log10(c_j)``; the active
       level is where ``A - C`` falls to the margin ``M`` = :data:`MARGIN_DB`
       (15.9 dB), interpolated linearly between the first threshold ``j`` with
       ``A_j - C_j <= M`` and ``j - 1``. ``tol_db = 0`` (default) solves that
       linear interpolation exactly; ``tol_db = 0.5`` reproduces the STL's
       bisection to a 0.5 dB tolerance (``bin_interp``), whose result lies on
       the same line within that tolerance.

    Returns a :class:`SpeechLevel`. Raises ``ValueError`` for a signal that is
    not 1-D float, empty or non-finite, and :class:`NoActiveSpeech` when P.56
    finds no active speech (digital silence; an envelope never reaching
    ``2^-15``; an active level below ``C_0 + M`` = -74.4 dB; or, for very
    impulsive signals, no threshold where ``A - C`` reaches ``M``).
    """
    sr = _check_rate(sample_rate)
    x = _check_signal(x, "active_speech_level").astype(np.float64)
    if not (math.isfinite(float(tol_db)) and tol_db >= 0):
        raise ValueError(f"tol_db must be a finite number >= 0, got {tol_db!r}")
    from scipy.signal import lfilter

    n = x.size
    sq = float(np.dot(x, x))
    if sq == 0.0:
        raise NoActiveSpeech("no active speech: the signal is digital silence (all samples 0)")
    g = math.exp(-1.0 / (sr * ENVELOPE_TIME_CONSTANT_S))
    p = lfilter([1.0 - g], [1.0, -g], np.abs(x))
    q = lfilter([1.0 - g], [1.0, -g], p)
    hang = int(math.floor(HANGOVER_S * sr + 0.5))
    a = _activity_counts(q, hang)
    if a[0] == 0:
        raise NoActiveSpeech("no active speech: the P.56 envelope never reaches the lowest "
                             f"threshold 2^-15 ({20 * math.log10(THRESHOLDS[0]):.1f} dB)")
    with np.errstate(divide="ignore"):
        a_db = 10 * np.log10(sq / a)            # +inf where a_j = 0
    c_db = 20 * np.log10(THRESHOLDS)
    delta = a_db - c_db
    if delta[0] < MARGIN_DB:
        raise NoActiveSpeech(f"no active speech: the active level is below the P.56 meter's range "
                             f"({c_db[0] + MARGIN_DB:.1f} dB re full scale)")
    hits = np.flatnonzero((a[1:] > 0) & (delta[1:] <= MARGIN_DB))
    if hits.size == 0:
        raise NoActiveSpeech("no active speech level: no P.56 threshold where the active level "
                             "falls to the 15.9 dB margin (an impulsive signal, not speech?)")
    j = int(hits[0]) + 1
    if tol_db == 0.0:
        t = (delta[j - 1] - MARGIN_DB) / (delta[j - 1] - delta[j])
        level_db = float(a_db[j - 1] + t * (a_db[j] - a_db[j - 1]))
    else:
        level_db = float(_bisect(a_db[j], a_db[j - 1], c_db[j], c_db[j - 1], MARGIN_DB, float(tol_db)))
    active = 10.0 ** (level_db / 10)
    return SpeechLevel(level_db=level_db, active_power=active, activity=(sq / n) / active,
                       long_term_power=sq / n)


def mean_power(x) -> float:
    """Mean square of ``x`` (shape ``[num_samples]``) over all samples, in float64 (full scale^2)."""
    a = np.asarray(x, dtype=np.float64)
    return float(np.dot(a, a) / a.size)


# --------------------------------------------------------------------------- mixing


@dataclass(frozen=True)
class Mixture:
    """One mixture: ``audio`` (float32 ``[num_samples]``), the ``achieved_snr_db`` recomputed on
    it, the clean ``speech`` level, the ``noise_power`` added (full scale^2), the ``peak`` of
    ``audio`` and the common ``overload_gain`` applied to speech and noise (1.0 unless scaled)."""

    audio: np.ndarray
    achieved_snr_db: float
    speech: SpeechLevel
    noise_power: float
    peak: float
    overload_gain: float


def _check_snr(snr_db) -> float:
    if isinstance(snr_db, bool):
        raise ValueError(f"snr_db must be a finite number of dB, got {snr_db!r}")
    try:
        v = float(snr_db)
    except (TypeError, ValueError):
        raise ValueError(f"snr_db must be a finite number of dB, got {snr_db!r}") from None
    if not math.isfinite(v):
        raise ValueError(f"snr_db must be a finite number of dB, got {snr_db!r}")
    return v


def mix_at_snr(speech, noise, snr_db, sample_rate, *, overload: str = "keep",
               speech_level: SpeechLevel | None = None) -> Mixture:
    """``speech + k * noise`` with ``k`` such that the SNR is exactly ``snr_db``.

    ``speech``, ``noise``: float signals of equal shape ``[num_samples]`` (full
    scale +-1); ``snr_db``: finite dB; ``sample_rate``: Hz (for the P.56 meter).
    ``k = sqrt(P_speech / (P_noise 10^(snr_db / 10)))`` with ``P_speech`` the
    P.56 active level of the speech (:func:`active_speech_level`, or
    ``speech_level`` if given) and ``P_noise`` the mean power of ``noise``. The
    achieved SNR is recomputed from the float32 mixture (the noise actually
    added is ``audio - overload_gain * speech``); it matches ``snr_db`` to float32
    rounding. ``overload``: what to do when ``max |audio| > 1`` (never clip):
    ``"keep"`` leaves it (the peak is in the result), ``"scale"`` multiplies
    speech and noise by ``1 / peak``, ``"raise"`` raises :class:`NoiseError`.

    Raises ``ValueError`` for non-float, non-finite or mismatched signals or a
    non-finite SNR, :class:`NoActiveSpeech` for speech without active speech,
    :class:`NoiseError` for noise of zero power.
    """
    snr = _check_snr(snr_db)
    if overload not in _OVERLOAD:
        raise ValueError(f"overload must be one of {_OVERLOAD}, got {overload!r}")
    s = _check_signal(speech, "speech")
    v = _check_signal(noise, "noise")
    if s.shape != v.shape:
        raise ValueError(f"speech and noise differ in shape: {s.shape} vs {v.shape}")
    level = speech_level if speech_level is not None else active_speech_level(s, sample_rate)
    p_noise = mean_power(v)
    if p_noise == 0.0:
        raise NoiseError("noise of zero power (digital silence) cannot be scaled to an SNR")
    s64, v64 = s.astype(np.float64), v.astype(np.float64)
    k = math.sqrt(level.active_power / (p_noise * 10.0 ** (snr / 10)))
    mix = s64 + k * v64
    peak = float(np.max(np.abs(mix)))
    gain = 1.0
    if peak > 1.0:
        if overload == "raise":
            raise NoiseError(f"the mixture peaks at {peak:.4f} > 1 (full scale) at {snr:g} dB SNR")
        if overload == "scale":
            gain = 1.0 / peak
            mix = gain * mix
    audio = mix.astype(np.float32)
    added = audio.astype(np.float64) - gain * s64
    p_added = mean_power(added)
    achieved = 10 * math.log10(gain * gain * level.active_power / p_added)
    return Mixture(audio=audio, achieved_snr_db=achieved, speech=level, noise_power=p_added,
                   peak=float(np.max(np.abs(audio))), overload_gain=gain)


# --------------------------------------------------------------------------- determinism


def stable_id_words(item_id) -> tuple[int, int]:
    """Two uint32 words of a BLAKE2b-64 hash of an item id (str as UTF-8, bytes as they are,
    int as its decimal text): stable across processes, unlike Python's salted ``hash()``."""
    if isinstance(item_id, (bytes, bytearray)):
        data = bytes(item_id)
    elif isinstance(item_id, str):
        data = item_id.encode("utf-8")
    elif isinstance(item_id, (int, np.integer)) and not isinstance(item_id, bool):
        data = str(int(item_id)).encode("ascii")
    else:
        raise TypeError(f"item id must be str, bytes or int, got {type(item_id).__name__}")
    lo, hi = struct.unpack("<II", hashlib.blake2b(data, digest_size=8).digest())
    return lo, hi


def item_rng(seed: int, item_id, snr_db) -> np.random.Generator:
    """``numpy.random.default_rng`` for one item's noise, seeded by (tag, ``seed``, the id's
    :func:`stable_id_words`, the IEEE-754 bits of ``snr_db``). ``seed``: int >= 0."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be an int >= 0, got {seed!r}")
    snr = _check_snr(snr_db) + 0.0  # -0.0 -> 0.0
    s_lo, s_hi = struct.unpack("<II", struct.pack("<d", snr))
    return np.random.default_rng([_RNG_TAG, int(seed), *stable_id_words(item_id), s_lo, s_hi])


# --------------------------------------------------------------------------- noise sources


class NoiseSource(Protocol):
    """A noise source: ``source(num_samples, sample_rate, rng, *, speaker=None)`` returns float32
    noise of shape ``[num_samples]`` at ``sample_rate`` Hz (any level: the mixer scales it),
    drawing all randomness from ``rng``; ``speaker`` is the target item's speaker (babble
    leaves that speaker out). ``name`` is recorded as the items' ``noise_type``."""

    name: str

    def __call__(self, num_samples: int, sample_rate: float, rng: np.random.Generator, *,
                 speaker=None) -> np.ndarray: ...


def _check_request(num_samples, sample_rate) -> tuple[int, float]:
    if isinstance(num_samples, bool) or not isinstance(num_samples, (int, np.integer)) or num_samples < 1:
        raise ValueError(f"num_samples must be an int >= 1, got {num_samples!r}")
    return int(num_samples), _check_rate(sample_rate)


def _resample(x: np.ndarray, sr_in: float, sr_out: float) -> np.ndarray:
    """librosa's default soxr (high quality) resampler; float32."""
    if sr_in == sr_out:
        return np.asarray(x, dtype=np.float32)
    import librosa

    return librosa.resample(np.asarray(x, dtype=np.float32), orig_sr=sr_in, target_sr=sr_out,
                            res_type="soxr_hq").astype(np.float32)


def _loop(x: np.ndarray, num_samples: int, offset: int) -> np.ndarray:
    """``num_samples`` samples of ``x`` repeated end to start, from ``offset``."""
    return x[(offset + np.arange(num_samples)) % x.size]


def _spectral_noise(n: int, sr: float, rng: np.random.Generator, exponent: float,
                    f_floor: float = 20.0) -> np.ndarray:
    """Gaussian noise with power spectral density ~ 1 / f^exponent above ``f_floor`` Hz (flat
    below it, no DC), shaped in the frequency domain; float64, unit RMS."""
    w = rng.standard_normal(n)
    if exponent == 0:
        y = w - w.mean()
    else:
        f = np.fft.rfftfreq(n, 1.0 / sr)
        shape = np.maximum(f, f_floor) ** (-exponent / 2)
        shape[0] = 0.0
        y = np.fft.irfft(np.fft.rfft(w) * shape, n)
    rms = math.sqrt(mean_power(y))
    return y / rms if rms > 0 else y


def _unit_rms(y: np.ndarray) -> np.ndarray:
    rms = math.sqrt(mean_power(y))
    return (y / rms if rms > 0 else y).astype(np.float32)


class StationaryNoise:
    """Stationary environmental noise, float32 at unit RMS.

    ``kind``: ``"white"`` (flat spectrum), ``"pink"`` (power ~ 1/f, -3 dB per
    octave), ``"brown"`` (power ~ 1/f^2, -6 dB per octave; both flat below
    20 Hz, no DC), or ``"hvac"``: air-handling noise, pink noise through a
    2nd-order Butterworth low-pass at 800 Hz plus a fan/mains hum (a
    fundamental drawn in 48-62 Hz and its harmonics 2-4 at 1/k amplitude,
    random phases) 6 dB below the broadband part. Spectral shapes are the
    usual colour-noise definitions; the HVAC model is seru's own.
    """

    KINDS = ("white", "pink", "brown", "hvac")

    def __init__(self, kind: str = "pink"):
        if kind not in self.KINDS:
            raise ValueError(f"StationaryNoise kind must be one of {self.KINDS}, got {kind!r}")
        self.kind = kind
        self.name = kind

    def __call__(self, num_samples, sample_rate, rng, *, speaker=None) -> np.ndarray:
        n, sr = _check_request(num_samples, sample_rate)
        if self.kind != "hvac":
            return _spectral_noise(n, sr, rng, {"white": 0.0, "pink": 1.0, "brown": 2.0}[self.kind]
                                   ).astype(np.float32)
        from scipy.signal import butter, sosfilt

        sos = butter(2, min(800.0, 0.45 * sr), btype="low", fs=sr, output="sos")
        broad = sosfilt(sos, _spectral_noise(n, sr, rng, 1.0))
        broad /= max(math.sqrt(mean_power(broad)), 1e-30)
        f0 = rng.uniform(48.0, 62.0)
        t = np.arange(n) / sr
        hum = sum(np.sin(2 * np.pi * k * f0 * t + rng.uniform(0, 2 * np.pi)) / k
                  for k in range(1, 5) if k * f0 < sr / 2)
        hum = hum / max(math.sqrt(mean_power(hum)), 1e-30) * 10 ** (-6 / 20)
        return _unit_rms(broad + hum)


class NonStationaryNoise:
    """Non-stationary environmental noise, float32 at unit RMS (seru's own models).

    ``kind``: ``"bursts"``: pink noise under an on/off envelope (on spans of
    mean 0.25 s at -12 to 0 dB, off spans of mean 0.4 s at -30 dB, exponential
    durations of at least 30 ms, 20 ms Hann-smoothed edges), like passing traffic
    or machinery switching; ``"clatter"``: transients (Poisson, ``rate_hz`` a
    second, default 5) of exponentially decaying noise (3-30 ms) through a
    resonator (800 Hz to 6 kHz, Q 5-20) at -20 to 0 dB, like dishes and
    cutlery, over pink noise 40 dB below the loudest transient.
    """

    KINDS = ("bursts", "clatter")

    def __init__(self, kind: str = "bursts", *, rate_hz: float = 5.0):
        if kind not in self.KINDS:
            raise ValueError(f"NonStationaryNoise kind must be one of {self.KINDS}, got {kind!r}")
        if not (math.isfinite(float(rate_hz)) and rate_hz > 0):
            raise ValueError(f"rate_hz must be a finite number > 0, got {rate_hz!r}")
        self.kind = kind
        self.name = kind
        self.rate_hz = float(rate_hz)

    def __call__(self, num_samples, sample_rate, rng, *, speaker=None) -> np.ndarray:
        n, sr = _check_request(num_samples, sample_rate)
        return self._bursts(n, sr, rng) if self.kind == "bursts" else self._clatter(n, sr, rng)

    @staticmethod
    def _bursts(n, sr, rng):
        from scipy.signal import oaconvolve

        env = np.empty(n)
        pos, on = 0, bool(rng.integers(2))
        while pos < n:
            dur = max(0.03, rng.exponential(0.25 if on else 0.4))
            end = min(n, pos + max(1, int(dur * sr)))
            env[pos:end] = 10 ** ((rng.uniform(-12.0, 0.0) if on else -30.0) / 20)
            pos, on = end, not on
        w = np.hanning(max(3, int(0.02 * sr)))
        env = oaconvolve(np.pad(env, (w.size // 2, w.size - 1 - w.size // 2), mode="edge"),
                         w / w.sum(), mode="valid")
        return _unit_rms(_spectral_noise(n, sr, rng, 1.0) * env)

    def _clatter(self, n, sr, rng):
        from scipy.signal import lfilter

        out = np.zeros(n)
        count = int(rng.poisson(self.rate_hz * n / sr))
        length = max(1, int(0.15 * sr))
        f_hi = min(6000.0, 0.45 * sr)
        for _ in range(count):
            start = int(rng.integers(n))
            m = min(length, n - start)
            t = np.arange(m) / sr
            excitation = rng.standard_normal(m) * np.exp(-t / rng.uniform(0.003, 0.03))
            f = rng.uniform(min(800.0, 0.5 * f_hi), f_hi)
            r = math.exp(-math.pi * (f / rng.uniform(5.0, 20.0)) / sr)
            ev = lfilter([1.0 - r], [1.0, -2 * r * math.cos(2 * math.pi * f / sr), r * r], excitation)
            peak = np.max(np.abs(ev))
            if peak > 0:
                out[start:start + m] += ev / peak * 10 ** (rng.uniform(-20.0, 0.0) / 20)
        floor = _spectral_noise(n, sr, rng, 1.0) * 10 ** (-40 / 20)
        return _unit_rms(out + floor)


class Babble:
    """Babble: the sum of N other speakers' utterances, each at equal active level.

    ``pool``: the utterances (a sequence of float arrays ``[num_samples]``,
    full scale +-1, e.g. other utterances of the corpus); ``sample_rate``:
    their rate in Hz (resampled with soxr on use when another rate is asked
    for); ``speakers``: optional speaker label per utterance; utterances of
    the target item's speaker are then left out (without labels, keep the
    item's own utterance out of the pool, e.g. take the pool from the training
    split). ``talkers``: N, an int or an inclusive range ``(lo, hi)`` drawn per
    item (default 4-6).

    Per item: N distinct utterances drawn from the pool (with repeats only when
    the pool has fewer than N), each scaled to unit P.56 active level (so that
    each talker is as loud as the others), read from a random offset and
    looped end to start to the item's length, summed. Raises ``ValueError`` for
    an empty pool, a bad utterance (naming its index), mismatched
    ``speakers``; :class:`NoActiveSpeech` naming the index of a silent
    utterance; :class:`NoiseError` when no utterance of another speaker exists.
    """

    name = "babble"

    def __init__(self, pool: Sequence, sample_rate, *, speakers: Sequence | None = None,
                 talkers: int | tuple[int, int] = (4, 6)):
        self.sample_rate = _check_rate(sample_rate)
        self.pool = [_check_signal(u, f"babble pool[{i}]") for i, u in enumerate(pool)]
        if not self.pool:
            raise ValueError("babble: the pool of utterances is empty")
        if speakers is not None:
            speakers = list(speakers)
            if len(speakers) != len(self.pool):
                raise ValueError(f"babble: {len(speakers)} speakers for {len(self.pool)} utterances")
        self.speakers = speakers
        lo, hi = (talkers, talkers) if isinstance(talkers, (int, np.integer)) else tuple(talkers)
        if not (1 <= int(lo) <= int(hi)):
            raise ValueError(f"babble: talkers must be >= 1 (or a range lo <= hi), got {talkers!r}")
        self.talkers = (int(lo), int(hi))
        self._gain: dict[int, float] = {}
        self._resampled: dict[tuple[int, float], np.ndarray] = {}

    def _utterance(self, i: int, sr: float) -> np.ndarray:
        if i not in self._gain:
            try:
                level = active_speech_level(self.pool[i], self.sample_rate)
            except NoActiveSpeech as e:
                raise NoActiveSpeech(f"babble pool[{i}]: {e}") from None
            self._gain[i] = 1.0 / math.sqrt(level.active_power)
        key = (i, sr)
        if key not in self._resampled:
            self._resampled[key] = _resample(self.pool[i], self.sample_rate, sr)
        return self._resampled[key] * self._gain[i]

    def __call__(self, num_samples, sample_rate, rng, *, speaker=None) -> np.ndarray:
        n, sr = _check_request(num_samples, sample_rate)
        candidates = np.arange(len(self.pool))
        if speaker is not None and self.speakers is not None:
            candidates = np.array([i for i, s in enumerate(self.speakers) if s != speaker], dtype=np.int64)
            if candidates.size == 0:
                raise NoiseError(f"babble: the pool has no utterance of a speaker other than {speaker!r}")
        k = int(rng.integers(self.talkers[0], self.talkers[1] + 1))
        chosen = rng.choice(candidates, size=k, replace=k > candidates.size)
        out = np.zeros(n, dtype=np.float64)
        for i in chosen:
            u = self._utterance(int(i), sr)
            if u.size == 0:
                continue
            out += _loop(u, n, int(rng.integers(u.size)))
        return out.astype(np.float32)


class NoiseDirectory:
    """Noise read from a user's directory of ``*.wav`` / ``*.flac`` files (e.g. DEMAND, MUSAN).

    ``path``: the directory; ``recursive``: also its subdirectories. Files are
    listed in sorted order (adding or removing a file changes which noise an
    item gets), read with soundfile (multichannel mixed down to mono), and
    resampled with soxr (librosa's default, high quality) when their rate
    differs from the one asked for. Per item: a file and an offset drawn from
    ``rng``, the segment looped end to start when the file is shorter than the
    item; a segment that is all zeros is drawn again (8 tries). At most
    ``max_cached`` decoded files are kept in memory.

    Raises :class:`NoiseError` for a missing directory or one without noise
    files; :class:`NoiseFileError` naming the file for one that soundfile
    cannot read or that has no samples (checked when the source is made), or
    that holds non-finite samples or only zeros (checked when first read).
    """

    name = "directory"
    EXTENSIONS = (".wav", ".flac")

    def __init__(self, path, *, recursive: bool = False, max_cached: int = 32):
        import soundfile as sf

        root = Path(os.fspath(path))
        if not root.is_dir():
            raise NoiseError(f"{root}: noise directory not found (or not a directory)")
        found = root.rglob("*") if recursive else root.iterdir()
        files = sorted(p for p in found if p.is_file() and p.suffix.lower() in self.EXTENSIONS)
        if not files:
            raise NoiseError(f"{root}: no noise files (*.wav or *.flac) in the directory")
        for f in files:
            try:
                info = sf.info(str(f))
            except Exception as e:  # soundfile raises LibsndfileError / RuntimeError / TypeError
                raise NoiseFileError(f"{f}: cannot read noise file ({type(e).__name__}: {e})") from e
            if info.frames <= 0:
                raise NoiseFileError(f"{f}: empty noise file (0 samples)")
        self.root = root
        self.files = tuple(files)
        self.max_cached = max(1, int(max_cached))
        self._cache: OrderedDict[tuple[int, float], np.ndarray] = OrderedDict()

    def load(self, index: int, sample_rate) -> np.ndarray:
        """The ``index``-th file as float32 mono at ``sample_rate`` Hz (checked, cached)."""
        sr = _check_rate(sample_rate)
        key = (int(index), sr)
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        f = self.files[index]
        try:  # load_wav refuses empty, non-finite and digitally silent files
            x, file_sr = load_wav(f)
        except AudioError as e:
            raise NoiseFileError(str(e)) from e
        x = _resample(x, file_sr, sr)
        self._cache[key] = x
        if len(self._cache) > self.max_cached:
            self._cache.popitem(last=False)
        return x

    def __call__(self, num_samples, sample_rate, rng, *, speaker=None) -> np.ndarray:
        n, sr = _check_request(num_samples, sample_rate)
        for _ in range(8):
            i = int(rng.integers(len(self.files)))
            x = self.load(i, sr)
            seg = _loop(x, n, int(rng.integers(x.size)))
            if np.any(seg):
                return seg.astype(np.float32)
        raise NoiseError(f"{self.root}: 8 noise segments of {n} samples in a row were all zeros "
                         f"(last from {self.files[i]})")


def make_source(kind: str, *, pool: Sequence | None = None, pool_sample_rate=None,
                pool_speakers: Sequence | None = None, talkers: int | tuple[int, int] = (4, 6),
                directory=None, recursive: bool = False) -> NoiseSource:
    """A noise source by name (one of :data:`SOURCE_KINDS`), for configs.

    ``"babble"`` needs ``pool`` and ``pool_sample_rate`` (and takes
    ``pool_speakers``, ``talkers``; :class:`Babble`); ``"white"``, ``"pink"``,
    ``"brown"``, ``"hvac"``: :class:`StationaryNoise`; ``"bursts"``,
    ``"clatter"``: :class:`NonStationaryNoise`; ``"directory"`` needs
    ``directory`` (and takes ``recursive``; :class:`NoiseDirectory`).
    Raises ``ValueError`` for another name or a missing argument.
    """
    if kind == "babble":
        if pool is None or pool_sample_rate is None:
            raise ValueError("noise source 'babble' needs pool= (utterances) and pool_sample_rate=")
        return Babble(pool, pool_sample_rate, speakers=pool_speakers, talkers=talkers)
    if kind in StationaryNoise.KINDS:
        return StationaryNoise(kind)
    if kind in NonStationaryNoise.KINDS:
        return NonStationaryNoise(kind)
    if kind == "directory":
        if not directory:
            raise ValueError("noise source 'directory' needs directory= (a folder of *.wav / *.flac)")
        return NoiseDirectory(directory, recursive=recursive)
    raise ValueError(f"unknown noise source {kind!r}; known: {SOURCE_KINDS}")


# --------------------------------------------------------------------------- test sets


def _item_rate(item: Mapping, sample_rate, where: str) -> float:
    own = item.get("sample_rate")
    if own is None and sample_rate is None:
        raise ValueError(f"{where}: no 'sample_rate' in the item and none given")
    if own is not None and sample_rate is not None and float(own) != float(sample_rate):
        raise ValueError(f"{where}: the item's sample_rate {own} differs from sample_rate={sample_rate}")
    return _check_rate(own if own is not None else sample_rate)


def _mix_item(item, snr_db, source, seed, sample_rate, overload, warn):
    if "id" not in item:
        raise ValueError("noisy item: the item has no 'id'")
    where = f"item {item['id']!r}"
    if "audio" not in item:
        raise ValueError(f"{where}: the item has no 'audio'")
    present = [k for k in NOISE_KEYS if k in item]
    if present:
        raise ValueError(f"{where}: already has noise keys {present} (mixing noise twice?)")
    sr = _item_rate(item, sample_rate, where)
    try:
        speech = _check_signal(item["audio"], where)
        level = active_speech_level(speech, sr)
    except NoActiveSpeech as e:
        raise NoActiveSpeech(f"{where}: {e}") from None
    rng = item_rng(seed, item["id"], snr_db)
    noise = np.asarray(source(speech.size, sr, rng, speaker=item.get("speaker")))
    name = getattr(source, "name", type(source).__name__)
    if noise.shape != speech.shape:
        raise NoiseError(f"{where}: noise source {name!r} returned shape {noise.shape}, "
                         f"expected {speech.shape}")
    try:
        m = mix_at_snr(speech, noise, snr_db, sr, overload=overload, speech_level=level)
    except (NoiseError, ValueError) as e:
        raise type(e)(f"{where}, noise {name!r}: {e}") from None
    if warn and m.peak > 1.0:
        warnings.warn(f"{where}: the noisy mixture peaks at {m.peak:.4f} > 1 (kept, not clipped)",
                      RuntimeWarning, stacklevel=3)
    out = dict(item)
    out["audio"] = m.audio
    out.update(noise_type=name, snr_db=float(snr_db), achieved_snr_db=m.achieved_snr_db,
               speech_level_db=level.level_db, noise_level_db=10 * math.log10(m.noise_power),
               activity=level.activity, peak=m.peak, overload_gain=m.overload_gain)
    return out


def mix_item(item: Mapping, snr_db, source: NoiseSource, seed: int, *, sample_rate=None,
             overload: str = "keep") -> dict:
    """One noisy item (see the module docstring for the keys added), noise from ``source`` at
    ``snr_db`` dB SNR, drawn from :func:`item_rng` ``(seed, item['id'], snr_db)``.

    ``item``: a mapping with ``'id'``, ``'audio'`` (float ``[num_samples]``) and
    ``'sample_rate'`` (Hz) unless ``sample_rate`` is given (both must agree);
    ``'speaker'`` is passed to the source. ``overload``: as in
    :func:`mix_at_snr`; under ``"keep"`` a peak above 1 warns
    (``RuntimeWarning``). Errors name the item: ``ValueError`` for a missing
    key, non-float or non-finite audio, a non-finite SNR, an item that is
    already noisy; :class:`NoActiveSpeech` for silent speech;
    :class:`NoiseError` for unusable noise.
    """
    if overload not in _OVERLOAD:
        raise ValueError(f"overload must be one of {_OVERLOAD}, got {overload!r}")
    _check_snr(snr_db)
    return _mix_item(item, snr_db, source, seed, sample_rate, overload, warn=True)


def make_noisy(items: Iterable[Mapping], snr_db, source: NoiseSource, seed: int = 0, *,
               sample_rate=None, overload: str = "keep") -> list[dict]:
    """The noisy copy of a test set: :func:`mix_item` for every item, in order.

    Returns a new list of new dicts (the clean items are not changed). Under
    ``overload="keep"`` one ``RuntimeWarning`` says how many mixtures peak
    above 1 and the highest peak. mitra25's sets are ``snr_db`` in
    :data:`MITRA25_SNRS_DB` (15 and 5 dB).
    """
    if overload not in _OVERLOAD:
        raise ValueError(f"overload must be one of {_OVERLOAD}, got {overload!r}")
    _check_snr(snr_db)
    out = [_mix_item(it, snr_db, source, seed, sample_rate, overload, warn=False) for it in items]
    over = [o["peak"] for o in out if o["peak"] > 1.0]
    if over:
        warnings.warn(f"{len(over)} of {len(out)} noisy mixtures at {float(snr_db):g} dB peak above 1 "
                      f"(highest {max(over):.4f}); kept as they are, not clipped (their 'peak' is "
                      "recorded; overload='scale' scales speech and noise together)",
                      RuntimeWarning, stacklevel=2)
    return out
