"""Hugging Face encoders from a local directory: tiny randomly initialised HuBERT, WavLM and
Whisper configs are saved to disk, loaded back through seru's loader, and give every hidden
layer with the right shapes (and the values the model itself gives). Needs the optional
``hf`` extra (torch, transformers): skipped without it."""

import builtins
import math

import numpy as np
import pytest

from seru.encoders import Encoder
from seru.encoders import hf

W2V_TINY = dict(hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32,
                conv_dim=(8,) * 7, num_conv_pos_embeddings=8, num_conv_pos_embedding_groups=2,
                vocab_size=12)


def _save_w2v(path, kind: str):
    transformers = pytest.importorskip("transformers")
    import torch

    torch.manual_seed(0)
    if kind == "hubert":
        model = transformers.HubertModel(transformers.HubertConfig(**W2V_TINY))
    else:
        model = transformers.WavLMModel(transformers.WavLMConfig(**W2V_TINY, num_buckets=16,
                                                                 max_bucket_distance=32))
    model.save_pretrained(path)
    transformers.Wav2Vec2FeatureExtractor(do_normalize=True).save_pretrained(path)
    return model


def _save_whisper(path, chunk_length: int = 1):
    transformers = pytest.importorskip("transformers")
    import torch

    torch.manual_seed(0)
    frames = chunk_length * 100                       # 10 ms mel frames per chunk
    cfg = transformers.WhisperConfig(
        vocab_size=64, num_mel_bins=80, encoder_layers=2, encoder_attention_heads=2,
        decoder_layers=1, decoder_attention_heads=2, d_model=16, encoder_ffn_dim=32,
        decoder_ffn_dim=32, max_source_positions=frames // 2, max_target_positions=8,
        pad_token_id=0, bos_token_id=1, eos_token_id=2, decoder_start_token_id=1)
    model = transformers.WhisperForConditionalGeneration(cfg)   # as real checkpoints are
    model.save_pretrained(path)
    transformers.WhisperFeatureExtractor(feature_size=80,
                                         chunk_length=chunk_length).save_pretrained(path)
    return model


@pytest.fixture
def audio():
    rng = np.random.default_rng(0)
    t = np.arange(int(1.3 * 16000)) / 16000
    return (0.3 * np.sin(2 * np.pi * 180 * t) + 0.05 * rng.standard_normal(len(t))
            ).astype(np.float32)


@pytest.mark.parametrize("kind", ["hubert", "wavlm"])
def test_raw_waveform_encoders(tmp_path, audio, kind):
    torch = pytest.importorskip("torch")

    model = _save_w2v(tmp_path, kind)
    enc = hf.load_hf_encoder(tmp_path)
    assert isinstance(enc, Encoder)
    assert (enc.model_type, enc.num_layers, enc.hidden_size) == (kind, 2, 16)
    out = enc.layer_outputs(audio, 16000)
    t = int(model._get_feat_extract_output_lengths(torch.tensor(len(audio))))
    assert t == 64                                      # 20800 samples, 20 ms hop
    assert out.shape == (3, t, 16) and out.dtype == np.float32
    assert np.all(np.isfinite(out))
    # the model's own hidden states (oracle): normalised input, output_hidden_states=True
    x = (audio - audio.mean()) / np.sqrt(audio.var() + 1e-7)
    with torch.inference_mode():
        ref = model.eval()(torch.from_numpy(x)[None], output_hidden_states=True).hidden_states
    for k in range(3):
        np.testing.assert_allclose(out[k], ref[k][0].numpy(), atol=1e-4, rtol=1e-4)
    assert enc.identity.startswith(f"hf-{kind}-") and len(enc.identity.rsplit("-", 1)[1]) == 12


