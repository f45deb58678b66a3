"""seru's offline SSL encoder: front end against MFBF0, determinism, shapes, padding safety,
the loss going down, and the checkpoint cache (hit, miss, corrupt file)."""

import math
from pathlib import Path

import numpy as np
import pytest

from seru.data.features.config import SkipUtterance
from seru.encoders import Encoder, ssl


def test_front_end_equals_mfbf0_log_mel(signals):
    from seru.data.features.mfbf0 import mfbf0

    for y in signals[:2]:
        ours = ssl.log_mel(y)
        ref = mfbf0(y, 16000)[:, :40]
        assert ours.shape == ref.shape == (1 + len(y) // 160, 40)
        # float32 FFTs round differently: exact to 1e-4 nats near each frame's peak, to
        # about 1e-2 nats at bins 40 dB and more below it
        loud = ref > ref.max(axis=1, keepdims=True) - 9.2
        np.testing.assert_allclose(ours[loud], ref[loud], atol=1e-4)
        np.testing.assert_allclose(ours, ref, atol=3e-2)


def test_num_frames():
    assert ssl.num_frames(5 * 16000) == 250            # (1 + 500) // 2
    assert ssl.num_frames(320) == 1
    assert ssl.num_frames(5 * 16000, ssl.SSLConfig(stack=1)) == 501


def test_config_checks():
    with pytest.raises(ValueError, match="multiple of num_heads"):
        ssl.SSLConfig(dim=30, num_heads=4)
    with pytest.raises(ValueError, match="mask_prob"):
        ssl.SSLConfig(mask_prob=0.0)
    with pytest.raises(ValueError, match="unknown keys"):
        ssl.SSLConfig.from_dict({"depth": 3})
    c = ssl.SSLConfig(num_layers=3)
    assert ssl.SSLConfig.from_dict(c.to_dict()) == c


def test_loss_decreases(tiny_pretrained, tiny_config):
    _, history = tiny_pretrained
    losses = [h["loss"] for h in history[:-1]]
    assert len(losses) == tiny_config.steps
    # starts near chance (ln K) and goes down on masked frames
    assert abs(np.mean(losses[:3]) - math.log(tiny_config.num_clusters)) < 0.5
    assert np.mean(losses[-10:]) < 0.85 * np.mean(losses[:5])
    assert all(h["masked"] > 0 for h in history[:-1])
    assert history[-1]["utterances"] == 5


def test_params_structure(tiny_pretrained, tiny_config):
    params, _ = tiny_pretrained
    assert set(params) == {"model", "norm", "kmeans"}
    assert params["norm"]["mean"].shape == (80,)
    assert params["kmeans"]["centroids"].shape == (tiny_config.num_clusters, 39)
    assert params["model"]["input_proj"]["kernel"].shape == (80, tiny_config.dim)


def test_pretrain_is_deterministic_from_the_seed(signals, tiny_config):
    import dataclasses

    from flax.traverse_util import flatten_dict

    cfg = dataclasses.replace(tiny_config, steps=3)
    a = flatten_dict(ssl.pretrain(signals, cfg, seed=1))
    b = flatten_dict(ssl.pretrain(signals, cfg, seed=1))
    c = flatten_dict(ssl.pretrain(signals, cfg, seed=2))
    assert a.keys() == b.keys() == c.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    assert any(not np.array_equal(a[k], c[k]) for k in a)


def test_layer_outputs_shapes_and_layers_differ(tiny_pretrained, tiny_config, signals):
    params, _ = tiny_pretrained
    y = signals[0]
    out = ssl.layer_outputs(params, tiny_config, y, 16000)
    assert out.dtype == np.float32
    assert out.shape == (tiny_config.num_layers + 1, ssl.num_frames(len(y)), tiny_config.dim)
    assert np.all(np.isfinite(out))
    for k in range(tiny_config.num_layers):
        assert not np.allclose(out[k], out[k + 1], atol=1e-3)
    enc = ssl.SSLEncoder.from_params(params, tiny_config)
    assert isinstance(enc, Encoder)
    np.testing.assert_array_equal(enc.layer_outputs(y, 16000), out)
    assert enc.identity.startswith("tiny_ssl-") and len(enc.key) == 12
    assert (enc.num_layers, enc.hidden_size, enc.frame_hop_s) == (2, 32, 0.02)


def test_padding_safe(tiny_pretrained, tiny_config, signals):
    """An utterance alone == the same utterance padded (with garbage) in a batch."""
    params, _ = tiny_pretrained
    a, b = signals[0], signals[4]                  # 1.2 s and 2.4 s (different 1 s buckets)
    alone = ssl.layer_outputs(params, tiny_config, a)
    n = len(b) + 5000
    batch = np.full((2, n), 0.7, np.float32)       # non-zero padding must be ignored
    batch[0, : len(a)] = a
    batch[1, : len(b)] = b
    out = ssl.layer_outputs(params, tiny_config, batch, lengths=[len(a), len(b)])
    t = alone.shape[1]
    assert out.shape == (2, tiny_config.num_layers + 1, ssl.num_frames(n), tiny_config.dim)
    np.testing.assert_allclose(out[0, :, :t], alone, atol=2e-5, rtol=1e-5)
    np.testing.assert_array_equal(out[0, :, t:], 0.0)
    np.testing.assert_allclose(out[1, :, : ssl.num_frames(len(b))],
                               ssl.layer_outputs(params, tiny_config, b), atol=2e-5, rtol=1e-5)
    # a frame's output does not depend on audio after the utterance's end
    longer = np.concatenate([a, signals[1]])
    np.testing.assert_allclose(
        ssl.layer_outputs(params, tiny_config, longer[None], lengths=[len(a)])[0, :, :t], alone,
        atol=2e-5, rtol=1e-5)


def test_resampling_and_too_short(tiny_pretrained, tiny_config, signals):
    from seru.data.audio import resample

    params, _ = tiny_pretrained
    y8 = resample(signals[1], 16000, 8000)
    np.testing.assert_allclose(ssl.layer_outputs(params, tiny_config, y8, 8000),
                               ssl.layer_outputs(params, tiny_config, resample(y8, 8000, 16000)),
                               atol=1e-6)
    with pytest.raises(SkipUtterance, match="too_short"):
        ssl.layer_outputs(params, tiny_config, np.zeros(100, np.float32))
    with pytest.raises(SkipUtterance, match="extractor_failed"):
        ssl.layer_outputs(params, tiny_config, np.full(4000, np.nan, np.float32))
    with pytest.raises(ValueError, match="lengths"):
        ssl.layer_outputs(params, tiny_config, np.zeros((2, 4000), np.float32), lengths=[1])


@pytest.fixture
def fake_pool(monkeypatch, signals):
    """``corpus_audio`` returns the synthetic signals; ``pretrain`` calls are counted."""
    calls = []
    pool = [(f"u{i}", y, 16000) for i, y in enumerate(signals[:3])]
    monkeypatch.setattr(ssl, "corpus_audio", lambda *a, **k: list(pool))
    real = ssl.pretrain

    def counting(*a, **k):
        calls.append(1)
        return real(*a, **k)

    monkeypatch.setattr(ssl, "pretrain", counting)
    return pool, calls


def test_load_or_pretrain_caches_the_checkpoint(tmp_path, fake_pool, tiny_config):
    import dataclasses

    _, calls = fake_pool
    cfg = dataclasses.replace(tiny_config, steps=2)
    enc = ssl.load_or_pretrain(tmp_path, "c", "v", cfg, seed=0)
    assert len(calls) == 1
    assert enc.checkpoint == tmp_path / "seru_encoders" / f"tiny_ssl-{enc.key}" / "checkpoint.npz"
    assert enc.checkpoint.is_file()
    assert [p.name for p in enc.checkpoint.parent.iterdir()] == ["checkpoint.npz"]  # no .tmp
    assert enc.info["seconds"] > 0 and len(enc.info["losses"]) == 2
    again = ssl.load_or_pretrain(tmp_path, "c", "v", cfg, seed=0)
    assert len(calls) == 1                       # loaded, not trained
    assert again.identity == enc.identity and again.config == cfg
    y = np.ones(8000, np.float32) * 0.1
    np.testing.assert_array_equal(again.layer_outputs(y), enc.layer_outputs(y))
    other = ssl.load_or_pretrain(tmp_path, "c", "v", cfg, seed=1)
    assert len(calls) == 2 and other.key != enc.key  # the seed is part of the key


def test_a_corrupt_checkpoint_is_never_trusted(tmp_path, fake_pool, tiny_config):
    import dataclasses

    _, calls = fake_pool
    cfg = dataclasses.replace(tiny_config, steps=2)
    enc = ssl.load_or_pretrain(tmp_path, "c", "v", cfg, seed=0)
    good = enc.checkpoint.read_bytes()
    enc.checkpoint.write_bytes(good[: len(good) // 2])        # a half-written file
    assert ssl.load_checkpoint(enc.checkpoint, enc.key, cfg) is None
    ssl.load_or_pretrain(tmp_path, "c", "v", cfg, seed=0)
    assert len(calls) == 2
    assert ssl.load_checkpoint(enc.checkpoint, enc.key, cfg) is not None   # written again
    # the right key but parameters of another shape: not trusted either
    wrong = dataclasses.replace(cfg, dim=16)
    params = ssl.pretrain([np.random.default_rng(0).standard_normal(16000).astype(np.float32)],
                          dataclasses.replace(wrong, num_clusters=4, steps=1))
    ssl.save_checkpoint(enc.checkpoint, params, cfg, enc.key)
    assert ssl.load_checkpoint(enc.checkpoint, enc.key, cfg) is None
    # another key
    assert ssl.load_checkpoint(enc.checkpoint, "0" * 12) is None


def test_corpus_pool_and_load_or_pretrain_end_to_end(tiny_corpus_dir, tiny_config):
    import dataclasses

    pool = ssl.corpus_audio(tiny_corpus_dir, "seru_synth_utterances", "tiny", "unlabeled")
    assert len(pool) == 20 and [p[0] for p in pool] == sorted(p[0] for p in pool)
    assert all(sr == 16000 and a.dtype == np.float32 and len(a) >= 3 * 16000
               for _, a, sr in pool)
    with pytest.raises(ValueError, match="no split"):
        ssl.corpus_audio(tiny_corpus_dir, "seru_synth_utterances", "tiny", "nope")
    cfg = dataclasses.replace(tiny_config, steps=2)
    enc = ssl.load_or_pretrain(tiny_corpus_dir, "seru_synth_utterances", "tiny", cfg, seed=0)
    assert enc.checkpoint.parent.parent == Path(tiny_corpus_dir) / "seru_encoders"
    assert enc.info["utterances"] == 20 and enc.info["frames"] == sum(
        ssl.num_frames(len(a)) for _, a, _ in pool)
    again = ssl.load_or_pretrain(tiny_corpus_dir, "seru_synth_utterances", "tiny", cfg, seed=0)
    assert again.key == enc.key and again.info == enc.info
