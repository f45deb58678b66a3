"""Batches of an in-memory utterance-level dataset: one row per utterance, no time axis.

The batching that the utterance-level inputs share (the functionals of sridhar21,
:class:`seru.data.features.dataset.FunctionalsDataset`; the frame sequences of mitra25,
:class:`seru.data.utterance_frames.UtteranceFramesDataset`), with the interface of
:class:`seru.data.inputs.Dataset`. A subclass fills :attr:`UtteranceBatches.data` and says
what a row holds (``_rows``) and what its targets are (``targets``).

The batch contract (``B`` = this process' rows, ``batch_size // process_count`` in training,
``eval_batch_size // process_count`` in evaluation; process ``p`` gets rows ``[p B, (p + 1) B)``
of each global batch):

* **training** (:meth:`UtteranceBatches.train_iter`): ``steps_per_epoch`` = ``max(1, N //
  batch_size)`` batches of a permutation of the ``N`` training utterances that is a pure
  function of ``(seed, epoch)`` (``numpy.random.default_rng([seed, epoch])``); the last
  partial batch is dropped, a split smaller than one batch is repeated; ``mask`` all 1.
* **evaluation** (:meth:`UtteranceBatches.eval_iter`): every utterance of the split once, in
  order, as ``(batch, meta)``; the last global batch is padded with rows of utterance 0
  zeroed by ``_rows`` (``mask`` 0), ``meta`` = ``ids`` (``''`` for padding), ``starts``
  int64 0, ``lengths`` int64 1 (0 for padding).
"""

from __future__ import annotations

from typing import Any, Iterator, Mapping

import numpy as np

from seru.data.errors import UnknownSplit
from seru.data.pipeline import epoch_cached


class UtteranceBatches:
    """The batching of an utterance-level dataset (the module docstring's contract).

    Subclasses set ``self.data`` = ``{split: {"ids": [N], ...}}`` (in the order of ``splits``)
    after calling ``__init__``, and define ``_rows(split, idx, valid) -> {key: [B, ...]}``
    (the rows ``idx`` of ``split``, the ones where ``valid`` is False zeroed, and ``mask`` =
    ``valid`` as float32) and ``targets(split)``.

    Args:
      splits: ``{split: arrays}``, each with ``ids`` [N].
      batch_size, eval_batch_size: global batch sizes of training and evaluation.
      train_split: where training batches come from.
      process_index, process_count: this process and the number of processes.

    Raises:
      ValueError: ``train_split`` is missing or empty, or a batch size is not divisible by
        ``process_count``.
    """

    #: predictions are utterance-level rows without a time axis (seru/data/pipeline.py)
    framewise = False
    #: utterance-level items have no frame time base (seru/data/timebase.py)
    time_base = None

    def __init__(self, splits: Mapping[str, Mapping[str, Any]], *, batch_size: int,
                 eval_batch_size: int, train_split: str, process_index: int = 0,
                 process_count: int = 1):
        if train_split not in splits or len(splits[train_split]["ids"]) == 0:
            raise ValueError(f"no utterances in the training split {train_split!r}; "
                             f"splits: {sorted(splits)}")
        for name, b in (("data.batch_size", batch_size), ("eval.batch_size", eval_batch_size)):
            if b % process_count:
                raise ValueError(f"{name}={b} is not divisible by the {process_count} processes")
        self.splits = tuple(splits)
        self.batch_size, self.eval_batch_size = int(batch_size), int(eval_batch_size)
        self.train_split = train_split
        self.process_index, self.process_count = process_index, process_count
        self.steps_per_epoch = max(1, len(splits[train_split]["ids"]) // self.batch_size)
        self.data: dict[str, dict[str, Any]] = {}

    def _rows(self, split: str, idx: np.ndarray, valid: np.ndarray) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def targets(self, split: str) -> dict[str, dict[str, np.ndarray]]:
        raise NotImplementedError

    def _local(self, x: np.ndarray, global_batch: int) -> np.ndarray:
        """This process' share of a global batch's rows."""
        per = global_batch // self.process_count
        return x[self.process_index * per:(self.process_index + 1) * per]

    def epoch_order(self, seed: int, epoch: int) -> np.ndarray:
        """The epoch's ``steps_per_epoch * batch_size`` training rows in batch order: a
        permutation of the split, a pure function of ``(seed, epoch)``. The last partial
        batch is dropped; a split smaller than one batch is repeated."""
        n = len(self.data[self.train_split]["ids"])
        order = np.random.default_rng([int(seed), int(epoch)]).permutation(n)
        total = self.steps_per_epoch * self.batch_size
        return np.resize(order, max(total, n))[:total]

    def train_batch(self, seed: int, epoch: int, b: int) -> dict[str, np.ndarray]:
        """Batch ``b`` of epoch ``epoch``: this process' ``batch_size // process_count`` rows
        of :meth:`epoch_order` ``[b B, (b + 1) B)`` (``mask`` all 1; random access, for the
        grain loader of ``seru/data/loader.py``)."""
        order = epoch_cached(self.epoch_order, self, seed, epoch)
        idx = self._local(order[b * self.batch_size:(b + 1) * self.batch_size], self.batch_size)
        return self._rows(self.train_split, idx, np.ones(len(idx), bool))

    def train_iter(self, seed: int, epoch: int) -> Iterator[dict[str, np.ndarray]]:
        """The epoch's ``steps_per_epoch`` batches in order (:meth:`train_batch`)."""
        for b in range(self.steps_per_epoch):
            yield self.train_batch(seed, epoch, b)

    def example_batch(self) -> dict[str, np.ndarray]:
        """A batch of the shapes and dtypes of :meth:`train_iter`'s (the first row repeated)."""
        per = self.batch_size // self.process_count
        return self._rows(self.train_split, np.zeros(per, int), np.ones(per, bool))

    def eval_iter(self, split: str) -> Iterator[tuple[dict, dict]]:
        """``(batch, meta)`` over every utterance of ``split`` once, in order.

        Batches of this process' ``eval_batch_size // process_count`` rows; the last one
        zero-padded (``mask`` 0, ``meta['ids']`` ``''``, ``meta['lengths']`` 0). Raises
        :class:`~seru.data.errors.UnknownSplit` (a ``ValueError``) for an unknown split.
        """
        self._check_split(split)
        ids = self.data[split]["ids"]
        bs = self.eval_batch_size
        for b in range(0, len(ids), bs):
            idx = np.arange(b, b + bs)
            valid = idx < len(ids)
            idx, valid = self._local(np.where(valid, idx, 0), bs), self._local(valid, bs)
            meta = {"ids": [str(ids[i]) if v else "" for i, v in zip(idx, valid)],
                    "starts": np.zeros(len(idx), np.int64), "lengths": valid.astype(np.int64)}
            yield self._rows(split, idx, valid), meta

    def _check_split(self, split: str) -> None:
        if split not in self.data:
            raise UnknownSplit(f"no split {split!r}; this dataset has {list(self.data)}")
