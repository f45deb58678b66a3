"""What each layer of an encoder encodes about the emotion attributes: a per-layer probe.

For labeled utterances, every layer's utterance mean (mitra25 Eq. (1),
:func:`seru.encoders.layer_cache.layer_means`) is mapped to the mean rating
of each attribute (arousal, valence, dominance) two ways:

* **ridge probe**: a ridge regression fitted on the training split (features
  standardised on it, intercept unpenalised) with its penalty chosen per layer
  and attribute by exact leave-one-out error on the training split from the
  fixed grid :data:`ALPHAS` (closed form through the SVD: no dev data enter
  the fit), scored by R^2 on the dev split (``1 - SSE / SST``, SST about the
  dev mean; below 0 when worse than predicting the dev mean);
* **CCS**: the cross-correlation layer saliency of mitra25 Eqs. (1)-(3)
  (:func:`seru.saliency.ccs_dimension_saliency`, averaged over dimensions) on
  the training split, per attribute and averaged over attributes
  (:func:`seru.saliency.layer_saliencies`).

``python -m seru.encoders.diagnostics`` runs it on a corpus with the offline
encoder (pre-training it first when its checkpoint is not cached) and prints
JSON. Nothing here is tuned toward a curve shape: the grid and the protocol
are fixed.

Measured with the default offline encoder on ``seru_synth_utterances/quickstart``
(300 train, 75 dev utterances), seeds 0 / 1 / 2, layers 0..4:

* arousal dev R^2: 0.21 0.29 0.32 0.34 0.30 / 0.24 0.34 0.30 0.26 0.26 /
  0.28 0.30 0.30 0.31 0.30 (the 40 log-mel means alone: 0.22): every
  transformer layer above layer 0, the best one differs by seed;
* valence dev R^2 -0.08 to 0.16 (Pearson r 0.24-0.40), no consistent best layer;
* dominance dev R^2 negative at every layer (-0.56 at layer 0 rising to -0.28
  to -0.41 at layer 4 in every seed) with Pearson r 0.22-0.31: the dev speakers'
  dominance has another mean (4.29 vs 4.06) and a smaller spread (0.81 vs 1.07)
  than the training speakers', which R^2 counts as error;
* CCS (Eq. (3)): 0.44 0.28 0.26 0.29 0.30 / 0.49 0.28 0.29 0.32 0.33 /
  0.48 0.29 0.26 0.28 0.29: it ranks layer 0 first in every seed, against the
  ridge probe. Its first term, the mean over dimensions of |r(H_i, L)|, is
  highest there (arousal, seed 0: 0.42 against 0.24-0.27): the input projection
  spreads the log-mel level, which follows arousal, over most of its
  dimensions, while the transformer layers carry the information in fewer
  dimensions, which a multivariate probe uses but a per-dimension average does not.
"""

from __future__ import annotations

import argparse
import json
from typing import Sequence

import numpy as np

__all__ = ["ALPHAS", "ridge_loo", "ridge_dev_r2", "layer_probe", "corpus_targets",
           "encoder_layer_report"]

#: The fixed grid of ridge penalties (on standardised features) the LOO error picks from.
ALPHAS = tuple(float(a) for a in np.logspace(-2, 5, 15))


def ridge_loo(x: np.ndarray, y: np.ndarray, alphas: Sequence[float] = ALPHAS):
    """Leave-one-out mean squared error of ridge regression for each penalty.

    Args:
      x: [U, F] features (standardised by the caller); y: [U, D] targets.
      alphas: penalties (> 0) on the weights; the intercept is not penalised.

    Returns:
      [A, D] LOO MSE (exact: the hat-matrix identity ``e_i / (1 - h_ii)``
      with the centring's ``1 / U`` added to ``h_ii``).
    """
    xc = x - x.mean(0)
    yc = y - y.mean(0)
    u, s, _ = np.linalg.svd(xc, full_matrices=False)
    uty = u.T @ yc
    n = x.shape[0]
    out = []
    for a in alphas:
        f = s ** 2 / (s ** 2 + a)
        fit = u @ (f[:, None] * uty)
        h = (u ** 2) @ f + 1.0 / n
        out.append(np.mean(((yc - fit) / (1.0 - h)[:, None]) ** 2, axis=0))
    return np.asarray(out)


def ridge_dev_r2(x_train, y_train, x_dev, y_dev, alphas: Sequence[float] = ALPHAS):
    """Dev R^2 of a ridge fitted on train with the LOO-chosen penalty, per target.

    Args:
      x_train [U, F], y_train [U, D], x_dev [V, F], y_dev [V, D]: float arrays.

    Returns:
      ``(r2 [D], alpha [D], r [D])``: ``r`` the Pearson correlation of the dev
      predictions with the dev targets (insensitive to an offset or scale
      between the splits, which R^2 counts as error).
    """
    x_train, x_dev = np.asarray(x_train, np.float64), np.asarray(x_dev, np.float64)
    y_train, y_dev = np.asarray(y_train, np.float64), np.asarray(y_dev, np.float64)
    mu, sd = x_train.mean(0), x_train.std(0)
    sd = np.where(sd > 1e-12, sd, 1.0)
    xt, xd = (x_train - mu) / sd, (x_dev - mu) / sd
    best = np.argmin(ridge_loo(xt, y_train, alphas), axis=0)
    r2, chosen, corr = [], [], []
    for d, i in enumerate(best):
        a = alphas[i]
        w = np.linalg.solve(xt.T @ xt + a * np.eye(xt.shape[1]), xt.T @ (y_train[:, d]
                                                                        - y_train[:, d].mean()))
        pred = xd @ w + y_train[:, d].mean()
        sst = np.sum((y_dev[:, d] - y_dev[:, d].mean()) ** 2)
        r2.append(1.0 - np.sum((y_dev[:, d] - pred) ** 2) / sst)
        chosen.append(a)
        corr.append(np.corrcoef(pred, y_dev[:, d])[0, 1] if np.std(pred) > 0 else 0.0)
    return np.asarray(r2), np.asarray(chosen), np.asarray(corr)


