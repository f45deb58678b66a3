"""Utterances as frame sequences with attributes and vote distributions: the input type
``utterance_frames`` (mitra25).

Per utterance of an utterance corpus (``seru_synth_utterances``, MSP-Podcast, IEMOCAP,
CREMA-D: the schema of ``seru/data/schema.py``):

Records are read by ``seru/data/utterance_records.py`` (votes mapped onto the classes,
noise-degraded copies of a split), frames made by ``seru/data/frame_extractors.py``.

* **frames** ``[T, F]`` of the extractor that ``config.data.utterance.frames`` names: the
  MFBF0 of ``seru/data/features/mfbf0.py`` (40 log mel bands + log F0 + voicing per 10 ms,
  cached per utterance), or an encoder layer (registered by the encoder input);
  standardised per feature with the mean and std of every frame of the training split;
* **attributes** ``[D]``: the raters' mean rating per dimension mapped linearly from the
  corpus' ``rating_range`` to [-1, 1] (``seru.data.features.targets.utterance_targets``);
  ``attr_mask`` 1 where the dimension has a rating;
* **votes** ``[K]`` over ``config.data.utterance.classes`` (default: mitra25's six
  emotions, neutral, happy, angry, sad, contempt, surprise): the primary-vote counts of
  those classes; the votes for the corpus' other classes (MSP-Podcast and the synthetic
  corpus: fear, disgust, other) are left out, so ``votes_pdf`` (``labels.vote_pdf``) is the
  distribution over the K classes of the votes cast for them; ``class_mask`` 0 for an
  utterance without such a vote (kept for the attributes, out of every class metric);
  ``label``: the plurality class (``labels.plurality_class``), -1 without a unique one.

Batches (training and evaluation, all shapes static): ``features`` float32 ``[B, T, F]``
(``T`` = ``config.data.utterance.max_seconds`` at the extractor's hop, :func:`max_frames`;
longer utterances keep their first T frames, counted in ``cropped``; padding 0), ``lengths`` int32 ``[B]``, ``attributes`` and
``attr_mask`` ``[B, D]``, ``votes_pdf`` ``[B, K]``, ``consensus`` ``[B, K]`` (one-hot of
``label``, 0 without one), ``class_mask`` ``[B]`` (1 = a vote for one of the K classes),
``has_label`` ``[B]``, ``mask`` ``[B]`` (1 = a real row). Utterance-level: ``framewise``
False, ``time_base`` None. ``targets(split)`` per id: ``gold`` ``[1, D]``, ``mask``
``[1]``, ``attr_mask`` ``[1, D]``, ``votes_pdf`` ``[1, K]``, ``label`` ``[1]``,
``class_mask`` ``[1]``, ``std`` ``[1, D]`` (unbiased rater std, rating scale),
``speaker`` and ``gender`` (0-d str).
"""
from __future__ import annotations

import warnings
from typing import Any, Mapping, Sequence

import numpy as np

from seru.data.errors import UnknownSplit
from seru.data.frame_extractors import extractor, input_info, max_frames
from seru.data.utterance_batches import UtteranceBatches
from seru.data.utterance_records import (NOISY_SPLIT, NoisySource, cache_dir_of, noisy_source,
                                         read_split, vote_matrix)

_BATCH_KEYS = ("attributes", "attr_mask", "votes_pdf", "consensus", "class_mask", "has_label")


class FrameScaler:
    """Per-feature mean and population std (1 where <= 1e-8) over every frame of a list of
    ``[T_i, F]`` arrays (the training split); ``ValueError`` without a frame."""

    def __init__(self, frames: Sequence[np.ndarray]):
        if not frames or sum(len(f) for f in frames) == 0:
            raise ValueError("no training frames to compute the feature statistics")
        x = np.concatenate([np.asarray(f, np.float64) for f in frames])
        self.mean = x.mean(0)
        s = x.std(0)
        self.std = np.where(s > 1e-8, s, 1.0)

    def __call__(self, f: np.ndarray) -> np.ndarray:
        return ((np.asarray(f, np.float64) - self.mean) / self.std).astype(np.float32)

    def to_json(self) -> dict:
        return {"mean": self.mean.tolist(), "std": self.std.tolist()}


