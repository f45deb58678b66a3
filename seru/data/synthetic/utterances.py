"""MSP-Podcast-like utterances: 3-11 s of one speaker, crowd-rated attributes and categorical votes.

Generative story of one utterance: a primary class drawn from a neutral-skewed
prior; with probability ``p_mixed`` a secondary class mixed in with weight
``w``; the true attributes (arousal, valence, dominance in [-1, 1]) are the
mixture of the classes' prototypes scaled by the speaker's expressivity plus
noise; the ambiguity latent rises with the mixing weight. Audio comes from
:func:`seru.data.synthetic.speech.render` (attributes -> acoustics, plus small
class-specific cues such as a final rise for surprise or breathiness for
sadness). Raters are drawn from a crowd pool with personal biases, rate on a
Likert scale and each casts one primary vote (:func:`.annotators.rate_utterance`).

The ``crosscorpus`` condition (IEMOCAP stand-in) uses other speakers, a
5-point scale, acted (stronger) expressions, fewer raters and different
recording conditions: room reverberation, band-limited channel and noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import butter, fftconvolve, sosfilt

from seru.data.schema import MSP_CLASSES
from seru.data.synthetic import speech
from seru.data.synthetic.annotators import rate_utterance
from seru.data.synthetic.processes import (
    NS_ANNOTATOR, NS_CONDITION, NS_SPEAKER, NS_UTTERANCE, SPLIT_CODES, rng_for, smooth_noise,
)

DIMENSIONS = ("arousal", "valence", "dominance")
HIDDEN = {"arousal": (), "valence": (), "dominance": (), "ambiguity": (),
          "true_class": (), "secondary_class": (), "mix_weight": ()}
NEUTRAL = MSP_CLASSES.index("neutral")

#: Prototype (arousal, valence, dominance) of each class of MSP_CLASSES, in [-1, 1].
PROTOTYPES = np.array([
    [0.0, 0.05, 0.0],     # neutral
    [0.45, 0.65, 0.25],   # happy
    [0.75, -0.6, 0.6],    # angry
    [-0.55, -0.55, -0.45],  # sad
    [0.1, -0.45, 0.45],   # contempt
    [0.6, 0.25, 0.0],     # surprise
    [0.5, -0.6, -0.55],   # fear
    [0.2, -0.55, 0.25],   # disgust
    [0.1, 0.0, 0.0],      # other
])
#: Primary-class prior, skewed toward neutral like MSP-Podcast.
PRIOR = np.array([0.38, 0.16, 0.09, 0.10, 0.06, 0.05, 0.03, 0.04, 0.09])
#: Small class-specific acoustic cues (see speech.render's ``class_cues``).
CLASS_CUES = {
    "happy": dict(f0_st=1.0),
    "angry": dict(loudness_db=2.0),
    "sad": dict(breathiness=0.12, rate=-0.15),
    "contempt": dict(f0_st=-1.0, rate=-0.1),
    "surprise": dict(final_rise_st=4.0),
    "fear": dict(f0_st=2.0, breathiness=0.06),
    "disgust": dict(rate=-0.1, breathiness=0.04),
}
CUE_KEYS = ("f0_st", "final_rise_st", "breathiness", "loudness_db", "rate")
POOL_SIZE = 300  # crowd raters per corpus


@dataclass(frozen=True)
class UtteranceSpec:
    """Corpus-level settings of an utterance corpus variant."""

    seed: int = 0
    corpus_key: int = 0         # 0: MSP-like, 1: crosscorpus (other speakers, raters, rooms)
    points: int = 7             # Likert scale 1..points
    min_raters: int = 5
    max_raters: int = 10        # also the NaN-padded width of the rating arrays
    extra_raters_mean: float = 1.2
    p_mixed: float = 0.3
    intensity: float = 1.0      # expressiveness (acted > spontaneous)
    condition: str = "clean"    # "clean" | "crosscorpus"
    min_s: float = 3.0
    max_s: float = 11.0


@dataclass(frozen=True)
class Speaker:
    id: str
    gender: str
    voice: speech.Voice
    expressivity: float
    ambiguity_offset: float
    offset: np.ndarray  # speaker's attribute offset [3]


def speaker(spec: UtteranceSpec, index: int) -> Speaker:
    """Speaker ``index`` of the corpus (voice, expressivity; random gender, or alternating
    female / male in the crosscorpus condition, like IEMOCAP's one actress and one actor
    per session)."""
    rng = rng_for(spec.seed, NS_SPEAKER, 1 + spec.corpus_key, index)
    gender = "female" if rng.random() < 0.5 else "male"
    if spec.condition == "crosscorpus":
        gender = ("female", "male")[index % 2]
    prefix = "X" if spec.corpus_key else "U"
    return Speaker(
        id=f"{prefix}{index + 1:04d}",
        gender=gender,
        voice=speech.sample_voice(rng, gender),
        expressivity=float(rng.uniform(0.7, 1.2)),
        ambiguity_offset=float(rng.normal(0.0, 0.05)),
        offset=rng.normal(0.0, 0.1, 3),
    )


def rater_pool(spec: UtteranceSpec) -> np.ndarray:
    """Biases ``[POOL_SIZE, 3]`` of the corpus' crowd raters (per attribute)."""
    rng = rng_for(spec.seed, NS_ANNOTATOR, 1 + spec.corpus_key)
    return rng.normal(0.0, 0.12, (POOL_SIZE, len(DIMENSIONS)))


