"""TFDS builder of ``seru_synth_continuous``: a synthetic RECOLA / AVEC 2016-like corpus.

Speaker-disjoint train / dev / test recordings (one speaker each, as in AVEC
2016), 16 kHz mono speech-like audio, arousal and valence in [-1, 1] rated by
6 annotators every 40 ms (``n_frames = round(duration / 40 ms) + 1``; frame
``t`` covers samples ``[t * 640, (t + 1) * 640)``). The generating latents
(true arousal / valence, ambiguity, annotator delays) are stored under
``hidden`` for analysis only. From 1.3.0 every record also has a video
stream: 49 facial landmarks (pixels, 640 x 480 frame) per 40 ms frame (25 fps,
aligned with the rating frames), ``video_landmarks`` float32 [frames, 49, 2]
(NaN where the face is lost) and ``video_mask`` bool [frames]
(:mod:`seru.data.synthetic.face`); the audio and ratings are bit-identical to
1.2.0's. Every record is a pure function of
``(seed, split, index)``: the same seed gives bit-identical records.

Variants: ``tiny`` (2 x 12 s per split, for unit tests), ``quickstart``
(8 / 3 / 3 x 150 s), ``full`` (9 / 9 / 9 x 300 s, 27 speakers, like AVEC 2016).
Set ``SERU_SYNTH_WORKERS=N`` to generate records in N processes.
"""

from __future__ import annotations

import dataclasses

import tensorflow_datasets as tfds

from seru.data import schema
from seru.data.synthetic.processes import generate_records
from seru.data.synthetic import continuous, face
from seru.data.synthetic.annotators import trace_annotators

SPLITS = ("train", "dev", "test")


@dataclasses.dataclass(eq=False)
class ContinuousConfig(tfds.core.BuilderConfig):
    recordings: tuple = (9, 9, 9)   # per split: train, dev, test
    duration_s: float = 300.0
    n_annotators: int = 6
    seed: int = 0


def _make(args):
    seed, split, index, spk_index, duration_s, n_annotators = args
    spk = continuous.speaker(seed, spk_index)
    anns = trace_annotators(seed, n_annotators)
    return continuous.generate_recording(seed, split, index, spk, duration_s, anns)


def generate_split(config: ContinuousConfig, split: str):
    """Yields ``(key, record)`` of one split; speakers are numbered across splits (disjoint)."""
    counts = dict(zip(SPLITS, config.recordings))
    first = sum(counts[s] for s in SPLITS[: SPLITS.index(split)])
    jobs = [(config.seed, split, i, first + i, config.duration_s, config.n_annotators)
            for i in range(counts[split])]
    yield from generate_records(_make, jobs)


class SeruSynthContinuous(tfds.core.GeneratorBasedBuilder):
    """Synthetic RECOLA-like corpus: continuous arousal / valence from 6 annotators."""

    VERSION = tfds.core.Version("1.3.0")
    RELEASE_NOTES = {"1.0.0": "Initial release.",
                     "1.1.0": "audio stored as raw float32 bytes (faster builds).",
                     "1.2.0": "quickstart variant 8 / 3 / 3 recordings of 150 s (was 6 / 3 / 3 "
                              "of 60 s: too little audio to learn the raters' spread).",
                     "1.3.0": "video stream: 49 facial landmarks per 40 ms frame "
                              "(video_landmarks [frames, 49, 2] px, NaN where lost; video_mask "
                              "[frames] bool) carrying the same latents; audio and ratings "
                              "unchanged."}
    BUILDER_CONFIGS = [
        ContinuousConfig(name="tiny", description="2 x 12 s recordings per split (unit tests)",
                         recordings=(2, 2, 2), duration_s=12.0),
        ContinuousConfig(name="quickstart", description="8 / 3 / 3 recordings of 150 s",
                         recordings=(8, 3, 3), duration_s=150.0),
        ContinuousConfig(name="full", description="9 / 9 / 9 recordings of 300 s (AVEC 2016 size)",
                         recordings=(9, 9, 9), duration_s=300.0),
    ]
    DEFAULT_CONFIG_NAME = "quickstart"

    def _info(self) -> tfds.core.DatasetInfo:
        cfg = self.builder_config
        anns = trace_annotators(cfg.seed, cfg.n_annotators)
        return self.dataset_info_from_configs(
            description=__doc__,
            features=schema.continuous_features(continuous.DIMENSIONS, hidden=continuous.HIDDEN,
                                                video_landmarks=face.N_LANDMARKS),
            metadata=schema.make_metadata(
                kind="continuous",
                dimensions=continuous.DIMENSIONS,
                rating_range=(-1.0, 1.0),
                annotators=[a.name for a in anns],
                frame_hop_s=continuous.HOP_S,
                video_frame_hop_s=continuous.HOP_S,
                video_frame_size=list(face.FRAME_SIZE),
                video_landmark_layout=face.LAYOUT,
                synthetic=True,
                seed=cfg.seed,
            ),
            homepage="https://github.com/seru",
        )

    def _split_generators(self, dl_manager):
        del dl_manager
        return {split: self._generate_examples(split) for split in SPLITS}

    def _generate_examples(self, split):
        yield from generate_split(self.builder_config, split)
