"""Tests of seru/models/vae_er.py with the seru.mc latent passes: sizes, MC inference (encoder
once), identity with the pre-move implementation, averaging, entropy."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import scipy.special
import scipy.stats

from seru import mc, metrics, sampling
from seru.models import vae_er

F_DIM, B, N = 12, 3, 100


def tiny(**kw):
    return vae_er.VAEER(input_dim=F_DIM, encoder_hidden=(16, 16), decoder_hidden=(16,),
                        latent_dim=5, er_hidden=(8, 8), **kw)


def init(model, seed=0):
    x = jnp.asarray(np.random.default_rng(seed).normal(size=(B, F_DIM)), jnp.float32)
    params = model.init(jax.random.key(seed), x, jax.random.key(seed + 1))["params"]
    return params, x


def _outputs(out, posterior):
    mean, logvar = posterior
    return {"soft_logp_samples": out["soft_logp"], "consensus_samples": out["consensus"],
            "mean": mean, "logvar": logvar}


def mc_predict(model, params, x, rng, num_samples):
    """The faithful sampler as ``Sridhar21.mc_samples`` runs it."""
    f = vae_er.inference_fns(model, params)
    return _outputs(*mc.latent_passes(f.encode, f.sample_and_regress, x, rng, num_samples))


def mc_predict_projected(model, params, x, rng, num_samples):
    """The projected sampler as ``Sridhar21.mc_samples`` runs it."""
    f = vae_er.inference_fns(model, params)
    return _outputs(*mc.projected_latent_passes(f.encode, f.sample_and_regress, f.er_first_layer,
                                                f.regress_preactivation, x, rng, num_samples))


# -- the implementation before the move to seru.mc (its normals now from seru.sampling, as every
# MC path's): the bitwise oracle -----------------------------------------------------------------

def _legacy_mc_predict(model, params, x, rng, num_samples):
    variables = {"params": params}
    mean, logvar = model.apply(variables, x, True, method=vae_er.VAEER.encode)
    keys = jax.random.split(rng, num_samples)

    def one(key):
        return model.apply(variables, key, mean, logvar, True,
                           method=vae_er.VAEER.sample_and_regress)

    return _legacy_mc_outputs(jax.vmap(one)(keys), mean, logvar)


def _legacy_mc_outputs(out, mean, logvar):
    return {"soft_logp_samples": out["soft_logp"], "consensus_samples": out["consensus"],
            "mean": mean, "logvar": logvar}


def _legacy_mc_predict_projected(model, params, x, rng, num_samples, jitter=1e-6):
    w = params["regressor"]["mlp"]["dense_0"]["kernel"]
    h = w.shape[1]
    if not model.variational or h > model.latent_dim:
        return _legacy_mc_predict(model, params, x, rng, num_samples)
    variables = {"params": params}
    mean, logvar = model.apply(variables, x, True, method=vae_er.VAEER.encode)
    m1 = mean @ w + params["regressor"]["mlp"]["dense_0"]["bias"]
    cov = jnp.einsum("lh,bl,lk->bhk", w, jnp.exp(logvar), w)
    scale = jnp.mean(jnp.diagonal(cov, axis1=-2, axis2=-1), axis=-1)[:, None, None]
    chol = jnp.linalg.cholesky(cov + jitter * scale * jnp.eye(h, dtype=cov.dtype))
    keys = jax.random.split(rng, num_samples)

    def one(key):
        eps = sampling.normal(key, m1.shape, m1.dtype)
        a = m1 + jnp.einsum("bhk,bk->bh", chol, eps)
        return model.apply(variables, a, method=vae_er.VAEER.regress_preactivation)

    return _legacy_mc_outputs(jax.vmap(one)(keys), mean, logvar)


def test_outputs_identical_to_the_pre_move_implementation():
    narrow = vae_er.VAEER(input_dim=F_DIM, encoder_hidden=(16,), decoder_hidden=(16,),
                          latent_dim=12, er_hidden=(6, 8))  # ER width 6 <= latent 12: projected
    models = {"narrow": narrow, "wide": tiny(), "ae": tiny(variational=False)}
    for name, model in models.items():
        params, x = init(model, seed=2)
        for new_fn, old_fn in ((mc_predict, _legacy_mc_predict),
                               (mc_predict_projected, _legacy_mc_predict_projected)):
            for run in (lambda f: f, jax.jit):
                new = run(lambda p, x, r: new_fn(model, p, x, r, 5))(params, x, jax.random.key(7))
                old = run(lambda p, x, r: old_fn(model, p, x, r, 5))(params, x, jax.random.key(7))
                assert list(new) == list(old)
                for k in old:
                    if old[k] is None:
                        assert new[k] is None and name == "ae"
                    else:
                        np.testing.assert_array_equal(new[k], old[k], err_msg=f"{name} {k}")


def test_parameter_count_matches_paper():
    # sridhar21 Sec. V-F: "our proposed generative model (7,519,341 parameters)", 6,373-d input
    model = vae_er.VAEER(input_dim=6373)
    shapes = jax.eval_shape(lambda: model.init(jax.random.key(0), jnp.zeros((1, 6373)),
                                               jax.random.key(1)))
    assert sum(int(np.prod(a.shape)) for a in jax.tree.leaves(shapes)) == 7_519_341


def test_mc_predict_equals_python_loop():
    model = tiny()
    params, x = init(model)
    rng = jax.random.key(7)
    out = mc_predict(model, params, x, rng, N)
    assert out["soft_logp_samples"].shape == (N, B, 7)
    assert out["consensus_samples"].shape == (N, B)
    variables = {"params": params}
    mean, logvar = model.apply(variables, x, method=vae_er.VAEER.encode)
    for i, key in enumerate(jax.random.split(rng, N)):
        if i % 9:  # a tenth of the loop is enough
            continue
        sigma = np.exp(0.5 * np.asarray(logvar))
        z = np.asarray(mean) + sigma * np.asarray(sampling.normal(key, mean.shape))
        ref = model.apply(variables, jnp.asarray(z), method=vae_er.VAEER.regress)
        np.testing.assert_allclose(out["soft_logp_samples"][i], ref["soft_logp"], rtol=1e-5,
                                   atol=1e-5)
        np.testing.assert_allclose(out["consensus_samples"][i], ref["consensus"], rtol=1e-5,
                                   atol=1e-5)
    # the same as vmapping the full network (encoder inside) over the keys
    full = jax.vmap(lambda k: model.apply(variables, x, k, True))(jax.random.split(rng, N))
    np.testing.assert_allclose(out["soft_logp_samples"], full["soft_logp"], rtol=1e-5, atol=1e-5)


def test_encoder_runs_once_outside_the_vmap():
    model = tiny()
    params, x = init(model)
    calls = {"Encoder": 0, "Regressor": 0}

    def count(next_fun, args, kwargs, context):
        name = type(context.module).__name__
        if name in calls and context.method_name == "__call__":
            calls[name] += 1
        return next_fun(*args, **kwargs)

    with nn.intercept_methods(count):
        jaxpr = jax.make_jaxpr(lambda p, x: mc_predict(model, p, x, jax.random.key(0), N)
                               )(params, x)
    assert calls == {"Encoder": 1, "Regressor": 1}
    # the encoder's first layer (F_DIM x 16) is computed on [B, 16], not [N, B, 16]
    first = [e for e in jaxpr.jaxpr.eqns if e.primitive.name == "dot_general"
             and tuple(e.invars[1].aval.shape) == (F_DIM, 16)]
    assert first and all(tuple(e.outvars[0].aval.shape) == (B, 16) for e in first)
    # while the ER's hidden layers (8 units) run on every sample, the encoder's never do
    text = str(jaxpr)
    assert f"f32[{N},{B},8]" in text and f"f32[{N},{B},16]" not in text


def test_average_soft_and_entropy_match_scipy():
    logits = np.random.default_rng(1).normal(size=(N, B, 7)) * 2
    logp = jax.nn.log_softmax(jnp.asarray(logits, jnp.float32), -1)
    p_bar = np.asarray(mc.average_soft(logp))
    ref = scipy.special.softmax(logits, -1).mean(0)
    np.testing.assert_allclose(p_bar, ref, rtol=1e-5)
    np.testing.assert_allclose(np.asarray(metrics.entropy(p_bar)),
                               scipy.stats.entropy(ref, axis=-1), rtol=1e-5)


def test_dropout_only_in_training_and_ae_has_no_sampling():
    model = tiny(dropout_rate=0.5)
    params, x = init(model)
    v = {"params": params}
    a = model.apply(v, x, jax.random.key(3), True)
    b = model.apply(v, x, jax.random.key(3), True)
    np.testing.assert_array_equal(a["soft_logp"], b["soft_logp"])
    c = model.apply(v, x, jax.random.key(3), False, rngs={"dropout": jax.random.key(4)})
    assert not np.allclose(a["recon_logits"], c["recon_logits"])
    # the latent draw follows Eq. (4): z = mu + exp(logvar / 2) * eps
    eps = np.asarray(sampling.normal(jax.random.key(3), a["mean"].shape))
    np.testing.assert_allclose(a["z"], a["mean"] + np.exp(0.5 * a["logvar"]) * eps, rtol=1e-5,
                               atol=1e-6)
    ae = tiny(variational=False)
    params_ae, _ = init(ae)
    assert "logvar" not in params_ae["encoder"]
    out = mc_predict(ae, params_ae, x, jax.random.key(5), 4)
    np.testing.assert_allclose(out["soft_logp_samples"][0], out["soft_logp_samples"][3])
    assert out["logvar"] is None


def test_projected_sampler_matches_the_faithful_one_in_distribution():
    model = vae_er.VAEER(input_dim=F_DIM, encoder_hidden=(16,), decoder_hidden=(16,),
                         latent_dim=12, er_hidden=(6, 8))
    params, x = init(model, seed=3)
    # widen the posterior so that the samples spread (on a copy of the tree)
    params = jax.tree.map(lambda v: v, params)
    params["encoder"]["logvar"]["bias"] = params["encoder"]["logvar"]["bias"] + 1.0
    n = 4000
    a = mc_predict(model, params, x, jax.random.key(1), n)
    b = mc_predict_projected(model, params, x, jax.random.key(2), n)
    for key in ("consensus_samples", "soft_logp_samples"):
        fa, fb = np.asarray(a[key]), np.asarray(b[key])
        assert fa.shape == fb.shape
        se = np.sqrt((fa.var(0) + fb.var(0)) / n)
        assert np.all(np.abs(fa.mean(0) - fb.mean(0)) < 5 * se + 1e-6)
        np.testing.assert_allclose(fb.std(0), fa.std(0), rtol=0.1)
    for i in range(B):  # two-sample Kolmogorov-Smirnov on each utterance's consensus
        assert scipy.stats.ks_2samp(a["consensus_samples"][:, i],
                                    b["consensus_samples"][:, i]).pvalue > 1e-3
    # an ER wider than the latent falls back to the faithful sampler (same keys, same draws)
    wide = tiny()  # latent 5 < ER width 8
    pw, xw = init(wide)
    np.testing.assert_array_equal(
        mc_predict_projected(wide, pw, xw, jax.random.key(4), 3)["consensus_samples"],
        mc_predict(wide, pw, xw, jax.random.key(4), 3)["consensus_samples"])
