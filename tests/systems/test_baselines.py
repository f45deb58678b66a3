"""Tests of seru/systems/baselines.py and seru/models/heteroscedastic.py: the Gaussian NLL
against scipy, independent ensemble members, the mixture against a closed form, evaluation by
hand, and the whole job through ``python -m seru.train`` / ``seru.evaluate``."""

import json
import os
import subprocess
import sys

import audmetric
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest
import scipy.stats

from seru import losses
from seru.models import heteroscedastic as het
from seru.systems import baselines as BL
from seru.systems.sridhar21 import reject_option_metrics
from toy_system import REPO

B, F_DIM = 8, 6


def config(method="ensemble", members=3, **model):
    c = ml_collections.ConfigDict()
    c.data = ml_collections.ConfigDict({"dimensions": ("arousal",)})
    c.model = ml_collections.ConfigDict({f.path: f.default for f in BL.MODEL_FIELDS})
    c.model.method, c.model.ensemble_members, c.model.hidden = method, members, (8, 8)
    c.model.update(model)
    return c


def batch(seed=0):
    r = np.random.default_rng(seed)
    label_mask = np.ones((B, 1), np.float32)
    label_mask[2] = 0
    mask = np.ones(B, np.float32)
    mask[-1] = 0
    return {"features": r.normal(size=(B, F_DIM)).astype(np.float32),
            "consensus": r.uniform(-1, 1, size=(B, 1)).astype(np.float32),
            "label_mask": label_mask, "mask": mask}


def member(params, i):
    return jax.tree.map(lambda v: v[i], params)


def test_gaussian_nll_loss_matches_scipy():
    r = np.random.default_rng(1)
    y, mean = r.uniform(-1, 1, 20), r.uniform(-1, 1, 20)
    logvar = r.uniform(-4, 1, 20)
    mask = r.uniform(size=20) > 0.3
    y_nan = np.where(mask, y, np.nan)  # a missing target under a 0 of the mask does no harm
    want = -scipy.stats.norm.logpdf(y, mean, np.exp(0.5 * logvar))
    got = losses.gaussian_nll_loss(y_nan, mean, logvar, mask)
    np.testing.assert_allclose(got, want[mask].mean(), rtol=1e-5)
    np.testing.assert_allclose(losses.gaussian_nll_loss(y, mean, logvar), want.mean(), rtol=1e-5)
    g = jax.grad(lambda m, lv: losses.gaussian_nll_loss(y_nan, m, lv, mask), (0, 1))(
        jnp.asarray(mean), jnp.asarray(logvar))
    assert all(np.isfinite(x).all() for x in g)
    assert np.all(np.asarray(g[0])[~mask] == 0) and np.all(np.asarray(g[1])[~mask] == 0)
    # d/d logvar of the NLL: 1/2 - (y - m)^2 / (2 var), per row / number of valid rows
    want_g = (0.5 - (y - mean) ** 2 / (2 * np.exp(logvar))) / mask.sum()
    np.testing.assert_allclose(np.asarray(g[1])[mask], want_g[mask], rtol=1e-4, atol=1e-7)
    assert float(losses.gaussian_nll_loss(y, mean, logvar, np.zeros(20))) == 0.0


def test_system_loss_is_the_mean_of_the_members_nll():
    s = BL.Baselines(config(members=3))
    b = batch()
    params = s.init(jax.random.key(0), b)
    total, terms = s.loss(params, b, jax.random.key(1))
    mean, logvar = (np.asarray(a, np.float64) for a in het.apply_members(
        s.model, params, b["features"]))
    keep = (b["label_mask"][:, 0] * b["mask"]) > 0
    y = b["consensus"][:, 0]
    per = [-scipy.stats.norm.logpdf(y[keep], mean[i, keep], np.exp(0.5 * logvar[i, keep])).mean()
           for i in range(3)]
    np.testing.assert_allclose(total, np.mean(per), rtol=1e-5)
    np.testing.assert_allclose(terms["nll"], total)


def test_members_differ_at_init_each_from_its_own_key():
    s = BL.Baselines(config(members=4))
    b = batch()
    params = s.init(jax.random.key(3), b)
    keys = jax.random.split(jax.random.key(3), 4)
    for i in range(4):
        alone = s.model.init({"params": keys[i]}, jnp.asarray(b["features"]), True)
        jax.tree.map(np.testing.assert_array_equal, member(params, i), alone)
    for leaf in jax.tree_util.tree_leaves(params["params"]["mlp"]):
        if leaf.ndim == 3:  # kernels (biases start at 0)
            flat = np.asarray(leaf).reshape(4, -1)
            assert all(not np.allclose(flat[i], flat[j]) for i in range(4) for j in range(i))