def layer_probe(means_train, y_train, means_dev, y_dev, alphas: Sequence[float] = ALPHAS) -> dict:
    """Ridge dev R^2 and CCS for every layer.

    Args:
      means_train: [K, U, H] utterance means of the K layers (train);
        y_train: [U, D]; means_dev: [K, V, H]; y_dev: [V, D].

    Returns:
      dict of lists: ``r2`` [K][D], ``alpha`` [K][D], ``dev_r`` [K][D]
      (:func:`ridge_dev_r2`), ``ccs`` [K] (Eq. (3) over all targets),
      ``ccs_per_target`` [K][D].
    """
    from seru.saliency import ccs_dimension_saliency, layer_saliencies

    r2, al, rs, ccs_t = [], [], [], []
    for k in range(len(means_train)):
        r, a, c = ridge_dev_r2(means_train[k], y_train, means_dev[k], y_dev, alphas)
        r2.append(r.tolist())
        al.append(a.tolist())
        rs.append(c.tolist())
        ccs_t.append(np.asarray(ccs_dimension_saliency(means_train[k], y_train)).mean(0).tolist())
    ccs = np.asarray(layer_saliencies(np.asarray(means_train), y_train)).tolist()
    return {"r2": r2, "alpha": al, "dev_r": rs, "ccs": ccs, "ccs_per_target": ccs_t}


def corpus_targets(data_dir, corpus: str, variant: str | None, split: str, *, build: bool = True):
    """``(items, targets [U, D], dimensions)`` of a labeled utterance corpus split: ``items``
    as :func:`seru.encoders.ssl.corpus_audio` (sorted by id), targets the mean rating of each
    attribute over its raters (NaN ratings ignored)."""
    from seru.data import corpora
    from seru.data.schema import decode_text

    builder, sources = corpora.load(corpus, variant, data_dir, build=build)
    dims = list((builder.info.metadata or {}).get("dimensions", []))
    src = sources[split]
    rows = []
    for i in range(len(src)):
        r = src[i]
        rows.append((decode_text(r["id"]), np.asarray(r["audio"], np.float32),
                     int(r["sample_rate"]),
                     [float(np.nanmean(np.asarray(r[d], np.float64))) for d in dims]))
    rows.sort(key=lambda t: t[0])
    return ([(a, b, c) for a, b, c, _ in rows], np.asarray([t for *_, t in rows]), dims)


def encoder_layer_report(encoder, data_dir=None, corpus: str = "seru_synth_utterances",
                         variant: str | None = "quickstart", train_split: str = "train",
                         dev_split: str = "dev", cache_dir=None) -> dict:
    """:func:`layer_probe` of ``encoder`` (any :class:`~seru.encoders.base.Encoder`) on a
    corpus: its layer means from :func:`seru.encoders.layer_cache.layer_means` (cached in
    ``cache_dir`` when given). Returns the probe's dict plus ``dimensions``, ``encoder``
    (identity), ``num_train``, ``num_dev``."""
    from seru.encoders.layer_cache import layer_means

    out = {"encoder": encoder.identity}
    data = {}
    for split in (train_split, dev_split):
        items, y, dims = corpus_targets(data_dir, corpus, variant, split)
        m = layer_means(items, encoder, cache_dir=cache_dir, corpus=corpus,
                        variant=variant or "")
        keep = {rid for rid in m["ids"]}
        y = y[[i for i, (rid, _, _) in enumerate(items) if rid in keep]]
        data[split] = (m["means"], y)
    out.update(layer_probe(data[train_split][0], data[train_split][1], data[dev_split][0],
                           data[dev_split][1]))
    out.update(dimensions=dims, num_train=int(data[train_split][1].shape[0]),
               num_dev=int(data[dev_split][1].shape[0]))
    return out


def main(argv=None):
    from seru.encoders import ssl

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data_dir", default=None)
    p.add_argument("--corpus", default="seru_synth_utterances")
    p.add_argument("--variant", default="quickstart")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--cache_dir", default=None, help="layer cache root (default: none)")
    a = p.parse_args(argv)
    enc = ssl.load_or_pretrain(a.data_dir, a.corpus, a.variant, ssl.SSLConfig(), a.seed)
    print(json.dumps(encoder_layer_report(enc, a.data_dir, a.corpus, a.variant,
                                          cache_dir=a.cache_dir), indent=1))


if __name__ == "__main__":
    main()
