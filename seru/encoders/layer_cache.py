"""Per-utterance, per-layer cache of a speech encoder's outputs.

mitra25 reads an encoder two ways: CCS layer saliency (Eqs. (1)-(3),
:func:`seru.saliency.layer_saliencies`) needs every layer's **utterance mean**
``H-bar_k`` (Eq. (1), ``[H]`` per layer), and the TC-GRU is trained on the
**frame sequence** ``[T, H]`` of the one layer CCS selects. One forward pass
gives all layers; this module keeps what is asked for on disk so that no
utterance is encoded twice:

* ``means``: one entry per utterance, ``[L + 1, H]`` float32, the mean over
  the utterance's frames of each layer (float64 sum);
* ``frames`` of layer ``k``: one entry per utterance and layer, ``[T, H]``
  float32. Only the layers asked for are stored (every layer of a 24-layer,
  1024-d encoder for 450 utterances of 5 s would be about 11 GB).

A miss runs the encoder once and writes the entry asked for plus the means
(free from the same pass) when they are missing.

Keys and files: each entry is an ``.npz`` of the atomic cache
(:mod:`seru.data.cache`): written to a temporary file and moved into place, so
an interrupted extraction leaves no file under a final name; a file that is
truncated, corrupt, of another key, or whose array does not have the expected
shape is never trusted: it is computed and written again. The key
(:func:`layer_cache_key`) covers the encoder's ``identity`` (name + a hash of
its weights, :class:`~seru.encoders.base.Encoder`), the entry kind and layer,
the record id, corpus and variant, the audio
(:func:`seru.data.features.mfbf0.audio_fingerprint`: a noise-degraded copy
under the same id is a new entry) and :data:`LAYER_CACHE_VERSION`. Layout::

    <cache_dir>/<encoder identity>/<corpus>-<variant>-<id>-means-<key>.npz
    <cache_dir>/<encoder identity>/<corpus>-<variant>-<id>-L<k>-<key>.npz

Integration (not done here): the encoder-layer input type calls
:func:`layer_means` on a sample of training utterances for CCS and
:func:`layer_frames` for the selected layer on every split, and
standardises with the training split's statistics.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from seru.data import cache
from seru.data.features.config import SkipUtterance
from seru.data.features.mfbf0 import audio_fingerprint
from seru.encoders.base import Encoder

log = logging.getLogger(__name__)

__all__ = ["LAYER_CACHE_VERSION", "layer_cache_key", "layer_cache_path", "entry_paths",
           "cached_means", "cached_frames", "layer_means", "layer_frames"]

#: Part of every key: bump it when a code change changes what an entry holds.
LAYER_CACHE_VERSION = 1


def _layer_index(encoder: Encoder, layer: int) -> int:
    n = encoder.num_layers + 1
    if not isinstance(layer, (int, np.integer)) or not -n <= int(layer) < n:
        raise ValueError(f"layer must be an int in [-{n}, {n - 1}] for "
                         f"{encoder.identity} (L = {encoder.num_layers}), got {layer!r}")
    return int(layer) % n


def _part(layer: int | None) -> str:
    return "means" if layer is None else f"L{int(layer):02d}"


def layer_cache_key(encoder: Encoder, layer: int | None, record_id: str, audio: np.ndarray,
                    sr: int, *, corpus: str, variant: str) -> str:
    """The key (12 hex digits, :func:`seru.data.cache.cache_key`) of one entry.

    Args:
      encoder: its ``identity`` enters the key.
      layer: ``None`` for the means entry, else the layer index in ``[0, L]``.
      record_id, audio, sr: the utterance (the audio enters as its fingerprint).
      corpus, variant: name the corpus' build (``''`` for none).
    """
    return cache.cache_key({"encoder": encoder.identity, "part": _part(layer),
                            "record": str(record_id), "corpus": corpus,
                            "variant": variant or "", "audio": audio_fingerprint(audio, sr),
                            "version": LAYER_CACHE_VERSION})


def layer_cache_path(cache_dir, encoder: Encoder, record_id: str, layer: int | None, key: str,
                     *, corpus: str, variant: str) -> Path:
    """Where an entry lives (module docstring); characters of the id other than
    ``[A-Za-z0-9._-]`` become ``_``. Touches no file."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", str(record_id))
    return cache.cache_path(Path(cache_dir) / encoder.identity,
                            f"{corpus or 'nocorpus'}-{variant or 'default'}-{safe}-"
                            f"{_part(layer)}", key)


