"""Video features from facial landmarks: pose-normalised, per 100 ms frame (han17 Sec. 4.1).

han17 uses 49 facial landmarks per video frame, "normalised and down-sampled" to the
100 ms frames of the annotations. Here a video frame's landmarks ``[49, 2]`` are
centred on their mean, rotated so that the eye line (right eye centre -> left eye
centre) is horizontal, and divided by the inter-ocular distance (face units: head
position, in-plane rotation and distance to the camera removed); the 98 coordinates of
the video frames inside each output frame are then averaged (box average, lost frames
left out: ``seru.data.resample.resample_ratings``). Written here because no kept
library normalises a 49-point layout and averages it onto an annotation grid.

The 49-point layout is the iBUG 68-point layout without the jaw line and the two
inner-mouth corners: eyebrows 0-9, nose 10-18, right eye 19-24, left eye 25-30,
outer mouth 31-42, inner mouth 43-48.
"""

from __future__ import annotations

import numpy as np

from seru.data.resample import resample_ratings

N_LANDMARKS = 49
EYE_R, EYE_L = np.arange(19, 25), np.arange(25, 31)


def normalise(landmarks: np.ndarray) -> np.ndarray:
    """Pose-normalised landmarks ``[..., 49, 2]`` (face units), float64.

    Subtracts the mean of the 49 points, rotates the eye line (right eye centre
    -> left eye centre) onto the x axis and divides by the inter-ocular
    distance. NaN frames stay NaN. Raises ``ValueError`` for a last two axes other
    than ``[49, 2]``.
    """
    lm = np.asarray(landmarks, np.float64)
    if lm.shape[-2:] != (N_LANDMARKS, 2):
        raise ValueError(f"landmarks must be [..., {N_LANDMARKS}, 2], got shape {lm.shape}")
    centred = lm - lm.mean(-2, keepdims=True)
    eye_line = lm[..., EYE_L, :].mean(-2) - lm[..., EYE_R, :].mean(-2)
    iod = np.hypot(eye_line[..., 0], eye_line[..., 1])
    cos = (eye_line[..., 0] / iod)[..., None]
    sin = (eye_line[..., 1] / iod)[..., None]
    x, y = centred[..., 0], centred[..., 1]
    rot = np.stack([cos * x + sin * y, -sin * x + cos * y], -1)
    return rot / iod[..., None, None]


def landmark_frames(landmarks: np.ndarray, mask: np.ndarray | None, video_hop_s: float,
                    hop_s: float = 0.1, num_frames: int | None = None) -> np.ndarray:
    """Per output frame of ``hop_s`` seconds, the mean pose-normalised landmark coordinates.

    Args:
      landmarks: ``[T_video, 49, 2]`` pixel (or any) coordinates; NaN = face lost.
      mask: ``[T_video]`` (True = tracked) or ``None`` (every non-NaN frame is tracked).
      video_hop_s: seconds between video frames (25 fps: 0.04).
      hop_s: output frame hop in seconds (han17: 0.1).
      num_frames: output frames (e.g. the targets' count); default as
        ``seru.data.resample.num_target_frames``.

    Returns:
      float32 ``[T, 98]``: the 49 normalised (x, y) pairs, x first per point; a row is NaN
      where no tracked video frame overlaps the output frame.

    Raises:
      ValueError: shapes that are not ``[T, 49, 2]`` / ``[T]``, or a hop that is not > 0.
    """
    lm = np.asarray(landmarks, np.float64)
    if lm.ndim != 3:
        raise ValueError(f"landmarks must be [frames, {N_LANDMARKS}, 2], got shape {lm.shape}")
    coords = normalise(lm).reshape(len(lm), 2 * N_LANDMARKS)
    if mask is not None:
        mask = np.asarray(mask, bool)
        if mask.shape != (len(lm),):
            raise ValueError(f"mask must be [{len(lm)}], got shape {mask.shape}")
        coords[~mask] = np.nan
    coords[~np.isfinite(coords).all(-1)] = np.nan  # a partly lost frame counts as lost
    return resample_ratings(coords, video_hop_s, hop_s, num_frames).astype(np.float32)
