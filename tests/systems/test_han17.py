"""Tests of the han17 system (seru/systems/han17.py): the losses of Eqs. (7)-(8) by hand,
the metrics against audmetric, the AVEC chain fitted on dev only, and the declared outputs."""

import audmetric
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from seru import postprocess
from seru.systems.han17 import Han17, default_model_config

B, T, F = 3, 20, 6


def _config(task="mtl", dims=("arousal", "valence"), **model):
    c = ml_collections.ConfigDict()
    c.model = default_model_config()
    c.model.update(task=task, hidden=4, **model)
    c.data = ml_collections.ConfigDict({"dimensions": dims})
    return c


def _batch(d=2, seed=0):
    r = np.random.default_rng(seed)
    mask = np.ones((B, T), np.float32)
    mask[1, -5:] = 0
    mask[2, 3] = 0  # an unrated frame inside
    return {"features": r.normal(size=(B, T, F)).astype(np.float32),
            "gold": r.normal(size=(B, T, d)).astype(np.float32),
            "std": r.uniform(size=(B, T, d)).astype(np.float32), "mask": mask}


@pytest.mark.parametrize("task, w_e", [("mtl", 0.3), ("mtl", 2.0), ("stl_e", 1.0),
                                       ("stl_sigma", 1.0)])
def test_loss_is_eq7_by_hand(task, w_e):
    system = Han17(_config(task, w_e=w_e))
    batch = _batch()
    params = system.init(jax.random.key(0), batch)
    loss, terms = system.loss(params, batch, jax.random.key(1))
    # the same forward pass by hand: the noise of the key, lengths to the last rated frame
    lengths = jnp.asarray([T, T - 5, T])
    out = np.asarray(system.model.apply(params, jnp.asarray(batch["features"]), lengths,
                                        noise_key=jax.random.key(1)))
    m = batch["mask"][..., None] > 0
    mse = lambda p, y: float(np.mean((p - y)[np.broadcast_to(m, p.shape)] ** 2))
    if task == "mtl":
        e, s = out[..., :2], out[..., 2:]
        expected = w_e * mse(e, batch["gold"]) + (2 - w_e) * mse(s, batch["std"])
        assert terms["mse_e"] == pytest.approx(mse(e, batch["gold"]), rel=1e-5)
    elif task == "stl_e":
        expected = mse(out, batch["gold"])
    else:
        expected = mse(out, batch["std"])
    assert float(loss) == pytest.approx(expected, rel=1e-5)


def test_outputs_predict_and_metrics():
    for task, mean, spread in (("mtl", "e_hat", "sigma_hat"), ("stl_e", "e_hat", None),
                               ("stl_sigma", None, "sigma_hat")):
        system = Han17(_config(task))
        (o,) = system.outputs
        assert (o.mean, o.spread) == (mean, spread)
        params = system.init(jax.random.key(0), _batch())
        out = system.predict(params, _batch(), jax.random.key(5))
        assert set(out) == {k for k in (mean, spread) if k}
        assert all(v.shape == (B, T, 2) for v in out.values())
        np.testing.assert_array_equal(  # deterministic: the key is not used
            out[next(iter(out))], system.predict(params, _batch(), jax.random.key(6))[next(iter(out))])
    r = np.random.default_rng(1)
    p = {"e_hat": r.normal(size=(50, 2)), "sigma_hat": r.uniform(size=(50, 2))}
    t = {"gold": r.normal(size=(50, 2)), "std": r.uniform(size=(50, 2))}
    res = Han17(_config("mtl")).evaluate(p, t)
    for d, dim in enumerate(("arousal", "valence")):
        assert res[f"ccc_e/{dim}"] == pytest.approx(
            audmetric.concordance_cc(t["gold"][:, d], p["e_hat"][:, d]), rel=1e-5)
        assert res[f"rmse_sigma/{dim}"] == pytest.approx(
            np.sqrt(np.mean((p["sigma_hat"][:, d] - t["std"][:, d]) ** 2)), rel=1e-5)
    assert res["ccc_e"] == pytest.approx((res["ccc_e/arousal"] + res["ccc_e/valence"]) / 2)


