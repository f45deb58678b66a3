"""IEMOCAP reader on a fixture directory in the EmoEvaluation format."""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
import fixtures  # noqa: E402

from seru.data import corpora, schema  # noqa: E402
from seru.data.corpora.iemocap import builder as iemocap  # noqa: E402

# independent spelling -> class-name table for the fixture's categories
_SPELL = {"Neutral": "neutral", "Frustration": "frustrated", "Anger": "angry", "Other": "other"}


def _expected(turn):
    votes = np.zeros(len(iemocap.CLASSES), np.int32)
    for who, txt in turn["cats"]:
        if who.startswith("C-E"):  # self-assessments C-F1 / C-M1 do not count
            for c in {t.split(":")[0].strip() for t in txt.split(";") if t.strip()}:
                votes[iemocap.CLASSES.index(_SPELL[c])] += 1
    dims = np.array([d[1:] for d in turn["dims"] if d[0].startswith("A-E")], np.float32)
    return votes, dims


def _records(sources):
    return {split: {schema.decode_text(src[i]["id"]): src[i] for i in range(len(src))}
            for split, src in sources.items()}


def test_iemocap_builds_and_reads_back(tmp_path):
    wrote = fixtures.write_iemocap(tmp_path / "manual")
    b, sources = corpora.load("iemocap", data_dir=str(tmp_path / "data"),
                              manual_dir=str(tmp_path / "manual"))
    recs = _records(sources)
    assert b.info.metadata["skipped"] == [] and b.info.metadata["class_names"] == list(iemocap.CLASSES)
    sess = {"train": {1, 2, 3}, "dev": {4}, "test": {5}}
    for split, rs in recs.items():
        assert {wrote["turns"][t]["session"] for t in rs} == sess[split]
        assert len(rs) == 2 * len(sess[split])
        for name, rec in rs.items():
            votes, dims = _expected(wrote["turns"][name])
            np.testing.assert_array_equal(rec["emotion_votes"], votes)
            for i, d in enumerate(("valence", "arousal", "dominance")):
                np.testing.assert_array_equal(rec[d], dims[:, i])
            np.testing.assert_array_equal(rec["audio"], wrote["audio"][name])
            letter = name.rsplit("_", 1)[1][0]
            assert schema.decode_text(rec["speaker"]) == name[:5] + letter
            assert schema.decode_text(rec["gender"]) == {"F": "female", "M": "male"}[letter]
    # spot check one turn by hand: Ses01F_impro01_M001 has 3 evaluators, Frustration x2, Anger, Other
    r = recs["train"]["Ses01F_impro01_M001"]
    assert r["emotion_votes"].tolist() == [0, 0, 1, 0, 2, 0, 0, 0, 0, 1]
    assert r["arousal"].tolist() == [4.0, 5.0, 4.0]


def test_iemocap_leave_one_session_out_config(tmp_path):
    fixtures.write_iemocap(tmp_path / "manual")
    _, sources = corpora.load("iemocap", variant="loso2", data_dir=str(tmp_path / "data"),
                              manual_dir=str(tmp_path / "manual"))
    recs = _records(sources)
    assert {n[:5] for n in recs["test"]} == {"Ses02"}
    assert {n[:5] for n in recs["dev"]} == {"Ses03"}
    assert {n[:5] for n in recs["train"]} == {"Ses01", "Ses04", "Ses05"}


def test_iemocap_malformed_row_is_skipped_and_reported(tmp_path):
    fixtures.write_iemocap(tmp_path / "manual", bad_row=True)
    b, sources = corpora.load("iemocap", data_dir=str(tmp_path / "data"),
                              manual_dir=str(tmp_path / "manual"))
    recs = _records(sources)
    assert "Ses02F_impro02_M001" not in recs["train"] and len(recs["train"]) == 5
    (entry,) = b.info.metadata["skipped"]
    # lines: comment 1, blank 2, turn 1 = lines 3-9, blank 10, turn 2 header 11, C lines 12-14, A-E3 15
    assert r"Ses02F_impro02.txt:15: 'A-E3:\tval 2; act high; dom  4;\t()'" in entry
    assert entry.endswith("(skipped turn Ses02F_impro02_M001)")
    assert "expected 'A-E<n>: val x; act y; dom z;'" in entry


def test_iemocap_helpers():
    assert iemocap.speaker_and_gender("Ses03M_script01_1_F012") == ("Ses03F", "female")
    with pytest.raises(ValueError, match="turn name"):
        iemocap.speaker_and_gender("nonsense")
