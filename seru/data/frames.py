"""Frame features at a coarse time base: the dataset of han17 (Sec. 4.1), input ``'frame_features'``.

han17 predicts every 100 ms from frame-level features: the mean and
coefficient of variation of the 10 ms LLDs over a 6 s window per frame
(audio, :func:`seru.data.features.frame_functionals.cached_frame_functionals`)
or the 49 pose-normalised facial landmarks averaged onto the frames (video,
:func:`seru.data.features.landmarks.landmark_frames`). The continuous corpora
are rated at their own hop (40 ms); here, per recording:

1. the ratings of every rater are resampled to the hop ``config.data.frames.hop_s``
   (:func:`seru.data.resample.resample_ratings`, box average, **per rater,
   before any aggregation**: han17 builds the gold standard "based on the
   resampled annotations"); T = ``num_target_frames`` of the corpus' frames;
2. the annotation delay ``config.data.delay_frames`` is applied **at this
   hop, after the resampling** (frames of ``hop_s``: han17's 4 s = 40 frames),
   :func:`seru.data.labels.shift_labels` of the resampled ratings;
3. the targets: ``gold`` = the gold standard ``config.data.gold`` ('ewe' in
   han17) of the resampled ratings, ``std`` = their unbiased rater std
   (Eq. (6); NaN below two raters), ``num_raters``;
4. the features of the T frames: audio (``modality='audio'``) from the
   feature cache ``<data_dir>/seru_features`` (or ``data.features.cache_dir``)
   with the LLD config ``config.data.features``; video (``'video'``) from the
   record's ``video_landmarks`` / ``video_mask`` at
   ``info.metadata['video_frame_hop_s']``, NaN rows (no tracked face) masked.

Statistics, from the **training split only** (its valid frames: ``mask`` = 1),
kept JSON-able in :attr:`FrameDataset.statistics` and applied to every split:
the per-dimension feature mean and std (population; 1 where <= 1e-8), and the
han17 rescaling of the std (:func:`seru.data.labels.fit_unit_scaling`, per
dimension, ``'minmax'``). Batches (the interface of
:class:`seru.data.pipeline.ContinuousDataset`, ``framewise``): ``features``
float32 ``[B, T, F]`` (standardised; 0 where unknown), ``gold``, ``std``
(rescaled), ``num_raters`` ``[B, T, D]`` (0 where missing), ``mask`` ``[B, T]``
(1 = a real frame with at least one rating of every dimension and, for video,
a tracked face).
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any, Mapping, Sequence

import numpy as np

from seru.data.pipeline import (ContinuousDataset, Recording, corpus_records, rating_targets,
                                record_ratings)
from seru.data.timebase import TimeBase, of_corpus

MODALITIES = ("audio", "video")
#: The rescaling of the std (``labels.fit_unit_scaling``'s method; han17 Sec. 4.1, our reading).
STD_SCALING = "minmax"


@dataclasses.dataclass
class FrameRecording(Recording):
    """A :class:`Recording` at the frame time base with ``features`` [T, F] (raw: not yet
    standardised; NaN = unknown) and ``valid`` [T] (1 = the input exists: always for
    audio, a tracked face for video). ``audio`` is empty."""

    features: np.ndarray = None
    valid: np.ndarray = None

    @property
    def mask(self) -> np.ndarray:
        """1 where every dimension has a rating and the input is valid."""
        m = np.all(self.num_raters > 0, axis=-1)
        if self.valid is not None:
            m &= np.asarray(self.valid, bool)
        return m.astype(np.float32)


class FrameDataset(ContinuousDataset):
    """:class:`ContinuousDataset` over :class:`FrameRecording` s: batches carry ``features``
    ``[B, T, F]`` instead of audio. ``statistics``: the JSON-able training statistics."""

    def __init__(self, recordings, *, statistics: dict, **kwargs):
        super().__init__(recordings, input_key="features", flat_input=False, **kwargs)
        self.statistics = statistics
        self.num_features = self.recordings[self.train_split][0].features.shape[1]

    def _empty_recording(self) -> Recording:
        z = np.zeros((1, self.num_dims), np.float32)
        return FrameRecording("", "", np.zeros(0, np.float32), z, z, z,
                              np.zeros((1, self.num_dims, 1), np.float32),
                              features=np.zeros((1, self.num_features), np.float32),
                              valid=np.zeros(1, np.float32))


# ----------------------------------------------------------------------------
# One record
# ----------------------------------------------------------------------------


def time_base(config) -> TimeBase:
    """``TimeBase(config.data.frames.hop_s)`` (16 kHz)."""
    return TimeBase(float(config.data.frames.hop_s))


def frame_targets(ratings: np.ndarray, hop_in_s: float, hop_s: float, gold: str = "ewe",
                  delay_frames: int = 0):
    """``(ratings, gold, std, num_raters)`` at hop ``hop_s`` of ratings ``[T_in, D, A]`` at
    ``hop_in_s``: per-rater box resampling, then the delay (frames of ``hop_s``), then the
    targets (:func:`seru.data.pipeline.rating_targets`; std NaN below two raters).
    Ratings float32 ``[T, D, A]``, the rest float32 ``[T, D]``."""
    from seru.data import labels
    from seru.data.resample import resample_ratings

    r = np.asarray(resample_ratings(ratings, hop_in_s, hop_s), np.float32)
    if delay_frames:
        r = np.asarray(labels.shift_labels(r, int(delay_frames), axis=0), np.float32)
    g, s, n = rating_targets(r, gold, std_fill=np.nan)
    return r, g, s, n


def video_features(record: Mapping[str, Any], video_hop_s: float, hop_s: float,
                   num_frames: int, where: str = "") -> np.ndarray:
    """Landmark features float32 ``[T, 98]`` of a record (NaN rows: no tracked face).
    Raises ``ValueError`` if the record has no ``video_landmarks``."""
    from seru.data.features.landmarks import landmark_frames

    if "video_landmarks" not in record:
        raise ValueError(f"record {where}: no 'video_landmarks' (data.frames.modality='video' "
                         f"needs a corpus with a video stream, e.g. seru_synth_continuous "
                         f">= 1.3.0)")
    mask = record.get("video_mask")
    return landmark_frames(record["video_landmarks"], mask, video_hop_s, hop_s, num_frames)


def audio_features(record_id: str, audio: np.ndarray, sr: int, config, num_frames: int,
                   cache_dir: str | None) -> np.ndarray:
    """Frame functionals float32 ``[T, 2L]`` of one recording (cached when ``cache_dir``)."""
    from seru.data.features import feature_config
    from seru.data.features.frame_functionals import (cached_frame_functionals,
                                                      frame_functionals,
                                                      frame_functionals_resize, lld_frames,
                                                      lld_hop_seconds)

    f = config.data.frames
    cfg = feature_config(config)
    audio = np.asarray(audio, np.float32)
    if cache_dir is None:
        x = frame_functionals(lld_frames(audio, sr, cfg), lld_hop_seconds(cfg),
                              float(f.hop_s), float(f.window_s))
        return frame_functionals_resize(x, num_frames)
    return cached_frame_functionals(record_id, audio, sr, cfg, cache_dir=cache_dir,
                                    corpus=config.data.corpus, variant=config.data.variant,
                                    hop_s=float(f.hop_s), window_s=float(f.window_s),
                                    num_frames=num_frames)


def preprocess_frames(record: Mapping[str, Any], config, *, hop_in_s: float,
                      video_hop_s: float | None, cache_dir: str | None, where: str = ""
                      ) -> FrameRecording:
    """One record -> a :class:`FrameRecording` (raw features, unscaled std): the module
    docstring's steps 1-4."""
    from seru.data.schema import decode_text

    d = config.data
    modality = d.frames.modality
    if modality not in MODALITIES:
        raise ValueError(f"data.frames.modality must be one of {MODALITIES}, got {modality!r}")
    rid = decode_text(record.get("id", where))
    where = where or rid
    ratings = record_ratings(record, d.dimensions, where)
    hop_s = float(d.frames.hop_s)
    r, g, s, n = frame_targets(ratings, hop_in_s, hop_s, d.gold, d.delay_frames)
    t = r.shape[0]
    if modality == "audio":
        sr = int(np.asarray(record.get("sample_rate", 16_000)))
        feats = audio_features(rid, record["audio"], sr, config, t, cache_dir)
    else:
        feats = video_features(record, video_hop_s or hop_in_s, hop_s, t, where)
    valid = np.isfinite(feats).all(-1).astype(np.float32)
    return FrameRecording(id=rid, speaker=decode_text(record.get("speaker", "")),
                          audio=np.zeros(0, np.float32), gold=g, std=s, num_raters=n,
                          ratings=r, gender=decode_text(record.get("gender", "")),
                          features=np.asarray(feats, np.float32), valid=valid)


