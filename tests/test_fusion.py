"""Tests of the late-fusion job (seru/fusion.py, python -m seru.fuse): weights fitted on dev
only, by least squares on the frames valid in every run, scored on test against numpy."""

import json

import numpy as np
import pytest

from seru import config as config_lib
from seru import fusion
from toy_system import np_ccc


def _run(tmp_path, name, toy_config, make_pred, seed):
    """A fake evaluated toy run: config.json and eval/{dev,test}/predictions.npz."""
    w = tmp_path / name
    w.mkdir()
    config_lib.save(toy_config, w)
    rng = np.random.default_rng(seed)
    for split, n_items in (("dev", 3), ("test", 2)):
        arrays = {}
        for i in range(n_items):
            trng = np.random.default_rng(100 * (split == "test") + i)  # same targets in every run
            gold = trng.normal(size=(80, 1))
            std = trng.uniform(size=(80, 1))
            mask = (trng.random(80) > 0.1).astype(np.float32)
            if name == "b":
                mask[:5] = 0  # this run has frames the other has not
            arrays.update({f"{split}{i}/m_hat": make_pred(gold, rng), f"{split}{i}/s_hat":
                           make_pred(std, rng), f"{split}{i}/target_gold": gold,
                           f"{split}{i}/target_std": std, f"{split}{i}/target_mask": mask})
        (w / "eval" / split).mkdir(parents=True)
        np.savez(w / "eval" / split / "predictions.npz", **arrays)
    return w


def test_fusion_fits_on_dev_and_scores_on_common_frames(toy_config, tmp_path):
    a = _run(tmp_path, "a", toy_config, lambda y, r: y + 0.5 * r.normal(size=y.shape), 1)
    b = _run(tmp_path, "b", toy_config, lambda y, r: 0.5 * y + 0.2 + 0.3 * r.normal(size=y.shape), 2)
    res = fusion.fuse([a, b], "test", tmp_path / "out")
    za = [np.load(w / "eval" / s / "predictions.npz") for w in (a, b) for s in ("dev", "test")]
    dev_a, test_a, dev_b, test_b = za
    # weights: numpy least squares on dev frames valid in both runs
    ids = ["dev0", "dev1", "dev2"]
    ok = np.concatenate([(dev_a[f"{i}/target_mask"] > 0) & (dev_b[f"{i}/target_mask"] > 0)
                         for i in ids])
    X = np.stack([np.ones(ok.size)] + [np.concatenate([z[f"{i}/m_hat"][:, 0] for i in ids])
                                        for z in (dev_a, dev_b)], 1)[ok]
    y = np.concatenate([dev_a[f"{i}/target_gold"][:, 0] for i in ids])[ok]
    np.testing.assert_allclose(res["weights"]["m_hat"][0], np.linalg.lstsq(X, y, rcond=None)[0],
                               rtol=1e-4, atol=1e-5)
    # fused test CCC by hand on the common frames
    tids = ["test0", "test1"]
    okt = np.concatenate([(test_a[f"{i}/target_mask"] > 0) & (test_b[f"{i}/target_mask"] > 0)
                          for i in tids])
    w = np.asarray(res["weights"]["m_hat"][0])
    fused = w[0] + sum(w[k + 1] * np.concatenate([z[f"{i}/m_hat"][:, 0] for i in tids])
                       for k, z in enumerate((test_a, test_b)))
    g = np.concatenate([test_a[f"{i}/target_gold"][:, 0] for i in tids])
    assert res["fused"]["ccc_m"] == pytest.approx(np_ccc(fused[okt], g[okt]), rel=1e-4)
    assert res["num_frames"] == int(okt.sum())
    single_a = np.concatenate([test_a[f"{i}/m_hat"][:, 0] for i in tids])[okt]
    assert res["single"][str(a)]["ccc_m"] == pytest.approx(np_ccc(single_a, g[okt]), rel=1e-4)
    assert 0.0 <= res["p_fused_vs_best"]["ccc_m"] <= 1.0
    saved = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert saved["fitted_on"] == "dev" and saved["fused"] == res["fused"]
    # the test split's targets never enter the fit: changing them leaves the weights
    z = dict(np.load(b / "eval" / "test" / "predictions.npz"))
    z["test0/target_gold"] = z["test0/target_gold"] * 10
    np.savez(b / "eval" / "test" / "predictions.npz", **z)
    assert fusion.fuse([a, b], "test", tmp_path / "out2")["weights"] == res["weights"]


def test_fusion_needs_evaluated_runs(toy_config, tmp_path):
    a = _run(tmp_path, "a", toy_config, lambda y, r: y, 1)
    with pytest.raises(config_lib.ConfigError, match="at least two"):
        fusion.fuse([a])
    (tmp_path / "c").mkdir()
    config_lib.save(toy_config, tmp_path / "c")
    with pytest.raises(FileNotFoundError, match="python -m seru.evaluate --workdir"):
        fusion.fuse([a, tmp_path / "c"])
