"""Tests of seru/systems/prabhu22.py on tiny synthetic batches."""

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import pytest
import audmetric
from scipy import integrate, stats

from seru.systems.prabhu22 import S_FLOOR, Prabhu22, default_model_config

B, T, WINDOW = 2, 20, 5


def _config(variant="lu", sampler="faithful", dims=("arousal",), **kw):
    c = ml_collections.ConfigDict()
    c.model = default_model_config()
    c.model.update(variant=variant, sampler=sampler, lstm_size=8, head_sizes=(8, 4),
                   num_samples_train=3, window=WINDOW, mc_chunk=3)
    c.model.update(kw)
    c.data = ml_collections.ConfigDict({"dimensions": dims})
    return c


def _field_errors(**model):
    """seru.config's one-line errors for prabhu22 model fields set to ``model``."""
    from seru import config as config_lib

    fields = [f for f in config_lib.all_fields("prabhu22") if f.path[6:] in model]
    return config_lib.check_fields(ml_collections.ConfigDict({"model": model}), fields)


def _batch(d=1, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(T) / T
    gold = (0.5 * np.sin(2 * np.pi * t)[None, :, None] + 0.05 * rng.normal(size=(B, T, d)))
    mask = np.ones((B, T), np.float32)
    mask[1, -3:] = 0
    return {
        "audio": (0.1 * rng.normal(size=(B, T * 640))).astype(np.float32),
        "gold": gold.astype(np.float32),
        "std": (0.1 + 0.1 * rng.random((B, T, d))).astype(np.float32),
        "num_raters": np.full((B, T, d), 6.0, np.float32),
        "mask": mask,
    }


def test_adam_steps_reduce_loss():
    system = Prabhu22(_config("lu"))
    batch = _batch()
    params = system.init(jax.random.key(0), batch)
    opt = optax.adam(3e-3)
    state = opt.init(params)
    key = jax.random.key(1)

    @jax.jit
    def step(p, s):
        loss, g = jax.value_and_grad(lambda q: system.loss(q, batch, key)[0])(p)
        u, s = opt.update(g, s, p)
        return optax.apply_updates(p, u), s, loss, g

    losses_seen = []
    for i in range(9):
        params, state, loss, grads = step(params, state)
        losses_seen.append(float(loss))
        if i == 0:  # jax.grad of the Eq. (8) loss is finite
            assert all(bool(jnp.all(jnp.isfinite(g))) for g in jax.tree.leaves(grads))
    assert np.isfinite(losses_seen[0]) and losses_seen[-1] < losses_seen[0] - 1e-3


@pytest.mark.parametrize("variant,sampler", [
    ("lu_t", "local"), ("mtl_pu", "faithful"), ("lu", "local_pass"),
    pytest.param("mu", "local", marks=pytest.mark.slow),
    pytest.param("stl", "faithful", marks=pytest.mark.slow)])
def test_grad_is_finite(variant, sampler):
    system = Prabhu22(_config(variant, sampler))
    batch = _batch()
    params = system.init(jax.random.key(0), batch)
    (loss, terms), grads = jax.jit(jax.value_and_grad(
        lambda p: system.loss(p, batch, jax.random.key(2)), has_aux=True))(params)
    assert np.isfinite(float(loss))
    assert all(bool(jnp.all(jnp.isfinite(g))) for g in jax.tree.leaves(grads))
    # The total is the documented sum of its terms (Eq. (8)).
    cfg = system.config.model
    if variant in ("lu", "lu_t", "mu"):
        expected = terms["ccc_loss"] + terms["nll"] + cfg.kl_weight * terms["kl_weights"]
        expected = expected + system.alpha * terms.get("label_kl", 0.0)
        assert system.alpha == (0.0 if variant == "mu" else 1.0)
        np.testing.assert_allclose(float(loss), float(expected), rtol=1e-5)


def test_predict_shapes_and_mean_pass():
    system = Prabhu22(_config("lu", dims=("arousal", "valence")))
    batch = _batch(d=2)
    params = system.init(jax.random.key(0), batch)
    out = system.predict(params, batch, jax.random.key(3), num_samples=4)
    assert out["m_hat"].shape == (B, T, 2) and out["s_hat"].shape == (B, T, 2)
    assert out["samples"].shape == (4, B, T, 2)
    np.testing.assert_allclose(np.asarray(out["s_hat"]),
                               np.std(np.asarray(out["samples"]), axis=0, ddof=1), rtol=1e-4, atol=1e-7)
    # m_hat is the deterministic posterior-mean pass: the model's __call__.
    np.testing.assert_allclose(np.asarray(out["m_hat"]),
                               np.asarray(system.model.apply(params, jnp.asarray(batch["audio"]))),
                               rtol=1e-5, atol=1e-7)
    base = Prabhu22(_config("mtl_pu"))
    p2 = base.init(jax.random.key(0), _batch())
    o2 = base.predict(p2, _batch(), jax.random.key(3), num_samples=4)
    assert o2["m_hat"].shape == (B, T, 1) and bool(jnp.all(o2["s_hat"] > 0))


def _crps_quad(y, m, s):
    """CRPS = integral of (F(x) - 1{x >= y})^2 dx, by quadrature."""
    f = lambda x: (stats.norm.cdf(x, m, s) - (x >= y)) ** 2
    lo, hi = min(m - 12 * s, y), max(m + 12 * s, y)
    return (integrate.quad(f, lo, y, points=[m] if lo < m < y else None, limit=200)[0]
            + integrate.quad(f, y, hi, points=[m] if y < m < hi else None, limit=200)[0])


def test_evaluate_against_oracles():
    rng = np.random.default_rng(5)
    n = 200
    gold = rng.normal(size=(n, 2))
    m_hat = gold + 0.3 * rng.normal(size=(n, 2))
    std = np.abs(rng.normal(0.2, 0.1, size=(n, 2)))
    std[0] = 0.0  # all raters agree: floored
    s_hat = np.abs(rng.normal(0.25, 0.1, size=(n, 2))) + 1e-3
    system = Prabhu22(_config("lu", dims=("arousal", "valence")))
    ratings = gold[:, :, None] + rng.normal(0, 0.3, size=(n, 2, 5))
    ratings[rng.random(ratings.shape) < 0.2] = np.nan  # missing ratings are not counted
    res = system.evaluate({"m_hat": m_hat, "s_hat": s_hat},
                          {"gold": gold, "std": std, "num_raters": np.full((n, 2), 6.0),
                           "ratings": ratings})
    for k, dim in enumerate(("arousal", "valence")):
        y, mh, s, sh = gold[:, k], m_hat[:, k], std[:, k], s_hat[:, k]
        assert res[f"ccc_m/{dim}"] == pytest.approx(audmetric.concordance_cc(y, mh), rel=1e-5)
        assert res[f"ccc_s/{dim}"] == pytest.approx(audmetric.concordance_cc(s, sh), rel=1e-5)
        assert res[f"rmse/{dim}"] == pytest.approx(np.sqrt(np.mean((y - mh) ** 2)), rel=1e-5)
        sf, shf = np.maximum(s, S_FLOOR), np.maximum(sh, S_FLOOR)
        # KL(N(y, s) || N(mh, sh)) by numerical integration for a few frames, closed form for all.
        kl_np = np.log(shf / sf) + (sf ** 2 + (y - mh) ** 2) / (2 * shf ** 2) - 0.5
        for i in range(3):
            p, q = stats.norm(y[i], sf[i]), stats.norm(mh[i], shf[i])
            num = integrate.quad(lambda x: p.pdf(x) * (p.logpdf(x) - q.logpdf(x)),
                                 y[i] - 12 * sf[i], y[i] + 12 * sf[i], points=[y[i]], limit=200)[0]
            assert num == pytest.approx(kl_np[i], rel=1e-4, abs=1e-6)
        assert res[f"kl/{dim}"] == pytest.approx(kl_np.mean(), rel=1e-4)
        assert res[f"nll/{dim}"] == pytest.approx(-stats.norm.logpdf(y, mh, shf).mean(), rel=1e-5)
        crps_np = np.array([_crps_quad(y[i], mh[i], shf[i]) for i in range(40)])
        # Closed form vs quadrature on 40 frames, then the reported mean over all frames.
        z = (y - mh) / shf
        closed = shf * (z * (2 * stats.norm.cdf(z) - 1) + 2 * stats.norm.pdf(z) - 1 / np.sqrt(np.pi))
        np.testing.assert_allclose(closed[:40], crps_np, rtol=1e-4, atol=1e-8)
        assert res[f"crps/{dim}"] == pytest.approx(closed.mean(), rel=1e-4)
        cover = np.mean(np.abs(y - mh) <= stats.norm.ppf(0.95) * sh)
        assert res[f"coverage_90/{dim}"] == pytest.approx(cover)
        r = ratings[:, k]
        lo, hi = stats.norm.interval(0.9, mh[:, None], sh[:, None])
        inside = (r >= lo) & (r <= hi)
        assert res[f"coverage_90_ratings/{dim}"] == pytest.approx(
            inside[np.isfinite(r)].mean(), rel=1e-6)
    # the plain keys hold the mean over the dimensions
    for name in ("ccc_m", "kl", "coverage_90_ratings"):
        assert res[name] == pytest.approx((res[f"{name}/arousal"] + res[f"{name}/valence"]) / 2)
    stl = Prabhu22(_config("stl")).evaluate({"m_hat": m_hat[:, :1]}, {"gold": gold[:, :1]})
    assert set(stl) == {"ccc_m", "rmse"}


def test_config_errors():
    from seru.systems.prabhu22 import check_config

    assert check_config(_config("mu", alpha=1.0)) == [
        "model.alpha=1.0: variant 'mu' means alpha = 0"]
    assert check_config(_config("lu", sampler="local", prior="mixture")) == [
        "model.prior='mixture': model.sampler='local' uses the closed-form KL and needs "
        "model.prior='gaussian'"]
    assert check_config(_config("lu", num_samples_train=1)) == [
        "model.num_samples_train=1: variant 'lu' needs >= 2 passes for s_hat in the label KL "
        "(Eq. (7))"]
    assert check_config(_config("lu")) == []


@pytest.mark.parametrize("sampler", ["local", "faithful"])
def test_label_kl_grad_routing(sampler):
    """model.label_kl_grad changes where s_hat's gradient goes, never the loss value.

    'scales': the posterior scales (rho) get exactly the gradient of 'all'
    (their only path is through the sampled passes), the head's mu weights a
    different one; 'head': every head parameter as 'all', the trunk differs.
    """
    batch = _batch()
    out = {}
    for route in ("all", "head", "scales"):
        system = Prabhu22(_config("lu", sampler, label_kl_grad=route))
        params = system.init(jax.random.key(0), batch)
        (loss, _), grads = jax.jit(jax.value_and_grad(
            lambda p: system.loss(p, batch, jax.random.key(2)), has_aux=True))(params)
        out[route] = (float(loss), {jax.tree_util.keystr(k): np.asarray(g) for k, g in
                                    jax.tree_util.tree_flatten_with_path(grads)[0]})
    assert out["head"][0] == pytest.approx(out["all"][0], rel=1e-6)
    assert out["scales"][0] == pytest.approx(out["all"][0], rel=1e-6)
    g_all, g_head, g_scales = out["all"][1], out["head"][1], out["scales"][1]
    rho = [k for k in g_all if "rho" in k]
    head = [k for k in g_all if "['head']" in k]
    trunk = [k for k in g_all if "['extractor']" in k]
    assert rho and head and trunk
    for k in rho:
        np.testing.assert_allclose(g_scales[k], g_all[k], rtol=1e-5, atol=1e-8)
    for k in head:
        np.testing.assert_allclose(g_head[k], g_all[k], rtol=1e-5, atol=1e-6)

    def differs(a, b, keys):
        return max(float(np.max(np.abs(a[k] - b[k]))) for k in keys) > 1e-6

    assert differs(g_scales, g_all, [k for k in head if "w_mu" in k])
    assert differs(g_head, g_all, trunk)


def test_label_kl_grad_config_error():
    assert _field_errors(label_kl_grad="rho") == [
        "model.label_kl_grad='rho': expected one of 'all', 'head', 'scales'"]


@pytest.mark.parametrize("eval_sampler", ["local_window", "local_pass"])
def test_eval_sampler_keeps_the_mean_pass_and_the_per_frame_spread(eval_sampler):
    """A faithful-trained model evaluated with a fast sampler (local_pass: the default
    model.eval_sampler): the same m_hat, and per-frame s_hat that agrees with the
    faithful sampler's within Monte Carlo error (n = 400 passes)."""
    batch = _batch()
    ref = Prabhu22(_config("lu", "faithful", eval_sampler="", head_sizes=(8, 4)))
    fast = Prabhu22(_config("lu", "faithful", eval_sampler=eval_sampler, head_sizes=(8, 4)))
    assert ref.eval_model is ref.model and fast.eval_model is not fast.model
    params = ref.init(jax.random.key(0), batch)
    # widen the posterior so the spread is well above float noise
    params = jax.tree_util.tree_map_with_path(
        lambda p, x: x + 1.0 if "rho" in jax.tree_util.keystr(p) else x, params)
    a = ref.predict(params, batch, jax.random.key(1), num_samples=400)
    b = fast.predict(params, batch, jax.random.key(2), num_samples=400)
    np.testing.assert_allclose(np.asarray(a["m_hat"]), np.asarray(b["m_hat"]), rtol=1e-6)
    sa, sb = np.asarray(a["s_hat"]).ravel(), np.asarray(b["s_hat"]).ravel()
    assert sa.min() > 1e-3
    # std of a 400-pass std estimate is ~ s / sqrt(2 * 399) = 3.5 %: allow 6 sigma per frame
    np.testing.assert_allclose(sb, sa, rtol=0.21)
    # frames of a faithful window share their draws, so the mean ratio averages few
    # independent errors: ~2 % spread over keys (measured), bound at 4 sigma
    assert abs(float(np.mean(sb / sa)) - 1.0) < 0.08
    assert _field_errors(eval_sampler="windowed") == [
        "model.eval_sampler='windowed': expected one of 'faithful', 'batch_shared', 'local', "
        "'local_window', 'local_pass', ''; "
        "did you mean 'local_window'?"]


@pytest.mark.parametrize("variant", ["lu", "mtl_pu"])
def test_conv_kernels_reach_the_front_end(variant):
    system = Prabhu22(_config(variant, conv_kernels=(16, 6, 6)))
    params = system.init(jax.random.key(0), _batch())
    front = params["params"]["extractor"]["ConvFrontEnd_0"]
    assert front["conv0_kernel"].shape[0] == 16 and front["conv1_kernel"].shape[0] == 6
    out = system.predict(params, _batch(), jax.random.key(1), num_samples=2)
    assert out["m_hat"].shape == (B, T, 1) and bool(jnp.all(jnp.isfinite(out["m_hat"])))


@pytest.mark.parametrize("variant", ["lu", "mtl_pu"])
def test_conv_compress_reaches_the_front_end(variant):
    """model.conv_compress='log' changes the trunk's output, and a bad value is refused."""
    plain, logc = (Prabhu22(_config(variant, conv_compress=c)) for c in ("none", "log"))
    params = plain.init(jax.random.key(0), _batch())  # same parameters for both
    audio = jnp.asarray(_batch()["audio"])
    f0 = plain.model.apply(params, audio, method="trunk")
    f1 = logc.model.apply(params, audio, method="trunk")
    assert f0.shape == f1.shape and float(jnp.max(jnp.abs(f0 - f1))) > 1e-3
    out = logc.predict(params, _batch(), jax.random.key(1), num_samples=2)
    assert bool(jnp.all(jnp.isfinite(out["m_hat"])))
    assert _field_errors(conv_compress="pcen") == [
        "model.conv_compress='pcen': expected one of 'none', 'log'"]


@pytest.mark.parametrize("variant", ["lu", "mtl_pu"])
def test_logmel_frontend_reaches_the_trunk(variant):
    system = Prabhu22(_config(variant, frontend="logmel", n_mels=16))
    params = system.init(jax.random.key(0), _batch())
    assert set(params["params"]["extractor"]) == {"LSTM_0", "LSTM_1"}
    assert params["params"]["extractor"]["LSTM_0"]["w_i"].shape[0] == 16
    out = system.predict(params, _batch(), jax.random.key(1), num_samples=2)
    assert out["m_hat"].shape == (B, T, 1) and bool(jnp.all(jnp.isfinite(out["s_hat"])))
    loss, _ = system.loss(params, _batch(), jax.random.key(2))
    assert bool(jnp.isfinite(loss))
    assert _field_errors(frontend="wav2vec") == [
        "model.frontend='wav2vec': expected one of 'conv', 'logmel'"]


def test_within_recording_r_of_the_spread():
    """r_s_within: scipy's Pearson r inside each recording, averaged; absent without items."""
    rng = np.random.default_rng(9)
    sizes = (50, 80, 30)
    item = np.concatenate([np.full(n, i) for i, n in enumerate(sizes)])
    n = item.size
    std = np.abs(rng.normal(0.2, 0.1, n)) + 0.3 * item  # different levels per recording
    s_hat = std + rng.normal(0, 0.1, n) - 0.3 * item    # the levels reversed, the course kept
    base = {"gold": rng.normal(size=n), "std": std, "num_raters": np.full(n, 6.0)}
    res = Prabhu22(_config("lu")).evaluate({"m_hat": base["gold"], "s_hat": s_hat},
                                           {**base, "item": item})
    want = np.mean([stats.pearsonr(s_hat[item == i], std[item == i])[0] for i in range(3)])
    assert res["r_s_within"] == pytest.approx(want, rel=1e-6)  # float32, as seru.metrics
    assert want > 0.5 and res["ccc_s"] < want  # pooled CCC is hurt by the reversed levels
    assert "r_s_within" not in Prabhu22(_config("lu")).evaluate(
        {"m_hat": base["gold"], "s_hat": s_hat}, base)


@pytest.mark.parametrize("sampler", ["faithful", "local_pass"])
def test_weight_samplers_recompute_their_draws_in_chunks_with_the_same_loss_and_gradient(
        sampler):
    """train_chunk = 0 for faithful / local_pass: chunks under jax.checkpoint (faithful:
    TRAIN_CHUNK_WEIGHTS cells; local_pass: passes of as many frames); the loss and the
    gradient equal one vmap over every draw with the draws stored."""
    batch = _batch()
    auto = Prabhu22(_config("lu", sampler, train_chunk=0))
    stored = Prabhu22(_config("lu", sampler, train_chunk=10_000))
    params = auto.init(jax.random.key(0), batch)
    out = [jax.jit(jax.value_and_grad(lambda p, s=s: s.loss(p, batch, jax.random.key(2)),
                                      has_aux=True))(params) for s in (auto, stored)]
    assert float(out[0][0][0]) == pytest.approx(float(out[1][0][0]), rel=1e-6)
    for a, b in zip(jax.tree.leaves(out[0][1]), jax.tree.leaves(out[1][1])):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-6)
