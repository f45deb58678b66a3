"""The feature config (``config.data.features``), its defaults and the skip exception."""

from __future__ import annotations

SAMPLE_RATE = 16_000
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

#: Keys of the feature config that change the features (they make the cache key).
EXTRACTION_KEYS = ("name", "n_mfcc", "n_mels", "n_fft", "win_length", "hop_length", "fmin",
                   "fmax", "f0_frame_length", "voicing_threshold", "min_frames", "silence_db")


def feature_config(config) -> dict:
    """:data:`DEFAULTS` updated with ``config.data.features`` (a dict or ConfigDict).

    ``config`` is any object; a missing ``config.data`` or
    ``config.data.features`` means all defaults. Returns a new ``dict`` with
    every key of :data:`DEFAULTS` (the units and ranges are in its comments).

    Raises:
      ValueError: ``config.data.features`` has a key :data:`DEFAULTS` lacks,
        or its ``name`` is not one of :data:`FEATURE_SETS`.
    """
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


class SkipUtterance(Exception):
    """An utterance the extractor cannot use; ``reason`` is one of :data:`SKIP_REASONS`.

    Raised by the extractors and caught (counted, logged) by
    :func:`seru.data.features.extraction.extract_split`.
    """

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
