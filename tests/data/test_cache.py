"""Tests of seru/data/cache.py: keys, paths, atomic writes, keyed reads."""

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pytest

from seru.data import cache
from seru.data import features as F


def arrays(key="abc123"):
    rng = np.random.default_rng(0)
    return {"x": rng.normal(size=(4, 3)).astype(np.float32),
            "ids": np.asarray(["a", "bb", "ccc", "d"]),
            "mask": np.asarray([True, False, True, True]),
            "n": np.asarray(7, np.int64),
            cache.KEY_FIELD: np.asarray(key)}


def test_cache_key_is_sha256_of_sorted_json():
    payload = {"b": [1, 2.5], "a": {"z": None, "y": "s"}}
    blob = b'{"a": {"y": "s", "z": null}, "b": [1, 2.5]}'
    assert cache.cache_key(payload) == hashlib.sha256(blob).hexdigest()[:12]
    assert cache.cache_key(dict(reversed(list(payload.items())))) == cache.cache_key(payload)
    assert cache.cache_key({"a": 1}) != cache.cache_key({"a": 2})
    assert len(cache.cache_key({})) == 12
    # values JSON does not know are written as str()
    assert cache.cache_key({"p": os.path.join("x", "y")}) == cache.cache_key(
        {"p": Path("x", "y")})


def test_feature_cache_keys_are_unchanged():
    """Existing feature caches stay valid: the key and file name of a fixed config."""
    cfg = dict(F.DEFAULTS)
    assert F.cache_key(cfg, "msp_podcast", "1.11", "train") == "c05b5695caf7"
    assert str(F.cache_path("/c", cfg, "msp_podcast", "1.11", "train")) == \
        "/c/msp_podcast-1.11-train-c05b5695caf7.npz"
    cfg2 = dict(cfg, n_mels=20, name="compare2016")
    assert F.cache_key(cfg2, "toy", "", "dev") == "874bf6da7dbe"
    assert F.cache_path("/c", dict(cfg, n_mels=20), "toy", None, "dev").name == \
        "toy-default-dev-7d29f942a2ef.npz"
    # options that do not change the features do not change the key
    assert F.cache_key(dict(cfg, progress=False, cache_dir="/x", num_bins=5),
                       "msp_podcast", "1.11", "train") == "c05b5695caf7"


def test_cache_path():
    assert cache.cache_path("/tmp/c", "toy-tiny-train", "0123456789ab") == \
        Path("/tmp/c/toy-tiny-train-0123456789ab.npz")


def test_round_trip_equals_input(tmp_path):
    a = arrays()
    path = cache.cache_path(tmp_path / "sub", "toy", "abc123")
    cache.write_atomic(path, a)
    assert os.listdir(tmp_path / "sub") == [path.name]
    got = cache.read(path, "abc123")
    assert sorted(got) == sorted(a)
    for k in a:
        assert got[k].dtype == a[k].dtype and got[k].shape == a[k].shape
        np.testing.assert_array_equal(got[k], a[k])
    # overwriting replaces the entry
    b = dict(a, x=a["x"] * 2)
    cache.write_atomic(path, b)
    np.testing.assert_array_equal(cache.read(path, "abc123")["x"], 2 * a["x"])


def test_key_mismatch_missing_and_corrupt_are_misses(tmp_path):
    path = tmp_path / "e.npz"
    assert cache.read(path, "abc123") is None  # absent
    cache.write_atomic(path, arrays("abc123"))
    assert cache.read(path, "abc124") is None  # another key
    no_key = {k: v for k, v in arrays().items() if k != cache.KEY_FIELD}
    cache.write_atomic(path, no_key)
    assert cache.read(path, "abc123") is None  # no key stored
    path.write_bytes(b"PK\x03\x04 truncated")
    assert cache.read(path, "abc123") is None  # corrupt
    np.savez(path, k=np.asarray([{"a": 1}], dtype=object), cache_key=np.asarray("abc123"))
    assert cache.read(path, "abc123") is None  # would need pickle


@pytest.mark.parametrize("exc", [RuntimeError, KeyboardInterrupt])
def test_failed_write_leaves_no_file(tmp_path, monkeypatch, exc):
    real_savez = np.savez

    def crash(f, **a):  # writes part of the file, then fails
        real_savez(f, x=a["x"])
        raise exc("disk gone")

    monkeypatch.setattr(np, "savez", crash)
    path = tmp_path / "e.npz"
    with pytest.raises(exc):
        cache.write_atomic(path, arrays())
    assert os.listdir(tmp_path) == []
    # an existing entry survives a failed overwrite unchanged
    monkeypatch.setattr(np, "savez", real_savez)
    cache.write_atomic(path, arrays())
    monkeypatch.setattr(np, "savez", crash)
    with pytest.raises(exc):
        cache.write_atomic(path, dict(arrays(), x=np.zeros((4, 3), np.float32)))
    assert os.listdir(tmp_path) == ["e.npz"]
    np.testing.assert_array_equal(cache.read(path, "abc123")["x"], arrays()["x"])


def test_config_json_of_feature_cache(tmp_path):
    """The feature cache stores its key and extraction config as written before the split."""
    cfg = dict(F.DEFAULTS, progress=False)
    key = F.cache_key(cfg, "toy", "tiny", "train")
    path = F.cache_path(tmp_path, cfg, "toy", "tiny", "train")
    t = np.arange(8000) / 16000
    rec = {"id": b"a", "audio": (0.3 * np.sin(2 * np.pi * 150 * t)).astype(np.float32),
           "sample_rate": np.int32(16000), "arousal": np.asarray([3.0], np.float32)}
    F.cached_features([rec], cfg, ["arousal"], cache_dir=tmp_path, corpus="toy",
                      variant="tiny", split="train")
    got = cache.read(path, key)
    assert str(got[cache.KEY_FIELD]) == key
    assert json.loads(str(got["config_json"])) == {k: cfg[k] for k in F.EXTRACTION_KEYS}
    assert got["features"].shape == (1, 531)
    np.testing.assert_array_equal(got["ratings_arousal"], [[3.0]])
