"""Tests of the evaluation job (seru/trainer.py: evaluate_*, score; seru/evaluate.py)."""

import json

import matplotlib.image
import numpy as np
import pytest
import scipy.ndimage

from seru import config as config_lib
from seru import evaluation, trainer
from seru.data import pipeline
from toy_system import ToySystem, make_record, make_toy_config, np_ccc


def _dataset(config, records):
    recs = {k: [pipeline.preprocess_record(r, config.data.dimensions) for r in v]
            for k, v in records.items()}
    return pipeline.from_recordings(recs, config)


def test_reassembled_segments_equal_whole_recordings(toy_config):
    dims = ("arousal", "valence")
    toy_config.data.dimensions = dims
    toy_config.data.eval_seq_len = 16
    raw = [make_record(f"d{i}", n, dims=dims, seed=i) for i, n in enumerate((40, 16, 57, 5))]
    ds = _dataset(toy_config, {"train": raw[:1], "dev": raw})
    outs, metas = [], []
    assert ds.eval_context == 5
    for batch, meta in ds.eval_iter("dev"):
        frame_mean = batch["audio"].reshape(4, 16 + 5, 640).mean(-1)
        outs.append({"m_hat": batch["gold"], "energy": frame_mean,
                     "samples": np.stack([batch["std"] * k for k in range(3)]),
                     "row_sum": batch["mask"].sum(-1)})
        metas.append(meta)
    whole = pipeline.reassemble(outs, metas)
    targets = ds.targets("dev")
    assert sorted(whole) == sorted(targets) == ["d0", "d1", "d2", "d3"]
    for rec in raw:
        rid = rec["id"].decode()
        n = rec["arousal"].shape[0]
        gold = np.stack([np.nanmean(rec[d], -1) for d in dims], -1)
        np.testing.assert_allclose(whole[rid]["m_hat"], np.nan_to_num(gold), atol=1e-6)
        np.testing.assert_allclose(whole[rid]["energy"], rec["audio"].reshape(n, 640).mean(-1),
                                   atol=1e-7)
        assert whole[rid]["samples"].shape == (3, n, 2)
        np.testing.assert_allclose(whole[rid]["samples"][2], 2 * targets[rid]["std"], atol=1e-6)
        # A per-row scalar keeps the first segment's value.
        assert whole[rid]["row_sum"] == np.isfinite(gold[:16]).all(-1).sum()  # first segment: its context is padding


def test_score_uses_valid_frames_after_median_filter(toy_config):
    system = ToySystem(toy_config)
    rng = np.random.default_rng(0)
    raw, targets = {}, {}
    for rid, n in (("a", 30), ("b", 17)):
        raw[rid] = {"m_hat": rng.normal(size=(n, 1)).astype(np.float32),
                    "s_hat": rng.uniform(0.1, 1, size=(n, 1)).astype(np.float32)}
        mask = (rng.random(n) > 0.2).astype(np.float32)
        targets[rid] = {"gold": rng.normal(size=(n, 1)), "std": rng.uniform(0, 1, (n, 1)),
                        "num_raters": np.full((n, 1), 3.0), "mask": mask}
    toy_config.eval.median_window = 5
    metrics, preds = evaluation.score(system, raw, targets)
    mh, sh, g, s = [], [], [], []
    for rid in raw:
        v = targets[rid]["mask"] > 0
        f_m = scipy.ndimage.median_filter(raw[rid]["m_hat"], size=(5, 1), mode="nearest")
        f_s = scipy.ndimage.median_filter(raw[rid]["s_hat"], size=(5, 1), mode="nearest")
        np.testing.assert_allclose(preds[rid]["m_hat"], f_m, atol=1e-6)
        np.testing.assert_array_equal(preds[rid]["m_hat_raw"], raw[rid]["m_hat"])
        mh.append(f_m[v]), sh.append(f_s[v]), g.append(targets[rid]["gold"][v])
        s.append(targets[rid]["std"][v])
    mh, sh, g, s = map(np.concatenate, (mh, sh, g, s))
    np.testing.assert_allclose(metrics["ccc_m"], np_ccc(mh.ravel(), g.ravel()), rtol=1e-5)
    np.testing.assert_allclose(metrics["ccc_s"], np_ccc(sh.ravel(), s.ravel()), rtol=1e-5)
    np.testing.assert_allclose(metrics["rmse"], np.sqrt(np.mean((mh - g) ** 2)), rtol=1e-5)


