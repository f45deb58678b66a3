"""Tests of seru.data.frames (input 'frame_features', han17 Sec. 4.1) on seru_synth_continuous/tiny.

Oracles: the targets recomputed with numpy from the stored records (per-rater box resampling,
``labels.ewe`` / ``labels.rater_std``, min-max of the training frames), the features read with
``cached_frame_functionals`` / ``landmark_frames`` directly.
"""

import numpy as np
import pytest

from seru import config as config_lib
from seru.data import corpora, frames, inputs, labels
from seru.data.features.frame_functionals import cached_frame_functionals
from seru.data.features.landmarks import landmark_frames
from seru.data.resample import resample_ratings
from seru.data.timebase import TimeBase

DIMS = ("arousal", "valence")
HOP_IN = 0.04


def make_config(data_dir, **frames_kw):
    c = config_lib.defaults()
    c.data.corpus, c.data.variant, c.data.data_dir = "seru_synth_continuous", "tiny", data_dir
    c.data.input, c.data.gold, c.data.dimensions = "frame_features", "ewe", DIMS
    c.data.seq_len, c.data.batch_size, c.eval.batch_size = 50, 2, 2
    c.data.eval_seq_len, c.data.eval_context = 60, 10
    for k, v in frames_kw.items():
        c.data.frames[k] = v
    return c


@pytest.fixture(scope="module")
def cfg(synth_data_dir):
    return make_config(synth_data_dir)


@pytest.fixture(scope="module")
def ds(cfg):
    return inputs.get("frame_features").build(cfg)


def oracle_targets(record, delay=0):
    """Per-rater resampled ratings [T, D, A], EWE gold and NaN-filled rater std [T, D]."""
    r = np.stack([resample_ratings(np.asarray(record[d], np.float64), HOP_IN, 0.1)
                  for d in DIMS], axis=1).astype(np.float32)
    if delay:
        r = np.asarray(labels.shift_labels(r, delay, axis=0))
    gold = np.stack([labels.ewe(r[:, i]) for i in range(len(DIMS))], -1)
    std = labels.rater_std(r, fill=np.nan)
    return r, gold, std


def test_batches_shapes_dtypes_and_time_base(ds):
    assert ds.time_base == TimeBase(0.1) and ds.framewise is True
    assert ds.splits == ("train", "dev", "test") and ds.dimensions == DIMS
    b = ds.example_batch()
    assert b["features"].shape == (2, 50, 118)
    for k in ("gold", "std", "num_raters"):
        assert b[k].shape == (2, 50, 2)
    assert b["mask"].shape == (2, 50)
    assert all(v.dtype == np.float32 for v in b.values())
    batches = list(ds.train_iter(0, 0))
    assert len(batches) == ds.steps_per_epoch >= 1
    assert all({k: v.shape for k, v in x.items()} == {k: v.shape for k, v in b.items()}
               for x in batches)
    for batch, meta in ds.eval_iter("dev"):
        assert batch["features"].shape == (2, 70, 118)
        assert set(meta) >= {"ids", "starts", "lengths", "offsets"}
    t = ds.targets("dev")
    assert len(t) == 2
    for item in t.values():
        assert item["gold"].shape == item["std"].shape == item["num_raters"].shape == (120, 2)
        assert item["mask"].shape == (120,) and item["ratings"].shape[:2] == (120, 2)
        assert item["speaker"].ndim == 0 and item["gender"].ndim == 0
    import json
    json.dumps(ds.statistics)


def test_targets_match_numpy_oracle_with_train_only_scaling(ds, synth_continuous):
    _, sources = synth_continuous
    raw = {s: [oracle_targets(sources[s][i]) for i in range(len(sources[s]))]
           for s in ("train", "dev", "test")}
    # min-max of the training split's std per dimension (every frame is rated in tiny)
    train_std = np.concatenate([o[2] for o in raw["train"]], 0)
    lo, hi = np.nanmin(train_std, 0), np.nanmax(train_std, 0)
    for split in ("train", "dev", "test"):
        t = ds.targets(split)
        for i, (r, gold, std) in enumerate(raw[split]):
            rid = sources[split][i]["id"].decode()
            np.testing.assert_allclose(t[rid]["ratings"], r, atol=1e-6, equal_nan=True)
            np.testing.assert_allclose(t[rid]["gold"], gold, atol=1e-5)
            want = np.nan_to_num((std - lo) / (hi - lo), nan=0.0)
            np.testing.assert_allclose(t[rid]["std"], want, atol=1e-5)
            np.testing.assert_array_equal(t[rid]["num_raters"], np.sum(~np.isnan(r), -1))
    np.testing.assert_allclose(ds.statistics["std_scaling"]["offset"], lo, rtol=1e-6)
    np.testing.assert_allclose(ds.statistics["std_scaling"]["scale"], hi - lo, rtol=1e-6)


