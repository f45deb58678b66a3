"""SEWA (AVEC 2017 affect sub-challenge): arousal, valence and liking traces at 100 ms.

On-disk format read (the AVEC 2017 SEWA package as distributed)::

    audio/{Train,Devel,Test}_NN.wav        (also accepted: Train_N.wav, unpadded)
    labels/{Train,Devel}_NN.csv            gold standard, one row per 100 ms frame:
        'Train_01';0.000000;<arousal>;<valence>;<liking>
        ';'-separated, no header (AVEC 2017 / 2018); a header row
        ``name;timestamp;arousal;valence;liking`` (AVEC 2019 form) is accepted.
    ratings_individual/{arousal,valence,liking}/{Train,Devel}_NN.csv   (optional)
        per-rater traces, ';'-separated, header ``time;<rater>;<rater>...``,
        one row per 100 ms frame from t = 0; an empty field is a missing value.
    turns/, transcriptions/, video/, features    present in the package, not read.

Sources followed:

* the folder tree ``AVEC2017/{audio,video,labels,turns,transcriptions}`` with
  ``labels/Train_01.csv`` of https://github.com/end2you/end2you,
  ``docs/use_cases/SEWA/1. Generate files for End2You.ipynb`` (its audio names
  are unpadded, ``Train_1.wav``; public code reading the package uses
  ``audio/Train_01.wav``: both are accepted and give the id ``Train_01``);
* the label rows (instance name, timestamp, arousal, valence, liking; 0.1 s
  hop) of https://github.com/AudioVisualEmotionChallenge/AVEC2018
  ``scripts_CES/CES_data.py`` (headerless) and
  https://github.com/AudioVisualEmotionChallenge/AVEC2019
  ``Baseline_systems/CES/CES_data.py`` and
  ``Baseline_systems/CES/baseline_predictions/*/Devel_DE_01.csv`` (header
  ``name;timestamp;arousal;valence;liking``); the partitions of the AVEC 2017
  package are German only: 34 ``Train``, 14 ``Devel``, 16 ``Test`` recordings.
  The later cross-cultural ids with a culture code (``Train_DE_01``,
  ``Test_HU_03``) are accepted too; the id keeps the code.
* No public source shows per-rater files of the SEWA package. When a
  ``ratings_individual/`` folder is present it is read in the form of the
  AVEC 2016 package of the same organisers (``seru.data.corpora.avec2016``)
  with the three SEWA dimensions; without it the corpus is built from the gold
  standard alone (one "rater", see below). Facial landmarks: no public source
  shows their file format in the package, so none are read.

Records (:func:`seru.data.schema.continuous_features`): ``id`` = ``speaker`` =
the recording id (each recording is one subject), ``audio`` float32 mono
resampled to 16 kHz (``sample_rate`` = 16000; the files are 44.1 or 48 kHz),
and per dimension ``arousal`` / ``valence`` / ``liking`` float32
``[frames, raters]`` in [-1, 1] at the corpus' own 100 ms hop
(``info.metadata["frame_hop_s"]`` = 0.1, read by
:func:`seru.data.timebase.of_corpus`), NaN where missing.

* Raters: with ``ratings_individual/`` the columns are the union of the rater
  names of all its files (in order of first appearance); a recording whose file
  lacks a rater has NaN there. ``info.metadata["ratings"]`` is ``"individual"``.
  Without it the single column is the gold standard: ``annotators`` =
  ``["gold_standard"]``, ``ratings`` = ``"gold_standard"`` (rater-disagreement
  targets are then undefined: a rater std needs two raters).
* The gold standard is stored only in gold-standard mode; in individual mode
  ``labels/`` is verified (rows parse, frame count equals the ratings') and a
  mismatch is reported in the skip list (the recording is kept);
  ``info.metadata["gold_standard_verified"]`` counts the good ones.
* Test recordings have no public labels: all-NaN ``[frames, raters]`` with
  ``frames = floor(duration / 0.1) + 1``; if a test label file is present it is
  read like the others.
* Label frames and audio must agree in length within one frame; when they do
  not, the overlap is kept and the mismatch reported with both files and both
  lengths (``_manual.keep_overlap``).
* A malformed file (wrong field count, non-number, name or time out of order,
  header) raises :class:`seru.data.corpora._manual.FormatError` naming file and
  row; a train/dev recording without labels, or with an unreadable wav, is
  skipped; all of it is logged and listed in ``info.metadata["skipped"]``.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import tensorflow_datasets as tfds

from seru.data import audio as audio_lib
from seru.data import schema
from seru.data.corpora import _manual

DIMENSIONS = ("arousal", "valence", "liking")
#: Rating hop of the SEWA labels (s).
FRAME_HOP_S = 0.1
#: Audio is stored at this rate (Hz).
SAMPLE_RATE = 16_000
GOLD = "gold_standard"
SPLITS = {"Train": "train", "Devel": "dev", "Test": "test"}
_NAME = re.compile(r"^(Train|Devel|Test)_(?:([A-Z]{2})_)?(\d+)$")
_LABEL_HEADER = ("name", "timestamp") + DIMENSIONS
_TIME_TOL = 5e-3


def recording_id(stem: str) -> str | None:
    """``Train_1`` / ``Train_01`` -> ``Train_01``, ``Test_HU_3`` -> ``Test_HU_03``; None if no match."""
    m = _NAME.match(stem)
    if not m:
        return None
    part, culture, num = m.groups()
    return f"{part}_{culture + '_' if culture else ''}{int(num):02d}"


def frames_for_duration(num_samples: int, sample_rate: int, hop_s: float = FRAME_HOP_S) -> int:
    """Label frames of a recording: one per ``hop_s`` from t = 0 to its end inclusive."""
    return int(np.floor(num_samples / sample_rate / hop_s + 1e-6)) + 1


def _check_time(t: float, frame: int, path, line) -> None:
    want = frame * FRAME_HOP_S
    if abs(t - want) > _TIME_TOL:
        raise _manual.FormatError(
            path, line, f"time {t}, expected {want:.1f} (frames every {FRAME_HOP_S} s from 0)"
        )


def _lines(path):
    """``(line_number, stripped line)`` of the non-empty lines of a text file."""
    with open(path, encoding="utf-8-sig") as f:
        for n, line in enumerate(f, start=1):
            s = line.strip()
            if s:
                yield n, s


def read_labels(path, rid: str | None = None) -> dict[str, np.ndarray]:
    """The gold standard of one ``labels/<id>.csv``: ``{dim: float32 [frames]}``.

    Rows ``'<id>';<time>;<arousal>;<valence>;<liking>``; an optional header row
    ``name;timestamp;arousal;valence;liking``. Raises
    :class:`_manual.FormatError` naming the file and row: wrong field count, a
    non-number, a time that is not ``row * 0.1``, or an instance name other
    than ``rid`` (when given).
    """
    values = []
    for line, s in _lines(path):
        fields = _manual.split_fields(s, ";", len(_LABEL_HEADER))
        if not values and fields[0].strip("'\"").lower() == "name":
            if tuple(f.lower() for f in fields) != _LABEL_HEADER:
                raise _manual.FormatError(
                    path, line, f"header {fields}, expected {list(_LABEL_HEADER)} (';'-separated)"
                )
            continue
        if len(fields) != len(_LABEL_HEADER):
            raise _manual.FormatError(
                path, line, f"{len(fields)} fields, expected {len(_LABEL_HEADER)} "
                f"(name;timestamp;arousal;valence;liking, ';'-separated)"
            )
        name = fields[0].strip("'\"")
        if rid is not None and name != rid:
            raise _manual.FormatError(path, line, f"instance name {name!r}, expected {rid!r}")
        _check_time(_manual.parse_float(fields[1], path, line, "timestamp"), len(values), path, line)
        values.append([_manual.parse_float(v, path, line, d) for v, d in zip(fields[2:], DIMENSIONS)])
    if not values:
        raise _manual.FormatError(path, None, "no label rows")
    arr = np.asarray(values, dtype=np.float32)
    return {d: arr[:, i] for i, d in enumerate(DIMENSIONS)}


def read_rater_header(path) -> list[str]:
    """The rater names of a ``ratings_individual`` file (header after ``time``)."""
    for line, s in _lines(path):
        fields = _manual.split_fields(s, ";")
        if fields[0].lower() != "time" or len(fields) < 2 or any(not f for f in fields[1:]):
            raise _manual.FormatError(
                path, line, f"header {fields}, expected 'time;<rater>;<rater>...' (';'-separated)"
            )
        if len(set(fields[1:])) != len(fields) - 1:
            raise _manual.FormatError(path, line, f"header {fields} repeats a rater name")
        return fields[1:]
    raise _manual.FormatError(path, 1, "empty file, expected a header row 'time;<rater>;...'")


def read_ratings(path, raters=None, losses: list | None = None) -> tuple[list[str], np.ndarray]:
    """``(rater names, float32 [frames, raters])`` of one ``ratings_individual`` file.

    ``raters`` (optional) is the column order of the result: the file's raters
    are placed by name and the others are NaN; a rater of the file missing from
    ``raters`` is an error. An empty field or ``nan`` is NaN (the format's missing
    rating); any other value that is not a finite number is NaN too, its
    :class:`_manual.FormatError` appended to ``losses`` (raised when ``losses`` is
    None). Raises :class:`_manual.FormatError` naming the file and row: header,
    field count, or a time that is not ``row * 0.1``.
    """
    names = read_rater_header(path)
    raters = list(names) if raters is None else list(raters)
    unknown = [n for n in names if n not in raters]
    if unknown:
        raise _manual.FormatError(path, 1, f"raters {unknown} not among {raters}")
    cols = [raters.index(n) for n in names]
    rows = []
    it = _lines(path)
    # A trailing delimiter is the file's style when its header has one: then every row may
    # end with one more (empty) field. Otherwise an empty last field is a missing rating.
    trailing = next(it)[1].endswith(";")
    for line, s in it:
        fields = [x.strip() for x in s.split(";")]
        if trailing and len(fields) == 2 + len(names) and not fields[-1]:
            fields.pop()
        if len(fields) != 1 + len(names):
            raise _manual.FormatError(
                path, line, f"{len(fields)} fields, expected {1 + len(names)} (time + {len(names)} raters)"
            )
        _check_time(_manual.parse_float(fields[0], path, line, "time"), len(rows), path, line)
        row = [math.nan] * len(raters)
        for c, n, v in zip(cols, names, fields[1:]):
            if v == "" or v.lower() == "nan":
                continue  # the format's missing rating
            try:
                row[c] = _manual.parse_float(v, path, line, f"rater {n}")
            except _manual.FormatError as e:
                if losses is None:
                    raise
                losses.append(e)
        rows.append(row)
    if not rows:
        raise _manual.FormatError(path, 2, "no rating rows after the header")
    return raters, np.asarray(rows, dtype=np.float32)


class Sewa(tfds.core.GeneratorBasedBuilder):
    """SEWA (AVEC 2017): 16 kHz audio and arousal / valence / liking traces at 100 ms."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "AVEC 2017 SEWA package: gold standard or per-rater traces."}
    MANUAL_DOWNLOAD_INSTRUCTIONS = """
    Request the AVEC 2017 affect sub-challenge package (SEWA, German video
    chats) from the SEWA database (https://db.sewaproject.eu) and pass its root
    as --manual_dir. It must contain audio/{Train,Devel,Test}_NN.wav and
    labels/{Train,Devel}_NN.csv; per-rater traces are read from
    ratings_individual/{arousal,valence,liking}/<id>.csv where present.
    """

    def _info(self) -> tfds.core.DatasetInfo:
        return self.dataset_info_from_configs(
            description="SEWA (AVEC 2017) arousal / valence / liking at 100 ms, audio at 16 kHz.",
            features=schema.continuous_features(DIMENSIONS),
            metadata=schema.make_metadata(
                "continuous", DIMENSIONS, [-1.0, 1.0], annotators=[],
                frame_hop_s=FRAME_HOP_S, ratings="", skipped=[], gold_standard_verified=0,
            ),
            homepage="https://db.sewaproject.eu",
        )

    def _split_generators(self, dl_manager):
        root = _manual.require(
            dl_manager.manual_dir, "audio", "labels",
            corpus="sewa", instructions=self.MANUAL_DOWNLOAD_INSTRUCTIONS,
        )
        self._skips = _manual.SkipLog("sewa")
        md = self.info.metadata
        md["skipped"] = self._skips.entries
        by_split = {s: [] for s in SPLITS.values()}
        for wav in _manual.discover(root / "audio", "*.wav"):
            rid = recording_id(wav.stem)
            if rid is None:
                self._skips.add(_manual.rel(wav, root), None,
                                "file name is not {Train,Devel,Test}_NN.wav", "file")
                continue
            by_split[SPLITS[rid.split("_")[0]]].append((rid, wav))
        self._individual = (root / "ratings_individual").is_dir()
        md["ratings"] = "individual" if self._individual else GOLD
        md["annotators"] = self._rater_union(root) if self._individual else [GOLD]
        self._raters = list(md["annotators"])
        for s in by_split:
            by_split[s].sort()
        return {s: _manual.unique_keys(self._generate_examples(root, items), self._skips, "audio")
                for s, items in by_split.items() if items}

    def _rater_union(self, root: Path) -> list[str]:
        names: list[str] = []
        for dim in DIMENSIONS:
            for p in _manual.discover(root / "ratings_individual" / dim, "*.csv"):
                try:
                    header = read_rater_header(p)
                except _manual.FormatError:
                    continue  # reported when the recording is read
                names += [n for n in header if n not in names]
        return names

    def _generate_examples(self, root: Path, items):
        for rid, wav in items:
            try:
                record = self._record(root, wav, rid)
            except (_manual.FormatError, audio_lib.AudioError) as e:
                if isinstance(e, _manual.FormatError):
                    e.path = _manual.rel(e.path, root)
                self._skips.add_error(e, f"recording {rid}")
                continue
            yield rid, record

    def _record(self, root: Path, wav: Path, rid: str) -> dict:
        split = SPLITS[rid.split("_")[0]]
        label_path = root / "labels" / f"{rid}.csv"
        ratings = {}
        source = label_path
        first = root / "ratings_individual" / DIMENSIONS[0] / f"{rid}.csv"
        if self._individual and (split != "test" or first.is_file()):
            for dim in DIMENSIONS:
                p = root / "ratings_individual" / dim / f"{rid}.csv"
                if not p.is_file():
                    raise _manual.FormatError(
                        p, None, f"missing: {split} recordings need ratings_individual/{dim}/{rid}.csv")
                losses = []
                _, ratings[dim] = read_ratings(p, self._raters, losses)
                for e in losses:  # one rater's value at one frame: NaN, reported
                    e.path = _manual.rel(e.path, root)
                    self._skips.add_error(e, f"that rating of {rid}: NaN")
            source = first
        elif label_path.is_file():
            gold = read_labels(label_path, rid)
            ratings = {d: gold[d][:, None] for d in DIMENSIONS}
        elif split != "test":
            raise _manual.FormatError(label_path, None, f"missing: {split} recordings need labels/{rid}.csv")
        lengths = {d: len(r) for d, r in ratings.items()}
        if len(set(lengths.values())) > 1:
            raise _manual.FormatError(
                source.parent.parent, None,
                f"{rid}: frame counts differ across dimensions {lengths}; expected one count")

        x, sr = audio_lib.load_wav(wav)
        expected = frames_for_duration(len(x), sr)
        if ratings:  # lengths agree within a frame, else the overlap is kept (reported)
            frames = next(iter(lengths.values()))  # as read: what the gold file must match
            names = {d: _manual.rel(root / "ratings_individual" / d / f"{rid}.csv"
                                    if source is first else label_path, root) for d in ratings}
            ratings = _manual.keep_overlap(ratings, len(x) / sr, FRAME_HOP_S,
                                           _manual.rel(wav, root), names, self._skips)
            if self._individual and label_path.is_file():
                self._verify_gold(root, label_path, rid, frames)
        else:  # test partition: no public labels
            ratings = {d: np.full((expected, len(self._raters)), np.nan, np.float32) for d in DIMENSIONS}
        audio = audio_lib.resample(x, sr, SAMPLE_RATE)
        return {"id": rid, "speaker": rid, "audio": audio, "sample_rate": SAMPLE_RATE, **ratings}

    def _verify_gold(self, root: Path, path: Path, rid: str, frames: int) -> None:
        try:
            gold = read_labels(path, rid)
            if len(gold[DIMENSIONS[0]]) != frames:
                raise _manual.FormatError(
                    path, None,
                    f"{len(gold[DIMENSIONS[0]])} gold-standard frames, expected {frames} (the ratings' frames)")
        except _manual.FormatError as e:
            e.path = _manual.rel(e.path, root)
            self._skips.add_error(e, "gold standard file")
            return
        self.info.metadata["gold_standard_verified"] += 1
