"""Tests of seru/class_metrics.py against independent oracles: audmetric (F1, UAR, confusion),
scipy (rel_entr, jensenshannon), scikit-learn where installed (calibration curve, Brier) and
hand-computed cases (ECE, k-best paUAR per speaker and gender, hypotheses)."""

import audmetric
import numpy as np
import pytest
from scipy import special
from scipy.spatial import distance

from seru import class_metrics as cm

# ---------------------------------------------------------------------------
# the hand-computed k-best case: 3 speakers (A: f; B, C: m), K = 3, no ties
# ---------------------------------------------------------------------------

SPEAKER = np.array(["A"] * 3 + ["B"] * 4 + ["C"] * 2)
GENDER = np.array(["f"] * 3 + ["m"] * 6)
Y = np.array([0, 1, 2, 0, 0, 1, 1, 2, 2])
P = np.array([[.6, .3, .1], [.5, .4, .1], [.1, .2, .7],            # A
              [.2, .5, .3], [.7, .2, .1], [.1, .3, .6], [.2, .6, .2],  # B
              [.3, .3, .4], [.5, .1, .4]])                          # C
#: per-speaker k-best UAR, by hand (audmetric's classes: seen in truth or prediction)
#: A k1: preds 0,0,2 -> recalls 1, 0, 1 -> 2/3; k2: all hits -> 1
#: B k1: preds 1,0,2,1 -> recall0 1/2, recall1 1/2, recall2 0 -> 1/3;
#:   k2: effective 1,0,1,1 -> classes {0, 1}: 1/2 and 1 -> 3/4 (not above 0.75); k3: 1
#: C k1: preds 2,0 -> recall2 1/2, recall0 0 -> 1/4; k2: 1
HAND_UAR = {1: {"A": 2 / 3, "B": 1 / 3, "C": 1 / 4}, 2: {"A": 1.0, "B": 0.75, "C": 1.0},
            3: {"A": 1.0, "B": 1.0, "C": 1.0}}
HAND_PA = {(0.5, 1): 1 / 3, (0.75, 1): 0.0, (0.5, 2): 1.0, (0.75, 2): 2 / 3,
           (0.5, 3): 1.0, (0.75, 3): 1.0}
HAND_PA_GENDER = {(0.5, 1): {"f": 1.0, "m": 0.0}, (0.75, 1): {"f": 0.0, "m": 0.0},
                  (0.5, 2): {"f": 1.0, "m": 1.0}, (0.75, 2): {"f": 1.0, "m": 0.5},
                  (0.5, 3): {"f": 1.0, "m": 1.0}, (0.75, 3): {"f": 1.0, "m": 1.0}}


def test_kbest_pa_uar_hand_computed():
    for (thr, k), want in HAND_PA.items():
        np.testing.assert_allclose(cm.kbest_pa_uar(Y, P, SPEAKER, thr, k), want, rtol=1e-6,
                                   err_msg=f"paUAR-{thr} k={k}")


def test_kbest_pa_uar_by_gender_hand_computed():
    for (thr, k), want in HAND_PA_GENDER.items():
        got = cm.kbest_pa_uar_by_group(Y, P, SPEAKER, GENDER, thr, k)
        assert sorted(got) == ["f", "m"]
        for g in want:
            np.testing.assert_allclose(got[g], want[g], rtol=1e-6, err_msg=f"{g} {thr} {k}")


def test_group_uar_hand_computed_and_vs_audmetric():
    pred = P.argmax(-1)
    got = cm.group_uar(Y, pred, SPEAKER, 3)
    assert list(got) == ["A", "B", "C"]
    for s, want in HAND_UAR[1].items():
        np.testing.assert_allclose(got[s], want, rtol=1e-6)
    rng = np.random.default_rng(0)
    y, p, g = rng.integers(0, 4, 50), rng.integers(0, 4, 50), rng.integers(0, 5, 50)
    got = cm.group_uar(y, p, g, 4)
    for s in np.unique(g):
        np.testing.assert_allclose(got[str(s)], audmetric.unweighted_average_recall(
            list(y[g == s]), list(p[g == s])), rtol=1e-6)


