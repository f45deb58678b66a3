"""The scores of benchmarks/compare_uncertainty.py (benchmarks/_uncertainty_scores.py)
against independent numpy / scipy oracles on synthetic arrays; no training."""

import math
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import _uncertainty_scores as sc  # noqa: E402


def _ccc(x, y):
    x, y = np.asarray(x, float), np.asarray(y, float)
    return 2 * np.mean((x - x.mean()) * (y - y.mean())) / (x.var() + y.var()
                                                           + (x.mean() - y.mean()) ** 2)


def _rows(rng, n_rec=12, t=200, noise=0.3, framewise=True):
    """Gaussian data whose predicted std is the true noise std (a calibrated u)."""
    s = rng.uniform(0.05, noise, size=(n_rec, t))
    m = rng.normal(size=(n_rec, t))
    y = m + s * rng.normal(size=(n_rec, t))
    rater = s + 0.01 * rng.normal(size=(n_rec, t))
    g = np.repeat(np.arange(n_rec), t)
    return sc.Rows(y.ravel(), m.ravel(), s.ravel(), rater.ravel(), g, framewise)


def test_reject_curve_matches_a_loop():
    rng = np.random.default_rng(0)
    y, m, u = rng.normal(size=50), rng.normal(size=50), rng.uniform(size=50)
    curve = sc.reject_curve(y, m, u)
    order = np.argsort(u, kind="stable")
    for c, v in zip(sc.COVERAGES, curve):
        k = int(round(c * 50))
        assert v == pytest.approx(_ccc(y[order[:k]], m[order[:k]]), abs=1e-6)


def test_reject_scores_oracle_and_efficiency():
    rng = np.random.default_rng(9)
    y = rng.normal(size=300)
    m = y + 0.5 * rng.normal(size=300)
    err = np.abs(y - m)
    # the oracle ordering: efficiency 1; a reversed one: negative
    best = sc.reject_scores(y, m, err)
    assert best["reject_efficiency"] == pytest.approx(1.0)
    assert best["reject_area"] == pytest.approx(best["reject_oracle_area"])
    worst = sc.reject_scores(y, m, -err)
    assert worst["reject_efficiency"] < 0
    full = _ccc(y, m)
    assert best["reject_gain"] == pytest.approx(best["reject_area"] - full, abs=1e-6)
    # class labels: UAR of the kept rows, hits first for the oracle
    lab = rng.integers(0, 3, 200)
    pred = np.where(rng.uniform(size=200) < 0.6, lab, rng.integers(0, 3, 200))
    from seru.calibration import uar_metric

    u = rng.uniform(size=200)
    out = sc.reject_scores(lab, pred, u, uar_metric(3))
    order = np.argsort(u, kind="stable")
    for c, v in zip(sc.COVERAGES, out["reject_curve"]):
        k = order[:int(round(c * 200))]
        yk, pk = lab[k], pred[k]
        cls = np.union1d(yk, pk)
        want = np.mean([np.mean(pk[yk == q] == q) if np.any(yk == q) else 0.0 for q in cls])
        assert v == pytest.approx(want, abs=1e-6)


def test_reject_area_is_the_trapezoid_mean():
    c = np.asarray(sc.COVERAGES)
    curve = 0.3 + 0.5 * c  # linear: the mean over [0.1, 1] is the value at 0.55
    assert sc.reject_area(curve) == pytest.approx(0.3 + 0.5 * 0.55)
    assert sc.reject_area(np.ones(len(c))) == pytest.approx(1.0)
    v = np.random.default_rng(1).uniform(size=len(c))
    trapz = np.sum((v[1:] + v[:-1]) / 2 * np.diff(c))
    assert sc.reject_area(v) == pytest.approx(trapz / 0.9)


def test_spearman_against_scipy_and_nan_handling():
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=40), rng.normal(size=40)
    b[3] = np.nan
    ok = np.isfinite(b)
    assert sc.spearman(a, b) == pytest.approx(stats.spearmanr(a[ok], b[ok]).statistic)
    assert math.isnan(sc.spearman(np.ones(10), np.arange(10.0)))


