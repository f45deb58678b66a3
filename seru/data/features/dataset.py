"""The in-memory dataset of utterance functionals and its feature scaling."""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from seru.data.utterance_batches import UtteranceBatches


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


class FunctionalsDataset(UtteranceBatches):
    """In-memory utterance functionals with the interface of
    :class:`seru.data.pipeline.ContinuousDataset` (see ``seru/data/pipeline.py``); the
    batching (training order, evaluation padding, processes) is that of
    :class:`seru.data.utterance_batches.UtteranceBatches`.

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
        super().__init__(splits, batch_size=batch_size, eval_batch_size=eval_batch_size,
                         train_split=train_split, process_index=process_index,
                         process_count=process_count)
        self.scaler = scaler
        for s, a in splits.items():
            self.data[s] = dict(a, features=scaler.zscore(a["features"]),
                                recon_target=scaler.minmax(a["features"]))
        self.dimensions = tuple(dimensions)
        self.rating_range = tuple(float(r) for r in rating_range)
        self.skipped = {s: dict(c) for s, c in (skipped or {}).items()}
        self.feature_dim = self.data[train_split]["features"].shape[1]

    _BATCH_KEYS = ("features", "recon_target", "consensus", "soft", "label_mask")

    def _rows(self, split: str, idx: np.ndarray, valid: np.ndarray) -> dict[str, np.ndarray]:
        a = self.data[split]
        out = {k: a[k][idx] * valid.reshape((-1,) + (1,) * (a[k].ndim - 1)).astype(a[k].dtype)
               for k in self._BATCH_KEYS}
        out["mask"] = valid.astype(np.float32)
        return out

    def targets(self, split: str) -> dict[str, dict[str, np.ndarray]]:
        """Per id: ``gold`` [1, D] (consensus in [-1, 1]), ``std`` [1, D] (unbiased
        rater std, 0 with fewer than two raters), ``soft`` [1, D, bins],
        ``num_raters`` [1, D], ``mask`` [1], ``ratings`` [1, D, A] (NaN = missing).
        ``ratings`` and ``std`` are on the scale of ``gold``: mapped from
        ``rating_range`` to [-1, 1] by the consensus' own affine map, so that a
        predicted mean +- spread and the raters' ratings can be compared. Raises
        ``ValueError`` for an unknown split."""
        self._check_split(split)
        a = self.data[split]
        lo, hi = self.rating_range
        ratings = (2 * (np.asarray(a["ratings"], np.float32) - lo) / (hi - lo) - 1)
        std = 2 * np.asarray(a["std"], np.float32) / (hi - lo)
        out = {}
        for i, rid in enumerate(a["ids"]):
            out[str(rid)] = {"gold": a["consensus"][i][None], "std": std[i][None],
                             "soft": a["soft"][i][None],
                             "num_raters": a["num_raters"][i][None],
                             "mask": np.asarray([a["label_mask"][i].all()], np.float32),
                             "ratings": ratings[i][None],
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