def test_kbest_pa_uar_vs_audmetric_random():
    rng = np.random.default_rng(1)
    n = 90
    probs = rng.dirichlet(np.ones(4), n)
    y = rng.integers(0, 4, n)
    spk = np.array([f"s{i}" for i in rng.integers(0, 6, n)])
    for k in (1, 2, 3):
        top = np.argsort(-probs, -1)[:, :k]
        eff = np.where((top == y[:, None]).any(-1), y, probs.argmax(-1))
        per = [audmetric.unweighted_average_recall(list(y[spk == s]), list(eff[spk == s]))
               for s in np.unique(spk)]
        for thr in (0.5, 0.75):
            np.testing.assert_allclose(cm.kbest_pa_uar(y, probs, spk, thr, k),
                                       np.mean(np.array(per) > thr), rtol=1e-6)


def test_kbest_pa_uar_errors():
    with pytest.raises(ValueError, match=r"k must lie in \[1, 3\]"):
        cm.kbest_pa_uar(Y, P, SPEAKER, 0.5, 4)
    with pytest.raises(ValueError, match="fraction"):
        cm.kbest_pa_uar(Y, P, SPEAKER, 75, 1)
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 3\)"):
        cm.kbest_pa_uar(np.where(Y == 2, -1, Y), P, SPEAKER, 0.5, 1)
    with pytest.raises(ValueError, match="a group per row"):
        cm.kbest_pa_uar(Y, P, SPEAKER[:-1], 0.5, 1)
    assert np.isnan(cm.kbest_pa_uar(Y[:0], P[:0], SPEAKER[:0], 0.5, 1))


# ---------------------------------------------------------------------------
# F1
# ---------------------------------------------------------------------------


def test_macro_f1_vs_audmetric():
    rng = np.random.default_rng(2)
    for trial in range(5):
        yt, yp = rng.integers(0, 5, 40), rng.integers(0, 5, 40)
        if trial == 1:  # class 4 predicted, never true
            yt[yt == 4] = 0
        if trial == 2:  # class 3 in neither
            yt[yt == 3], yp[yp == 3] = 1, 2
        np.testing.assert_allclose(cm.macro_f1(yt, yp, 5),
                                   audmetric.unweighted_average_fscore(list(yt), list(yp)),
                                   rtol=1e-12)
    assert cm.macro_f1([0, 0], [0, 1]) == pytest.approx(1 / 3)  # audmetric's docstring case
    assert np.isnan(cm.macro_f1(np.zeros(0, int), np.zeros(0, int)))
    with pytest.raises(ValueError, match="integer"):
        cm.macro_f1(np.array([0.0, 1.0]), np.array([0, 1]))
    with pytest.raises(ValueError, match=r"\[0, 2\)"):
        cm.macro_f1(np.array([0, 2]), np.array([0, 1]), 2)


# ---------------------------------------------------------------------------
# calibration
# ---------------------------------------------------------------------------

#: a hand case: 10 bins; confidences 0.9 (hit), 0.9 (miss), 0.6 (hit), 0.45 (hit)
ECE_P = np.array([[.9, .05, .05], [.05, .9, .05], [.6, .3, .1], [.2, .35, .45]])
ECE_Y = np.array([0, 0, 0, 2])


def test_top_label_ece_hand_computed():
    # bin (.8, .9]: 2 items, acc 1/2, conf .9 -> 2/4 * .4; (.5, .6]: 1/4 * .4; (.4, .5]: 1/4 * .55
    np.testing.assert_allclose(cm.top_label_ece(ECE_P, ECE_Y, n_bins=10),
                               0.5 * 0.4 + 0.25 * 0.4 + 0.25 * 0.55, rtol=1e-12)
    # one bin: |mean hit - mean confidence|
    np.testing.assert_allclose(cm.top_label_ece(ECE_P, ECE_Y, n_bins=1),
                               abs(0.75 - np.mean([.9, .9, .6, .45])), rtol=1e-12)
    # against a vote distribution: the vote share of the predicted class is the correctness
    votes = np.array([[.5, .5, 0.], [1., 0., 0.], [.2, .4, .4], [0., .25, .75]])
    want = 0.5 * abs(np.mean([.5, 0.]) - .9) + 0.25 * abs(.2 - .6) + 0.25 * abs(.75 - .45)
    np.testing.assert_allclose(cm.top_label_ece(ECE_P, votes, n_bins=10), want, rtol=1e-12)