def test_regression_scores_of_a_calibrated_gaussian():
    rng = np.random.default_rng(3)
    dev, test = _rows(rng), _rows(rng)
    out = sc.score_regression(dev, test, gaussian=True, draws=50)
    z = (test.y - test.m) / test.u
    assert out["coverage_90"] == pytest.approx(np.mean(np.abs(z) <= stats.norm.ppf(0.95)))
    assert out["coverage_90"] == pytest.approx(0.9, abs=0.02)
    nll = np.mean(stats.norm.logpdf(test.y, test.m, test.u))
    assert out["nll"] == pytest.approx(-nll, rel=1e-5)
    assert out["width_90"] == pytest.approx(2 * stats.norm.ppf(0.95) * test.u.mean())
    assert out["cal_error"] < 0.02
    assert "coverage_90_ratings" not in out  # no ratings given
    assert out["ccc"] == pytest.approx(_ccc(test.y, test.m), abs=1e-6)
    assert out["spearman_std"] > 0.9
    # conformal: per recording draws cover at least 90 % on average; a calibrated u makes
    # intervals narrower than a constant band of the same coverage
    assert out["conf_coverage"] >= 0.88
    assert out["conf_pooled_coverage"] == pytest.approx(0.9, abs=0.02)
    assert out["conf_width_ratio"] < 1
    assert out["conf_inf_share"] == 0
    # lowest u first: the most certain rows have the smallest errors
    assert out["reject_gain"] > 0


def test_coverage_of_the_ratings_by_a_loop():
    rng = np.random.default_rng(10)
    dev, test = _rows(rng, n_rec=10, t=20), _rows(rng, n_rec=10, t=20)
    ratings = test.y[:, None] + 0.2 * rng.normal(size=(test.y.size, 4))
    ratings[rng.uniform(size=ratings.shape) < 0.2] = np.nan
    test.ratings = ratings
    out = sc.score_regression(dev, test, gaussian=True, draws=5)
    z, hits, n = stats.norm.ppf(0.95), 0, 0
    for i in range(test.y.size):
        for r in ratings[i]:
            if np.isfinite(r):
                n += 1
                hits += abs(r - test.m[i]) <= z * test.u[i]
    assert out["coverage_90_ratings"] == pytest.approx(hits / n)


def test_conformal_matches_a_reference_loop():
    rng = np.random.default_rng(4)
    dev, test = _rows(rng, n_rec=10, t=30), _rows(rng, n_rec=5, t=30)
    out = sc.conformal_regression(dev, test, draws=20, seed=7)
    scores = np.abs(dev.y - dev.m) / dev.u
    cov, wid = [], []
    for r in range(20):
        g = np.random.default_rng(7 + r)
        picked = np.sort([s[g.integers(s.size)] for s in np.split(scores, 10)])
        q = picked[math.ceil(11 * 0.9) - 1]  # rank 10 of 10
        cov.append(np.mean(np.abs(test.y - test.m) <= q * test.u))
        wid.append(np.mean(2 * q * test.u))
    assert out["conf_coverage"] == pytest.approx(np.mean(cov))
    assert out["conf_width"] == pytest.approx(np.mean(wid))
    qp = np.sort(scores)[math.ceil(301 * 0.9) - 1]
    assert out["conf_pooled_width"] == pytest.approx(np.mean(2 * qp * test.u))


def test_conformal_with_too_few_recordings_is_infinite():
    rng = np.random.default_rng(5)
    dev, test = _rows(rng, n_rec=3, t=20), _rows(rng, n_rec=3, t=20)
    out = sc.conformal_regression(dev, test, draws=5)
    assert out["conf_inf_share"] == 1.0 and out["conf_width"] == math.inf
    assert out["conf_coverage"] == 1.0


def test_utterance_conformal_and_nonpositive_u():
    rng = np.random.default_rng(6)
    n = 400
    dev = sc.Rows(rng.normal(size=n), np.zeros(n), rng.uniform(-0.1, 1, n), np.ones(n),
                  np.arange(n), False)
    test = sc.Rows(rng.normal(size=n), np.zeros(n), rng.uniform(-0.1, 1, n), np.ones(n),
                   np.arange(n), False)
    out = sc.conformal_regression(dev, test)
    floor = 0.01 * np.median(dev.u[dev.u > 0])
    assert out["u_floor"] == pytest.approx(floor)
    q = np.sort(np.abs(dev.y) / np.maximum(dev.u, floor))[math.ceil(401 * 0.9) - 1]
    ut = np.maximum(test.u, floor)
    assert out["conf_coverage"] == pytest.approx(np.mean(np.abs(test.y) <= q * ut))
    assert out["conf_width"] == pytest.approx(np.mean(2 * q * ut))
    assert out["u_floored_share"] == pytest.approx(np.mean(test.u <= floor))


