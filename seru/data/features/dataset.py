"""The in-memory dataset of utterance functionals and its feature scaling."""

from __future__ import annotations

from typing import Iterator, Mapping, Sequence

import numpy as np

from seru.data.errors import UnknownSplit


class Scaler:
    """Per-dimension statistics of the training split: z-score and min-max views.

    ``Scaler(x)`` with ``x`` [N, F] (N >= 1) keeps float64 [F] ``mean``,
    ``std`` (population; 1 where <= 1e-8, so a constant feature maps to 0),
    ``min`` and ``span`` (max - min; 1 where <= 1e-8). Raises ``ValueError``
    when ``x`` has no row. The min-max view is the target of the VAE's sigmoid
    output (sridhar21 Sec. IV-C).
    """

    def __init__(self, x: np.ndarray):
        x = np.asarray(x, np.float64)
        if x.shape[0] == 0:
            raise ValueError("no training utterance left to compute feature statistics")
        self.mean = x.mean(0)
        std = x.std(0)
        self.std = np.where(std > 1e-8, std, 1.0)
        self.min = x.min(0)
        span = x.max(0) - self.min
        self.span = np.where(span > 1e-8, span, 1.0)

    def zscore(self, x):
        """``(x - mean) / std`` of ``x`` [..., F] -> float32 [..., F] (unbounded)."""
        return ((np.asarray(x, np.float64) - self.mean) / self.std).astype(np.float32)

    def minmax(self, x):
        """``(x - min) / span`` of ``x`` [..., F] clipped to [0, 1] -> float32 [..., F]."""
        return np.clip((np.asarray(x, np.float64) - self.min) / self.span, 0.0, 1.0
                       ).astype(np.float32)


