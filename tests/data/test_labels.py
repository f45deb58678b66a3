"""Tests of seru.data.labels against independent oracles (numpy loops, scipy, audpsychometric)."""

import math

import audmetric
import audpsychometric
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats

from seru.data import labels


def _ratings(seed, items=40, raters=5, missing=0.2, noise=0.5):
    """Correlated raters (shared latent + noise), some ratings missing."""
    rng = np.random.default_rng(seed)
    latent = rng.normal(size=(items, 1))
    r = latent * rng.uniform(0.5, 1.5, size=(1, raters)) + noise * rng.normal(size=(items, raters))
    r[rng.random((items, raters)) < missing] = np.nan
    return r


# ----------------------------------------------------------------------------- moments


def test_mean_std_num_raters_match_loops():
    r = _ratings(0, items=60, raters=6, missing=0.4)
    r[0] = np.nan  # no rater
    r[1, 1:] = np.nan  # one rater
    for i in range(r.shape[0]):
        row = r[i][~np.isnan(r[i])]
        assert labels.num_raters(r)[i] == len(row)
        if len(row) == 0:
            assert np.isnan(labels.mean_rating(r)[i])
        else:
            assert abs(labels.mean_rating(r)[i] - sum(row) / len(row)) < 1e-12
        std = labels.rater_std(r)[i]
        if len(row) >= 2:
            m = sum(row) / len(row)
            oracle = math.sqrt(sum((v - m) ** 2 for v in row) / (len(row) - 1))
            assert abs(std - oracle) < 1e-12
            assert abs(std - scipy.stats.tstd(row)) < 1e-12
        else:
            assert std == 0.0  # documented fill for < 2 raters
    assert np.isnan(labels.rater_std(r, fill=np.nan)[1])
    assert np.isnan(labels.rater_std(r, fill=np.nan)[0])


def test_rater_std_min_raters_validation():
    with pytest.raises(ValueError, match="min_raters"):
        labels.rater_std(np.ones((2, 3)), min_raters=1)
    r = np.array([[1.0, 2.0, np.nan], [1.0, 2.0, 4.0]])
    out = labels.rater_std(r, min_raters=3, fill=-1.0)
    assert out[0] == -1.0
    assert abs(out[1] - np.std([1, 2, 4], ddof=1)) < 1e-12


def test_moments_jnp_compatible():
    r = _ratings(1, items=10, raters=4, missing=0.3).astype(np.float32)
    np.testing.assert_allclose(labels.mean_rating(jnp.asarray(r)), np.nanmean(r, -1), atol=1e-6)
    s = np.array([np.std(x[~np.isnan(x)], ddof=1) if (~np.isnan(x)).sum() > 1 else 0.0 for x in r])
    np.testing.assert_allclose(labels.rater_std(jnp.asarray(r)), s, atol=1e-5)
    np.testing.assert_array_equal(labels.num_raters(jnp.asarray(r)), (~np.isnan(r)).sum(-1))


# ----------------------------------------------------------------------------- EWE


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ewe_leave_one_out_matches_audpsychometric(seed):
    r = _ratings(seed, items=50, raters=6, missing=0.0)
    oracle = audpsychometric.evaluator_weighted_estimator(r, axis=1)
    np.testing.assert_allclose(labels.ewe(r, leave_one_out=True), oracle, atol=1e-6)
    agree = audpsychometric.rater_agreement(r, axis=1)
    np.testing.assert_allclose(labels.rater_reliability(r, leave_one_out=True), agree, atol=1e-6)