def test_members_train_independently():
    """The gradient of member j's NLL is zero on every other member's parameters, and SGD on
    the ensemble moves each member exactly as SGD on that member alone (lr times M: the loss
    is the mean over members)."""
    m = 3
    s = BL.Baselines(config(members=m))
    b = batch(2)
    params = s.init(jax.random.key(5), b)
    y, w = b["consensus"][:, 0], b["label_mask"][:, 0] * b["mask"]

    def per_member(p):
        mean, logvar = het.apply_members(s.model, p, b["features"])
        return jax.vmap(lambda mu, lv: losses.gaussian_nll_loss(y, mu, lv, w))(mean, logvar)

    jac = jax.jacrev(per_member)(params)  # leaves [M (loss), M (member), ...]
    for leaf in jax.tree_util.tree_leaves(jac):
        leaf = np.asarray(leaf)
        for j in range(m):
            for i in range(m):
                if i != j:
                    assert np.all(leaf[j, i] == 0), (j, i)
        assert any(np.any(leaf[j, j] != 0) for j in range(m))

    def alone_loss(p):
        mean, logvar = s.model.apply(p, b["features"], True)
        return losses.gaussian_nll_loss(y, mean, logvar, w)

    lr, rng = 0.05, jax.random.key(0)
    p_ens, p_one = params, member(params, 1)
    for _ in range(3):
        g = jax.grad(lambda p: s.loss(p, b, rng)[0])(p_ens)
        p_ens = jax.tree.map(lambda p, d: p - lr * m * d, p_ens, g)
        g1 = jax.grad(alone_loss)(p_one)
        p_one = jax.tree.map(lambda p, d: p - lr * d, p_one, g1)
    jax.tree.map(lambda a, c: np.testing.assert_allclose(a, c, rtol=1e-4, atol=1e-6),
                 member(p_ens, 1), p_one)
    assert not np.allclose(member(p_ens, 1)["params"]["mean"]["kernel"],
                           member(params, 1)["params"]["mean"]["kernel"])


def test_mixture_matches_the_closed_form():
    r = np.random.default_rng(7)
    mu, lv = r.normal(size=(5, 11)), r.uniform(-3, 0, size=(5, 11))
    out = jax.tree.map(np.asarray, het.mixture(jnp.asarray(mu), jnp.asarray(lv)))
    var = np.exp(lv)
    m = mu.mean(0)
    # second moment of the uniform mixture minus the squared mean
    np.testing.assert_allclose(out["m_hat"], m, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out["s_hat"], np.sqrt((var + mu**2).mean(0) - m**2), rtol=1e-4)
    np.testing.assert_allclose(out["epistemic_std"], mu.std(0), rtol=1e-4)
    np.testing.assert_allclose(out["aleatoric_std"], np.sqrt(var.mean(0)), rtol=1e-5)
    # one member: the member's own Gaussian
    one = jax.tree.map(np.asarray, het.mixture(jnp.asarray(mu[:1]), jnp.asarray(lv[:1])))
    np.testing.assert_allclose(one["s_hat"], np.exp(0.5 * lv[0]), rtol=1e-5)
    np.testing.assert_array_equal(one["epistemic_std"], 0)


@pytest.mark.parametrize("method", ["hetero", "ensemble"])
def test_predict_is_deterministic_and_matches_the_model(method):
    s = BL.Baselines(config(method, members=3, dropout_rate=0.3))
    b = batch(4)
    params = s.init(jax.random.key(0), b)
    a = s.predict(params, b, jax.random.key(1), 1)
    c = s.predict(params, b, jax.random.key(2), 7)
    jax.tree.map(np.testing.assert_array_equal, a, c)
    keys = {"m_hat", "s_hat"} | ({"epistemic_std", "aleatoric_std"} if method == "ensemble"
                                 else set())
    assert set(a) == keys and all(v.shape == (B, 1) for v in a.values())
    if method == "hetero":
        mean, logvar = s.model.apply(member(params, 0), b["features"], True)
        np.testing.assert_allclose(a["m_hat"][:, 0], mean, rtol=1e-6)
        np.testing.assert_allclose(a["s_hat"][:, 0], np.exp(0.5 * logvar), rtol=1e-6)
    # training mode draws dropout: members' losses differ with the key
    assert s.loss(params, b, jax.random.key(1))[0] != s.loss(params, b, jax.random.key(2))[0]


