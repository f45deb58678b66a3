"""Feature extraction of whole splits, cached on disk (:mod:`seru.data.cache`)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from seru.data import cache
from seru.data.features.compare2016 import extract_compare2016
from seru.data.features.config import EXTRACTION_KEYS, SAMPLE_RATE, SKIP_REASONS, SkipUtterance
from seru.data.features.librosa_llds import extract_librosa

log = logging.getLogger(__name__)

#: Part of every cache key: bump it when a change of the code changes the features.
FEATURES_VERSION = 1

#: ``config.data.features.name`` -> extractor ``(audio, sr, cfg) -> float32 [F]``.
EXTRACTORS = {"librosa": extract_librosa, "compare2016": extract_compare2016}


def extract(audio, sr, cfg: Mapping[str, Any]) -> np.ndarray:
    """The feature vector of one utterance with the extractor ``cfg['name']``.

    Args:
      audio: mono waveform [samples], float in [-1, 1].
      sr: its sample rate in Hz.
      cfg: the full feature config (:func:`~seru.data.features.config.feature_config`).

    Returns:
      float32 [F] (531 for ``'librosa'`` with the defaults, 6373 for
      ``'compare2016'``).

    Raises:
      SkipUtterance: the audio is unusable. Any other exception, of the
        extractor or of the lookup (an unknown ``cfg['name']``, a missing
        optional package), is turned into ``SkipUtterance('extractor_failed')``.
    """
    try:
        return EXTRACTORS[cfg["name"]](audio, sr, cfg)
    except SkipUtterance:
        raise
    except Exception as e:  # the extractor itself failed on this utterance
        raise SkipUtterance("extractor_failed", f"{type(e).__name__}: {e}") from e


def _pad_ratings(rows: Sequence[np.ndarray]) -> np.ndarray:
    a = max([len(r) for r in rows] + [1])
    out = np.full((len(rows), a), np.nan, np.float32)
    for i, r in enumerate(rows):
        out[i, :len(r)] = r
    return out


def extract_split(source, cfg: Mapping[str, Any], dimensions: Sequence[str], where: str = ""
                  ) -> dict[str, np.ndarray]:
    """Extracts every record of a data source (``len`` + ``__getitem__``).

    Records are dicts with ``audio`` [samples] (float in [-1, 1]) and
    optionally ``sample_rate`` (Hz, default 16000), ``id``, ``speaker``,
    ``gender`` (str or bytes) and one ratings vector [A] per dimension.

    Returns arrays: ``ids``, ``speakers``, ``genders`` [N] (str), ``features``
    [N, F] float32, ``ratings_<dim>`` [N, A] float32 (NaN padded; A the most
    ratings of any utterance, at least 1) for each dimension of
    ``dimensions``, and ``skipped_ids`` / ``skipped_reasons`` [S] (str, one of
    :data:`~seru.data.features.config.SKIP_REASONS`). Skips are logged and
    counted, never raised.

    Raises:
      KeyError: a record has no ``audio``.
      ValueError: an utterance's feature vector has another shape than the
        ones before it.
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


def cache_key(cfg: Mapping[str, Any], corpus: str, variant: str, split: str) -> str:
    """The cache key (12 hex digits, :func:`seru.data.cache.cache_key`) of one split.

    It covers the extraction keys of ``cfg``
    (:data:`~seru.data.features.config.EXTRACTION_KEYS`: options such as
    ``progress`` or ``cache_dir`` share a cache), the corpus name, variant
    (``''`` for ``None``) and split, and :data:`FEATURES_VERSION`.

    Raises:
      KeyError: ``cfg`` lacks an extraction key (pass a full feature config).
    """
    payload = {"features": {k: cfg[k] for k in EXTRACTION_KEYS}, "corpus": corpus,
               "variant": variant or "", "split": split, "version": FEATURES_VERSION}
    return cache.cache_key(payload)


def cache_path(cache_dir, cfg: Mapping[str, Any], corpus: str, variant: str, split: str
               ) -> Path:
    """``<cache_dir>/<corpus>-<variant or 'default'>-<split>-<key>.npz`` (:func:`cache_key`).

    Touches no file. Raises ``KeyError`` like :func:`cache_key`.
    """
    key = cache_key(cfg, corpus, variant, split)
    return cache.cache_path(cache_dir, f"{corpus}-{variant or 'default'}-{split}", key)


def cached_features(source, cfg: Mapping[str, Any], dimensions: Sequence[str], *, cache_dir,
                    corpus: str, variant: str, split: str) -> tuple[dict, bool]:
    """Features of one split, from the cache when it is there and valid.

    Returns ``(arrays, hit)``; see :func:`extract_split` for the arrays, plus
    ``cache_key`` (0-d str) and ``config_json`` (0-d str: the extraction keys
    of ``cfg`` as JSON). The ratings of every dimension in ``dimensions`` are
    cached with them (the cache key does not depend on ``dimensions``: all
    the corpus' dimensions should be passed; a cached file that lacks one of
    them is extracted again). A miss extracts the split and writes the cache
    atomically (:func:`seru.data.cache.write_atomic`).

    Raises:
      KeyError, ValueError: from :func:`extract_split`.
      OSError: the cache cannot be written.
    """
    key = cache_key(cfg, corpus, variant, split)
    path = cache_path(cache_dir, cfg, corpus, variant, split)
    data = cache.read(path, key)
    if data is not None and all(f"ratings_{d}" in data for d in dimensions):
        return data, True
    data = extract_split(source, cfg, dimensions, where=f"{corpus}/{variant}/{split}")
    data[cache.KEY_FIELD] = np.asarray(key)
    data["config_json"] = np.asarray(json.dumps({k: cfg[k] for k in EXTRACTION_KEYS},
                                                sort_keys=True))
    cache.write_atomic(path, data)
    counts = skip_counts(data)
    if any(counts.values()):
        log.warning("%s/%s/%s: skipped %s", corpus, variant, split, counts)
    return data, False


def skip_counts(data: Mapping[str, np.ndarray]) -> dict[str, int]:
    """``{reason: count}`` of the ``skipped_reasons`` of extracted ``data``.

    Every reason of :data:`~seru.data.features.config.SKIP_REASONS`, in that
    order, is a key (0 when absent; ``unrated`` is always 0 here: unrated
    utterances are dropped later, by
    :func:`~seru.data.features.targets.assemble_split`). Raises nothing.
    """
    reasons = list(np.asarray(data.get("skipped_reasons", [])))
    return {r: int(sum(x == r for x in reasons)) for r in SKIP_REASONS}
