"""The registry of input types: how the dataset a system reads is built.

A system names its input type (``System.INPUT``, and ``config.data.input``);
the trainer, the evaluation job and the Predictor build datasets only through
:func:`get`. Adding an input type (frame-level functionals, encoder
embeddings) is one :func:`register` call with an :class:`InputType`.

An input type builds three kinds of dataset, all with the interface of
:class:`Dataset`:

* ``build(config, splits, process_index, process_count)``: the corpus of
  ``config.data`` (training and evaluation);
* ``other_corpus(config, corpus, variant, split, ...)``: a split of another
  corpus or variant, prepared as the training run expects it (cross-corpus
  evaluation, sridhar21 Sec. V-D);
* ``from_signals(config, signals)``: the split ``'predict'`` of new audio
  (the Predictor), ``signals`` a list of ``(id, audio [samples] float32,
  sample_rate Hz)``.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any, Callable, Iterator, Protocol, Sequence

import numpy as np

from seru.fields import Field


class Dataset(Protocol):
    """What every dataset offers (details: the docstring of ``seru/data/pipeline.py``)."""

    splits: tuple[str, ...]
    dimensions: tuple[str, ...]
    steps_per_epoch: int
    framewise: bool      # predictions have a time axis after the batch axis
    time_base: Any       # seru.data.timebase.TimeBase, or None (utterance level)

    def example_batch(self) -> dict[str, np.ndarray]: ...

    def train_iter(self, seed: int, epoch: int) -> Iterator[dict[str, np.ndarray]]: ...

    def eval_iter(self, split: str) -> Iterator[tuple[dict, dict]]: ...

    def targets(self, split: str) -> dict[str, dict[str, np.ndarray]]: ...


@dataclasses.dataclass(frozen=True)
class InputType:
    """The three dataset builders of an input type (see the module docstring),
    ``level_note(config) -> str`` (how the recording's level affects the predictions),
    ``options`` (whether it reads the ``config.data.features`` options) and ``check``
    (problems of its own options, one line each; ``seru.config.validate`` reports them)."""

    name: str
    help: str
    build: Callable[..., Dataset]
    other_corpus: Callable[..., Dataset]
    from_signals: Callable[..., Dataset]
    level_note: Callable[[Any], str]
    options: bool = False  # whether it reads config.data.features (FEATURE_FIELDS)
    #: ``check(config) -> [problem, ...]``: its own options, checked before anything is built
    check: Callable[[Any], list] = lambda config: []


INPUTS: dict[str, InputType] = {}


def register(input_type: InputType) -> InputType:
    """Adds ``input_type`` to :data:`INPUTS`; raises ``ValueError`` if its name is taken."""
    if input_type.name in INPUTS:
        raise ValueError(f"input type {input_type.name!r} is registered already")
    INPUTS[input_type.name] = input_type
    return input_type


def get(name: str) -> InputType:
    """The registered input type ``name``; ``KeyError`` naming the known ones otherwise."""
    if name not in INPUTS:
        raise KeyError(f"data.input={name!r}: not a registered input type; known: "
                       f"{', '.join(INPUTS)}")
    return INPUTS[name]


def training_statistics(fn, config):
    """``fn(config)`` -- the statistics an input type takes from a run's training split --
    computed once per ``fn`` and config (``seru.data.once.per_config``), so that prediction
    and cross-corpus evaluation do not read the training split each call."""
    from seru.data import once

    return once.per_config(fn, config)


def _other(config, corpus: str | None, variant: str | None):
    ev = copy.deepcopy(config)
    ev.data.corpus = corpus or config.data.corpus
    ev.data.variant = config.data.variant if variant is None else variant
    return ev


# =============================================================================
# raw_audio: continuous corpora, frame-level ratings (prabhu22)
# =============================================================================


def _raw_build(config, splits: Sequence[str] | None = None, process_index: int = 0,
               process_count: int = 1):
    from seru.data import pipeline

    recs, tb = pipeline.load_corpus(config, splits)
    return pipeline.from_recordings(recs, config, process_index, process_count, tb)


def _raw_other(config, corpus, variant, split, process_index=0, process_count=1):
    ev = _other(config, corpus, variant)
    ev.data.train_split = split
    return _raw_build(ev, [split], process_index, process_count)


def _raw_signals(config, signals, time_base=None):
    from seru.data import pipeline, timebase

    tb = time_base or timebase.CONTINUOUS
    dims = tuple(config.data.dimensions)
    recs = []
    for rid, audio, sr in signals:
        n_frames = tb.frames(len(audio) * tb.sample_rate / sr)
        record = {"id": rid, "speaker": "", "audio": audio, "sample_rate": sr,
                  **{d: np.full((n_frames, 1), np.nan, np.float32) for d in dims}}
        recs.append(pipeline.preprocess_record(record, dims, "mean", 0, where=rid,
                                               audio_norm=config.data.audio_norm,
                                               time_base=tb))
    c = config.copy_and_resolve_references()
    c.data.train_split = "predict"
    return pipeline.from_recordings({"predict": recs}, c, time_base=tb)


def _raw_level(config) -> str:
    if config.data.audio_norm == "recording":
        return "each recording is z-normalised first: the recording's gain does not matter"
    return ("data.audio_norm='none': the audio is used as stored, so the predictions depend on "
            "the recording's gain (in the training data level carries arousal); record and "
            "compare at the level of the training corpus")


register(InputType("raw_audio", "continuous corpora: raw audio and frame-level ratings",
                   _raw_build, _raw_other, _raw_signals, _raw_level))


# =============================================================================
# functionals: utterance-level acoustic functionals (sridhar21)
# =============================================================================


def _fx_build(config, splits=None, process_index=0, process_count=1):
    from seru.data import features

    return features.build_dataset(config, process_index, process_count)


def _fx_other(config, corpus, variant, split, process_index=0, process_count=1):
    """The features are extracted (and cached) with the training run's feature config and
    standardised with the statistics of the *training* corpus' training split; the targets
    use the evaluation corpus' own ``rating_range``."""
    from seru.data import features

    scaler, _ = training_statistics(_fx_statistics, config)
    ev = _other(config, corpus, variant)
    cfg = features.feature_config(ev)
    opened = features.open_corpus(ev.data, cfg)
    arrays, skipped = features.split_arrays(ev.data, cfg, opened, split)
    return features.FunctionalsDataset(
        {split: arrays}, scaler, batch_size=config.data.batch_size,
        eval_batch_size=config.eval.batch_size, train_split=split,
        dimensions=config.data.dimensions, rating_range=opened.rating_range,
        skipped={split: skipped}, process_index=process_index, process_count=process_count)


def _fx_statistics(config):
    """``(scaler, rating_range)`` of a run's training split."""
    from seru.data import features

    ds = features.build_dataset(config)
    return ds.scaler, ds.rating_range


def _fx_signals(config, signals, time_base=None):
    """Functionals of each signal, standardised with the training split's statistics (read
    once per config); a signal the extractor cannot use (too short, silent) raises
    ``ValueError``."""
    from seru.data import features

    scaler, rating_range = training_statistics(_fx_statistics, config)
    cfg = dict(features.feature_config(config), progress=False)
    dims = tuple(config.data.dimensions)
    source = [{"id": rid, "audio": np.asarray(x, np.float32), "sample_rate": sr}
              for rid, x, sr in signals]
    raw = features.extract_split(source, cfg, dims, where="predict")
    if len(raw["skipped_ids"]):
        bad = ", ".join(f"{i} ({r})" for i, r in zip(raw["skipped_ids"], raw["skipped_reasons"]))
        raise ValueError(f"no features for: {bad}")
    arrays, _ = features.assemble_split(raw, dims, rating_range, cfg["num_bins"], labeled=False)
    return features.FunctionalsDataset(
        {"predict": arrays}, scaler, batch_size=config.data.batch_size,
        eval_batch_size=config.eval.batch_size, train_split="predict", dimensions=dims,
        rating_range=rating_range)


def _fx_level(config) -> str:
    return ("features are standardised with the training split's statistics; the level-"
            "dependent ones (energy, loudness) follow the recording's gain")


register(InputType("functionals", "utterance-level acoustic functionals (librosa LLDs or "
                   "openSMILE ComParE 2016) and utterance ratings", _fx_build, _fx_other,
                   _fx_signals, _fx_level, options=True))


# =============================================================================
# frame_features: continuous corpora at a coarse time base, frame-level features (han17)
# =============================================================================


def _frames_build(config, splits=None, process_index=0, process_count=1):
    from seru.data import frames

    return frames.build(config, splits, process_index, process_count)


def _frames_stats(config) -> dict:
    """The feature and std statistics of a run's training split (once per config)."""
    from seru.data import frames

    return training_statistics(frames.training_statistics, config)


def _frames_other(config, corpus, variant, split, process_index=0, process_count=1):
    """A split of another corpus / variant, standardised (features) and rescaled (std) with
    the statistics of the *training* corpus' training split."""
    from seru.data import frames

    ev = _other(config, corpus, variant)
    ev.data.train_split = split
    return frames.build(ev, [split], process_index, process_count,
                        statistics=_frames_stats(config))


def _frames_signals(config, signals, time_base=None):
    """Audio modality only: the frame functionals of each signal (not cached), standardised
    with the training split's statistics; no targets (mask 0)."""
    from seru.data import frames

    if config.data.frames.modality != "audio":
        raise ValueError(f"data.frames.modality={config.data.frames.modality!r}: prediction "
                         "from audio signals needs the 'audio' modality (no video here)")
    stats = _frames_stats(config)
    tb = frames.time_base(config)
    dims = tuple(config.data.dimensions)
    recs = []
    for rid, audio, sr in signals:
        n_frames = tb.frames(len(audio) * tb.sample_rate / sr)
        feats = frames.audio_features(rid, audio, sr, config, n_frames, cache_dir=None)
        nan = np.full((n_frames, len(dims)), np.nan, np.float32)
        recs.append(frames.FrameRecording(
            id=rid, speaker="", audio=np.zeros(0, np.float32), gold=nan, std=nan,
            num_raters=np.zeros((n_frames, len(dims)), np.float32),
            ratings=np.full((n_frames, len(dims), 1), np.nan, np.float32),
            features=feats, valid=np.ones(n_frames, np.float32)))
    c = config.copy_and_resolve_references()
    c.data.train_split = "predict"
    return frames.from_frames({"predict": recs}, c, stats)


def _frames_level(config) -> str:
    if config.data.frames.modality == "video":
        return "video landmarks: the audio level does not enter"
    return ("features are standardised with the training split's statistics; the level-"
            "dependent LLDs (energy, loudness, mel bands) follow the recording's gain")


register(InputType("frame_features", "continuous corpora at data.frames.hop_s (han17: 100 ms): "
                   "frame LLD functionals or face landmarks, ratings resampled per rater",
                   _frames_build, _frames_other, _frames_signals, _frames_level,
                   options=True))


# =============================================================================
# utterance_frames: utterance corpora, frame sequences, attributes and votes (mitra25)
# =============================================================================


def _utt_build(config, splits=None, process_index=0, process_count=1):
    from seru.data import utterance_frames

    return utterance_frames.build(config, splits, process_index, process_count)


def _utt_train_scaler(config):
    from seru.data import utterance_frames

    return utterance_frames.FrameScaler(
        utterance_frames.open_split(config, config.data.train_split, progress=False)["frames"])


def _utt_scaler(config):
    """The frame statistics of a run's training split (once per config: the cache keys on
    the function, so it is a module-level one)."""
    return training_statistics(_utt_train_scaler, config)


def _utt_other(config, corpus, variant, split, process_index=0, process_count=1):
    """A split of another corpus / variant, standardised with the statistics of the
    *training* corpus' training split; the classes of ``data.utterance.classes`` must exist
    in the other corpus (``ValueError`` naming the missing ones)."""
    from seru.data import utterance_frames

    ev = _other(config, corpus, variant)
    ev.data.train_split = split
    return utterance_frames.build(ev, [split], process_index, process_count,
                                  scaler=_utt_scaler(config))


def _utt_signals(config, signals, time_base=None):
    """The frames of each signal (not cached), standardised with the training split's
    statistics; no targets (masks 0)."""
    from seru.data import frame_extractors
    from seru.data import utterance_frames as U

    k, d = len(config.data.utterance.classes), len(config.data.dimensions)
    ext = frame_extractors.extractor(config, "", "", None)
    n = len(signals)
    arrays = {"ids": np.asarray([s[0] for s in signals], str),
              "speakers": np.full(n, ""), "genders": np.full(n, "unknown"),
              "frames": [ext(rid, np.asarray(x, np.float32), sr) for rid, x, sr in signals],
              "attributes": np.zeros((n, d), np.float32), "attr_mask": np.zeros((n, d), np.float32),
              "std": np.zeros((n, d), np.float32), "votes": np.zeros((n, k), np.int64)}
    return U.UtteranceFramesDataset(
        {"predict": arrays}, _utt_scaler(config), classes=config.data.utterance.classes,
        dimensions=config.data.dimensions, max_frames=frame_extractors.max_frames(config),
        batch_size=config.data.batch_size, eval_batch_size=config.eval.batch_size,
        train_split="predict")


def _utt_level(config) -> str:
    return ("frames are standardised with the training split's statistics; the log mel "
            "energies follow the recording's gain")


def _utt_check(config) -> list[str]:
    from seru.data import frame_extractors

    return frame_extractors.check(config)


register(InputType("utterance_frames", "utterance corpora: frame sequences (MFBF0 or encoder "
                   "layers), attributes and vote distributions", _utt_build, _utt_other,
                   _utt_signals, _utt_level, check=_utt_check))


# =============================================================================
# Options of the functionals input (config.data.features)
# =============================================================================

_FEATURE_HELP = {
    "name": "feature set: seru's librosa LLD functionals, or openSMILE ComParE 2016 "
            "(research licence, the 'opensmile' extra)",
    "n_mfcc": "MFCCs among the librosa LLDs",
    "n_mels": "mel bands of the librosa LLDs",
    "n_fft": "FFT size of the librosa LLDs, samples at 16 kHz",
    "win_length": "analysis window, samples at 16 kHz (400 = 25 ms)",
    "hop_length": "LLD hop, samples at 16 kHz (160 = 10 ms)",
    "fmin": "lowest F0 searched, Hz",
    "fmax": "highest F0 searched, Hz",
    "f0_frame_length": "F0 analysis frame, samples (1024 = 64 ms: two periods of fmin)",
    "voicing_threshold": "voicing probability above which a frame counts as voiced",
    "min_frames": "LLD frames an utterance needs (shorter ones are skipped as too_short)",
    "silence_db": "utterance RMS (dBFS) below which it is skipped as silent",
    "num_bins": "soft-label bins over the rating scale (sridhar21: 7)",
    "cache_dir": "feature cache; '' = <data_dir>/seru_features",
    "pretrain_split": "unlabeled split of sridhar21's stage 1 (pre-training)",
    "progress": "progress bar while extracting",
}


def _feature_fields() -> tuple[Field, ...]:
    from seru.data import features

    missing = set(features.DEFAULTS) ^ set(_FEATURE_HELP)
    if missing:
        raise RuntimeError(f"feature options without a meaning or a default: {sorted(missing)}")
    return tuple(Field(k, v, _FEATURE_HELP[k],
                       tuple(features.FEATURE_SETS) if k == "name" else None)
                 for k, v in features.DEFAULTS.items())


#: The ``config.data.features`` table (defaults: ``seru.data.features.DEFAULTS``).
FEATURE_FIELDS: tuple[Field, ...] = _feature_fields()
