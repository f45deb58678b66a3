"""The per-layer encoder cache: hits and misses, keys (encoder, layer, id, audio), and files that
are truncated, corrupt, of another shape or interrupted while written are never trusted."""

import numpy as np
import pytest

from seru.data.features.config import SkipUtterance
from seru.encoders import Encoder
from seru.encoders import layer_cache as lc


class FakeEncoder:
    """A deterministic encoder: layer k of frame t is ``k + mean of the frame's samples``;
    counts its calls."""

    def __init__(self, identity="fake-000000000000", num_layers=3, hidden_size=4):
        self.name = identity.split("-")[0]
        self.identity = identity
        self.num_layers = num_layers
        self.hidden_size = hidden_size
        self.frame_hop_s = 0.02
        self.calls = 0

    def layer_outputs(self, audio, sr):
        self.calls += 1
        audio = np.asarray(audio, np.float32)
        if len(audio) < 320:
            raise SkipUtterance("too_short", "fake")
        t = len(audio) // 320
        frames = audio[: t * 320].reshape(t, 320).mean(1)
        k = np.arange(self.num_layers + 1, dtype=np.float32)[:, None, None]
        h = np.arange(self.hidden_size, dtype=np.float32)[None, None, :]
        return (k + frames[None, :, None] * (1 + h)).astype(np.float32)


@pytest.fixture
def enc():
    return FakeEncoder()


@pytest.fixture
def audio():
    return np.random.default_rng(0).uniform(-0.5, 0.5, 16000).astype(np.float32)


KW = dict(corpus="c", variant="v")


def test_fake_encoder_is_an_encoder(enc):
    assert isinstance(enc, Encoder)


def test_means_miss_then_hit(tmp_path, enc, audio):
    m = lc.cached_means(enc, "u1", audio, 16000, cache_dir=tmp_path, **KW)
    out = enc.layer_outputs(audio, 16000)
    enc.calls = 1
    assert m.shape == (4, 4) and m.dtype == np.float32
    np.testing.assert_allclose(m, out.mean(axis=1), rtol=1e-6)
    again = lc.cached_means(enc, "u1", audio, 16000, cache_dir=tmp_path, **KW)
    assert enc.calls == 1
    np.testing.assert_array_equal(again, m)
    (path,) = lc.entry_paths(tmp_path, enc, "u1", audio, 16000, **KW)
    assert path.parent == tmp_path / enc.identity and path.name.startswith("c-v-u1-means-")


def test_frames_miss_writes_the_layer_and_the_means(tmp_path, enc, audio):
    f = lc.cached_frames(enc, "u1", audio, 16000, 2, cache_dir=tmp_path, **KW)
    assert enc.calls == 1
    np.testing.assert_array_equal(f, enc.layer_outputs(audio, 16000)[2])
    enc.calls = 0
    lc.cached_means(enc, "u1", audio, 16000, cache_dir=tmp_path, **KW)       # hit
    lc.cached_frames(enc, "u1", audio, 16000, -2, cache_dir=tmp_path, **KW)  # -2 == 2: hit
    assert enc.calls == 0
    lc.cached_frames(enc, "u1", audio, 16000, 1, cache_dir=tmp_path, **KW)   # another layer
    assert enc.calls == 1
    names = sorted(p.name.rsplit("-", 1)[0] for p in (tmp_path / enc.identity).iterdir())
    assert names == ["c-v-u1-L01", "c-v-u1-L02", "c-v-u1-means"]
    with pytest.raises(ValueError, match="layer"):
        lc.cached_frames(enc, "u1", audio, 16000, 4, cache_dir=tmp_path, **KW)


