"""The input pipeline: corpus records -> fixed-shape numpy batches.

``data/`` knows no model and no loop: this module turns the records of a corpus
(``seru/data/schema.py``) into the arrays a system consumes, with the targets
computed by ``seru/data/labels.py`` from the config. Everything is cached in
memory once (the corpora we train on CPU are small).

The dataset interface
---------------------
The input types of ``seru/data/inputs.py`` build datasets (this module's
:class:`ContinuousDataset` for ``'raw_audio'``; utterance functionals in
``seru/data/features/``). Every dataset offers (:class:`seru.data.inputs.Dataset`;
the trainer and the evaluation job use nothing else):

``example_batch() -> dict[str, np.ndarray]``
    one training batch of the exact shapes/dtypes of every batch (for ``System.init``).
``steps_per_epoch: int``
    number of training batches of one epoch.
``train_iter(seed, epoch) -> Iterator[dict[str, np.ndarray]]``
    the ``steps_per_epoch`` training batches of that epoch, a pure function of
    ``(seed, epoch)`` (a resumed run sees the same batches). Every batch has the
    same shapes (pad + ``mask``); the leading axis is the *process-local* batch
    (``config.data.batch_size // jax.process_count()``).
``eval_iter(split) -> Iterator[tuple[dict, dict]]``
    ``(batch, meta)`` pairs covering every item of ``split`` once, fixed shapes;
    ``batch`` holds this process's rows, ``meta`` describes the rows of the
    global batch (with one process they are the same) and has ``ids`` (list
    of str; ``''`` for padding rows), ``starts`` (int array [B]: first frame
    of the segment inside its item), ``lengths``
    (int array [B]: valid frames of the row; 0 for padding rows). Utterance
    datasets use ``starts = 0`` and ``lengths = 1``. Optional ``offsets`` (int
    array [B]): the row's first ``offset`` frames are left context (run through
    the model, then dropped); absent means 0.
``targets(split) -> dict[str, dict[str, np.ndarray]]``
    per item id, the whole-item targets (``gold``, ``std``, ``num_raters``
    ``[T, D]``, ``mask`` ``[T]``, and ``ratings`` ``[T, D, A]`` for the plots)
    and the item's ``speaker`` and ``gender`` (0-d str arrays; ``''`` if unknown).
``splits: tuple[str, ...]`` and ``dimensions: tuple[str, ...]``.
``time_base``: the :class:`seru.data.timebase.TimeBase` of the frames, or
    ``None`` for utterance-level items.
``framewise: bool`` (optional, default False unless a :class:`ContinuousDataset`)
    whether the system's predictions have a time axis after the batch axis;
    without one (utterance-level) each prediction row is one item, and
    :func:`reassemble` gives it a time axis of length 1 to match ``targets``.

:func:`reassemble` turns the per-row outputs of ``eval_iter`` batches back into
whole-item arrays.

Evaluation with a recurrent model: each segment of ``eval_seq_len`` frames is
preceded by ``eval_context`` frames of the recording (run, then dropped) so
that the LSTM state is warm at segment starts; a segment boundary costs
nothing else (the LSTM is reset there).

Continuous batches (``raw_audio``): ``audio`` float32 ``[B, T*S]`` at the time
base's sample rate (16 kHz), ``S`` = samples per frame (640 for the corpora's
40 ms); ``gold``, ``std``, ``num_raters`` float32 ``[B, T, D]``; ``mask``
float32 ``[B, T]`` (1 = a real frame with at least one rating). Frame ``t``
covers audio samples ``[t*S, (t+1)*S)``. Missing targets (NaN: no rater, or fewer than two raters
for the std) are written as 0; ``std`` of a frame with a single rater is 0.

Frame-feature batches (``frame_features``, ``seru/data/frames.py``, the same
class with ``input_key='features'``, ``flat_input=False``): ``features``
float32 ``[B, T, F]`` in place of ``audio``, the targets as above at the
dataset's time base (han17: 100 ms).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Iterator, Mapping, Sequence

import numpy as np

from seru.data.errors import UnknownSplit
from seru.data.timebase import CONTINUOUS, TimeBase

GOLD_STANDARDS = ("mean", "ewe", "avec")
AUDIO_NORMS = ("none", "recording")


# ----------------------------------------------------------------------------
# Per-recording preprocessing
# ----------------------------------------------------------------------------


@dataclasses.dataclass
class Recording:
    """One preprocessed continuous recording, whole."""

    id: str
    speaker: str
    audio: np.ndarray       # float32 [T * samples per frame]
    gold: np.ndarray        # float32 [T, D], NaN where no rater
    std: np.ndarray         # float32 [T, D], 0 where < 2 raters (labels.rater_std)
    num_raters: np.ndarray  # float32 [T, D]
    ratings: np.ndarray     # float32 [T, D, A], NaN = missing
    gender: str = ""

    @property
    def num_frames(self) -> int:
        return self.gold.shape[0]

    @property
    def mask(self) -> np.ndarray:
        """1 where every dimension has at least one rating."""
        return np.all(self.num_raters > 0, axis=-1).astype(np.float32)


def _gold_fn(name: str):
    from seru.data import labels

    return {"mean": labels.mean_rating, "ewe": labels.ewe,
            "avec": labels.avec_gold_standard}[name]


def record_ratings(record: Mapping[str, Any], dimensions: Sequence[str], where: str = "",
                   delay_frames: int = 0) -> np.ndarray:
    """The ratings of ``dimensions`` of one record, float32 ``[T, D, A]`` (NaN = missing;
    dimensions with fewer annotators are NaN-padded), each shifted earlier by
    ``delay_frames`` frames of the record's own hop (:func:`seru.data.labels.shift_labels`).

    Raises ``KeyError`` for a missing dimension, ``ValueError`` for ratings that are not
    ``[frames, annotators]`` or dimensions of different frame counts.
    """
    from seru.data import labels

    per_dim = []
    for dim in dimensions:
        if dim not in record:
            raise KeyError(f"record {where}: no rating dimension {dim!r}; the record has "
                           f"{sorted(k for k in record if k not in ('audio', 'id', 'speaker'))}")
        r = np.asarray(record[dim], np.float32)
        if r.ndim != 2:
            raise ValueError(f"record {where}, dimension {dim!r}: expected ratings of shape "
                             f"[frames, annotators], got shape {r.shape}")
        per_dim.append(r)
    n_frames = {r.shape[0] for r in per_dim}
    if len(n_frames) != 1:
        raise ValueError(f"record {where}: dimensions {list(dimensions)} have different "
                         f"frame counts {[r.shape[0] for r in per_dim]}")
    (n_frames,) = n_frames
    n_ann = max(r.shape[1] for r in per_dim)
    ratings = np.full((n_frames, len(dimensions), n_ann), np.nan, np.float32)
    for d, r in enumerate(per_dim):
        if delay_frames:
            r = np.asarray(labels.shift_labels(r, delay_frames, axis=0), np.float32)
        ratings[:, d, : r.shape[1]] = r
    return ratings


def rating_targets(ratings: np.ndarray, gold: str = "mean", std_fill: float = 0.0
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(gold, std, num_raters)``, float32 ``[T, D]`` each, of ratings ``[T, D, A]``.

    ``gold``: the gold standard ``gold`` (:data:`GOLD_STANDARDS`) per dimension, NaN where
    no rater; ``std``: :func:`seru.data.labels.rater_std` (unbiased), ``std_fill`` where
    fewer than two raters; ``num_raters``: the valid ratings per frame and dimension.
    Raises ``ValueError`` for an unknown ``gold``.
    """
    from seru.data import labels

    if gold not in GOLD_STANDARDS:
        raise ValueError(f"data.gold must be one of {GOLD_STANDARDS}, got {gold!r}")
    gold_fn = _gold_fn(gold)
    g = np.stack([np.asarray(gold_fn(ratings[:, d]), np.float32)
                  for d in range(ratings.shape[1])], axis=-1)
    n = np.asarray(labels.num_raters(ratings), np.float32)
    s = np.asarray(labels.rater_std(ratings, min_raters=2, fill=std_fill), np.float32)
    g = np.where(n > 0, g, np.nan).astype(np.float32)
    return g, s, n


