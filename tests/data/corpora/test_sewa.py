"""SEWA (AVEC 2017) reader on fixture directories in the true on-disk format."""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
import fixtures  # noqa: E402

from seru.data import audio as audio_lib  # noqa: E402
from seru.data import corpora, schema, timebase  # noqa: E402
from seru.data.corpora.sewa import builder as sewa  # noqa: E402


def _by_id(source):
    return {schema.decode_text(source[i]["id"]): source[i] for i in range(len(source))}


def _load(tmp_path, **kw):
    return corpora.load("sewa", data_dir=str(tmp_path / "data"), manual_dir=str(tmp_path / "manual"), **kw)


def test_sewa_individual_ratings_build_and_read_back(tmp_path):
    wrote = fixtures.write_sewa(tmp_path / "manual", frames=6, sr=8000)
    b, sources = _load(tmp_path)
    assert sorted(sources) == ["dev", "test", "train"]
    md = b.info.metadata
    assert md["kind"] == "continuous" and md["dimensions"] == ["arousal", "valence", "liking"]
    assert md["annotators"] == list(fixtures.SEWA_RATERS) and md["ratings"] == "individual"
    assert md["frame_hop_s"] == 0.1 and md["rating_range"] == [-1.0, 1.0]
    assert md["skipped"] == [] and md["gold_standard_verified"] == 3
    assert timebase.of_corpus(md).samples_per_frame == 1600
    assert sorted(_by_id(sources["train"])) == ["Train_01", "Train_02"]  # Train_2.wav -> Train_02
    recs = {**_by_id(sources["train"]), **_by_id(sources["dev"]), **_by_id(sources["test"])}
    for rid, rec in recs.items():
        assert schema.decode_text(rec["speaker"]) == rid
        assert rec["sample_rate"] == 16000
        want = audio_lib.resample(wrote["audio"][rid], wrote["sr"], 16000)
        np.testing.assert_allclose(rec["audio"], want, atol=1e-7)
        assert len(rec["audio"]) == 8000  # 0.5 s at 16 kHz
        for dim in fixtures.SEWA_DIMS:
            assert rec[dim].dtype == np.float32 and rec[dim].shape == (6, 3)
            if rid == "Test_01":  # no public labels: all NaN, frames from the audio length
                assert np.all(np.isnan(rec[dim]))
            else:
                np.testing.assert_array_equal(rec[dim], wrote["ratings"][(rid, dim)])
    dev = recs["Devel_01"]["arousal"]
    assert np.all(np.isnan(dev[:, 2]))  # rater R3 did not rate Devel_01
    assert np.isnan(dev[1, 1]) and np.isfinite(dev[0, 1])  # the empty field of row 3


def test_sewa_gold_standard_only(tmp_path):
    wrote = fixtures.write_sewa(tmp_path / "manual", frames=6, individual=False)
    b, sources = _load(tmp_path)
    md = b.info.metadata
    assert md["annotators"] == ["gold_standard"] and md["ratings"] == "gold_standard"
    assert md["skipped"] == []
    rec = _by_id(sources["train"])["Train_01"]
    for i, dim in enumerate(fixtures.SEWA_DIMS):
        assert rec[dim].shape == (6, 1)
        np.testing.assert_array_equal(rec[dim][:, 0], wrote["gold"]["Train_01"][:, i])
    test = _by_id(sources["test"])["Test_01"]
    assert test["liking"].shape == (6, 1) and np.all(np.isnan(test["liking"]))


