"""Tests of seru/data/pipeline.py against numpy computed by hand on the raw ratings."""

import warnings

import numpy as np
import pytest

from toy_system import make_record
from seru.data import pipeline

HOP = 640


def _oracle_targets(ratings):
    """gold = mean of available raters, unbiased std (0 below 2 raters), count: by hand."""
    ratings = np.asarray(ratings, np.float64)
    n = np.sum(~np.isnan(ratings), axis=-1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # nanmean of an all-NaN frame
        gold = np.nanmean(ratings, axis=-1)
    std = np.zeros_like(gold)
    for idx in np.ndindex(gold.shape):
        vals = ratings[idx][~np.isnan(ratings[idx])]
        if vals.size >= 2:
            std[idx] = np.sqrt(np.sum((vals - vals.mean()) ** 2) / (vals.size - 1))
    return np.nan_to_num(gold), std, n


def _dataset(records, **kw):
    recs = {split: [pipeline.preprocess_record(r, kw.get("dims", ("arousal",)),
                                               kw.get("gold", "mean"), kw.get("delay", 0))
                    for r in rs] for split, rs in records.items()}
    return pipeline.ContinuousDataset(
        recs, seq_len=kw.get("seq_len", 20), batch_size=kw.get("batch_size", 4),
        eval_seq_len=kw.get("eval_seq_len", 30), eval_batch_size=4,
        eval_context=kw.get("eval_context", 0),
        dimensions=kw.get("dims", ("arousal",))), recs


def test_training_crops_match_raw_ratings_and_audio():
    dims = ("arousal", "valence")
    raw = [make_record(f"r{i}", 60 + 7 * i, n_ann=4, dims=dims, seed=i, missing=0.3)
           for i in range(3)]
    ds, _ = _dataset({"train": raw}, dims=dims)
    crops = ds.crops(seed=3, epoch=1)
    batches = list(ds.train_iter(seed=3, epoch=1))
    assert len(batches) == ds.steps_per_epoch == sum(-(-r["arousal"].shape[0] // 20)
                                                     for r in raw) // 4
    for b, batch in enumerate(batches):
        assert batch["audio"].shape == (4, 20 * HOP) and batch["gold"].shape == (4, 20, 2)
        for row in range(4):
            i, start = crops[b * 4 + row]
            rec = raw[i]
            ratings = np.stack([rec[d][start:start + 20] for d in dims], axis=1)  # [T, D, A]
            gold, std, n = _oracle_targets(ratings)
            np.testing.assert_allclose(batch["gold"][row], gold, atol=1e-6)
            np.testing.assert_allclose(batch["std"][row], std, atol=1e-6)
            np.testing.assert_array_equal(batch["num_raters"][row], n)
            np.testing.assert_array_equal(batch["mask"][row], np.all(n > 0, axis=-1))
            np.testing.assert_array_equal(
                batch["audio"][row], rec["audio"][start * HOP:(start + 20) * HOP])


def test_crops_deterministic_by_seed_and_epoch():
    raw = [make_record(f"r{i}", 80, seed=i) for i in range(4)]
    ds, _ = _dataset({"train": raw})
    a = list(ds.train_iter(0, 2))
    b = list(ds.train_iter(0, 2))
    c = list(ds.train_iter(0, 3))
    d = list(ds.train_iter(1, 2))
    for x, y in zip(a, b):
        for k in x:
            np.testing.assert_array_equal(x[k], y[k])
    assert ds.crops(0, 2) == ds.crops(0, 2)
    assert ds.crops(0, 2) != ds.crops(0, 3) and ds.crops(0, 2) != ds.crops(1, 2)
    assert not np.array_equal(a[0]["audio"], c[0]["audio"])
    assert not np.array_equal(a[0]["audio"], d[0]["audio"])
    # Every start is a valid crop: [0, frames - seq_len].
    assert all(0 <= s <= 80 - 20 for _, s in ds.crops(5, 0))


def test_short_recording_is_padded_and_masked():
    raw = [make_record("short", 12, seed=1, missing=0.0)]
    ds, _ = _dataset({"train": raw}, batch_size=2)
    batch = next(ds.train_iter(0, 0))
    assert ds.crops(0, 0) == [(0, 0), (0, 0)]
    np.testing.assert_array_equal(batch["mask"][0], np.r_[np.ones(12), np.zeros(8)])
    np.testing.assert_array_equal(batch["audio"][0, 12 * HOP:], 0.0)
    np.testing.assert_array_equal(batch["audio"][0, :12 * HOP], raw[0]["audio"])
    np.testing.assert_array_equal(batch["gold"][0, 12:], 0.0)
    # A frame nobody rated is masked out even inside the recording.
    rec = make_record("gap", 30, seed=2, missing=0.0)
    rec["arousal"][5] = np.nan
    (r,) = _dataset({"train": [rec]})[1]["train"]
    assert r.mask[5] == 0 and r.mask.sum() == 29


def test_audio_aligned_to_frames():
    long = make_record("long", 10, audio_frames=13, seed=0)
    short = make_record("short", 10, audio_frames=7, seed=0)
    rl = pipeline.preprocess_record(long, ("arousal",))
    rs = pipeline.preprocess_record(short, ("arousal",))
    assert rl.audio.shape == rs.audio.shape == (10 * HOP,)
    np.testing.assert_array_equal(rl.audio, long["audio"][:10 * HOP])
    np.testing.assert_array_equal(rs.audio[:7 * HOP], short["audio"])
    np.testing.assert_array_equal(rs.audio[7 * HOP:], 0.0)
    # 8 kHz audio is resampled to 16 kHz: a 100 Hz tone keeps its frequency.
    rec = make_record("sr8k", 25, sample_rate=8000)
    t = np.arange(25 * 320) / 8000
    rec["audio"] = np.sin(2 * np.pi * 100 * t).astype(np.float32)
    r = pipeline.preprocess_record(rec, ("arousal",))
    assert r.audio.shape == (25 * HOP,)
    ref = np.sin(2 * np.pi * 100 * np.arange(25 * HOP) / 16000)
    np.testing.assert_allclose(r.audio[2000:14000], ref[2000:14000], atol=1e-2)


def test_delay_shift_and_gold_choice():
    rec = make_record("d", 40, n_ann=3, seed=4, missing=0.0)
    r = pipeline.preprocess_record(rec, ("arousal",), gold="mean", delay_frames=5)
    ratings = rec["arousal"].astype(np.float64)
    shifted = np.concatenate([ratings[5:], np.repeat(ratings[-1:], 5, axis=0)])
    np.testing.assert_allclose(r.gold[:, 0], shifted.mean(-1), atol=1e-6)
    np.testing.assert_allclose(r.std[:, 0], shifted.std(-1, ddof=1), atol=1e-6)
    # EWE (Eq. (1) of han17): weights = Pearson r of each rater with the others' mean.
    r_ewe = pipeline.preprocess_record(rec, ("arousal",), gold="ewe")
    w = np.array([np.corrcoef(ratings[:, k], ratings.mean(1))[0, 1] for k in range(3)])
    assert np.all(w > 0)
    np.testing.assert_allclose(r_ewe.gold[:, 0], ratings @ w / w.sum(), atol=1e-5)


def test_eval_segments_cover_each_recording_once():
    raw = [make_record(f"d{i}", n, seed=i) for i, n in enumerate((45, 30, 61))]
    ds, recs = _dataset({"train": raw[:1], "dev": raw}, eval_seq_len=30)
    seen = {}
    n_batches = 0
    for batch, meta in ds.eval_iter("dev"):
        n_batches += 1
        assert batch["audio"].shape == (4, 30 * HOP)
        for row, (rid, s, n) in enumerate(zip(meta["ids"], meta["starts"], meta["lengths"])):
            if not rid:
                assert n == 0 and batch["mask"][row].sum() == 0
                continue
            seen.setdefault(rid, []).append((int(s), int(n)))
            np.testing.assert_array_equal(batch["mask"][row, n:], 0.0)
    assert n_batches == 2  # 2 + 1 + 3 = 6 segments in batches of 4
    assert seen == {"d0": [(0, 30), (30, 15)], "d1": [(0, 30)],
                    "d2": [(0, 30), (30, 30), (60, 1)]}


def test_bad_records_name_the_record():
    rec = make_record("x", 10)
    with pytest.raises(KeyError, match="record corpus/train\\[3\\].*valence"):
        pipeline.preprocess_record(rec, ("valence",), where="corpus/train[3]")
    rec["arousal"] = rec["arousal"][:, 0]
    with pytest.raises(ValueError, match="record x.*\\[frames, annotators\\]"):
        pipeline.preprocess_record(rec, ("arousal",))
    with pytest.raises(ValueError, match="data.gold"):
        pipeline.preprocess_record(make_record("y", 10), ("arousal",), gold="median")


def test_audio_norm_per_recording():
    rec = make_record("n", 30, seed=3)
    rec["audio"] = rec["audio"] * 5 + 2
    r = pipeline.preprocess_record(rec, ("arousal",), audio_norm="recording")
    x = rec["audio"].astype(np.float64)
    np.testing.assert_allclose(r.audio, (x - x.mean()) / x.std(), atol=1e-5)
    with pytest.raises(ValueError, match="data.audio_norm"):
        pipeline.preprocess_record(rec, ("arousal",), audio_norm="peak")


def test_eval_left_context_is_the_preceding_audio():
    raw = [make_record("c", 70, seed=5, missing=0.0)]
    ds, _ = _dataset({"train": raw, "dev": raw}, eval_seq_len=30, eval_context=7)
    (batch, meta), = list(ds.eval_iter("dev"))
    assert batch["audio"].shape == (4, 37 * HOP)
    assert list(meta["starts"][:3]) == [0, 30, 60] and list(meta["offsets"]) == [7] * 4
    audio = raw[0]["audio"]
    # Row 1 covers frames 23..59: context 23..29, then its segment 30..59.
    np.testing.assert_array_equal(batch["audio"][1], audio[23 * HOP:60 * HOP])
    np.testing.assert_array_equal(batch["mask"][1], 1.0)
    # Row 0 starts before the recording: 7 padded frames, masked.
    np.testing.assert_array_equal(batch["audio"][0, :7 * HOP], 0.0)
    np.testing.assert_array_equal(batch["mask"][0], np.r_[np.zeros(7), np.ones(30)])
    np.testing.assert_array_equal(batch["audio"][0, 7 * HOP:], audio[:30 * HOP])
    # Row 2: frames 53..69 then padding.
    np.testing.assert_array_equal(batch["mask"][2], np.r_[np.ones(17), np.zeros(20)])
