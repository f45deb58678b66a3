"""An on-disk cache of numpy arrays, keyed by a hash of the config that made them.

One cache entry is one ``.npz`` file holding a dict of arrays and, under
:data:`KEY_FIELD`, the key it was made for. A feature extractor (utterance
functionals, frame-level features, encoder embeddings, ...) uses it as::

    key = cache.cache_key({"features": cfg, "corpus": corpus, "split": split})
    path = cache.cache_path(cache_dir, f"{corpus}-{split}", key)
    arrays = cache.read(path, key)
    if arrays is None:                       # a miss: absent, corrupt or another key
        arrays = dict(extract(...), **{cache.KEY_FIELD: np.asarray(key)})
        cache.write_atomic(path, arrays)

A changed config is a new key, hence a new file: an entry is only ever
trusted for the exact config it was made with. Writes go to a temporary file
in the target folder and are moved into place with ``os.replace`` (atomic on
POSIX and Windows within one file system), so an interrupted run (crash,
Ctrl-C, a killed job) leaves either the old complete file or none, never a
truncated one under the final name.

Why our own code: neither numpy, joblib (``Memory`` keys on the function's
arguments and code, not on a config we choose, and pickles), nor
tensorflow-datasets (which caches whole datasets, not derived features)
writes an atomic ``.npz`` keyed by a caller-chosen config, and the few lines
here are cheaper than adapting one of them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any, Mapping

import numpy as np

log = logging.getLogger(__name__)

#: Name of the array that holds an entry's key (a 0-d unicode array).
KEY_FIELD = "cache_key"


def cache_key(payload: Mapping[str, Any]) -> str:
    """The key of ``payload``: 12 hex digits of a SHA-256 of its canonical JSON.

    Args:
      payload: anything ``json.dumps`` serialises (nested dicts, lists, str,
        numbers, bools, None); dict keys are sorted, so the key does not
        depend on insertion order; values JSON does not know (a ``Path``,
        a numpy scalar) are written as ``str(value)``.

    Returns:
      ``str`` of length 12 (``[0-9a-f]``), stable across processes, Python
      versions and machines (no ``hash()`` randomisation). Equal payloads give
      equal keys; any changed value gives a different key (48 bits: collisions
      are negligible for the few thousand entries of a cache folder).

    Raises:
      TypeError / ValueError: from ``json.dumps`` for a non-string dict key
        of an unsupported type or a circular structure.
    """
    blob = json.dumps(payload, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:12]


def cache_path(cache_dir: str | os.PathLike, name: str, key: str) -> Path:
    """``<cache_dir>/<name>-<key>.npz``: where the entry ``name`` with ``key`` lives.

    ``name`` is a human-readable label (e.g. ``'<corpus>-<variant>-<split>'``)
    and should not contain a path separator; the folder need not exist yet
    (:func:`write_atomic` creates it). Pure: touches no file, raises nothing.
    """
    return Path(cache_dir) / f"{name}-{key}.npz"


def write_atomic(path: str | os.PathLike, arrays: Mapping[str, np.ndarray]) -> None:
    """Writes ``arrays`` to ``path`` (``np.savez``, uncompressed) atomically.

    The arrays are written to a temporary file ``.<stem>.<random>.tmp`` in the
    folder of ``path`` (created if missing), flushed and fsynced, and then
    moved to ``path`` with ``os.replace``, which replaces an existing file.
    On any exception (including ``KeyboardInterrupt``) the temporary file is
    removed and the exception re-raised, so ``path`` either keeps its old
    content or does not exist.

    Args:
      path: the target file (normally from :func:`cache_path`).
      arrays: name -> array of any shape; numeric, bool or unicode dtypes
        (object arrays would need pickling, which :func:`read` refuses). To be
        found by :func:`read`, include ``arrays[KEY_FIELD] = np.asarray(key)``.

    Raises:
      OSError: the folder cannot be created or written, or the disk is full.
      ValueError / TypeError: from ``np.savez`` for arrays it cannot store.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def read(path: str | os.PathLike, key: str) -> dict[str, np.ndarray] | None:
    """The arrays of the entry at ``path`` if it was written for ``key``, else ``None``.

    Returns ``None`` (a miss: the caller recomputes and rewrites) when the
    file does not exist, cannot be read as an ``.npz`` without pickle
    (truncated, corrupt, object arrays), or its :data:`KEY_FIELD` is missing
    or differs from ``key``; the last two are logged as warnings. On a hit,
    returns every array of the file, loaded into memory (so the file is
    closed), :data:`KEY_FIELD` included, with the shapes and dtypes written.

    Raises nothing for a bad file: a cache entry is never trusted, and never
    fatal, unless it is intact and made for ``key``.
    """
    path = Path(path)
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except Exception as e:  # a corrupt file is recomputed, never trusted
        log.warning("cache %s unreadable (%s): computing again", path, e)
        return None
    if str(data.get(KEY_FIELD, "")) != key:
        log.warning("cache %s has another key: computing again", path)
        return None
    return data