def test_evaluate_checkpoint_writes_metrics_predictions_figures(toy_config, toy_records,
                                                                 tmp_path):
    cfg = toy_config
    cfg.train.num_epochs = 1
    cfg.train.eval_every_epochs = 0
    cfg.eval.median_window = 3
    cfg.eval.plot = True
    ds = _dataset(cfg, toy_records)
    trainer.train_and_evaluate(cfg, tmp_path, dataset=ds)
    metrics = evaluation.evaluate_checkpoint(tmp_path, "dev", num_samples=4, checkpoint="latest",
                                          dataset=ds, system=ToySystem(cfg), verbose=False)
    out = tmp_path / "eval" / "dev"
    saved = json.loads((out / "metrics.json").read_text())
    assert set(saved["metrics"]) == {"ccc_m", "ccc_s", "rmse", "cal_error", "cal_ence",
                                     "cal_pit_ks", "cal_sharpness_90", "cal_spearman_std",
                                     "cal_coverage_90_ratings", "cal_reject_area",
                                     "cal_reject_area_oracle", "cal_nll", "cal_crps",
                                     "cal_coverage_90"}
    assert saved["metrics"] == metrics
    assert (saved["split"], saved["checkpoint"], saved["step"], saved["num_samples"]) == (
        "dev", "latest", 2, 4)
    assert saved["num_items"] == 2 and saved["num_frames"] == 45 + 65
    # Recompute every metric from predictions.npz by hand.
    npz = np.load(out / "predictions.npz")
    mh, sh, g, s = [], [], [], []
    for rid in ("dev_0", "dev_1"):
        v = npz[f"{rid}/target_mask"] > 0
        raw_m = npz[f"{rid}/m_hat_raw"]
        np.testing.assert_allclose(
            npz[f"{rid}/m_hat"], scipy.ndimage.median_filter(raw_m, size=(3, 1), mode="nearest"),
            atol=1e-6)
        assert npz[f"{rid}/samples"].shape == (4, v.size, 1)
        np.testing.assert_allclose(npz[f"{rid}/samples"].mean(0), raw_m, atol=1e-6)
        mh.append(npz[f"{rid}/m_hat"][v]), sh.append(npz[f"{rid}/s_hat"][v])
        g.append(npz[f"{rid}/target_gold"][v]), s.append(npz[f"{rid}/target_std"][v])
    mh, sh, g, s = map(np.concatenate, (mh, sh, g, s))
    np.testing.assert_allclose(saved["metrics"]["ccc_m"], np_ccc(mh.ravel(), g.ravel()),
                               rtol=1e-5)
    np.testing.assert_allclose(saved["metrics"]["ccc_s"], np_ccc(sh.ravel(), s.ravel()),
                               rtol=1e-5)
    np.testing.assert_allclose(saved["metrics"]["rmse"], np.sqrt(np.mean((mh - g) ** 2)),
                               rtol=1e-5)
    # Figures: one recording's time series (11 x 6 in at 110 dpi) and the std scatter.
    img = matplotlib.image.imread(out / "recording_dev_0_arousal.png")
    assert img.shape[:2] == (660, 1210)
    assert matplotlib.image.imread(out / "std_scatter_arousal.png").shape[:2] == (550, 550)


def test_load_config_fills_fields_added_after_the_run(toy_config, tmp_path):
    config_lib.save(toy_config, tmp_path)
    saved = json.loads((tmp_path / "config.json").read_text())
    del saved["data"]["audio_norm"]
    saved["data"]["seq_len"] = 77
    (tmp_path / "config.json").write_text(json.dumps(saved))
    c = config_lib.load(tmp_path)
    assert (c.data.audio_norm, c.data.seq_len, c.system) == ("none", 77, "toy_system:ToySystem")
    assert c.data.dimensions == ("arousal",) and c.model.hidden == 8


def test_load_config_fills_model_fields_added_after_the_run(tmp_path):
    """A prabhu22 run saved before a model option existed loads with that option's default."""
    from seru.systems.prabhu22 import default_model_config

    config = make_toy_config()
    config.system = "prabhu22"
    config.model = default_model_config()
    config.model.lstm_size = 16
    config_lib.save(config, tmp_path)
    saved = json.loads((tmp_path / "config.json").read_text())
    del saved["model"]["conv_compress"]
    (tmp_path / "config.json").write_text(json.dumps(saved))
    c = config_lib.load(tmp_path)
    assert c.model.conv_compress == "none" and c.model.lstm_size == 16
    config_lib.get_system(c)  # builds


