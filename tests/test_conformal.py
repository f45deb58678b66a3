"""Tests of seru/conformal.py: numpy reference loops, and coverage on synthetic exchangeable
data within the split-conformal bounds [1 - alpha, 1 - alpha + 1 / (n + 1)] (averaged over
repeated calibration / test draws, so within a few standard errors)."""

import math

import numpy as np
import pytest

from seru import conformal

ALPHA = 0.1


def _reference_quantile(scores, alpha):
    s = sorted(float(x) for x in scores)
    k = math.ceil((len(s) + 1) * (1 - alpha))
    return s[k - 1] if k <= len(s) else math.inf


def test_conformal_quantile_against_a_reference_and_its_errors():
    rng = np.random.default_rng(0)
    for n in (1, 5, 9, 10, 57, 200):
        s = rng.exponential(size=n)
        assert conformal.conformal_quantile(s, ALPHA) == _reference_quantile(s, ALPHA)
    assert conformal.conformal_quantile([1.0] * 8, ALPHA) == math.inf  # rank 9 > 8
    with pytest.raises(ValueError, match="alpha"):
        conformal.conformal_quantile([1.0], 1.0)
    with pytest.raises(ValueError, match="at least one score"):
        conformal.conformal_quantile([], 0.1)
    with pytest.raises(ValueError, match="one shape"):
        conformal.normalised_scores([1.0], [1.0, 2.0], [1.0])


def test_normalised_intervals_cover_exchangeable_rows_within_the_bounds():
    """Heteroscedastic data, a miscalibrated s_hat (half the true spread): the conformal
    interval still covers 1 - alpha on average, and no more than 1 - alpha + 1/(n+1)."""
    rng = np.random.default_rng(1)
    n, trials, covered = 99, 400, []
    for _ in range(trials):
        m = rng.normal(size=n + 500)
        sd = rng.uniform(0.2, 2.0, size=n + 500)
        y = m + sd * rng.standard_t(5, size=n + 500)
        s_hat = 0.5 * sd
        q = conformal.conformal_quantile(conformal.normalised_scores(y[:n], m[:n], s_hat[:n]),
                                         ALPHA)
        lo, hi = conformal.interval(m[n:], s_hat[n:], q)
        covered.append(np.mean((y[n:] >= lo) & (y[n:] <= hi)))
    mean, se = np.mean(covered), np.std(covered) / np.sqrt(trials)
    assert 1 - ALPHA - 4 * se <= mean <= 1 - ALPHA + 1 / (n + 1) + 4 * se


def test_recording_quantile_covers_a_random_frame_of_a_new_recording():
    """Recordings with their own offset (frames of one recording correlated): one frame
    per calibration recording gives coverage of a random frame of a new recording at
    least 1 - alpha; pooling every frame of few recordings as if exchangeable does not."""
    rng = np.random.default_rng(2)

    def recordings(k):
        offsets = rng.normal(scale=5.0, size=k)
        return [off + rng.normal(size=200) for off in offsets]  # scores' base: y - m, s = 1

    cov_rec, cov_pool = [], []
    for _ in range(300):
        cal, new = recordings(29), recordings(1)[0]
        q = conformal.recording_quantile([np.abs(r) for r in cal], ALPHA, rng)
        frame = new[rng.integers(new.size)]
        cov_rec.append(abs(frame) <= q)
        q_pool = conformal.conformal_quantile(np.abs(np.concatenate(cal[:3])), ALPHA)
        cov_pool.append(abs(frame) <= q_pool)
    se = np.sqrt(ALPHA * (1 - ALPHA) / 300)
    assert np.mean(cov_rec) >= 1 - ALPHA - 3 * se
    assert np.mean(cov_pool) < 1 - ALPHA - 3 * se  # 3 recordings' frames: too narrow
    with pytest.raises(ValueError, match="recording 1 has no scores"):
        conformal.recording_quantile([[1.0], []], ALPHA, rng)


def _reference_aps_set(p, q):
    """The set written out: classes by decreasing probability (ties in class order),
    added while the total of those already in is below q."""
    order = sorted(range(len(p)), key=lambda c: (-p[c], c))
    out, total = set(), 0.0
    for c in order:
        if total < q - 1e-12:
            out.add(c)
        total += p[c]
    return out


def _softmax_data(rng, n, k=6, skew=None):
    logits = rng.normal(size=(n, k)) * 1.5
    p = np.exp(logits)
    p /= p.sum(1, keepdims=True)
    if skew is not None:
        p = p * skew
        p /= p.sum(1, keepdims=True)
    y = np.array([rng.choice(k, p=row) for row in p])  # labels drawn from the model itself
    return p, y


def test_aps_sets_equal_a_reference_loop_and_cover():
    rng = np.random.default_rng(3)
    p, y = _softmax_data(rng, 300)
    for q in (0.3, 0.7, 0.95, 1.0):
        sets = conformal.aps_sets(p, q)
        for i in range(0, 300, 7):
            assert set(np.flatnonzero(sets[i])) == _reference_aps_set(p[i], q)
    assert conformal.aps_sets(p, 0.0).sum(1).min() >= 0 and conformal.aps_sets(p, 2.0).all()
    covered, n = [], 199
    for _ in range(200):
        pc, yc = _softmax_data(rng, n)
        pt, yt = _softmax_data(rng, 200)
        q = conformal.aps_quantile(pc, yc, ALPHA)
        covered.append(np.mean(conformal.aps_sets(pt, q)[np.arange(200), yt]))
    mean, se = np.mean(covered), np.std(covered) / np.sqrt(len(covered))
    assert mean >= 1 - ALPHA - 4 * se


def test_mondrian_sets_cover_every_class_of_a_skewed_distribution():
    """Calibration labels from a miscalibrated model on a skewed class distribution:
    marginal APS leaves the rare classes under-covered, the Mondrian sets cover each class
    at least 1 - alpha (within three standard errors)."""
    rng = np.random.default_rng(4)
    skew = np.array([8.0, 4.0, 2.0, 1.0, 0.5, 0.25])
    hits_m = {c: [] for c in range(6)}
    hits_a = {c: [] for c in range(6)}
    for _ in range(40):
        pc, yc = _softmax_data(rng, 800, skew=skew)
        pt, yt = _softmax_data(rng, 800, skew=skew)
        # the model is overconfident about the common classes: it sees the skew twice
        sharpen = lambda p: (p * skew) / (p * skew).sum(1, keepdims=True)  # noqa: E731
        qm = conformal.mondrian_quantiles(sharpen(pc), yc, ALPHA)
        qa = conformal.aps_quantile(sharpen(pc), yc, ALPHA)
        in_m = conformal.aps_sets(sharpen(pt), qm)[np.arange(800), yt]
        in_a = conformal.aps_sets(sharpen(pt), qa)[np.arange(800), yt]
        for c in range(6):
            hits_m[c].extend(in_m[yt == c])
            hits_a[c].extend(in_a[yt == c])
    for c in range(6):
        n = len(hits_m[c])
        assert np.mean(hits_m[c]) >= 1 - ALPHA - 3 * np.sqrt(ALPHA * (1 - ALPHA) / n), c
    assert min(np.mean(hits_a[c]) for c in range(6)) < 1 - ALPHA - 0.05
    with pytest.raises(ValueError, match="labels must be"):
        conformal.aps_scores(np.ones((2, 3)) / 3, [0, 3])
