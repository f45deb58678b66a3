"""Tests of seru/systems/sridhar21.py: losses by hand, MC prediction, evaluation, stages."""

import audmetric
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import pytest

from seru import config as config_lib
from seru import evaluation, sampling
import scipy.special
import scipy.stats

from seru.systems import sridhar21 as S

B, F_DIM = 8, 10


def config(method="vae_er", stage="joint", dim="arousal", **model):
    c = ml_collections.ConfigDict()
    c.data = ml_collections.ConfigDict({"dimensions": (dim,),
                                        "features": {"num_bins": 7}})
    m = S.default_model_config()
    m.method, m.stage = method, stage
    m.encoder_hidden, m.decoder_hidden, m.latent_dim = (16,), (16,), 4
    m.er_hidden, m.dnn_hidden = (8,), (8, 8)
    for k, v in model.items():
        m[k] = v
    c.model = m
    return c


def batch(seed=0, unlabeled_row=None):
    r = np.random.default_rng(seed)
    label_mask = np.ones((B, 1), np.float32)
    if unlabeled_row is not None:
        label_mask[unlabeled_row] = 0
    return {"features": r.normal(size=(B, F_DIM)).astype(np.float32),
            "recon_target": r.uniform(size=(B, F_DIM)).astype(np.float32),
            "consensus": r.uniform(-1, 1, size=(B, 1)).astype(np.float32),
            "soft": r.dirichlet(np.ones(7), size=(B, 1)).astype(np.float32),
            "label_mask": label_mask, "mask": np.ones(B, np.float32)}


def np_bce(t, logits):
    p = scipy.special.expit(np.asarray(logits, np.float64))
    return -(t * np.log(p) + (1 - t) * np.log(1 - p)).sum(-1)


def np_kl(mean, logvar):
    mean, logvar = np.asarray(mean, np.float64), np.asarray(logvar, np.float64)
    return 0.5 * (np.exp(logvar) + mean**2 - 1 - logvar).sum(-1)


def model_out(system, params, b, rng, generative=True):
    k_drop, k_latent = jax.random.split(rng)
    if generative:
        return system.model.apply(params, b["features"], k_latent, False,
                                  rngs={"dropout": k_drop})
    return system.model.apply(params, b["features"], False, rngs={"dropout": k_drop})


@pytest.mark.parametrize("stage", ["pretrain", "joint"])
def test_vae_er_loss_by_hand(stage):
    s = S.Sridhar21(config("vae_er", stage))
    b = batch(unlabeled_row=2)
    params = s.init(jax.random.key(0), b)
    rng = jax.random.key(1)
    total, terms = s.loss(params, b, rng)
    out = jax.tree.map(np.asarray, model_out(s, params, b, rng))
    nll = np.mean(np_bce(b["recon_target"], out["recon_logits"])
                  + np_kl(out["mean"], out["logvar"])) / F_DIM
    np.testing.assert_allclose(terms["nll"], nll, rtol=1e-5)
    if stage == "pretrain":  # Eq. (2) of sridhar21
        np.testing.assert_allclose(total, nll, rtol=1e-5)
        assert "kld" not in terms
        return
    keep = b["label_mask"][:, 0] > 0
    ccc = audmetric.concordance_cc(b["consensus"][keep, 0], out["consensus"][keep])
    kld = np.mean(scipy.stats.entropy(b["soft"][keep, 0], np.exp(out["soft_logp"][keep]),
                                      axis=-1))
    np.testing.assert_allclose(terms["ccc_loss"], 1 - ccc, rtol=1e-4)
    np.testing.assert_allclose(terms["kld"], kld, rtol=1e-4)
    # Eq. (3) of sridhar21 with (alpha, beta, gamma) = (0.5, 0.8, 2)
    np.testing.assert_allclose(total, 0.5 * nll + 0.8 * (1 - ccc) + 2 * kld, rtol=1e-4)