def _read(path: Path, key: str, shape_ok) -> np.ndarray | None:
    data = cache.read(path, key)
    if data is None or "value" not in data:
        return None
    v = data["value"]
    if v.dtype != np.float32 or not shape_ok(v.shape) or not np.all(np.isfinite(v)):
        log.warning("layer cache %s holds %s %s, not what its key promises: computing again",
                    path, v.dtype, v.shape)
        return None
    return v


def _write(path: Path, key: str, value: np.ndarray, meta: dict) -> None:
    cache.write_atomic(path, {"value": value, cache.KEY_FIELD: np.asarray(key),
                              "meta_json": np.asarray(json.dumps(meta, sort_keys=True))})


class _Entry:
    """The paths and keys of one utterance's entries; reads hits, fills misses."""

    def __init__(self, encoder, record_id, audio, sr, cache_dir, corpus, variant):
        self.encoder, self.record_id, self.audio, self.sr = encoder, record_id, audio, sr
        self.cache_dir, self.corpus, self.variant = cache_dir, corpus, variant
        self._outputs = None

    def where(self, layer):
        key = layer_cache_key(self.encoder, layer, self.record_id, self.audio, self.sr,
                              corpus=self.corpus, variant=self.variant)
        return layer_cache_path(self.cache_dir, self.encoder, self.record_id, layer, key,
                                corpus=self.corpus, variant=self.variant), key

    def meta(self, layer):
        return {"encoder": self.encoder.identity, "part": _part(layer),
                "record": str(self.record_id), "corpus": self.corpus,
                "variant": self.variant or "", "version": LAYER_CACHE_VERSION}

    def outputs(self) -> np.ndarray:
        if self._outputs is None:
            out = np.asarray(self.encoder.layer_outputs(self.audio, self.sr), np.float32)
            l1, h = self.encoder.num_layers + 1, self.encoder.hidden_size
            if out.ndim != 3 or out.shape[0] != l1 or out.shape[2] != h or out.shape[1] < 1:
                raise RuntimeError(f"{self.encoder.identity} returned {out.shape}, expected "
                                   f"[{l1}, T >= 1, {h}]")
            self._outputs = out
        return self._outputs

    def means(self) -> np.ndarray:
        if self.cache_dir is None:
            return self._means()
        path, key = self.where(None)
        shape = (self.encoder.num_layers + 1, self.encoder.hidden_size)
        v = _read(path, key, lambda s: s == shape)
        if v is None:
            v = self._means()
            _write(path, key, v, self.meta(None))
        return v

    def _means(self) -> np.ndarray:
        return self.outputs().astype(np.float64).mean(axis=1).astype(np.float32)

    def frames(self, layer: int) -> np.ndarray:
        if self.cache_dir is None:
            return np.ascontiguousarray(self.outputs()[layer])
        path, key = self.where(layer)
        h = self.encoder.hidden_size
        v = _read(path, key, lambda s: len(s) == 2 and s[0] >= 1 and s[1] == h)
        if v is None:
            v = np.ascontiguousarray(self.outputs()[layer])
            _write(path, key, v, self.meta(layer))
            self.means()  # free from the same pass: written if missing
        return v


def cached_means(encoder: Encoder, record_id: str, audio: np.ndarray, sr: int, *, cache_dir,
                 corpus: str, variant: str) -> np.ndarray:
    """Utterance means of every layer, ``[L + 1, H]`` float32 (mitra25 Eq. (1)), cached.

    Args:
      encoder: any :class:`~seru.encoders.base.Encoder`.
      record_id: the utterance's id within ``corpus`` / ``variant``.
      audio: mono waveform [samples], float in [-1, 1]; sr: its rate in Hz.
      cache_dir: the cache root (created if missing).
      corpus, variant: name the corpus' build (key and file name).

    Raises:
      SkipUtterance: from the encoder (too short, non-finite); nothing is written.
      RuntimeError: the encoder returned another shape than ``[L + 1, T >= 1, H]``.
      OSError: the cache cannot be written.
    """
    return _Entry(encoder, record_id, audio, sr, cache_dir, corpus, variant).means()


