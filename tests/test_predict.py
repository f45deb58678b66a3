"""Tests of the Predictor (seru/inference.py) and ``python -m seru.predict``: predictions for
arrays and files equal the evaluation's, every documented form of the command line works."""

import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import soundfile

from seru import evaluation, predict, trainer
from seru.data import pipeline
from seru.inference import Predictor, item_ids
from toy_system import REPO, ToySystem, make_record


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A toy run whose dev split is one clip, evaluated; the clip as a wav file."""
    from toy_system import make_toy_config, make_toy_records

    tmp = tmp_path_factory.mktemp("run")
    cfg = make_toy_config()
    cfg.train.num_epochs, cfg.train.eval_every_epochs = 1, 0
    cfg.eval.median_window = 3
    rec = make_record("clip", 37, seed=7)
    recs = {"train": [pipeline.preprocess_record(r, ("arousal",))
                      for r in make_toy_records()["train"]],
            "dev": [pipeline.preprocess_record(rec, ("arousal",))]}
    ds = pipeline.from_recordings(recs, cfg)
    trainer.train_and_evaluate(cfg, tmp / "w", dataset=ds)
    evaluation.evaluate_checkpoint(tmp / "w", "dev", dataset=ds, system=ToySystem(cfg),
                                   verbose=False)
    npz = dict(np.load(tmp / "w" / "eval" / "dev" / "predictions.npz"))
    for sub in ("a", "b"):
        (tmp / sub).mkdir()
        soundfile.write(tmp / sub / "clip.wav", rec["audio"], 16000, subtype="FLOAT")
    return {"tmp": tmp, "workdir": tmp / "w", "npz": npz, "audio": rec["audio"], "ds": ds,
            "config": cfg}


def test_predictor_array_and_file_equal_evaluation(trained):
    p = Predictor.from_workdir(trained["workdir"])
    npz = trained["npz"]
    df = p.predict(trained["audio"], 16000, file="clip")
    assert list(df.columns) == ["arousal_mean", "arousal_spread"]
    assert df.index.names == ["file", "start", "end"] and len(df) == 37
    np.testing.assert_allclose(df["arousal_mean"], npz["clip/m_hat"][:, 0], atol=1e-6)
    np.testing.assert_allclose(df["arousal_spread"], npz["clip/s_hat"][:, 0], atol=1e-6)
    starts = df.index.get_level_values("start").total_seconds()
    ends = df.index.get_level_values("end").total_seconds()
    np.testing.assert_allclose(starts, np.arange(37) * 0.04, atol=1e-9)
    np.testing.assert_allclose(ends - starts, 0.04, atol=1e-9)
    files = p.predict_files([trained["tmp"] / "a" / "clip.wav"])
    np.testing.assert_array_equal(files.to_numpy(), df.to_numpy())
    assert files.attrs["spread"].startswith("the model's predictive spread")
    assert "gain" in files.attrs["input_level"]


def test_item_ids_unique_for_equal_stems():
    assert item_ids(["x/a.wav", "y/b.wav"]) == ["a", "b"]
    assert item_ids(["d/a/clip.wav", "d/b/clip.wav"]) == ["a/clip", "b/clip"]
    assert item_ids(["a/clip.wav", "a/clip.wav"]) == ["a/clip", "a/clip#1"]


def _cli(args):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO / "tests"), str(REPO)]),
               JAX_PLATFORMS="cpu")
    return subprocess.run([sys.executable, "-m", "seru.predict", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)


def test_cli_positional_files_equal_stems_and_audio_flag(trained):
    tmp, npz = trained["tmp"], trained["npz"]
    a, b = str(tmp / "a" / "clip.wav"), str(tmp / "b" / "clip.wav")
    out = _cli([f"--workdir={trained['workdir']}", f"--out={tmp / 'pred'}", a, b])
    assert out.returncode == 0, out.stderr[-3000:]
    assert f"wrote {tmp / 'pred' / 'predictions.csv'}" in out.stdout
    table = pd.read_csv(tmp / "pred" / "predictions.csv")
    assert sorted(set(table["file"])) == ["a/clip", "b/clip"] and len(table) == 2 * 37
    for ident in ("a/clip", "b/clip"):
        rows = table[table["file"] == ident]
        np.testing.assert_allclose(rows["start"], np.arange(37) * 0.04, atol=1e-6)
    # The first file sits where the evaluation had the clip (row 0 of batch 0: the same MC
    # draws); the second, in row 1, gets other dropout draws of the same model.
    first = table[table["file"] == "a/clip"]
    np.testing.assert_allclose(first["arousal_mean"], npz["clip/m_hat"][:, 0], atol=1e-5)
    meta = json.loads((tmp / "pred" / "predictions.json").read_text())
    assert meta["dimensions"] == ["arousal"] and meta["frame_hop_s"] == 0.04
    out = _cli([f"--workdir={trained['workdir']}", f"--out={tmp / 'pred2'}", f"--audio={a}"])
    assert out.returncode == 0, out.stderr[-3000:]
    again = pd.read_csv(tmp / "pred2" / "predictions.csv")
    np.testing.assert_allclose(again["arousal_mean"], npz["clip/m_hat"][:, 0], atol=1e-5)
    out = _cli([f"--workdir={trained['workdir']}", str(tmp / "missing.wav")])
    assert out.returncode != 0 and "missing.wav: audio file not found" in out.stderr


def test_predict_files_returns_frame_and_path(trained):
    df, csv = predict.predict_files(trained["workdir"], [trained["tmp"] / "a" / "clip.wav"],
                                    trained["tmp"] / "pred3")
    assert csv.exists() and len(df) == 37


def test_predictor_compiles_once_for_any_length(trained):
    """Every call runs batches of the same shape (segments of data.eval_seq_len frames): the MC
    prediction is traced and compiled once, whatever the recordings' lengths."""
    p = Predictor.from_workdir(trained["workdir"])
    rng = np.random.default_rng(3)
    lengths = (5, 37, 61)
    for n in lengths:
        df = p.predict((0.1 * rng.normal(size=n * 640)).astype(np.float32), 16000)
        assert len(df) == n
    assert p._predict_fn._cache_size() == 1


