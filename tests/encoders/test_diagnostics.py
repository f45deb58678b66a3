"""The per-layer probe: ridge LOO against brute force, dev R^2 against its definition, and the
report of an encoder on the tiny corpus."""

import numpy as np

from seru.encoders import diagnostics as D


def _brute_loo(x, y, a):
    errs = []
    for i in range(len(x)):
        m = np.arange(len(x)) != i
        xm, ym = x[m] - x[m].mean(0), y[m] - y[m].mean(0)
        w = np.linalg.solve(xm.T @ xm + a * np.eye(x.shape[1]), xm.T @ ym)
        errs.append((y[i] - ((x[i] - x[m].mean(0)) @ w + y[m].mean(0))) ** 2)
    return np.mean(errs, axis=0)


def test_ridge_loo_equals_brute_force():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((25, 6)), rng.standard_normal((25, 2))
    loo = D.ridge_loo(x, y, [0.1, 3.0, 100.0])
    for i, a in enumerate([0.1, 3.0, 100.0]):
        np.testing.assert_allclose(loo[i], _brute_loo(x, y, a), rtol=1e-10)


def test_ridge_dev_r2():
    rng = np.random.default_rng(1)
    w = rng.standard_normal((5, 2))
    xt, xd = rng.standard_normal((200, 5)), rng.standard_normal((80, 5))
    yt = xt @ w + 0.1 * rng.standard_normal((200, 2))
    yd = xd @ w + 0.1 * rng.standard_normal((80, 2))
    r2, alpha, r = D.ridge_dev_r2(xt, yt, xd, yd)
    assert np.all(r2 > 0.95) and np.all(r > 0.97) and alpha.shape == (2,)
    # pure noise targets: R^2 near or below 0
    r2n, _, _ = D.ridge_dev_r2(xt, rng.standard_normal((200, 2)), xd, rng.standard_normal((80, 2)))
    assert np.all(r2n < 0.1)


def test_report_on_the_tiny_corpus(tiny_corpus_dir, tiny_pretrained, tiny_config, tmp_path):
    from seru.encoders.ssl import SSLEncoder

    enc = SSLEncoder.from_params(tiny_pretrained[0], tiny_config)
    rep = D.encoder_layer_report(enc, tiny_corpus_dir, "seru_synth_utterances", "tiny",
                                 cache_dir=tmp_path)
    k = tiny_config.num_layers + 1
    assert rep["dimensions"] == ["arousal", "valence", "dominance"]
    assert (rep["num_train"], rep["num_dev"]) == (20, 20)
    assert np.asarray(rep["r2"]).shape == (k, 3) and np.asarray(rep["dev_r"]).shape == (k, 3)
    assert len(rep["ccs"]) == k and np.all(np.asarray(rep["ccs"]) > 0)
    assert np.all(np.isfinite(rep["r2"]))