def test_reliability_bins_edges_are_right_closed():
    counts, conf, acc = cm.reliability_bins([0.0, 0.1, 0.1000001, 0.3, 1.0], [1, 0, 1, 1, 0], 10)
    np.testing.assert_array_equal(counts, [2, 1, 1, 0, 0, 0, 0, 0, 0, 1])  # 0.1 in (0, 0.1]
    np.testing.assert_allclose(acc[:3], [0.5, 1.0, 1.0])
    np.testing.assert_allclose(conf[0], 0.05)
    assert np.isnan(acc[4]) and np.isnan(conf[4])
    with pytest.raises(ValueError, match="positive integer"):
        cm.reliability_bins([0.5], [1], 0)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        cm.reliability_bins([1.5], [1], 10)


def test_reliability_and_ece_vs_sklearn():
    calibration = pytest.importorskip("sklearn.calibration")
    rng = np.random.default_rng(3)
    n, k = 400, 4
    probs = rng.dirichlet(np.ones(k) * 0.7, n)
    y = np.array([rng.choice(k, p=p) for p in probs])
    # top-label: the reliability bins are sklearn's uniform calibration curve
    conf, hit = probs.max(-1), (probs.argmax(-1) == y).astype(float)
    counts, mconf, macc = cm.reliability_bins(conf, hit, 15)
    true, pred = calibration.calibration_curve(hit, conf, n_bins=15, strategy="uniform")
    np.testing.assert_allclose(macc[counts > 0], true, rtol=1e-12)
    np.testing.assert_allclose(mconf[counts > 0], pred, rtol=1e-12)
    hist = np.histogram(conf, bins=np.linspace(0, 1, 16))[0]  # no value sits on an edge
    np.testing.assert_array_equal(counts, hist)
    np.testing.assert_allclose(cm.top_label_ece(probs, y, 15),
                               np.sum(hist[hist > 0] / n * np.abs(true - pred)), rtol=1e-12)
    # class-wise: the mean over classes of each class's ECE
    want = []
    for c in range(k):
        t, pr = calibration.calibration_curve((y == c).astype(float), probs[:, c], n_bins=15)
        h = np.histogram(probs[:, c], bins=np.linspace(0, 1, 16))[0]
        want.append(np.sum(h[h > 0] / n * np.abs(t - pr)))
    np.testing.assert_allclose(cm.classwise_ece(probs, y, 15), np.mean(want), rtol=1e-12)


def test_classwise_ece_hand_computed():
    # K = 2, one bin: per class |mean indicator - mean p_k|
    p = np.array([[.8, .2], [.4, .6]])
    y = np.array([0, 0])
    want = np.mean([abs(1.0 - 0.6), abs(0.0 - 0.4)])
    np.testing.assert_allclose(cm.classwise_ece(p, y, n_bins=1), want, rtol=1e-12)
    # 2 bins: class 0: .8 -> (.5, 1] hit, .4 -> (0, .5] hit: (.2 + .6) / 2; class 1 the same
    np.testing.assert_allclose(cm.classwise_ece(p, y, n_bins=2), 0.4, rtol=1e-12)
    # a perfectly calibrated soft target: zero
    np.testing.assert_allclose(cm.classwise_ece(p, p, n_bins=10), 0.0, atol=1e-15)