def test_ablations_and_baseline_losses_by_hand():
    b = batch(3)
    rng = jax.random.key(4)
    # B: no soft labels -> no KLD term
    s = S.Sridhar21(config("vae_er", use_soft_labels=False))
    p = s.init(jax.random.key(0), b)
    total, terms = s.loss(p, b, rng)
    np.testing.assert_allclose(total, 0.5 * terms["nll"] + 0.8 * terms["ccc_loss"], rtol=1e-6)
    # A: no distributional constraint -> an AE code, no KL in the NLL
    s = S.Sridhar21(config("vae_er", distributional_constraint=False))
    p = s.init(jax.random.key(0), b)
    assert "logvar" not in p["params"]["encoder"]
    _, terms = s.loss(p, b, rng)
    out = jax.tree.map(np.asarray, model_out(s, p, b, rng))
    np.testing.assert_allclose(terms["nll"], np.mean(np_bce(b["recon_target"],
                                                            out["recon_logits"])) / F_DIM,
                               rtol=1e-5)
    # AE-MCD: MSE reconstruction + (1 - CCC) + KLD
    s = S.Sridhar21(config("ae_mcd"))
    p = s.init(jax.random.key(0), b)
    total, terms = s.loss(p, b, rng)
    out = jax.tree.map(np.asarray, model_out(s, p, b, rng))
    mse = np.mean((scipy.special.expit(out["recon_logits"]) - b["recon_target"]) ** 2)
    ccc = audmetric.concordance_cc(b["consensus"][:, 0], out["consensus"])
    kld = np.mean(scipy.stats.entropy(b["soft"][:, 0], np.exp(out["soft_logp"]), axis=-1))
    np.testing.assert_allclose(total, mse + (1 - ccc) + kld, rtol=1e-4)
    # MCD family
    for method, want in [("mcd", lambda c, k: 1 - c), ("mcd_soft", lambda c, k: k),
                         ("mcd_mtl", lambda c, k: 1 - c + k), ("stl", lambda c, k: 1 - c)]:
        s = S.Sridhar21(config(method))
        p = s.init(jax.random.key(0), b)
        total, _ = s.loss(p, b, rng)
        out = jax.tree.map(np.asarray, model_out(s, p, b, rng, generative=False))
        c = audmetric.concordance_cc(b["consensus"][:, 0], out["consensus"]) \
            if "consensus" in out else None
        k = np.mean(scipy.stats.entropy(b["soft"][:, 0], np.exp(out["soft_logp"]), axis=-1)) \
            if "soft_logp" in out else None
        np.testing.assert_allclose(total, want(c, k), rtol=1e-4, err_msg=method)


def test_dropout_rate_follows_the_paper():
    assert S.Sridhar21(config(dim="valence")).dropout == 0.7
    assert S.Sridhar21(config(dim="arousal")).dropout == 0.5
    assert S.Sridhar21(config(dim="valence", dropout_rate=0.2)).dropout == 0.2


@pytest.mark.parametrize("method", ["vae_er", "mcd"])
def test_a_few_adam_steps_reduce_the_loss(method):
    s = S.Sridhar21(config(method, dropout_rate=0.0))
    b = batch(5)
    params = s.init(jax.random.key(0), b)
    tx = optax.adam(1e-2)
    opt = tx.init(params)
    rng = jax.random.key(9)

    @jax.jit
    def step(params, opt):
        (loss, _), g = jax.value_and_grad(s.loss, has_aux=True)(params, b, rng)
        u, opt = tx.update(g, opt, params)
        return optax.apply_updates(params, u), opt, loss

    losses = []
    for _ in range(25):
        params, opt, loss = step(params, opt)
        losses.append(float(loss))
    assert losses[-1] < 0.7 * losses[0]