def _cues(mixture: np.ndarray) -> dict:
    cues = dict.fromkeys(CUE_KEYS, 0.0)
    for c, w in enumerate(mixture):
        for k, val in CLASS_CUES.get(MSP_CLASSES[c], {}).items():
            cues[k] += w * val
    return cues


def _recording_conditions(rng: np.random.Generator, audio: np.ndarray, spec: UtteranceSpec):
    if spec.condition == "clean":
        return speech.add_room(rng, audio, snr_db=float(rng.uniform(25.0, 40.0)))
    if spec.condition != "crosscorpus":
        raise ValueError(f"condition must be 'clean' or 'crosscorpus', got {spec.condition!r}")
    sr = speech.SAMPLE_RATE
    rt60 = rng.uniform(0.3, 0.7)
    t = np.arange(int(rt60 * sr)) / sr
    ir = rng.standard_normal(t.size) * np.exp(-6.91 * t / rt60)
    ir[0] = 1.0 / rng.uniform(0.3, 0.6)  # direct path stronger than the tail
    wet = fftconvolve(audio.astype(np.float64), ir)[: audio.size]
    wet *= np.sqrt(np.mean(audio.astype(np.float64) ** 2) / (np.mean(wet ** 2) + 1e-12))
    sos = butter(4, [rng.uniform(150.0, 300.0), rng.uniform(3800.0, 5500.0)], btype="bandpass",
                 fs=sr, output="sos")
    noisy = speech.add_room(rng, wet, snr_db=float(rng.uniform(10.0, 25.0)))
    return np.clip(sosfilt(sos, noisy), -1.0, 1.0).astype(np.float32)  # channel after the room


def generate_utterance(spec: UtteranceSpec, split: str, index: int, spk: Speaker,
                       pool: np.ndarray, labeled: bool = True) -> dict:
    """One record in the schema of :func:`seru.data.schema.utterance_features`."""
    rng = rng_for(spec.seed, NS_UTTERANCE, spec.corpus_key, SPLIT_CODES[split], index)
    duration = float(np.clip(spec.min_s + rng.gamma(2.0, 1.3), spec.min_s, spec.max_s))
    n_samples = int(round(duration * speech.SAMPLE_RATE))
    n_classes = len(MSP_CLASSES)
    c1 = int(rng.choice(n_classes, p=PRIOR))
    mixture = np.zeros(n_classes)
    mixture[c1] = 1.0
    c2, w = -1, 0.0
    if rng.random() < spec.p_mixed:
        p2 = PRIOR.copy()
        p2[c1] = 0.0
        c2 = int(rng.choice(n_classes, p=p2 / p2.sum()))
        w = float(rng.uniform(0.3, 0.5))
        mixture = (1.0 - w) * mixture
        mixture[c2] += w
    scale = spec.intensity * spk.expressivity
    truth = np.clip(scale * (mixture @ PROTOTYPES) + spk.offset + rng.normal(0.0, 0.15, 3),
                    -1.0, 1.0)
    ambiguity = float(np.clip(rng.beta(2.0, 5.0) + 0.9 * w + spk.ambiguity_offset, 0.0, 1.0))

    n_ctrl = speech.n_ctrl_frames(n_samples)
    wiggle = lambda: 0.1 * smooth_noise(rng, n_ctrl, 125.0)  # noqa: E731 (1 s variation)
    drivers = {name: np.clip(truth[i] + wiggle(), -1.0, 1.0) for i, name in enumerate(DIMENSIONS)}
    drivers["ambiguity"] = np.full(n_ctrl, ambiguity)
    drivers["conflict"] = smooth_noise(rng, n_ctrl, 60.0)
    audio, _ = speech.render(rng, spk.voice, drivers, n_samples, mode="utterance",
                             class_cues=_cues(mixture))
    cond_rng = rng_for(spec.seed, NS_CONDITION, spec.corpus_key, SPLIT_CODES[split], index)
    audio = _recording_conditions(cond_rng, audio, spec)

    width = spec.max_raters
    if labeled:
        n_raters = int(min(width, spec.min_raters + rng.poisson(spec.extra_raters_mean)))
        raters = rng.choice(pool.shape[0], size=n_raters, replace=False)
        ratings, votes = rate_utterance(rng, truth, ambiguity, mixture, PRIOR, NEUTRAL,
                                        n_raters, width, spec.points, pool[raters])
    else:
        ratings = np.full((len(DIMENSIONS), width), np.nan, np.float32)
        votes = np.zeros(n_classes, np.int32)
    hidden = dict(zip(DIMENSIONS, truth.astype(np.float32)))
    hidden.update(ambiguity=ambiguity, true_class=float(c1), secondary_class=float(c2),
                  mix_weight=w)
    return {
        "id": f"{split}_{index + 1:05d}",
        "speaker": spk.id,
        "gender": spk.gender,
        "audio": audio,
        "sample_rate": np.int32(speech.SAMPLE_RATE),
        "emotion_votes": votes,
        **{name: ratings[i] for i, name in enumerate(DIMENSIONS)},
        "hidden": {k: np.float32(v) for k, v in hidden.items()},
    }
