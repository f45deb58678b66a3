"""AVEC 2016 (RECOLA) emotion sub-challenge: raw per-annotator arousal / valence.

On-disk format read (the AVEC 2016 package as distributed)::

    recordings_audio/{train,dev,test}_N.wav
    ratings_individual/{arousal,valence}/{train,dev}_N.csv
        ';'-separated, header ``time;FM1 ;FM2 ;FM3 ;FF1 ;FF2 ;FF3`` (names are
        stripped), one row per 40 ms frame (7501 rows for 300 s), time in s.
    ratings_gold_standard/{arousal,valence}/{split}_N.arff   (optional)

Records (:func:`seru.data.schema.continuous_features`): ``id`` = ``speaker`` =
the recording id (``train_1``), ``audio`` at the file's rate, and per dimension
the ``[frames, 6]`` ratings in the column order ``FM1 .. FF3``.

* Test recordings have no public ratings: they get all-NaN ratings of shape
  ``[frames, 6]`` with ``frames = floor(duration / 0.04) + 1`` (7501 for 300 s).
  A train/dev recording whose rating file is missing or malformed is skipped.
* Ratings and audio must agree in length within one frame; when they do not,
  the overlap is kept and the mismatch reported (``_manual.keep_overlap``).
* Gold-standard ARFF files are only *verified* (``@data`` rows parse and their
  count equals the rating frames); they are not stored, since
  :func:`seru.data.labels.avec_gold_standard` recomputes it from the raw
  ratings. A mismatching ARFF is reported in the skip list (the recording is
  kept); ``info.metadata["gold_standard_verified"]`` counts the good ones.
* Everything skipped is logged and listed in ``info.metadata["skipped"]``.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import tensorflow_datasets as tfds

from seru.data import audio as audio_lib
from seru.data import schema
from seru.data.corpora import _manual

DIMENSIONS = ("arousal", "valence")
ANNOTATORS = ("FM1", "FM2", "FM3", "FF1", "FF2", "FF3")
SPLITS = ("train", "dev", "test")
_NAME = re.compile(r"^(train|dev|test)_(\d+)$")


def frames_for_duration(num_samples: int, sample_rate: int, hop_s: float = schema.FRAME_HOP_S) -> int:
    """Label frames of a recording: one per ``hop_s`` from t = 0 to its end inclusive."""
    return int(np.floor(num_samples / sample_rate / hop_s + 1e-6)) + 1


def read_ratings(path, losses: list | None = None) -> np.ndarray:
    """``[frames, 6]`` float32 ratings of one ``ratings_individual`` CSV.

    A rating that is not a finite number is NaN for that rater and frame, its
    :class:`_manual.FormatError` appended to ``losses`` (raised when ``losses``
    is None). Raises :class:`_manual.FormatError` naming the file and row for a
    wrong header, a wrong field count or a time that is not ``row * 0.04``.
    """
    header, rows = _manual.read_csv(path, delimiter=";")
    if tuple(header) != ("time",) + ANNOTATORS:
        raise _manual.FormatError(
            path, 1, f"header {header}, expected {['time', *ANNOTATORS]} (';'-separated)"
        )
    out = []
    for line, fields in rows:
        if len(fields) != 1 + len(ANNOTATORS):
            raise _manual.FormatError(
                path, line, f"{len(fields)} fields, expected {1 + len(ANNOTATORS)} (time + 6 raters)"
            )
        t = _manual.parse_float(fields[0], path, line, "time")
        want = len(out) * schema.FRAME_HOP_S
        if abs(t - want) > 5e-3:
            raise _manual.FormatError(
                path, line, f"time {t}, expected {want:.3f} (frames every {schema.FRAME_HOP_S} s from 0)"
            )
        row = []
        for i, v in enumerate(fields[1:]):
            try:
                row.append(_manual.parse_float(v, path, line, ANNOTATORS[i]))
            except _manual.FormatError as e:
                if losses is None:
                    raise
                losses.append(e)
                row.append(np.nan)
        out.append(row)
    if not out:
        raise _manual.FormatError(path, 2, "no rating rows after the header")
    return np.asarray(out, dtype=np.float32)


def read_arff_gold_standard(path) -> np.ndarray:
    """The last numeric column of the ``@data`` rows of an AVEC gold-standard ARFF file."""
    values, in_data = [], False
    with open(path, encoding="utf-8-sig") as f:
        for line_no, line in enumerate(f, start=1):
            s = line.strip()
            if not s or s.startswith("%"):
                continue
            if not in_data:
                in_data = s.lower() == "@data"
                continue
            fields = [x.strip() for x in s.split(",")]
            if len(fields) < 2:
                raise _manual.FormatError(
                    path, line_no, f"expected 'name,frameTime,GoldStandard', got {s!r}"
                )
            values.append(_manual.parse_float(fields[-1], path, line_no, "GoldStandard"))
    if not in_data:
        raise _manual.FormatError(path, None, "no @data section")
    return np.asarray(values, dtype=np.float32)


class Avec2016(tfds.core.GeneratorBasedBuilder):
    """AVEC 2016 / RECOLA: audio and the 6 raters' arousal and valence traces."""

    VERSION = tfds.core.Version("1.1.0")
    RELEASE_NOTES = {"1.0.0": "Raw per-annotator ratings from ratings_individual.",
                     "1.1.0": "audio stored as raw float32 bytes (faster builds)."}
    MANUAL_DOWNLOAD_INSTRUCTIONS = """
    Request the AVEC 2016 emotion sub-challenge package (RECOLA) from its
    organisers and pass its root as --manual_dir. It must contain
    recordings_audio/{train,dev,test}_N.wav and
    ratings_individual/{arousal,valence}/{train,dev}_N.csv
    (and optionally ratings_gold_standard/{arousal,valence}/*.arff).
    """

    def _info(self) -> tfds.core.DatasetInfo:
        return self.dataset_info_from_configs(
            description="AVEC 2016 (RECOLA) raw per-annotator arousal/valence at 40 ms.",
            features=schema.continuous_features(DIMENSIONS),
            metadata=schema.make_metadata(
                "continuous", DIMENSIONS, [-1.0, 1.0], annotators=ANNOTATORS,
                skipped=[], gold_standard_verified=0,
            ),
            homepage="https://sites.google.com/site/avec2016/",
        )

    def _split_generators(self, dl_manager):
        root = _manual.require(
            dl_manager.manual_dir, "recordings_audio", "ratings_individual",
            corpus="avec2016", instructions=self.MANUAL_DOWNLOAD_INSTRUCTIONS,
        )
        self._skips = _manual.SkipLog("avec2016")
        self.info.metadata["skipped"] = self._skips.entries
        by_split = {s: [] for s in SPLITS}
        for wav in _manual.discover(root / "recordings_audio", "*.wav"):
            m = _NAME.match(wav.stem)
            if not m:
                self._skips.add(_manual.rel(wav, root), None,
                                "file name is not {train,dev,test}_N.wav", "file")
                continue
            by_split[m.group(1)].append(wav)
        for s in by_split:
            by_split[s].sort(key=lambda p: int(p.stem.split("_")[1]))
        return {s: _manual.unique_keys(self._generate_examples(root, wavs), self._skips,
                                       "recordings_audio")
                for s, wavs in by_split.items() if wavs}

    def _generate_examples(self, root: Path, wavs):
        for wav in wavs:
            rid = wav.stem
            try:
                record = self._record(root, wav, rid)
            except (_manual.FormatError, audio_lib.AudioError) as e:
                self._skips.add_error(e, f"recording {rid}")
                continue
            yield rid, record

    def _record(self, root: Path, wav: Path, rid: str) -> dict:
        split = rid.split("_")[0]
        ratings = {}
        for dim in DIMENSIONS:
            csv_path = root / "ratings_individual" / dim / f"{rid}.csv"
            if csv_path.is_file():
                losses = []
                ratings[dim] = read_ratings(csv_path, losses)
                for e in losses:  # one rater's value at one frame: NaN, reported
                    e.path = _manual.rel(e.path, root)
                    self._skips.add_error(e, f"that rating of {rid}: NaN")
            elif split != "test":
                raise _manual.FormatError(
                    _manual.rel(csv_path, root), None,
                    f"missing: {split} recordings need ratings_individual/{dim}/{rid}.csv",
                )
        x, sr = audio_lib.load_wav(wav)
        if ratings:  # lengths agree within a frame, else the overlap is kept (reported)
            names = {d: _manual.rel(root / "ratings_individual" / d / f"{rid}.csv", root)
                     for d in ratings}
            ratings = _manual.keep_overlap(ratings, x.size / sr, schema.FRAME_HOP_S,
                                           _manual.rel(wav, root), names, self._skips)
        for dim in DIMENSIONS:
            if dim not in ratings:  # test partition: no public ratings
                ratings[dim] = np.full(
                    (frames_for_duration(len(x), sr), len(ANNOTATORS)), np.nan, np.float32
                )
            self._verify_gold(root, dim, rid, len(ratings[dim]))
        return {"id": rid, "speaker": rid, "audio": x, "sample_rate": sr, **ratings}

    def _verify_gold(self, root: Path, dim: str, rid: str, frames: int) -> None:
        arff = root / "ratings_gold_standard" / dim / f"{rid}.arff"
        if not arff.is_file():
            return
        try:
            gold = read_arff_gold_standard(arff)
            if len(gold) != frames:
                raise _manual.FormatError(
                    arff, None, f"{len(gold)} gold-standard frames, expected {frames} (the ratings' frames)"
                )
        except _manual.FormatError as e:
            e.path = _manual.rel(e.path, root)
            self._skips.add_error(e, "gold standard file")
            return
        self.info.metadata["gold_standard_verified"] += 1
