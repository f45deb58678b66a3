"""MSP-Podcast: per-annotator categorical votes and arousal / valence / dominance.

On-disk format read::

    Audios/*.wav
    Labels/labels_consensus.csv   (older releases: labels_concensus.csv)
        FileName,EmoClass,EmoAct,EmoVal,EmoDom,SpkrID,Gender,Split_Set
        -- only FileName, SpkrID, Gender and Split_Set are used.
    Labels/labels_detailed.csv    one row per (utterance, worker), either
        v1.11 form:  FileName,EmoDetail  with EmoDetail =
                     "WORKERnnnnn; Primary; secondaries; A:x; V:y; D:z;"
        column form (v1.6-v1.10, and 2.0): FileName, a worker column
                     (Workers | Worker | WorkerID), a primary-class column
                     (EmoClass_Major | EmoClass_Primary | EmoClass),
                     EmoAct, EmoVal, EmoDom (EmoClass_Second optional, unused).

Records (:func:`seru.data.schema.utterance_features`): ``id`` = FileName without
``.wav``; ``arousal`` (EmoAct),
``valence`` (EmoVal), ``dominance`` (EmoDom) hold one rating per worker, in the
order of the worker's rows in ``labels_detailed.csv`` (scale 1-7);
``emotion_votes`` counts the workers' *primary* classes over
:data:`seru.data.schema.MSP_CLASSES`. Class spellings are mapped
case-insensitively: full names ("Neutral", "Neutral state", "Happy",
"Happiness", "Angry", "Anger", "Sad", "Sadness", "Contempt", "Surprise",
"Surprised", "Fear", "Disgust", "Disgusted", "Other", "Other-<free text>")
and the one-letter codes N, H, A, S, C, U, F, D, O. Gender Female / Male ->
female / male, anything else -> unknown; speaker = SpkrID as written
(``Unknown`` included). Splits are whatever ``Split_Set`` says: Train -> train,
Development | Validation -> dev, TestN -> testN.

An utterance listed in the consensus file without any detailed row is kept
with empty (length-0) ratings and zero votes
(``info.metadata["without_detailed_labels"]`` counts them; each is reported).
A malformed detailed row costs only its rater (:func:`read_detailed`: a bad
value is NaN, an unknown class no vote, a row without structure is left out);
a malformed consensus row (fields, Split_Set, SpkrID) or an unreadable wav
skips that utterance; detailed rows of files not in the consensus file are
skipped. All of it is logged and listed in ``info.metadata["skipped"]``.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import tensorflow_datasets as tfds

from seru.data import audio as audio_lib
from seru.data import schema
from seru.data.corpora import _manual

DIMENSIONS = ("arousal", "valence", "dominance")
_DIM_CODES = {"A": "arousal", "V": "valence", "D": "dominance"}
_DIM_COLUMNS = {"EmoAct": "arousal", "EmoVal": "valence", "EmoDom": "dominance"}
_CODES = {"N": "neutral", "H": "happy", "A": "angry", "S": "sad", "C": "contempt",
          "U": "surprise", "F": "fear", "D": "disgust", "O": "other"}
_NAMES = {
    "neutral": "neutral", "neutral state": "neutral", "happy": "happy", "happiness": "happy",
    "angry": "angry", "anger": "angry", "sad": "sad", "sadness": "sad",
    "contempt": "contempt", "surprise": "surprise", "surprised": "surprise", "fear": "fear",
    "disgust": "disgust", "disgusted": "disgust", "other": "other",
}
_WORKER_COLUMNS = ("Workers", "Worker", "WorkerID")
_CLASS_COLUMNS = ("EmoClass_Major", "EmoClass_Primary", "EmoClass")


def split_name(split_set: str) -> str | None:
    """Split_Set spelling -> split name (``None`` if unknown)."""
    s = split_set.strip().lower()
    if s == "train":
        return "train"
    if s in ("development", "validation"):
        return "dev"
    if re.fullmatch(r"test\d*", s):
        return s
    return None


def class_index(spelling: str) -> int | None:
    """Index in MSP_CLASSES of a primary-class spelling or code (``None`` if unknown)."""
    s = spelling.strip()
    name = _CODES.get(s) if len(s) == 1 else None
    if name is None:
        low = s.lower()
        name = _NAMES.get(low)
        if name is None and re.match(r"^other\b", low):
            name = "other"
    return schema.MSP_CLASSES.index(name) if name else None


def _value(text: str, path, row, what: str, losses: list) -> float:
    """The rating ``text``, or NaN with its error appended to ``losses``."""
    try:
        return _manual.parse_float(text, path, row, what)
    except _manual.FormatError as e:
        losses.append(e)
        return float("nan")


def parse_emo_detail(text: str, path, row, losses: list | None = None) -> tuple[str, str, dict]:
    """``"WORKERn; Primary; secondaries; A:x; V:y; D:z;"`` -> (worker, primary, {dim: value}).

    A value that is not a finite number is NaN, its error appended to ``losses`` (raised
    when ``losses`` is None); a malformed structure raises :class:`_manual.FormatError`."""
    fields = [f.strip() for f in text.strip().split(";")]
    while fields and not fields[-1]:
        fields.pop()
    expect = "'WORKERnnnnn; Primary; secondaries; A:x; V:y; D:z;'"
    if len(fields) < 5:
        raise _manual.FormatError(path, row, f"EmoDetail {text!r}, expected {expect}")
    dims = {}
    for f in fields[-3:]:
        code, _, value = f.partition(":")
        if code.strip() not in _DIM_CODES or not _:
            raise _manual.FormatError(path, row, f"EmoDetail {text!r}: field {f!r}, expected {expect}")
        what = f"{code.strip()}:"
        dims[_DIM_CODES[code.strip()]] = (
            _manual.parse_float(value.strip(), path, row, what) if losses is None
            else _value(value.strip(), path, row, what, losses))
    if set(dims) != set(DIMENSIONS):
        raise _manual.FormatError(path, row, f"EmoDetail {text!r}: expected A:, V: and D: fields")
    return fields[0], fields[1], dims


def read_detailed(path, skips: _manual.SkipLog) -> dict:
    """``{FileName: [(worker, class_index or None, {dim: value}), ...]}``.

    What one row gets wrong costs only that row's rater: a value that is not a finite
    number is NaN, an unknown primary class gives no vote (``None``), a row without its
    structure (fields, EmoDetail) is left out, a worker's repeated row is counted once;
    each reported in ``skips`` with file and line."""
    header, rows = _manual.read_csv(path, expect=("FileName",))
    col = {h: i for i, h in enumerate(header)}
    if "EmoDetail" in col:
        form = "detail"
    else:
        worker_col = next((c for c in _WORKER_COLUMNS if c in col), None)
        class_col = next((c for c in _CLASS_COLUMNS if c in col), None)
        if worker_col is None or class_col is None or not all(c in col for c in _DIM_COLUMNS):
            raise _manual.FormatError(
                path, 1,
                f"header {header}: expected FileName,EmoDetail or FileName, one of "
                f"{list(_WORKER_COLUMNS)}, one of {list(_CLASS_COLUMNS)}, EmoAct, EmoVal, EmoDom",
            )
        form = "columns"
    out = {}
    for line, fields in rows:
        if len(fields) != len(header):
            err = _manual.FormatError(path, line, f"{len(fields)} fields, expected {len(header)} ({','.join(header)})")
            name = fields[col["FileName"]].strip() if len(fields) > col["FileName"] else None
            skips.add_error(err, f"one rater's row of {name}" if name else "row")
            continue
        name = fields[col["FileName"]].strip()
        losses: list = []
        try:
            if form == "detail":
                worker, primary, dims = parse_emo_detail(fields[col["EmoDetail"]], path, line,
                                                         losses)
            else:
                worker, primary = fields[col[worker_col]].strip(), fields[col[class_col]]
                dims = {d: _value(fields[col[c]].strip(), path, line, c, losses)
                        for c, d in _DIM_COLUMNS.items()}
        except _manual.FormatError as err:  # no rater and no value to keep from this row
            skips.add_error(err, f"one rater's row of {name}")
            continue
        for e in losses:
            skips.add_error(e, f"a rating of {worker} for {name}: NaN")
        k = class_index(primary)
        if k is None:
            skips.add(path, line, f"primary class {primary.strip()!r}, expected one of "
                      f"{list(schema.MSP_CLASSES)} (or codes {''.join(_CODES)})",
                      f"the vote of {worker} for {name}")
        rated = out.setdefault(name, [])
        if any(w == worker for w, _, _ in rated):  # a repeated row: counted once
            skips.add(path, line, f"worker {worker!r} rated {name} already",
                      f"the repeated row of worker {worker!r} for {name}")
            continue
        rated.append((worker, k, dims))
    return out


def read_consensus(path, skips: _manual.SkipLog) -> dict:
    """``{FileName: (split, speaker, gender)}`` of the consensus file."""
    header, rows = _manual.read_csv(path, expect=("FileName", "SpkrID", "Gender", "Split_Set"))
    col = {h: i for i, h in enumerate(header)}
    out = {}
    for line, fields in rows:
        if len(fields) != len(header):
            skips.add_error(_manual.FormatError(
                path, line, f"{len(fields)} fields, expected {len(header)} ({','.join(header)})"), "utterance")
            continue
        split = split_name(fields[col["Split_Set"]])
        if split is None:
            skips.add_error(_manual.FormatError(
                path, line, f"Split_Set {fields[col['Split_Set']]!r}, expected Train, "
                f"Development, Validation or TestN"), "utterance")
            continue
        g = fields[col["Gender"]].strip().lower()
        gender = g if g in ("female", "male") else "unknown"
        speaker = fields[col["SpkrID"]].strip()
        if not (speaker.isdigit() or speaker.lower() == "unknown"):
            skips.add_error(_manual.FormatError(
                path, line, f"SpkrID {speaker!r}, expected a number or Unknown"),
                "utterance")
            continue
        out[fields[col["FileName"]].strip()] = (split, speaker, gender)
    return out


class MspPodcast(tfds.core.GeneratorBasedBuilder):
    """MSP-Podcast: per-worker primary votes and A/V/D ratings."""

    VERSION = tfds.core.Version("1.1.0")
    RELEASE_NOTES = {"1.0.0": "Per-worker ratings and votes from labels_detailed.csv.",
                     "1.1.0": "audio stored as raw float32 bytes (faster builds)."}
    MANUAL_DOWNLOAD_INSTRUCTIONS = """
    Obtain MSP-Podcast from UT Dallas (academic licence) and pass the release
    root as --manual_dir. It must contain Audios/*.wav,
    Labels/labels_consensus.csv (or labels_concensus.csv) and
    Labels/labels_detailed.csv.
    """

    def _info(self) -> tfds.core.DatasetInfo:
        return self.dataset_info_from_configs(
            description="MSP-Podcast per-annotator categorical votes and A/V/D ratings (1-7).",
            features=schema.utterance_features(DIMENSIONS, len(schema.MSP_CLASSES)),
            metadata=schema.make_metadata(
                "utterance", DIMENSIONS, [1.0, 7.0], class_names=schema.MSP_CLASSES,
                skipped=[], without_detailed_labels=0,
            ),
            homepage="https://ecs.utdallas.edu/research/researchlabs/msp-lab/MSP-Podcast.html",
        )

    def _split_generators(self, dl_manager):
        root = _manual.require(dl_manager.manual_dir, "Audios", "Labels/labels_detailed.csv",
                               corpus="msp_podcast", instructions=self.MANUAL_DOWNLOAD_INSTRUCTIONS)
        cons_path = next((root / "Labels" / n for n in ("labels_consensus.csv", "labels_concensus.csv")
                          if (root / "Labels" / n).is_file()), None)
        if cons_path is None:
            raise FileNotFoundError(
                f"msp_podcast: neither Labels/labels_consensus.csv nor Labels/labels_concensus.csv "
                f"in {root}.\n{self.MANUAL_DOWNLOAD_INSTRUCTIONS}")
        skips = _manual.SkipLog("msp_podcast")
        self.info.metadata["skipped"] = skips.entries
        self._skips = skips
        consensus = read_consensus(cons_path, skips)
        detailed = read_detailed(root / "Labels" / "labels_detailed.csv", skips)
        for name in sorted(detailed):
            if name not in consensus:
                skips.add(root / "Labels" / "labels_detailed.csv", None,
                          f"detailed labels of {name}, which is not in {cons_path.name}", "rows")
        by_split = {}
        for name, (split, spk, gender) in consensus.items():
            if not detailed.get(name):  # kept (counted in without_detailed_labels), reported
                skips.add(root / "Labels" / "labels_detailed.csv", None,
                          f"no rows for {name} (listed in {cons_path.name})",
                          f"the ratings of {name}: kept without ratings")
            by_split.setdefault(split, []).append((name, spk, gender, detailed.get(name, [])))
        return {s: _manual.unique_keys(self._generate_examples(root, items), self._skips,
                                       "Labels")
                for s, items in sorted(by_split.items())}

    def _generate_examples(self, root: Path, items):
        for name, spk, gender, workers in items:
            try:
                x, sr = audio_lib.load_wav(root / "Audios" / name)
            except audio_lib.AudioError as e:
                self._skips.add_error(e, f"utterance {name}")
                continue
            if not workers:
                self.info.metadata["without_detailed_labels"] += 1
            votes = np.zeros(len(schema.MSP_CLASSES), np.int32)
            for _, k, _ in workers:
                if k is not None:  # None: the rater's class could not be read (reported)
                    votes[k] += 1
            rec = {"id": Path(name).stem, "speaker": spk, "gender": gender, "audio": x,
                   "sample_rate": sr, "emotion_votes": votes}
            for d in DIMENSIONS:
                rec[d] = np.asarray([w[2][d] for w in workers], np.float32)
            yield name, rec