class FunctionalsDataset:
    """In-memory utterance functionals with the interface of
    :class:`seru.data.pipeline.ContinuousDataset` (see ``seru/data/pipeline.py``).

    Batches: ``features``, ``recon_target`` float32 [B, F]; ``consensus``
    float32 [B, D]; ``soft`` float32 [B, D, bins]; ``label_mask`` float32
    [B, D] (1 = the dimension has a rating); ``mask`` float32 [B] (1 = a real
    row, 0 = padding). ``eval_iter`` meta: ``ids``, ``starts`` (0), ``lengths``
    (1, 0 for padding).

    Args:
      splits: ``{split: arrays}`` with ``ids``, ``features`` (raw), ``consensus``,
        ``soft``, ``label_mask`` and ``ratings`` [N, D, A].
      scaler: statistics of the training split.
      train_split: where training batches come from (the pre-training pool for
        stage 1 of sridhar21).

    Raises:
      ValueError: ``train_split`` is missing or empty, or a batch size is not
        divisible by ``process_count``.
    """

    def __init__(self, splits: Mapping[str, Mapping[str, np.ndarray]], scaler: Scaler, *,
                 batch_size: int, eval_batch_size: int, train_split: str,
                 dimensions: Sequence[str], rating_range: Sequence[float],
                 skipped: Mapping[str, Mapping[str, int]] | None = None,
                 process_index: int = 0, process_count: int = 1):
        if train_split not in splits or len(splits[train_split]["ids"]) == 0:
            raise ValueError(f"no utterances in the training split {train_split!r}; "
                             f"splits: {sorted(splits)}")
        for name, b in (("data.batch_size", batch_size), ("eval.batch_size", eval_batch_size)):
            if b % process_count:
                raise ValueError(f"{name}={b} is not divisible by the {process_count} processes")
        self.scaler = scaler
        self.data = {}
        for s, a in splits.items():
            self.data[s] = dict(a, features=scaler.zscore(a["features"]),
                                recon_target=scaler.minmax(a["features"]))
        self.splits = tuple(splits)
        self.dimensions = tuple(dimensions)
        self.rating_range = tuple(float(r) for r in rating_range)
        self.batch_size, self.eval_batch_size = int(batch_size), int(eval_batch_size)
        self.train_split = train_split
        self.process_index, self.process_count = process_index, process_count
        self.skipped = {s: dict(c) for s, c in (skipped or {}).items()}
        n = len(self.data[train_split]["ids"])
        self.steps_per_epoch = max(1, n // self.batch_size)
        self.feature_dim = self.data[train_split]["features"].shape[1]

    #: predictions are utterance-level rows without a time axis (seru/data/pipeline.py)
    framewise = False
    #: utterance-level items have no frame time base (seru/data/timebase.py)
    time_base = None

    _BATCH_KEYS = ("features", "recon_target", "consensus", "soft", "label_mask")

    def _rows(self, split: str, idx: np.ndarray, valid: np.ndarray) -> dict[str, np.ndarray]:
        a = self.data[split]
        out = {k: a[k][idx] * valid.reshape((-1,) + (1,) * (a[k].ndim - 1)).astype(a[k].dtype)
               for k in self._BATCH_KEYS}
        out["mask"] = valid.astype(np.float32)
        return out

    def _local(self, x: np.ndarray, global_batch: int) -> np.ndarray:
        per = global_batch // self.process_count
        return x[self.process_index * per:(self.process_index + 1) * per]

    def train_iter(self, seed: int, epoch: int) -> Iterator[dict[str, np.ndarray]]:
        """Training batches: a pure function of ``(seed, epoch)``, a permutation of the split.

        ``steps_per_epoch`` (= max(1, N // batch_size)) batches of this
        process' ``batch_size // process_count`` rows (see the class
        docstring for the keys and shapes; ``mask`` all 1). The last partial
        batch is dropped; a split smaller than one batch is repeated.
        """
        n = len(self.data[self.train_split]["ids"])
        order = np.random.default_rng([int(seed), int(epoch)]).permutation(n)
        total = self.steps_per_epoch * self.batch_size
        order = np.resize(order, max(total, n))[:total]
        for b in range(self.steps_per_epoch):
            idx = self._local(order[b * self.batch_size:(b + 1) * self.batch_size],
                              self.batch_size)
            yield self._rows(self.train_split, idx, np.ones(len(idx), bool))

    def example_batch(self) -> dict[str, np.ndarray]:
        """A batch of the shapes and dtypes of :meth:`train_iter`'s (the first row repeated)."""
        per = self.batch_size // self.process_count
        return self._rows(self.train_split, np.zeros(per, int), np.ones(per, bool))

    def eval_iter(self, split: str) -> Iterator[tuple[dict, dict]]:
        """``(batch, meta)`` over every utterance of ``split`` once, in order.

        Batches of this process' ``eval_batch_size // process_count`` rows;
        the last one zero-padded (``mask`` 0, ``meta['ids']`` ``''``,
        ``meta['lengths']`` 0). Raises ``ValueError`` for an unknown split.
        """
        self._check_split(split)
        ids = self.data[split]["ids"]
        bs = self.eval_batch_size
        for b in range(0, len(ids), bs):
            idx = np.arange(b, b + bs)
            valid = idx < len(ids)
            idx = self._local(np.where(valid, idx, 0), bs)
            valid = self._local(valid, bs)
            batch = self._rows(split, idx, valid)
            meta = {"ids": [str(ids[i]) if v else "" for i, v in zip(idx, valid)],
                    "starts": np.zeros(len(idx), np.int64),
                    "lengths": valid.astype(np.int64)}
            yield batch, meta

    def targets(self, split: str) -> dict[str, dict[str, np.ndarray]]:
        """Per id: ``gold`` [1, D] (consensus in [-1, 1]), ``std`` [1, D] (unbiased
        rater std on the raw scale, 0 with fewer than two raters), ``soft``
        [1, D, bins], ``num_raters`` [1, D], ``mask`` [1], ``ratings`` [1, D, A]
        (raw scale). Raises ``ValueError`` for an unknown split."""
        self._check_split(split)
        a = self.data[split]
        out = {}
        for i, rid in enumerate(a["ids"]):
            out[str(rid)] = {"gold": a["consensus"][i][None], "std": a["std"][i][None],
                             "soft": a["soft"][i][None],
                             "num_raters": a["num_raters"][i][None],
                             "mask": np.asarray([a["label_mask"][i].all()], np.float32),
                             "ratings": a["ratings"][i][None],
                             "speaker": np.asarray(str(a["speakers"][i])),
                             "gender": np.asarray(str(a["genders"][i]))}
        return out

    def arrays(self, split: str) -> dict[str, np.ndarray]:
        """All rows of a split at once: the arrays of
        :func:`~seru.data.features.targets.assemble_split` plus ``features``
        (z-scored) and ``recon_target`` (min-max) [N, F]. Raises ``ValueError``
        for an unknown split."""
        self._check_split(split)
        return self.data[split]

    def _check_split(self, split):
        if split not in self.data:
            raise UnknownSplit(f"no split {split!r}; this dataset has {list(self.data)}")
