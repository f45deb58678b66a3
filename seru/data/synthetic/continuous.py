"""RECOLA / AVEC 2016-like recordings: 16 kHz speech rated continuously by several annotators.

A recording of ``n_frames`` label frames has ``n_frames * 640`` audio samples:
label frame ``t`` covers samples ``[t * 640, (t + 1) * 640)`` (40 ms at 16 kHz,
AVEC 2016: 7501 frames per 300 s). Hidden per-frame latents: ``arousal``,
``valence`` (the true emotion), ``ambiguity`` (in [0, 1]), and the annotators'
delays ``annotator_delay_s``.

Video (:mod:`seru.data.synthetic.face`): 49 facial landmarks per label frame
(25 fps, video frame ``t`` = label frame ``t``), driven by the same latents
and the audio's voiced share per frame (lip movement). The video and the
speaker's face draw from their own streams, ``rng_for(..., VIDEO_STREAM)``
below the recording's and the speaker's keys, so the audio and the ratings
are the same draws as without video.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from seru.data.synthetic import face, speech
from seru.data.synthetic.annotators import TraceAnnotator, rate_trace
from seru.data.synthetic.processes import (
    NS_RECORDING, NS_SPEAKER, SPLIT_CODES, rng_for, smooth_noise,
)

HOP_S = 0.04
SAMPLES_PER_FRAME = 640
PRE_ROLL_S = 6.0  # latent trajectory before the recording, seen by delayed annotators
DIMENSIONS = ("arousal", "valence")
HIDDEN = ("arousal", "valence", "ambiguity", "annotator_delay_s")
#: Last key of :func:`rng_for` for the video of a recording and the face of a speaker: a stream
#: of its own, independent of the one the audio and the ratings draw from.
VIDEO_STREAM = 1


@dataclass(frozen=True)
class Speaker:
    id: str
    voice: speech.Voice
    arousal_offset: float
    valence_offset: float
    expressivity: float
    ambiguity_offset: float
    face: face.FaceGeometry


def speaker(seed: int, index: int) -> Speaker:
    """Speaker ``index`` of the corpus: voice, face and emotional baseline (alternating gender)."""
    rng = rng_for(seed, NS_SPEAKER, 0, index)
    gender = "female" if index % 2 == 0 else "male"
    return Speaker(
        id=f"S{index + 1:03d}",
        voice=speech.sample_voice(rng, gender),
        arousal_offset=float(rng.normal(0.0, 0.25)),
        valence_offset=float(rng.normal(0.1, 0.25)),
        expressivity=float(rng.uniform(0.7, 1.3)),
        ambiguity_offset=float(rng.normal(0.0, 0.4)),
        face=face.sample_geometry(rng_for(seed, NS_SPEAKER, 0, index, VIDEO_STREAM)),
    )


def n_frames_for(duration_s: float) -> int:
    """AVEC convention: ``round(duration / 40 ms) + 1`` frames (7501 for 300 s)."""
    return int(round(duration_s / HOP_S)) + 1


def latents(rng: np.random.Generator, spk: Speaker, total: int) -> dict:
    """Slow, smooth, speaker-specific emotion and ambiguity trajectories over ``total`` frames.

    Arousal = tanh(offset + expressivity * (0.55 slow(20 s) + 0.35 medium(5 s))),
    valence likewise (correlated 0.3 with arousal), ambiguity =
    sigmoid(-0.6 + offset + 1.3 slow(8 s)) in (0, 1); conflict ~ N(0, 1) (4 s) is
    the direction in which ambiguous speech sends its cues.
    """
    ls = lambda s: s / HOP_S  # noqa: E731
    ea = 0.55 * smooth_noise(rng, total, ls(20.0)) + 0.35 * smooth_noise(rng, total, ls(5.0))
    ev = 0.55 * smooth_noise(rng, total, ls(25.0)) + 0.35 * smooth_noise(rng, total, ls(6.0))
    arousal = np.tanh(spk.arousal_offset + spk.expressivity * ea)
    valence = np.tanh(spk.valence_offset + spk.expressivity * (0.95 * ev + 0.3 * ea))
    ambiguity = 1.0 / (1.0 + np.exp(-(-0.6 + spk.ambiguity_offset
                                       + 1.3 * smooth_noise(rng, total, ls(8.0)))))
    conflict = smooth_noise(rng, total, ls(4.0))
    return dict(arousal=arousal, valence=valence, ambiguity=ambiguity, conflict=conflict)


def frames_to_ctrl(x: np.ndarray, n_ctrl: int) -> np.ndarray:
    """Label-rate (40 ms, frame-centred) track -> synthesiser control rate (8 ms)."""
    hops_per_frame = SAMPLES_PER_FRAME / speech.HOP
    t_frame = (np.arange(x.size) + 0.5) * hops_per_frame
    return np.interp(np.arange(n_ctrl), t_frame, x)


def generate_recording(seed: int, split: str, index: int, spk: Speaker, duration_s: float,
                       annotators: list[TraceAnnotator]) -> dict:
    """One record in the schema of :func:`seru.data.schema.continuous_features`."""
    rng = rng_for(seed, NS_RECORDING, SPLIT_CODES[split], index)
    n_frames = n_frames_for(duration_s)
    pre = int(round(PRE_ROLL_S / HOP_S))
    lat = latents(rng, spk, pre + n_frames)
    n_samples = n_frames * SAMPLES_PER_FRAME
    n_ctrl = speech.n_ctrl_frames(n_samples)
    drivers = {k: frames_to_ctrl(lat[k][pre:], n_ctrl)
               for k in ("arousal", "valence", "ambiguity", "conflict")}
    audio, tracks = speech.render(rng, spk.voice, drivers, n_samples, mode="conversation")
    audio = speech.add_room(rng, audio, snr_db=float(rng.uniform(30.0, 40.0)))
    ratings = {
        "arousal": rate_trace(rng, annotators, lat["arousal"], lat["ambiguity"], n_frames, HOP_S),
        "valence": rate_trace(rng, annotators, lat["valence"], lat["ambiguity"], n_frames, HOP_S,
                              dim_gain=1.2),
    }
    hidden = {k: lat[k][pre:].astype(np.float32) for k in ("arousal", "valence", "ambiguity")}
    hidden["annotator_delay_s"] = np.array([a.delay_s for a in annotators], np.float32)
    landmarks, mask = video(seed, split, index, spk, {k: lat[k][pre:] for k in lat},
                            tracks["f0"])
    return {
        "id": f"{split}_{index + 1}",
        "speaker": spk.id,
        "audio": audio,
        "sample_rate": np.int32(speech.SAMPLE_RATE),
        **ratings,
        "video_landmarks": landmarks,
        "video_mask": mask,
        "hidden": hidden,
    }


def voiced_share(f0: np.ndarray, n_frames: int) -> np.ndarray:
    """Share in [0, 1] of the voiced control frames (``f0 > 0``, 8 ms) of each 40 ms label frame."""
    hops = SAMPLES_PER_FRAME // speech.HOP
    voiced = np.zeros(n_frames * hops)
    m = min(voiced.size, f0.size)
    voiced[:m] = f0[:m] > 0
    return voiced.reshape(n_frames, hops).mean(1)


def video(seed: int, split: str, index: int, spk: Speaker, lat: dict,
          f0: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Landmarks ``float32 [n_frames, 49, 2]`` (pixels, NaN where lost) and mask ``bool [n_frames]``.

    ``lat``: the recording's latents (``arousal``, ``valence``, ``ambiguity``,
    ``conflict``) over its ``n_frames`` label frames; ``f0``: the audio's
    control-rate F0 track (0 where unvoiced), whose voiced share per frame
    moves the lips. Drawn from ``rng_for(seed, NS_RECORDING, split, index,
    VIDEO_STREAM)``, never from the audio's stream.
    """
    rng = rng_for(seed, NS_RECORDING, SPLIT_CODES[split], index, VIDEO_STREAM)
    n = lat["arousal"].shape[0]
    act = None if f0 is None else voiced_share(f0, n)
    return face.render(rng, spk.face, lat, HOP_S, speech=act)
