"""Utterance-level functional features (the input of sridhar21), cached per split.

Feature sets (``config.data.features.name``)
--------------------------------------------
``'librosa'`` (default, licence-free): 59 low-level descriptors (LLDs) per
10 ms frame (25 ms window at 16 kHz), each summarised over the utterance by 9
functionals, **531 dimensions**. LLDs, in order:

* MFCC 1-13 (from 26 log-mel bands; c0 left out) and their deltas (width 9);
* the 26 log-mel band energies (dB);
* RMS energy of the (unwindowed) 25 ms frame in dBFS, zero-crossing rate, spectral centroid, spectral roll-off
  (85 %), spectral flatness;
* F0 (``librosa.yin``, 60-500 Hz, Hz) and the voicing probability (the maximum
  of the normalised autocorrelation over the F0 lag range, 64 ms frames).

Functionals, in order (:data:`FUNCTIONALS`): mean, standard deviation,
skewness, kurtosis (excess), 1st / 50th / 99th percentile, range (max - min)
and the slope of a least-squares line over time (per second). The F0
functionals are taken over voiced frames only (voicing >= ``voicing_threshold``)
and are 0 when fewer than two frames are voiced. Feature names:
:func:`feature_names`.

``'compare2016'``: the 6,373 ComParE 2016 functionals of openSMILE
(``opensmile`` Python package, an optional extra with a research-only licence:
``pip install seru[opensmile]``), the set sridhar21 Sec. III-B uses.

Caching and scaling
-------------------
Features are extracted once per (corpus, variant, split, feature config) and
cached as ``<cache_dir>/<corpus>-<variant>-<split>-<hash>.npz``, where the hash
covers the feature config, the corpus name/variant/split and
:data:`FEATURES_VERSION` (a changed config is a new file, the old one is never
trusted for it). The file is written to a temporary name and moved into place
with ``os.replace``: an interrupted extraction leaves no file a later run
trusts. The cache also holds each utterance's raw ratings, speaker and gender,
so a re-run never decodes the audio again.

Utterances the extractor cannot use are skipped and counted, never a crash:
``too_short`` (fewer than ``min_frames`` frames), ``silent`` (RMS below
``silence_db`` dBFS), ``extractor_failed`` (an exception or a non-finite
value). Labeled splits further drop ``unrated`` utterances (no rating of any
of ``config.data.dimensions``). :attr:`FunctionalsDataset.skipped` returns the
counts; each skip is logged.

Two views of each feature vector go into a batch, both with statistics of the
*training split only* (``config.data.train_split``, also for the pre-training
pool): ``features`` (z-scored; the network input) and ``recon_target``
(min-max scaled to [0, 1] and clipped: the target of the VAE's sigmoid
output, sridhar21 Sec. IV-C).

Targets (per dimension of ``config.data.dimensions``): ``consensus``, the mean
rating (:func:`seru.data.labels.mean_rating`) mapped linearly from the corpus'
``rating_range`` to [-1, 1] (CCC is unchanged by one affine map applied to
both prediction and target); ``soft``, the histogram of the ratings over
``num_bins`` (7) equal bins spanning ``rating_range``
(:func:`seru.data.labels.soft_labels`, sridhar21 Sec. III-A; a 5-point scale
is spread over the same 7 bins). ``label_mask`` is 1 where a dimension has at
least one rating.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any, Iterator, Mapping, NamedTuple, Sequence

import numpy as np

log = logging.getLogger(__name__)

FEATURES_VERSION = 1
SAMPLE_RATE = 16_000
FUNCTIONALS = ("mean", "std", "skew", "kurtosis", "p01", "p50", "p99", "range", "slope")
FEATURE_SETS = ("librosa", "compare2016")
SKIP_REASONS = ("too_short", "silent", "extractor_failed", "unrated")

#: Defaults of ``config.data.features`` (every key may be overridden).
DEFAULTS = dict(
    name="librosa",
    n_mfcc=13,
    n_mels=26,
    n_fft=512,
    win_length=400,        # 25 ms at 16 kHz
    hop_length=160,        # 10 ms
    fmin=60.0,             # F0 search range, Hz
    fmax=500.0,
    f0_frame_length=1024,  # 64 ms: two periods of fmin
    voicing_threshold=0.45,
    min_frames=9,          # frames needed (the delta window): ~0.1 s
    silence_db=-70.0,      # utterance RMS below this (dBFS) = silent
    num_bins=7,            # soft-label bins (sridhar21: 7)
    cache_dir="",          # '' = <data_dir>/seru_features
    pretrain_split="unlabeled",
    progress=True,
)


def feature_config(config) -> dict:
    """``DEFAULTS`` updated with ``config.data.features`` (a dict or ConfigDict)."""
    feats = getattr(getattr(config, "data", None), "features", None) or {}
    if hasattr(feats, "to_dict"):
        feats = feats.to_dict()
    unknown = set(feats) - set(DEFAULTS)
    if unknown:
        raise ValueError(f"config.data.features: unknown keys {sorted(unknown)}; "
                         f"known: {sorted(DEFAULTS)}")
    cfg = dict(DEFAULTS, **feats)
    if cfg["name"] not in FEATURE_SETS:
        raise ValueError(f"config.data.features.name must be one of {FEATURE_SETS}, "
                         f"got {cfg['name']!r}")
    return cfg


# Keys of the feature config that change the features (the cache key).
_EXTRACTION_KEYS = ("name", "n_mfcc", "n_mels", "n_fft", "win_length", "hop_length", "fmin",
                    "fmax", "f0_frame_length", "voicing_threshold", "min_frames", "silence_db")


def lld_names(cfg: Mapping[str, Any] | None = None) -> list[str]:
    cfg = dict(DEFAULTS, **(cfg or {}))
    names = [f"mfcc{i}" for i in range(1, cfg["n_mfcc"] + 1)]
    names += [f"mfcc{i}_delta" for i in range(1, cfg["n_mfcc"] + 1)]
    names += [f"logmel{i}" for i in range(cfg["n_mels"])]
    names += ["rms_db", "zcr", "centroid", "rolloff", "flatness", "f0", "voicing"]
    return names


def feature_names(cfg: Mapping[str, Any] | None = None) -> list[str]:
    """Names of the ``'librosa'`` functionals, ``<lld>_<functional>``, in vector order."""
    return [f"{l}_{f}" for l in lld_names(cfg) for f in FUNCTIONALS]


# ----------------------------------------------------------------------------
# Extraction
# ----------------------------------------------------------------------------


class SkipUtterance(Exception):
    """An utterance the extractor cannot use; ``reason`` is one of SKIP_REASONS."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


