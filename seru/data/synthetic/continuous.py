"""RECOLA / AVEC 2016-like recordings: 16 kHz speech rated continuously by several annotators.

A recording of ``n_frames`` label frames has ``n_frames * 640`` audio samples:
label frame ``t`` covers samples ``[t * 640, (t + 1) * 640)`` (40 ms at 16 kHz,
AVEC 2016: 7501 frames per 300 s). Hidden per-frame latents: ``arousal``,
``valence`` (the true emotion), ``ambiguity`` (in [0, 1]), and the annotators'
delays ``annotator_delay_s``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from seru.data.synthetic import speech
from seru.data.synthetic.annotators import TraceAnnotator, rate_trace
from seru.data.synthetic.processes import (
    NS_RECORDING, NS_SPEAKER, SPLIT_CODES, rng_for, smooth_noise,
)

HOP_S = 0.04
SAMPLES_PER_FRAME = 640
PRE_ROLL_S = 6.0  # latent trajectory before the recording, seen by delayed annotators
DIMENSIONS = ("arousal", "valence")
HIDDEN = ("arousal", "valence", "ambiguity", "annotator_delay_s")


@dataclass(frozen=True)
class Speaker:
    id: str
    voice: speech.Voice
    arousal_offset: float
    valence_offset: float
    expressivity: float
    ambiguity_offset: float


def speaker(seed: int, index: int) -> Speaker:
    """Speaker ``index`` of the corpus: voice and emotional baseline (alternating gender)."""
    rng = rng_for(seed, NS_SPEAKER, 0, index)
    gender = "female" if index % 2 == 0 else "male"
    return Speaker(
        id=f"S{index + 1:03d}",
        voice=speech.sample_voice(rng, gender),
        arousal_offset=float(rng.normal(0.0, 0.25)),
        valence_offset=float(rng.normal(0.1, 0.25)),
        expressivity=float(rng.uniform(0.7, 1.3)),
        ambiguity_offset=float(rng.normal(0.0, 0.4)),
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
    audio, _ = speech.render(rng, spk.voice, drivers, n_samples, mode="conversation")
    audio = speech.add_room(rng, audio, snr_db=float(rng.uniform(30.0, 40.0)))
    ratings = {
        "arousal": rate_trace(rng, annotators, lat["arousal"], lat["ambiguity"], n_frames, HOP_S),
        "valence": rate_trace(rng, annotators, lat["valence"], lat["ambiguity"], n_frames, HOP_S,
                              dim_gain=1.2),
    }
    hidden = {k: lat[k][pre:].astype(np.float32) for k in ("arousal", "valence", "ambiguity")}
    hidden["annotator_delay_s"] = np.array([a.delay_s for a in annotators], np.float32)
    return {
        "id": f"{split}_{index + 1}",
        "speaker": spk.id,
        "audio": audio,
        "sample_rate": np.int32(speech.SAMPLE_RATE),
        **ratings,
        "hidden": hidden,
    }