def test_reassemble_utterance_rows():
    outs = [{"m_hat": np.array([[1.0, 2.0], [3.0, 4.0]]),
             "samples": np.arange(12.0).reshape(3, 2, 2)},
            {"m_hat": np.array([[5.0, 6.0], [0.0, 0.0]]),
             "samples": np.arange(12.0, 24.0).reshape(3, 2, 2)}]
    metas = [{"ids": ["u1", "u2"], "starts": np.zeros(2, int), "lengths": np.ones(2, int)},
             {"ids": ["u3", ""], "starts": np.zeros(2, int), "lengths": np.array([1, 0])}]
    whole = pipeline.reassemble(outs, metas, time_axis=None)
    assert sorted(whole) == ["u1", "u2", "u3"]
    np.testing.assert_array_equal(whole["u2"]["m_hat"], [[3.0, 4.0]])
    np.testing.assert_array_equal(whole["u3"]["samples"], [[[12.0, 13.0]], [[16.0, 17.0]],
                                                           [[20.0, 21.0]]])


class _FakeSystem:
    """Just what the evaluators read: the declared outputs and the time base."""

    def __init__(self, output, hop_s=0.1):
        from seru.data.timebase import TimeBase

        self.outputs = (output,)
        self.time_base = TimeBase(hop_s) if hop_s else None


def _eval_context(tmp_path, output, hop_s=0.1, plot=True, write=True, ratings=False):
    """A Context with two recordings of two dimensions (some frames masked)."""
    from seru import evaluators

    cfg = make_toy_config()
    cfg.data.dimensions = ("arousal", "valence")
    cfg.eval.plot, cfg.eval.plot_recordings = plot, 1
    rng = np.random.default_rng(3)
    preds, targets = {}, {}
    for rid, n in (("rec_a", 30), ("rec_b", 23)):
        targets[rid] = {"gold": rng.normal(size=(n, 2)), "std": rng.uniform(0, 1, (n, 2)),
                        "mask": (rng.random(n) > 0.3).astype(np.float32)}
        if ratings:
            targets[rid]["ratings"] = rng.normal(size=(n, 2, 3))
        preds[rid] = {k: rng.uniform(0, 1, (n, 2)).astype(np.float32) for k in output.keys}
    return evaluators.Context(system=_FakeSystem(output, hop_s), config=cfg, preds=preds,
                              targets=targets, outdir=tmp_path / "out", info={"split": "dev"},
                              write=write)


def _valid(ctx, source, key):
    return np.concatenate([np.asarray(source[r][key])[ctx.targets[r]["mask"] > 0]
                           for r in ctx.targets])


def test_spread_distribution_metrics_are_numpys(tmp_path):
    from seru import evaluators
    from seru.systems.base import Regression

    out = Regression(mean="e", spread="sig", spread_name="std on [0, 1]",
                     spread_on_rating_scale=False)
    ctx = _eval_context(tmp_path, out)
    ctx.targets["rec_b"]["std"][0, 0] = np.nan  # a valid frame without a std is left out
    ctx.targets["rec_b"]["mask"][0] = 1.0
    metrics = evaluators.run(["spread_distribution"], ctx)
    std, sig = _valid(ctx, ctx.targets, "std"), _valid(ctx, ctx.preds, "sig")
    assert len(metrics) == 16
    for d, dim in enumerate(("arousal", "valence")):
        col = std[:, d][np.isfinite(std[:, d])]
        assert col.size == std.shape[0] - (d == 0)
        np.testing.assert_allclose(metrics[f"std_mean/{dim}"], np.mean(col), rtol=1e-12)
        np.testing.assert_allclose(metrics[f"std_q50/{dim}"], np.median(col), rtol=1e-12)
        np.testing.assert_allclose([metrics[f"std_q25/{dim}"], metrics[f"std_q75/{dim}"]],
                                   np.quantile(col, [0.25, 0.75]), rtol=1e-12)
        np.testing.assert_allclose(metrics[f"spread_mean/{dim}"], np.mean(sig[:, d]), rtol=1e-6)
        np.testing.assert_allclose(metrics[f"spread_q50/{dim}"], np.median(sig[:, d]),
                                   rtol=1e-6)
    img = matplotlib.image.imread(tmp_path / "out" / "spread_distribution.png")
    assert img.shape[:2] == (385, 990)  # a 4.5 x 3.5 in panel per dimension at 110 dpi