def test_evaluate_by_hand():
    r = np.random.default_rng(9)
    n = 60
    y = r.uniform(-1, 1, n)
    m = y + r.normal(0, 0.3, n)
    s = r.uniform(0.1, 0.6, n)
    sys_ = BL.Baselines(config())
    preds = {"m_hat": m[:, None], "s_hat": s[:, None], "epistemic_std": 0.5 * s[:, None],
             "aleatoric_std": s[:, None]}
    out = sys_.evaluate(preds, {"gold": y[:, None], "std": r.uniform(0, 1, (n, 1))})
    np.testing.assert_allclose(out["ccc"], audmetric.concordance_cc(y, m), rtol=1e-4)
    np.testing.assert_allclose(out["nll"], -scipy.stats.norm.logpdf(y, m, s).mean(), rtol=1e-5)
    z = scipy.stats.norm.ppf(0.95)
    np.testing.assert_allclose(out["coverage_90"], np.mean(np.abs(y - m) <= z * s), atol=1e-7)
    ro = reject_option_metrics(y, m, s)
    for k, v in ro.items():
        np.testing.assert_allclose(out[k], v, rtol=1e-6, err_msg=k)
    assert {"ccc_cov80", "ccc_q5", "crps", "spearman_unc_std"} <= set(out)
    np.testing.assert_allclose(out["epistemic_std_mean"], 0.5 * s.mean(), rtol=1e-6)


def test_bad_configs_are_clear_errors():
    c = config()
    c.data.dimensions = ("arousal", "valence")
    c.model.ensemble_members = 1
    c.model.dropout_rate = 1.0
    errors = BL.Baselines.check_config(c)
    assert errors == [
        "data.dimensions=('arousal', 'valence'): the baselines train one model per attribute; "
        "set one of them",
        "model.dropout_rate=1.0: expected in [0, 1)",
        "model.ensemble_members=1: expected >= 2 for method 'ensemble'"]
    with pytest.raises(ValueError, match="ensemble_members=1"):
        BL.Baselines(c)
    assert BL.Baselines.check_config(config("hetero", members=1)) == []


def _run(args):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO / "tests"), str(REPO)]),
               JAX_PLATFORMS="cpu")
    return subprocess.run([sys.executable, "-m", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)


def test_cli_train_two_steps_then_evaluate(tmp_path):
    """configs/baselines_utterance.py end to end on the tiny corpus (built and featurised in
    tmp_path): two training steps of the ensemble, then ``seru.evaluate`` on test
    (about 25 s on 2 cores)."""
    wd = tmp_path / "w"
    out = _run(["seru.train", "--config=configs/baselines_utterance.py:method=ensemble",
                f"--workdir={wd}", "--config.data.variant=tiny",
                f"--config.data.data_dir={tmp_path / 'd'}", "--config.train.num_epochs=0",
                "--config.train.num_steps=2", "--config.train.progress_bar=False",
                "--config.data.batch_size=8", "--config.eval.batch_size=8",
                "--config.data.features.progress=False", "--config.eval.splits=()"])
    assert out.returncode == 0, out.stderr[-3000:]
    rows = [json.loads(x) for x in (wd / "metrics.jsonl").read_text().splitlines()]
    assert max(r["step"] for r in rows) == 2
    out = _run(["seru.evaluate", f"--workdir={wd}", "--split=test", "--checkpoint=latest"])
    assert out.returncode == 0, out.stderr[-3000:]
    saved = json.loads((wd / "eval" / "test" / "metrics.json").read_text())
    assert saved["step"] == 2 and saved["outputs"][0]["spread_name"] == "std"
    npz = np.load(wd / "eval" / "test" / "predictions.npz")
    ids = sorted({k.split("/")[0] for k in npz.files})
    y = np.array([npz[f"{i}/target_gold"][0, 0] for i in ids])
    m = np.array([npz[f"{i}/m_hat"][0, 0] for i in ids])
    s = np.array([npz[f"{i}/s_hat"][0, 0] for i in ids])
    epi = np.array([npz[f"{i}/epistemic_std"][0, 0] for i in ids])
    ale = np.array([npz[f"{i}/aleatoric_std"][0, 0] for i in ids])
    np.testing.assert_allclose(s, np.sqrt(epi**2 + ale**2), rtol=1e-5)
    got = saved["metrics"]
    np.testing.assert_allclose(got["ccc"], audmetric.concordance_cc(y, m), rtol=1e-4)
    np.testing.assert_allclose(got["nll"], -scipy.stats.norm.logpdf(y, m, s).mean(), rtol=1e-4)
    assert 0 <= got["coverage_90"] <= 1 and "ccc_cov20" in got
