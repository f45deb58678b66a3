"""Tests of seru.data.audio: reading wavs (oracle: the samples written) and resampling (oracle: analytic sine)."""

import math

import numpy as np
import pytest
import soundfile as sf

from seru.data import audio


def test_load_wav_mono_pcm16(tmp_path):
    x = (np.arange(-100, 100, dtype=np.int16) * 100).astype(np.int16)
    p = tmp_path / "a.wav"
    sf.write(p, x, 16000, subtype="PCM_16")
    y, sr = audio.load_wav(p)
    assert sr == 16000 and y.dtype == np.float32 and y.shape == (200,)
    np.testing.assert_array_equal(y, x.astype(np.float32) / 32768.0)


def test_load_wav_mixes_down_stereo(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.uniform(-0.5, 0.5, size=(50, 2)).astype(np.float32)
    p = tmp_path / "s.wav"
    sf.write(p, x, 8000, subtype="FLOAT")
    y, sr = audio.load_wav(p)
    assert sr == 8000
    np.testing.assert_allclose(y, (x[:, 0] + x[:, 1]) / 2, atol=1e-7)


def test_load_wav_errors_name_the_file(tmp_path):
    with pytest.raises(audio.AudioError, match="missing.wav: audio file not found"):
        audio.load_wav(tmp_path / "missing.wav")
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF not really a wav")
    with pytest.raises(audio.AudioError, match="bad.wav: cannot read audio"):
        audio.load_wav(bad)


def test_load_wav_refuses_what_cannot_be_rated_or_predicted(tmp_path):
    """A Git LFS pointer (a clone without `git lfs pull`), 0 samples, a 32-bit float file
    whose second half is NaN, and digital zero: each an AudioError naming the file and what
    was found."""
    lfs = tmp_path / "1001_DFA_ANG_XX.wav"
    lfs.write_text("version https://git-lfs.github.com/spec/v1\n"
                   "oid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\n"
                   "size 74812\n")
    with pytest.raises(audio.AudioError, match=r"1001_DFA_ANG_XX\.wav: a Git LFS pointer, "
                                               r"not audio.*git lfs pull"):
        audio.load_wav(lfs)
    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros(0, np.float32), 16000)
    with pytest.raises(audio.AudioError, match=r"empty\.wav: empty audio \(0 samples\)"):
        audio.load_wav(empty)
    half = np.full(16000, 0.1, np.float32)
    half[8000:] = np.nan
    nan = tmp_path / "nan.wav"
    sf.write(nan, half, 16000, subtype="FLOAT")
    with pytest.raises(audio.AudioError, match=r"nan\.wav: 8000 of 16000 samples are not "
                                               r"finite \(NaN or inf\), the first at sample "
                                               r"8000 \(0\.500 s\)"):
        audio.load_wav(nan)
    zero = tmp_path / "zero.wav"
    sf.write(zero, np.zeros(320, np.int16), 16000, subtype="PCM_16")
    with pytest.raises(audio.AudioError, match=r"zero\.wav: every one of its 320 samples is "
                                               r"digital zero"):
        audio.load_wav(zero)
    one = np.zeros(320, np.int16)
    one[5] = 1  # one least significant bit is audio
    sf.write(zero, one, 16000, subtype="PCM_16")
    assert audio.load_wav(zero)[0].any()


@pytest.mark.parametrize("sr_in,sr_out", [(48000, 16000), (44100, 16000), (8000, 16000)])
def test_resample_sine(sr_in, sr_out):
    f, dur = 440.0, 0.5
    t_in = np.arange(int(sr_in * dur)) / sr_in
    y = audio.resample(np.sin(2 * math.pi * f * t_in), sr_in, sr_out)
    n_out = math.ceil(len(t_in) * sr_out / sr_in)
    assert y.shape == (n_out,) and y.dtype == np.float32
    t_out = np.arange(n_out) / sr_out
    inner = slice(200, n_out - 200)  # away from the filter's edge transients
    np.testing.assert_allclose(y[inner], np.sin(2 * math.pi * f * t_out)[inner], atol=2e-3)


def test_resample_identity_and_errors():
    x = np.arange(5, dtype=np.float32)
    np.testing.assert_array_equal(audio.resample(x, 16000, 16000), x)
    with pytest.raises(ValueError, match="positive"):
        audio.resample(x, 0, 16000)


def test_mono_16k_casts_resamples_and_refuses():
    from seru.data.features.config import SkipUtterance

    x = np.sin(np.arange(800) / 7.0)  # float64
    y = audio.mono_16k(x, 16000)
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y, x.astype(np.float32))
    np.testing.assert_array_equal(audio.mono_16k(x, 8000),
                                  audio.resample(x.astype(np.float32), 8000, 16000))
    calls = []

    def twice(v, sr_in, sr_out):
        calls.append((v.dtype, sr_in, sr_out))
        return np.repeat(v, 2)

    np.testing.assert_array_equal(audio.mono_16k(x, 8000, resampler=twice),
                                  np.repeat(x.astype(np.float32), 2))
    audio.mono_16k(x, 16000, resampler=twice)  # not called at 16 kHz
    assert calls == [(np.float32, 8000, 16000)]
    with pytest.raises(ValueError, match=r"got shape \(2, 400\)"):
        audio.mono_16k(x.reshape(2, 400), 16000)
    with pytest.raises(SkipUtterance) as e:
        audio.mono_16k(np.r_[x, np.nan], 8000, resampler=twice)
    assert e.value.reason == "extractor_failed" and len(calls) == 1
