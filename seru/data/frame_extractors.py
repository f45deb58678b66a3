"""The frame extractors of the ``utterance_frames`` input (``config.data.utterance.frames``):
MFBF0 (``seru/data/features/mfbf0.py``), or one layer of a speech encoder -- seru's offline
encoder (``ssl:``) or a local Hugging Face directory (``hf:``) -- chosen by index, as the final
layer, or by CCS layer saliency on the training split (mitra25 Eqs. (1)-(3)).
"""

from __future__ import annotations

import functools
from typing import Callable

import numpy as np

from seru.data.utterance_records import FrameExtractor, cache_dir_of, read_split, vote_matrix


def mfbf0_extractor(config, corpus: str, variant: str, cache_dir: str | None
                    ) -> FrameExtractor:
    """MFBF0 at its defaults (``seru.data.features.mfbf0``), cached per utterance under
    ``cache_dir`` (``None``: not cached, e.g. new audio for the Predictor)."""
    from seru.data.features import mfbf0

    if cache_dir is None:
        return lambda rid, audio, sr: mfbf0.mfbf0(audio, sr)
    return lambda rid, audio, sr: mfbf0.cached_mfbf0(rid, audio, sr, cache_dir=cache_dir,
                                                     corpus=corpus, variant=variant)


def ssl_encoder(config):
    """seru's offline encoder (``seru.encoders.ssl``; ``data.utterance.encoder_layers``
    transformer layers of ``encoder_dim``, 4 heads, MLP 4 x dim, ``encoder_steps`` steps)
    pre-trained on the pool of ``data.utterance.encoder_pool`` (``corpus/variant/split``)
    with seed ``data.utterance.encoder_seed``, loaded from (or trained into) the data
    directory."""
    u = config.data.utterance
    corpus, variant, split = (u.encoder_pool.split("/") + ["", "", ""])[:3]
    return _cached_encoder(config.data.data_dir or None, corpus, variant or None,
                           split or "unlabeled", int(u.encoder_seed), int(u.encoder_layers),
                           int(u.encoder_dim), int(u.encoder_steps))


@functools.lru_cache(maxsize=4)
def _cached_encoder(data_dir, corpus, variant, split, seed, layers, dim, steps):
    from seru.encoders import ssl

    config = ssl.SSLConfig(num_layers=layers, dim=dim, mlp_dim=4 * dim, steps=steps,
                           num_heads=4 if dim % 4 == 0 else 1)
    return ssl.load_or_pretrain(data_dir, corpus, variant, config, seed=seed, split=split)


@functools.lru_cache(maxsize=2)
def _hf_encoder(path: str):
    from seru.encoders import hf

    return hf.load_hf_encoder(path)


def encoder_of(config):
    """The encoder of ``data.utterance.frames``: ``ssl:*`` -- :func:`ssl_encoder`; ``hf:*``
    -- the Hugging Face directory ``data.utterance.encoder_path`` (HuBERT, WavLM, Whisper;
    ``seru.encoders.hf``, the ``hf`` extra)."""
    if config.data.utterance.frames.startswith("hf:"):
        if not config.data.utterance.encoder_path:
            raise ValueError(f"data.utterance.frames={config.data.utterance.frames!r}: set "
                             "data.utterance.encoder_path to the model's directory")
        return _hf_encoder(config.data.utterance.encoder_path)
    return ssl_encoder(config)


def encoder_layer(config) -> tuple[int, dict]:
    """``(layer, info)``: the encoder layer of ``data.utterance.frames`` = ``ssl:<layer>`` or
    ``hf:<layer>`` (an index in [0, L], ``final`` = L, or ``salient``: :func:`salient_layer`)."""
    spec = config.data.utterance.frames.partition(":")[2]
    if spec == "salient":
        info = salient_layer(config)
        return info["layer"], {"ccs": info}
    enc = encoder_of(config)
    if spec == "final":
        return enc.num_layers, {}
    if spec.isdigit() and int(spec) <= enc.num_layers:
        return int(spec), {}
    raise ValueError(f"data.utterance.frames={config.data.utterance.frames!r}: expected "
                     f"'<encoder>:<0..{enc.num_layers}>', ':final' or ':salient'")


def encoder_extractor(config, corpus: str, variant: str, cache_dir: str | None
                      ) -> FrameExtractor:
    """One layer of the encoder (:func:`encoder_of`, :func:`encoder_layer`) per 20 ms frame,
    cached per utterance and layer (``seru.encoders.layer_cache``) under ``cache_dir``
    (``None``: not cached)."""
    from seru.encoders import layer_cache

    enc, (layer, _) = encoder_of(config), encoder_layer(config)
    if cache_dir is None:
        return lambda rid, audio, sr: enc.layer_outputs(audio, sr)[layer]
    return lambda rid, audio, sr: layer_cache.cached_frames(
        enc, rid, audio, sr, layer, cache_dir=cache_dir, corpus=corpus, variant=variant)


def salient_layer(config) -> dict:
    """CCS layer saliency (mitra25 Eqs. (1)-(3), ``seru.saliency``) of the encoder on
    the training split: the layers' utterance means of ``data.utterance.ccs_sample``
    training utterances drawn with seed 0 (0 = all), against the D attributes and the K vote
    shares of the rated ones. Returns ``{"layer": the argmax of the mean over every target,
    "curve": [L + 1] mu_CCS, "per_target": {target: [L + 1]}, "per_target_layer": {target:
    argmax}, "utterances": U}``; computed once per config."""
    from seru.data import once

    return once.per_config(_salient_layer, config)


