"""CREMA-D: crowd-sourced categorical votes on the voice-only presentation.

On-disk format read (the CREMA-D GitHub repository, with its Git LFS files)::

    AudioWAV/<ActorID>_<Sentence>_<Emotion>_<Level>.wav    e.g. 1001_DFA_ANG_XX.wav
    processedResults/tabulatedVotes.csv
        ,A,D,F,H,N,S,fileName,numResponses,agreement,emoVote,...
        The reader relies on: the unnamed first column (the row key,
        100000 * queryType + clipNum, queryType 1 = voice only, 2 = face only,
        3 = audio-visual), the vote-count columns A, D, F, H, N, S and fileName.
    VideoDemographics.csv
        ActorID,Age,Sex,Race,Ethnicity  -- ActorID and Sex (Male / Female) used.

Records (:func:`seru.data.schema.utterance_features` with no dimensions):
``id`` = fileName, ``speaker`` = the actor id, ``gender`` from Sex (unknown
when the actor is not in VideoDemographics.csv), ``emotion_votes`` = the
voice-only (queryType 1) vote counts over :data:`CLASSES` (A, D, F, H, N, S in
the file's order). CREMA-D has no dimensional ratings: the metadata lists no
dimensions (and an empty rating_range) and the records carry none.

Speaker-disjoint split by actor, deterministic: the actor ids are sorted and
the i-th actor goes to train if ``i % 10 < 8``, dev if ``i % 10 == 8``, test if
``i % 10 == 9`` (73 / 9 / 9 of the 91 actors).

A malformed voice row (non-integer or negative count, bad key), a duplicate
voice row, a clip without voice votes, or an unreadable wav skips that clip;
all of it is logged and listed in ``info.metadata["skipped"]``.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import tensorflow_datasets as tfds

from seru.data import audio as audio_lib
from seru.data import schema
from seru.data.corpora import _manual

VOTE_COLUMNS = ("A", "D", "F", "H", "N", "S")
CLASSES = ("angry", "disgust", "fear", "happy", "neutral", "sad")
_NAME = re.compile(r"^(\d{4})_[A-Z0-9]+_[A-Z]+_[A-Z0-9]+$")


def actor_split(actors) -> dict:
    """``{actor: split}``: the i-th sorted actor -> train (i % 10 < 8), dev (8), test (9)."""
    out = {}
    for i, a in enumerate(sorted(actors)):
        out[a] = "train" if i % 10 < 8 else ("dev" if i % 10 == 8 else "test")
    return out


def read_voice_votes(path, skips: _manual.SkipLog) -> dict:
    """``{fileName: int32[6] votes}`` of the voice-only (queryType 1) rows."""
    header, rows = _manual.read_csv(path, expect=VOTE_COLUMNS + ("fileName",))
    col = {h: i for i, h in enumerate(header) if h}
    out = {}
    for line, fields in rows:
        try:
            if len(fields) != len(header):
                raise _manual.FormatError(path, line, f"{len(fields)} fields, expected {len(header)}")
            try:
                key = int(fields[0])
            except ValueError:
                raise _manual.FormatError(
                    path, line, f"row key {fields[0]!r}, expected 100000 * queryType + clipNum") from None
            if key // 100000 != 1:
                continue  # face-only or audio-visual presentation
            name = fields[col["fileName"]].strip()
            votes = []
            for c in VOTE_COLUMNS:
                v = fields[col[c]].strip()
                if not v.isdigit():
                    raise _manual.FormatError(
                        path, line, f"vote count {c}={v!r} for {name}, expected a non-negative integer")
                votes.append(int(v))
            if name in out:
                raise _manual.FormatError(path, line, f"second voice-only row for {name}")
            if not _NAME.match(name):
                raise _manual.FormatError(
                    path, line, f"fileName {name!r}, expected <ActorID>_<Sentence>_<Emotion>_<Level>")
        except _manual.FormatError as e:
            skips.add_error(e, "clip")
            continue
        out[name] = np.asarray(votes, np.int32)
    return out


def read_demographics(path, skips: _manual.SkipLog) -> dict:
    """``{actor id: 'female' | 'male' | 'unknown'}``; a malformed row is skipped and reported."""
    header, rows = _manual.read_csv(path, expect=("ActorID", "Sex"))
    col = {h: i for i, h in enumerate(header)}
    out = {}
    for line, fields in rows:
        if len(fields) != len(header):
            skips.add_error(_manual.FormatError(
                path, line, f"{len(fields)} fields, expected {len(header)} ({','.join(header)})"),
                "demographics row (that actor's gender becomes unknown)")
            if col["ActorID"] < len(fields):  # reported once, here
                out[fields[col["ActorID"]].strip()] = "unknown"
            continue
        sex = fields[col["Sex"]].strip().lower()
        out[fields[col["ActorID"]].strip()] = sex if sex in ("female", "male") else "unknown"
    return out


class CremaD(tfds.core.GeneratorBasedBuilder):
    """CREMA-D: voice-only crowd votes over six emotions."""

    VERSION = tfds.core.Version("1.1.0")
    RELEASE_NOTES = {"1.0.0": "Voice-only vote counts from tabulatedVotes.csv.",
                     "1.1.0": "audio stored as raw float32 bytes (faster builds)."}
    MANUAL_DOWNLOAD_INSTRUCTIONS = """
    Clone https://github.com/CheyneyComputerScience/CREMA-D with Git LFS
    (`git lfs pull`) and pass the clone as --manual_dir. It must contain
    AudioWAV/*.wav, processedResults/tabulatedVotes.csv and VideoDemographics.csv.
    """

    def _info(self) -> tfds.core.DatasetInfo:
        return self.dataset_info_from_configs(
            description="CREMA-D voice-only crowd-sourced emotion votes (no dimensional ratings).",
            features=schema.utterance_features((), len(CLASSES)),
            metadata=schema.make_metadata(
                "utterance", (), (), class_names=CLASSES, skipped=[],  # no ratings: no range
            ),
            homepage="https://github.com/CheyneyComputerScience/CREMA-D",
        )

    def _split_generators(self, dl_manager):
        root = _manual.require(
            dl_manager.manual_dir, "AudioWAV", "processedResults/tabulatedVotes.csv",
            "VideoDemographics.csv", corpus="crema_d",
            instructions=self.MANUAL_DOWNLOAD_INSTRUCTIONS)
        skips = _manual.SkipLog("crema_d")
        self._skips = skips
        self.info.metadata["skipped"] = skips.entries
        votes = read_voice_votes(root / "processedResults" / "tabulatedVotes.csv", skips)
        sexes = read_demographics(root / "VideoDemographics.csv", skips)
        wavs = _manual.discover(root / "AudioWAV", "*.wav")
        for wav in wavs:
            if wav.stem not in votes:
                skips.add(wav, None, "no voice-only row in processedResults/tabulatedVotes.csv", "clip")
        # Actors from the audio files as well as the votes: a vote row that cannot be read
        # must not move other actors to another split.
        actors = {_NAME.match(n).group(1) for n in votes} | {
            m.group(1) for m in map(_NAME.match, (w.stem for w in wavs)) if m}
        split_of = actor_split(actors)
        for actor in sorted(actors - set(sexes)):
            skips.add(root / "VideoDemographics.csv", None, f"no row for actor {actor}",
                      f"the gender of actor {actor}: unknown")
        by_split = {"train": [], "dev": [], "test": []}
        for name in sorted(votes):
            actor = _NAME.match(name).group(1)
            by_split[split_of[actor]].append((name, actor, sexes.get(actor, "unknown"), votes[name]))
        return {s: _manual.unique_keys(self._generate_examples(root, items), skips,
                                       "processedResults/tabulatedVotes.csv")
                for s, items in by_split.items() if items}

    def _generate_examples(self, root: Path, items):
        for name, actor, gender, votes in items:
            try:
                x, sr = audio_lib.load_wav(root / "AudioWAV" / f"{name}.wav")
            except audio_lib.AudioError as e:
                self._skips.add_error(e, f"clip {name}")
                continue
            yield name, {"id": name, "speaker": actor, "gender": gender, "audio": x,
                         "sample_rate": sr, "emotion_votes": votes}
