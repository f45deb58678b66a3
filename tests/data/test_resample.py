"""Tests of seru.data.resample against a loop-based oracle in seconds."""

import math

import numpy as np
import pytest

from seru.data import labels, resample


def _oracle(x, hop_in, hop_out, t_out):
    """Box average by explicit loops over target and source frames, overlaps in float seconds."""
    t_in, a = x.shape
    out = np.full((t_out, a), np.nan)
    for j in range(t_out):
        s0, s1 = j * hop_out, (j + 1) * hop_out
        for c in range(a):
            num = den = 0.0
            for i in range(t_in):
                ov = min(s1, (i + 1) * hop_in) - max(s0, i * hop_in)
                if ov > 1e-9 and not math.isnan(x[i, c]):
                    num += ov * x[i, c]
                    den += ov
            if den > 0:
                out[j, c] = num / den
    return out


def _traces(seed, t, a, missing=0.2):
    rng = np.random.default_rng(seed)
    x = np.cumsum(rng.normal(size=(t, a)), axis=0)
    x[rng.random((t, a)) < missing] = np.nan
    x[5:17, 0] = np.nan  # a gap longer than a 100 ms / 200 ms target frame
    return x


@pytest.mark.parametrize("hop_in,hop_out", [(0.04, 0.1), (0.04, 0.2), (0.1, 0.04), (0.04, 0.03),
                                            (0.01, 0.04), (0.04, 0.04), (1 / 30, 0.1)])
@pytest.mark.parametrize("seed", [0, 1])
def test_matches_loop_oracle(hop_in, hop_out, seed):
    x = _traces(seed, t=53, a=4)
    out = resample.resample_ratings(x, hop_in, hop_out)
    t_out = round(round(53 * hop_in / hop_out, 9))  # 132.5 -> 132: half to even, exactly
    assert out.shape == (t_out, 4)
    np.testing.assert_allclose(out, _oracle(x, hop_in, hop_out, t_out), rtol=1e-12, atol=1e-12)
    # explicit frame count: frames past the source end are NaN
    longer = resample.resample_ratings(x, hop_in, hop_out, num_frames=t_out + 3)
    np.testing.assert_allclose(longer, _oracle(x, hop_in, hop_out, t_out + 3), rtol=1e-12,
                               atol=1e-12)
    assert np.all(np.isnan(longer[-2:]))


def test_gap_gives_nan_and_partial_overlap_is_weighted():
    x = np.array([[1.0], [2.0], [4.0], [np.nan], [np.nan], [np.nan], [8.0]])  # 280 ms at 40 ms
    out = resample.resample_ratings(x, 0.04, 0.1)
    assert out.shape == (3, 1)
    # frame 0 = [0, 100) ms: 40 ms of 1, 40 ms of 2, 20 ms of 4
    assert abs(out[0, 0] - (40 * 1 + 40 * 2 + 20 * 4) / 100) < 1e-15
    # frame 1 = [100, 200) ms: 20 ms of 4, then only missing ratings
    assert out[1, 0] == 4.0
    # frame 2 = [200, 300) ms: 40 ms missing, 40 ms of 8, 20 ms past the end
    assert out[2, 0] == 8.0
    y = x.copy()
    y[2] = np.nan
    assert np.isnan(resample.resample_ratings(y, 0.04, 0.1)[1, 0])  # no valid rating


def test_constant_traces_stay_constant():
    x = np.tile(np.array([0.3, -0.7, 1e3]), (97, 1))
    for hop_out in (0.1, 0.2, 0.03, 0.04, 0.5):
        out = resample.resample_ratings(x, 0.04, hop_out)
        np.testing.assert_allclose(out, np.broadcast_to(x[0], out.shape), rtol=1e-15, atol=0)


def test_ramp_40_to_200_ms_is_mean_of_five():
    x = np.arange(20, dtype=float)[:, None] * np.array([1.0, -2.0])  # ramp of 20 frames (800 ms)
    out = resample.resample_ratings(x, 0.04, 0.2)
    np.testing.assert_array_equal(out[:, 0], [2.0, 7.0, 12.0, 17.0])
    np.testing.assert_array_equal(out[:, 1], [-4.0, -14.0, -24.0, -34.0])


def test_identity_and_one_dimensional():
    x = _traces(3, t=41, a=6)
    np.testing.assert_array_equal(resample.resample_ratings(x, 0.04, 0.04), x)
    v = x[:, 1]
    np.testing.assert_array_equal(resample.resample_ratings(v, 0.04, 0.1),
                                  resample.resample_ratings(x, 0.04, 0.1)[:, 1])


def test_frame_count():
    assert resample.num_target_frames(4500, 0.04, 0.1) == 1800  # 180 s
    assert resample.num_target_frames(4501, 0.04, 0.1) == 1800  # 180.04 s
    assert resample.num_target_frames(4502, 0.04, 0.1) == 1801  # 180.08 s: nearest
    assert resample.num_target_frames(3, 0.04, 0.08) == 2  # 1.5 -> 2 (half to even)
    assert resample.num_target_frames(5, 0.04, 0.08) == 2  # 2.5 -> 2 (half to even)
    assert resample.num_target_frames(1, 0.04, 0.1) == 1  # at least one frame
    assert resample.num_target_frames(0, 0.04, 0.1) == 0
    assert resample.num_target_frames(10, 0.1, 0.04) == 25
    assert resample.resample_ratings(np.zeros((0, 3)), 0.04, 0.1).shape == (0, 3)
    assert resample.resample_ratings(np.ones((1, 2)), 0.04, 0.1).tolist() == [[1.0, 1.0]]


def test_then_aggregate_per_rater():
    """han17: resample each rater, then EWE / std on the 100 ms traces."""
    x = _traces(4, t=250, a=6, missing=0.0)
    r100 = resample.resample_ratings(x, 0.04, 0.1)
    assert r100.shape == (100, 6)
    for j in (0, 37, 99):
        frame = _oracle(x, 0.04, 0.1, 100)[j]
        assert abs(labels.rater_std(r100)[j] - np.std(frame, ddof=1)) < 1e-10


@pytest.mark.parametrize("kwargs,match", [
    (dict(hop_in_s=0.0, hop_out_s=0.1), "hop_in_s"),
    (dict(hop_in_s=0.04, hop_out_s=-0.1), "hop_out_s"),
    (dict(hop_in_s=0.04, hop_out_s=float("nan")), "hop_out_s"),
    (dict(hop_in_s="x", hop_out_s=0.1), "hop_in_s"),
    (dict(hop_in_s=0.04, hop_out_s=0.1, num_frames=-1), "num_frames"),
])
def test_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        resample.resample_ratings(np.ones((4, 2)), **kwargs)
    with pytest.raises(ValueError, match="frame axis"):
        resample.resample_ratings(1.0, 0.04, 0.1)