def _ewe_oracle(r, leave_one_out):
    """han17 Eqs. (1)-(5) by explicit loops, pairwise complete, with scipy's pearsonr."""
    items, raters = r.shape
    w = np.zeros(raters)
    for k in range(raters):
        xs, ys = [], []
        for n in range(items):
            if np.isnan(r[n, k]):
                continue
            others = [r[n, j] for j in range(raters) if not np.isnan(r[n, j]) and (j != k or not leave_one_out)]
            if not others:
                continue
            xs.append(r[n, k])
            ys.append(sum(others) / len(others))
        if len(xs) >= 2 and np.std(xs) > 0 and np.std(ys) > 0:
            w[k] = scipy.stats.pearsonr(xs, ys)[0]
    out = np.empty(items)
    for n in range(items):
        ks = [k for k in range(raters) if not np.isnan(r[n, k])]
        den = sum(w[k] for k in ks)
        if not ks:
            out[n] = np.nan
        elif den > 1e-12:
            out[n] = sum(w[k] * r[n, k] for k in ks) / den
        else:
            out[n] = sum(r[n, k] for k in ks) / len(ks)
    return out, w


@pytest.mark.parametrize("loo", [False, True])
@pytest.mark.parametrize("seed", [3, 4])
def test_ewe_with_missing_matches_loop_oracle(seed, loo):
    r = _ratings(seed, items=30, raters=5, missing=0.3)
    r[2] = np.nan
    oracle, w = _ewe_oracle(r, loo)
    np.testing.assert_allclose(labels.rater_reliability(r, leave_one_out=loo), w, atol=1e-6)
    got = labels.ewe(r, leave_one_out=loo)
    assert np.isnan(got[2])
    np.testing.assert_allclose(got, oracle, atol=1e-6)


def test_ewe_without_missing_all_raters_reference_uses_audmetric_pearson():
    r = _ratings(5, items=40, raters=4, missing=0.0)
    mle = r.mean(axis=1)
    w = np.array([audmetric.pearson_cc(r[:, k], mle) for k in range(4)])
    np.testing.assert_allclose(labels.ewe(r), r @ w / w.sum(), atol=1e-6)


def test_ewe_batched_equals_per_recording():
    a, b = _ratings(6, items=25, raters=4, missing=0.2), _ratings(7, items=25, raters=4, missing=0.2)
    batched = labels.ewe(np.stack([a, b]))
    np.testing.assert_allclose(batched[0], labels.ewe(a), atol=1e-12)
    np.testing.assert_allclose(batched[1], labels.ewe(b), atol=1e-12)


def test_ewe_fewer_than_two_raters_is_the_mean():
    single = np.array([[1.0], [2.0], [5.0]])
    np.testing.assert_allclose(labels.ewe(single, leave_one_out=True), [1.0, 2.0, 5.0])
    np.testing.assert_allclose(labels.ewe(single), [1.0, 2.0, 5.0])
    # a second column that is always missing changes nothing
    two = np.concatenate([single, np.full_like(single, np.nan)], axis=1)
    np.testing.assert_allclose(labels.ewe(two, leave_one_out=True), [1.0, 2.0, 5.0])


# ----------------------------------------------------------------------------- AVEC


def _ccc(x, y):
    mx, my = np.mean(x), np.mean(y)
    return 2 * np.mean((x - mx) * (y - my)) / (np.var(x) + np.var(y) + (mx - my) ** 2)


def test_avec_gold_standard_matches_hand_computation():
    r = _ratings(8, items=80, raters=4, missing=0.0) + np.array([0.1, -0.2, 0.3, 0.0])
    k = r.shape[1]
    agree = np.array([np.mean([_ccc(r[:, i], r[:, j]) for j in range(k) if j != i]) for i in range(k)])
    # audmetric's CCC is an independent oracle of the pairwise agreement
    assert abs(_ccc(r[:, 0], r[:, 1]) - audmetric.concordance_cc(r[:, 0], r[:, 1])) < 1e-9
    w = agree / agree.sum()
    mu = r.mean(axis=0)
    oracle = (r - mu).mean(axis=1) + (w * mu).sum()
    g, weights = labels.avec_gold_standard(r, return_weights=True)
    np.testing.assert_allclose(weights, w, atol=1e-9)
    np.testing.assert_allclose(g, oracle, atol=1e-9)