def _salient_layer(config) -> dict:
    from seru import saliency
    from seru.data import corpora
    from seru.encoders import layer_cache

    d, u = config.data, config.data.utterance
    builder, sources = corpora.load(d.corpus, d.variant or None, d.data_dir or None,
                                    d.manual_dir or None, build=d.build)
    meta = builder.info.metadata or {}
    audio = {}

    def keep(rid, a, sr):
        audio[rid] = (a, sr)
        return np.zeros((1, 1), np.float32)

    a = read_split(sources[d.train_split], d.dimensions,
                   vote_matrix(meta.get("class_names") or (), u.classes, u.class_map),
                   meta.get("rating_range"), keep, where=f"{d.corpus}/{d.train_split}")
    from seru.data import labels

    rated = np.flatnonzero((a["attr_mask"] > 0).all(1) & (a["votes"].sum(1) > 0))
    if u.ccs_sample and u.ccs_sample < len(rated):
        rated = np.sort(np.random.default_rng(0).choice(rated, u.ccs_sample, replace=False))
    ids = [str(a["ids"][i]) for i in rated]
    means = layer_cache.layer_means([(i, *audio[i]) for i in ids], encoder_of(config),
                                    cache_dir=cache_dir_of(config), corpus=d.corpus,
                                    variant=d.variant)
    targets = np.concatenate([a["attributes"][rated],
                              np.asarray(labels.vote_pdf(a["votes"][rated]))], axis=1)
    names = list(d.dimensions) + [f"p_{c}" for c in u.classes]
    per = {n: np.asarray(saliency.layer_saliencies(means["means"], targets[:, j])).tolist()
           for j, n in enumerate(names)}
    curve = np.asarray(saliency.layer_saliencies(means["means"], targets))
    return {"layer": int(np.argmax(curve)), "curve": curve.tolist(), "per_target": per,
            "per_target_layer": {n: int(np.argmax(c)) for n, c in per.items()},
            "utterances": len(ids)}


#: ``config.data.utterance.frames`` up to its ':' -> ``(config, corpus, variant, cache_dir)
#: -> extractor``
EXTRACTORS: dict[str, Callable[..., FrameExtractor]] = {
    "mfbf0": mfbf0_extractor, "ssl": encoder_extractor, "hf": encoder_extractor}


def extractor(config, corpus: str, variant: str, cache_dir: str | None) -> FrameExtractor:
    """The frame extractor ``config.data.utterance.frames`` names; ``ValueError`` naming
    the known ones otherwise."""
    name = config.data.utterance.frames.partition(":")[0]
    if name not in EXTRACTORS:
        raise ValueError(f"data.utterance.frames={config.data.utterance.frames!r}: expected "
                         f"one of {sorted(EXTRACTORS)} (an encoder as <name>:<layer>|final|"
                         "salient)")
    return EXTRACTORS[name](config, corpus, variant, cache_dir)


def max_frames(config) -> int:
    """Frames per batch row: ``data.utterance.max_seconds`` at the hop of the frames (MFBF0:
    10 ms; the encoders: their ``frame_hop_s``, 20 ms)."""
    hop = 0.01 if config.data.utterance.frames == "mfbf0" else encoder_of(config).frame_hop_s
    return int(np.ceil(config.data.utterance.max_seconds / hop - 1e-9))


def check(config) -> list[str]:
    """Problems of ``data.utterance.frames`` found without building anything: the
    extractor's name, the layer's form (an index up to ``encoder_layers`` for ``ssl``,
    ``final`` or ``salient``), ``hf`` without ``encoder_path``."""
    u = config.data.utterance
    name, _, layer = u.frames.partition(":")
    if name not in EXTRACTORS:
        return [f"data.utterance.frames={u.frames!r}: expected 'mfbf0', 'ssl:<layer>' or "
                "'hf:<layer>'"]
    if name == "mfbf0":
        return [] if not layer else [f"data.utterance.frames={u.frames!r}: mfbf0 has no layers"]
    top = u.encoder_layers if name == "ssl" else None
    ok = layer in ("final", "salient") or (layer.isdigit() and (top is None or int(layer) <= top))
    errors = [] if ok else [
        f"data.utterance.frames={u.frames!r}: expected '{name}:<layer>' with a layer in "
        f"0..{top if top is not None else 'L'} (0 = the input projection), "
        f"'{name}:final' or '{name}:salient' (CCS)"]
    if name == "hf" and not u.encoder_path:
        errors.append(f"data.utterance.frames={u.frames!r}: set data.utterance.encoder_path "
                      "to the Hugging Face model's directory")
    return errors


def input_info(config) -> dict:
    """What the run's input chose that is worth keeping with it (the CCS curve and the
    salient layer of ``ssl:salient``), ``{}`` otherwise."""
    if config.data.utterance.frames.partition(":")[0] in ("ssl", "hf"):
        layer, info = encoder_layer(config)
        return {"encoder": encoder_of(config).identity, "layer": layer, **info}
    return {}
