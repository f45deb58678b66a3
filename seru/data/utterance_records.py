"""Reading the records of an utterance corpus for the ``utterance_frames`` input (mitra25):
frames from an extractor, the attributes, the votes mapped onto the chosen classes
(:func:`vote_matrix`, :func:`read_split`), and the noise-degraded copies of a split
(``<split>_snr<dB>``, :class:`NoisySource`). The dataset is ``seru/data/utterance_frames.py``,
the extractors ``seru/data/frame_extractors.py``.
"""

from __future__ import annotations

import os
import re
import warnings
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from seru.data.errors import CorpusMismatch

#: mitra25's six emotions (Sec. 4), in the order of its tables.
PAPER_CLASSES = ("neutral", "happy", "angry", "sad", "contempt", "surprise")

#: ``(record_id, audio [samples] float32, sample_rate Hz) -> frames [T, F] float32``
FrameExtractor = Callable[[str, np.ndarray, int], np.ndarray]


def vote_matrix(corpus_classes: Sequence[str], classes: Sequence[str],
                class_map: Sequence[str] = (), strict: bool = True) -> np.ndarray:
    """The ``[K_corpus, K]`` 0/1 matrix that maps a corpus' vote counts onto ``classes``:
    a corpus class counts for the class of the same name, or for the one ``class_map``
    names (``'excited=happy'``: IEMOCAP's excited votes count as happy); the corpus'
    other classes count for none (their votes are left out).

    Raises:
      seru.data.errors.CorpusMismatch (a ValueError): a malformed ``class_map`` entry, one naming a class that is not in the
        corpus or not in ``classes``, or -- with ``strict`` (the training corpus) -- a class
        of ``classes`` that no corpus class maps to (listing the corpus' classes).
    """
    corpus_classes = [str(c) for c in corpus_classes]
    target = {c: c for c in corpus_classes if c in classes}
    for entry in class_map:
        src, sep, dst = str(entry).partition("=")
        if not sep or src not in corpus_classes or dst not in classes:
            raise CorpusMismatch(f"data.utterance.class_map entry {entry!r}: expected "
                             f"'<corpus class>=<class>' with a corpus class of "
                             f"{corpus_classes} and a class of {list(classes)}")
        target[src] = dst
    m = np.zeros((len(corpus_classes), len(classes)), np.int64)
    for src, dst in target.items():
        m[corpus_classes.index(src), list(classes).index(dst)] = 1
    missing = [c for k, c in enumerate(classes) if not m[:, k].any()]
    if missing and strict:
        raise CorpusMismatch(f"data.utterance.classes: {missing} are not classes of the corpus; "
                         f"it has {corpus_classes} (map one with data.utterance.class_map)")
    return m


def read_split(source, dimensions: Sequence[str], votes_to_classes: np.ndarray,
               rating_range: Sequence[float] | None, extract: FrameExtractor, where: str = "",
               progress: bool = False) -> dict:
    """The frames and targets of every record of a TFDS data source (``len`` +
    ``__getitem__``; records as ``seru/data/schema.py``'s utterance schema).

    ``votes_to_classes``: :func:`vote_matrix`; ``rating_range``: the corpus' scale, or
    ``None`` / ``[]`` for a corpus without ratings (CREMA-D: every ``attr_mask`` 0).

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
        if rating_range:
            attrs[:, j], _, has[:, j] = utterance_targets(r, rating_range)
        std[:, j] = np.asarray(labels.rater_std(r, min_raters=2, fill=0.0), np.float32)
    return {"ids": np.asarray(out["ids"], str), "speakers": np.asarray(out["speakers"], str),
            "genders": np.asarray(out["genders"], str), "frames": out["frames"],
            "attributes": attrs, "attr_mask": has.astype(np.float32), "std": std,
            "votes": np.asarray(out["votes"], np.int64).reshape(n, votes_to_classes.shape[1]),
            "skipped": skipped}


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
        self.used: dict[str, str] = {}  # id -> noise kind

    def summary(self) -> dict:
        """What was mixed (for ``metrics.json``): the SNR, the seed, the kinds offered and how
        many utterances got each, the mixtures that peak above 1."""
        counts = {k: sum(v == k for v in self.used.values()) for k in self.kinds}
        return {"snr_db": self.snr_db, "noise_seed": self.seed, "noise_kinds": counts,
                "peaks_above_1": len(self.peaks)}

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
        self.used[rid] = kind
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


def cache_dir_of(config) -> str:
    """``<data_dir>/seru_features`` (the shared feature cache)."""
    from seru.data import corpora

    return os.path.join(config.data.data_dir or corpora.default_data_dir(), "seru_features")
