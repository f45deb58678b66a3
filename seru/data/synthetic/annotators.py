"""Synthetic annotators: continuous traces (RECOLA-like) and crowd raters (MSP-Podcast-like)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from seru.data.synthetic.processes import NS_ANNOTATOR, ema, rng_for, smooth_noise


# ------------------------------------------------------------ continuous traces


@dataclass(frozen=True)
class TraceAnnotator:
    """A rater of a continuous trace (a joystick / slider moved while listening)."""

    name: str
    delay_s: float     # reaction delay: the rating at t reflects the percept at t - delay
    bias: float        # additive offset
    scale: float       # gain of the percept
    smooth_s: float    # time constant of the rater's exponential smoothing
    noise: float       # std of the rater's own (smooth) noise
    ambiguity_gain: float  # how far the percept strays from the truth per unit ambiguity


def trace_annotators(seed: int, n: int, corpus_key: int = 0) -> list[TraceAnnotator]:
    """The ``n`` annotators of a continuous corpus (shared by all its recordings, as in RECOLA)."""
    out = []
    for k in range(n):
        rng = rng_for(seed, NS_ANNOTATOR, corpus_key, k)
        out.append(TraceAnnotator(
            name=f"rater_{k + 1}",
            delay_s=float(rng.uniform(1.0, 4.0)),
            bias=float(rng.normal(0.0, 0.08)),
            scale=float(rng.uniform(0.75, 1.2)),
            smooth_s=float(rng.uniform(0.2, 1.5)),
            noise=float(rng.uniform(0.02, 0.05)),
            ambiguity_gain=float(rng.uniform(0.5, 0.8)),
        ))
    return out


def rate_trace(rng: np.random.Generator, annotators: list[TraceAnnotator], truth: np.ndarray,
               ambiguity: np.ndarray, n_frames: int, hop_s: float, dim_gain: float = 1.0,
               ) -> np.ndarray:
    """Ratings ``[n_frames, len(annotators)]`` in [-1, 1] of a latent trajectory.

    ``truth`` and ``ambiguity`` run over ``pre + n_frames`` frames, where the
    first ``pre`` frames precede the recording (so that delayed raters see a
    percept at the start). Annotator ``k``'s percept is
    ``truth + dim_gain * g_k * ambiguity * z_k`` with ``z_k`` a smooth
    (3 s) annotator-specific process: disagreement grows with ambiguity. The
    rating is ``clip(bias_k + scale_k * EMA_k(percept)(t - delay_k) + noise, -1, 1)``.
    """
    total = truth.shape[0]
    pre = total - n_frames
    if pre < 0 or ambiguity.shape != truth.shape:
        raise ValueError(f"truth {truth.shape} / ambiguity {ambiguity.shape} must cover "
                         f"at least n_frames={n_frames} frames")
    out = np.empty((n_frames, len(annotators)), np.float32)
    for k, ann in enumerate(annotators):
        z = smooth_noise(rng, total, 3.0 / hop_s)
        percept = truth + dim_gain * ann.ambiguity_gain * ambiguity * z
        alpha = 1.0 - np.exp(-hop_s / ann.smooth_s)
        smoothed = ema(percept, alpha)
        lag = int(round(ann.delay_s / hop_s))
        if lag > pre:
            raise ValueError(f"annotator delay {ann.delay_s} s needs {lag} pre-roll frames, got {pre}")
        delayed = smoothed[pre - lag: pre - lag + n_frames]
        noise = ann.noise * smooth_noise(rng, n_frames, 0.2 / hop_s)
        out[:, k] = np.clip(ann.bias + ann.scale * delayed + noise, -1.0, 1.0)
    return out


# ------------------------------------------------------------ utterance raters


def likert(value: np.ndarray, points: int) -> np.ndarray:
    """Maps a continuous attribute in [-1, 1] to the integer Likert scale 1..points."""
    centre = (points + 1) / 2.0
    half = (points - 1) / 2.0
    return np.clip(np.rint(centre + half * value), 1, points)


def rate_utterance(rng: np.random.Generator, truth: np.ndarray, ambiguity: float,
                   mixture: np.ndarray, prior: np.ndarray, neutral: int, n_raters: int,
                   width: int, points: int, rater_bias: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Likert ratings and primary votes of ``n_raters`` crowd raters for one utterance.

    ``truth``: the true attributes ``[dims]`` in [-1, 1]. ``mixture``: the
    true class mixture over classes (sums to 1; one-hot unless the utterance
    is mixed). Each rater perceives ``truth + bias + N(0, 0.12 + 0.4 ambiguity)``
    per dimension and votes from ``(1 - eps) mixture + eps (0.4 onehot(neutral)
    + 0.6 prior)`` with ``eps = min(0.2 + ambiguity, 0.9)`` (ambiguous utterances
    split the votes and drift to neutral, as in MSP-Podcast).
    Returns ``(ratings [dims, width] float32 NaN-padded, votes [classes] int32)``.
    """
    dims = truth.shape[0]
    if not 1 <= n_raters <= width:
        raise ValueError(f"n_raters={n_raters} must be in [1, width={width}]")
    sd = 0.12 + 0.4 * ambiguity
    percept = truth[:, None] + rater_bias.T[:, :n_raters] + rng.normal(0.0, sd, (dims, n_raters))
    ratings = np.full((dims, width), np.nan, np.float32)
    ratings[:, :n_raters] = likert(percept, points)
    eps = min(0.2 + 1.0 * ambiguity, 0.9)
    base = np.zeros_like(mixture)
    base[neutral] = 0.4
    p = (1.0 - eps) * mixture + eps * (base + 0.6 * prior)
    p = p / p.sum()
    votes = np.bincount(rng.choice(p.size, size=n_raters, p=p), minlength=p.size).astype(np.int32)
    return ratings, votes
