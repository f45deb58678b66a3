"""The time base of a dataset: how long a frame is and how many audio samples it covers.

Frame hop and samples per frame come from here -- from the corpus or the
feature extractor -- never from literals in the modules that use them
(prabhu22: 40 ms frames of 640 samples at 16 kHz; han17: 100 ms; encoder
embeddings: 20 ms). Utterance-level datasets have no time base (``None``).
"""

from __future__ import annotations

import dataclasses

from seru.data import schema

SAMPLE_RATE = 16_000


@dataclasses.dataclass(frozen=True)
class TimeBase:
    """Frame hop ``hop_s`` (seconds, > 0) and the audio ``sample_rate`` (Hz) it is counted in.

    Raises ``ValueError`` if the hop is not a whole number of samples.
    """

    hop_s: float
    sample_rate: int = SAMPLE_RATE

    def __post_init__(self):
        n = self.hop_s * self.sample_rate
        if self.hop_s <= 0 or abs(n - round(n)) > 1e-6:
            raise ValueError(f"frame hop {self.hop_s} s is not a positive whole number of "
                             f"samples at {self.sample_rate} Hz")

    @property
    def samples_per_frame(self) -> int:
        """Audio samples per frame (40 ms at 16 kHz: 640)."""
        return int(round(self.hop_s * self.sample_rate))

    def frames(self, num_samples: int) -> int:
        """Frames of ``num_samples`` samples, rounded to the nearest (at least 1)."""
        return max(1, int(round(num_samples / self.samples_per_frame)))

    def times(self, num_frames: int):
        """Start time (s) of each frame, float64 ``[num_frames]``."""
        import numpy as np

        return np.arange(num_frames) * self.hop_s


#: The rating frames of the continuous corpora (schema.FRAME_HOP_S = 40 ms) at 16 kHz.
CONTINUOUS = TimeBase(schema.FRAME_HOP_S, SAMPLE_RATE)


def of_corpus(metadata) -> TimeBase:
    """The time base a continuous corpus declares (``info.metadata['frame_hop_s']``), or
    :data:`CONTINUOUS` (the schema's 40 ms) if it declares none."""
    hop = (metadata or {}).get("frame_hop_s")
    return CONTINUOUS if hop is None else TimeBase(float(hop), SAMPLE_RATE)