def test_whisper_encoder_in_chunks(tmp_path, audio):
    _save_whisper(tmp_path, chunk_length=1)
    enc = hf.load_hf_encoder(tmp_path)
    assert (enc.model_type, enc.num_layers, enc.hidden_size) == ("whisper", 2, 16)
    out = enc.layer_outputs(audio, 16000)
    # 1 s chunks of 50 frames, then 0.3 s: ceil((4800 // 160) / 2) = 15 frames
    assert out.shape == (3, 50 + 15, 16) and out.dtype == np.float32
    assert np.all(np.isfinite(out))
    first = enc.layer_outputs(audio[:16000], 16000)
    np.testing.assert_allclose(out[:, :50], first, atol=1e-5)   # chunks are independent
    short = enc.layer_outputs(audio[:3200], 16000)              # 0.2 s -> 10 frames
    assert short.shape == (3, 10, 16)
    assert math.isclose(enc.frame_hop_s, 0.02)


def test_identity_follows_the_weights(tmp_path):
    pytest.importorskip("transformers")
    import torch

    a, b = tmp_path / "a", tmp_path / "b"
    _save_w2v(a, "hubert")
    model = _save_w2v(b, "hubert")
    assert hf.load_hf_encoder(a).identity.rsplit("-", 1)[1] == \
        hf.load_hf_encoder(b).identity.rsplit("-", 1)[1]           # same seed, same weights
    with torch.no_grad():
        model.encoder.layers[0].feed_forward.output_dense.bias.add_(1.0)
    model.save_pretrained(b)
    assert hf.load_hf_encoder(a).identity != hf.load_hf_encoder(b).identity


def test_errors(tmp_path):
    pytest.importorskip("transformers")
    import safetensors.torch

    with pytest.raises(FileNotFoundError, match="config.json"):
        hf.load_hf_encoder(tmp_path)
    (tmp_path / "config.json").write_text('{"model_type": "bert"}')
    with pytest.raises(ValueError, match="not supported"):
        hf.load_hf_encoder(tmp_path)
    # a checkpoint whose weights do not cover the encoder would give random layers
    d = tmp_path / "partial"
    model = _save_w2v(d, "hubert")
    state = {k: v for k, v in model.state_dict().items() if "encoder.layers.1." not in k}
    safetensors.torch.save_file({k: v.contiguous() for k, v in state.items()},
                                str(d / "model.safetensors"), metadata={"format": "pt"})
    with pytest.raises(ValueError, match="lacks"):
        hf.load_hf_encoder(d)


def test_missing_extra_names_it(tmp_path, monkeypatch):
    real = builtins.__import__

    def no_torch(name, *a, **k):
        if name in ("torch", "transformers"):
            raise ImportError(f"No module named '{name}'")
        return real(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", no_torch)
    with pytest.raises(ImportError, match=r"seru\[hf\]"):
        hf.require_extra()
    (tmp_path / "config.json").write_text('{"model_type": "hubert"}')
    with pytest.raises(ImportError, match="'hf' extra"):
        hf.load_hf_encoder(tmp_path)


def test_a_hugging_face_layer_feeds_the_utterance_frames_input(tmp_path, audio):
    """``data.utterance.frames='hf:<layer>'`` with ``encoder_path``: the input's extractor
    gives that hidden layer (cached and uncached alike), and ``hf:salient`` asks for CCS."""
    import ml_collections

    from seru.data import frame_extractors as U

    _save_w2v(tmp_path / "m", "hubert")
    c = ml_collections.ConfigDict({"data": {"utterance": {
        "frames": "hf:1", "encoder_path": str(tmp_path / "m")}}})
    want = hf.load_hf_encoder(tmp_path / "m").layer_outputs(audio, 16000)[1]
    for cache_dir in (None, str(tmp_path / "cache")):
        got = U.extractor(c, "c", "v", cache_dir)("u1", audio, 16000)
        np.testing.assert_allclose(got, want, atol=1e-6)
    assert U.encoder_layer(c)[0] == 1
    c.data.utterance.frames = "hf:final"
    assert U.encoder_layer(c)[0] == 2
    c.data.utterance.frames = "hf:7"
    with pytest.raises(ValueError, match="expected '<encoder>:<0..2>'"):
        U.encoder_layer(c)
