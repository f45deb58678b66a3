"""Tests for seru/saliency.py against a numpy transcription of mitra25 Eqs. (1)-(3)."""

import jax
import numpy as np
import pytest

from seru import saliency


@pytest.fixture
def x64():
    with jax.enable_x64(True):
        yield


def _np_ccs(h, L):
    """Loop-by-loop transcription of Eqs. (1)-(2) with np.corrcoef; constant columns -> r = 0."""
    L = L.reshape(len(L), -1)
    U, N = h.shape

    def r(a, b):
        if np.std(a) == 0 or np.std(b) == 0:
            return 0.0
        return np.corrcoef(a, b)[0, 1]

    S = np.zeros((N, L.shape[1]))
    for l in range(L.shape[1]):
        w = [abs(r(h[:, j], L[:, l])) for j in range(N)]
        for i in range(N):
            gamma = sum(w[j] * abs(r(h[:, i], h[:, j])) for j in range(N) if j != i) / max(N - 1, 1)
            S[i, l] = abs(r(h[:, i], L[:, l])) + gamma
    return S


def test_ccs_dimension_saliency_vs_numpy(x64):
    rng = np.random.default_rng(0)
    U, N = 40, 6
    L = rng.standard_normal((U, 2))
    h = rng.standard_normal((U, N))
    h[:, 0] += 2 * L[:, 0]           # a salient dimension
    h[:, 1] = h[:, 0] + 0.1 * rng.standard_normal(U)   # correlated with it
    got = jax.jit(saliency.ccs_dimension_saliency)(h, L)
    want = _np_ccs(h, L)
    np.testing.assert_allclose(got, want, rtol=1e-10)
    np.testing.assert_allclose(saliency.layer_saliency(h, L), want.mean(), rtol=1e-10)
    # 1-D targets = one target
    np.testing.assert_allclose(saliency.ccs_dimension_saliency(h, L[:, 0]), want[:, :1], rtol=1e-10)
    assert np.argmax(got[:, 0]) in (0, 1)


def test_utterance_mean_and_layer_selection(x64):
    rng = np.random.default_rng(1)
    U, M, N, K = 30, 5, 4, 3
    L = rng.standard_normal(U)
    lengths = rng.integers(1, M + 1, U)
    mask = np.arange(M)[None, :] < lengths[:, None]
    layers = rng.standard_normal((K, U, M, N))
    layers[1] += 1.5 * L[:, None, None]          # layer 1 carries the target
    layers_pad = np.where(mask[None, :, :, None], layers, np.nan)
    means = [saliency.utterance_mean(layers_pad[k], mask) for k in range(K)]
    for k in range(K):
        want = np.stack([layers[k, u, :lengths[u]].mean(0) for u in range(U)])
        np.testing.assert_allclose(means[k], want, rtol=1e-12)
    np.testing.assert_allclose(saliency.utterance_mean(layers[0]), layers[0].mean(1), rtol=1e-12)
    mus = saliency.layer_saliencies(np.stack(means), L)
    np.testing.assert_allclose(mus, [_np_ccs(np.asarray(m), L).mean() for m in means], rtol=1e-10)
    assert int(np.argmax(mus)) == 1


def test_ccs_degenerate_inputs(x64):
    rng = np.random.default_rng(2)
    h = rng.standard_normal((20, 3))
    h[:, 2] = 0.3                                # constant dimension -> r = 0
    L = rng.standard_normal((20, 2))
    L[:, 1] = 1.0                                # constant target -> saliency 0 for it
    got = np.asarray(saliency.ccs_dimension_saliency(h, L))
    assert np.all(np.isfinite(got))
    np.testing.assert_allclose(got, _np_ccs(np.where(np.arange(3) == 2, 0.0, h), L), rtol=1e-10, atol=1e-15)
    assert np.all(got[:, 1] == 0) and got[2, 0] == 0
    # one dimension: gamma = 0
    np.testing.assert_allclose(saliency.ccs_dimension_saliency(h[:, :1], L[:, 0]),
                               [[abs(np.corrcoef(h[:, 0], L[:, 0])[0, 1])]], rtol=1e-10)
    with pytest.raises(ValueError, match="at least 2 utterances"):
        saliency.ccs_dimension_saliency(h[:1], L[:1])
    with pytest.raises(ValueError, match="same U"):
        saliency.ccs_dimension_saliency(h, L[:5])
    with pytest.raises(ValueError, match=r"\[U, M, N\]"):
        saliency.utterance_mean(h)
