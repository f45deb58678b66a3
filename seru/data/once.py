"""Values computed once per run config: the statistics an input takes from a run's training
split (feature scaling, a saliency-selected layer), which prediction and cross-corpus
evaluation need again without reading the training split each call."""

from __future__ import annotations

import functools
import json


@functools.lru_cache(maxsize=8)
def _cached(fn, config_json: str):
    import ml_collections

    return fn(ml_collections.ConfigDict(json.loads(config_json)))


def per_config(fn, config):
    """``fn(config)``, computed once per ``fn`` and config (keyed by the config's JSON: the
    value may depend on nothing else); at most 8 are kept."""
    return _cached(fn, config.to_json_best_effort(sort_keys=True))
