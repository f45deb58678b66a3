"""AVEC 2016 reader on a fixture directory in the true on-disk format."""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
import fixtures  # noqa: E402

from seru.data import corpora, schema  # noqa: E402
from seru.data.corpora.avec2016 import builder as avec  # noqa: E402


def _by_id(source):
    return {schema.decode_text(source[i]["id"]): source[i] for i in range(len(source))}


def test_avec2016_builds_and_reads_back(tmp_path):
    wrote = fixtures.write_avec2016(tmp_path / "manual", frames=6)
    b, sources = corpora.load("avec2016", data_dir=str(tmp_path / "data"),
                              manual_dir=str(tmp_path / "manual"))
    assert sorted(sources) == ["dev", "test", "train"]
    md = b.info.metadata
    assert md["kind"] == "continuous" and md["annotators"] == list(fixtures.AVEC_ANNOTATORS)
    assert md["dimensions"] == ["arousal", "valence"] and md["skipped"] == []
    assert md["gold_standard_verified"] == 2
    recs = {**_by_id(sources["train"]), **_by_id(sources["dev"]), **_by_id(sources["test"])}
    assert sorted(recs) == ["dev_1", "test_1", "train_1", "train_2"]
    for rid, rec in recs.items():
        assert schema.decode_text(rec["speaker"]) == rid
        assert rec["sample_rate"] == wrote["sr"]
        np.testing.assert_array_equal(rec["audio"], wrote["audio"][rid])
        for dim in ("arousal", "valence"):
            if rid == "test_1":  # no public ratings: all NaN, frames from the audio length
                assert rec[dim].shape == (6, 6) and np.all(np.isnan(rec[dim]))
            else:
                np.testing.assert_array_equal(rec[dim], wrote["ratings"][(rid, dim)])


def test_avec2016_one_bad_rating_is_nan_and_reported(tmp_path):
    """Rater FM3's valence at frame 2 of train_2 is 'oops': that value is NaN, every other
    rating of the recording is kept, the entry names file, row and value."""
    wrote = fixtures.write_avec2016(tmp_path / "manual", frames=6, bad_row=True)
    csv_path = tmp_path / "manual/ratings_individual/valence/train_2.csv"
    with pytest.raises(avec._manual.FormatError,
                       match=r"train_2\.csv, row 4: expected a number for FM3, got 'oops'"):
        avec.read_ratings(csv_path)
    b, sources = corpora.load("avec2016", data_dir=str(tmp_path / "data"),
                              manual_dir=str(tmp_path / "manual"))
    train = _by_id(sources["train"])
    assert sorted(train) == ["train_1", "train_2"]
    want = wrote["ratings"][("train_2", "valence")].copy()
    want[2] = [0.1, 0.2, np.nan, 0.4, 0.5, 0.6]  # the fixture's bad row
    np.testing.assert_array_equal(train["train_2"]["valence"], want)
    np.testing.assert_array_equal(train["train_2"]["arousal"],
                                  wrote["ratings"][("train_2", "arousal")])
    skipped = b.info.metadata["skipped"]
    assert len(skipped) == 1
    assert "valence/train_2.csv:4: expected a number for FM3, got 'oops'" in skipped[0]
    assert skipped[0].endswith("(skipped that rating of train_2: NaN)")
    # the skip list survives a reload from disk
    b2, _ = corpora.load("avec2016", data_dir=str(tmp_path / "data"), build=False)
    assert b2.info.metadata["skipped"] == skipped


def test_avec2016_header_and_time_checks(tmp_path):
    p = tmp_path / "x.csv"
    p.write_text("time,FM1,FM2,FM3,FF1,FF2,FF3\n0.0,1,2,3,4,5,6\n")
    with pytest.raises(avec._manual.FormatError, match=r"x\.csv, row 1: header"):
        avec.read_ratings(p)
    p.write_text("time;FM1 ;FM2 ;FM3 ;FF1 ;FF2 ;FF3\n0.00;1;2;3;4;5;6\n0.08;1;2;3;4;5;6\n")
    with pytest.raises(avec._manual.FormatError, match=r"row 3: time 0.08, expected 0.040"):
        avec.read_ratings(p)


def test_avec2016_missing_manual_dir(tmp_path):
    with pytest.raises(FileNotFoundError, match="recordings_audio"):
        corpora.load("avec2016", data_dir=str(tmp_path / "data"), manual_dir=str(tmp_path))


def test_audio_and_ratings_that_disagree_in_length_keep_the_overlap(tmp_path):
    """train_2's audio lasts half its 21 rating rows (the issue's 10 s against 501 rows),
    dev_1's audio twice them, train_1's is one frame short (within the tolerance): the
    overlap is kept and each disagreeing file reported with both names and lengths."""
    wrote = fixtures.write_avec2016(tmp_path / "manual", frames=21)
    audio = tmp_path / "manual" / "recordings_audio"
    fixtures._wav(audio / "train_2.wav", 0.4, 1000, 5)    # 11 frames
    fixtures._wav(audio / "dev_1.wav", 1.6, 1000, 6)      # 41 frames
    fixtures._wav(audio / "train_1.wav", 0.76, 1000, 7)   # 20 frames: within one
    b, sources = corpora.load("avec2016", data_dir=str(tmp_path / "data"),
                              manual_dir=str(tmp_path / "manual"))
    train, dev = _by_id(sources["train"]), _by_id(sources["dev"])
    for dim in ("arousal", "valence"):
        np.testing.assert_array_equal(train["train_2"][dim],
                                      wrote["ratings"][("train_2", dim)][:11])
        np.testing.assert_array_equal(dev["dev_1"][dim], wrote["ratings"][("dev_1", dim)])
        np.testing.assert_array_equal(train["train_1"][dim], wrote["ratings"][("train_1", dim)])
    skipped = b.info.metadata["skipped"]
    assert len(skipped) == 4, skipped
    assert ("ratings_individual/arousal/train_2.csv: 21 rating rows (0.84 s) but "
            "recordings_audio/train_2.wav lasts 0.40 s (11 frames): kept the first 11 frames "
            "(skipped 10 rating rows after 0.44 s)") in skipped
    assert ("ratings_individual/valence/dev_1.csv: 21 rating rows (0.84 s) but "
            "recordings_audio/dev_1.wav lasts 1.60 s (41 frames): kept the first 21 frames "
            "(skipped the audio after 0.84 s)") in skipped
