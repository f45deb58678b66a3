"""A system owns its contract: what the toy system of the tests shows through the real loop,
evaluation job and Predictor -- a post-processing fitted on dev and applied to test, and the
per-speaker breakdown -- without a line of system-specific code outside its module."""

import json

import numpy as np

from seru import evaluation, trainer
from seru.data import pipeline
from toy_system import ToySystem, make_record, np_ccc


class BiasCorrectedToy(ToySystem):
    """The toy with a post-processing that is fitted: the mean offset of m_hat from the gold
    standard on the fitting split, subtracted everywhere (han17's chain is the real case)."""

    def fit_postprocess(self, predictions, targets):
        diffs = [np.asarray(predictions[r]["m_hat"])[np.asarray(t["mask"]) > 0]
                 - np.asarray(t["gold"])[np.asarray(t["mask"]) > 0] for r, t in targets.items()]
        return {"bias": np.concatenate(diffs).mean(0).tolist()}

    def postprocess(self, predictions, fitted):
        out = super().postprocess(predictions, fitted)
        out["m_hat"] = out["m_hat"] - np.asarray(fitted["bias"], np.float32)
        return out


def _records(speakers=("ann", "bob")):
    recs = {"train": [make_record(f"train_{i}", 60 + 7 * i, seed=i) for i in range(3)],
            "dev": [make_record(f"dev_{i}", 50 + 9 * i, seed=10 + i) for i in range(2)],
            "test": [make_record(f"test_{i}", 40 + 11 * i, seed=20 + i) for i in range(4)]}
    for i, r in enumerate(recs["test"]):
        r["speaker"] = speakers[i % len(speakers)].encode()
    return {k: [pipeline.preprocess_record(r, ("arousal",)) for r in v] for k, v in recs.items()}


def test_postprocess_fitted_on_dev_is_applied_to_test(toy_config, tmp_path):
    cfg = toy_config
    cfg.system = "test_system_contract:BiasCorrectedToy"
    cfg.train.num_epochs, cfg.train.eval_every_epochs = 1, 0
    ds = pipeline.from_recordings(_records(), cfg)
    trainer.train_and_evaluate(cfg, tmp_path, dataset=ds)
    system = BiasCorrectedToy(cfg)
    metrics = evaluation.evaluate_checkpoint(tmp_path, "test", dataset=ds, system=system,
                                             verbose=False)
    fitted = json.loads((tmp_path / "eval" / "postprocess_best_train_loss_2.json").read_text())
    assert fitted["fitted_on"] == "dev"
    # The bias by hand: dev predictions with the evaluation's key, against dev's gold standard.
    params, _ = evaluation.restore_params(tmp_path, cfg, system, ds)
    mesh = __import__("seru.sharding", fromlist=["make_mesh"]).make_mesh()
    raw_dev = evaluation.predict_split(system, params, ds, "dev", evaluation.eval_rng(cfg),
                                       cfg.eval.num_samples, mesh)
    t_dev = ds.targets("dev")
    d = np.concatenate([raw_dev[r]["m_hat"][t["mask"] > 0] - t["gold"][t["mask"] > 0]
                        for r, t in t_dev.items()])
    np.testing.assert_allclose(fitted["bias"], d.mean(0), rtol=1e-5, atol=1e-7)
    npz = np.load(tmp_path / "eval" / "test" / "predictions.npz")
    m, g = [], []
    for rid, t in ds.targets("test").items():
        np.testing.assert_allclose(npz[f"{rid}/m_hat"], npz[f"{rid}/m_hat_raw"] - d.mean(0),
                                   atol=1e-6)
        m.append(npz[f"{rid}/m_hat"][t["mask"] > 0]), g.append(t["gold"][t["mask"] > 0])
    np.testing.assert_allclose(metrics["ccc_m"], np_ccc(np.concatenate(m).ravel(),
                                                        np.concatenate(g).ravel()), rtol=1e-5)
    saved = json.loads((tmp_path / "eval" / "test" / "metrics.json").read_text())
    assert saved["postprocess"]["bias"] == fitted["bias"]
    # The Predictor applies the same fitted post-processing to new audio.
    from seru.inference import Predictor

    rec = ds.recordings["test"][0]
    df = Predictor.from_workdir(tmp_path).predict(rec.audio, 16000, file=rec.id)
    np.testing.assert_allclose(df["arousal_mean"], npz[f"{rec.id}/m_hat"][:, 0], atol=1e-6)


def test_per_speaker_breakdown(toy_config, tmp_path):
    cfg = toy_config
    cfg.train.num_epochs, cfg.train.eval_every_epochs = 1, 0
    cfg.eval.evaluators = ("metrics", "per_speaker")
    ds = pipeline.from_recordings(_records(), cfg)
    trainer.train_and_evaluate(cfg, tmp_path, dataset=ds)
    metrics = evaluation.evaluate_checkpoint(tmp_path, "test", dataset=ds, verbose=False)
    npz = np.load(tmp_path / "eval" / "test" / "predictions.npz")
    for spk, ids in (("ann", ("test_0", "test_2")), ("bob", ("test_1", "test_3"))):
        v = [npz[f"{i}/target_mask"] > 0 for i in ids]
        m = np.concatenate([npz[f"{i}/m_hat"][k] for i, k in zip(ids, v)]).ravel()
        g = np.concatenate([npz[f"{i}/target_gold"][k] for i, k in zip(ids, v)]).ravel()
        np.testing.assert_allclose(metrics[f"speaker/{spk}/ccc_m"], np_ccc(m, g), rtol=1e-5)
        assert str(npz[f"{ids[0]}/target_speaker"]) == spk
    assert {k.split("/")[1] for k in metrics if k.startswith("speaker/")} == {"ann", "bob"}