def functionals(lld: np.ndarray, hop_s: float) -> np.ndarray:
    """The 9 :data:`FUNCTIONALS` of each row of ``lld`` [num_llds, frames] -> [num_llds, 9].

    Moments are population moments (``scipy.stats.skew`` / ``kurtosis`` with
    ``bias=True``, excess kurtosis); a constant row has skewness and kurtosis 0.
    Percentiles use linear interpolation (numpy's default). The slope is the
    least-squares slope against time in seconds (``np.polyfit`` degree 1).
    """
    x = np.asarray(lld, np.float64)
    n = x.shape[1]
    mean = x.mean(1)
    c = x - mean[:, None]
    var = (c**2).mean(1)
    std = np.sqrt(var)
    ok = var > 1e-12 * np.maximum(1.0, mean**2)
    safe = np.where(ok, var, 1.0)
    skew = np.where(ok, (c**3).mean(1) / safe**1.5, 0.0)
    kurt = np.where(ok, (c**4).mean(1) / safe**2 - 3.0, 0.0)
    p01, p50, p99 = np.percentile(x, [1, 50, 99], axis=1)
    rng = x.max(1) - x.min(1)
    t = np.arange(n) * hop_s
    tc = t - t.mean()
    denom = (tc**2).sum()
    slope = (c * tc).sum(1) / denom if denom > 0 else np.zeros_like(mean)
    return np.stack([mean, std, skew, kurt, p01, p50, p99, rng, slope], axis=1)


