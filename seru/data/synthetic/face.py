"""Synthetic facial-landmark video: 49 tracked 2-D points whose deformations carry the emotion.

The 49-point inner-face layout of facial landmark trackers (the iBUG 68-point
mark-up without the 17 jaw-line points and the 2 inner-mouth corners, as used
for SEWA / AVEC and in han17, Sec. 4.1), in this order::

    0-4    right eyebrow (image left), outer -> inner        (iBUG 17-21)
    5-9    left eyebrow, inner -> outer                      (iBUG 22-26)
    10-13  nose bridge, top -> tip; 14-18 nose base, right -> left (iBUG 27-35)
    19-24  right eye: outer corner, 2 upper, inner corner, 2 lower (iBUG 36-41)
    25-30  left eye: inner corner, 2 upper, outer corner, 2 lower  (iBUG 42-47)
    31-42  outer mouth: right corner, upper lip, left corner (37), lower lip (iBUG 48-59)
    43-48  inner mouth: 3 upper, 3 lower (iBUG 61-63, 65-67)

Coordinates are image pixels (x right, y down) of a 640 x 480 frame, one frame
per ``hop_s`` (40 ms = 25 fps in ``seru_synth_continuous``, aligned with the
rating frames: video frame ``t`` covers ``[t * 40 ms, (t + 1) * 40 ms)``).

Generation (numpy, vectorised; about 0.1 s per 300 s recording): a speaker's
neutral face (:class:`FaceGeometry`: face proportions, eye / mouth / brow
shape, camera distance and position) is deformed per frame by a few
displacement fields (in units of the inter-ocular distance) driven by the
same latents as the audio, following the facial-action literature (Ekman &
Friesen's FACS; Ambadar et al. 2009):

* valence -> smile (AU12: mouth corners up and out, lower lids raised) for
  positive values, corners down (AU15) and a frown (AU4: inner brows lowered
  and drawn together) for negative values;
* arousal -> brow raise and wider eyes (AU1+2, AU5), a more open mouth
  (resting and while speaking), faster blinking and more head-motion energy
  (translation, roll and scale jitter of the whole face);
* ambiguity ``u`` in [0, 1] -> suppressed cues (the expression gain shrinks
  to ``1 - 0.5 u``) and conflicting ones: a one-sided smile and a brow
  movement, both pushed by ``u * conflict`` (the process that pushes the
  voice's F0 and loudness apart), independent of the felt emotion;
* besides the emotion: the speaker's resting expression, non-emotional facial
  movement (smooth, 1-1.5 s) and blinks;
* speech activity (optional, the voiced share of each frame of the audio)
  -> lip movement (mouth opening follows the syllables).

Tracking is imperfect: per-landmark white (0.6 px) and slowly drifting
(0.8 px, 1 s) jitter, and lost-face stretches (Poisson onsets, about one per
40 s, of 0.2-6 s, median 1 s, plus 0.5 % isolated lost frames) where every
coordinate is NaN and the mask is ``False``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter1d

from seru.data.features.landmarks import EYE_L, EYE_R
from seru.data.synthetic.processes import smooth_noise

N_LANDMARKS = 49
#: Name of the point layout (stored in the corpus metadata).
LAYOUT = "49-point inner face (iBUG 68 without jaw line and inner-mouth corners)"
FRAME_SIZE = (640, 480)   # width, height in pixels

BROW_R, BROW_L = np.arange(0, 5), np.arange(5, 10)
NOSE = np.arange(10, 19)
MOUTH_OUTER, MOUTH_INNER = np.arange(31, 43), np.arange(43, 49)
#: The outer mouth corners (right, left): the landmarks a smile moves most.
MOUTH_CORNERS = (31, 37)

# Neutral face template, face units (inter-ocular distance 1, eyes at y = -0.3).
_BROW_R = [(-0.95, -0.50), (-0.75, -0.60), (-0.52, -0.64), (-0.30, -0.62), (-0.12, -0.56)]
_NOSE = [(0.0, -0.32), (0.0, -0.17), (0.0, -0.02), (0.0, 0.13),
         (-0.20, 0.27), (-0.10, 0.30), (0.0, 0.32), (0.10, 0.30), (0.20, 0.27)]
_EYE_R = [(-0.72, -0.30), (-0.58, -0.37), (-0.42, -0.37), (-0.28, -0.30),
          (-0.42, -0.24), (-0.58, -0.24)]
_MOUTH_OUT = [(-0.40, 0.62), (-0.26, 0.55), (-0.10, 0.51), (0.0, 0.53), (0.10, 0.51),
              (0.26, 0.55), (0.40, 0.62), (0.26, 0.71), (0.12, 0.76), (0.0, 0.77),
              (-0.12, 0.76), (-0.26, 0.71)]
_MOUTH_IN = [(-0.14, 0.61), (0.0, 0.62), (0.14, 0.61), (0.14, 0.63), (0.0, 0.635),
             (-0.14, 0.63)]


def _mirror(points):
    return [(-x, y) for x, y in points]


def _eye_l():
    # inner corner, upper inner, upper outer, outer corner, lower outer, lower inner
    r = _EYE_R
    return _mirror([r[3], r[2], r[1], r[0], r[5], r[4]])


TEMPLATE = np.array(_BROW_R + _mirror(_BROW_R[::-1]) + _NOSE + _EYE_R + _eye_l()
                    + _MOUTH_OUT + _MOUTH_IN, np.float64)
assert TEMPLATE.shape == (N_LANDMARKS, 2)


def _field(entries: dict) -> np.ndarray:
    f = np.zeros((N_LANDMARKS, 2))
    for idx, (dx, dy) in entries.items():
        f[idx] = (dx, dy)
    return f


# Displacement fields, face units per unit of their driver.
#: Smile (AU12 + AU6); its negative pulls the corners down (AU15).
SMILE = _field({31: (-0.06, -0.07), 37: (0.06, -0.07), 32: (-0.03, -0.035), 42: (-0.03, -0.035),
                36: (0.03, -0.035), 38: (0.03, -0.035), 43: (-0.03, -0.035), 48: (-0.03, -0.035),
                45: (0.03, -0.035), 46: (0.03, -0.035), 33: (0.0, -0.01), 35: (0.0, -0.01),
                23: (0.0, -0.015), 24: (0.0, -0.015), 29: (0.0, -0.015), 30: (0.0, -0.015),
                14: (-0.01, 0.0), 18: (0.01, 0.0)})
#: Frown (AU4: inner brows down and together), lips pressed.
FROWN = _field({3: (0.03, 0.04), 4: (0.04, 0.06), 5: (-0.04, 0.06), 6: (-0.03, 0.04),
                2: (0.01, 0.02), 7: (-0.01, 0.02), 39: (0.0, -0.02), 40: (0.0, -0.02),
                41: (0.0, -0.02)})
#: Brow raise and upper lids up (AU1 + AU2 + AU5).
BROW_RAISE = _field({**{i: (0.0, -0.09) for i in range(10)},
                     20: (0.0, -0.025), 21: (0.0, -0.025), 26: (0.0, -0.025), 27: (0.0, -0.025)})
#: Mouth opening (AU25 + AU26): lower lip and jaw down, corners slightly in.
MOUTH_OPEN = _field({39: (0.0, 0.18), 38: (0.0, 0.11), 40: (0.0, 0.16), 41: (0.0, 0.16),
                     42: (0.0, 0.11), 46: (0.0, 0.17), 45: (0.0, 0.15), 47: (0.0, 0.15),
                     31: (0.02, 0.06), 37: (-0.02, 0.06), 32: (0.0, -0.02), 33: (0.0, -0.02),
                     34: (0.0, -0.02), 35: (0.0, -0.02), 36: (0.0, -0.02)})
#: One-sided (right) smile: the conflicting, masking expression of ambiguous moments.
SMIRK = _field({31: (-0.06, -0.07), 32: (-0.03, -0.035), 42: (-0.03, -0.035),
                43: (-0.03, -0.035), 48: (-0.03, -0.035)})
#: Blink (upper lids onto the lower ones).
BLINK = _field({20: (0.0, 0.11), 21: (0.0, 0.11), 26: (0.0, 0.11), 27: (0.0, 0.11)})


@dataclass(frozen=True)
class FaceGeometry:
    """A speaker's face and camera set-up.

    ``neutral``: [49, 2] neutral landmarks in face units (inter-ocular
    distance about 1); ``iod_px``: pixels per face unit (camera distance);
    ``centre_px``: (x, y) rest position of the face centre in the frame;
    ``expressivity``: gain of the facial expression (0.7-1.3);
    ``head_motion``: gain of the head-motion energy (0.8-1.25);
    ``blink_rate_hz``: blinks per second at neutral arousal;
    ``rest_smile``, ``rest_brow``: the speaker's resting expression (a smile /
    brow raise at neutral valence / arousal, in units of the expression fields).
    """

    neutral: np.ndarray
    iod_px: float
    centre_px: tuple
    expressivity: float
    head_motion: float
    blink_rate_hz: float
    rest_smile: float
    rest_brow: float


def sample_geometry(rng: np.random.Generator) -> FaceGeometry:
    """Draws a speaker's neutral face (proportions, feature shapes) and camera set-up."""
    face = TEMPLATE.copy()
    face[:, 0] *= rng.normal(1.0, 0.03)                         # face width
    face[:, 1] *= rng.normal(1.0, 0.03)                         # face height
    brows = np.r_[BROW_R, BROW_L]
    face[brows, 1] += rng.normal(0.0, 0.02)                     # brow height
    for eye in (EYE_R, EYE_L):                                  # eye size
        c = face[eye].mean(0)
        face[eye] = c + (face[eye] - c) * rng.normal(1.0, 0.06)
    mouth = np.r_[MOUTH_OUTER, MOUTH_INNER]
    c = face[mouth].mean(0)
    face[mouth, 0] = c[0] + (face[mouth, 0] - c[0]) * rng.normal(1.0, 0.05)  # mouth width
    face[mouth, 1] += rng.normal(0.0, 0.015)                     # mouth height
    top = face[NOSE[0], 1]
    face[NOSE, 1] = top + (face[NOSE, 1] - top) * rng.normal(1.0, 0.06)      # nose length
    face += rng.normal(0.0, 0.006, face.shape)                   # idiosyncratic detail
    return FaceGeometry(
        neutral=face,
        iod_px=float(rng.uniform(60.0, 100.0)),
        centre_px=(float(320.0 + rng.normal(0.0, 30.0)), float(220.0 + rng.normal(0.0, 20.0))),
        expressivity=float(rng.uniform(0.7, 1.3)),
        head_motion=float(rng.uniform(0.8, 1.25)),
        blink_rate_hz=float(rng.uniform(0.2, 0.4)),
        rest_smile=float(rng.normal(0.0, 0.2)),
        rest_brow=float(rng.normal(0.0, 0.15)),
    )