def cached_frames(encoder: Encoder, record_id: str, audio: np.ndarray, sr: int, layer: int, *,
                  cache_dir, corpus: str, variant: str) -> np.ndarray:
    """Frame sequence of one layer, ``[T, H]`` float32, cached (the means too, on a miss).

    ``layer`` is an index into the ``L + 1`` outputs (0 = input projection,
    negative counts from the end: -1 is the last layer); ``ValueError`` outside
    ``[-(L + 1), L]``. Otherwise as :func:`cached_means`.
    """
    layer = _layer_index(encoder, layer)
    return _Entry(encoder, record_id, audio, sr, cache_dir, corpus, variant).frames(layer)


def _run(items, fn, what: str, progress: bool):
    from tqdm.auto import tqdm

    ids, values, skipped_ids, skipped_reasons = [], [], [], []
    for rid, audio, sr in tqdm(items, desc=what, disable=not progress, leave=False):
        try:
            v = fn(rid, audio, sr)
        except SkipUtterance as s:
            log.info("%s: skipping %s: %s", what, rid, s)
            skipped_ids.append(str(rid))
            skipped_reasons.append(s.reason)
            continue
        ids.append(str(rid))
        values.append(v)
    return ids, values, skipped_ids, skipped_reasons


def layer_means(items: Iterable[tuple[str, np.ndarray, int]], encoder: Encoder, *,
                cache_dir=None, corpus: str = "", variant: str = "", progress: bool = False
                ) -> dict:
    """Every layer's utterance mean for a list of utterances (the input of CCS).

    Args:
      items: ``(id, audio [samples] float in [-1, 1], sample_rate Hz)`` per
        utterance; any iterable, consumed once.
      encoder: any :class:`~seru.encoders.base.Encoder`.
      cache_dir: the cache root, or ``None`` (encode without caching).
      corpus, variant: name the corpus' build.
      progress: a tqdm progress bar.

    Returns:
      ``dict``: ``ids`` (kept utterances, input order), ``means`` float32
      ``[K = L + 1, U, H]`` (the ``layers`` argument of
      :func:`seru.saliency.layer_saliencies`; ``[K, 0, H]`` when none is
      kept), ``skipped_ids``, ``skipped_reasons`` (utterances the encoder
      raised :class:`SkipUtterance` for).
    """
    def fn(rid, audio, sr):
        return _Entry(encoder, rid, audio, sr, cache_dir, corpus, variant).means()

    ids, vals, sk, sr_ = _run(items, fn, f"layer means {encoder.name}", progress)
    k, h = encoder.num_layers + 1, encoder.hidden_size
    means = np.stack(vals, axis=1) if vals else np.zeros((k, 0, h), np.float32)
    return {"ids": ids, "means": means, "skipped_ids": sk, "skipped_reasons": sr_}


def layer_frames(items: Iterable[tuple[str, np.ndarray, int]], encoder: Encoder, layer: int, *,
                 cache_dir=None, corpus: str = "", variant: str = "", progress: bool = False
                 ) -> dict:
    """One layer's frame sequences for a list of utterances (the TC-GRU's input).

    Args: as :func:`layer_means`, plus ``layer`` (as :func:`cached_frames`).

    Returns:
      ``dict``: ``ids``, ``features`` (list of float32 ``[T_i, H]``),
      ``lengths`` (int32 ``[N]``), ``layer`` (the index in ``[0, L]``),
      ``skipped_ids``, ``skipped_reasons``. Padding is the caller's.
    """
    layer = _layer_index(encoder, layer)

    def fn(rid, audio, sr):
        return _Entry(encoder, rid, audio, sr, cache_dir, corpus, variant).frames(layer)

    ids, vals, sk, sr_ = _run(items, fn, f"layer {layer} frames {encoder.name}", progress)
    return {"ids": ids, "features": vals,
            "lengths": np.asarray([len(v) for v in vals], np.int32), "layer": layer,
            "skipped_ids": sk, "skipped_reasons": sr_}


def entry_paths(cache_dir, encoder: Encoder, record_id: str, audio: np.ndarray, sr: int,
                layers: Sequence[int | None] = (None,), *, corpus: str, variant: str
                ) -> list[Path]:
    """The files of the entries ``layers`` (``None`` = means) of one utterance (for tests and
    cleaning up); touches nothing."""
    e = _Entry(encoder, record_id, audio, sr, cache_dir, corpus, variant)
    return [e.where(None if l is None else _layer_index(encoder, l))[0] for l in layers]