def test_predict_stops_on_audio_it_cannot_predict(trained):
    """A 0-sample wav, a float wav whose second half is NaN, digital zero: the Predictor
    raises AudioError naming the file (an array names its ``file``), the command line stops
    with that message and exit status 1; nothing is written."""
    from seru.data.audio import AudioError

    tmp = trained["tmp"] / "bad"
    tmp.mkdir()
    half = np.full(16000, 0.1, np.float32)
    half[8000:] = np.nan
    soundfile.write(tmp / "nan.wav", half, 16000, subtype="FLOAT")
    soundfile.write(tmp / "empty.wav", np.zeros(0, np.float32), 16000)
    soundfile.write(tmp / "zero.wav", np.zeros(1600, np.float32), 16000)
    p = Predictor.from_workdir(trained["workdir"])
    for name, what in (("nan", "not finite"), ("empty", "0 samples"), ("zero", "digital zero")):
        with pytest.raises(AudioError, match=f"{name}.wav: .*{what}"):
            p.predict_files([tmp / f"{name}.wav"])
    with pytest.raises(AudioError, match="mine: 8000 of 16000 samples are not finite"):
        p.predict(half, 16000, file="mine")
    out = subprocess.run([sys.executable, "-m", "seru.predict", "--workdir",
                          str(trained["workdir"]), "--out", str(tmp / "p.csv"),
                          str(tmp / "empty.wav")], capture_output=True, text=True,
                         env=dict(os.environ, PYTHONPATH=str(REPO / "tests")), timeout=300)
    assert out.returncode == 1 and "empty.wav: empty audio (0 samples)" in out.stderr
    assert not (tmp / "p.csv").exists()


def test_predictor_returns_the_conformal_interval_of_a_calibrated_run(trained, tmp_path):
    import shutil

    workdir = tmp_path / "w"
    shutil.copytree(trained["workdir"], workdir)
    assert Predictor.from_workdir(workdir).conformal is None
    metrics = evaluation.evaluate_checkpoint(
        workdir, "dev", dataset=trained["ds"], system=ToySystem(trained["config"]),
        verbose=False, conformal=True, conformal_unit="frame")
    # dev is the calibration split here: coverage at least 1 - alpha by construction
    assert metrics["conformal_frame_coverage"] >= 0.9 and metrics["conformal_q"] == np.inf
    written = json.loads((workdir / "eval" / "dev" / "metrics.json").read_text())
    assert written["conformal"]["unit"] == "frame" and written["conformal"]["alpha"] == 0.1
    npz = dict(np.load(workdir / "eval" / "dev" / "predictions.npz"))
    q = metrics["conformal_frame_q"]
    fitted = json.loads(next((workdir / "eval").glob("conformal_*.json")).read_text())
    floor = fitted["outputs"]["m_hat"]["s_floor"][0]
    np.testing.assert_allclose(npz["clip/m_hat_upper"] - npz["clip/m_hat"],
                               q * np.maximum(npz["clip/s_hat"], floor), rtol=1e-5)
    df = Predictor.from_workdir(workdir).predict(trained["audio"], 16000, file="clip")
    assert list(df.columns) == ["arousal_mean", "arousal_spread", "arousal_lower",
                                "arousal_upper"]
    np.testing.assert_allclose(df["arousal_lower"], npz["clip/m_hat_lower"][:, 0], atol=1e-5)
    np.testing.assert_allclose(df["arousal_upper"], npz["clip/m_hat_upper"][:, 0], atol=1e-5)
    assert df.attrs["conformal"]["unit"] == "frame"