def test_features_standardised_with_train_statistics(ds, cfg, synth_continuous):
    _, sources = synth_continuous
    cache = f"{cfg.data.data_dir}/seru_features"

    def raw(split, i):
        rec = sources[split][i]
        return cached_frame_functionals(rec["id"].decode(), rec["audio"], 16000, cache_dir=cache,
                                        corpus=cfg.data.corpus, variant="tiny", num_frames=120)

    train = np.concatenate([raw("train", i) for i in range(2)], 0).astype(np.float64)
    mean, sd = train.mean(0), train.std(0)
    sd = np.where(sd > 1e-8, sd, 1.0)
    np.testing.assert_allclose(ds.statistics["feature_mean"], mean, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(ds.statistics["feature_std"], sd, rtol=1e-6, atol=1e-6)
    rec = ds.recordings["dev"][0]
    assert rec.id == sources["dev"][0]["id"].decode()
    np.testing.assert_allclose(rec.features, (raw("dev", 0) - mean) / sd, rtol=1e-4, atol=1e-4)
    z = np.concatenate([r.features for r in ds.recordings["train"]], 0)
    np.testing.assert_allclose(z.mean(0), 0.0, atol=1e-4)


def assert_same_statistics(a, b):
    assert set(a) == set(b)
    for k in ("feature_mean", "feature_std"):
        np.testing.assert_allclose(a[k], b[k], rtol=1e-6)
    for k in ("offset", "scale"):
        np.testing.assert_allclose(a["std_scaling"][k], b["std_scaling"][k], rtol=1e-6)
    assert a["num_frames"] == b["num_frames"]


class _Changed:
    """A data source whose records have other ratings and louder audio."""

    def __init__(self, src):
        self.src = src

    def __len__(self):
        return len(self.src)

    def __getitem__(self, i):
        rec = dict(self.src[i])
        for d in DIMS:
            r = np.asarray(rec[d], np.float32)
            rec[d] = r * 3.0 + np.linspace(0, 1, r.shape[1], dtype=np.float32)
        rec["audio"] = np.asarray(rec["audio"]) * 4.0
        return rec


def test_statistics_come_from_train_only(cfg, ds, monkeypatch, tmp_path):
    load = corpora.load

    def changed(*args, **kw):
        builder, sources = load(*args, **kw)
        return builder, {k: (v if k == "train" else _Changed(v)) for k, v in sources.items()}

    monkeypatch.setattr(corpora, "load", changed)
    c = cfg.copy_and_resolve_references()
    c.data.features.cache_dir = str(tmp_path)  # no cached features of the unchanged audio
    other = frames.build(c)
    assert_same_statistics(other.statistics, ds.statistics)
    a, b = ds.targets("dev"), other.targets("dev")
    assert not np.allclose(a["dev_1"]["std"], b["dev_1"]["std"])
    assert not np.allclose(ds.recordings["dev"][0].features, other.recordings["dev"][0].features)


def test_video_modality_features_and_mask(synth_data_dir, synth_continuous):
    _, sources = synth_continuous
    c = make_config(synth_data_dir, modality="video")
    vds = frames.build(c)
    b = vds.example_batch()
    assert b["features"].shape == (2, 50, 98) and b["features"].dtype == np.float32
    assert np.all(np.isfinite(b["features"]))
    lost = 0
    for i, rec in enumerate(vds.recordings["train"]):
        src = sources["train"][i]
        lm = landmark_frames(src["video_landmarks"], src["video_mask"], 0.04, 0.1, 120)
        face = np.isfinite(lm).all(-1)
        rated = np.all(rec.num_raters > 0, -1)
        np.testing.assert_array_equal(rec.mask, (face & rated).astype(np.float32))
        np.testing.assert_array_equal(rec.features[~face], 0.0)
        lost += int((~face).sum())
    assert lost > 0  # tiny has faces lost: the mask is exercised
    with pytest.raises(ValueError, match="modality"):
        inputs.get("frame_features").from_signals(c, [("x", np.zeros(16000, np.float32), 16000)])


def test_delay_frames_shift_the_targets_at_the_frame_rate(cfg, ds, synth_continuous):
    _, sources = synth_continuous
    c = cfg.copy_and_resolve_references()
    c.data.delay_frames = 5
    shifted = frames.build(c, ["train"])
    t0, t5 = ds.targets("train"), shifted.targets("train")
    for i in range(2):
        rid = sources["train"][i]["id"].decode()
        np.testing.assert_array_equal(t5[rid]["ratings"][:-5], t0[rid]["ratings"][5:])
        r, gold, _ = oracle_targets(sources["train"][i], delay=5)
        np.testing.assert_allclose(t5[rid]["gold"], gold, atol=1e-5)
    # the features do not move
    np.testing.assert_array_equal(shifted.recordings["train"][0].features,
                                  ds.recordings["train"][0].features)


def test_registered_input_other_corpus_and_signals(cfg, ds, synth_continuous):
    it = inputs.get("frame_features")
    assert "gain" in it.level_note(cfg)
    ev = it.other_corpus(cfg, None, None, "test")
    assert ev.splits == ("test",)
    assert_same_statistics(ev.statistics, ds.statistics)
    _, sources = synth_continuous
    audio = np.asarray(sources["dev"][0]["audio"], np.float32)
    pred = it.from_signals(cfg, [("a", audio, 16000)])
    (batch, meta), = list(pred.eval_iter("predict"))
    assert batch["features"].shape[-1] == 118 and meta["ids"][0] == "a"
    np.testing.assert_array_equal(batch["mask"], 0.0)
    np.testing.assert_allclose(pred.recordings["predict"][0].features,
                               ds.recordings["dev"][0].features, atol=1e-4)