def _class_rows(rng, n=600, k=4, sharp=1.0):
    logits = sharp * rng.normal(size=(n, k))
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    label = np.array([rng.choice(k, p=row) for row in p])  # drawn from p: calibrated
    votes = np.stack([np.bincount(rng.choice(k, size=5, p=row), minlength=k) / 5 for row in p])
    label[:10] = -1  # no consensus
    return sc.ClassRows(p, votes, label)


def test_class_scores_against_oracles():
    rng = np.random.default_rng(8)
    dev, test = _class_rows(rng), _class_rows(rng)
    out = sc.score_classes(dev, test)
    has = test.label >= 0
    p, y = test.probs[has], test.label[has]
    pred = p.argmax(1)
    classes = np.union1d(y, pred)
    recalls = [np.mean(pred[y == c] == c) if np.any(y == c) else 0.0 for c in classes]
    assert out["uar"] == pytest.approx(np.mean(recalls), abs=1e-6)
    assert out["brier"] == pytest.approx(np.mean(np.sum((test.probs - test.votes) ** 2, 1)))
    h = stats.entropy(test.probs, axis=1)
    hv = stats.entropy(test.votes, axis=1)
    assert out["spearman_entropy"] == pytest.approx(stats.spearmanr(h, hv).statistic)
    assert out["ece"] < 0.06  # labels drawn from p
    # non-randomised APS is conservative: at least 90 % (per class too, for Mondrian)
    assert out["aps_coverage"] >= 0.9 and out["mondrian_coverage"] >= 0.9
    assert out["mondrian_min_class_coverage"] >= 0.85
    assert 1 <= out["aps_size"] <= p.shape[1]
    dh = dev.label >= 0
    sd = []
    for row, lab in zip(dev.probs[dh], dev.label[dh]):
        order = np.argsort(-row, kind="stable")
        sd.append(row[order][:list(order).index(lab) + 1].sum())
    q = np.sort(sd)[math.ceil((len(sd) + 1) * 0.9) - 1]
    # the set: top-ranked classes until their total reaches q (by a loop)
    sizes, hits = [], []
    for row, lab in zip(p, y):
        order = np.argsort(-row, kind="stable")
        before = np.cumsum(row[order]) - row[order]
        members = order[before < q - 1e-12]
        sizes.append(len(members))
        hits.append(lab in members)
    assert out["aps_size"] == pytest.approx(np.mean(sizes))
    assert out["aps_coverage"] == pytest.approx(np.mean(hits))
    assert out["reject_gain"] > 0  # low entropy = more often right


def test_against_best_is_welch_one_tailed():
    per = {"a": [0.80, 0.82, 0.81], "b": [0.70, 0.75, 0.72], "c": [0.81, 0.79, 0.80]}
    out = sc.against_best(per, "high")
    assert out["best"] == "a" and out["p"]["a"] is None
    t = stats.ttest_ind(per["a"], per["b"], equal_var=False)
    assert out["p"]["b"] == pytest.approx(t.pvalue / 2)  # t > 0: one tail
    low = sc.against_best(per, "low")
    assert low["best"] == "b"
    cov = sc.against_best({"x": [0.9, 0.91, 0.89], "y": [0.97, 0.98, 0.99]}, "target", 0.9)
    assert cov["best"] == "x" and cov["p"]["y"] < 0.01
    with pytest.raises(ValueError):
        sc.against_best(per, "sideways")


def test_summary_drops_nonfinite():
    s = sc.summary([1.0, 2.0, float("nan"), None, 3.0])
    assert s["mean"] == 2.0 and s["std"] == pytest.approx(1.0) and s["values"] == [1, 2, 3]
    assert math.isnan(sc.summary([None])["mean"])