def preprocess_record(record: Mapping[str, Any], dimensions: Sequence[str], gold: str = "mean",
                      delay_frames: int = 0, where: str = "",
                      audio_norm: str = "none", time_base: TimeBase = CONTINUOUS
                      ) -> Recording:
    """Targets and aligned 16 kHz audio of one continuous record (schema.py).

    Targets come from ``seru/data/labels.py``: the gold standard (``gold``:
    mean of the raters, EWE (Eq. (1) of han17) or the AVEC 2016 gold standard),
    the unbiased rater std (Sec. 3 of prabhu22: s_t) and the number of raters.
    ``delay_frames`` shifts the ratings earlier by that many frames (annotation
    delay compensation, han17) before any target is computed. Audio is
    resampled to the ``time_base``'s rate if needed, then truncated /
    zero-padded to ``frames * time_base.samples_per_frame`` samples. ``where`` names the record in error messages.
    ``audio_norm='recording'`` standardises the audio of each recording to zero
    mean and unit variance (``'none'``: as stored).
    """
    from seru.data.schema import decode_text

    rid = decode_text(record.get("id", where))
    where = where or rid
    if gold not in GOLD_STANDARDS:
        raise ValueError(f"data.gold must be one of {GOLD_STANDARDS}, got {gold!r}")
    ratings = record_ratings(record, dimensions, where, delay_frames)
    n_frames = ratings.shape[0]
    g, s, n = rating_targets(ratings, gold)

    audio = np.asarray(record["audio"], np.float32)
    if audio.ndim != 1:
        raise ValueError(f"record {where}: audio must be mono [samples], got shape {audio.shape}")
    sr = int(np.asarray(record.get("sample_rate", time_base.sample_rate)))
    if sr != time_base.sample_rate:
        from seru.data import audio as audio_lib

        audio = np.asarray(audio_lib.resample(audio, sr, time_base.sample_rate), np.float32)
    if audio_norm == "recording":
        audio = ((audio - audio.mean()) / max(float(audio.std()), 1e-8)).astype(np.float32)
    elif audio_norm != "none":
        raise ValueError(f"data.audio_norm must be one of {AUDIO_NORMS}, got {audio_norm!r}")
    want = n_frames * time_base.samples_per_frame
    audio = audio[:want] if audio.shape[0] >= want else np.pad(audio, (0, want - audio.shape[0]))
    return Recording(id=rid, speaker=decode_text(record.get("speaker", "")), audio=audio,
                     gold=g, std=s, num_raters=n, ratings=ratings,
                     gender=decode_text(record.get("gender", "")))