def test_sewa_malformed_rows_cost_only_themselves_and_are_reported(tmp_path):
    fixtures.write_sewa(tmp_path / "manual", frames=6, bad_row=True)
    man = tmp_path / "manual"
    with pytest.raises(sewa._manual.FormatError,
                       match=r"Train_02\.csv, row 4: expected a number for rater R2, got 'abc'"):
        sewa.read_ratings(man / "ratings_individual/valence/Train_02.csv")
    with pytest.raises(sewa._manual.FormatError,
                       match=r"labels/Train_02\.csv, row 4: expected a number for valence, got 'oops'"):
        sewa.read_labels(man / "labels/Train_02.csv", "Train_02")
    b, sources = _load(tmp_path)
    train = _by_id(sources["train"])
    assert sorted(train) == ["Train_01", "Train_02"]  # one bad rating costs only itself
    assert np.isnan(train["Train_02"]["valence"][2, 1])
    assert np.isfinite(np.delete(train["Train_02"]["valence"].ravel(), 2 * 3 + 1)).sum() > 0
    skipped = b.info.metadata["skipped"]
    assert len(skipped) == 2
    assert skipped[0] == ("ratings_individual/valence/Train_02.csv:4: expected a number for "
                          "rater R2, got 'abc' (skipped that rating of Train_02: NaN)")
    assert "labels/Train_02.csv:4: expected a number for valence, got 'oops'" in skipped[1]
    b2, _ = _load(tmp_path, build=False)  # the skip list survives a reload from disk
    assert b2.info.metadata["skipped"] == skipped


def test_sewa_audio_and_ratings_length_mismatch_keeps_the_overlap(tmp_path):
    """Train_01's audio 2 s longer than its 6 rating frames: the recording is kept with its
    ratings, each rating file reported with both names and both lengths."""
    fixtures.write_sewa(tmp_path / "manual", frames=6, long_audio=True)
    b, sources = _load(tmp_path)
    train = _by_id(sources["train"])
    assert sorted(train) == ["Train_01", "Train_02"]
    assert all(train["Train_01"][d].shape[0] == 6 for d in ("arousal", "valence", "liking"))
    skipped = b.info.metadata["skipped"]
    assert len(skipped) == 3, skipped  # one per dimension's rating file
    assert ("ratings_individual/arousal/Train_01.csv: 6 rating rows (0.60 s) but "
            "audio/Train_01.wav lasts 2.50 s (26 frames): kept the first 6 frames "
            "(skipped the audio after 0.60 s)") in skipped


def test_sewa_label_format_checks(tmp_path):
    p = tmp_path / "Devel_01.csv"
    p.write_text("name;timestamp;arousal;valence;liking\n'Devel_01';0.0;0.1;0.2;0.3\n"
                 "'Devel_01';0.1;0.1;0.2;0.3\n")  # AVEC 2019 form with header
    gold = sewa.read_labels(p, "Devel_01")
    np.testing.assert_allclose(gold["liking"], [0.3, 0.3])
    p.write_text("'Devel_01';0.0;0.1;0.2\n")
    with pytest.raises(sewa._manual.FormatError, match=r"row 1: 4 fields, expected 5"):
        sewa.read_labels(p)
    p.write_text("'Devel_01';0.0;0.1;0.2;0.3\n'Devel_01';0.2;0.1;0.2;0.3\n")
    with pytest.raises(sewa._manual.FormatError, match=r"row 2: time 0.2, expected 0.1"):
        sewa.read_labels(p)
    p.write_text("'Devel_02';0.0;0.1;0.2;0.3\n")
    with pytest.raises(sewa._manual.FormatError, match=r"row 1: instance name 'Devel_02', expected 'Devel_01'"):
        sewa.read_labels(p, "Devel_01")
    p.write_text("t;A;B\n0.0;1;2\n")
    with pytest.raises(sewa._manual.FormatError, match=r"row 1: header"):
        sewa.read_ratings(p)


def test_sewa_ids_and_missing_manual_dir(tmp_path):
    assert sewa.recording_id("Train_1") == "Train_01"
    assert sewa.recording_id("Test_HU_3") == "Test_HU_03"
    assert sewa.recording_id("train_1") is None
    with pytest.raises(FileNotFoundError, match="audio"):
        corpora.load("sewa", data_dir=str(tmp_path / "data"), manual_dir=str(tmp_path))