def _events(rng: np.random.Generator, n: int, rate_per_frame: np.ndarray | float,
            min_len: int, max_len: int, median_len: float) -> np.ndarray:
    """Boolean [n]: Poisson-onset stretches of lognormal length (frames) in [min_len, max_len]."""
    onsets = rng.random(n) < rate_per_frame
    lengths = np.clip(np.rint(rng.lognormal(np.log(median_len), 0.6, n)), min_len, max_len)
    start = np.flatnonzero(onsets)
    diff = np.zeros(n + max_len + 1, np.int64)   # +1 at each start, -1 at each end
    np.add.at(diff, start, 1)
    np.add.at(diff, start + lengths[start].astype(np.int64), -1)
    return np.cumsum(diff)[:n] > 0


def render(rng: np.random.Generator, geom: FaceGeometry, latents: dict, hop_s: float = 0.04,
           speech: np.ndarray | None = None, lost_rate_hz: float = 1.0 / 40.0,
           ) -> tuple[np.ndarray, np.ndarray]:
    """Landmark tracks of one recording.

    ``latents``: per-frame arrays of equal length ``n``: ``arousal``,
    ``valence`` (in [-1, 1]), ``ambiguity`` (in [0, 1]), ``conflict`` (about
    N(0, 1)). ``speech``: optional [n] speech activity in [0, 1] per frame
    (e.g. the voiced share of the frame in the audio); without it the mouth
    moves with a talking process of its own drawn from ``rng``.
    ``lost_rate_hz``: onsets of lost-face stretches per second.
    Returns ``(landmarks float32 [n, 49, 2] in pixels, NaN where the face is
    lost; mask bool [n], True where tracked)``. Raises ``ValueError`` when the
    latents (or ``speech``) differ in length.
    """
    a = np.asarray(latents["arousal"], np.float64)
    n = a.shape[0]
    v, u, c = (np.asarray(latents[k], np.float64) for k in ("valence", "ambiguity", "conflict"))
    for name, x in (("valence", v), ("ambiguity", u), ("conflict", c)):
        if x.shape != (n,):
            raise ValueError(f"latent {name!r} has shape {x.shape}, expected ({n},)")
    fps = 1.0 / hop_s
    ls = lambda s: s * fps  # noqa: E731  seconds -> frames

    # --- speech articulation: lips follow the syllables
    if speech is None:
        talking = smooth_noise(rng, n, ls(3.0)) > -0.2
        syll = 0.5 + 0.5 * np.sin(2 * np.pi * np.cumsum(rng.uniform(3.0, 5.5, n)) * hop_s)
        speech = talking * syll
    speech = np.asarray(speech, np.float64)
    if speech.shape != (n,):
        raise ValueError(f"speech has shape {speech.shape}, expected ({n},)")
    speech = gaussian_filter1d(speech, 1.0)  # lips move smoothly (~40 ms)

    # --- expression drivers (face units are applied through the fields)
    gain = geom.expressivity * (1.0 - 0.5 * u)            # ambiguity suppresses the cues
    wobble = lambda s: 0.25 * smooth_noise(rng, n, ls(s))  # noqa: E731  non-emotional movement
    smile = geom.rest_smile + gain * v + wobble(1.0)
    frown = gain * np.maximum(-v, 0.0) + 0.5 * np.maximum(wobble(1.5), 0.0)
    brow = geom.rest_brow + gain * a - 0.6 * u * c + wobble(1.0)  # conflict: brows down
    smirk = 0.8 * u * c                                    # one-sided smile, pushed by conflict
    opening = np.clip(speech * (0.55 + 0.35 * a) + 0.12 * np.maximum(a, 0.0)
                      + 0.05 * smooth_noise(rng, n, ls(0.2)), 0.0, None)
    blink_rate = geom.blink_rate_hz * 2.0 ** (0.8 * a) * hop_s
    blinks = _events(rng, n, blink_rate, 2, 5, 3.0).astype(np.float64)

    shape = (geom.neutral[None]
             + smile[:, None, None] * SMILE + frown[:, None, None] * FROWN
             + brow[:, None, None] * BROW_RAISE + opening[:, None, None] * MOUTH_OPEN
             + smirk[:, None, None] * SMIRK + blinks[:, None, None] * BLINK)

    # --- head pose: similarity transform per frame, its energy rising with arousal
    energy = geom.head_motion * 2.0 ** (1.2 * a)
    roll = np.deg2rad(2.0 * smooth_noise(rng, n, ls(6.0))
                      + 2.5 * energy * smooth_noise(rng, n, ls(0.6)))
    scale = geom.iod_px * (1.0 + 0.04 * smooth_noise(rng, n, ls(8.0))
                           + 0.012 * energy * smooth_noise(rng, n, ls(0.6)))
    shift = (10.0 * smooth_noise(rng, n, ls(6.0), size=2)
             + 3.0 * energy * smooth_noise(rng, n, ls(0.5), size=2)).T  # [n, 2] px
    cos, sin = np.cos(roll), np.sin(roll)
    x, y = shape[..., 0], shape[..., 1]
    px = np.stack([cos[:, None] * x - sin[:, None] * y, sin[:, None] * x + cos[:, None] * y], -1)
    px = px * scale[:, None, None] + (np.asarray(geom.centre_px) + shift)[:, None, :]

    # --- tracker: jitter and lost stretches
    px += 0.6 * rng.standard_normal(px.shape)
    px += 0.8 * np.moveaxis(smooth_noise(rng, n, ls(1.0), size=(N_LANDMARKS, 2)), -1, 0)
    lost = _events(rng, n, lost_rate_hz * hop_s, int(round(ls(0.2))), int(round(ls(6.0))),
                   ls(1.0))
    lost |= rng.random(n) < 0.005
    landmarks = px.astype(np.float32)
    landmarks[lost] = np.nan
    return landmarks, ~lost
