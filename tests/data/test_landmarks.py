"""Tests of seru/data/features/landmarks.py: pose normalisation and 100 ms landmark frames."""

import numpy as np
import pytest

from seru.data.features.landmarks import landmark_frames, normalise
from seru.data.synthetic.face import TEMPLATE


def _faces(n, seed=0):
    rng = np.random.default_rng(seed)
    return TEMPLATE[None] + 0.02 * rng.normal(size=(n, 49, 2))


def test_normalise_removes_position_rotation_and_scale():
    faces = _faces(5)
    angle = np.deg2rad(17.0)
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    moved = 130.0 * faces @ rot.T + np.array([320.0, 240.0])
    np.testing.assert_allclose(normalise(moved), normalise(faces), atol=1e-10)
    n = normalise(faces)
    np.testing.assert_allclose(n.mean(-2), 0.0, atol=1e-12)               # centred
    eye = n[:, 25:31].mean(1) - n[:, 19:25].mean(1)
    np.testing.assert_allclose(eye, np.tile([1.0, 0.0], (5, 1)), atol=1e-12)  # eye line = x axis, length 1
    with pytest.raises(ValueError, match=r"\[\.\.\., 49, 2\]"):
        normalise(np.zeros((3, 48, 2)))


def test_landmark_frames_average_tracked_video_frames():
    faces = _faces(10, seed=1)                       # 10 frames of 40 ms = 400 ms
    mask = np.ones(10, bool)
    mask[3] = False                                  # lost: left out of its 100 ms frame
    faces[7, 5] = np.nan                             # partly lost: the whole frame is left out
    out = landmark_frames(faces, mask, video_hop_s=0.04, hop_s=0.1)
    assert out.shape == (4, 98) and out.dtype == np.float32
    coords = normalise(faces).reshape(10, 98)
    # by hand: 100 ms frame k covers [0.1 k, 0.1 (k + 1)); video frame i covers [0.04 i, 0.04 (i + 1))
    weights = np.zeros((4, 10))
    for k in range(4):
        for i in range(10):
            weights[k, i] = max(0.0, min(0.1 * (k + 1), 0.04 * (i + 1)) - max(0.1 * k, 0.04 * i))
    weights[:, [3, 7]] = 0.0
    expected = (weights @ np.nan_to_num(coords)) / weights.sum(1, keepdims=True)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)
    # a 100 ms frame with no tracked video is NaN; num_frames pads with NaN
    lost = landmark_frames(faces, np.zeros(10, bool), 0.04, num_frames=5)
    assert lost.shape == (5, 98) and np.isnan(lost).all()
