"""Cross-corpus evaluation (``seru.evaluate --corpus/--variant``, seru/trainer.py
``crosscorpus_dataset`` / ``evaluate_checkpoint``): sridhar21 Tables I-II.

Two throw-away corpora of a few 1-1.5 s utterances stand in for the tiny
training corpus and the (5-point, crosscorpus-condition) evaluation corpus, so
that building, extracting and training take seconds.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import audmetric
import numpy as np
import pytest

from seru import config as config_lib
from seru import evaluation
from seru.data import inputs
import scipy.stats

from seru.data.corpora.seru_synth_utterances import builder as B
from seru.data.synthetic import utterances as U


class XcTrainTiny(B.SeruSynthUtterances, skip_registration=True):
    """The training corpus: the MSP-like condition, 7-point scale, short utterances."""

    __module__ = B.__name__  # TFDS locates a builder's files through its package

    BUILDER_CONFIGS = [B.UtteranceConfig(
        name="tiny", utterances=(10, 4, 4, 0), speakers=(2, 2, 2, 0),
        spec=U.UtteranceSpec(min_s=1.0, max_s=1.5))]
    DEFAULT_CONFIG_NAME = "tiny"


class XcEvalTiny(B.SeruSynthUtterances, skip_registration=True):
    """The evaluation corpus: crosscorpus condition (other speakers, rooms), 5-point scale."""

    __module__ = B.__name__

    BUILDER_CONFIGS = [B.UtteranceConfig(
        name="tiny", utterances=(8, 2, 8, 0), speakers=(2, 2, 2, 0),
        spec=U.UtteranceSpec(corpus_key=1, points=5, min_raters=3, max_raters=6,
                             extra_raters_mean=0.8, p_mixed=0.25, intensity=1.25,
                             condition="crosscorpus", min_s=1.0, max_s=1.5))]
    DEFAULT_CONFIG_NAME = "tiny"


TRAIN, EVAL = "xc_train_tiny", "xc_eval_tiny"


@pytest.fixture
def corpora_registered(monkeypatch):
    from seru.data import corpora

    mod = sys.modules[__name__].__name__
    monkeypatch.setitem(corpora.CORPORA, TRAIN, f"{mod}:XcTrainTiny")
    monkeypatch.setitem(corpora.CORPORA, EVAL, f"{mod}:XcEvalTiny")


def _config(tmp_path):
    path = Path(__file__).resolve().parents[1] / "configs" / "sridhar21_vae.py"
    spec = importlib.util.spec_from_file_location("sridhar21_vae_cfg_xc", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    c = mod.get_config(f"method=mcd_mtl,corpus={TRAIN},variant=tiny")
    c.data.data_dir = str(tmp_path / "data")
    c.data.batch_size, c.eval.batch_size = 4, 4
    c.data.features.progress = False
    c.model.dnn_hidden = (8,)
    c.train.num_epochs, c.train.progress_bar = 1, False
    c.eval.splits, c.eval.num_samples = (), 5
    return c


def _raw(c, corpus, split):
    """Unscaled cached features of one split (the extraction is tested in tests/data)."""
    from seru.data import corpora, features

    builder, sources = corpora.load(corpus, "tiny", c.data.data_dir, build=True)
    cfg = features.feature_config(c)
    raw, _ = features.cached_features(
        sources[split], cfg, list(builder.info.metadata["dimensions"]),
        cache_dir=str(Path(c.data.data_dir) / "seru_features"), corpus=corpus, variant="tiny",
        split=split)
    return raw


def test_crosscorpus_evaluation_uses_training_statistics(tmp_path, corpora_registered):
    from seru import trainer

    c = _config(tmp_path)
    wd = tmp_path / "run"
    trainer.train_and_evaluate(c, wd)
    m = evaluation.evaluate_checkpoint(wd, "test", corpus=EVAL, variant="tiny", verbose=False)
    out = wd / "eval" / f"{EVAL}-tiny" / "test"
    assert not (wd / "eval" / "test").exists()  # the in-corpus results are not overwritten

    # -- the scaler: statistics of the TRAINING corpus' train split, by numpy ------------
    ds = inputs.get("functionals").other_corpus(config_lib.load(wd), EVAL, "tiny", "test")
    x_train = _raw(c, TRAIN, "train")["features"].astype(np.float64)
    x_eval_train = _raw(c, EVAL, "train")["features"].astype(np.float64)
    mean, std = x_train.mean(0), x_train.std(0)
    std = np.where(std > 1e-8, std, 1.0)
    np.testing.assert_allclose(ds.scaler.mean, mean, rtol=1e-6, atol=1e-8)
    assert not np.allclose(ds.scaler.mean, x_eval_train.mean(0))
    raw_test = _raw(c, EVAL, "test")
    keep = np.isin(raw_test["ids"], ds.arrays("test")["ids"])
    np.testing.assert_allclose(ds.arrays("test")["features"],
                               (raw_test["features"][keep] - mean) / std, rtol=1e-4, atol=1e-4)
    info = json.loads((out / "metrics.json").read_text())
    assert info["input_statistics_from"] == f"{TRAIN}/tiny/train"
    assert (info["corpus"], info["train_corpus"]) == (EVAL, TRAIN)

    # -- the metrics: a recomputation from predictions.npz ------------------------------
    z = np.load(out / "predictions.npz")
    ids = sorted({k.rsplit("/", 1)[0] for k in z.files})
    assert len(ids) == info["num_items"] == int(keep.sum()) > 2
    y = np.array([z[f"{i}/target_gold"].reshape(-1)[0] for i in ids], np.float64)
    yhat = np.array([z[f"{i}/m_hat"].reshape(-1)[0] for i in ids], np.float64)
    u = np.array([z[f"{i}/s_hat"].reshape(-1)[0] for i in ids], np.float64)
    np.testing.assert_allclose(m["ccc"], audmetric.concordance_cc(y, yhat), rtol=1e-4,
                               atol=1e-6)
    for cov in (100, 80, 60, 40, 20):
        k = int(round(cov / 100 * len(ids)))
        idx = np.argsort(u, kind="stable")[:k]
        if k > 1:
            np.testing.assert_allclose(m[f"ccc_cov{cov}"],
                                       audmetric.concordance_cc(y[idx], yhat[idx]),
                                       rtol=1e-4, atol=1e-6)
    t_soft = np.stack([z[f"{i}/target_soft"].reshape(-1) for i in ids])
    p_soft = np.stack([z[f"{i}/soft"].reshape(-1) for i in ids])
    np.testing.assert_allclose(m["kld_soft"],
                               np.mean(scipy.stats.entropy(t_soft, p_soft, axis=-1)), rtol=1e-4)
    assert json.loads((out / "metrics.json").read_text())["metrics"] == pytest.approx(m, nan_ok=True)

    # -- the 5-point scale: consensus on [-1, 1] and 7 soft-label bins over [1, 5]; the
    # targets' ratings on the consensus' scale ------------------------------------------
    for i in ids:
        g = z[f"{i}/target_ratings"].reshape(-1)
        g = g[np.isfinite(g)]
        r = (g + 1) / 2 * 4 + 1  # back to the 1-5 scale points
        assert r.size >= 3 and r.min() >= 1 - 1e-6 and r.max() <= 5 + 1e-6
        np.testing.assert_allclose(r, np.round(r), atol=1e-5)
        np.testing.assert_allclose(z[f"{i}/target_gold"].reshape(-1)[0],
                                   (r.mean() - 1) / 4 * 2 - 1, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(z[f"{i}/target_gold"].reshape(-1)[0], g.mean(), atol=1e-6)
        r = np.round(r)
        hist, _ = np.histogram(r, bins=np.linspace(1, 5, 8))
        np.testing.assert_allclose(z[f"{i}/target_soft"].reshape(-1), hist / hist.sum(),
                                   atol=1e-6)
    assert (out / "reject_curve.png").stat().st_size > 0


def test_crosscorpus_raw_audio_reads_the_other_corpus(toy_config, toy_records, monkeypatch):
    """Cross-corpus evaluation is the input type's job: raw audio loads the other corpus'
    split with the run's preprocessing (no statistics to carry over)."""
    from seru.data import pipeline

    seen = {}

    def fake_load_corpus(config, splits):
        seen.update(corpus=config.data.corpus, variant=config.data.variant, splits=splits)
        recs = [pipeline.preprocess_record(r, ("arousal",)) for r in toy_records["dev"]]
        return {"test": recs}, pipeline.CONTINUOUS

    monkeypatch.setattr(pipeline, "load_corpus", fake_load_corpus)
    ds = inputs.get("raw_audio").other_corpus(toy_config, "avec2016", "", "test")
    assert seen == {"corpus": "avec2016", "variant": "", "splits": ["test"]}
    assert sorted(ds.targets("test")) == ["dev_0", "dev_1"] and ds.time_base.hop_s == 0.04
    assert toy_config.data.corpus == "seru_synth_continuous"  # the run's config is untouched