def test_predict_vae_er_matches_looped_samples_and_scipy_entropy():
    s = S.Sridhar21(config("vae_er"))
    b = batch(6)
    params = s.init(jax.random.key(0), b)
    rng = jax.random.key(2)
    n = 30
    pred = jax.tree.map(np.asarray, s.predict(params, b, rng, n))
    assert pred["m_hat"].shape == pred["s_hat"].shape == (B, 1)
    assert pred["soft"].shape == (B, 1, 7)
    # loop over the same keys: z = mu + sigma * eps, ER on z
    mean, logvar = s.model.apply(params, b["features"], method="encode")
    probs, cons = [], []
    for key in jax.random.split(rng, n):
        z = mean + jnp.exp(0.5 * logvar) * sampling.normal(key, mean.shape)
        o = s.model.apply(params, z, method="regress")
        probs.append(np.exp(np.asarray(o["soft_logp"], np.float64)))
        cons.append(np.asarray(o["consensus"]))
    p_bar = np.mean(probs, 0)
    np.testing.assert_allclose(pred["soft"][:, 0], p_bar, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(pred["s_hat"][:, 0], scipy.stats.entropy(p_bar, axis=-1),
                               rtol=1e-4)
    np.testing.assert_allclose(pred["m_hat"][:, 0], np.mean(cons, 0), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("mc_chunk", [0, 5])
def test_predict_mcd_uncertainty_is_the_std_over_passes(mc_chunk):
    """16 passes in one vmap, or in chunks of 5 (three and a remainder of one)."""
    s = S.Sridhar21(config("mcd", mc_chunk=mc_chunk))
    b = batch(7)
    params = s.init(jax.random.key(0), b)
    rng = jax.random.key(3)
    pred = jax.tree.map(np.asarray, s.predict(params, b, rng, 16))
    ys = np.stack([np.asarray(s.model.apply(params, b["features"], False,
                                            rngs={"dropout": k})["consensus"])
                   for k in jax.random.split(rng, 16)])
    np.testing.assert_allclose(pred["m_hat"][:, 0], ys.mean(0), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(pred["s_hat"][:, 0], ys.std(0), rtol=1e-4, atol=1e-6)
    # mcd_soft: the consensus is the expectation over the bin centres in [-1, 1]
    s = S.Sridhar21(config("mcd_soft"))
    params = s.init(jax.random.key(0), b)
    pred = jax.tree.map(np.asarray, s.predict(params, b, rng, 4))
    centres = np.linspace(-1, 1, 15)[1::2]
    np.testing.assert_allclose(pred["m_hat"][:, 0], pred["soft"][:, 0] @ centres,
                               rtol=1e-5, atol=1e-6)


def test_evaluate_reject_option_and_quintiles_by_hand():
    r = np.random.default_rng(11)
    n = 50
    y = r.normal(size=n)
    u = r.uniform(size=n)
    yhat = y + u * r.normal(size=n)  # more uncertain -> noisier
    std = u + 0.1 * r.normal(size=n)
    out = S.Sridhar21(config()).evaluate({"m_hat": yhat[:, None], "s_hat": u[:, None]},
                                         {"gold": y[:, None], "std": std[:, None]})
    order = np.argsort(u)
    for c in (100, 80, 60, 40, 20):
        keep = order[: round(c / 100 * n)]
        np.testing.assert_allclose(out[f"ccc_cov{c}"],
                                   audmetric.concordance_cc(y[keep], yhat[keep]), rtol=1e-4)
    for k in range(5):
        idx = order[10 * k: 10 * (k + 1)]
        np.testing.assert_allclose(out[f"ccc_q{k + 1}"],
                                   audmetric.concordance_cc(y[idx], yhat[idx]), rtol=1e-4)
    np.testing.assert_allclose(out["ccc"], audmetric.concordance_cc(y, yhat), rtol=1e-4)
    np.testing.assert_allclose(out["spearman_unc_std"], scipy.stats.spearmanr(u, std)[0],
                               rtol=1e-6)
    assert out["ccc_cov20"] > out["ccc_cov100"]
    # with soft labels on both sides
    t = r.dirichlet(np.ones(7), size=(n, 1))
    p = r.dirichlet(np.ones(7), size=(n, 1))
    out = S.Sridhar21(config()).evaluate(
        {"m_hat": yhat[:, None], "s_hat": u[:, None], "soft": p},
        {"gold": y[:, None], "std": std[:, None], "soft": t})
    kl = [sum(a * np.log(a / b) for a, b in zip(t[i, 0], p[i, 0])) for i in range(n)]
    np.testing.assert_allclose(out["kld_soft"], np.mean(kl), rtol=1e-6)
    h = [-sum(a * np.log(a) for a in t[i, 0]) for i in range(n)]
    np.testing.assert_allclose(out["spearman_unc_label_entropy"],
                               scipy.stats.spearmanr(u, h)[0], rtol=1e-6)


def test_stage2_starts_from_the_stage1_checkpoint(tmp_path):
    from seru.checkpoints import Checkpoints

    b = batch(8)
    s1 = S.Sridhar21(config("vae_er", "pretrain"))
    p1 = s1.init(jax.random.key(0), b)
    ck = Checkpoints(tmp_path / "pre" / "checkpoints")
    tx = optax.adam(1e-3)
    ck.save("latest", 5, {"step": jnp.asarray(5), "params": p1, "opt_state": tx.init(p1)}, {})
    ck.close()
    s2 = S.Sridhar21(config("vae_er", "joint", init_from=str(tmp_path / "pre")))
    # the trainer jits init, then warm-starts outside jit (seru.sharding.init_state)
    p2 = s2.warm_start(jax.jit(s2.init)(jax.random.key(1), b))
    jax.tree.map(np.testing.assert_array_equal, p2, p1)
    # an AE takes what matches (everything but the VAE's log-variance layer)
    s3 = S.Sridhar21(config("ae_mcd", "joint", init_from=str(tmp_path / "pre")))
    p3 = s3.warm_start(s3.init(jax.random.key(1), b))
    np.testing.assert_array_equal(p3["params"]["encoder"]["mean"]["kernel"],
                                  p1["params"]["encoder"]["mean"]["kernel"])
    with pytest.raises(FileNotFoundError, match="stage 1"):
        s4 = S.Sridhar21(config(init_from=str(tmp_path / "nope")))
        s4.warm_start(s4.init(jax.random.key(0), b))


def test_bad_configs_are_clear_errors():
    from seru.config import check_fields

    fields = [f for f in config_lib.all_fields("sridhar21") if f.path.startswith("model.")]
    assert check_fields(ml_collections.ConfigDict({"model": config("vae").model}), fields) == [
        "model.method='vae': expected one of 'vae_er', 'mcd', 'mcd_soft', 'mcd_mtl', 'ae_mcd', "
        "'stl'; did you mean 'vae_er'?"]
    assert S.Sridhar21.check_config(config("mcd", "pretrain")) == [
        "model.stage='pretrain': exists for vae_er and ae_mcd only, not 'mcd'"]
    c = config()
    c.data.dimensions = ("arousal", "valence")
    assert S.Sridhar21.check_config(c) == [
        "data.dimensions=('arousal', 'valence'): sridhar21 trains one model per attribute; "
        "set one of them"]
    with pytest.raises(ValueError, match="pretrain"):
        S.Sridhar21(config("mcd", "pretrain"))
    assert S.Sridhar21.check_config(config(mc_chunk=-1)) == [
        "model.mc_chunk=-1: expected >= 1, or 0 for one vmap"]


@pytest.mark.slow
def test_two_stages_through_the_trainer_on_the_tiny_corpus(tmp_path):
    """configs/sridhar21_vae.py end to end: build the corpus, extract and cache the
    features, pre-train, train jointly from the stage-1 checkpoint, evaluate."""
    import importlib.util
    import json
    from pathlib import Path

    from seru import trainer

    path = Path(__file__).resolve().parents[2] / "configs" / "sridhar21_vae.py"
    spec = importlib.util.spec_from_file_location("sridhar21_vae_cfg", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)

    def cfg(arg, epochs):
        c = mod.get_config(arg)
        c.data.variant, c.data.data_dir = "tiny", str(tmp_path / "data")
        c.data.batch_size, c.eval.batch_size = 8, 8
        c.data.features.progress = False
        c.train.num_epochs, c.train.progress_bar = epochs, False
        c.eval.num_samples = 20
        return c

    c1 = cfg("stage=pretrain", 2)
    config_lib.validate(c1)
    r1 = trainer.train_and_evaluate(c1, tmp_path / "pre")
    c2 = cfg("stage=joint", 1)
    c2.model.init_from = str(tmp_path / "pre")
    c2.train.eval_every_epochs = 1
    system = config_lib.get_system(c2)
    from seru.data import inputs

    ds = inputs.get("functionals").build(c2)
    p0 = system.warm_start(system.init(jax.random.key(0), ds.example_batch()))
    jax.tree.map(np.testing.assert_array_equal, p0, jax.device_get(r1["state"]["params"]))
    trainer.train_and_evaluate(c2, tmp_path / "joint")
    m = evaluation.evaluate_checkpoint(tmp_path / "joint", "test", verbose=False)
    preds = np.load(tmp_path / "joint" / "eval" / "test" / "predictions.npz")
    ids = sorted({k.split("/")[0] for k in preds.files})
    y = np.array([preds[f"{i}/target_gold"][0, 0] for i in ids])
    yhat = np.array([preds[f"{i}/m_hat"][0, 0] for i in ids])
    np.testing.assert_allclose(m["ccc"], audmetric.concordance_cc(y, yhat), rtol=1e-4)
    saved = json.loads((tmp_path / "joint" / "eval" / "test" / "metrics.json").read_text())
    assert saved["metrics"]["ccc_cov60"] == pytest.approx(m["ccc_cov60"])
    # The Predictor serves sridhar21 workdirs: one row per file, the evaluation's numbers for
    # the test split's first utterance (row 0 of batch 0: the same MC draws).
    from seru.data import corpora
    from seru.inference import Predictor

    first = str(ds.arrays("test")["ids"][0])
    _, sources = corpora.load(c2.data.corpus, "tiny", str(tmp_path / "data"), build=False)
    rec = next(r for r in (sources["test"][i] for i in range(len(sources["test"])))
               if r["id"].decode() == first)
    df = Predictor.from_workdir(tmp_path / "joint").predict(
        np.asarray(rec["audio"], np.float32), int(rec["sample_rate"]), file=first)
    assert len(df) == 1 and list(df.columns) == ["arousal_mean", "arousal_spread"]
    np.testing.assert_allclose(df["arousal_mean"].iloc[0], preds[f"{first}/m_hat"][0, 0],
                               rtol=1e-5)
    np.testing.assert_allclose(df["arousal_spread"].iloc[0], preds[f"{first}/s_hat"][0, 0],
                               rtol=1e-5)


def test_paired_reject_option_matches_ids_across_files(tmp_path):
    r = np.random.default_rng(12)
    ids = [f"u{i:02d}" for i in range(30)]
    y, yhat, u = r.normal(size=30), r.normal(size=30), r.uniform(size=30)
    np.savez(tmp_path / "stl.npz", **{f"{i}/m_hat": np.array([[yhat[k]]]) for k, i in
                                      enumerate(ids)},
             **{f"{i}/target_gold": np.array([[y[k]]]) for k, i in enumerate(ids)})
    perm = r.permutation(30)  # the other run lists the utterances in another order
    np.savez(tmp_path / "unc.npz", **{f"{ids[k]}/s_hat": np.array([[u[k]]]) for k in perm})
    out = S.paired_reject_option(tmp_path / "stl.npz", tmp_path / "unc.npz")
    keep = np.argsort(u)[:18]
    np.testing.assert_allclose(out["ccc_cov60"], audmetric.concordance_cc(y[keep], yhat[keep]),
                               rtol=1e-4)
    np.savez(tmp_path / "short.npz", **{f"{ids[0]}/s_hat": np.array([[0.0]])})
    with pytest.raises(KeyError, match="no uncertainty"):
        S.paired_reject_option(tmp_path / "stl.npz", tmp_path / "short.npz")


def test_projected_latent_sampler_is_selected_by_config():
    b = batch(9)
    s_f = S.Sridhar21(config("vae_er", latent_dim=8))
    s_p = S.Sridhar21(config("vae_er", latent_dim=8, latent_sampler="projected"))
    params = s_f.init(jax.random.key(0), b)
    n = 2000
    pf = jax.tree.map(np.asarray, s_f.predict(params, b, jax.random.key(1), n))
    pp = jax.tree.map(np.asarray, s_p.predict(params, b, jax.random.key(2), n))
    assert not np.array_equal(pf["m_hat"], pp["m_hat"])  # other draws ...
    se = pf["consensus_std"] / np.sqrt(n)
    assert np.all(np.abs(pf["m_hat"] - pp["m_hat"]) < 6 * se + 1e-6)  # ... same distribution
    np.testing.assert_allclose(pp["s_hat"], pf["s_hat"], rtol=0.05)
    c = ml_collections.ConfigDict({"model": config(latent_sampler="fast").model})
    fields = [f for f in config_lib.all_fields("sridhar21") if f.path.startswith("model.")]
    assert config_lib.check_fields(c, fields) == [
        "model.latent_sampler='fast': expected one of 'faithful', 'projected'; did you mean "
        "'faithful'?"]