# ----------------------------------------------------------------------------
# Statistics (training split only)
# ----------------------------------------------------------------------------


def fit_statistics(train: Sequence[FrameRecording]) -> dict:
    """JSON-able statistics of the training recordings' valid frames (``mask`` = 1):
    ``feature_mean`` / ``feature_std`` (lists of F floats; std population, 1 where
    <= 1e-8) and ``std_scaling`` (:func:`seru.data.labels.fit_unit_scaling` of the
    rater std per dimension). Raises ``ValueError`` without a valid training frame."""
    from seru.data import labels

    masks = [r.mask.astype(bool) for r in train]
    x = np.concatenate([r.features[m] for r, m in zip(train, masks)], 0).astype(np.float64)
    if x.shape[0] == 0:
        raise ValueError("no valid training frame (rated, with features) to fit the statistics")
    std = x.std(0)
    scaling = labels.fit_unit_scaling(
        [r.std for r in train], [np.broadcast_to(m[:, None], r.std.shape) for r, m in
                                 zip(train, masks)], method=STD_SCALING, axis=-1)
    return {"feature_mean": x.mean(0).tolist(),
            "feature_std": np.where(std > 1e-8, std, 1.0).tolist(),
            "std_scaling": scaling, "num_frames": int(x.shape[0])}


