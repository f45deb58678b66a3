"""Tests of seru/predict.py: predictions for audio files equal the evaluation's."""

import numpy as np
import soundfile

from seru import config as config_lib
from seru import evaluation, predict, sharding, trainer
from seru.data import pipeline
from toy_system import ToySystem, make_record


def test_predict_files_equal_evaluation_predictions(toy_config, toy_records, tmp_path):
    cfg = toy_config
    cfg.train.num_epochs, cfg.train.eval_every_epochs = 1, 0
    cfg.eval.median_window = 3
    rec = make_record("clip", 37, seed=7)
    recs = {"train": [pipeline.preprocess_record(r, ("arousal",)) for r in toy_records["train"]],
            "dev": [pipeline.preprocess_record(rec, ("arousal",))]}
    ds = pipeline.from_recordings(recs, cfg)
    trainer.train_and_evaluate(cfg, tmp_path, dataset=ds)
    evaluation.evaluate_checkpoint(tmp_path, "dev", dataset=ds, system=ToySystem(cfg),
                                verbose=False)
    npz = np.load(tmp_path / "eval" / "dev" / "predictions.npz")
    wav = tmp_path / "clip.wav"
    soundfile.write(wav, rec["audio"], 16000, subtype="FLOAT")
    out = predict.predict_files(tmp_path, [str(wav)], tmp_path / "pred")
    np.testing.assert_allclose(out["clip"]["m_hat"], npz["clip/m_hat"], atol=1e-6)
    np.testing.assert_allclose(out["clip"]["s_hat"], npz["clip/s_hat"], atol=1e-6)
    csv = np.loadtxt(tmp_path / "pred" / "clip.csv", delimiter=",", skiprows=1)
    assert csv.shape == (37, 3)
    np.testing.assert_allclose(csv[:, 0], np.arange(37) * 0.04, atol=1e-6)
    np.testing.assert_allclose(csv[:, 1], npz["clip/m_hat"][:, 0], atol=1e-4)
    np.testing.assert_allclose(csv[:, 2], npz["clip/s_hat"][:, 0], atol=1e-4)
