"""The ``predictions.npz`` files of the evaluation job: one array per ``<item id>/<key>``.

``<id>/<output key>`` holds a post-processed prediction (``<key>_raw`` before
post-processing), ``<id>/target_<key>`` a target of the item (``[T, ...]``; 0-d strings
for ``speaker`` / ``gender``). Imports nothing of seru.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

import numpy as np


def write(path: str | Path, preds: Mapping[str, Mapping], targets: Mapping[str, Mapping]) -> None:
    """Writes ``preds[id][key]`` as ``id/key`` and ``targets[id][key]`` as ``id/target_key``
    (compressed npz; no pickles: strings are stored as numpy unicode arrays)."""
    arrays = {}
    for rid, p in preds.items():
        arrays.update({f"{rid}/{k}": np.asarray(v) for k, v in p.items()})
        arrays.update({f"{rid}/target_{k}": np.asarray(v) for k, v in targets[rid].items()})
    np.savez_compressed(path, **arrays)


def read(path: str | Path) -> dict[str, dict[str, np.ndarray]]:
    """``{id: {key: array}}`` of a file written by :func:`write` (targets keep their
    ``target_`` prefix). Raises ``FileNotFoundError`` for a missing file."""
    out: dict[str, dict[str, np.ndarray]] = {}
    with np.load(path, allow_pickle=False) as z:
        for key in z.files:
            rid, _, name = key.rpartition("/")
            out.setdefault(rid, {})[name] = z[key]
    return out
