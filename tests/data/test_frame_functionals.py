"""Tests of seru/data/features/frame_functionals.py: windowed mean / CV against a loop oracle,
alignment, dimensions, the per-recording cache, and the unchanged utterance features."""

import importlib
import math
import os

import numpy as np
import pytest

from seru.data import features as F
# the module (the package attribute of the same name is the function)
FF = importlib.import_module("seru.data.features.frame_functionals")

SR = 16_000


def tone(freq=150.0, dur=1.5, amp=0.3, seed=0):
    t = np.arange(int(dur * SR)) / SR
    y = amp * np.sin(2 * np.pi * freq * t) + 0.001 * np.random.default_rng(seed).normal(
        size=t.shape)
    return y.astype(np.float32)


def oracle_ratio_limit(x, limit1=10.0, excess=20.0):
    """openSMILE's smileMath_ratioLimit for x >= 0, one scalar at a time."""
    if x > limit1:
        return math.tanh((math.sqrt(x - limit1 + 1.0) - 1.0) / (excess * 0.5)) * excess + limit1
    return x


def oracle(lld, h, hop, win, num_frames=None):
    """Loop oracle in integer time units: row i at i*h, frame t centred at t*hop + hop/2,
    window [c - win/2, c + win/2) cut to the recording; empty window -> last row;
    padding repeats the last frame."""
    n, L = lld.shape
    t_nat = max(1, -(-n * h // hop))
    rows_out = []
    for t in range(t_nat):
        c2 = 2 * t * hop + hop  # twice the centre
        rows = [i for i in range(n) if c2 - win <= 2 * i * h < c2 + win]
        if not rows:
            rows = [n - 1]
        w = lld[rows]
        feats = []
        for l in range(L):
            m = float(np.mean(w[:, l]))
            s = float(np.std(w[:, l]))
            feats.append(m)
        for l in range(L):
            m = float(np.mean(w[:, l]))
            s = float(np.std(w[:, l]))
            if s == 0.0:
                feats.append(0.0)
            elif m == 0.0:
                feats.append(30.0)
            else:
                feats.append(oracle_ratio_limit(s / abs(m)))
        rows_out.append(feats)
    out = np.asarray(rows_out)
    if num_frames is not None:
        while len(out) < num_frames:
            out = np.concatenate([out, out[-1:]])
        out = out[:num_frames]
    return out


@pytest.mark.parametrize("n", [1, 7, 50, 299, 600, 601, 1234, 2501])
@pytest.mark.parametrize("h,hop,win", [(10, 100, 6000), (10, 40, 8000), (10, 100, 100),
                                       (10, 25, 6000), (10, 100, 10)])
def test_matches_loop_oracle(n, h, hop, win):
    rng = np.random.default_rng(n + hop + win)
    # columns: around 0 (CV large, soft-limited), offset (CV small), dB-like, integers
    x = np.stack([rng.normal(size=n), 5 + rng.normal(size=n), -60 + 10 * rng.normal(size=n),
                  rng.integers(0, 3, size=n).astype(float)], axis=1)
    got = F.frame_functionals(x, h / 1000, hop / 1000, win / 1000)
    want = oracle(x, h, hop, win)
    assert got.shape == want.shape == (max(1, -(-n * h // hop)), 8)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=2e-6, atol=1e-6)
    assert np.all((got[:, 4:] >= 0) & (got[:, 4:] <= 30))


def test_windows_of_the_defaults():
    lo, hi = F.window_bounds(15001, 1501)
    # frame 100 covers [10.0, 10.1) s: centre 10.05 s, rows 9.05 s <= i*0.01 < 13.05 s ... 6 s
    assert (lo[100], hi[100]) == (705, 1305) and np.all((hi - lo)[30:1470] == 600)
    # shorter windows at the edges: the first frame sees [0, 3.05) s, the last [147.05, 150.01]
    assert (lo[0], hi[0]) == (0, 305) and (lo[-1], hi[-1]) == (14705, 15001)
    assert F.num_output_frames(15001) == 1501 and F.num_output_frames(15000) == 1500


@pytest.mark.parametrize("value", [0.0, 0.1, -3.7, -100.0, 1e6, 1 / 3])
@pytest.mark.parametrize("n", [1, 5, 600, 2003])
def test_constant_input_is_exact(value, n):
    x = np.full((n, 3), value)
    out = F.frame_functionals(x)
    assert np.all(out[:, :3] == np.float32(value))
    assert np.all(out[:, 3:] == 0.0)


def test_piecewise_constant_windows_are_exact():
    x = np.concatenate([np.full((3000, 2), 0.1), np.full((3000, 2), 7.3)])
    out = F.frame_functionals(x)
    # frames whose 6 s window lies within one piece (centre >= 3 s from the change at 30 s)
    assert np.all(out[:270, :2] == np.float32(0.1)) and np.all(out[:270, 2:] == 0)
    assert np.all(out[330:, :2] == np.float32(7.3)) and np.all(out[330:, 2:] == 0)
    assert np.all(out[271:329, 2:] > 0)


def test_alignment_with_time():
    h = 0.01
    ramp = (np.arange(3000) * h)[:, None]          # the LLD is its own time stamp
    # window = hop: frame t averages exactly the rows of [t * 0.1, (t + 1) * 0.1)
    out = F.frame_functionals(ramp, h, 0.1, 0.1)
    np.testing.assert_allclose(out[:, 0], np.arange(300) * 0.1 + 0.045, atol=1e-5)
    # 6 s windows centred on the frame centre (the mean of 600 rows lies 5 ms before it)
    out = F.frame_functionals(ramp, h, 0.1, 6.0)
    t = np.arange(30, 270)
    np.testing.assert_allclose(out[t, 0], t * 0.1 + 0.05 - 0.005, atol=1e-5)
    # an impulse at 10 s reaches exactly the frames whose centre is within 3 s of it
    x = np.zeros((3000, 1))
    x[1000] = 1.0
    hit = np.flatnonzero(F.frame_functionals(x)[:, 0] > 0)
    assert hit[0] == 70 and hit[-1] == 129 and len(hit) == 60


def test_num_frames_pads_and_crops():
    x = np.random.default_rng(1).normal(size=(1234, 3)) + 2
    full = F.frame_functionals(x)
    assert full.shape == (124, 6)
    np.testing.assert_array_equal(F.frame_functionals(x, num_frames=100), full[:100])
    padded = F.frame_functionals(x, num_frames=130)
    np.testing.assert_array_equal(padded[:124], full)
    np.testing.assert_array_equal(padded[124:], np.repeat(full[-1:], 6, 0))
    np.testing.assert_allclose(padded, oracle(x, 10, 100, 6000, num_frames=130), rtol=2e-6,
                               atol=1e-6)
    assert F.frame_functionals(x, num_frames=0).shape == (0, 6)


def test_ratio_limit():
    x = np.array([0.0, 1.0, 10.0, 10.5, 50.0, 1e6, np.inf])
    got = F.ratio_limit(x)
    np.testing.assert_allclose(got, [oracle_ratio_limit(v) if np.isfinite(v) else 30.0
                                     for v in x], rtol=1e-12)
    assert np.all(np.diff(got) >= 0) and got[-1] == 30.0
    # slope 1 at the knee: continuous and smooth
    np.testing.assert_allclose((F.ratio_limit(10 + 1e-6) - 10) / 1e-6, 1.0, rtol=1e-3)


def test_errors():
    with pytest.raises(ValueError, match="shape"):
        F.frame_functionals(np.zeros(10))
    with pytest.raises(ValueError, match="shape"):
        F.frame_functionals(np.zeros((0, 3)))
    with pytest.raises(ValueError, match="non-finite"):
        F.frame_functionals(np.array([[1.0], [np.nan]]))
    with pytest.raises(ValueError, match="window_s"):
        F.frame_functionals(np.zeros((5, 1)), 0.01, 0.1, 0.001)
    with pytest.raises(ValueError, match="num_frames"):
        F.frame_functionals(np.zeros((5, 1)), num_frames=-1)
    with pytest.raises(ValueError, match="librosa"):
        F.lld_frames(tone(), SR, {"name": "wav2vec"})


def test_librosa_lld_frames_dimensions_and_f0():
    y = np.concatenate([tone(150, 1.0), np.zeros(SR // 2, np.float32)])
    lld = F.lld_frames(y, SR)
    names = F.lld_frame_names()
    assert lld.shape == (1 + len(y) // 160, 59) == (lld.shape[0], len(names))
    assert np.all(np.isfinite(lld))
    f0, voicing = lld[:, names.index("f0")], lld[:, names.index("voicing")]
    np.testing.assert_allclose(np.median(f0[10:90]), 150.0, rtol=0.02)
    # F0 is 0 where unvoiced (openSMILE's F0final convention)
    assert np.all(f0[voicing < F.DEFAULTS["voicing_threshold"]] == 0) and np.all(f0[-20:] == 0)
    out = F.frame_functionals(lld)
    assert out.shape == (16, 118) and len(F.frame_functional_names()) == 118
    assert F.frame_functional_names()[0] == "mfcc1_amean"
    assert F.frame_functional_names()[59] == "mfcc1_coeffOfVariation"
    small = dict(F.DEFAULTS, n_mfcc=10, n_mels=20)
    assert F.lld_frames(y, SR, small).shape[1] == 47
    assert len(F.frame_functional_names(small)) == 94


def test_utterance_features_unchanged_by_the_lld_refactor():
    """extract_librosa equals the original recipe recomputed from librosa_lld_matrix."""
    y = tone(130, 1.2, seed=3)
    lld = F.librosa_lld_matrix(y, SR)
    assert lld.shape == (59, 1 + len(y) // 160) and lld.dtype == np.float64
    voiced = lld[-1] >= F.DEFAULTS["voicing_threshold"]
    want = np.concatenate([F.functionals(lld[:57], 0.01),
                           F.functionals(lld[57:58][:, voiced], 0.01),
                           F.functionals(lld[58:], 0.01)]).reshape(-1).astype(np.float32)
    np.testing.assert_array_equal(F.extract_librosa(y, SR), want)
    # the F0 row of the utterance LLDs keeps yin's estimate (the frame-level one zeroes it)
    np.testing.assert_array_equal(F.lld_frames(y, SR)[voiced, 57], lld[57, voiced])


def test_cache(tmp_path, monkeypatch):
    y = tone(180, 1.3, seed=5)
    calls = []
    real = FF.lld_frames
    monkeypatch.setattr(FF, "lld_frames", lambda *a: calls.append(1) or real(*a))
    kw = dict(cache_dir=tmp_path, corpus="toy", variant="v1")
    first = F.cached_frame_functionals("spk/rec 1", y, SR, None, **kw)
    assert len(calls) == 1 and len(os.listdir(tmp_path)) == 1
    assert os.listdir(tmp_path)[0].startswith("toy-v1-frames-spk_rec_1-")
    np.testing.assert_array_equal(first, F.frame_functionals(real(y, SR)))
    again = F.cached_frame_functionals("spk/rec 1", y, SR, None, **kw)
    assert len(calls) == 1                                   # read, not computed
    np.testing.assert_array_equal(again, first)
    assert again.dtype == np.float32 and again.shape == (14, 118)  # 131 LLD rows
    # num_frames pads / crops the cached entry without a new one
    np.testing.assert_array_equal(
        F.cached_frame_functionals("spk/rec 1", y, SR, None, num_frames=15, **kw),
        F.frame_functionals(real(y, SR), num_frames=15))
    assert len(calls) == 1 and len(os.listdir(tmp_path)) == 1
    # a changed feature config, window, record or variant is a new entry
    F.cached_frame_functionals("spk/rec 1", y, SR, {"n_mels": 20}, **kw)
    F.cached_frame_functionals("spk/rec 1", y, SR, None, window_s=4.0, **kw)
    F.cached_frame_functionals("spk_rec 1", y, SR, None, **kw)
    F.cached_frame_functionals("spk/rec 1", y, SR, None, cache_dir=tmp_path, corpus="toy",
                               variant="v2")
    assert len(calls) == 5 and len(os.listdir(tmp_path)) == 5
    keys = {F.frame_cache_key("r", None, corpus="c", variant="v"),
            F.frame_cache_key("r", {"n_mels": 20}, corpus="c", variant="v"),
            F.frame_cache_key("r", None, corpus="c", variant="v", hop_s=0.04),
            F.frame_cache_key("r", None, corpus="c", variant=None)}
    assert len(keys) == 4
    # options that do not change the features share the entry
    assert F.frame_cache_key("r", {"progress": False}, corpus="c", variant="v") == \
        F.frame_cache_key("r", None, corpus="c", variant="v")
    # the first entry is still read, identical
    np.testing.assert_array_equal(F.cached_frame_functionals("spk/rec 1", y, SR, None, **kw),
                                  first)
    assert len(calls) == 5


def test_compare2016_lld_frames_when_opensmile_is_installed():
    pytest.importorskip("opensmile")
    y = tone(150, 2.0)
    cfg = {"name": "compare2016"}
    lld = F.lld_frames(y, SR, cfg)
    # openSMILE keeps only the frames whose windows (up to 60 ms) fit in the signal
    assert lld.shape[1] == 65 == F.NUM_COMPARE_LLDS and 200 - 6 <= lld.shape[0] <= 200
    assert len(F.lld_frame_names(cfg)) == 65
    out = F.frame_functionals(lld, F.lld_hop_seconds(cfg))
    assert out.shape[1] == 130 == len(F.frame_functional_names(cfg))
