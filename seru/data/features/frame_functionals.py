"""Frame-level functionals: the mean and coefficient of variation of LLDs over sliding windows.

The acoustic input of han17 (Sec. 4.1): low-level descriptors (LLDs) at a
10 ms step, summarised every 100 ms by their arithmetic mean and their
coefficient of variation over a 6 s window, aligned with the 100 ms targets
(the AVEC 2017 / SEWA baseline recipe).

LLD sets (``cfg['name']``, :func:`lld_frames`):

* ``'librosa'`` (default, licence-free): the 59 LLDs of
  :func:`~seru.data.features.librosa_llds.librosa_lld_matrix` at a 10 ms
  step (``hop_length`` 160 at 16 kHz): MFCC 1-13, their deltas, 26 log-mel
  band energies (dB), RMS energy (dBFS), zero-crossing rate, spectral
  centroid, roll-off and flatness, F0 (Hz; 0 where unvoiced, as openSMILE's
  ``F0final``) and the voicing probability; names
  :func:`~seru.data.features.stats.lld_names`. Functionals: **2 x 59 = 118
  dimensions** per output frame (``2 * (2 * n_mfcc + n_mels + 7)`` in general).
* ``'compare2016'``: the 65 ComParE 2016 LLDs of openSMILE
  (:func:`~seru.data.features.compare2016.compare2016_lld_matrix`; the
  ``opensmile`` optional extra, research-only licence), the set han17 uses:
  **2 x 65 = 130 dimensions**, as in the paper.

Window alignment and edges (:func:`frame_functionals`): output frame ``t``
covers ``[t * hop_s, (t + 1) * hop_s)`` (the target frame ``t``); its window
is **centred on the frame centre** ``c_t = (t + 0.5) * hop_s``, i.e. the LLD
rows ``i`` with ``c_t - window_s / 2 <= i * lld_hop_s < c_t + window_s / 2``
(600 rows with the defaults). han17 does not state the alignment; the AVEC
baselines it follows assign each functional window to its centre (AVEC
2015/2016 papers; the AVEC 2018 baseline scripts match a window to the gold
standard at its mid point), and han17 compensates the annotation delay
separately, by shifting the targets 4 s (Sec. 4.2), which a window ending at
the frame would partly duplicate. **At the edges the window is cut to the
recording** (shorter windows, never zero padding, which would bias the
mean): the first and last frames see 3 s (+ half a frame) of LLDs. Where the
AVEC baselines duplicate the first / last full-window vector instead, ours
keeps each frame's features local to it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from seru.data import cache
from seru.data.features.config import DEFAULTS, EXTRACTION_KEYS, SAMPLE_RATE
from seru.data.features.stats import lld_names

#: Part of every frame-functionals cache key: bump it when a code change changes the values.
FRAME_FUNCTIONALS_VERSION = 1

#: The two functionals per LLD, in the order of :func:`frame_functionals`' column blocks.
FRAME_FUNCTIONALS = ("amean", "coeffOfVariation")

#: The soft limit of the coefficient of variation (openSMILE's ``smileMath_ratioLimit``
#: with ``cFunctionalMoments.doRatioLimit = 1``): linear up to ``CV_LIMIT[0]``, then a
#: saturating curve that approaches ``CV_LIMIT[0] + CV_LIMIT[1]`` (30).
CV_LIMIT = (10.0, 20.0)

_CHUNK_ELEMENTS = 2_000_000  # gathered window elements per vectorised chunk (16 MB float64)


def lld_frames(audio: np.ndarray, sr: int, cfg: Mapping[str, Any] | None = None
               ) -> np.ndarray:
    """The LLDs of one recording at a 10 ms step: float64 [N10, L], one row per frame.

    Row ``i`` is at time ``i * 0.01`` s (``i * hop_length / 16000`` for
    ``'librosa'``: the centre of its 25 ms window; for ``'compare2016'``
    openSMILE's frame start, its 20 / 60 ms windows centred 10 / 30 ms
    later). ``N10 = 1 + samples // hop_length`` at 16 kHz for ``'librosa'``.

    Args:
      audio: mono waveform [samples], float in [-1, 1]; resampled to 16 kHz
        (``'librosa'``; openSMILE resamples itself).
      sr: its sample rate in Hz.
      cfg: the feature config (:data:`~seru.data.features.config.DEFAULTS`
        fill missing keys); ``cfg['name']`` picks the LLD set: ``'librosa'``
        (L = ``2 * n_mfcc + n_mels + 7``, 59 with the defaults, columns in the
        order of :func:`~seru.data.features.stats.lld_names`; F0 set to 0 Hz
        where the voicing is below ``voicing_threshold``, like openSMILE's
        ``F0final``) or ``'compare2016'`` (L = 65, openSMILE's column order).

    Returns:
      float64 [N10, L], finite.

    Raises:
      ValueError: ``audio`` is not 1-d, or an unknown ``cfg['name']``.
      ImportError: ``'compare2016'`` without the ``opensmile`` package.
      SkipUtterance: ``too_short``, ``silent``, ``extractor_failed``, as the
        utterance extractors (:func:`~seru.data.features.librosa_llds.extract_librosa`).
    """
    cfg = dict(DEFAULTS, **(cfg or {}))
    if cfg["name"] == "librosa":
        from seru.data.features.librosa_llds import librosa_lld_matrix

        lld = librosa_lld_matrix(audio, sr, cfg)
        f0, voicing = lld[-2], lld[-1]
        f0[voicing < cfg["voicing_threshold"]] = 0.0
        return lld.T.copy()
    if cfg["name"] == "compare2016":
        from seru.data.features.compare2016 import compare2016_lld_matrix

        return compare2016_lld_matrix(audio, sr, cfg).T.copy()
    raise ValueError(f"lld_frames: cfg['name'] must be 'librosa' or 'compare2016', "
                     f"got {cfg['name']!r}")


def lld_hop_seconds(cfg: Mapping[str, Any] | None = None) -> float:
    """The step of :func:`lld_frames`' rows in seconds: ``hop_length / 16000`` for
    ``'librosa'`` (0.01 with the defaults), 0.01 for ``'compare2016'``. Raises nothing."""
    cfg = dict(DEFAULTS, **(cfg or {}))
    return 0.01 if cfg["name"] == "compare2016" else cfg["hop_length"] / SAMPLE_RATE


def lld_frame_names(cfg: Mapping[str, Any] | None = None) -> list[str]:
    """Names of :func:`lld_frames`' columns (L of them).

    ``'librosa'``: :func:`~seru.data.features.stats.lld_names`;
    ``'compare2016'``: openSMILE's ``Smile.feature_names`` of the ComParE 2016
    LLDs (ImportError without the ``opensmile`` package). ValueError for
    another ``cfg['name']``.
    """
    cfg = dict(DEFAULTS, **(cfg or {}))
    if cfg["name"] == "librosa":
        return lld_names(cfg)
    if cfg["name"] == "compare2016":
        from seru.data.features.compare2016 import _import_opensmile

        opensmile = _import_opensmile()
        return list(opensmile.Smile(
            feature_set=opensmile.FeatureSet.ComParE_2016,
            feature_level=opensmile.FeatureLevel.LowLevelDescriptors).feature_names)
    raise ValueError(f"unknown LLD set {cfg['name']!r}")


def frame_functional_names(cfg: Mapping[str, Any] | None = None) -> list[str]:
    """Names of :func:`frame_functionals`' 2L columns: ``<lld>_amean`` for every LLD, then
    ``<lld>_coeffOfVariation`` for every LLD (openSMILE's names). Raises as
    :func:`lld_frame_names`."""
    names = lld_frame_names(cfg)
    return [f"{n}_{f}" for f in FRAME_FUNCTIONALS for n in names]


def num_output_frames(num_lld_frames: int, lld_hop_s: float = 0.01, hop_s: float = 0.1
                      ) -> int:
    """The natural output length: the frames ``t`` whose start ``t * hop_s`` lies before the
    end of the LLDs, ``ceil(num_lld_frames * lld_hop_s / hop_s)`` (1501 for the 15,001 LLD
    rows of 150 s of audio). Raises nothing; 0 for no LLD row."""
    return int(np.ceil(np.round(num_lld_frames * lld_hop_s / hop_s, 6)))


def window_bounds(num_lld_frames: int, num_frames: int, lld_hop_s: float = 0.01,
                  hop_s: float = 0.1, window_s: float = 6.0) -> tuple[np.ndarray, np.ndarray]:
    """The LLD rows ``[lo[t], hi[t])`` of each output frame's window, int64 [num_frames] each.

    Row ``i`` (at ``i * lld_hop_s`` s) is in the window of frame ``t`` iff
    ``c_t - window_s / 2 <= i * lld_hop_s < c_t + window_s / 2`` with
    ``c_t = (t + 0.5) * hop_s``, cut to ``[0, num_lld_frames)`` (shorter windows
    at the edges). Boundaries are computed in units of ``lld_hop_s`` rounded to
    1e-6 before the ceiling, so decimal steps (0.01, 0.1, 6.0) are exact. A
    window left with no row (only the last frames, where ``hop_s`` is not a
    multiple of ``lld_hop_s``) takes the last row. Raises nothing.
    """
    c = (np.arange(num_frames) + 0.5) * hop_s
    lo = np.ceil(np.round((c - window_s / 2) / lld_hop_s, 6)).astype(np.int64)
    hi = np.ceil(np.round((c + window_s / 2) / lld_hop_s, 6)).astype(np.int64)
    lo = np.clip(lo, 0, num_lld_frames - 1)
    hi = np.clip(hi, lo + 1, num_lld_frames)
    return lo, hi


def ratio_limit(x: np.ndarray, limit1: float = CV_LIMIT[0], excess: float = CV_LIMIT[1]
                ) -> np.ndarray:
    """openSMILE's ``smileMath_ratioLimit`` for ``x >= 0``: ``x`` up to ``limit1``, then
    ``limit1 + excess * tanh((sqrt(x - limit1 + 1) - 1) / (excess / 2))``, which is
    continuous with slope 1 at ``limit1`` and tends to ``limit1 + excess`` (also the value
    at ``x = inf``). Elementwise, float64; raises nothing."""
    x = np.asarray(x, np.float64)
    over = np.sqrt(np.maximum(x - limit1, 0.0) + 1.0) - 1.0
    return np.where(x > limit1, limit1 + excess * np.tanh(over / (excess * 0.5)), x)


def frame_functionals(lld: np.ndarray, lld_hop_s: float = 0.01, hop_s: float = 0.1,
                      window_s: float = 6.0, num_frames: int | None = None) -> np.ndarray:
    """Mean and coefficient of variation of each LLD over a window centred on each frame.

    han17 Sec. 4.1: "the arithmetic mean and the coefficient of variance were
    computed over the sequential LLDs with a window size of 6 s at a step size
    of 100 ms". Output frame ``t`` covers ``[t * hop_s, (t + 1) * hop_s)``;
    its window holds the LLD rows of :func:`window_bounds` (centred on
    ``(t + 0.5) * hop_s``, cut at the recording's edges; module docstring for
    why). Per window of ``n`` rows and LLD ``l``:

    * ``mean = sum(x) / n``;
    * ``std = sqrt(sum((x - mean)^2) / n)`` (population, as openSMILE);
    * ``cv = ratio_limit(std / |mean|)`` (openSMILE's ``coeffOfVariation``
      with ``doRatioLimit``): the guard for ``|mean|`` near 0 is the soft
      limit :func:`ratio_limit`, linear up to 10 and saturating below 30, so
      ``cv`` is in ``[0, 30]``; ``std / 0`` counts as ``inf`` (cv 30), and
      ``cv = 0`` where ``std = 0`` (including ``mean = 0``).

    A window whose rows are all equal gives exactly ``mean = value``,
    ``cv = 0``: sums are taken relative to the window's first row
    (two-pass), which also keeps them accurate for LLDs far from 0 (e.g. dB).
    Vectorised over frames (a gathered ``[frames, rows, L]`` block per chunk
    of about 2M elements), no Python loop per frame.

    Args:
      lld: [N10, L] LLD rows at a step of ``lld_hop_s`` (row ``i`` at
        ``i * lld_hop_s`` s), real and finite; N10 >= 1, L >= 0.
      lld_hop_s: the LLD step in seconds (> 0), 0.01 in han17.
      hop_s: the output step in seconds (> 0), 0.1 in han17 (the targets').
      window_s: the window length in seconds (>= ``lld_hop_s``), 6.0 in han17.
      num_frames: the output length T (>= 0), the targets' frame count:
        frames past the natural length (:func:`num_output_frames`) repeat the
        last one, extra ones are cropped. ``None``: the natural length.

    Returns:
      float32 [T, 2L]: columns ``[:L]`` the means (in the LLDs' units),
      ``[L:]`` the coefficients of variation (unitless, [0, 30]);
      names :func:`frame_functional_names`.

    Raises:
      ValueError: ``lld`` not 2-d, without rows or with non-finite values; a
        step or window out of range; ``num_frames < 0``.
    """
    x = np.asarray(lld, np.float64)
    if x.ndim != 2 or x.shape[0] < 1:
        raise ValueError(f"lld must be [N10 >= 1, L], got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("lld has non-finite values")
    if not (lld_hop_s > 0 and hop_s > 0 and window_s >= lld_hop_s):
        raise ValueError(f"need lld_hop_s > 0, hop_s > 0, window_s >= lld_hop_s; got "
                         f"{lld_hop_s}, {hop_s}, {window_s}")
    if num_frames is not None and num_frames < 0:
        raise ValueError(f"num_frames must be >= 0, got {num_frames}")
    n, L = x.shape
    t_nat = max(1, num_output_frames(n, lld_hop_s, hop_s))
    lo, hi = window_bounds(n, t_nat, lld_hop_s, hop_s, window_s)
    count = hi - lo
    width = int(count.max())
    offs = np.arange(width)
    chunk = max(1, _CHUNK_ELEMENTS // max(1, width * max(L, 1)))
    mean = np.empty((t_nat, L))
    std = np.empty((t_nat, L))
    for s in range(0, t_nat, chunk):  # chunks of frames, each vectorised
        l, k = lo[s:s + chunk], count[s:s + chunk, None]
        valid = (offs[None] < k)[..., None]                        # [C, W, 1]
        idx = np.minimum(l[:, None] + offs[None], n - 1)           # [C, W]
        first = x[l][:, None]                                      # [C, 1, L]
        d = (x[idx] - first) * valid                               # [C, W, L], 0 off-window
        dm = d.sum(1) / k                                          # mean - first row
        d -= dm[:, None]
        d *= valid
        std[s:s + chunk] = np.sqrt(np.einsum("cwl,cwl->cl", d, d) / k)
        mean[s:s + chunk] = x[l] + dm
    absm = np.abs(mean)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(absm > 0, std / np.where(absm > 0, absm, 1.0), np.inf)
    cv = np.where(std > 0, ratio_limit(ratio), 0.0)
    out = np.concatenate([mean, cv], axis=1).astype(np.float32)
    return out if num_frames is None else frame_functionals_resize(out, num_frames)


def frame_cache_key(record_id: str, cfg: Mapping[str, Any], *, corpus: str, variant: str,
                    hop_s: float = 0.1, window_s: float = 6.0) -> str:
    """The cache key (12 hex digits, :func:`seru.data.cache.cache_key`) of one recording.

    It covers the extraction keys of the feature config
    (:data:`~seru.data.features.config.EXTRACTION_KEYS`, ``DEFAULTS`` filling
    missing ones), the LLD step, ``hop_s``, ``window_s``, the recording id,
    corpus, variant (``''`` for ``None``) and
    :data:`FRAME_FUNCTIONALS_VERSION`: any changed value is a new entry.
    Raises nothing for a plain config.
    """
    cfg = dict(DEFAULTS, **(cfg or {}))
    payload = {"features": {k: cfg[k] for k in EXTRACTION_KEYS},
               "frames": {"lld_hop_s": lld_hop_seconds(cfg), "hop_s": float(hop_s),
                          "window_s": float(window_s)},
               "record": str(record_id), "corpus": corpus, "variant": variant or "",
               "version": FRAME_FUNCTIONALS_VERSION}
    return cache.cache_key(payload)


def frame_cache_path(cache_dir, record_id: str, cfg: Mapping[str, Any], *, corpus: str,
                     variant: str, hop_s: float = 0.1, window_s: float = 6.0) -> Path:
    """``<cache_dir>/<corpus>-<variant or 'default'>-frames-<id>-<key>.npz``; characters
    of the id other than ``[A-Za-z0-9._-]`` become ``_`` (the key still tells ids apart).
    Touches no file; raises nothing."""
    key = frame_cache_key(record_id, cfg, corpus=corpus, variant=variant, hop_s=hop_s,
                          window_s=window_s)
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", str(record_id))
    return cache.cache_path(cache_dir, f"{corpus}-{variant or 'default'}-frames-{safe}", key)


def cached_frame_functionals(record_id: str, audio: np.ndarray, sr: int,
                             cfg: Mapping[str, Any] | None = None, *, cache_dir, corpus: str,
                             variant: str, hop_s: float = 0.1, window_s: float = 6.0,
                             num_frames: int | None = None) -> np.ndarray:
    """:func:`frame_functionals` of :func:`lld_frames` of one recording, cached on disk.

    The natural-length output is cached per recording at
    :func:`frame_cache_path` (an ``.npz`` with ``features``, ``cache_key``
    and ``config_json``, written atomically by
    :func:`seru.data.cache.write_atomic`); a later call with the same key
    reads it and does not touch ``audio``. ``num_frames`` is applied after
    the cache (pad by repeating the last frame, or crop), so one entry serves
    any target length.

    Args:
      record_id: the recording's id within ``corpus`` / ``variant``.
      audio, sr, cfg: as :func:`lld_frames`.
      cache_dir: the cache folder (created if missing).
      corpus, variant: name the corpus' build (part of the key and file name).
      hop_s, window_s, num_frames: as :func:`frame_functionals`.

    Returns:
      float32 [T, 2L] (118 columns for ``'librosa'`` with the defaults, 130
      for ``'compare2016'``).

    Raises:
      as :func:`lld_frames` and :func:`frame_functionals`; OSError: the cache
      cannot be written. Nothing is cached for a recording that raises.
    """
    cfg = dict(DEFAULTS, **(cfg or {}))
    key = frame_cache_key(record_id, cfg, corpus=corpus, variant=variant, hop_s=hop_s,
                          window_s=window_s)
    path = frame_cache_path(cache_dir, record_id, cfg, corpus=corpus, variant=variant,
                            hop_s=hop_s, window_s=window_s)
    data = cache.read(path, key)
    if data is None or "features" not in data:
        feats = frame_functionals(lld_frames(audio, sr, cfg), lld_hop_seconds(cfg), hop_s,
                                  window_s)
        config = {"features": {k: cfg[k] for k in EXTRACTION_KEYS}, "hop_s": hop_s,
                  "window_s": window_s, "record": str(record_id)}
        cache.write_atomic(path, {"features": feats, cache.KEY_FIELD: np.asarray(key),
                                  "config_json": np.asarray(json.dumps(config,
                                                                       sort_keys=True))})
    else:
        feats = data["features"]
    if num_frames is not None:
        feats = frame_functionals_resize(feats, num_frames)
    return feats


def frame_functionals_resize(feats: np.ndarray, num_frames: int) -> np.ndarray:
    """``feats`` [T, D] padded (repeating its last frame) or cropped to ``num_frames`` rows,
    the rule of :func:`frame_functionals`' ``num_frames``. ValueError for ``num_frames < 0``
    or a padded input without frames."""
    if num_frames < 0:
        raise ValueError(f"num_frames must be >= 0, got {num_frames}")
    t = feats.shape[0]
    if num_frames > t:
        if t == 0:
            raise ValueError("cannot pad an input without frames")
        feats = np.concatenate([feats, np.repeat(feats[-1:], num_frames - t, 0)], 0)
    return feats[:num_frames]
