"""MSP-Podcast reader on fixture directories in the v1.11 and the older label formats."""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
import fixtures  # noqa: E402

from seru.data import corpora, schema  # noqa: E402
from seru.data.corpora.msp_podcast import builder as msp  # noqa: E402


def _all_records(sources):
    out = {}
    for split, src in sources.items():
        for i in range(len(src)):
            out[schema.decode_text(src[i]["id"])] = (split, src[i])
    return out


def _expected_votes(workers):
    # independent mapping of the fixture spellings onto MSP_CLASSES
    spell = {"Neutral": "neutral", "Neutral state": "neutral", "Happy": "happy", "Angry": "angry",
             "Contempt": "contempt", "Sad": "sad", "Other-bored": "other", "Surprise": "surprise",
             "Fear": "fear", "Disgust": "disgust"}
    v = np.zeros(len(schema.MSP_CLASSES), np.int32)
    for w in workers:
        v[schema.MSP_CLASSES.index(spell[w[1]])] += 1
    return v


@pytest.mark.parametrize("old", [False, True])
def test_msp_podcast_builds_and_reads_back(tmp_path, old):
    wrote = fixtures.write_msp_podcast(tmp_path / "manual", old=old)
    b, sources = corpora.load("msp_podcast", data_dir=str(tmp_path / "data"),
                              manual_dir=str(tmp_path / "manual"))
    assert sorted(sources) == ["dev", "test1", "test2", "train"]
    md = b.info.metadata
    assert md["class_names"] == list(schema.MSP_CLASSES) and md["skipped"] == []
    assert md["dimensions"] == ["arousal", "valence", "dominance"] and md["rating_range"] == [1.0, 7.0]
    recs = _all_records(sources)
    split_map = {"Train": "train", "Development": "dev", "Validation": "dev", "Test1": "test1", "Test2": "test2"}
    assert len(recs) == 5
    for name, u in wrote["utts"].items():
        split, rec = recs[name[:-4]]
        assert split == split_map[u["split"]]
        assert schema.decode_text(rec["speaker"]) == u["speaker"]
        assert schema.decode_text(rec["gender"]) == u["gender"].lower()
        np.testing.assert_array_equal(rec["audio"], wrote["audio"][name])  # stereo mixed down
        assert rec["sample_rate"] == wrote["sr"]
        for k, dim in enumerate(("arousal", "valence", "dominance")):
            np.testing.assert_array_equal(rec[dim], np.array([w[3 + k] for w in u["workers"]], np.float32))
        np.testing.assert_array_equal(rec["emotion_votes"], _expected_votes(u["workers"]))


def test_msp_podcast_one_raters_bad_value_costs_only_that_value(tmp_path):
    """A worker's non-numeric arousal: the utterance is kept with every other rating and
    that worker's vote, the arousal is NaN, the entry names file, row and value."""
    fixtures.write_msp_podcast(tmp_path / "manual", bad_row=True)
    b, sources = corpora.load("msp_podcast", data_dir=str(tmp_path / "data"),
                              manual_dir=str(tmp_path / "manual"))
    recs = _all_records(sources)
    assert len(recs) == 5
    clean_dir = tmp_path / "clean"
    fixtures.write_msp_podcast(clean_dir / "manual")
    _, clean = corpora.load("msp_podcast", data_dir=str(clean_dir / "data"),
                            manual_dir=str(clean_dir / "manual"))
    ref = _all_records(clean)["MSP-PODCAST_0003_0001"][1]
    got = recs["MSP-PODCAST_0003_0001"][1]
    np.testing.assert_array_equal(got["emotion_votes"], ref["emotion_votes"])
    np.testing.assert_array_equal(got["valence"], ref["valence"])
    assert np.isnan(got["arousal"][1]) and np.array_equal(np.delete(got["arousal"], 1),
                                                         np.delete(ref["arousal"], 1))
    (entry,) = b.info.metadata["skipped"]
    # header = line 1; rows of 0001_0001 (3), 0001_0002 (2), 0002_0001 (4) take lines 2-10,
    # 0003_0001's first worker line 11, its second (the bad one) line 12
    assert "labels_detailed.csv:12: expected a number for A:, got 'abc'" in entry
    assert entry.endswith("for MSP-PODCAST_0003_0001.wav: NaN)")


def test_msp_podcast_parsers():
    assert msp.split_name("Validation") == "dev" and msp.split_name("Test2") == "test2"
    assert msp.split_name("Holdout") is None
    assert [msp.class_index(s) for s in ("N", "Neutral state", "ANGRY", "Other-xyz", "X")] == [
        0, 0, 2, 8, None]
    w, p, d = msp.parse_emo_detail("WORKER00014325; Happy; Amused, Excited; A:5.0; V:6.5; D:4.0;", "f", 3)
    assert (w, p, d) == ("WORKER00014325", "Happy", {"arousal": 5.0, "valence": 6.5, "dominance": 4.0})
    with pytest.raises(msp._manual.FormatError, match=r"f, row 3: EmoDetail"):
        msp.parse_emo_detail("WORKER1; Happy; A:5", "f", 3)