def test_key_covers_encoder_id_audio_and_corpus(tmp_path, enc, audio):
    lc.cached_means(enc, "u1", audio, 16000, cache_dir=tmp_path, **KW)
    lc.cached_means(enc, "u1", audio * 0.5, 16000, cache_dir=tmp_path, **KW)   # other audio
    lc.cached_means(enc, "u2", audio, 16000, cache_dir=tmp_path, **KW)         # other id
    lc.cached_means(enc, "u1", audio, 16000, cache_dir=tmp_path, corpus="c", variant="w")
    assert enc.calls == 4
    other = FakeEncoder(identity="fake-111111111111")                           # other weights
    lc.cached_means(other, "u1", audio, 16000, cache_dir=tmp_path, **KW)
    assert other.calls == 1
    keys = {lc.layer_cache_key(enc, l, "u1", audio, 16000, **KW) for l in (None, 0, 1)}
    assert len(keys) == 3


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_a_damaged_entry_is_recomputed(tmp_path, enc, audio, damage):
    f = lc.cached_frames(enc, "u1", audio, 16000, 1, cache_dir=tmp_path, **KW)
    (path,) = lc.entry_paths(tmp_path, enc, "u1", audio, 16000, [1], **KW)
    data = path.read_bytes()
    path.write_bytes({"truncate": data[: len(data) // 2], "garbage": b"\x00junk" * 50,
                      "empty": b""}[damage])
    enc.calls = 0
    again = lc.cached_frames(enc, "u1", audio, 16000, 1, cache_dir=tmp_path, **KW)
    assert enc.calls == 1
    np.testing.assert_array_equal(again, f)
    enc.calls = 0
    lc.cached_frames(enc, "u1", audio, 16000, 1, cache_dir=tmp_path, **KW)   # rewritten: hit
    assert enc.calls == 0


def test_an_entry_of_the_wrong_shape_is_recomputed(tmp_path, enc, audio):
    from seru.data import cache

    (path,) = lc.entry_paths(tmp_path, enc, "u1", audio, 16000, [None], **KW)
    key = lc.layer_cache_key(enc, None, "u1", audio, 16000, **KW)
    cache.write_atomic(path, {"value": np.zeros((2, 4), np.float32),
                              cache.KEY_FIELD: np.asarray(key)})
    m = lc.cached_means(enc, "u1", audio, 16000, cache_dir=tmp_path, **KW)
    assert enc.calls == 1 and m.shape == (4, 4)
    cache.write_atomic(path, {"value": np.full((4, 4), np.nan, np.float32),
                              cache.KEY_FIELD: np.asarray(key)})
    lc.cached_means(enc, "u1", audio, 16000, cache_dir=tmp_path, **KW)
    assert enc.calls == 2


def test_an_interrupted_write_leaves_nothing_trusted(tmp_path, enc, audio, monkeypatch):
    """A write killed mid-way (here: an exception after half the bytes) leaves no file under
    the final name and no temporary file; the next call extracts again."""
    real = np.savez

    def dying_savez(f, **arrays):
        real(f, **arrays)
        f.truncate(f.tell() // 2)
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", dying_savez)
    with pytest.raises(KeyboardInterrupt):
        lc.cached_frames(enc, "u1", audio, 16000, 0, cache_dir=tmp_path, **KW)
    monkeypatch.setattr(np, "savez", real)
    assert list((tmp_path / enc.identity).iterdir()) == []
    lc.cached_frames(enc, "u1", audio, 16000, 0, cache_dir=tmp_path, **KW)
    assert enc.calls == 2


def test_layer_means_and_frames_of_a_list(tmp_path, enc, audio):
    from seru.saliency import layer_saliencies

    items = [(f"u{i}", audio * (0.2 + 0.2 * i), 16000) for i in range(4)]
    items.insert(2, ("short", audio[:100], 16000))
    m = lc.layer_means(items, enc, cache_dir=tmp_path, **KW)
    assert m["ids"] == ["u0", "u1", "u2", "u3"]
    assert m["skipped_ids"] == ["short"] and m["skipped_reasons"] == ["too_short"]
    assert m["means"].shape == (4, 4, 4)                            # [K, U, H]
    assert layer_saliencies(m["means"], np.arange(4.0)).shape == (4,)
    calls = enc.calls
    f = lc.layer_frames(items, enc, -1, cache_dir=tmp_path, **KW)
    assert enc.calls == calls + 5          # frames were not cached yet (the short one again)
    assert f["layer"] == 3 and f["lengths"].tolist() == [50] * 4
    assert all(x.shape == (50, 4) for x in f["features"])
    lc.layer_frames(items, enc, 3, cache_dir=tmp_path, **KW)
    assert enc.calls == calls + 6          # only the uncacheable short one
    nocache = lc.layer_means(items[:1], enc)                        # no cache_dir: no files
    np.testing.assert_array_equal(nocache["means"][:, 0], m["means"][:, 0])


def test_with_the_offline_encoder(tmp_path, tiny_pretrained, tiny_config, signals):
    from seru.encoders.ssl import SSLEncoder

    enc = SSLEncoder.from_params(tiny_pretrained[0], tiny_config)
    m = lc.cached_means(enc, "a", signals[0], 16000, cache_dir=tmp_path, **KW)
    f = lc.cached_frames(enc, "a", signals[0], 16000, 1, cache_dir=tmp_path, **KW)
    out = enc.layer_outputs(signals[0], 16000)
    np.testing.assert_allclose(m, out.mean(axis=1), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(f, out[1])
    assert (tmp_path / enc.identity).is_dir()