def test_avec_gold_standard_missing_and_single_rater():
    r = _ratings(9, items=30, raters=3, missing=0.0)
    r[:10, 2] = np.nan
    k = 3
    mu = np.nanmean(r, axis=0)
    agree = []
    for i in range(k):
        vals = []
        for j in range(k):
            if j != i:
                m = ~np.isnan(r[:, i]) & ~np.isnan(r[:, j])
                vals.append(_ccc(r[m, i], r[m, j]))
        agree.append(np.mean(vals))
    w = np.array(agree) / np.sum(agree)
    oracle = np.nanmean(r - mu, axis=1) + (w * mu).sum()
    np.testing.assert_allclose(labels.avec_gold_standard(r), oracle, atol=1e-9)
    single = np.array([[0.2], [0.5], [-0.1]])
    np.testing.assert_allclose(labels.avec_gold_standard(single), single[:, 0], atol=1e-12)


def _avec_oracle(r, undefined):
    """Loop oracle of avec_gold_standard with the pairs in ``undefined`` left out."""
    k = r.shape[1]
    agree = []
    for i in range(k):
        vals = []
        for j in range(k):
            if j != i and frozenset((i, j)) not in undefined:
                m = ~np.isnan(r[:, i]) & ~np.isnan(r[:, j])
                vals.append(_ccc(r[m, i], r[m, j]))
        agree.append(np.mean(vals))
    w = np.array(agree) / np.sum(agree)
    return np.nanmean(r - np.nanmean(r, axis=0), axis=1) + (w * np.nanmean(r, axis=0)).sum(), w


def test_avec_gold_standard_leaves_out_undefined_pairs():
    """A pair's CCC is undefined (left out of the agreements) when the two raters
    share fewer than 2 frames, or both are constant at the same value (0 / 0,
    also when round-off makes the computed variances ~1e-33, not 0); a
    constant rater against a varying one has CCC 0 and counts."""
    r = _ratings(11, items=40, raters=4, missing=0.0)
    r[:, 0] = r[:, 1] = 0.3  # identical constants: undefined
    g, w = labels.avec_gold_standard(r, return_weights=True)
    oracle, w_oracle = _avec_oracle(r, {frozenset((0, 1))})
    np.testing.assert_allclose(w, w_oracle, atol=1e-9)
    np.testing.assert_allclose(g, oracle, atol=1e-9)
    # agreements ~0 (CCC with raters 2 and 3); counting the (0, 1) pair as 1 would give 1/3
    assert abs(w[0]) < 1e-12 and abs(w[1]) < 1e-12
    r = _ratings(12, items=30, raters=3, missing=0.0)
    r[:15, 0] = np.nan  # rater 0: frames 15..29
    r[:10, 1] = np.nan
    r[16:, 1] = np.nan  # rater 1: frames 10..15, so one frame in common with rater 0
    g, w = labels.avec_gold_standard(r, return_weights=True)
    oracle, w_oracle = _avec_oracle(r, {frozenset((0, 1))})
    np.testing.assert_allclose(w, w_oracle, atol=1e-9)
    np.testing.assert_allclose(g, oracle, atol=1e-9)


# ----------------------------------------------------------------------------- distributions


def test_soft_labels_match_numpy_histogram():
    rng = np.random.default_rng(10)
    r = rng.integers(1, 8, size=(20, 7)).astype(float)
    r[rng.random(r.shape) < 0.3] = np.nan
    r[0] = np.nan
    edges = labels.soft_label_edges(7, 0.5, 7.5)
    got = labels.soft_labels(r, edges)
    for i in range(r.shape[0]):
        row = r[i][~np.isnan(r[i])]
        if len(row) == 0:
            np.testing.assert_allclose(got[i], np.full(7, 1 / 7))
            continue
        h, _ = np.histogram(row, bins=edges)
        np.testing.assert_allclose(got[i], h / h.sum(), atol=1e-12)
    assert np.all(labels.soft_labels(r[:1], edges, empty="zeros") == 0)
    np.testing.assert_allclose(labels.soft_labels(jnp.asarray(r, dtype=jnp.float32), edges), got, atol=1e-6)