def test_chain_fitted_on_dev_undoes_an_affine_distortion():
    """The chain per output and dimension is fit_chain_sequences on the given (dev) items;
    the evaluation job passes it dev only (tests/test_system_contract.py)."""
    system = Han17(_config("mtl", dims=("arousal",)))
    r = np.random.default_rng(2)
    dev = {f"d{i}": {"gold": r.normal(size=(60, 1)), "std": r.uniform(size=(60, 1)),
                     "mask": np.ones(60)} for i in range(2)}
    raw = {k: {"e_hat": 0.5 * v["gold"] + 0.2, "sigma_hat": v["std"] * 2 - 0.1}
           for k, v in dev.items()}
    fitted = system.fit_postprocess(raw, dev)
    ref = postprocess.fit_chain_sequences([raw[k]["e_hat"][:, 0] for k in dev],
                                          [dev[k]["gold"][:, 0] for k in dev])
    assert fitted["chain"]["e_hat"][0] == ref._asdict()
    # centring + scaling undo the affine distortion on dev
    out = system.postprocess(raw["d0"], fitted)
    np.testing.assert_allclose(out["e_hat"], dev["d0"]["gold"], atol=0.1)
    assert Han17(_config("mtl", chain=False)).postprocess_needs_fit is False


def test_config_checks():
    assert Han17.check_config(_config(w_e=2.5)) == [
        "model.w_e=2.5: expected in [0, 2] (w_E + w_sigma = 2, Eq. (8))"]
    assert Han17.check_config(_config()) == []
    bad = _config("sweep", sweep_w_e=(0.5, 2.5))
    bad.optimizer = ml_collections.ConfigDict({"grad_clip_norm": 1.0})
    errors = Han17.check_config(bad)
    assert len(errors) == 2 and "sweep_w_e=(0.5, 2.5)" in errors[0]
    assert "couples the sweep's members" in errors[1]


def _train(system, tx, batches, seed=0):
    """The trainer's own jitted step (seru.trainer.make_train_step), a few batches."""
    from seru import sharding, trainer

    mesh = sharding.make_mesh()
    state = sharding.init_state(system, tx, jax.random.key(seed), batches[0], mesh)
    step = trainer.make_train_step(system, tx, sharding.replicated(mesh))
    for i, b in enumerate(batches):
        state, metrics = step(state, b, jax.random.fold_in(jax.random.key(seed + 1), i))
    return state["params"], metrics


@pytest.mark.parametrize("program", ["vmap", "unroll"])
def test_sweep_trains_as_the_separate_runs(program):
    """Member k of the sweep (one program) ends where the ``mtl`` run with w_e = w_k ends:
    same init key, same noise keys, Adam element by element, the trainer's step."""
    import optax

    tx = optax.adam(1e-2)
    batches = [_batch(seed=s) for s in range(3)]
    sweep = Han17(_config("sweep", sweep_w_e=(0.4, 1.7), sweep_program=program))
    params, metrics = _train(sweep, tx, batches)
    assert metrics["loss_members"].shape == (2,)
    assert float(metrics["loss"]) == pytest.approx(float(np.sum(metrics["loss_members"])),
                                                   rel=1e-6)
    for k, w in enumerate((0.4, 1.7)):
        single, m1 = _train(Han17(_config("mtl", w_e=w)), tx, batches)
        member = jax.tree.map(lambda a: a[k], params)
        for a, b in zip(jax.tree.leaves(member), jax.tree.leaves(single)):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)
        assert float(metrics["loss_members"][k]) == pytest.approx(float(m1["loss"]), rel=1e-5)
    # the two members did train differently
    assert not np.allclose(*[np.asarray(jax.tree.leaves(params)[0][k]) for k in range(2)])
    out = sweep.predict(params, _batch(), None)
    assert set(out) == {"e_hat_sweep", "sigma_hat_sweep"}
    assert out["e_hat_sweep"].shape == (B, T, 2, 2)