def apply_statistics(rec: FrameRecording, statistics: Mapping[str, Any]) -> FrameRecording:
    """``rec`` with standardised features (NaN -> 0) and the rescaled std (NaN kept)."""
    from seru.data import labels

    mean = np.asarray(statistics["feature_mean"], np.float64)
    sd = np.asarray(statistics["feature_std"], np.float64)
    if rec.features.shape[1] != mean.shape[0]:
        raise ValueError(f"recording {rec.id}: {rec.features.shape[1]} features, the statistics "
                         f"have {mean.shape[0]}")
    z = np.nan_to_num((rec.features.astype(np.float64) - mean) / sd, nan=0.0)
    s = np.asarray(labels.apply_unit_scaling(rec.std.astype(np.float64),
                                             statistics["std_scaling"]), np.float32)
    return dataclasses.replace(rec, features=z.astype(np.float32), std=s)


# ----------------------------------------------------------------------------
# Building from a config
# ----------------------------------------------------------------------------


def load_frames(config, splits: Sequence[str] | None = None
                ) -> dict[str, list[FrameRecording]]:
    """``{split: [FrameRecording]}`` (raw features, unscaled std) of ``config.data``'s corpus;
    ``splits`` default: train, dev and test. Raises ``seru.data.errors.UnknownSplit`` for a missing split."""
    from seru.data import corpora
    from seru.data.features import feature_config

    d = config.data
    meta, records = corpus_records(config, splits)
    hop_in = of_corpus(meta).hop_s
    video_hop = meta.get("video_frame_hop_s")
    cfg = feature_config(config)
    cache_dir = cfg["cache_dir"] or os.path.join(d.data_dir or corpora.default_data_dir(),
                                                 "seru_features")
    video_hop = None if video_hop is None else float(video_hop)
    return {split: [preprocess_frames(rec, config, hop_in_s=hop_in, video_hop_s=video_hop,
                                      cache_dir=cache_dir, where=where) for rec, where in recs]
            for split, recs in records.items()}


def from_frames(recordings: Mapping[str, Sequence[FrameRecording]], config,
                statistics: Mapping[str, Any] | None = None, process_index: int = 0,
                process_count: int = 1, train_split: str | None = None) -> FrameDataset:
    """A :class:`FrameDataset` of raw ``recordings``: ``statistics`` (default: fitted on
    ``recordings[config.data.train_split]``) applied to every split."""
    d = config.data
    if statistics is None:
        if d.train_split not in recordings or not recordings[d.train_split]:
            raise ValueError(f"no recordings in the training split {d.train_split!r}")
        statistics = fit_statistics(recordings[d.train_split])
    scaled = {k: [apply_statistics(r, statistics) for r in v] for k, v in recordings.items()}
    return FrameDataset(
        scaled, statistics=dict(statistics), seq_len=d.seq_len, batch_size=d.batch_size,
        eval_seq_len=d.eval_seq_len, eval_context=d.eval_context,
        eval_batch_size=config.eval.batch_size, train_split=train_split or d.train_split,
        dimensions=d.dimensions, process_index=process_index, process_count=process_count,
        time_base=time_base(config))


def build(config, splits: Sequence[str] | None = None, process_index: int = 0,
          process_count: int = 1, statistics: Mapping[str, Any] | None = None) -> FrameDataset:
    """The ``'frame_features'`` dataset of ``config`` (module docstring). ``splits``
    default: train, dev and test; the training split is always loaded when the
    statistics are to be fitted (``statistics`` None)."""
    d = config.data
    want = list(splits or [s for s in (d.train_split, d.dev_split, d.test_split) if s])
    if statistics is None and d.train_split not in want:
        want = [d.train_split] + want
    return from_frames(load_frames(config, want), config, statistics, process_index,
                       process_count)


def training_statistics(config) -> dict:
    """The statistics of ``config``'s training split (only that split is loaded)."""
    return fit_statistics(load_frames(config, [config.data.train_split])[config.data.train_split])
