"""Tests of seru/models/mc_dropout.py with seru.mc.dropout_passes: size, vmapped passes equal
looped ones and the pre-move implementation bit for bit, dropout."""

import jax
import jax.numpy as jnp
import numpy as np

from seru import mc
from seru.models import mc_dropout

F_DIM, B, N = 10, 4, 20


def test_parameter_count_matches_paper():
    # sridhar21 Sec. V-F: "the MCD model (865,537 parameters)", 6,373-d input
    net = mc_dropout.MCDNet()
    shapes = jax.eval_shape(lambda: net.init(jax.random.key(0), jnp.zeros((1, 6373))))
    assert sum(int(np.prod(a.shape)) for a in jax.tree.leaves(shapes)) == 865_537


def mc_predict(model, params, x, rng, num_samples):
    """MC dropout passes of the whole network as ``Sridhar21.mc_samples`` runs them."""
    out = mc.dropout_passes(lambda k: mc_dropout.forward(model, params, x, k, False), rng,
                            num_samples)
    return {f"{k}_samples": out[k] for k in ("soft_logp", "consensus") if k in out}


def _legacy_mc_predict(model, params, x, rng, num_samples):
    """The implementation before the move to seru.mc, verbatim: the bitwise oracle."""
    keys = jax.random.split(rng, num_samples)
    out = jax.vmap(lambda k: mc_dropout.forward(model, params, x, k, False))(keys)
    res = {}
    if "soft_logp" in out:
        res["soft_logp_samples"] = out["soft_logp"]
    if "consensus" in out:
        res["consensus_samples"] = out["consensus"]
    return res


def _x(seed=0):
    return jnp.asarray(np.random.default_rng(seed).normal(size=(B, F_DIM)), jnp.float32)


def test_vmapped_passes_equal_looped_passes():
    net = mc_dropout.MCDNet(hidden=(16, 16), heads=("consensus", "soft"))
    x = _x()
    params = net.init(jax.random.key(0), x)["params"]
    rng = jax.random.key(1)
    out = mc_predict(net, params, x, rng, N)
    assert out["consensus_samples"].shape == (N, B)
    assert out["soft_logp_samples"].shape == (N, B, 7)
    for i, key in enumerate(jax.random.split(rng, N)):
        ref = net.apply({"params": params}, x, False, rngs={"dropout": key})
        np.testing.assert_allclose(out["consensus_samples"][i], ref["consensus"], rtol=1e-5,
                                   atol=1e-6)
        np.testing.assert_allclose(out["soft_logp_samples"][i], ref["soft_logp"], rtol=1e-5,
                                   atol=1e-6)
    # passes differ (dropout is on), and the consensus std over passes is > 0
    assert np.all(np.asarray(out["consensus_samples"]).std(0) > 0)


def test_dropout_passes_are_unbiased_around_the_deterministic_pass():
    # one hidden layer: the deterministic pass is tanh(x W1 + b1) W2 + b2 (numpy by hand), and
    # inverted dropout (keep / (1 - rate)) before the linear head leaves its expectation unchanged
    net = mc_dropout.MCDNet(hidden=(32,), dropout_rate=0.5, heads=("consensus",))
    x = _x(1)
    params = net.init(jax.random.key(0), x)["params"]
    p = jax.tree.map(np.asarray, params["dnn"])
    h = np.tanh(np.asarray(x) @ p["mlp"]["dense_0"]["kernel"] + p["mlp"]["dense_0"]["bias"])
    det = h @ p["consensus"]["kernel"][:, 0] + p["consensus"]["bias"][0]
    np.testing.assert_allclose(net.apply({"params": params}, x, True)["consensus"], det,
                               rtol=1e-5, atol=1e-6)
    n = 4000
    y = np.asarray(mc_predict(net, params, x, jax.random.key(2), n)["consensus_samples"])
    # exact variance of the pass: sum_j (h_j w_j)^2 * rate / (1 - rate)
    sd = np.sqrt(((h * p["consensus"]["kernel"][:, 0]) ** 2).sum(1))
    np.testing.assert_allclose(y.std(0), sd, rtol=0.1)
    assert np.all(np.abs(y.mean(0) - det) < 4 * sd / np.sqrt(n))


def test_ae_mcd_is_an_autoencoder_with_mc_passes():
    model = mc_dropout.ae_mcd(F_DIM, encoder_hidden=(16,), decoder_hidden=(16,), latent_dim=4,
                              er_hidden=(8,))
    x = _x(2)
    params = model.init(jax.random.key(0), x, jax.random.key(1))["params"]
    assert "logvar" not in params["encoder"]
    rng = jax.random.key(3)
    out = mc_predict(model, params, x, rng, 6)
    for i, key in enumerate(jax.random.split(rng, 6)):
        ref = mc_dropout.forward(model, params, x, key, False)
        np.testing.assert_allclose(out["soft_logp_samples"][i], ref["soft_logp"], rtol=1e-5,
                                   atol=1e-6)
    assert not np.allclose(out["soft_logp_samples"][0], out["soft_logp_samples"][1])


def test_outputs_identical_to_the_pre_move_implementation():
    x = _x(4)
    net = mc_dropout.MCDNet(hidden=(16, 16), heads=("consensus", "soft"))
    ae = mc_dropout.ae_mcd(F_DIM, encoder_hidden=(16,), decoder_hidden=(16,), latent_dim=4,
                           er_hidden=(8,))
    for model, params in ((net, net.init(jax.random.key(0), x)["params"]),
                          (ae, ae.init(jax.random.key(0), x, jax.random.key(1))["params"])):
        for run in (lambda f: f, jax.jit):
            new = run(lambda p, r: mc_predict(model, p, x, r, 6))(params, jax.random.key(3))
            old = run(lambda p, r: _legacy_mc_predict(model, p, x, r, 6))(params, jax.random.key(3))
            assert list(new) == list(old)
            for k in old:
                np.testing.assert_array_equal(new[k], old[k])
