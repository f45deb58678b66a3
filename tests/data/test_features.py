"""Tests of seru/data/features/: functionals, extraction, cache, skips, targets, dataset."""

import os

import numpy as np
import pytest
import scipy.stats

from seru.data import features as F

SR = 16_000
RNG = np.random.default_rng(0)


def tone(freq=150.0, dur=0.5, amp=0.3, noise=0.0, seed=0):
    t = np.arange(int(dur * SR)) / SR
    y = amp * np.sin(2 * np.pi * freq * t)
    y = y + noise * np.random.default_rng(seed).normal(size=t.shape)
    return y.astype(np.float32)


class Source:
    """A data source (len + getitem) counting how often records are read."""

    def __init__(self, records):
        self.records, self.reads = records, 0

    def __len__(self):
        return len(self.records)

    def __getitem__(self, i):
        self.reads += 1
        return self.records[i]


def record(rid, audio, arousal, sr=SR):
    return {"id": rid.encode(), "speaker": b"spk", "gender": b"female", "audio": audio,
            "sample_rate": np.int32(sr), "arousal": np.asarray(arousal, np.float32)}


def small_source():
    return Source([
        record("a", tone(150, seed=1, noise=0.01), [1, 2, 2, np.nan]),
        record("b", tone(220, seed=2, noise=0.05), [7, 7, 6, 5]),
        record("short", tone(150, dur=0.02), [3, 3]),
        record("silent", np.zeros(SR // 2, np.float32), [4, 4]),
        record("unrated", tone(300, seed=3, noise=0.02), [np.nan, np.nan]),
    ])


def test_functionals_match_scipy():
    x = RNG.normal(size=(3, 57)) ** 3
    hop = 0.01
    out = F.functionals(x, hop)
    t = np.arange(57) * hop
    for i in range(3):
        np.testing.assert_allclose(out[i, 0], x[i].mean(), rtol=1e-10)
        np.testing.assert_allclose(out[i, 1], x[i].std(), rtol=1e-10)
        np.testing.assert_allclose(out[i, 2], scipy.stats.skew(x[i]), rtol=1e-8)
        np.testing.assert_allclose(out[i, 3], scipy.stats.kurtosis(x[i]), rtol=1e-8)
        np.testing.assert_allclose(out[i, 4:7], scipy.stats.scoreatpercentile(x[i], [1, 50, 99]),
                                   rtol=1e-10)
        np.testing.assert_allclose(out[i, 7], np.ptp(x[i]), rtol=1e-10)
        np.testing.assert_allclose(out[i, 8], scipy.stats.linregress(t, x[i]).slope, rtol=1e-8)
    const = F.functionals(np.full((1, 10), 2.0), hop)
    np.testing.assert_allclose(const[0], [2, 0, 0, 0, 2, 2, 2, 0, 0], atol=1e-12)


def test_librosa_features_shape_finite_and_pitch():
    vec = F.extract_librosa(tone(150, noise=0.001), SR)
    names = F.feature_names()
    assert vec.shape == (531,) == (len(names),) and vec.dtype == np.float32
    assert np.all(np.isfinite(vec))
    # a 150 Hz tone: F0 150 Hz (within yin's resolution), fully voiced
    np.testing.assert_allclose(vec[names.index("f0_p50")], 150.0, rtol=0.02)
    assert vec[names.index("voicing_p50")] > 0.95
    # RMS of a sine of amplitude 0.3 is 0.3/sqrt(2)
    np.testing.assert_allclose(vec[names.index("rms_db_p50")],
                               20 * np.log10(0.3 / np.sqrt(2)), atol=0.5)
    # resampling: the same tone at 8 kHz gives about the same F0
    t = np.arange(4000) / 8000
    vec8 = F.extract_librosa((0.3 * np.sin(2 * np.pi * 150 * t)).astype(np.float32), 8000)
    np.testing.assert_allclose(vec8[names.index("f0_p50")], 150.0, rtol=0.02)


def test_skips_are_classified():
    with pytest.raises(F.SkipUtterance) as e:
        F.extract_librosa(tone(dur=0.02), SR)
    assert e.value.reason == "too_short"
    with pytest.raises(F.SkipUtterance) as e:
        F.extract_librosa(np.zeros(SR, np.float32), SR)
    assert e.value.reason == "silent"
    bad = tone()
    bad[10] = np.nan
    with pytest.raises(F.SkipUtterance) as e:
        F.extract(bad, SR, dict(F.DEFAULTS))
    assert e.value.reason == "extractor_failed"


def test_cache_hit_miss_invalidation_and_skip_counts(tmp_path):
    cfg = dict(F.DEFAULTS, progress=False)
    src = small_source()
    kw = dict(cache_dir=tmp_path, corpus="toy", variant="tiny", split="train")
    data, hit = F.cached_features(src, cfg, ["arousal"], **kw)
    assert not hit and src.reads == 5
    assert list(data["ids"]) == ["a", "b", "unrated"]
    assert F.skip_counts(data) == {"too_short": 1, "silent": 1, "extractor_failed": 0,
                                   "unrated": 0}
    assert data["features"].shape == (3, 531)
    np.testing.assert_array_equal(data["ratings_arousal"][1], [7, 7, 6, 5])
    # hit: nothing is read again, same arrays
    data2, hit = F.cached_features(src, cfg, ["arousal"], **kw)
    assert hit and src.reads == 5
    np.testing.assert_array_equal(data2["features"], data["features"])
    # a changed feature config is a miss (and a new file)
    cfg2 = dict(cfg, n_mels=20)
    data3, hit = F.cached_features(src, cfg2, ["arousal"], **kw)
    assert not hit and src.reads == 10
    assert data3["features"].shape == (3, (13 + 13 + 20 + 7) * 9)
    # a changed corpus variant is a miss too
    _, hit = F.cached_features(src, cfg, ["arousal"], **dict(kw, variant="other"))
    assert not hit and src.reads == 15
    # options that do not change the features share the cache
    _, hit = F.cached_features(src, dict(cfg, progress=True), ["arousal"], **kw)
    assert hit
    assert len(list(tmp_path.glob("*.npz"))) == 3


def test_interrupted_write_leaves_no_trusted_cache(tmp_path, monkeypatch):
    cfg = dict(F.DEFAULTS, progress=False)
    src = Source(small_source().records[:2])
    kw = dict(cache_dir=tmp_path, corpus="toy", variant="tiny", split="dev")

    real_savez = np.savez

    def crash(f, **arrays):  # writes part of the file, then the process "dies"
        real_savez(f, ids=arrays["ids"])
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", crash)
    with pytest.raises(KeyboardInterrupt):
        F.cached_features(src, cfg, ["arousal"], **kw)
    assert os.listdir(tmp_path) == []
    monkeypatch.setattr(np, "savez", real_savez)
    _, hit = F.cached_features(src, cfg, ["arousal"], **kw)
    assert not hit and src.reads == 4
    # a corrupt file at the final path is not trusted either
    path = F.cache_path(tmp_path, cfg, "toy", "tiny", "dev")
    path.write_bytes(b"garbage")
    data, hit = F.cached_features(src, cfg, ["arousal"], **kw)
    assert not hit and len(data["ids"]) == 2


def test_utterance_targets_by_hand():
    r = np.array([[1, 2, 2, np.nan], [7, 7, 6, 5], [np.nan, np.nan, np.nan, np.nan]])
    cons, soft, has = F.utterance_targets(r, (1, 7), 7)
    np.testing.assert_allclose(cons, [2 * (5 / 3 - 1) / 6 - 1, 2 * (25 / 4 - 1) / 6 - 1, 0],
                               rtol=1e-6)
    np.testing.assert_allclose(soft[0], [1 / 3, 2 / 3, 0, 0, 0, 0, 0], rtol=1e-6)
    np.testing.assert_allclose(soft[1], [0, 0, 0, 0, 1 / 4, 1 / 4, 1 / 2], rtol=1e-6)
    np.testing.assert_allclose(soft[2], np.full(7, 1 / 7), rtol=1e-6)
    np.testing.assert_array_equal(has, [True, True, False])
    # a 5-point scale spreads over the same 7 bins: 1 -> 0, 3 -> 3, 5 -> 6
    _, soft5, _ = F.utterance_targets(np.array([[1.0, 3.0, 5.0, 5.0]]), (1, 5), 7)
    np.testing.assert_allclose(soft5[0], [1 / 4, 0, 0, 1 / 4, 0, 0, 1 / 2], rtol=1e-6)


def _dataset(tmp_path, batch=2, eval_batch=2):
    cfg = dict(F.DEFAULTS, progress=False)
    splits, skipped = {}, {}
    srcs = {"train": small_source(),
            "dev": Source([record("d1", tone(180, noise=0.02, seed=5), [3, 4]),
                           record("d2", tone(260, noise=0.03, seed=6), [np.nan])]),
            "unlabeled": Source([record(f"u{i}", tone(100 + 40 * i, noise=0.02, seed=i),
                                        [np.nan]) for i in range(3)])}
    for split, src in srcs.items():
        raw, _ = F.cached_features(src, cfg, ["arousal"], cache_dir=tmp_path, corpus="toy",
                                   variant="tiny", split=split)
        splits[split], dropped = F.assemble_split(raw, ["arousal"], (1, 7), 7,
                                                  labeled=split != "unlabeled")
        skipped[split] = dict(F.skip_counts(raw), unrated=dropped)
    return splits, skipped, F.FunctionalsDataset(
        splits, F.Scaler(splits["train"]["features"]), batch_size=batch,
        eval_batch_size=eval_batch, train_split="train", dimensions=["arousal"],
        rating_range=(1, 7), skipped=skipped)


def test_dataset_scaling_targets_and_iterators(tmp_path):
    splits, skipped, ds = _dataset(tmp_path)
    assert skipped["train"] == {"too_short": 1, "silent": 1, "extractor_failed": 0, "unrated": 1}
    assert skipped["dev"]["unrated"] == 1 and skipped["unlabeled"]["unrated"] == 0
    raw_train = splits["train"]["features"].astype(np.float64)
    mu, sd = raw_train.mean(0), raw_train.std(0)
    sd = np.where(sd > 1e-8, sd, 1.0)
    lo, span = raw_train.min(0), np.ptp(raw_train, 0)
    span = np.where(span > 1e-8, span, 1.0)
    dev = ds.arrays("dev")
    # dev scaled with the statistics of the training split only
    np.testing.assert_allclose(dev["features"], (splits["dev"]["features"] - mu) / sd,
                               rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(dev["recon_target"],
                               np.clip((splits["dev"]["features"] - lo) / span, 0, 1), atol=1e-5)
    assert ds.arrays("train")["recon_target"].min() >= 0
    assert ds.arrays("train")["recon_target"].max() <= 1
    np.testing.assert_allclose(dev["consensus"][:, 0], [2 * (3.5 - 1) / 6 - 1], rtol=1e-6)
    # training batches: a pure function of (seed, epoch), a permutation of the split
    b1 = list(ds.train_iter(0, 3))
    b2 = list(ds.train_iter(0, 3))
    assert ds.steps_per_epoch == 1 and len(b1) == 1
    np.testing.assert_array_equal(b1[0]["features"], b2[0]["features"])
    np.testing.assert_array_equal(b1[0]["mask"], [1, 1])
    ex = ds.example_batch()
    assert {k: v.shape for k, v in ex.items()} == {k: v.shape for k, v in b1[0].items()}
    assert ex["soft"].shape == (2, 1, 7)
    # evaluation: every utterance once, padding rows masked
    ds3 = F.FunctionalsDataset(splits, ds.scaler, batch_size=2, eval_batch_size=3,
                               train_split="unlabeled", dimensions=["arousal"],
                               rating_range=(1, 7))
    (batch, meta), = list(ds3.eval_iter("train"))
    assert meta["ids"] == ["a", "b", ""]
    np.testing.assert_array_equal(batch["mask"], [1, 1, 0])
    np.testing.assert_array_equal(batch["features"][2], 0)
    np.testing.assert_array_equal(meta["lengths"], [1, 1, 0])
    # the pre-training pool as training split
    (tb,) = list(ds3.train_iter(1, 0))
    assert tb["features"].shape == (2, 531)
    np.testing.assert_array_equal(tb["label_mask"], 0)
    tg = ds.targets("train")
    np.testing.assert_allclose(tg["b"]["gold"], [[2 * (25 / 4 - 1) / 6 - 1]], rtol=1e-6)
    np.testing.assert_array_equal(tg["b"]["num_raters"], [[4]])
    # ratings and std on the scale of gold: [1, 7] -> [-1, 1]
    np.testing.assert_allclose(tg["b"]["std"], [[np.std([7, 7, 6, 5], ddof=1) * 2 / 6]],
                               rtol=1e-6)
    np.testing.assert_allclose(tg["b"]["ratings"][0, 0, :4],
                               [2 * (r - 1) / 6 - 1 for r in (7, 7, 6, 5)], rtol=1e-6)
    np.testing.assert_allclose(np.nanmean(tg["b"]["ratings"]), tg["b"]["gold"][0, 0], rtol=1e-6)


def test_bad_config_is_a_clear_error():
    class C:
        class data:
            features = {"name": "mfcc"}
    with pytest.raises(ValueError, match="features.name"):
        F.feature_config(C)
    C.data.features = {"nmels": 3}
    with pytest.raises(ValueError, match="unknown keys"):
        F.feature_config(C)


def test_compare2016_functionals_when_opensmile_is_installed():
    opensmile = pytest.importorskip("opensmile")
    y = tone(150, dur=1.0, noise=0.01)
    vec = F.extract(y, SR, dict(F.DEFAULTS, name="compare2016"))
    assert vec.shape == (6373,) and np.all(np.isfinite(vec))  # sridhar21 Sec. III-B: 6,373-d
    smile = opensmile.Smile(feature_set=opensmile.FeatureSet.ComParE_2016,
                            feature_level=opensmile.FeatureLevel.Functionals)
    ref = smile.process_signal(y, SR)
    np.testing.assert_allclose(vec, ref.values[0], rtol=1e-5)
    names = list(ref.columns)
    # the F0 functional of a 150 Hz tone
    np.testing.assert_allclose(vec[names.index("F0final_sma_amean")], 150, rtol=0.05)
