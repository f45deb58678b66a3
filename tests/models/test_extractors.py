"""Tests of seru/models/extractors.py against a numpy implementation."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from seru.models.extractors import LSTM, ConvFrontEnd, Extractor


def _np_conv_same(x, kernel, bias):
    """x [L, C], kernel [k, C, O]: cross-correlation with XLA's SAME padding (left (k-1)//2)."""
    k = kernel.shape[0]
    left = (k - 1) // 2
    xp = np.pad(x, ((left, k - 1 - left), (0, 0)))
    out = np.zeros((x.shape[0], kernel.shape[2]))
    for i in range(k):
        out += xp[i:i + x.shape[0]] @ kernel[i]
    return out + bias


def _np_front_end(audio, params, pools=(10, 5, 5)):
    x = audio[:, None].astype(np.float64)
    for j, p in enumerate(pools):
        x = np.maximum(_np_conv_same(x, np.asarray(params[f"conv{j}_kernel"], np.float64),
                                     np.asarray(params[f"conv{j}_bias"], np.float64)), 0)
        n = x.shape[0] // p
        x = x[:n * p].reshape(n, p, -1).max(axis=1)
    return x  # [L, 125], time-major


def test_front_end_matches_numpy_and_frames_are_time_major():
    t = 25  # 16000 samples: 2.56 * 25 = 64 conv positions, no padding
    audio = np.random.default_rng(0).normal(size=(1, t * 640)).astype(np.float32)
    fe = ConvFrontEnd()
    v = fe.init(jax.random.key(0), jnp.asarray(audio))
    out = np.asarray(fe.apply(v, jnp.asarray(audio)))
    assert out.shape == (1, t, 320)
    ref = _np_front_end(audio[0], v["params"])
    assert ref.shape == (64, 125)
    np.testing.assert_allclose(out[0], ref.reshape(t, 320), rtol=2e-4, atol=2e-5)


def test_blocked_front_end_equals_numpy_on_the_whole_recording():
    """Blocks of 25 frames with halos: same as the numpy stack on the whole (padded) audio."""
    t = 60  # padded to 75 frames = 3 blocks of 25
    audio = np.random.default_rng(7).normal(size=(1, t * 640)).astype(np.float32)
    fe = ConvFrontEnd(block_frames=25)
    v = fe.init(jax.random.key(0), jnp.asarray(audio))
    out = np.asarray(jax.jit(fe.apply)(v, jnp.asarray(audio)))
    padded = np.concatenate([audio[0], np.zeros(15 * 640, np.float32)])
    ref = _np_front_end(padded, v["params"]).reshape(75, 320)[:t]
    assert out.shape == (1, t, 320)
    np.testing.assert_allclose(out[0], ref, rtol=2e-4, atol=2e-5)
    big = ConvFrontEnd(block_frames=1000)  # one block
    np.testing.assert_allclose(np.asarray(jax.jit(big.apply)(v, jnp.asarray(audio))), out,
                               rtol=1e-5, atol=1e-6)


def test_log_compression_is_log_eps_of_the_front_end_blocked_or_not():
    """compress='log': log(eps + x) of the plain front end's output, in blocks or whole."""
    t = 60
    audio = np.random.default_rng(3).normal(size=(1, t * 640)).astype(np.float32)
    plain = ConvFrontEnd(block_frames=1000)
    v = plain.init(jax.random.key(0), jnp.asarray(audio))
    ref = np.log(0.05 + np.asarray(plain.apply(v, jnp.asarray(audio)), np.float64))
    for blocks in (25, 1000):
        fe = ConvFrontEnd(block_frames=blocks, compress="log", compress_eps=0.05)
        out = np.asarray(jax.jit(fe.apply)(v, jnp.asarray(audio)))
        np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-4)
    assert ref.min() == pytest.approx(np.log(0.05), abs=1e-6)  # ReLU zeros map to log(eps)
    with pytest.raises(ValueError, match="compress"):
        ConvFrontEnd(compress="sqrt").init(jax.random.key(0), jnp.asarray(audio))


