"""Tests of the synthetic video stream (seru/data/synthetic/face.py) of ``seru_synth_continuous``.

The generator is checked on long synthetic latent traces (numpy only); the
built ``tiny`` variant is checked for its video keys and for audio and ratings
bit-identical to those of builder 1.2.0 (before the video existed).
"""

import hashlib

import numpy as np
import pytest

from seru.data import schema
from seru.data.features import landmarks
from seru.data.corpora.seru_synth_continuous.builder import SeruSynthContinuous
from seru.data.synthetic import continuous, face
from seru.data.synthetic.processes import rng_for, smooth_noise

#: sha256 of the ``tiny`` variant's audio, ratings and hidden latents per split, computed
#: with builder 1.2.0 (the code before the video stream was added) by :func:`_digest`.
#: The video draws from its own streams, so these must not change.
TINY_DIGESTS_1_2_0 = {
    "train": "309366ad637d20b3742a1dc528a4729cfd9fbc96f6d7a417207e5be489d3c474",
    "dev": "f0b8b2ebebd2aeb03b0fbfc5b73ce7fd1da79fdae507feda17ea27f28674a5ed",
    "test": "b4bd316bd8d2854c9f82331528e2ad097b872fcfddf714e1a181f10301756fb5",
}


def _digest(records) -> str:
    """sha256 over id, audio, arousal, valence and the hidden latents (float32 LE) of each record."""
    h = hashlib.sha256()
    for rec in sorted(records, key=lambda r: schema.decode_text(r["id"])):
        h.update(schema.decode_text(rec["id"]).encode())
        for k in ("audio", "arousal", "valence"):
            h.update(np.ascontiguousarray(rec[k], dtype="<f4").tobytes())
        for k in ("arousal", "valence", "ambiguity", "annotator_delay_s"):
            h.update(np.ascontiguousarray(rec["hidden"][k], dtype="<f4").tobytes())
    return h.hexdigest()


def _latents(n, seed=0, **fixed):
    rng = np.random.default_rng(seed)
    lat = dict(arousal=0.6 * smooth_noise(rng, n, 100.0), valence=0.6 * smooth_noise(rng, n, 100.0),
               ambiguity=np.full(n, 0.1), conflict=smooth_noise(rng, n, 100.0))
    lat["arousal"], lat["valence"] = np.tanh(lat["arousal"]), np.tanh(lat["valence"])
    lat.update({k: np.full(n, v) for k, v in fixed.items()})
    return lat


# ------------------------------------------------------------------ generator


def test_render_shapes_nan_and_mask_agree():
    n = 3000
    geom = continuous.speaker(0, 0).face
    lm, mask = face.render(rng_for(0, 9, 9), geom, _latents(n), lost_rate_hz=0.1)
    assert lm.shape == (n, face.N_LANDMARKS, 2) and lm.dtype == np.float32
    assert mask.shape == (n,) and mask.dtype == np.bool_
    assert 0.5 < mask.mean() < 1.0                        # some lost stretches, mostly tracked
    np.testing.assert_array_equal(np.isfinite(lm).all((1, 2)), mask)
    assert np.isnan(lm[~mask]).all()
    w, h = face.FRAME_SIZE
    assert 0 < np.nanmin(lm[..., 0]) and np.nanmax(lm[..., 0]) < w
    assert 0 < np.nanmin(lm[..., 1]) and np.nanmax(lm[..., 1]) < h


def test_render_rejects_latents_of_different_lengths():
    lat = _latents(100)
    lat["valence"] = lat["valence"][:-1]
    with pytest.raises(ValueError, match="latent 'valence' has shape"):
        face.render(rng_for(0, 9), continuous.speaker(0, 0).face, lat)
    with pytest.raises(ValueError, match="speech has shape"):
        face.render(rng_for(0, 9), continuous.speaker(0, 0).face, _latents(100), speech=np.ones(99))


def test_speakers_have_their_own_neutral_face():
    faces = [continuous.speaker(0, i).face for i in range(4)]
    for a, b in zip(faces, faces[1:]):
        assert np.abs(a.neutral - b.neutral).max() > 0.01
        assert a.iod_px != b.iod_px
    np.testing.assert_array_equal(faces[0].neutral, continuous.speaker(0, 0).face.neutral)


def test_smile_follows_valence_and_brows_follow_arousal():
    """Long trace: mouth-corner elevation ~ valence, brow elevation ~ arousal (normalised coords)."""
    n = 7500
    geom = continuous.speaker(0, 3).face
    lat = _latents(n, seed=1)
    lm, mask = face.render(rng_for(0, 9, 1), geom, lat)
    z = landmarks.normalise(lm[mask])
    corner_up = -(z[:, face.MOUTH_CORNERS, 1].mean(1) - z[:, face.MOUTH_OUTER, 1].mean(1))
    brow_up = -(z[:, np.r_[face.BROW_R, face.BROW_L], 1].mean(1)
                - z[:, np.r_[face.EYE_R, face.EYE_L], 1].mean(1))
    assert np.corrcoef(corner_up, lat["valence"][mask])[0, 1] > 0.5
    assert np.corrcoef(brow_up, lat["arousal"][mask])[0, 1] > 0.5


def test_video_is_deterministic_and_keyed():
    spk = continuous.speaker(0, 0)
    lat = _latents(200)
    a, ma = continuous.video(0, "train", 0, spk, lat)
    b, mb = continuous.video(0, "train", 0, spk, lat)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(ma, mb)
    c, _ = continuous.video(0, "train", 1, spk, lat)
    assert not np.allclose(a, c, equal_nan=True)


# ------------------------------------------------------------------ built corpus


def test_tiny_audio_and_ratings_unchanged_by_the_video(synth_continuous):
    """The tiny variant (built into a tmp data dir) hashes as it did with builder 1.2.0."""
    builder, sources = synth_continuous
    assert str(builder.version) == "1.3.0"
    for split, expected in TINY_DIGESTS_1_2_0.items():
        src = sources[split]
        assert _digest([src[i] for i in range(len(src))]) == expected, split


def test_tiny_records_have_video(synth_continuous):
    builder, sources = synth_continuous
    meta = builder.info.metadata
    assert meta["video_frame_hop_s"] == pytest.approx(0.04)
    assert list(meta["video_frame_size"]) == list(face.FRAME_SIZE)
    assert "1.3.0" in SeruSynthContinuous.RELEASE_NOTES
    for split, src in sources.items():
        for i in range(len(src)):
            rec = src[i]
            n = rec["arousal"].shape[0]
            lm, mask = rec[schema.VIDEO_LANDMARKS_KEY], rec[schema.VIDEO_MASK_KEY]
            assert lm.shape == (n, 49, 2) and lm.dtype == np.float32
            assert mask.shape == (n,) and mask.dtype == np.bool_
            np.testing.assert_array_equal(np.isfinite(lm).all((1, 2)), mask)
            assert mask.mean() > 0.5
