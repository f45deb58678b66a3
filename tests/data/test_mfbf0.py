"""Tests of seru/data/features/mfbf0.py: shapes and frame counts, the log-mel against a direct
librosa call, F0 and voicing of synthetic signals, skips, config checks and the per-utterance
cache."""

import importlib
import os

import numpy as np
import pytest

from seru.data import cache
from seru.data.features.config import SkipUtterance

M = importlib.import_module("seru.data.features.mfbf0")

SR = 16_000


def harmonic(f0=150.0, dur=1.0, amp=0.3, sr=SR, harmonics=5):
    """A harmonic tone: sum_k sin(2 pi k f0 t) / k, k = 1..harmonics, peak below 1."""
    t = np.arange(int(dur * sr)) / sr
    y = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, harmonics + 1))
    return (amp * y / np.abs(y).max()).astype(np.float32)


def noise(dur=1.0, seed=0):
    return (0.1 * np.random.default_rng(seed).normal(size=int(dur * SR))).astype(np.float32)


def test_shapes_frame_count_and_names():
    y = harmonic(dur=1.2345)                           # 19,752 samples
    x = M.mfbf0(y, SR)
    assert x.shape == (1 + 19_752 // 160, 42) == (124, 42)
    assert x.dtype == np.float32 and np.all(np.isfinite(x))
    assert M.num_frames(len(y)) == 124 and M.num_mfbf0_features() == 42
    names = M.mfbf0_names()
    assert len(names) == 42 and names[0] == "logmel_0" and names[40:] == ["log_f0", "voicing"]
    assert M.mfbf0_names({"log_f0": False})[40] == "f0_hz"
    assert M.mfbf0(y, SR, {"n_mels": 20}).shape == (124, 22)
    # another rate is resampled to 16 kHz first: 1 s at 22.05 kHz -> 16,000 samples -> 101 frames
    assert M.mfbf0(harmonic(sr=22_050), 22_050).shape == (101, 42)


def test_log_mel_equals_a_direct_librosa_call():
    import librosa

    y = harmonic(180.0) + noise(seed=1)
    x = M.mfbf0(y, SR)
    mel = librosa.feature.melspectrogram(y=y, sr=SR, n_fft=512, hop_length=160, win_length=400,
                                         n_mels=40, fmin=20.0, fmax=8000.0, power=2.0)
    np.testing.assert_allclose(x[:, :40], np.log(np.maximum(mel, 1e-10)).T, rtol=1e-5,
                               atol=1e-5)
    # the floor: digital silence is ln(1e-10) in every band; F0 and voicing 0
    s = M.mfbf0(np.zeros(SR // 2, np.float32), SR)
    np.testing.assert_allclose(s[:, :40], np.log(1e-10), rtol=1e-6)
    np.testing.assert_array_equal(s[:, 40:], 0.0)
    # a 1 kHz sine peaks in the band whose centre is nearest 1 kHz
    t = np.arange(SR) / SR
    sine = M.mfbf0((0.5 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32), SR)
    centres = librosa.mel_frequencies(42, fmin=20.0, fmax=8000.0)[1:-1]
    assert np.argmax(sine[50, :40]) == np.argmin(np.abs(centres - 1000))


@pytest.mark.parametrize("f0", [110.0, 150.0, 233.0])
def test_f0_of_a_harmonic_tone(f0):
    x = M.mfbf0(harmonic(f0), SR)
    inner = x[5:-5]                                    # away from the zero-padded edges
    assert np.all(inner[:, 41] > 0.9)                  # voiced, periodic
    np.testing.assert_allclose(np.exp(inner[:, 40]), f0, atol=2.0)
    hz = M.mfbf0(harmonic(f0), SR, {"log_f0": False})[5:-5, 40]
    np.testing.assert_allclose(hz, f0, atol=2.0)


def test_noise_is_unvoiced_and_f0_is_zero_exactly_where_unvoiced():
    x = M.mfbf0(noise(2.0, seed=3), SR)
    voicing, f0 = x[:, 41], x[:, 40]
    assert np.all((voicing >= 0) & (voicing <= 1))
    assert np.mean(voicing < 0.45) > 0.98 and voicing.mean() < 0.2
    np.testing.assert_array_equal(f0[voicing < 0.45], 0.0)
    # a tone, then noise: voiced then unvoiced, F0 zero exactly on the unvoiced frames
    y = np.concatenate([harmonic(150.0), noise(1.0, seed=4)])
    z = M.mfbf0(y, SR)
    assert np.all(z[10:90, 41] >= 0.45) and np.mean(z[110:190, 41] < 0.45) > 0.95
    np.testing.assert_array_equal(z[:, 40] == 0, z[:, 41] < 0.45)


def test_skips_and_config_errors():
    with pytest.raises(SkipUtterance) as e:
        M.mfbf0(np.zeros(100, np.float32), SR)
    assert e.value.reason == "too_short"
    bad = harmonic()
    bad[10] = np.nan
    with pytest.raises(SkipUtterance) as e:
        M.mfbf0(bad, SR)
    assert e.value.reason == "extractor_failed"
    with pytest.raises(ValueError, match="mono"):
        M.mfbf0(np.zeros((2, 800), np.float32), SR)
    with pytest.raises(ValueError, match="unknown keys"):
        M.mfbf0_config({"fmin": 50.0})
    for bad_cfg in ({"mel_fmax": 9000.0}, {"win_length": 600}, {"f0_fmin": 20.0},
                    {"log_floor": 0.0}, {"voicing_threshold": 1.5}):
        with pytest.raises(ValueError, match="MFBF0 config"):
            M.mfbf0_config(bad_cfg)


def test_cache_reads_a_second_call_and_a_changed_config_is_a_new_entry(tmp_path, monkeypatch):
    calls = []
    real = M.mfbf0
    monkeypatch.setattr(M, "mfbf0", lambda *a: calls.append(1) or real(*a))
    y = harmonic(160.0, 0.8)
    kw = dict(cache_dir=tmp_path, corpus="toy", variant="v1")
    first = M.cached_mfbf0("spk/utt 1", y, SR, None, **kw)
    assert len(calls) == 1 and os.listdir(tmp_path) == [
        M.mfbf0_cache_path(tmp_path, "spk/utt 1", M.mfbf0_cache_key("spk/utt 1", y, SR, None,
                                                                    corpus="toy",
                                                                    variant="v1"),
                           corpus="toy", variant="v1").name]
    assert os.listdir(tmp_path)[0].startswith("toy-v1-mfbf0-spk_utt_1-")
    np.testing.assert_array_equal(first, real(y, SR))
    again = M.cached_mfbf0("spk/utt 1", y, SR, None, **kw)
    assert len(calls) == 1                              # read, not computed
    np.testing.assert_array_equal(again, first)
    assert again.dtype == np.float32 and again.shape == (81, 42)
    # the defaults given explicitly are the same entry
    M.cached_mfbf0("spk/utt 1", y, SR, dict(M.MFBF0_DEFAULTS), **kw)
    assert len(calls) == 1 and len(os.listdir(tmp_path)) == 1
    # a changed config, other audio under the same id (a noisy copy), another id or variant:
    # each a new entry
    changed = M.cached_mfbf0("spk/utt 1", y, SR, {"n_mels": 20}, **kw)
    assert changed.shape == (81, 22)
    M.cached_mfbf0("spk/utt 1", y, SR, {"mel_fmin": 0.0}, **kw)
    M.cached_mfbf0("spk/utt 1", y + noise(0.8), SR, None, **kw)
    M.cached_mfbf0("spk_utt 1", y, SR, None, **kw)
    M.cached_mfbf0("spk/utt 1", y, SR, None, cache_dir=tmp_path, corpus="toy", variant="v2")
    assert len(calls) == 6 and len(os.listdir(tmp_path)) == 6
    # the first entry is intact and still read
    np.testing.assert_array_equal(M.cached_mfbf0("spk/utt 1", y, SR, None, **kw), first)
    assert len(calls) == 6
    # a corrupt entry is never trusted: extracted and written again
    key = M.mfbf0_cache_key("spk/utt 1", y, SR, None, corpus="toy", variant="v1")
    path = M.mfbf0_cache_path(tmp_path, "spk/utt 1", key, corpus="toy", variant="v1")
    path.write_bytes(b"not an npz")
    np.testing.assert_array_equal(M.cached_mfbf0("spk/utt 1", y, SR, None, **kw), first)
    assert len(calls) == 7
    assert str(cache.read(path, key)[cache.KEY_FIELD]) == key
    assert not [f for f in os.listdir(tmp_path) if f.endswith(".tmp")]


def test_utterance_list_caches_each_item_and_counts_skips(tmp_path, monkeypatch):
    items = [("a", harmonic(120.0, 0.5), SR), ("short", np.zeros(50, np.float32), SR),
             ("b", noise(0.3), SR), ("nan", np.full(4000, np.nan, np.float32), SR)]
    out = M.mfbf0_utterances(items, cache_dir=tmp_path, corpus="toy", variant="v")
    assert out["ids"] == ["a", "b"]
    np.testing.assert_array_equal(out["lengths"], [51, 31])
    assert [x.shape for x in out["features"]] == [(51, 42), (31, 42)]
    assert out["skipped_ids"] == ["short", "nan"]
    assert out["skipped_reasons"] == ["too_short", "extractor_failed"]
    assert len(os.listdir(tmp_path)) == 2               # skipped utterances are not cached
    calls = []
    real = M.mfbf0
    monkeypatch.setattr(M, "mfbf0", lambda *a: calls.append(1) or real(*a))
    again = M.mfbf0_utterances(iter(items), cache_dir=tmp_path, corpus="toy", variant="v")
    assert len(calls) == 2                              # only the two skipped ones are tried
    for x, y in zip(again["features"], out["features"]):
        np.testing.assert_array_equal(x, y)
    # without a cache folder nothing is written, the features are the same
    plain = M.mfbf0_utterances(items[:1], cache_dir=None)
    np.testing.assert_array_equal(plain["features"][0], out["features"][0])
    assert len(os.listdir(tmp_path)) == 2