def test_logmel_front_end_matches_librosa():
    """LogMelFrontEnd = librosa's mel spectrogram (Hann, 640-sample frames, no centring),
    log-compressed with the fixed shift / scale; the Extractor runs its LSTMs on it."""
    import librosa

    from seru.models.extractors import LogMelFrontEnd

    t = 30
    audio = np.random.default_rng(5).normal(size=(2, t * 640)).astype(np.float32)
    fe = LogMelFrontEnd(n_mels=24)
    out = np.asarray(fe.apply({}, jnp.asarray(audio)))
    assert out.shape == (2, t, 24)
    for b in range(2):
        mel = librosa.feature.melspectrogram(y=audio[b].astype(np.float64), sr=16000, n_fft=640,
                                             hop_length=640, center=False, window="hann",
                                             power=2.0, n_mels=24)
        ref = (np.log(mel.T + 1e-6) + 5.0) / 4.0
        np.testing.assert_allclose(out[b], ref, rtol=1e-4, atol=2e-4)
    ex = Extractor(lstm_size=8, frontend="logmel", n_mels=24)
    v = ex.init(jax.random.key(0), jnp.asarray(audio))
    assert "ConvFrontEnd_0" not in v["params"]
    assert ex.apply(v, jnp.asarray(audio)).shape == (2, t, 8)
    with pytest.raises(ValueError, match="frontend"):
        Extractor(frontend="mfcc").init(jax.random.key(0), jnp.asarray(audio))


def test_front_end_pads_to_whole_seconds_and_crops():
    """T = 30 frames (not a multiple of 25): equals the first 30 frames of the zero-padded 50-frame run."""
    rng = np.random.default_rng(1)
    audio = rng.normal(size=(2, 30 * 640)).astype(np.float32)
    padded = np.concatenate([audio, np.zeros((2, 20 * 640), np.float32)], axis=1)
    fe = ConvFrontEnd()
    v = fe.init(jax.random.key(1), jnp.asarray(audio))
    out = np.asarray(fe.apply(v, jnp.asarray(audio)))
    ref = np.asarray(fe.apply(v, jnp.asarray(padded)))[:, :30]
    assert out.shape == (2, 30, 320)
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-6)


def _np_lstm(x, w_i, w_h, b):
    h = np.zeros(w_h.shape[0])
    c = np.zeros(w_h.shape[0])
    sig = lambda z: 1 / (1 + np.exp(-z))
    outs = []
    for t in range(x.shape[0]):
        z = x[t] @ w_i + h @ w_h + b
        i, f, g, o = np.split(z, 4)
        c = sig(f) * c + sig(i) * np.tanh(g)
        h = sig(o) * np.tanh(c)
        outs.append(h)
    return np.stack(outs)


def test_lstm_matches_numpy_loop():
    x = np.random.default_rng(2).normal(size=(3, 7, 4)).astype(np.float32)
    m = LSTM(6)
    v = m.init(jax.random.key(2), jnp.asarray(x))
    p = {k: np.asarray(a, np.float64) for k, a in v["params"].items()}
    p["b"] = np.random.default_rng(3).normal(size=p["b"].shape) * 0.5
    v = {"params": {k: jnp.asarray(a, jnp.float32) for k, a in p.items()}}
    out = np.asarray(m.apply(v, jnp.asarray(x)))
    for bi in range(3):
        np.testing.assert_allclose(out[bi], _np_lstm(x[bi].astype(np.float64), p["w_i"], p["w_h"], p["b"]),
                                   rtol=1e-4, atol=1e-5)


def test_extractor_is_causal_and_dropout_only_in_training():
    rng = np.random.default_rng(4)
    audio = rng.normal(size=(1, 40 * 640)).astype(np.float32)
    longer = np.concatenate([audio, rng.normal(size=(1, 20 * 640)).astype(np.float32)], axis=1)
    m = Extractor(lstm_size=8)
    v = m.init(jax.random.key(3), jnp.asarray(audio))
    a = np.asarray(m.apply(v, jnp.asarray(audio)))
    b = np.asarray(m.apply(v, jnp.asarray(longer)))
    assert a.shape == (1, 40, 8) and b.shape == (1, 60, 8)
    # Forward LSTM: frames before the last see no future audio (the conv
    # receptive field reaches at most a few hundred samples into frame T).
    np.testing.assert_allclose(a[:, :39], b[:, :39], rtol=1e-5, atol=1e-6)
    d1 = np.asarray(m.apply(v, jnp.asarray(audio), train=True, rngs={"dropout": jax.random.key(5)}))
    d2 = np.asarray(m.apply(v, jnp.asarray(audio), train=True, rngs={"dropout": jax.random.key(6)}))
    assert np.abs(d1 - d2).max() > 1e-3 and np.abs(d1 - a).max() > 1e-3


def test_bad_audio_length():
    m = ConvFrontEnd()
    with pytest.raises(ValueError, match="multiple of 640"):
        m.init(jax.random.key(0), jnp.zeros((1, 1000)))