class UtteranceFramesDataset(UtteranceBatches):
    """The ``utterance_frames`` dataset (batches and targets: the module docstring), with
    the interface of :class:`seru.data.inputs.Dataset`; the batching (training order,
    evaluation padding, processes) is that of
    :class:`seru.data.utterance_batches.UtteranceBatches`.

    Args:
      splits: ``{split: read_split(...) output}`` (raw frames).
      scaler: the training split's :class:`FrameScaler`.
      classes: the K class names of ``votes``.
      max_frames: T of every batch.

    Raises:
      ValueError: ``train_split`` missing or empty; a batch size not divisible by
        ``process_count``.
    """

    #: what the input chose that is kept with the run (``input_info.json``)
    input_info: dict = {}
    #: per split, what the input made of it (a noisy copy's noise), kept in its metrics.json
    split_info: dict = {}

    def __init__(self, splits: Mapping[str, Mapping[str, Any]], scaler: FrameScaler, *,
                 classes: Sequence[str], dimensions: Sequence[str], max_frames: int,
                 batch_size: int, eval_batch_size: int, train_split: str,
                 process_index: int = 0, process_count: int = 1):
        super().__init__(splits, batch_size=batch_size, eval_batch_size=eval_batch_size,
                         train_split=train_split, process_index=process_index,
                         process_count=process_count)
        from seru.data import labels

        self.scaler, self.classes = scaler, tuple(classes)
        self.dimensions, self.max_frames = tuple(dimensions), int(max_frames)
        self.skipped, self.cropped = {}, {}
        for s, a in splits.items():
            votes = a["votes"]
            label = labels.plurality_class(votes)
            k = len(self.classes)
            consensus = np.where(label[:, None] >= 0,
                                 np.eye(k, dtype=np.float32)[np.maximum(label, 0)], 0.0)
            self.data[s] = dict(
                a, frames=[scaler(f) for f in a["frames"]],
                lengths=np.asarray([min(len(f), self.max_frames) for f in a["frames"]],
                                   np.int32),
                votes_pdf=np.asarray(labels.vote_pdf(votes.astype(np.float32)), np.float32),
                label=label, consensus=consensus.astype(np.float32),
                class_mask=(votes.sum(1) > 0).astype(np.float32),
                has_label=(label >= 0).astype(np.float32))
            self.skipped[s] = dict(a.get("skipped", {}))
            self.cropped[s] = int(sum(len(f) > self.max_frames for f in a["frames"]))
        self.feature_dim = int(self.scaler.mean.shape[0])

    def _rows(self, split: str, idx: np.ndarray, valid: np.ndarray) -> dict:
        a = self.data[split]
        feats = np.zeros((len(idx), self.max_frames, self.feature_dim), np.float32)
        lengths = np.zeros(len(idx), np.int32)
        for r, (i, v) in enumerate(zip(idx, valid)):
            if v:
                lengths[r] = a["lengths"][i]
                feats[r, :lengths[r]] = a["frames"][i][:lengths[r]]
        out = {k: a[k][idx] * valid.reshape((-1,) + (1,) * (a[k].ndim - 1)).astype(np.float32)
               for k in _BATCH_KEYS}
        return {"features": feats, "lengths": lengths, **out,
                "mask": valid.astype(np.float32)}

    def targets(self, split: str) -> dict[str, dict[str, np.ndarray]]:
        """Per id the targets listed in the module docstring."""
        self._check_split(split)
        a = self.data[split]
        return {str(rid): {"gold": a["attributes"][i][None], "attr_mask": a["attr_mask"][i][None],
                           "mask": np.ones(1, np.float32), "std": a["std"][i][None],
                           "votes_pdf": a["votes_pdf"][i][None], "label": a["label"][i][None],
                           "class_mask": a["class_mask"][i][None],
                           "speaker": np.asarray(str(a["speakers"][i])),
                           "gender": np.asarray(str(a["genders"][i]))}
                for i, rid in enumerate(a["ids"])}


