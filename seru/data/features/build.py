"""Opening a corpus and building the ``'functionals'`` dataset of a config."""

from __future__ import annotations

import os
from typing import NamedTuple

from seru.data.errors import UnknownSplit
from seru.data.features.config import feature_config
from seru.data.features.dataset import FunctionalsDataset, Scaler
from seru.data.features.extraction import cached_features, skip_counts
from seru.data.features.targets import assemble_split


class OpenCorpus(NamedTuple):
    """A corpus opened by :func:`open_corpus`."""

    sources: dict           # split -> TFDS data source
    rating_range: tuple     # (low, high) of the rating scale
    dims: list              # every dimension the corpus has
    cache_dir: str          # where the feature caches live


def open_corpus(d, cfg: dict) -> OpenCorpus:
    """The corpus of ``config.data`` ``d``, opened: :class:`OpenCorpus`.

    Builds the corpus if asked (``d.build``) and checks that it declares a
    ``rating_range`` and has every dimension of ``d.dimensions``; ``cfg`` is
    :func:`feature_config`'s output (for the cache directory: ``cache_dir``,
    or ``<data_dir>/seru_features`` when it is ``''``).

    Raises:
      ValueError: the corpus declares no ``rating_range`` or lacks a
        dimension of ``d.dimensions``; whatever :func:`seru.data.corpora.load`
        raises for an unknown or unbuilt corpus.
    """
    from seru.data import corpora

    builder, sources = corpora.load(d.corpus, d.variant or None, d.data_dir or None,
                                    d.manual_dir or None, build=d.build)
    meta = builder.info.metadata or {}
    rating_range = meta.get("rating_range")
    if rating_range is None:
        raise ValueError(f"corpus {d.corpus!r}: info.metadata has no 'rating_range'")
    all_dims = list(meta.get("dimensions") or d.dimensions)
    missing = [x for x in d.dimensions if x not in all_dims]
    if missing:
        raise ValueError(f"corpus {d.corpus!r} ({d.variant}) has no dimensions {missing}; "
                         f"it has {all_dims}")
    cache_dir = cfg["cache_dir"] or os.path.join(d.data_dir or corpora.default_data_dir(),
                                                 "seru_features")
    return OpenCorpus(sources, rating_range, all_dims, cache_dir)


def split_arrays(d, cfg: dict, opened: OpenCorpus, split: str, labeled: bool = True):
    """``(arrays, skipped)`` of one split: cached features + targets (:func:`assemble_split`).

    ``skipped`` counts the extractor's skips and the unrated items dropped
    (``{reason: int}`` over :data:`~seru.data.features.config.SKIP_REASONS`);
    ``arrays`` as :func:`assemble_split` returns them (raw features).

    Raises:
      seru.data.errors.UnknownSplit: the corpus has no split ``split`` (a ValueError).
    """
    if split not in opened.sources:
        raise UnknownSplit(f"corpus {d.corpus!r} ({d.variant}) has no split {split!r}; "
                         f"splits: {sorted(opened.sources)}")
    raw, _ = cached_features(opened.sources[split], cfg, opened.dims,
                             cache_dir=opened.cache_dir, corpus=d.corpus, variant=d.variant,
                             split=split)
    arrays, dropped = assemble_split(raw, d.dimensions, opened.rating_range, cfg["num_bins"],
                                     labeled=labeled)
    return arrays, dict(skip_counts(raw), unrated=dropped)


def build_dataset(config, process_index: int = 0, process_count: int = 1) -> FunctionalsDataset:
    """The ``'functionals'`` dataset of ``config`` (``config.data.input == 'functionals'``).

    Splits: ``train_split``, ``dev_split``, ``test_split`` (labeled) and, when
    ``config.model.stage == 'pretrain'`` (sridhar21 stage 1), the pre-training
    pool ``config.data.features.pretrain_split`` (unlabeled) as the training
    split. Feature statistics always come from ``train_split``;
    ``config.data.max_recordings`` > 0 keeps the first rows of each split.

    Raises:
      ValueError: a bad feature config (:func:`feature_config`), corpus
        (:func:`open_corpus`), split (:func:`split_arrays`) or batch size /
        empty training split (:class:`FunctionalsDataset`).
    """
    d = config.data
    cfg = feature_config(config)
    opened = open_corpus(d, cfg)
    stage = getattr(getattr(config, "model", None), "stage", "joint") or "joint"
    labeled = [s for s in (d.train_split, d.dev_split, d.test_split) if s]
    wanted = list(dict.fromkeys(labeled + ([cfg["pretrain_split"]] if stage == "pretrain"
                                           else [])))
    splits, skipped = {}, {}
    for split in wanted:
        splits[split], skipped[split] = split_arrays(d, cfg, opened, split,
                                                     labeled=split in labeled)
        if getattr(d, "max_recordings", 0):
            splits[split] = {k: v[:d.max_recordings] for k, v in splits[split].items()}
    scaler = Scaler(splits[d.train_split]["features"])
    train_split = cfg["pretrain_split"] if stage == "pretrain" else d.train_split
    return FunctionalsDataset(
        splits, scaler, batch_size=d.batch_size, eval_batch_size=config.eval.batch_size,
        train_split=train_split, dimensions=d.dimensions, rating_range=opened.rating_range,
        skipped=skipped, process_index=process_index, process_count=process_count)