def test_brier_one_hot_and_votes():
    p = np.array([[.7, .2, .1], [.1, .1, .8]])
    np.testing.assert_allclose(cm.brier(p, np.array([0, 1])),
                               [.3**2 + .2**2 + .1**2, .1**2 + .9**2 + .8**2], rtol=1e-12)
    np.testing.assert_allclose(cm.brier(np.eye(3)[[1]], np.array([0])), [2.0])  # the maximum
    votes = np.array([[.5, .5, 0.], [0., 0., 1.]])
    np.testing.assert_allclose(cm.brier(p, votes), ((p - votes) ** 2).sum(-1), rtol=1e-12)
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(4)
    probs = rng.dirichlet(np.ones(5), 60)
    y = rng.integers(0, 5, 60)
    np.testing.assert_allclose(np.mean(cm.brier(probs, y)),
                               metrics.brier_score_loss(y, probs, labels=range(5)), rtol=1e-12)


def test_probability_checks():
    with pytest.raises(ValueError, match="sum to 1"):
        cm.brier(np.array([[.5, .6]]), np.array([0]))
    with pytest.raises(ValueError, match=">= 0"):
        cm.top_label_ece(np.array([[1.2, -.2]]), np.array([0]))
    with pytest.raises(ValueError, match=r"\[0, 2\)"):
        cm.brier(np.array([[.5, .5]]), np.array([-1]))
    with pytest.raises(ValueError, match="does not|vs probs"):
        cm.brier(np.array([[.5, .5]]), np.array([[.2, .3, .5]]))


# ---------------------------------------------------------------------------
# divergences
# ---------------------------------------------------------------------------


def test_kl_vs_scipy_rel_entr():
    rng = np.random.default_rng(5)
    t = rng.dirichlet(np.ones(6), 30)
    t[:5, 2] = 0.0  # zero votes: 0 log 0 = 0
    t /= t.sum(-1, keepdims=True)
    p = rng.dirichlet(np.ones(6), 30)
    np.testing.assert_allclose(cm.kl_divergence(t, p), special.rel_entr(t, p).sum(-1),
                               rtol=1e-12)
    # a predicted zero under a voted class: floored at KL_EPS, finite
    q = np.array([0.0, 0.5, 0.5])
    tt = np.array([0.2, 0.4, 0.4])
    want = special.rel_entr(tt, np.maximum(q, cm.KL_EPS)).sum()
    np.testing.assert_allclose(cm.kl_divergence(tt, q), want, rtol=1e-12)
    assert np.isfinite(want) and want > 5
    np.testing.assert_allclose(cm.kl_divergence(t, t), 0.0, atol=1e-15)
    with pytest.raises(ValueError, match="eps"):
        cm.kl_divergence(tt, q, eps=0.0)


def test_js_vs_scipy_jensenshannon():
    rng = np.random.default_rng(6)
    p, q = rng.dirichlet(np.ones(5), (2, 40))
    p[:4, 0] = 0.0
    p /= p.sum(-1, keepdims=True)
    np.testing.assert_allclose(cm.js_divergence(p, q),
                               distance.jensenshannon(p, q, axis=-1) ** 2, rtol=1e-10)
    np.testing.assert_allclose(cm.js_divergence(q, p), cm.js_divergence(p, q), rtol=1e-12)
    # disjoint supports: ln 2, the maximum (nats)
    np.testing.assert_allclose(cm.js_divergence([1.0, 0.0], [0.0, 1.0]), np.log(2), rtol=1e-12)
    with pytest.raises(ValueError, match="must both be"):
        cm.js_divergence(p, q[:, :4])


# ---------------------------------------------------------------------------
# hypotheses and their confusion
# ---------------------------------------------------------------------------


def test_top_hypotheses_and_ties():
    p = np.array([[.1, .6, .3], [.4, .2, .4], [1 / 3, 1 / 3, 1 / 3]])
    np.testing.assert_array_equal(cm.top_hypotheses(p, 2), [[1, 2], [0, 2], [0, 1]])
    np.testing.assert_array_equal(cm.top_hypotheses(P, 1)[:, 0], P.argmax(-1))
    with pytest.raises(ValueError, match=r"\[1, 3\]"):
        cm.top_hypotheses(p, 0)


