"""Utterances as frame sequences with attributes and vote distributions: the input type
``utterance_frames`` (mitra25).

Per utterance of an utterance corpus (``seru_synth_utterances``, MSP-Podcast, IEMOCAP,
CREMA-D: the schema of ``seru/data/schema.py``):

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

import functools
import os
import re
import warnings
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from seru.data.errors import UnknownSplit
from seru.data.utterance_batches import UtteranceBatches

#: mitra25's six emotions (Sec. 4), in the order of its tables.
PAPER_CLASSES = ("neutral", "happy", "angry", "sad", "contempt", "surprise")

#: ``(record_id, audio [samples] float32, sample_rate Hz) -> frames [T, F] float32``
FrameExtractor = Callable[[str, np.ndarray, int], np.ndarray]

_BATCH_KEYS = ("attributes", "attr_mask", "votes_pdf", "consensus", "class_mask", "has_label")


def vote_matrix(corpus_classes: Sequence[str], classes: Sequence[str],
                class_map: Sequence[str] = (), strict: bool = True) -> np.ndarray:
    """The ``[K_corpus, K]`` 0/1 matrix that maps a corpus' vote counts onto ``classes``:
    a corpus class counts for the class of the same name, or for the one ``class_map``
    names (``'excited=happy'``: IEMOCAP's excited votes count as happy); the corpus'
    other classes count for none (their votes are left out).

    Raises:
      ValueError: a malformed ``class_map`` entry, one naming a class that is not in the
        corpus or not in ``classes``, or -- with ``strict`` (the training corpus) -- a class
        of ``classes`` that no corpus class maps to (listing the corpus' classes).
    """
    corpus_classes = [str(c) for c in corpus_classes]
    target = {c: c for c in corpus_classes if c in classes}
    for entry in class_map:
        src, sep, dst = str(entry).partition("=")
        if not sep or src not in corpus_classes or dst not in classes:
            raise ValueError(f"data.utterance.class_map entry {entry!r}: expected "
                             f"'<corpus class>=<class>' with a corpus class of "
                             f"{corpus_classes} and a class of {list(classes)}")
        target[src] = dst
    m = np.zeros((len(corpus_classes), len(classes)), np.int64)
    for src, dst in target.items():
        m[corpus_classes.index(src), list(classes).index(dst)] = 1
    missing = [c for k, c in enumerate(classes) if not m[:, k].any()]
    if missing and strict:
        raise ValueError(f"data.utterance.classes: {missing} are not classes of the corpus; "
                         f"it has {corpus_classes} (map one with data.utterance.class_map)")
    return m


def read_split(source, dimensions: Sequence[str], votes_to_classes: np.ndarray,
               rating_range: Sequence[float] | None, extract: FrameExtractor, where: str = "",
               progress: bool = False) -> dict:
    """The frames and targets of every record of a TFDS data source (``len`` +
    ``__getitem__``; records as ``seru/data/schema.py``'s utterance schema).

    ``votes_to_classes``: :func:`vote_matrix`; ``rating_range``: the corpus' scale, or
    ``None`` for a corpus without ratings (CREMA-D: every ``attr_mask`` 0).

    Returns ``ids``, ``speakers``, ``genders`` [N] str, ``frames`` (list of float32
    ``[T_i, F]``), ``attributes`` / ``attr_mask`` / ``std`` float32 [N, D], ``votes`` int
    [N, K], ``skipped`` ``{id: reason}`` (utterances the extractor refused, or no rating
    of any dimension and no vote).

    Raises:
      KeyError: a record without ``audio`` or ``emotion_votes`` (named by ``where`` and index).
    """
    from tqdm.auto import tqdm

    from seru.data import labels
    from seru.data.features.config import SkipUtterance
    from seru.data.features.targets import utterance_targets
    from seru.data.schema import decode_text

    out = {k: [] for k in ("ids", "speakers", "genders", "frames", "ratings", "votes")}
    skipped = {}
    for i in tqdm(range(len(source)), desc=f"frames {where}", disable=not progress,
                  leave=False):
        rec = source[i]
        rid = decode_text(rec.get("id", f"{i}"))
        for key in ("audio", "emotion_votes"):
            if key not in rec:
                raise KeyError(f"{where}[{i}] ({rid}): the record has no {key!r}; keys "
                               f"{sorted(rec)}")
        votes = np.asarray(rec["emotion_votes"], np.int64) @ votes_to_classes
        ratings = [np.asarray(rec.get(d, []), np.float32).reshape(-1) for d in dimensions]
        if votes.sum() == 0 and not any(np.isfinite(r).any() for r in ratings):
            skipped[rid] = "unrated"
            continue
        try:
            frames = extract(rid, np.asarray(rec["audio"], np.float32),
                             int(np.asarray(rec.get("sample_rate", 16000))))
        except SkipUtterance as s:
            skipped[rid] = s.reason
            continue
        out["ids"].append(rid)
        out["speakers"].append(decode_text(rec.get("speaker", "")))
        out["genders"].append(decode_text(rec.get("gender", "unknown")))
        out["frames"].append(np.asarray(frames, np.float32))
        out["ratings"].append(ratings)
        out["votes"].append(votes)
    n, d = len(out["ids"]), len(dimensions)
    attrs = np.zeros((n, d), np.float32)
    has = np.zeros((n, d), bool)
    std = np.zeros((n, d), np.float32)
    for j in range(d):
        a_max = max([len(r[j]) for r in out["ratings"]] + [1])
        r = np.full((n, a_max), np.nan, np.float32)
        for i, row in enumerate(out["ratings"]):
            r[i, :len(row[j])] = row[j]
        if rating_range is not None:
            attrs[:, j], _, has[:, j] = utterance_targets(r, rating_range)
        std[:, j] = np.asarray(labels.rater_std(r, min_raters=2, fill=0.0), np.float32)
    return {"ids": np.asarray(out["ids"], str), "speakers": np.asarray(out["speakers"], str),
            "genders": np.asarray(out["genders"], str), "frames": out["frames"],
            "attributes": attrs, "attr_mask": has.astype(np.float32), "std": std,
            "votes": np.asarray(out["votes"], np.int64).reshape(n, votes_to_classes.shape[1]),
            "skipped": skipped}


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


#: ``<split>_snr<dB>``: the noise-degraded copy of a split (mitra25: ``test_snr15``, ``test_snr5``)
NOISY_SPLIT = re.compile(r"^(?P<base>.+)_snr(?P<db>-?\d+(?:\.\d+)?)$")

#: training utterances in the babble pool (the first ones of the training split)
BABBLE_POOL = 200


class NoisySource:
    """A TFDS data source whose records' audio is mixed with noise at ``snr_db`` dB SNR
    (``seru.data.noise.mix_item``: ITU-T P.56 active speech level, the noise scaled, the
    speech unchanged); the noise kind of each record is drawn from ``kinds`` by
    ``noise.item_rng(seed + 1, id, snr_db)`` and the noise itself by ``item_rng(seed, id,
    snr_db)``: a pure function of the record id. Records gain ``noise_type`` and
    ``achieved_snr_db``. A mixture that peaks above 1 is kept as it is (float audio, not
    clipped); :attr:`peaks` collects those peaks per id, which :func:`open_split` reports in
    one warning."""

    def __init__(self, source, snr_db: float, noise_sources: Mapping[str, Any], seed: int):
        self.source, self.snr_db = source, float(snr_db)
        self.kinds, self.noise_sources, self.seed = sorted(noise_sources), noise_sources, seed
        self.peaks: dict[str, float] = {}

    def __len__(self):
        return len(self.source)

    def __getitem__(self, i):
        from seru.data import noise
        from seru.data.schema import decode_text

        rec = dict(self.source[i])
        rid = decode_text(rec.get("id", f"{i}"))
        kind = self.kinds[int(noise.item_rng(self.seed + 1, rid, self.snr_db)
                              .integers(len(self.kinds)))]
        item = {"id": rid, "audio": np.asarray(rec["audio"], np.float32),
                "sample_rate": int(np.asarray(rec.get("sample_rate", 16000))),
                "speaker": decode_text(rec.get("speaker", ""))}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # reported once per split
            mixed = noise.mix_item(item, self.snr_db, self.noise_sources[kind], self.seed)
        if mixed["peak"] > 1:
            self.peaks[rid] = float(mixed["peak"])
        rec.update(audio=mixed["audio"], noise_type=kind,
                   achieved_snr_db=mixed["achieved_snr_db"])
        return rec


def noisy_source(config, split: str, sources: Mapping[str, Any]) -> NoisySource:
    """The :class:`NoisySource` of ``split`` = ``<base>_snr<dB>``: noise from
    ``data.utterance.noise_dir`` when set, else the kinds of ``data.utterance.noise``
    (``babble``: the first :data:`BABBLE_POOL` utterances of the training split, other
    speakers than the item's)."""
    from seru.data import noise
    from seru.data.schema import decode_text

    m = NOISY_SPLIT.match(split)
    u = config.data.utterance
    if u.noise_dir:
        kinds = {"directory": noise.make_source("directory", directory=u.noise_dir)}
    else:
        kinds = {}
        for kind in u.noise:
            if kind == "babble":
                train = sources[config.data.train_split]
                recs = [train[i] for i in range(min(len(train), BABBLE_POOL))]
                rates = {int(np.asarray(r.get("sample_rate", 16000))) for r in recs}
                kinds[kind] = noise.make_source(
                    "babble", pool=[np.asarray(r["audio"], np.float32) for r in recs],
                    pool_sample_rate=rates.pop(),
                    pool_speakers=[decode_text(r.get("speaker", "")) for r in recs])
            else:
                kinds[kind] = noise.make_source(kind)
    return NoisySource(sources[m["base"]], float(m["db"]), kinds, int(u.noise_seed))


def mfbf0_extractor(config, corpus: str, variant: str, cache_dir: str | None
                    ) -> FrameExtractor:
    """MFBF0 at its defaults (``seru.data.features.mfbf0``), cached per utterance under
    ``cache_dir`` (``None``: not cached, e.g. new audio for the Predictor)."""
    from seru.data.features import mfbf0

    if cache_dir is None:
        return lambda rid, audio, sr: mfbf0.mfbf0(audio, sr)
    return lambda rid, audio, sr: mfbf0.cached_mfbf0(rid, audio, sr, cache_dir=cache_dir,
                                                     corpus=corpus, variant=variant)


def ssl_encoder(config):
    """seru's offline encoder (``seru.encoders.ssl``; ``data.utterance.encoder_layers``
    transformer layers of ``encoder_dim``, 4 heads, MLP 4 x dim, ``encoder_steps`` steps)
    pre-trained on the pool of ``data.utterance.encoder_pool`` (``corpus/variant/split``)
    with seed ``data.utterance.encoder_seed``, loaded from (or trained into) the data
    directory."""
    u = config.data.utterance
    corpus, variant, split = (u.encoder_pool.split("/") + ["", "", ""])[:3]
    return _cached_encoder(config.data.data_dir or None, corpus, variant or None,
                           split or "unlabeled", int(u.encoder_seed), int(u.encoder_layers),
                           int(u.encoder_dim), int(u.encoder_steps))


@functools.lru_cache(maxsize=4)
def _cached_encoder(data_dir, corpus, variant, split, seed, layers, dim, steps):
    from seru.encoders import ssl

    config = ssl.SSLConfig(num_layers=layers, dim=dim, mlp_dim=4 * dim, steps=steps,
                           num_heads=4 if dim % 4 == 0 else 1)
    return ssl.load_or_pretrain(data_dir, corpus, variant, config, seed=seed, split=split)


@functools.lru_cache(maxsize=2)
def _hf_encoder(path: str):
    from seru.encoders import hf

    return hf.load_hf_encoder(path)


def encoder_of(config):
    """The encoder of ``data.utterance.frames``: ``ssl:*`` -- :func:`ssl_encoder`; ``hf:*``
    -- the Hugging Face directory ``data.utterance.encoder_path`` (HuBERT, WavLM, Whisper;
    ``seru.encoders.hf``, the ``hf`` extra)."""
    if config.data.utterance.frames.startswith("hf:"):
        if not config.data.utterance.encoder_path:
            raise ValueError(f"data.utterance.frames={config.data.utterance.frames!r}: set "
                             "data.utterance.encoder_path to the model's directory")
        return _hf_encoder(config.data.utterance.encoder_path)
    return ssl_encoder(config)


def encoder_layer(config) -> tuple[int, dict]:
    """``(layer, info)``: the encoder layer of ``data.utterance.frames`` = ``ssl:<layer>`` or
    ``hf:<layer>`` (an index in [0, L], ``final`` = L, or ``salient``: :func:`salient_layer`)."""
    spec = config.data.utterance.frames.partition(":")[2]
    if spec == "salient":
        info = salient_layer(config)
        return info["layer"], {"ccs": info}
    enc = encoder_of(config)
    if spec == "final":
        return enc.num_layers, {}
    if spec.isdigit() and int(spec) <= enc.num_layers:
        return int(spec), {}
    raise ValueError(f"data.utterance.frames={config.data.utterance.frames!r}: expected "
                     f"'<encoder>:<0..{enc.num_layers}>', ':final' or ':salient'")


def encoder_extractor(config, corpus: str, variant: str, cache_dir: str | None
                      ) -> FrameExtractor:
    """One layer of the encoder (:func:`encoder_of`, :func:`encoder_layer`) per 20 ms frame,
    cached per utterance and layer (``seru.encoders.layer_cache``) under ``cache_dir``
    (``None``: not cached)."""
    from seru.encoders import layer_cache

    enc, (layer, _) = encoder_of(config), encoder_layer(config)
    if cache_dir is None:
        return lambda rid, audio, sr: enc.layer_outputs(audio, sr)[layer]
    return lambda rid, audio, sr: layer_cache.cached_frames(
        enc, rid, audio, sr, layer, cache_dir=cache_dir, corpus=corpus, variant=variant)


def salient_layer(config) -> dict:
    """CCS layer saliency (mitra25 Eqs. (1)-(3), ``seru.saliency``) of the encoder on
    the training split: the layers' utterance means of ``data.utterance.ccs_sample``
    training utterances drawn with seed 0 (0 = all), against the D attributes and the K vote
    shares of the rated ones. Returns ``{"layer": the argmax of the mean over every target,
    "curve": [L + 1] mu_CCS, "per_target": {target: [L + 1]}, "per_target_layer": {target:
    argmax}, "utterances": U}``; computed once per config."""
    from seru.data import once

    return once.per_config(_salient_layer, config)


def _salient_layer(config) -> dict:
    from seru import saliency
    from seru.data import corpora
    from seru.encoders import layer_cache

    d, u = config.data, config.data.utterance
    builder, sources = corpora.load(d.corpus, d.variant or None, d.data_dir or None,
                                    d.manual_dir or None, build=d.build)
    meta = builder.info.metadata or {}
    audio = {}

    def keep(rid, a, sr):
        audio[rid] = (a, sr)
        return np.zeros((1, 1), np.float32)

    a = read_split(sources[d.train_split], d.dimensions,
                   vote_matrix(meta.get("class_names") or (), u.classes, u.class_map),
                   meta.get("rating_range"), keep, where=f"{d.corpus}/{d.train_split}")
    from seru.data import labels

    rated = np.flatnonzero((a["attr_mask"] > 0).all(1) & (a["votes"].sum(1) > 0))
    if u.ccs_sample and u.ccs_sample < len(rated):
        rated = np.sort(np.random.default_rng(0).choice(rated, u.ccs_sample, replace=False))
    ids = [str(a["ids"][i]) for i in rated]
    means = layer_cache.layer_means([(i, *audio[i]) for i in ids], encoder_of(config),
                                    cache_dir=cache_dir_of(config), corpus=d.corpus,
                                    variant=d.variant)
    targets = np.concatenate([a["attributes"][rated],
                              np.asarray(labels.vote_pdf(a["votes"][rated]))], axis=1)
    names = list(d.dimensions) + [f"p_{c}" for c in u.classes]
    per = {n: np.asarray(saliency.layer_saliencies(means["means"], targets[:, j])).tolist()
           for j, n in enumerate(names)}
    curve = np.asarray(saliency.layer_saliencies(means["means"], targets))
    return {"layer": int(np.argmax(curve)), "curve": curve.tolist(), "per_target": per,
            "per_target_layer": {n: int(np.argmax(c)) for n, c in per.items()},
            "utterances": len(ids)}


#: ``config.data.utterance.frames`` up to its ':' -> ``(config, corpus, variant, cache_dir)
#: -> extractor``
EXTRACTORS: dict[str, Callable[..., FrameExtractor]] = {
    "mfbf0": mfbf0_extractor, "ssl": encoder_extractor, "hf": encoder_extractor}


def extractor(config, corpus: str, variant: str, cache_dir: str | None) -> FrameExtractor:
    """The frame extractor ``config.data.utterance.frames`` names; ``ValueError`` naming
    the known ones otherwise."""
    name = config.data.utterance.frames.partition(":")[0]
    if name not in EXTRACTORS:
        raise ValueError(f"data.utterance.frames={config.data.utterance.frames!r}: expected "
                         f"one of {sorted(EXTRACTORS)} (an encoder as <name>:<layer>|final|"
                         "salient)")
    return EXTRACTORS[name](config, corpus, variant, cache_dir)


def max_frames(config) -> int:
    """Frames per batch row: ``data.utterance.max_seconds`` at the hop of the frames (MFBF0:
    10 ms; the encoders: their ``frame_hop_s``, 20 ms)."""
    hop = 0.01 if config.data.utterance.frames == "mfbf0" else encoder_of(config).frame_hop_s
    return int(np.ceil(config.data.utterance.max_seconds / hop - 1e-9))


def input_info(config) -> dict:
    """What the run's input chose that is worth keeping with it (the CCS curve and the
    salient layer of ``ssl:salient``), ``{}`` otherwise."""
    if config.data.utterance.frames.partition(":")[0] in ("ssl", "hf"):
        layer, info = encoder_layer(config)
        return {"encoder": encoder_of(config).identity, "layer": layer, **info}
    return {}


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
    if isinstance(src, NoisySource) and src.peaks:
        worst = max(src.peaks, key=src.peaks.get)
        warnings.warn(f"{d.corpus}/{split}: {len(src.peaks)} of {len(src)} noisy mixtures peak "
                      f"above 1 (highest {src.peaks[worst]:.2f}, {worst}); kept as float "
                      "audio, not clipped", RuntimeWarning, stacklevel=2)
    if d.max_recordings:
        arrays = {k: (v if k == "skipped" else v[:d.max_recordings]) for k, v in arrays.items()}
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
    return ds


def cache_dir_of(config) -> str:
    """``<data_dir>/seru_features`` (the shared feature cache)."""
    from seru.data import corpora

    return os.path.join(config.data.data_dir or corpora.default_data_dir(), "seru_features")
