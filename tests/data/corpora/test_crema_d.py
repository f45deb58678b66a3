"""CREMA-D reader on a fixture directory in the true on-disk format."""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
import fixtures  # noqa: E402

from seru.data import corpora, schema  # noqa: E402
from seru.data.corpora.crema_d import builder as crema  # noqa: E402


def _records(sources):
    return {split: {schema.decode_text(src[i]["id"]): src[i] for i in range(len(src))}
            for split, src in sources.items()}


def test_crema_d_builds_and_reads_back(tmp_path):
    wrote = fixtures.write_crema_d(tmp_path / "manual")
    b, sources = corpora.load("crema_d", data_dir=str(tmp_path / "data"),
                              manual_dir=str(tmp_path / "manual"))
    md = b.info.metadata
    assert md["skipped"] == [] and md["dimensions"] == [] and md["rating_range"] == []
    assert md["class_names"] == ["angry", "disgust", "fear", "happy", "neutral", "sad"]
    recs = _records(sources)
    # 10 sorted actors: the 9th (1009) is dev, the 10th (1010) test, the rest train
    assert {n[:4] for n in recs["dev"]} == {"1009"} and {n[:4] for n in recs["test"]} == {"1010"}
    assert len(recs["train"]) == 8
    for rs in recs.values():
        for name, rec in rs.items():
            np.testing.assert_array_equal(rec["emotion_votes"], wrote["votes"][name])  # voice rows only
            np.testing.assert_array_equal(rec["audio"], wrote["audio"][name])
            actor = int(name[:4])
            assert schema.decode_text(rec["speaker"]) == str(actor)
            assert schema.decode_text(rec["gender"]) == wrote["sex"][actor].lower()
            assert set(rec) == {"id", "speaker", "gender", "audio", "sample_rate", "emotion_votes"}


def test_crema_d_malformed_row_is_skipped_and_reported(tmp_path):
    fixtures.write_crema_d(tmp_path / "manual", bad_row=True)
    b, sources = corpora.load("crema_d", data_dir=str(tmp_path / "data"),
                              manual_dir=str(tmp_path / "manual"))
    recs = _records(sources)
    assert sum(len(r) for r in recs.values()) == 9
    assert not any(n.startswith("1004") for r in recs.values() for n in r)
    skipped = b.info.metadata["skipped"]
    # rows are written actor by actor, three per actor: 1004's voice row is record 10 -> line 11
    assert any("tabulatedVotes.csv:11: vote count F='2.5' for 1004_IEO_HAP_HI, expected a "
               "non-negative integer (skipped clip)" in s for s in skipped)
    # its wav is then reported as a clip without votes
    assert any("1004_IEO_HAP_HI.wav: no voice-only row" in s for s in skipped)
    assert len(skipped) == 2


def test_actor_split_is_deterministic_and_disjoint():
    actors = [str(1001 + i) for i in range(91)]
    s = crema.actor_split(reversed(actors))
    assert s == crema.actor_split(actors)
    counts = {k: sum(v == k for v in s.values()) for k in ("train", "dev", "test")}
    assert counts == {"train": 73, "dev": 9, "test": 9}
    assert s["1009"] == "dev" and s["1010"] == "test" and s["1011"] == "train"


def test_crema_d_bad_demographics_row_keeps_the_clips(tmp_path):
    wrote = fixtures.write_crema_d(tmp_path / "manual")
    demo = tmp_path / "manual" / "VideoDemographics.csv"
    lines = demo.read_text().splitlines()
    lines[2] = "1002,31"  # actor 1002 (line 3) lost its columns
    demo.write_text("\n".join(lines) + "\n")
    b, sources = corpora.load("crema_d", data_dir=str(tmp_path / "data"),
                              manual_dir=str(tmp_path / "manual"))
    recs = _records(sources)
    assert sum(len(r) for r in recs.values()) == 10
    assert schema.decode_text(recs["train"]["1002_IEO_DIS_HI"]["gender"]) == "unknown"
    assert schema.decode_text(recs["train"]["1001_IEO_ANG_HI"]["gender"]) == wrote["sex"][1001].lower()
    (entry,) = b.info.metadata["skipped"]
    assert "VideoDemographics.csv:3: 2 fields, expected 5" in entry