def test_confusion_vs_audmetric():
    rng = np.random.default_rng(7)
    a, b = rng.integers(0, 4, 50), rng.integers(0, 4, 50)
    a[a == 3] = 0  # an empty row
    labels = [0, 1, 2, 3]
    np.testing.assert_array_equal(cm.confusion(a, b, 4),
                                  audmetric.confusion_matrix(list(a), list(b), labels))
    np.testing.assert_allclose(cm.confusion(a, b, 4, normalize="row"),
                               audmetric.confusion_matrix(list(a), list(b), labels,
                                                          normalize=True), rtol=1e-12)
    np.testing.assert_allclose(cm.confusion(a, b, 4, normalize="all").sum(), 1.0)
    with pytest.raises(ValueError, match="normalize"):
        cm.confusion(a, b, 4, normalize="col")


def test_class_shares():
    got = cm.class_shares(Y, SPEAKER, 3)
    np.testing.assert_allclose(got["A"], [1 / 3, 1 / 3, 1 / 3])
    np.testing.assert_allclose(got["B"], [.5, .5, 0])
    np.testing.assert_allclose(got["C"], [0, 0, 1])


# ---------------------------------------------------------------------------
# entropy and the graders' disagreement
# ---------------------------------------------------------------------------


def test_entropy_vs_scipy_and_permutations_tie():
    from scipy import stats

    rng = np.random.default_rng(7)
    p = rng.dirichlet(np.ones(5), 40)
    p[:4, 1] = 0.0  # 0 log 0 = 0
    p /= p.sum(-1, keepdims=True)
    np.testing.assert_allclose(cm.entropy(p), stats.entropy(p, axis=-1), rtol=1e-12)
    np.testing.assert_allclose(cm.entropy(np.eye(3)), 0.0)
    np.testing.assert_allclose(cm.entropy(np.full((1, 4), 0.25)), np.log(4), rtol=1e-15)
    # votes 3-1-1 for different classes: bit-identical entropies, so their ranks tie
    v = np.array([[.6, .2, .2], [.2, .6, .2], [.2, .2, .6]])
    assert len(set(cm.entropy(v).tolist())) == 1


def test_spearman_entropy_votes_vs_scipy():
    from scipy import stats

    # 6 items of K = 3: votes from 5 graders, predictions that rank them nearly alike
    votes = np.array([[5, 0, 0], [4, 1, 0], [3, 1, 1], [2, 2, 1], [3, 2, 0], [1, 4, 0]]) / 5
    probs = np.array([[.9, .05, .05], [.7, .2, .1], [.4, .35, .25], [.5, .3, .2],
                      [.6, .3, .1], [.15, .8, .05]])
    # oracle: scipy's entropy (rounded, so that equal vote entropies tie as in the metric)
    want = stats.spearmanr(stats.entropy(probs, axis=-1),
                           np.round(stats.entropy(votes, axis=-1), 12)).statistic
    got = cm.spearman_entropy_votes(probs, votes)
    assert got == pytest.approx(want, rel=1e-12)
    assert 0.5 < got < 1.0
    # row order does not matter; rows 1 and 5 (votes 4-1 and 1-4) tie in the vote entropy
    assert cm.spearman_entropy_votes(probs[::-1], votes[::-1]) == pytest.approx(got, rel=1e-12)
    # undefined: a single item, or graders unanimous everywhere
    assert np.isnan(cm.spearman_entropy_votes(probs[:1], votes[:1]))
    assert np.isnan(cm.spearman_entropy_votes(probs[:3], np.eye(3)))
    with pytest.raises(ValueError, match="one shape"):
        cm.spearman_entropy_votes(probs[:, :2] / probs[:, :2].sum(-1, keepdims=True), votes)
    with pytest.raises(ValueError, match="sum to 1"):
        cm.spearman_entropy_votes(probs, votes * 2)
