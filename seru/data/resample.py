"""Rating traces from one frame hop to another (e.g. the corpora's 40 ms to han17's 100 ms).

han17 (Sec. 4.1): the raters' continuous annotations "were then resampled at a
constant frame rate of 100 ms, and the 'gold standard' ... was created with EWE
based on the resampled annotations"; the uncertainty (the raters' standard
deviation, Eq. (6)) is computed from the same resampled annotations. So the
resampling runs **per rater, before any aggregation** (:func:`resample_ratings`
on ``[frames, raters]``, then :func:`seru.data.labels.ewe` /
:func:`seru.data.labels.rater_std` on the result).

The rule: box (area) average
-----------------------------
Frame ``t`` of a trace with hop ``h`` covers the time span ``[t h, (t + 1) h)``
(as the audio frames do, :mod:`seru.data.timebase`); a rating is taken to hold
over its whole frame (a piecewise-constant trace). Target frame ``j`` (hop
``h_out``) gets the mean of the source frames ``i`` (hop ``h_in``) weighted by
the length of the overlap of their spans::

    out[j] = sum_i w_ij x[i] / sum_i w_ij,
    w_ij = |[i h_in, (i + 1) h_in) ∩ [j h_out, (j + 1) h_out)|,

the sums running over the source frames with a valid (non-NaN) rating, per
rater (per column) independently. This is the mean of the trace over the target
span, restricted to where it is known. Why the box average and not linear
interpolation at frame centres: downsampling (40 -> 100 ms) then averages all
the ratings of the span (a low-pass filter, no aliasing, no rating dropped),
a constant stays exactly constant, equal hops are exactly the identity, and a
missing rating is simply left out instead of spreading NaN to its neighbours.
Upsampling (100 -> 40 ms) repeats a rating over the frames inside it (and
averages the two sources at a frame that straddles a boundary).

* **Missing ratings**: a target frame none of whose overlapping source frames
  has a valid rating is ``NaN`` (that rater did not rate that span).
* **Frame count**: a trace of ``T_in`` frames lasts ``T_in h_in`` seconds; it
  gets ``max(1, round(T_in h_in / h_out))`` target frames (0 for ``T_in = 0``),
  rounding half to even as :meth:`seru.data.timebase.TimeBase.frames` counts
  audio frames (``round(samples / samples_per_frame)``). With that count every
  target frame overlaps the source by at least half a target hop (the last one
  may extend past the end of the source; it averages the part it overlaps).
  Pass ``num_frames`` to get another count (e.g. that of the features): frames
  past the end of the source are ``NaN``.
* **Exactness**: the hops are read as fractions (``Fraction.limit_denominator``,
  denominator <= 10**6, so 0.04 s is exactly 1/25 s) and the overlaps are
  computed on the common integer time grid, so the weights are exact.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

__all__ = ["num_target_frames", "resample_ratings"]

_MAX_DENOMINATOR = 10**6


def _hop(value, name: str) -> Fraction:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a frame hop in seconds (a number > 0), got {value!r}") from None
    if not math.isfinite(v) or v <= 0:
        raise ValueError(f"{name} must be a frame hop in seconds (a finite number > 0), got {value!r}")
    f = Fraction(v).limit_denominator(_MAX_DENOMINATOR)
    if f <= 0:
        raise ValueError(f"{name} = {value!r} s is below the time resolution of 1e-6 s")
    return f


def _grid(hop_in_s, hop_out_s) -> tuple[int, int]:
    """The two hops as integers on their common time grid (units of 1 / lcm of denominators)."""
    a, b = _hop(hop_in_s, "hop_in_s"), _hop(hop_out_s, "hop_out_s")
    lcm = a.denominator * b.denominator // math.gcd(a.denominator, b.denominator)
    return int(a * lcm), int(b * lcm)


def num_target_frames(num_frames_in: int, hop_in_s: float, hop_out_s: float) -> int:
    """Number of frames of hop ``hop_out_s`` (seconds) for a trace of ``num_frames_in`` frames of
    hop ``hop_in_s`` (seconds): ``max(1, round(num_frames_in * hop_in_s / hop_out_s))``, half to
    even, and 0 for an empty trace. E.g. 4500 frames of 40 ms (180 s) -> 1800 frames of 100 ms;
    3 frames of 40 ms (120 ms) -> 1 frame of 100 ms.

    Raises ``ValueError`` if ``num_frames_in`` is negative or a hop is not a finite number > 0.
    """
    n = int(num_frames_in)
    if n < 0:
        raise ValueError(f"num_frames_in must be >= 0, got {num_frames_in}")
    h_in, h_out = _hop(hop_in_s, "hop_in_s"), _hop(hop_out_s, "hop_out_s")
    if n == 0:
        return 0
    return max(1, round(n * h_in / h_out))  # exact rational, round half to even


def resample_ratings(ratings, hop_in_s: float, hop_out_s: float, num_frames: int | None = None):
    """Box-average resampling of rating traces from hop ``hop_in_s`` to ``hop_out_s`` (seconds).

    Args:
      ratings: ``[T_in]`` or ``[T_in, ...]`` (typically ``[T_in, raters]``), the frames on
        axis 0; ``NaN`` marks a missing rating. Every other axis (rater, dimension) is
        resampled independently.
      hop_in_s: frame hop of ``ratings`` in seconds (> 0), e.g. 0.04.
      hop_out_s: frame hop of the result in seconds (> 0), e.g. 0.1.
      num_frames: number of output frames; default :func:`num_target_frames`. Output
        frames with no overlap with the source span (past its end) are ``NaN``.

    Returns:
      float64 ``[T_out, ...]``: per column, the overlap-weighted mean of the valid source
      ratings in each target frame span (the rule of the module docstring); ``NaN`` where
      no valid source rating overlaps the frame. ``hop_in_s == hop_out_s`` returns the
      ratings unchanged (as float64).

    Raises:
      ValueError: ``ratings`` is a scalar (0-d); a hop is not a finite number > 0;
        ``num_frames`` is negative.
    """
    x = np.asarray(ratings, dtype=np.float64)
    if x.ndim == 0:
        raise ValueError("ratings must have a frame axis (shape [T_in, ...]), got a scalar")
    t_in = x.shape[0]
    h_in, h_out = _grid(hop_in_s, hop_out_s)
    if num_frames is None:
        t_out = num_target_frames(t_in, hop_in_s, hop_out_s)
    else:
        t_out = int(num_frames)
        if t_out < 0:
            raise ValueError(f"num_frames must be >= 0, got {num_frames}")
    rest = x.shape[1:]
    if t_out == 0 or t_in == 0:
        return np.full((t_out,) + rest, np.nan)
    # Source frames overlapping target span [j h_out, (j+1) h_out): at most K consecutive ones
    # from floor(j h_out / h_in) on.
    k = -(-h_out // h_in) + 1
    j = np.arange(t_out, dtype=np.int64)
    start = j * h_out
    idx = (start // h_in)[:, None] + np.arange(k, dtype=np.int64)[None, :]  # [T_out, K]
    lo = np.maximum(idx * h_in, start[:, None])
    hi = np.minimum((idx + 1) * h_in, start[:, None] + h_out)
    w = np.where(idx < t_in, np.maximum(hi - lo, 0), 0).astype(np.float64)  # exact integers
    g = x[np.minimum(idx, t_in - 1)]  # [T_out, K, ...]
    w = w.reshape(w.shape + (1,) * len(rest))
    valid = ~np.isnan(g) & (w > 0)
    den = np.sum(np.where(valid, w, 0.0), axis=1)
    num = np.sum(np.where(valid, w * np.where(valid, g, 0.0), 0.0), axis=1)
    ok = den > 0
    return np.where(ok, num / np.where(ok, den, 1.0), np.nan)