def open_split(config, split: str, opened=None, progress: bool | None = None,
               strict: bool = True) -> dict:
    """:func:`read_split` of ``split`` of ``config.data``'s corpus (built if asked);
    ``opened``: ``(builder, sources)`` of ``seru.data.corpora.load`` to reuse; ``strict``:
    every class of ``data.utterance.classes`` must be in the corpus (the training corpus;
    another corpus warns about the ones it lacks, :func:`vote_matrix`).

    Raises:
      seru.data.errors.UnknownSplit: the corpus has no such split.
      ValueError: the corpus lacks a class of ``data.utterance.classes`` (``strict``) or
        a bad ``data.utterance.class_map`` (:func:`vote_matrix`).
    """
    from seru.data import corpora

    d = config.data
    builder, sources = opened or corpora.load(d.corpus, d.variant or None, d.data_dir or None,
                                              d.manual_dir or None, build=d.build)
    m = NOISY_SPLIT.match(split)
    if split not in sources and not (m and m["base"] in sources):
        raise UnknownSplit(f"corpus {d.corpus!r} ({d.variant}) has no split {split!r}; "
                           f"splits: {sorted(sources)} (and '<split>_snr<dB>', their "
                           "noise-degraded copies)")
    meta = builder.info.metadata or {}
    if split not in sources:
        sources = dict(sources, **{split: noisy_source(config, split, sources)})
    m = vote_matrix(meta.get("class_names") or (), d.utterance.classes, d.utterance.class_map,
                    strict=strict)
    if not m.any(0).all():  # only without strict: vote_matrix raised otherwise
        warnings.warn(f"corpus {d.corpus!r}: no votes for the classes "
                      f"{[c for k, c in enumerate(d.utterance.classes) if not m[:, k].any()]}",
                      RuntimeWarning, stacklevel=2)
    ext = extractor(config, d.corpus, d.variant, cache_dir_of(config))
    arrays = read_split(sources[split], d.dimensions, m, meta.get("rating_range"), ext,
                        where=f"{d.corpus}/{split}",
                        progress=config.train.progress_bar if progress is None else progress)
    src = sources[split]
    if isinstance(src, NoisySource):
        arrays["noise"] = src.summary()
        if src.peaks:
            worst = max(src.peaks, key=src.peaks.get)
            warnings.warn(f"{d.corpus}/{split}: {len(src.peaks)} of {len(src)} noisy mixtures "
                          f"peak above 1 (highest {src.peaks[worst]:.2f}, {worst}); kept as "
                          "float audio, not clipped", RuntimeWarning, stacklevel=2)
    if d.max_recordings:
        arrays = {k: (v if k in ("skipped", "noise") else v[:d.max_recordings])
                  for k, v in arrays.items()}
    return arrays


def build(config, splits: Sequence[str] | None = None, process_index: int = 0,
          process_count: int = 1, scaler: FrameScaler | None = None) -> UtteranceFramesDataset:
    """The ``utterance_frames`` dataset of ``config``: ``splits`` (default: train, dev and
    test of ``config.data``), standardised with ``scaler`` or the training split's; with a
    ``scaler`` (another corpus than the run's), classes the corpus lacks only warn."""
    from seru.data import corpora

    d = config.data
    opened = corpora.load(d.corpus, d.variant or None, d.data_dir or None,
                          d.manual_dir or None, build=d.build)
    wanted = list(dict.fromkeys(splits or [s for s in (d.train_split, d.dev_split,
                                                       d.test_split) if s]))
    arrays = {s: open_split(config, s, opened, strict=scaler is None) for s in wanted}
    if scaler is None:
        scaler = FrameScaler(arrays[d.train_split]["frames"] if d.train_split in arrays
                             else open_split(config, d.train_split, opened)["frames"])
    ds = UtteranceFramesDataset(
        arrays, scaler, classes=d.utterance.classes, dimensions=d.dimensions,
        max_frames=max_frames(config), batch_size=d.batch_size,
        eval_batch_size=config.eval.batch_size, train_split=wanted[0] if splits else
        d.train_split, process_index=process_index, process_count=process_count)
    ds.input_info = input_info(config)
    ds.split_info = {s: {"noise": a["noise"]} for s, a in arrays.items() if "noise" in a}
    return ds
