"""IEMOCAP: per-evaluator categorical votes and valence / arousal / dominance.

On-disk format read (the IEMOCAP_full_release layout)::

    Session{1..5}/dialog/EmoEvaluation/<dialog>.txt   (sub-folders ignored)
        [START_TIME - END_TIME]<TAB>TURN_NAME<TAB>EMOTION<TAB>[V, A, D]
        C-E1:<TAB>Frustration; Anger;<TAB>(comment)
        A-E1:<TAB>val 3; act 2; dom  3;<TAB>(comment)
    Session{1..5}/sentences/wav/<dialog>/<TURN_NAME>.wav

Only the external evaluators' lines (``C-E<n>`` / ``A-E<n>``) are read; the
speakers' self-assessments (``C-F1``, ``C-M1``, ``A-F1``, ``A-M1``, any
``[CA]-[FM]<n>``) are skipped, as are the turn-level consensus fields of the
header.

Records (:func:`seru.data.schema.utterance_features`):

* ``id`` = the turn name; ``speaker`` = session + the turn's speaker letter
  (``Ses01F_impro01_M000`` -> ``Ses01M``), ``gender`` from that letter (F/M);
* ``valence`` / ``arousal`` / ``dominance`` (``val`` / ``act`` / ``dom``,
  scale 1-5): one value per ``A-E`` line, in file order;
* ``emotion_votes`` over :data:`CLASSES`: IEMOCAP evaluators may tick several
  categories and do not rank them, so each ``C-E`` evaluator gives one vote to
  every distinct category it lists (``Other:<text>`` counts as ``other``).

Splits (builder configs): ``default`` = sessions 1-3 train, 4 dev, 5 test;
``loso<k>`` (k = 1..5, leave one session out) = session k test, session
k mod 5 + 1 dev, the other three train.

A malformed turn (a bad header, a line that is no evaluator line) is skipped
with its file and line; so is a turn whose wav is missing or unreadable. What
one rater gets wrong costs only that rater's value: a missing or malformed
``val`` / ``act`` / ``dom`` is NaN for that rater (the schema's missing
rating), a ``C-E`` line with an unknown category gives no vote. All of it is
logged and listed in ``info.metadata["skipped"]`` with file and line.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np
import tensorflow_datasets as tfds

from seru.data import audio as audio_lib
from seru.data import schema
from seru.data.corpora import _manual

DIMENSIONS = ("valence", "arousal", "dominance")
CLASSES = ("neutral", "happy", "angry", "sad", "frustrated", "excited", "surprise", "fear",
           "disgust", "other")
_CATEGORY = {
    "neutral": "neutral", "neutral state": "neutral", "happiness": "happy", "happy": "happy",
    "anger": "angry", "angry": "angry", "sadness": "sad", "sad": "sad",
    "frustration": "frustrated", "frustrated": "frustrated", "excited": "excited",
    "excitement": "excited", "surprise": "surprise", "surprised": "surprise", "fear": "fear",
    "fearful": "fear", "disgust": "disgust", "disgusted": "disgust", "other": "other",
}
_HEADER = re.compile(r"^\[\s*([\d.]+)\s*-\s*([\d.]+)\s*\]\s+(\S+)\s+(\S+)\s+\[([^\]]*)\]\s*$")
_EVAL = re.compile(r"^([CA])-([A-Z])(\d+)\s*:\s*(.*)$")
_DIMS = re.compile(r"^val\s*([^;]*?)\s*;\s*act\s*([^;]*?)\s*;\s*dom\s*([^;(]*?)\s*;?\s*"
                   r"(\(.*\))?\s*$")
_NUMBER = re.compile(r"^\d+(\.\d*)?$")
_TURN = re.compile(r"^(Ses(\d\d))[FM]_.*_([FM])\d+$")


@dataclasses.dataclass
class Turn:
    name: str
    line: int
    votes: np.ndarray
    dims: list  # [(val, act, dom), ...]


def _category(text: str, path, line) -> int:
    name = text.split(":", 1)[0].strip().lower()
    if name not in _CATEGORY:
        raise _manual.FormatError(
            path, line, f"category {text.strip()!r}, expected one of Neutral, Happiness, Anger, "
            f"Sadness, Frustration, Excited, Surprise, Fear, Disgust, Other"
        )
    return CLASSES.index(_CATEGORY[name])


def read_emo_evaluation(path) -> tuple[list[Turn], list[tuple[str, _manual.FormatError]],
                                        list[tuple[_manual.FormatError, str]]]:
    """The turns of one EmoEvaluation file, ``(turn name, error)`` of its malformed turns
    (a bad header or a line that is no evaluator line: the turn is skipped), and ``(error,
    what)`` of what one rater lost inside a kept turn: a missing or malformed ``val`` /
    ``act`` / ``dom`` value is NaN for that rater, an ``A-E`` line without that structure
    NaN for all three, a ``C-E`` line with an unknown or no category gives no vote."""
    turns, errors, losses = [], [], []
    cur, cur_err, cur_raters = None, None, {}

    def close():
        if cur is not None and cur_err is None and not cur.dims and not cur.votes.any():
            errors.append((cur.name, _manual.FormatError(
                path, cur.line, f"turn {cur.name} has no evaluator (C-E / A-E) line")))
        elif cur is not None and cur_err is None:
            turns.append(cur)
        elif cur_err is not None:
            errors.append((cur.name if cur is not None else "?", cur_err))

    with open(path, encoding="utf-8-sig", errors="replace") as f:
        for line_no, raw in enumerate(f, start=1):
            s = raw.strip()
            if not s or s.startswith("%"):
                continue
            if s.startswith("["):
                close()
                cur, cur_err = None, None
                m = _HEADER.match(s)
                if not m or not _TURN.match(m.group(3)):
                    cur_err = _manual.FormatError(
                        path, line_no, f"turn header {s!r}, expected "
                        "'[START - END]<TAB>SesNNX_..._XNNN<TAB>EMOTION<TAB>[V, A, D]'")
                    continue
                cur = Turn(m.group(3), line_no, np.zeros(len(CLASSES), np.int32), [])
                cur_raters = {}
                continue
            if cur is None:
                if cur_err is None:
                    errors.append(("?", _manual.FormatError(
                        path, line_no, f"evaluator line {s!r} before any turn header")))
                continue
            if cur_err is not None:
                continue
            m = _EVAL.match(s)
            if not m:
                cur_err = _manual.FormatError(
                    path, line_no, f"{s!r} in turn {cur.name}: expected 'C-E<n>: categories;' "
                    "or 'A-E<n>: val x; act y; dom z;'")
                continue
            kind, who, body = m.group(1), m.group(2), m.group(4)
            if who != "E":  # the speakers' self-assessment
                continue
            rater = f"{kind}-E{m.group(3)}"
            if rater in cur_raters:
                losses.append((_manual.FormatError(
                    path, line_no, f"{rater} rated turn {cur.name} already (line "
                    f"{cur_raters[rater]})"), f"the repeated line of {rater} in turn {cur.name}"))
                continue
            cur_raters[rater] = line_no
            if kind == "C":
                try:
                    cats = re.sub(r"\(.*\)\s*$", "", body)
                    chosen = {_category(c, path, line_no) for c in cats.split(";") if c.strip()}
                    if not chosen:
                        raise _manual.FormatError(path, line_no, f"no category in {s!r}")
                except _manual.FormatError as e:
                    losses.append((e, f"the votes of {rater} in turn {cur.name}"))
                    continue
                for k in chosen:
                    cur.votes[k] += 1
                continue
            d = _DIMS.match(body.strip())
            if not d:
                losses.append((_manual.FormatError(
                    path, line_no, f"{s!r}: expected 'A-E<n>: val x; act y; dom z;'"),
                    f"{rater}'s val, act, dom in turn {cur.name}: NaN"))
                cur.dims.append((float("nan"),) * 3)
                continue
            values = []
            for key, text in zip(("val", "act", "dom"), (d.group(1), d.group(2), d.group(3))):
                if _NUMBER.match(text):
                    values.append(float(text))
                    continue
                values.append(float("nan"))
                what = "missing" if not text else f"{text!r}, expected a number"
                losses.append((_manual.FormatError(path, line_no, f"{key} {what} in {s!r}"),
                               f"{rater}'s {key} in turn {cur.name}: NaN"))
            cur.dims.append(tuple(values))
    close()
    return turns, errors, losses


def speaker_and_gender(turn: str) -> tuple[str, str]:
    """``Ses01F_impro01_M000`` -> (``Ses01M``, ``male``)."""
    m = _TURN.match(turn)
    if not m:
        raise ValueError(f"turn name {turn!r} is not SesNN[FM]_..._[FM]NNN")
    return m.group(1) + m.group(3), {"F": "female", "M": "male"}[m.group(3)]


@dataclasses.dataclass
class IemocapConfig(tfds.core.BuilderConfig):
    train: tuple = (1, 2, 3)
    dev: tuple = (4,)
    test: tuple = (5,)


def _loso(k: int) -> IemocapConfig:
    dev = k % 5 + 1
    return IemocapConfig(
        name=f"loso{k}", description=f"session {k} test, session {dev} dev, the others train",
        train=tuple(s for s in range(1, 6) if s not in (k, dev)), dev=(dev,), test=(k,))


class Iemocap(tfds.core.GeneratorBasedBuilder):
    """IEMOCAP: external evaluators' categorical votes and V/A/D ratings."""

    VERSION = tfds.core.Version("1.1.0")
    RELEASE_NOTES = {"1.0.0": "Per-evaluator votes and ratings from EmoEvaluation files.",
                     "1.1.0": "audio stored as raw float32 bytes (faster builds)."}
    BUILDER_CONFIGS = [
        IemocapConfig(name="default", description="sessions 1-3 train, 4 dev, 5 test"),
        *[_loso(k) for k in range(1, 6)],
    ]
    MANUAL_DOWNLOAD_INSTRUCTIONS = """
    Request IEMOCAP from USC SAIL (https://sail.usc.edu/iemocap/) and pass the
    IEMOCAP_full_release folder as --manual_dir. It must contain
    Session{1..5}/dialog/EmoEvaluation/*.txt and Session{1..5}/sentences/wav/.
    """

    def _info(self) -> tfds.core.DatasetInfo:
        return self.dataset_info_from_configs(
            description="IEMOCAP per-evaluator categorical votes and V/A/D ratings (1-5).",
            features=schema.utterance_features(DIMENSIONS, len(CLASSES)),
            metadata=schema.make_metadata(
                "utterance", DIMENSIONS, [1.0, 5.0], class_names=CLASSES, skipped=[],
            ),
            homepage="https://sail.usc.edu/iemocap/",
        )

    def _split_generators(self, dl_manager):
        c = self.builder_config
        sessions = sorted(set(c.train + c.dev + c.test))
        root = _manual.require(
            dl_manager.manual_dir, *[f"Session{s}/dialog/EmoEvaluation" for s in sessions],
            corpus="iemocap", instructions=self.MANUAL_DOWNLOAD_INSTRUCTIONS)
        self._skips = _manual.SkipLog("iemocap")
        self.info.metadata["skipped"] = self._skips.entries
        turns, reported = {}, set()
        for s in sessions:
            turns[s] = []
            evaluations = root / f"Session{s}" / "dialog" / "EmoEvaluation"
            for txt in _manual.discover(evaluations, "*.txt"):
                ok, errors, losses = read_emo_evaluation(txt)
                for name, e in errors:
                    self._skips.add_error(e, f"turn {name}")
                    reported.add(name)
                for e, what in losses:
                    self._skips.add_error(e, what)
                turns[s].extend((txt, t) for t in ok)
            # A turn with audio and no evaluation (e.g. an EmoEvaluation file cut short).
            named = {t.name for _, t in turns[s]} | reported
            for wav in _manual.discover(root / f"Session{s}" / "sentences" / "wav", "*/*.wav"):
                if wav.stem not in named and _TURN.match(wav.stem):
                    txt = evaluations / f"{wav.parent.name}.txt"
                    self._skips.add(txt, None, f"no evaluation of turn {wav.stem} (its audio: "
                                    f"{_manual.rel(wav, root)})", f"turn {wav.stem}")
        seen: dict[str, list] = {}
        for s in sessions:
            for txt, t in turns[s]:
                seen.setdefault(t.name, []).append((txt, t.line))
        for name, where in seen.items():
            if len(where) > 1:
                for txt, line in where:
                    self._skips.add(txt, line, f"turn {name} appears {len(where)} times "
                                    f"(at {', '.join(f'{p.name}:{n}' for p, n in where)})",
                                    f"turn {name}")
        turns = {s: [t for _, t in ts if len(seen[t.name]) == 1] for s, ts in turns.items()}
        return {
            split: _manual.unique_keys(self._generate_examples(
                root, [(s, t) for s in ss for t in turns[s]]), self._skips, "EmoEvaluation")
            for split, ss in (("train", c.train), ("dev", c.dev), ("test", c.test))
        }

    def _generate_examples(self, root: Path, items):
        for session, turn in items:
            dialog = turn.name.rsplit("_", 1)[0]
            wav = root / f"Session{session}" / "sentences" / "wav" / dialog / f"{turn.name}.wav"
            try:
                x, sr = audio_lib.load_wav(wav)
            except audio_lib.AudioError as e:
                self._skips.add_error(e, f"turn {turn.name}")
                continue
            speaker, gender = speaker_and_gender(turn.name)
            dims = np.asarray(turn.dims, np.float32).reshape(-1, 3)
            rec = {"id": turn.name, "speaker": speaker, "gender": gender, "audio": x,
                   "sample_rate": sr, "emotion_votes": turn.votes}
            for i, d in enumerate(DIMENSIONS):
                rec[d] = dims[:, i]
            yield turn.name, rec
