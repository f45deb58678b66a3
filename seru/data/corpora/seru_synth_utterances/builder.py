"""TFDS builder of ``seru_synth_utterances``: a synthetic MSP-Podcast-like corpus.

3-11 s utterances at 16 kHz from speaker-disjoint ``train`` / ``dev`` /
``test`` splits plus an ``unlabeled`` pool (all ratings NaN, votes zero) for
semi-supervised pre-training (sridhar21). Each labeled utterance is rated by a
variable number of crowd raters (at least ``min_raters``; NaN padding up to
``max_raters``) on a Likert scale for arousal, valence and dominance, and each
rater casts one primary vote among :data:`seru.data.schema.MSP_CLASSES`
(skewed toward neutral; mixed / ambiguous utterances split the votes).
Hidden latents (true attributes, ambiguity, true / secondary class, mixing
weight) are stored under ``hidden`` for analysis only. Records are pure
functions of ``(seed, split, index)``.

Variants: ``tiny`` (20 per split, unit tests), ``quickstart`` (300 / 75 / 75
+ 150 unlabeled, 50 speakers), ``full`` (1,700 / 400 / 400 + 800 unlabeled,
140 speakers) and ``crosscorpus`` (an IEMOCAP stand-in for sridhar21's
cross-corpus test: 10 other speakers, acted expressions, 5-point scale, 3-6
raters, reverberant band-limited noisy recordings; train / dev / test only).
Set ``SERU_SYNTH_WORKERS=N`` to generate records in N processes.
"""

from __future__ import annotations

import dataclasses

import tensorflow_datasets as tfds

from seru.data import schema
from seru.data.synthetic.processes import generate_records
from seru.data.synthetic import utterances as U

SPLITS = ("train", "dev", "test", "unlabeled")


@dataclasses.dataclass(eq=False)
class UtteranceConfig(tfds.core.BuilderConfig):
    utterances: tuple = (1700, 400, 400, 800)   # train, dev, test, unlabeled
    speakers: tuple = (80, 20, 20, 20)
    spec: U.UtteranceSpec = dataclasses.field(default_factory=U.UtteranceSpec)


def _make(args):
    spec, split, index, spk_index = args
    spk = U.speaker(spec, spk_index)
    return U.generate_utterance(spec, split, index, spk, U.rater_pool(spec),
                                labeled=split != "unlabeled")


def generate_split(config: UtteranceConfig, split: str):
    """Yields ``(key, record)``; utterance ``i`` of a split is spoken by its speaker ``i % n``."""
    splits = [s for s, n in zip(SPLITS, config.utterances) if n > 0]
    counts = dict(zip(SPLITS, config.utterances))
    speakers = dict(zip(SPLITS, config.speakers))
    first = sum(speakers[s] for s in splits[: splits.index(split)])
    jobs = [(config.spec, split, i, first + i % speakers[split]) for i in range(counts[split])]
    yield from generate_records(_make, jobs, chunksize=8)


class SeruSynthUtterances(tfds.core.GeneratorBasedBuilder):
    """Synthetic MSP-Podcast-like corpus: crowd-rated A/V/D and categorical votes."""

    VERSION = tfds.core.Version("1.1.0")
    RELEASE_NOTES = {"1.0.0": "Initial release.",
                     "1.1.0": "audio stored as raw float32 bytes (faster builds)."}
    BUILDER_CONFIGS = [
        UtteranceConfig(name="tiny", description="20 utterances per split (unit tests)",
                        utterances=(20, 20, 20, 20), speakers=(4, 4, 4, 4)),
        UtteranceConfig(name="quickstart", description="300 / 75 / 75 + 150 unlabeled",
                        utterances=(300, 75, 75, 150), speakers=(24, 8, 8, 10)),
        UtteranceConfig(name="full", description="1,700 / 400 / 400 + 800 unlabeled, 140 speakers",
                        utterances=(1700, 400, 400, 800), speakers=(80, 20, 20, 20)),
        UtteranceConfig(
            name="crosscorpus",
            description="IEMOCAP stand-in: other speakers and rooms, acted, 5-point scale",
            utterances=(240, 80, 80, 0), speakers=(6, 2, 2, 0),
            spec=U.UtteranceSpec(corpus_key=1, points=5, min_raters=3, max_raters=6,
                                 extra_raters_mean=0.8, p_mixed=0.25, intensity=1.25,
                                 condition="crosscorpus"),
        ),
    ]
    DEFAULT_CONFIG_NAME = "quickstart"

    def _info(self) -> tfds.core.DatasetInfo:
        spec = self.builder_config.spec
        return self.dataset_info_from_configs(
            description=__doc__,
            features=schema.utterance_features(U.DIMENSIONS, len(schema.MSP_CLASSES),
                                               hidden=U.HIDDEN),
            metadata=schema.make_metadata(
                kind="utterance",
                dimensions=U.DIMENSIONS,
                rating_range=(1.0, float(spec.points)),
                class_names=schema.MSP_CLASSES,
                min_raters=spec.min_raters,
                max_raters=spec.max_raters,
                unlabeled_splits=["unlabeled"] if self.builder_config.utterances[3] else [],
                synthetic=True,
                seed=spec.seed,
            ),
            homepage="https://github.com/seru",
        )

    def _split_generators(self, dl_manager):
        del dl_manager
        cfg = self.builder_config
        return {s: self._generate_examples(s) for s, n in zip(SPLITS, cfg.utterances) if n > 0}

    def _generate_examples(self, split):
        yield from generate_split(self.builder_config, split)