def test_spread_distribution_without_spread_skips_and_writes_only_when_asked(tmp_path):
    from seru import evaluators
    from seru.systems.base import Regression

    stl_e = Regression(mean="e", spread=None, spread_on_rating_scale=False)
    ctx = _eval_context(tmp_path, stl_e, plot=False)
    metrics = evaluators.spread_distribution(ctx)
    assert sorted(metrics) == sorted(f"std_{k}/{d}" for k in ("mean", "q25", "q50", "q75")
                                     for d in ("arousal", "valence"))
    np.testing.assert_allclose(metrics["std_q50/valence"],
                               np.median(_valid(ctx, ctx.targets, "std")[:, 1]))
    assert not (tmp_path / "out").exists()  # eval.plot False: metrics, no file
    ctx = _eval_context(tmp_path, stl_e, write=False)
    assert evaluators.spread_distribution(ctx) and not (tmp_path / "out").exists()
    # no frame time base (utterance-level) or no target std: nothing
    assert evaluators.spread_distribution(_eval_context(tmp_path, stl_e, hop_s=None)) == {}
    ctx = _eval_context(tmp_path, stl_e)
    del ctx.targets["rec_a"]["std"]
    assert evaluators.spread_distribution(ctx) == {} and not (tmp_path / "out").exists()
    ctx = _eval_context(tmp_path, stl_e)
    evaluators.spread_distribution(ctx)
    assert (tmp_path / "out" / "spread_distribution.png").stat().st_size > 0


def test_figures_of_a_spread_on_its_own_scale_and_of_single_task_outputs(tmp_path,
                                                                           monkeypatch):
    """Fig. 4-like panels, not the rating-scale bands, for a spread on its own scale and for
    outputs with only a mean or only a spread; the first eval.plot_recordings recordings."""
    from seru import evaluators, plots
    from seru.systems.base import Regression

    calls = []
    real = plots.plot_state_and_spread
    monkeypatch.setattr(plots, "plot_state_and_spread",
                        lambda *a, **k: calls.append((a, k)) or real(*a, **k))
    monkeypatch.setattr(plots, "plot_recording", lambda *a, **k: pytest.fail("band plot"))
    cases = {"mtl": (Regression(mean="e", spread="sig", spread_name="sigma",
                                spread_on_rating_scale=False), 660),
             "stl_e": (Regression(mean="e", spread=None, spread_on_rating_scale=False), 330),
             "stl_sigma": (Regression(mean=None, spread="sig", spread_name="sigma",
                                      spread_on_rating_scale=False), 330),
             "mean_only_on_rating_scale": (Regression(mean="e", spread=None), 330)}
    for name, (out, height) in cases.items():
        calls.clear()
        ctx = _eval_context(tmp_path / name, out)
        assert evaluators.run(["figures"], ctx) == {}
        files = sorted(p.name for p in (tmp_path / name / "out").iterdir())
        assert files == ["recording_rec_a_arousal.png", "recording_rec_a_valence.png"], name
        for f in files:
            assert matplotlib.image.imread(tmp_path / name / "out" / f).shape[:2] == (
                height, 1210), (name, f)
        (targets, mean, spread, d, _), kw = calls[0]
        assert d == 0 and kw["hop_s"] == 0.1 and kw["spread_label"] == out.spread_name
        assert targets is ctx.targets["rec_a"]
        assert (mean is None) == (out.mean is None) and (spread is None) == (out.spread is None)
        if out.mean:
            np.testing.assert_array_equal(mean, ctx.preds["rec_a"]["e"])
        if out.spread:
            np.testing.assert_array_equal(spread, ctx.preds["rec_a"]["sig"])
    # no time base: no recording figure
    ctx = _eval_context(tmp_path / "utt", cases["mtl"][0], hop_s=None)
    evaluators.run(["figures"], ctx)
    assert list((tmp_path / "utt" / "out").iterdir()) == []


def test_figures_of_a_spread_on_the_rating_scale_keep_the_band_plot(tmp_path, monkeypatch):
    from seru import evaluators, plots
    from seru.systems.base import Regression

    monkeypatch.setattr(plots, "plot_state_and_spread", lambda *a, **k: pytest.fail("panels"))
    ctx = _eval_context(tmp_path, Regression(mean="m", spread="s"), ratings=True)
    evaluators.run(["figures"], ctx)
    out = tmp_path / "out"
    assert sorted(p.name for p in out.iterdir()) == [
        "recording_rec_a_arousal.png", "recording_rec_a_valence.png",
        "std_scatter_arousal.png", "std_scatter_valence.png"]
    assert matplotlib.image.imread(out / "recording_rec_a_valence.png").shape[:2] == (660, 1210)
    assert matplotlib.image.imread(out / "std_scatter_valence.png").shape[:2] == (550, 550)