def _fill(x: np.ndarray) -> np.ndarray:
    return np.nan_to_num(x, nan=0.0).astype(np.float32)


# ----------------------------------------------------------------------------
# Continuous dataset
# ----------------------------------------------------------------------------


class ContinuousDataset:
    """In-memory continuous corpus: random training crops, segmented evaluation.

    Args:
      recordings: ``{split: [Recording, ...]}``.
      seq_len: training crop length in frames (prabhu22: 300 frames = 12 s).
      batch_size: the *global* training batch (prabhu22: 5).
      eval_seq_len: evaluation segment length in frames (bounded memory).
      eval_context: frames of left context run before each evaluation segment
        and dropped, so that a recurrent model is warmed up at segment starts.
      eval_batch_size: global evaluation batch.
      train_split: the split the training crops come from.
      process_index, process_count: this host's share of each global batch.
      time_base: frame hop and samples per frame of the recordings.
      input_key: the batch key of the input and the :class:`Recording` attribute it is
        read from (``'audio'``; ``'features'`` for the frame features of
        ``seru/data/frames.py``); the attribute holds ``[T * ...]`` values, frame ``t``
        its ``t``-th equal share.
      flat_input: batches hold the input flat, ``[B, L * S]`` (raw audio), else per
        frame, ``[B, L, F]`` (frame features).
    """

    def __init__(self, recordings: Mapping[str, Sequence[Recording]], *, seq_len: int,
                 batch_size: int, eval_seq_len: int, eval_batch_size: int,
                 eval_context: int = 0,
                 train_split: str = "train", dimensions: Sequence[str] = (),
                 process_index: int = 0, process_count: int = 1,
                 time_base: TimeBase = CONTINUOUS, input_key: str = "audio",
                 flat_input: bool = True):
        if train_split not in recordings or not recordings[train_split]:
            raise ValueError(f"no recordings in the training split {train_split!r}; "
                             f"splits: {sorted(recordings)}")
        for name, b in (("data.batch_size", batch_size), ("eval.batch_size", eval_batch_size)):
            if b % process_count:
                raise ValueError(f"{name}={b} is not divisible by the {process_count} processes")
        self.recordings = {k: list(v) for k, v in recordings.items()}
        self.splits = tuple(self.recordings)
        self.dimensions = tuple(dimensions)
        self.seq_len, self.batch_size = int(seq_len), int(batch_size)
        self.eval_seq_len, self.eval_batch_size = int(eval_seq_len), int(eval_batch_size)
        self.eval_context = int(eval_context)
        self.time_base = time_base
        self.input_key, self.flat_input = input_key, bool(flat_input)
        self.train_split = train_split
        self.process_index, self.process_count = process_index, process_count
        train = self.recordings[train_split]
        # An epoch draws as many crops as it takes to cover the training frames once.
        self.crops_per_epoch = sum(-(-r.num_frames // self.seq_len) for r in train)
        self.steps_per_epoch = max(1, self.crops_per_epoch // self.batch_size)
        self.num_dims = train[0].gold.shape[1]
        self.framewise = True

    # -- training ----------------------------------------------------------------

    def crops(self, seed: int, epoch: int) -> list[tuple[int, int]]:
        """The epoch's ``(recording index, start frame)`` crops, in batch order.

        A pure function of ``(seed, epoch)``; starts are uniform over the valid
        range; a recording shorter than ``seq_len`` is cropped at 0 and padded.
        """
        rng = np.random.default_rng([int(seed), int(epoch)])
        out = []
        for i, r in enumerate(self.recordings[self.train_split]):
            n = -(-r.num_frames // self.seq_len)
            hi = max(r.num_frames - self.seq_len, 0)
            out += [(i, int(s)) for s in rng.integers(0, hi + 1, size=n)]
        order = rng.permutation(len(out))
        total = self.steps_per_epoch * self.batch_size
        # Fewer crops than one batch (tiny corpora): repeat the permutation.
        order = np.resize(order, max(total, len(order)))[:total]
        return [out[j] for j in order]

    def _segment(self, rec: Recording, start: int, length: int) -> dict[str, np.ndarray]:
        """Frames ``[start, start+length)`` of ``rec``, zero-padded, with the mask."""
        t = np.arange(start, start + length)
        ok = (t >= 0) & (t < rec.num_frames)
        idx = np.where(ok, t, 0)
        x = getattr(rec, self.input_key).reshape(rec.num_frames, -1)[idx] * ok[:, None]
        m = rec.mask[idx] * ok
        def tgt(x):
            return _fill(x[idx]) * ok[:, None]
        x = x.reshape(-1) if self.flat_input else x
        return {self.input_key: x.astype(np.float32), "gold": tgt(rec.gold),
                "std": tgt(rec.std), "num_raters": tgt(rec.num_raters),
                "mask": m.astype(np.float32)}

    def _local_rows(self, rows: list, global_batch: int) -> list:
        per = global_batch // self.process_count
        return rows[self.process_index * per:(self.process_index + 1) * per]

    def train_batch(self, seed: int, epoch: int, b: int) -> dict[str, np.ndarray]:
        """Batch ``b`` of epoch ``epoch``: this process' rows of crops ``[b B, (b + 1) B)``
        of :meth:`crops` (random access, for the grain loader of ``seru/data/loader.py``)."""
        crops = epoch_cached(self.crops, self, seed, epoch)
        rows = self._local_rows(crops[b * self.batch_size:(b + 1) * self.batch_size],
                                self.batch_size)
        recs = self.recordings[self.train_split]
        return _stack([self._segment(recs[i], s, self.seq_len) for i, s in rows])

    def train_iter(self, seed: int, epoch: int) -> Iterator[dict[str, np.ndarray]]:
        """The epoch's batches in order (:meth:`train_batch` for ``b = 0, 1, ...``)."""
        for b in range(self.steps_per_epoch):
            yield self.train_batch(seed, epoch, b)

    def example_batch(self) -> dict[str, np.ndarray]:
        rec = self.recordings[self.train_split][0]
        return _stack([self._segment(rec, 0, self.seq_len)] * (self.batch_size // self.process_count))

    # -- evaluation --------------------------------------------------------------

    def segments(self, split: str) -> list[tuple[int, int, int]]:
        """``(recording index, start, valid length)`` of every evaluation segment."""
        self._check_split(split)
        out = []
        for i, r in enumerate(self.recordings[split]):
            for s in range(0, r.num_frames, self.eval_seq_len):
                out.append((i, s, min(self.eval_seq_len, r.num_frames - s)))
        return out

    def eval_iter(self, split: str) -> Iterator[tuple[dict, dict]]:
        recs = self.recordings[split]
        segs = self.segments(split)
        bs = self.eval_batch_size
        empty = self._empty_recording()
        for b in range(0, len(segs), bs):
            rows = segs[b:b + bs]
            rows = rows + [(-1, 0, 0)] * (bs - len(rows))
            local = self._local_rows(rows, bs)
            ctx = self.eval_context
            items = [self._segment(recs[i] if i >= 0 else empty, s - ctx,
                                   self.eval_seq_len + ctx) for i, s, _ in local]
            batch = _stack(items)
            if any(i < 0 for i, _, _ in local):
                batch["mask"] *= np.array([[i >= 0] for i, _, _ in local], np.float32)
            # meta describes the rows of the *global* batch (what predict returns, gathered).
            meta = {"ids": [recs[i].id if i >= 0 else "" for i, _, _ in rows],
                    "starts": np.array([s for _, s, _ in rows], np.int64),
                    "lengths": np.array([n for _, _, n in rows], np.int64),
                    "offsets": np.full(len(rows), ctx, np.int64)}
            yield batch, meta

    def _empty_recording(self) -> Recording:
        """A one-frame recording of zeros (the source of padding rows)."""
        return Recording("", "", np.zeros(self.time_base.samples_per_frame, np.float32),
                         *(np.zeros((1, self.num_dims), np.float32),) * 3,
                         np.zeros((1, self.num_dims, 1), np.float32))

    def targets(self, split: str) -> dict[str, dict[str, np.ndarray]]:
        self._check_split(split)
        return {r.id: {"gold": _fill(r.gold), "std": _fill(r.std),
                       "num_raters": r.num_raters, "mask": r.mask, "ratings": r.ratings,
                       "speaker": np.asarray(r.speaker), "gender": np.asarray(r.gender)}
                for r in self.recordings[split]}

    def _check_split(self, split):
        if split not in self.recordings:
            raise UnknownSplit(f"no split {split!r}; this corpus has {list(self.recordings)}")


def epoch_cached(fn, dataset, seed: int, epoch: int):
    """``fn(seed, epoch)`` of ``dataset``, computed once per (seed, epoch): the last
    result is kept on the dataset (``_epoch_cache``; one tuple, replaced atomically, so
    loader threads may share it)."""
    key = (fn.__name__, int(seed), int(epoch))
    cached = getattr(dataset, "_epoch_cache", None)
    if cached is None or cached[0] != key:
        cached = (key, fn(int(seed), int(epoch)))
        dataset._epoch_cache = cached
    return cached[1]


def _stack(items: list[dict]) -> dict[str, np.ndarray]:
    return {k: np.stack([it[k] for it in items]) for k in items[0]}


def reassemble(outputs: Sequence[Mapping[str, np.ndarray]], metas: Sequence[Mapping[str, Any]],
               time_axis: int | None = 1, sample_keys: Sequence[str] = ("samples",)
               ) -> dict[str, dict[str, np.ndarray]]:
    """Whole-item arrays from per-segment outputs of :meth:`ContinuousDataset.eval_iter`.

    ``outputs[i][key]`` has the rows of batch ``i`` on axis 0 (or, for the
    ``sample_keys`` with a leading MC-sample axis, on axis 1) and time on
    ``time_axis`` (relative to the row axis). Padding rows (``id == ''``) and
    padded frames are dropped; segments are placed at their ``starts``; the
    first ``meta['offsets']`` frames of a row (left context) are skipped.
    ``time_axis=None`` (utterance-level outputs, one row per item): each row
    gets a time axis of length 1, matching ``targets(split)``.
    """
    if time_axis is None:
        outputs = [{k: np.expand_dims(np.asarray(v), 2 if k in sample_keys else 1)
                    for k, v in out.items()} for out in outputs]
        time_axis = 1
    pieces: dict[str, dict[str, list]] = {}
    for out, meta in zip(outputs, metas):
        offsets = meta.get("offsets", np.zeros(len(meta["ids"]), np.int64))
        for row, (rid, start, n, off) in enumerate(
                zip(meta["ids"], meta["starts"], meta["lengths"], offsets)):
            if not rid:
                continue
            for key, val in out.items():
                val = np.asarray(val)
                row_axis = 1 if key in sample_keys else 0
                x = np.take(val, row, axis=row_axis)
                ax = time_axis - 1 + row_axis
                if x.ndim > ax:
                    x = np.take(x, np.arange(off, off + n), axis=ax)
                pieces.setdefault(rid, {}).setdefault(key, []).append((int(start), x, ax))
    result = {}
    for rid, keys in pieces.items():
        result[rid] = {}
        for key, segs in keys.items():
            segs.sort(key=lambda p: p[0])
            ax = segs[0][2]
            if segs[0][1].ndim > ax:
                result[rid][key] = np.concatenate([x for _, x, _ in segs], axis=ax)
            else:  # per-row scalars: keep the first segment's value
                result[rid][key] = segs[0][1]
    return result


# ----------------------------------------------------------------------------
# Building from a config
# ----------------------------------------------------------------------------


def corpus_records(config, splits: Sequence[str] | None = None):
    """``(info.metadata, {split: [(record, where), ...]})`` of the corpus of ``config.data``:
    the records of ``splits`` (default: train, dev and test; at most ``data.max_recordings``
    a split), read lazily from its TFDS data sources, each with a name for error messages
    (``corpus/split[i]``). Builds the corpus if ``data.build``. Raises
    :class:`seru.data.errors.UnknownSplit` for a split the corpus does not have."""
    from seru.data import corpora

    d = config.data
    builder, sources = corpora.load(d.corpus, d.variant or None, d.data_dir or None,
                                    d.manual_dir or None, build=d.build)
    splits = splits or [s for s in (d.train_split, d.dev_split, d.test_split) if s]
    out = {}
    for split in dict.fromkeys(splits):
        if split not in sources:
            raise UnknownSplit(f"corpus {d.corpus!r} ({d.variant}) has no split {split!r}; "
                               f"splits: {sorted(sources)}")
        src = sources[split]
        n = len(src) if not d.max_recordings else min(len(src), d.max_recordings)
        out[split] = _read_records(src, n, f"{d.corpus}/{split}")
    return builder.info.metadata or {}, out


def _read_records(source, n: int, where: str):
    for i in range(n):
        yield source[i], f"{where}[{i}]"


def load_corpus(config, splits: Sequence[str] | None = None
                ) -> tuple[dict[str, list[Recording]], TimeBase]:
    """``({split: [Recording]}, time_base)`` of the corpus named by ``config.data``.

    Every record of ``splits`` (default: train, dev and test) is preprocessed
    (:func:`preprocess_record`) at the corpus' time base
    (``info.metadata['frame_hop_s']``, else the schema's 40 ms). Raises
    :class:`seru.data.errors.UnknownSplit` for a split the corpus does not have.
    """
    from seru.data import timebase

    d = config.data
    meta, records = corpus_records(config, splits)
    tb = timebase.of_corpus(meta)
    out = {split: [preprocess_record(rec, d.dimensions, d.gold, d.delay_frames, where=where,
                                     audio_norm=d.audio_norm, time_base=tb)
                   for rec, where in recs] for split, recs in records.items()}
    return out, tb


def load_recordings(config, splits: Sequence[str] | None = None) -> dict[str, list[Recording]]:
    """The recordings of :func:`load_corpus` without the time base."""
    return load_corpus(config, splits)[0]


def from_recordings(recordings, config, process_index: int = 0, process_count: int = 1,
                    time_base: TimeBase = CONTINUOUS) -> ContinuousDataset:
    """A :class:`ContinuousDataset` of ``recordings`` with the shapes of ``config``."""
    d = config.data
    return ContinuousDataset(
        recordings, seq_len=d.seq_len, batch_size=d.batch_size, eval_seq_len=d.eval_seq_len,
        eval_context=d.eval_context,
        eval_batch_size=config.eval.batch_size, train_split=d.train_split,
        dimensions=d.dimensions, process_index=process_index, process_count=process_count,
        time_base=time_base)
