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


def test_iemocap_one_raters_bad_value_costs_only_that_value(tmp_path):
    """A-E3 of Ses02F_impro02_M001 rates 'act high': the turn is kept with every other
    rating and vote, A-E3's arousal is NaN, and the entry names file, line and value."""
    wrote = fixtures.write_iemocap(tmp_path / "manual", bad_row=True)
    b, sources = corpora.load("iemocap", data_dir=str(tmp_path / "data"),
                              manual_dir=str(tmp_path / "manual"))
    recs = _records(sources)
    assert len(recs["train"]) == 6
    r = recs["train"]["Ses02F_impro02_M001"]
    votes, dims = _expected(wrote["turns"]["Ses02F_impro02_M001"])
    np.testing.assert_array_equal(r["emotion_votes"], votes)
    np.testing.assert_array_equal(r["valence"], [2.0, dims[1, 0], dims[2, 0]])
    np.testing.assert_array_equal(r["arousal"], [np.nan, dims[1, 1], dims[2, 1]])
    (entry,) = b.info.metadata["skipped"]
    # lines: comment 1, blank 2, turn 1 = lines 3-9, blank 10, turn 2 header 11, C lines 12-14, A-E3 15
    assert "Ses02F_impro02.txt:15: act 'high', expected a number" in entry
    assert entry.endswith("(skipped A-E3's act in turn Ses02F_impro02_M001: NaN)")


def test_iemocap_granular_losses(tmp_path):
    """The issue's line 'A-E3: val 2; act 4; dom ;' (dom missing), an A-E line with no
    structure, and an unknown category of one C-E rater: NaN for the value(s), no vote from
    that rater, every loss reported; the turn and the other raters stay."""
    path = tmp_path / "Ses01F_impro01.txt"
    path.write_text("\n".join([
        "[1.0 - 2.0]\tSes01F_impro01_F000\tneu\t[2.5, 3.0, 3.5]",
        "C-E1:\tNeutral;\t()",
        "C-E2:\tBoredom;\t()",
        "C-E3:\tAnger; Neutral;\t()",
        "A-E1:\tval 3; act 2; dom  3;\t()",
        "A-E3:\tval 2; act 4; dom ;\t()",
        "A-E4:\tsee notes\t()",
        ""]))
    turns, errors, losses = iemocap.read_emo_evaluation(path)
    assert errors == [] and len(turns) == 1
    t = turns[0]
    assert t.votes.tolist() == [2, 0, 1, 0, 0, 0, 0, 0, 0, 0]
    np.testing.assert_array_equal(np.array(t.dims),
                                  [[3, 2, 3], [2, 4, np.nan], [np.nan] * 3])
    what = [w for _, w in losses]
    assert what == ["the votes of C-E2 in turn Ses01F_impro01_F000",
                    "A-E3's dom in turn Ses01F_impro01_F000: NaN",
                    "A-E4's val, act, dom in turn Ses01F_impro01_F000: NaN"]
    assert [e.row for e, _ in losses] == [3, 6, 7]
    assert "dom missing in" in str(losses[1][0]) and "Boredom" in str(losses[0][0])


def test_iemocap_helpers():
    assert iemocap.speaker_and_gender("Ses03M_script01_1_F012") == ("Ses03F", "female")
    with pytest.raises(ValueError, match="turn name"):
        iemocap.speaker_and_gender("nonsense")