def test_calibration_evaluator_matches_seru_calibration_and_draws_its_figure(tmp_path):
    """The 'calibration' evaluator on two recordings of two dimensions: each metric equals
    seru.calibration's on the valid frames of that dimension (its own oracle tests are in
    tests/test_calibration.py), the plain names are the dimensions' mean, the figure is
    written; a system without a std on the rating scale gets nothing."""
    from scipy.stats import kstest, norm, spearmanr

    from seru import calibration, evaluators
    from seru.systems.base import Regression

    ctx = _eval_context(tmp_path, Regression(), ratings=True)
    got = evaluators.run(["calibration"], ctx)
    for k, dim in enumerate(("arousal", "valence")):
        y = _valid(ctx, ctx.targets, "gold")[:, k].astype(np.float64)
        m = _valid(ctx, ctx.preds, "m_hat")[:, k].astype(np.float64)
        s = _valid(ctx, ctx.preds, "s_hat")[:, k].astype(np.float64)
        r = _valid(ctx, ctx.targets, "ratings")[:, k]
        assert got[f"cal_error/{dim}"] == pytest.approx(calibration.calibration_error(y, m, s))
        sf = np.maximum(s, 0.01)
        assert got[f"cal_nll/{dim}"] == pytest.approx(-norm.logpdf(y, m, sf).mean(), rel=1e-5)
        z = (y - m) / sf  # CRPS of a normal, Gneiting & Raftery 2007 Eq. (5), via scipy
        crps = sf * (z * (2 * norm.cdf(z) - 1) + 2 * norm.pdf(z) - 1 / np.sqrt(np.pi))
        assert got[f"cal_crps/{dim}"] == pytest.approx(crps.mean(), rel=1e-5)
        assert got[f"cal_coverage_90/{dim}"] == pytest.approx(
            np.mean(np.abs(y - m) <= norm.ppf(0.95) * s), rel=1e-6)
        assert got[f"cal_ence/{dim}"] == pytest.approx(calibration.ence(y, m, s))
        assert got[f"cal_pit_ks/{dim}"] == pytest.approx(
            kstest(calibration.pit(y, m, s), "uniform").statistic)
        inside = np.abs(r - m[:, None]) <= 1.6448536269514722 * s[:, None]
        assert got[f"cal_coverage_90_ratings/{dim}"] == pytest.approx(
            inside[np.isfinite(r)].mean(), rel=1e-6)
        std = _valid(ctx, ctx.targets, "std")[:, k]
        assert got[f"cal_spearman_std/{dim}"] == pytest.approx(spearmanr(s, std).statistic)
        assert got[f"cal_reject_area/{dim}"] == pytest.approx(calibration.reject_area(y, m, s))
        assert got[f"cal_reject_area_oracle/{dim}"] == pytest.approx(
            calibration.reject_area(y, m, np.abs(y - m)))
        assert got[f"cal_reject_area_oracle/{dim}"] >= got[f"cal_reject_area/{dim}"]
    assert got["cal_error"] == pytest.approx(
        (got["cal_error/arousal"] + got["cal_error/valence"]) / 2)
    assert (tmp_path / "out" / "calibration.png").stat().st_size > 0
    # a spread that is not a std on the rating scale: a ranking only, no calibration
    entropy = _eval_context(tmp_path / "e", Regression(spread_name="entropy"))
    got_e = evaluators.run(["calibration"], entropy)
    assert sorted(k for k in got_e if "/" not in k) == [
        "cal_reject_area", "cal_reject_area_oracle", "cal_spearman_std"]
    assert not (tmp_path / "e" / "out" / "calibration.png").exists()
    assert evaluators.run(["calibration"], _eval_context(tmp_path / "n", Regression(
        spread=None))) == {}


def test_dev_is_predicted_once_for_every_fit(monkeypatch, toy_config):
    """The post-processing and the conformal thresholds are fitted on one prediction of dev;
    the evaluated split's own prediction is reused when it is dev."""
    calls = []
    monkeypatch.setattr(evaluation, "predict_split",
                        lambda system, params, ds, split, *a: calls.append(split) or {"r": split})
    toy_config.data.dev_split = "dev"
    dev = evaluation.dev_predictions(None, None, toy_config, lambda s: f"ds:{s}", None, 1, None)
    assert dev("a") == dev("b") == ("dev", "ds:dev", {"r": "dev"}) and calls == ["dev"]
    made = evaluation.dev_predictions(None, None, toy_config, lambda s: f"ds:{s}", None, 1, None,
                                      made={"dev": {"r": "made"}})
    assert made("a")[2] == {"r": "made"} and calls == ["dev"]
    toy_config.data.dev_split = ""
    with pytest.raises(config_lib.ConfigError, match="eval.conformal .* is fitted on dev"):
        evaluation.dev_predictions(None, None, toy_config, str, None, 1, None)(
            "eval.conformal (the thresholds)")