def test_sweep_selects_per_target_and_dimension_on_dev():
    """The member with the best dev CCC per target and dimension is kept, everywhere."""
    system = Han17(_config("sweep", sweep_w_e=(0.0, 1.0, 2.0), chain=False))
    r = np.random.default_rng(3)
    dev = {f"d{i}": {"gold": r.normal(size=(80, 2)), "std": r.uniform(size=(80, 2)),
                     "mask": np.r_[np.ones(70), np.zeros(10)]} for i in range(2)}
    best = {"e_hat": (2, 0), "sigma_hat": (1, 2)}  # (arousal, valence)
    raw = {}
    for rid, t in dev.items():
        p = {}
        for key, target in (("e_hat", "gold"), ("sigma_hat", "std")):
            x = r.normal(size=(80, 2, 3))  # noise members ...
            for d, k in enumerate(best[key]):
                x[:, d, k] = t[target][:, d] + 0.1 * r.normal(size=80)  # ... and the good one
            p[f"{key}_sweep"] = x
        raw[rid] = p
    fitted = system.fit_postprocess(raw, dev)["sweep"]
    assert fitted["selected"] == {"e_hat": [2, 0], "sigma_hat": [1, 2]}
    assert fitted["selected_w_e"] == {"e_hat": [2.0, 0.0], "sigma_hat": [1.0, 2.0]}
    v = dev["d0"]["mask"] > 0
    pooled = lambda key, d, k: np.concatenate([raw[i][f"{key}_sweep"][dev[i]["mask"] > 0, d, k]
                                               for i in dev])
    gold_a = np.concatenate([dev[i]["gold"][dev[i]["mask"] > 0, 0] for i in dev])
    assert fitted["dev_ccc"]["e_hat"][0][1] == pytest.approx(
        audmetric.concordance_cc(gold_a, pooled("e_hat", 0, 1)), rel=1e-6)
    out = system.postprocess(raw["d0"], {"sweep": fitted})
    assert set(out) == {"e_hat", "sigma_hat"}
    np.testing.assert_array_equal(out["e_hat"][:, 0], raw["d0"]["e_hat_sweep"][:, 0, 2])
    np.testing.assert_array_equal(out["sigma_hat"][v, 1], raw["d0"]["sigma_hat_sweep"][v, 1, 2])
    with pytest.raises(ValueError, match="selected on dev"):
        system.postprocess(raw["d0"], {})


@pytest.mark.parametrize("task", ["mtl", "sweep"])
def test_end_to_end_on_the_tiny_corpus(tmp_path, task):
    """configs/han17_blstm.py through the trainer, the evaluation job (chain -- and for the
    sweep the weighting -- fitted on dev) and the Predictor, on the tiny synthetic corpus
    with a small BLSTM."""
    import importlib.util
    import json

    from seru import config as config_lib
    from seru import evaluation, trainer
    from seru.inference import Predictor
    from toy_system import REPO

    spec = importlib.util.spec_from_file_location("han17_cfg", REPO / "configs" / "han17_blstm.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    c = mod.get_config(f"task={task},w_e=1.2")
    c.model.sweep_w_e = (0.5, 1.2)
    c.data.variant, c.data.data_dir = "tiny", str(tmp_path / "data")
    c.data.features.progress = False
    c.data.seq_len, c.data.delay_frames = 50, 10
    c.model.hidden = 8
    c.train.num_epochs, c.train.eval_every_epochs, c.train.progress_bar = 2, 1, False
    config_lib.validate(c)
    trainer.train_and_evaluate(c, tmp_path / "w")
    m = evaluation.evaluate_checkpoint(tmp_path / "w", "test", verbose=False)
    assert set(m) >= {"ccc_e", "rmse_e", "ccc_sigma", "rmse_sigma", "ccc_e/valence"}
    assert all(np.isfinite(v) for v in m.values())
    saved = json.loads((tmp_path / "w" / "eval" / "test" / "metrics.json").read_text())
    fitted = next((tmp_path / "w" / "eval").glob("postprocess_best_dev_*.json"))
    chain = json.loads(fitted.read_text())
    assert chain["fitted_on"] == "dev" and saved["postprocess"]["chain"] == chain["chain"]
    if task == "sweep":
        sel = chain["sweep"]["selected_w_e"]
        assert saved["postprocess"]["sweep"] == chain["sweep"]
        assert all(w in (0.5, 1.2) for ws in sel.values() for w in ws) and len(sel["e_hat"]) == 2
    # metrics recomputed from predictions.npz (post-processed, valid frames)
    npz = np.load(tmp_path / "w" / "eval" / "test" / "predictions.npz")
    ids = sorted({k.split("/")[0] for k in npz.files})
    v = [npz[f"{i}/target_mask"] > 0 for i in ids]
    e = np.concatenate([npz[f"{i}/e_hat"][k, 0] for i, k in zip(ids, v)])
    g = np.concatenate([npz[f"{i}/target_gold"][k, 0] for i, k in zip(ids, v)])
    assert m["ccc_e/arousal"] == pytest.approx(audmetric.concordance_cc(g, e), rel=1e-4)
    # the Predictor serves the run at 100 ms, with the chain applied
    from seru.data import corpora

    _, src = corpora.load("seru_synth_continuous", "tiny", str(tmp_path / "data"), build=False)
    rec = src["test"][0]
    df = Predictor.from_workdir(tmp_path / "w").predict(np.asarray(rec["audio"]), 16000,
                                                        file="x")
    assert list(df.columns) == ["arousal_mean", "valence_mean", "arousal_spread",
                                "valence_spread"]
    ends = df.index.get_level_values("end").total_seconds()
    np.testing.assert_allclose(np.diff(ends), 0.1, atol=1e-9)
