"""Training batches through grain: the run's steps as one random-access dataset.

Every dataset of ``seru/data/inputs.py`` offers ``train_batch(seed, epoch, b)``:
this process' rows of batch ``b`` of epoch ``epoch``, a pure function of its
arguments (the epoch's crops or permutation come from ``(seed, epoch)``; the
process' share of the global batch from its ``process_index``). Step ``g`` of
a run is batch ``g mod steps_per_epoch`` of epoch ``g // steps_per_epoch``, so
the whole run is ``grain.MapDataset.range(num_steps).map(...)``, and grain's
iterator gives the rest: reading ahead in threads while the device trains, and
an iterator state (its position) that the trainer saves with every checkpoint
and restores on resume, so a resumed run continues at the exact next example.

Threads, not grain's worker processes, and none by default: a batch is a few
slices of arrays that are already in memory (audio, frame features,
functionals), no decoding or feature computation: 0.07-1 ms, 0.5-13 % of a
training step, and JAX's asynchronous dispatch already builds the next batch
while the device runs the step. ``benchmarks/loader.py`` measured 0.86-1.05x the step time with 1-2
threads and 0.11-0.8x with 1-2 worker processes (each first receives a pickled
copy of the corpus) on 2 CPU cores (``benchmarks/results/loader.json``).
"""

from __future__ import annotations

from typing import Any

import grain


def train_batches(dataset: Any, seed: int, num_steps: int) -> grain.MapDataset:
    """The run's training batches: element ``g`` (``0 <= g < num_steps``) is this process'
    batch of step ``g``, ``dataset.train_batch(seed, g // S, g % S)`` with ``S =
    dataset.steps_per_epoch`` (a dict of numpy arrays, the shapes of
    ``dataset.example_batch()``). Raises ``ValueError`` if ``num_steps < 0``."""
    if num_steps < 0:
        raise ValueError(f"num_steps must be >= 0, got {num_steps}")
    spe = dataset.steps_per_epoch
    return grain.MapDataset.range(num_steps).map(
        lambda g: dataset.train_batch(seed, g // spe, g % spe))


def train_iterator(dataset: Any, seed: int, num_steps: int, threads: int = 0,
                   prefetch: int = 2, state: dict | None = None) -> grain.DatasetIterator:
    """An iterator over :func:`train_batches` that reads ahead.

    ``threads``: threads building batches (0 = in the calling thread, nothing
    read ahead); ``prefetch``: batches read ahead (grain's ``ReadOptions``).
    ``state``: a state of such an iterator (``get_state()``, a JSON-able dict:
    its position), to continue where it stopped. Raises ``ValueError`` for
    negative ``threads`` or ``prefetch``.
    """
    if threads < 0 or prefetch < 0:
        raise ValueError(f"threads and prefetch must be >= 0, got {threads}, {prefetch}")
    options = grain.ReadOptions(num_threads=threads, prefetch_buffer_size=prefetch if threads
                                else 0)
    it = iter(train_batches(dataset, seed, num_steps).to_iter_dataset(options))
    if state is not None:
        it.set_state(state)
    return it