def _voicing(y: np.ndarray, cfg: Mapping[str, Any], sr: int) -> np.ndarray:
    """Max normalised autocorrelation over the F0 lag range, per (centred) frame.

    ``max_tau r(tau) / r(0)`` with ``r(tau) = sum_t x_t x_{t+tau} / (N - tau)``
    (the unbiased estimate), clipped to [0, 1]: 1 for a periodic frame.
    """
    import librosa

    fl, hop = cfg["f0_frame_length"], cfg["hop_length"]
    frames = librosa.util.frame(np.pad(y, fl // 2), frame_length=fl, hop_length=hop)
    frames = frames - frames.mean(0, keepdims=True)
    spec = np.fft.rfft(frames, n=2 * fl, axis=0)
    ac = np.fft.irfft(np.abs(spec) ** 2, axis=0)[:fl]
    lo = max(1, int(sr / cfg["fmax"]))
    hi = min(fl - 1, int(np.ceil(sr / cfg["fmin"])))
    lags = np.arange(lo, hi + 1)
    r0 = ac[0] / fl
    peak = (ac[lo:hi + 1] / (fl - lags)[:, None]).max(0)  # unbiased (overlap-normalised)
    return np.where(r0 > 1e-10, np.clip(peak / np.where(r0 > 1e-10, r0, 1.0), 0.0, 1.0), 0.0)


def extract_librosa(audio: np.ndarray, sr: int, cfg: Mapping[str, Any] | None = None
                    ) -> np.ndarray:
    """The ``'librosa'`` functional vector (float32 [531] with the defaults) of one utterance.

    ``audio`` is resampled to 16 kHz first. Raises :class:`SkipUtterance` for
    too-short or silent audio.
    """
    import librosa

    cfg = dict(DEFAULTS, **(cfg or {}))
    y = np.asarray(audio, np.float32)
    if y.ndim != 1:
        raise ValueError(f"audio must be mono [samples], got shape {y.shape}")
    if sr != SAMPLE_RATE:
        y = librosa.resample(y, orig_sr=sr, target_sr=SAMPLE_RATE).astype(np.float32)
        sr = SAMPLE_RATE
    hop = cfg["hop_length"]
    n_frames = 1 + len(y) // hop
    if len(y) < cfg["win_length"] or n_frames < cfg["min_frames"]:
        raise SkipUtterance("too_short", f"{len(y)} samples = {n_frames} frames < "
                                         f"min_frames={cfg['min_frames']}")
    if not np.all(np.isfinite(y)):
        raise SkipUtterance("extractor_failed", "non-finite audio samples")
    rms_all = float(np.sqrt(np.mean(np.square(y, dtype=np.float64))))
    if rms_all <= 0 or 20 * np.log10(rms_all) < cfg["silence_db"]:
        raise SkipUtterance("silent", f"RMS {rms_all:.3g} below {cfg['silence_db']} dBFS")
    kw = dict(n_fft=cfg["n_fft"], hop_length=hop, win_length=cfg["win_length"])
    power = np.abs(librosa.stft(y, **kw)) ** 2
    mel = librosa.feature.melspectrogram(S=power, sr=sr, n_mels=cfg["n_mels"])
    logmel = librosa.power_to_db(mel, ref=1.0, amin=1e-10)
    mfcc = librosa.feature.mfcc(S=logmel, n_mfcc=cfg["n_mfcc"] + 1)[1:]
    width = min(9, n_frames if n_frames % 2 else n_frames - 1)
    delta = librosa.feature.delta(mfcc, width=width, mode="nearest")
    rms = librosa.feature.rms(y=y, frame_length=cfg["win_length"], hop_length=hop)
    rms_db = 20 * np.log10(np.maximum(rms, 1e-10))
    zcr = librosa.feature.zero_crossing_rate(y, frame_length=cfg["win_length"], hop_length=hop)
    mag = np.sqrt(power)
    centroid = librosa.feature.spectral_centroid(S=mag, sr=sr)
    rolloff = librosa.feature.spectral_rolloff(S=mag, sr=sr, roll_percent=0.85)
    flatness = librosa.feature.spectral_flatness(S=mag, amin=1e-10)
    f0 = librosa.yin(y, fmin=cfg["fmin"], fmax=cfg["fmax"], sr=sr,
                     frame_length=cfg["f0_frame_length"], hop_length=hop)[None]
    voicing = _voicing(y, cfg, sr)[None]
    t = min(a.shape[1] for a in (mfcc, rms_db, zcr, f0, voicing))
    lld = np.concatenate([a[:, :t] for a in (mfcc, delta, logmel, rms_db, zcr, centroid,
                                             rolloff, flatness)], axis=0)
    hop_s = hop / sr
    out = [functionals(lld, hop_s)]
    voiced = voicing[0, :t] >= cfg["voicing_threshold"]
    if voiced.sum() >= 2:
        out.append(functionals(f0[:, :t][:, voiced], hop_s))
    else:
        out.append(np.zeros((1, len(FUNCTIONALS))))
    out.append(functionals(voicing[:, :t], hop_s))
    vec = np.concatenate(out, axis=0).reshape(-1).astype(np.float32)
    if not np.all(np.isfinite(vec)):
        raise SkipUtterance("extractor_failed", "non-finite functionals")
    return vec


_SMILE = None


def extract_compare2016(audio: np.ndarray, sr: int, cfg: Mapping[str, Any] | None = None
                        ) -> np.ndarray:
    """The 6,373 ComParE 2016 functionals (openSMILE), sridhar21 Sec. III-B."""
    global _SMILE
    try:
        import opensmile
    except ImportError as e:  # pragma: no cover - optional extra
        raise ImportError("features.name='compare2016' needs the optional `opensmile` "
                          "package (research-only licence): pip install seru[opensmile]") from e
    cfg = dict(DEFAULTS, **(cfg or {}))
    y = np.asarray(audio, np.float32)
    n_frames = 1 + len(y) * SAMPLE_RATE // max(sr, 1) // cfg["hop_length"]
    if n_frames < cfg["min_frames"]:
        raise SkipUtterance("too_short", f"{len(y)} samples < min_frames={cfg['min_frames']}")
    rms_all = float(np.sqrt(np.mean(np.square(y, dtype=np.float64))))
    if rms_all <= 0 or 20 * np.log10(rms_all) < cfg["silence_db"]:
        raise SkipUtterance("silent", f"RMS {rms_all:.3g} below {cfg['silence_db']} dBFS")
    if _SMILE is None:
        _SMILE = opensmile.Smile(feature_set=opensmile.FeatureSet.ComParE_2016,
                                 feature_level=opensmile.FeatureLevel.Functionals)
    vec = np.asarray(_SMILE.process_signal(y, sr).values, np.float32).reshape(-1)
    if not np.all(np.isfinite(vec)):
        raise SkipUtterance("extractor_failed", "non-finite functionals")
    return vec


EXTRACTORS = {"librosa": extract_librosa, "compare2016": extract_compare2016}


def extract(audio, sr, cfg: Mapping[str, Any]) -> np.ndarray:
    """Dispatches on ``cfg['name']``; raises :class:`SkipUtterance` for unusable audio."""
    try:
        return EXTRACTORS[cfg["name"]](audio, sr, cfg)
    except SkipUtterance:
        raise
    except Exception as e:  # the extractor itself failed on this utterance
        raise SkipUtterance("extractor_failed", f"{type(e).__name__}: {e}") from e


# ----------------------------------------------------------------------------
# Cache
# ----------------------------------------------------------------------------


def cache_key(cfg: Mapping[str, Any], corpus: str, variant: str, split: str) -> str:
    """Hash of the extraction config + corpus name / variant / split (12 hex digits)."""
    payload = {"features": {k: cfg[k] for k in _EXTRACTION_KEYS}, "corpus": corpus,
               "variant": variant or "", "split": split, "version": FEATURES_VERSION}
    blob = json.dumps(payload, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:12]


def cache_path(cache_dir, cfg, corpus: str, variant: str, split: str) -> Path:
    key = cache_key(cfg, corpus, variant, split)
    return Path(cache_dir) / f"{corpus}-{variant or 'default'}-{split}-{key}.npz"


def _write_atomic(path: Path, arrays: Mapping[str, np.ndarray]) -> None:
    """``np.savez`` to a temporary file in the same folder, then ``os.replace``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _read_cache(path: Path, key: str) -> dict | None:
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except Exception as e:  # a corrupt file is re-extracted, never trusted
        log.warning("feature cache %s unreadable (%s): extracting again", path, e)
        return None
    if str(data.get("cache_key", "")) != key:
        log.warning("feature cache %s has another key: extracting again", path)
        return None
    return data


def _pad_ratings(rows: Sequence[np.ndarray]) -> np.ndarray:
    a = max([len(r) for r in rows] + [1])
    out = np.full((len(rows), a), np.nan, np.float32)
    for i, r in enumerate(rows):
        out[i, :len(r)] = r
    return out


def extract_split(source, cfg: Mapping[str, Any], dimensions: Sequence[str], where: str = ""
                  ) -> dict[str, np.ndarray]:
    """Extracts every record of a data source (``len`` + ``__getitem__``).

    Returns arrays: ``ids``, ``speakers``, ``genders`` [N] (str), ``features``
    [N, F] float32, ``ratings_<dim>`` [N, A] (NaN padded) for each dimension the
    records have among ``dimensions``, and ``skipped_ids`` / ``skipped_reasons``.
    Skips are logged and counted, never raised.
    """
    from tqdm.auto import tqdm

    from seru.data.schema import decode_text

    ids, speakers, genders, feats = [], [], [], []
    ratings = {d: [] for d in dimensions}
    skipped_ids, skipped_reasons = [], []
    n = len(source)
    for i in tqdm(range(n), desc=f"features {where}", disable=not cfg.get("progress", True),
                  leave=False):
        rec = source[i]
        rid = decode_text(rec.get("id", f"{i}"))
        if "audio" not in rec:
            raise KeyError(f"{where}[{i}] ({rid}): record has no 'audio'; keys {sorted(rec)}")
        sr = int(np.asarray(rec.get("sample_rate", SAMPLE_RATE)))
        try:
            vec = extract(np.asarray(rec["audio"], np.float32), sr, cfg)
        except SkipUtterance as s:
            log.info("skipping %s[%d] (%s): %s", where, i, rid, s)
            skipped_ids.append(rid)
            skipped_reasons.append(s.reason)
            continue
        if feats and vec.shape != feats[0].shape:
            raise ValueError(f"{where}[{i}] ({rid}): feature vector of shape {vec.shape}, "
                             f"expected {feats[0].shape} like the rows before")
        ids.append(rid)
        speakers.append(decode_text(rec.get("speaker", "")))
        genders.append(decode_text(rec.get("gender", "unknown")))
        feats.append(vec)
        for d in dimensions:
            r = np.asarray(rec[d], np.float32).reshape(-1) if d in rec else np.zeros(0)
            ratings[d].append(r)
    dim = feats[0].shape[0] if feats else 0
    out = {
        "ids": np.asarray(ids, dtype=str), "speakers": np.asarray(speakers, dtype=str),
        "genders": np.asarray(genders, dtype=str),
        "features": np.asarray(feats, np.float32).reshape(len(feats), dim),
        "skipped_ids": np.asarray(skipped_ids, dtype=str),
        "skipped_reasons": np.asarray(skipped_reasons, dtype=str),
    }
    for d in dimensions:
        out[f"ratings_{d}"] = _pad_ratings(ratings[d])
    return out


def cached_features(source, cfg: Mapping[str, Any], dimensions: Sequence[str], *, cache_dir,
                    corpus: str, variant: str, split: str) -> tuple[dict, bool]:
    """Features of one split, from the cache when it is there and valid.

    Returns ``(arrays, hit)``; see :func:`extract_split` for the arrays. The
    ratings of every dimension in ``dimensions`` are cached with them (the
    cache key does not depend on ``dimensions``: all the corpus'
    dimensions should be passed).
    """
    key = cache_key(cfg, corpus, variant, split)
    path = cache_path(cache_dir, cfg, corpus, variant, split)
    data = _read_cache(path, key)
    if data is not None and all(f"ratings_{d}" in data for d in dimensions):
        return data, True
    data = extract_split(source, cfg, dimensions, where=f"{corpus}/{variant}/{split}")
    data["cache_key"] = np.asarray(key)
    data["config_json"] = np.asarray(json.dumps({k: cfg[k] for k in _EXTRACTION_KEYS},
                                                sort_keys=True))
    _write_atomic(path, data)
    counts = skip_counts(data)
    if any(counts.values()):
        log.warning("%s/%s/%s: skipped %s", corpus, variant, split, counts)
    return data, False


def skip_counts(data: Mapping[str, np.ndarray]) -> dict[str, int]:
    reasons = list(np.asarray(data.get("skipped_reasons", [])))
    return {r: int(sum(x == r for x in reasons)) for r in SKIP_REASONS}


# ----------------------------------------------------------------------------
# Targets and scaling
# ----------------------------------------------------------------------------


def utterance_targets(ratings: np.ndarray, rating_range: Sequence[float], num_bins: int = 7):
    """``(consensus, soft, has_rating)`` of ratings [N, A] (NaN = missing).

    consensus: :func:`seru.data.labels.mean_rating` mapped from ``rating_range``
    to [-1, 1] (0 where unrated); soft: :func:`seru.data.labels.soft_labels`
    over ``num_bins`` equal bins spanning ``rating_range`` (sridhar21 Sec.
    III-A; uniform where unrated); has_rating: at least one rating.
    """
    from seru.data import labels

    lo, hi = float(rating_range[0]), float(rating_range[1])
    if not hi > lo:
        raise ValueError(f"rating_range must be [low, high] with low < high, got {rating_range}")
    r = np.asarray(ratings, np.float64)
    has = labels.num_raters(r) > 0
    m = np.asarray(labels.mean_rating(r))
    consensus = np.where(has, 2.0 * (m - lo) / (hi - lo) - 1.0, 0.0)
    soft = np.asarray(labels.soft_labels(r, labels.soft_label_edges(num_bins, lo, hi)))
    return consensus.astype(np.float32), soft.astype(np.float32), has


class Scaler:
    """Per-dimension statistics of the training split: z-score and min-max views."""

    def __init__(self, x: np.ndarray):
        x = np.asarray(x, np.float64)
        if x.shape[0] == 0:
            raise ValueError("no training utterance left to compute feature statistics")
        self.mean = x.mean(0)
        std = x.std(0)
        self.std = np.where(std > 1e-8, std, 1.0)
        self.min = x.min(0)
        span = x.max(0) - self.min
        self.span = np.where(span > 1e-8, span, 1.0)

    def zscore(self, x):
        return ((np.asarray(x, np.float64) - self.mean) / self.std).astype(np.float32)

    def minmax(self, x):
        return np.clip((np.asarray(x, np.float64) - self.min) / self.span, 0.0, 1.0
                       ).astype(np.float32)


# ----------------------------------------------------------------------------
# Dataset
# ----------------------------------------------------------------------------


class FunctionalsDataset:
    """In-memory utterance functionals with the interface of
    :class:`seru.data.pipeline.ContinuousDataset` (see ``seru/data/pipeline.py``).

    Batches: ``features``, ``recon_target`` float32 [B, F]; ``consensus``
    float32 [B, D]; ``soft`` float32 [B, D, bins]; ``label_mask`` float32
    [B, D] (1 = the dimension has a rating); ``mask`` float32 [B] (1 = a real
    row, 0 = padding). ``eval_iter`` meta: ``ids``, ``starts`` (0), ``lengths``
    (1, 0 for padding).

    Args:
      splits: ``{split: arrays}`` with ``ids``, ``features`` (raw), ``consensus``,
        ``soft``, ``label_mask`` and ``ratings`` [N, D, A].
      scaler: statistics of the training split.
      train_split: where training batches come from (the pre-training pool for
        stage 1 of sridhar21).
    """

    def __init__(self, splits: Mapping[str, Mapping[str, np.ndarray]], scaler: Scaler, *,
                 batch_size: int, eval_batch_size: int, train_split: str,
                 dimensions: Sequence[str], rating_range: Sequence[float],
                 skipped: Mapping[str, Mapping[str, int]] | None = None,
                 process_index: int = 0, process_count: int = 1):
        if train_split not in splits or len(splits[train_split]["ids"]) == 0:
            raise ValueError(f"no utterances in the training split {train_split!r}; "
                             f"splits: {sorted(splits)}")
        for name, b in (("data.batch_size", batch_size), ("eval.batch_size", eval_batch_size)):
            if b % process_count:
                raise ValueError(f"{name}={b} is not divisible by the {process_count} processes")
        self.scaler = scaler
        self.data = {}
        for s, a in splits.items():
            self.data[s] = dict(a, features=scaler.zscore(a["features"]),
                                recon_target=scaler.minmax(a["features"]))
        self.splits = tuple(splits)
        self.dimensions = tuple(dimensions)
        self.rating_range = tuple(float(r) for r in rating_range)
        self.batch_size, self.eval_batch_size = int(batch_size), int(eval_batch_size)
        self.train_split = train_split
        self.process_index, self.process_count = process_index, process_count
        self.skipped = {s: dict(c) for s, c in (skipped or {}).items()}
        n = len(self.data[train_split]["ids"])
        self.steps_per_epoch = max(1, n // self.batch_size)
        self.feature_dim = self.data[train_split]["features"].shape[1]

    #: predictions are utterance-level rows without a time axis (seru/data/pipeline.py)
    framewise = False

    _BATCH_KEYS = ("features", "recon_target", "consensus", "soft", "label_mask")

    def _rows(self, split: str, idx: np.ndarray, valid: np.ndarray) -> dict[str, np.ndarray]:
        a = self.data[split]
        out = {k: a[k][idx] * valid.reshape((-1,) + (1,) * (a[k].ndim - 1)).astype(a[k].dtype)
               for k in self._BATCH_KEYS}
        out["mask"] = valid.astype(np.float32)
        return out

    def _local(self, x: np.ndarray, global_batch: int) -> np.ndarray:
        per = global_batch // self.process_count
        return x[self.process_index * per:(self.process_index + 1) * per]

    def train_iter(self, seed: int, epoch: int) -> Iterator[dict[str, np.ndarray]]:
        """A pure function of ``(seed, epoch)``: a permutation of the training split."""
        n = len(self.data[self.train_split]["ids"])
        order = np.random.default_rng([int(seed), int(epoch)]).permutation(n)
        total = self.steps_per_epoch * self.batch_size
        order = np.resize(order, max(total, n))[:total]
        for b in range(self.steps_per_epoch):
            idx = self._local(order[b * self.batch_size:(b + 1) * self.batch_size],
                              self.batch_size)
            yield self._rows(self.train_split, idx, np.ones(len(idx), bool))

    def example_batch(self) -> dict[str, np.ndarray]:
        per = self.batch_size // self.process_count
        return self._rows(self.train_split, np.zeros(per, int), np.ones(per, bool))

    def eval_iter(self, split: str) -> Iterator[tuple[dict, dict]]:
        self._check_split(split)
        ids = self.data[split]["ids"]
        bs = self.eval_batch_size
        for b in range(0, len(ids), bs):
            idx = np.arange(b, b + bs)
            valid = idx < len(ids)
            idx = self._local(np.where(valid, idx, 0), bs)
            valid = self._local(valid, bs)
            batch = self._rows(split, idx, valid)
            meta = {"ids": [str(ids[i]) if v else "" for i, v in zip(idx, valid)],
                    "starts": np.zeros(len(idx), np.int64),
                    "lengths": valid.astype(np.int64)}
            yield batch, meta

    def targets(self, split: str) -> dict[str, dict[str, np.ndarray]]:
        """Per id: ``gold`` [1, D] (consensus in [-1, 1]), ``std`` [1, D] (unbiased
        rater std on the raw scale, 0 with fewer than two raters), ``soft``
        [1, D, bins], ``num_raters`` [1, D], ``mask`` [1], ``ratings`` [1, D, A]
        (raw scale)."""
        self._check_split(split)
        a = self.data[split]
        out = {}
        for i, rid in enumerate(a["ids"]):
            out[str(rid)] = {"gold": a["consensus"][i][None], "std": a["std"][i][None],
                             "soft": a["soft"][i][None],
                             "num_raters": a["num_raters"][i][None],
                             "mask": np.asarray([a["label_mask"][i].all()], np.float32),
                             "ratings": a["ratings"][i][None]}
        return out

    def arrays(self, split: str) -> dict[str, np.ndarray]:
        """All rows of a split at once (scaled features and targets)."""
        self._check_split(split)
        return self.data[split]

    def _check_split(self, split):
        if split not in self.data:
            raise ValueError(f"no split {split!r}; this dataset has {list(self.data)}")


def assemble_split(data: Mapping[str, np.ndarray], dimensions: Sequence[str],
                   rating_range: Sequence[float], num_bins: int, labeled: bool
                   ) -> tuple[dict, int]:
    """Targets of one cached split; labeled splits drop unrated utterances.

    Returns ``(arrays, num_unrated_dropped)``.
    """
    from seru.data import labels

    n = len(data["ids"])
    cons, soft, has, rat = [], [], [], []
    a_max = max([data[f"ratings_{d}"].shape[1] for d in dimensions] + [1])
    for d in dimensions:
        r = data[f"ratings_{d}"]
        r = np.pad(r, ((0, 0), (0, a_max - r.shape[1])), constant_values=np.nan)
        c, s, h = utterance_targets(r, rating_range, num_bins)
        cons.append(c), soft.append(s), has.append(h), rat.append(r)
    consensus = np.stack(cons, 1) if n else np.zeros((0, len(dimensions)), np.float32)
    soft = np.stack(soft, 1) if n else np.zeros((0, len(dimensions), num_bins), np.float32)
    has = np.stack(has, 1) if n else np.zeros((0, len(dimensions)), bool)
    ratings = np.stack(rat, 1) if n else np.zeros((0, len(dimensions), a_max), np.float32)
    keep = has.any(1) if labeled else np.ones(n, bool)
    out = {"ids": data["ids"][keep], "speakers": data["speakers"][keep],
           "genders": data["genders"][keep], "features": data["features"][keep],
           "consensus": consensus[keep], "soft": soft[keep],
           "label_mask": has[keep].astype(np.float32), "ratings": ratings[keep],
           "num_raters": np.asarray(labels.num_raters(ratings[keep]), np.float32),
           "std": np.asarray(labels.rater_std(ratings[keep], min_raters=2, fill=0.0),
                             np.float32).reshape(-1, len(dimensions))}
    dropped = int((~keep).sum())
    if dropped:
        log.warning("dropped %d unrated utterances", dropped)
    return out, dropped


class OpenCorpus(NamedTuple):
    """A corpus opened by :func:`open_corpus`."""

    sources: dict           # split -> TFDS data source
    rating_range: tuple     # (low, high) of the rating scale
    dims: list              # every dimension the corpus has
    cache_dir: str          # where the feature caches live


def open_corpus(d, cfg: dict) -> OpenCorpus:
    """The corpus of ``config.data`` ``d``, opened: :class:`OpenCorpus`.

    Builds the corpus if asked (``d.build``) and checks that it declares a
    ``rating_range`` and has every dimension of ``d.dimensions``; ``cfg`` is
    :func:`feature_config`'s output (for the cache directory).
    """
    from seru.data import corpora

    builder, sources = corpora.load(d.corpus, d.variant or None, d.data_dir or None,
                                    d.manual_dir or None, build=d.build)
    meta = builder.info.metadata or {}
    rating_range = meta.get("rating_range")
    if rating_range is None:
        raise ValueError(f"corpus {d.corpus!r}: info.metadata has no 'rating_range'")
    all_dims = list(meta.get("dimensions") or d.dimensions)
    missing = [x for x in d.dimensions if x not in all_dims]
    if missing:
        raise ValueError(f"corpus {d.corpus!r} ({d.variant}) has no dimensions {missing}; "
                         f"it has {all_dims}")
    cache_dir = cfg["cache_dir"] or os.path.join(d.data_dir or corpora.default_data_dir(),
                                                 "seru_features")
    return OpenCorpus(sources, rating_range, all_dims, cache_dir)


def split_arrays(d, cfg: dict, opened: OpenCorpus, split: str, labeled: bool = True):
    """``(arrays, skipped)`` of one split: cached features + targets (:func:`assemble_split`).

    ``skipped`` counts the extractor's skips and the unrated items dropped.
    """
    if split not in opened.sources:
        raise ValueError(f"corpus {d.corpus!r} ({d.variant}) has no split {split!r}; "
                         f"splits: {sorted(opened.sources)}")
    raw, _ = cached_features(opened.sources[split], cfg, opened.dims,
                             cache_dir=opened.cache_dir, corpus=d.corpus, variant=d.variant,
                             split=split)
    arrays, dropped = assemble_split(raw, d.dimensions, opened.rating_range, cfg["num_bins"],
                                     labeled=labeled)
    return arrays, dict(skip_counts(raw), unrated=dropped)


def build_dataset(config, process_index: int = 0, process_count: int = 1) -> FunctionalsDataset:
    """The ``'functionals'`` dataset of ``config`` (``config.data.input == 'functionals'``).

    Splits: ``train_split``, ``dev_split``, ``test_split`` (labeled) and, when
    ``config.model.stage == 'pretrain'`` (sridhar21 stage 1), the pre-training
    pool ``config.data.features.pretrain_split`` (unlabeled) as the training
    split. Feature statistics always come from ``train_split``.
    """
    d = config.data
    cfg = feature_config(config)
    opened = open_corpus(d, cfg)
    stage = getattr(getattr(config, "model", None), "stage", "joint") or "joint"
    labeled = [s for s in (d.train_split, d.dev_split, d.test_split) if s]
    wanted = list(dict.fromkeys(labeled + ([cfg["pretrain_split"]] if stage == "pretrain"
                                           else [])))
    splits, skipped = {}, {}
    for split in wanted:
        splits[split], skipped[split] = split_arrays(d, cfg, opened, split,
                                                     labeled=split in labeled)
        if getattr(d, "max_recordings", 0):
            splits[split] = {k: v[:d.max_recordings] for k, v in splits[split].items()}
    scaler = Scaler(splits[d.train_split]["features"])
    train_split = cfg["pretrain_split"] if stage == "pretrain" else d.train_split
    return FunctionalsDataset(
        splits, scaler, batch_size=d.batch_size, eval_batch_size=config.eval.batch_size,
        train_split=train_split, dimensions=d.dimensions, rating_range=opened.rating_range,
        skipped=skipped, process_index=process_index, process_count=process_count)