def test_soft_labels_clip_out_of_range_and_right_edge():
    edges = [0.0, 1.0, 2.0]
    got = labels.soft_labels(np.array([[-5.0, 0.5, 2.0, 9.0]]), edges)
    # -5 -> first bin, 0.5 -> first, 2.0 (closed last edge) and 9 -> last
    np.testing.assert_allclose(got, [[0.5, 0.5]])


def test_vote_pdf():
    v = np.array([[3, 1, 0, 0], [0, 0, 0, 0], [0, 2, 2, 0]])
    got = labels.vote_pdf(v)
    np.testing.assert_allclose(got[0], [0.75, 0.25, 0, 0])
    np.testing.assert_allclose(got[1], [0.25] * 4)
    np.testing.assert_allclose(got[2], [0, 0.5, 0.5, 0])
    assert np.all(np.isnan(labels.vote_pdf(v, empty="nan")[1]))
    np.testing.assert_allclose(labels.vote_pdf(jnp.asarray(v)), got, atol=1e-7)
    with pytest.raises(ValueError, match="negative"):
        labels.vote_pdf(np.array([1, -1]))


def test_plurality_class():
    v = np.array([[3, 1, 0, 0], [0, 0, 0, 0], [0, 2, 2, 0], [0, 0, 1, 0]])
    np.testing.assert_array_equal(labels.plurality_class(v), [0, -1, -1, 2])
    assert labels.plurality_class(v[None]).shape == (1, 4)
    with pytest.raises(ValueError, match="negative"):
        labels.plurality_class(np.array([1, -1]))


# ----------------------------------------------------------------------------- shift


def test_shift_labels():
    x = np.arange(6.0)
    np.testing.assert_array_equal(labels.shift_labels(x, 2), [2, 3, 4, 5, 5, 5])
    np.testing.assert_array_equal(labels.shift_labels(x, 0), x)
    np.testing.assert_array_equal(labels.shift_labels(x, 10), [5] * 6)
    np.testing.assert_array_equal(labels.shift_labels(x, -2), [0, 0, 0, 1, 2, 3])
    m = np.arange(12.0).reshape(6, 2)
    want = np.concatenate([m[3:], np.repeat(m[-1:], 3, axis=0)])
    np.testing.assert_array_equal(labels.shift_labels(m, 3, axis=0), want)
    np.testing.assert_array_equal(labels.shift_labels(jnp.asarray(m), 3, axis=0), want)
    assert labels.delay_frames(4.0) == 100


def test_targets_dispatch():
    r = _ratings(11, items=12, raters=3, missing=0.2)
    np.testing.assert_allclose(labels.targets(r, "mean"), labels.mean_rating(r))
    np.testing.assert_allclose(labels.targets(r, "ewe_loo"), labels.ewe(r, leave_one_out=True))
    m = labels.mean_rating(r)
    np.testing.assert_allclose(labels.targets(r, "mean", shift=2), np.concatenate([m[2:], [m[-1]] * 2]))
    with pytest.raises(ValueError, match="unknown target kind"):
        labels.targets(r, "median")


# ----------------------------------------------------------------------------- unit scaling (han17)


def _sigma_traces(seed):
    """Per-recording sigma traces of different lengths, some NaN."""
    rng = np.random.default_rng(seed)
    out = [np.abs(rng.normal(0.3, 0.2, size=n)) for n in (40, 17, 63)]
    out[1][3:6] = np.nan
    return out


def test_unit_scaling_minmax_fit_on_train_apply_elsewhere():
    import json

    train = _sigma_traces(0)
    stats = labels.fit_unit_scaling(train)
    pooled = np.concatenate(train)
    lo, hi = np.nanmin(pooled), np.nanmax(pooled)
    assert stats == json.loads(json.dumps(stats))  # JSON round trip
    assert stats["method"] == "minmax" and stats["count"] == 120 - 3
    assert stats["offset"] == lo and abs(stats["scale"] - (hi - lo)) < 1e-15
    scaled = [labels.apply_unit_scaling(t, stats) for t in train]
    allv = np.concatenate(scaled)
    assert np.nanmin(allv) == 0.0 and abs(np.nanmax(allv) - 1.0) < 1e-12
    assert np.all(np.isnan(scaled[1][3:6]))
    dev = np.array([lo, hi, 2 * hi, lo - 1.0, np.nan])
    out = labels.apply_unit_scaling(dev, stats)
    np.testing.assert_allclose(out[:4], (dev[:4] - lo) / (hi - lo), rtol=1e-12)
    assert np.isnan(out[4])
    np.testing.assert_allclose(labels.apply_unit_scaling(dev, stats, clip=True)[:4],
                               [0.0, 1.0, 1.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(labels.invert_unit_scaling(out, stats)[:4], dev[:4], rtol=1e-12)
    # jnp-compatible
    np.testing.assert_allclose(labels.apply_unit_scaling(jnp.asarray(dev[:4], jnp.float32), stats),
                               (dev[:4] - lo) / (hi - lo), rtol=1e-5)


def test_unit_scaling_mask_z_and_columns():
    train = _sigma_traces(1)
    masks = [np.ones(len(t), bool) for t in train]
    masks[0][:10] = False
    stats = labels.fit_unit_scaling(train, masks, method="z")
    kept = np.concatenate([t[m] for t, m in zip(train, masks)])
    kept = kept[~np.isnan(kept)]
    assert stats["count"] == len(kept)
    assert abs(stats["offset"] - kept.mean()) < 1e-12
    assert abs(stats["scale"] - kept.std()) < 1e-12
    z = labels.apply_unit_scaling(kept, stats)
    assert abs(z.mean()) < 1e-12 and abs(z.std() - 1.0) < 1e-12
    # per column: [T, 2] arousal / valence
    rng = np.random.default_rng(2)
    cols = [rng.uniform([0, 5], [1, 9], size=(n, 2)) for n in (30, 11)]
    st = labels.fit_unit_scaling(cols, axis=-1)
    pooled = np.concatenate(cols)
    np.testing.assert_allclose(st["offset"], pooled.min(0), rtol=0)
    np.testing.assert_allclose(st["scale"], pooled.max(0) - pooled.min(0), rtol=1e-15)
    assert st["count"] == [41, 41]
    out = labels.apply_unit_scaling(pooled, st)
    np.testing.assert_allclose(out.min(0), [0.0, 0.0], atol=1e-15)
    np.testing.assert_allclose(out.max(0), [1.0, 1.0], atol=1e-12)
    # constant values: scale falls back to 1, values map to 0
    const = labels.fit_unit_scaling(np.full(5, 0.4))
    assert const["scale"] == 1.0 and labels.apply_unit_scaling(np.array([0.4]), const)[0] == 0.0


def test_unit_scaling_errors():
    with pytest.raises(ValueError, match="method"):
        labels.fit_unit_scaling(np.ones(3), method="robust")
    with pytest.raises(ValueError, match="no valid"):
        labels.fit_unit_scaling([np.full(3, np.nan)])
    with pytest.raises(ValueError, match=r"mask\[0\]"):
        labels.fit_unit_scaling([np.ones(3)], [np.ones(4, bool)])
    with pytest.raises(ValueError, match="mask: expected 2"):
        labels.fit_unit_scaling([np.ones(3), np.ones(2)], [np.ones(3, bool)])
    with pytest.raises(ValueError, match="axis"):
        labels.fit_unit_scaling(np.ones(3), axis=0)
    with pytest.raises(ValueError, match="last axes differ"):
        labels.fit_unit_scaling([np.ones((3, 2)), np.ones((3, 1))], axis=-1)
    with pytest.raises(ValueError, match=r"column\(s\) \[1\]"):
        labels.fit_unit_scaling(np.array([[1.0, np.nan], [2.0, np.nan]]), axis=-1)
    with pytest.raises(ValueError, match="stats"):
        labels.apply_unit_scaling(np.ones(3), {"offset": 0.0})
    with pytest.raises(ValueError, match="clip"):
        labels.apply_unit_scaling(np.ones(3), labels.fit_unit_scaling(np.arange(3.0), method="z"),
                                  clip=True)
