"""Tests of seru.data.delay: a known lag is found, and the curve matches an independent oracle."""

import json

import numpy as np
import pytest
from sklearn.linear_model import Ridge

from seru.data import delay


def _lagged(seed, lengths, lag, f=4, d=1, noise=0.05, rho=0.9):
    """Recordings whose targets lag AR(1) features by ``lag`` frames: y[t] = x[t - lag] @ w."""
    w = np.random.default_rng(123).normal(size=(f, d))  # the same map in every split
    rng = np.random.default_rng(seed)
    feats, targs = [], []
    for t in lengths:
        e = rng.normal(size=(t + lag, f))
        x = np.empty_like(e)
        x[0] = e[0]
        for i in range(1, len(e)):
            x[i] = rho * x[i - 1] + np.sqrt(1 - rho**2) * e[i]
        y = x[:t] @ w + 0.5 + noise * rng.normal(size=(t, d))
        feats.append(x[lag:])
        targs.append(y[:, 0] if d == 1 else y)
    return feats, targs


def _ccc(a, b):
    ma, mb = a.mean(), b.mean()
    cov = np.mean((a - ma) * (b - mb))
    return 2 * cov / (a.var() + b.var() + (ma - mb) ** 2)


def _oracle_curve(tf, tt, df, dt, shifts, ridge):
    """Per shift: drop the first / last n frames explicitly, sklearn Ridge, numpy CCC (D = 1)."""
    x = np.concatenate(tf)
    mu, sd = x.mean(0), x.std(0)
    out = []
    for n in shifts:
        xs = np.concatenate([f[: max(len(f) - n, 0)] for f in tf])
        ys = np.concatenate([y[n:] for y in tt])
        model = Ridge(alpha=ridge).fit((xs - mu) / sd, ys)
        xd = np.concatenate([f[: max(len(f) - n, 0)] for f in df])
        yd = np.concatenate([y[n:] for y in dt])
        out.append(_ccc(model.predict((xd - mu) / sd), yd))
    return np.array(out)


@pytest.mark.parametrize("lag,hop", [(40, 0.1), (25, 0.04), (0, 0.1)])
def test_finds_known_lag(lag, hop):
    tf, tt = _lagged(0, [300, 250, 280], lag)
    df, dt = _lagged(1, [260, 240], lag)
    res = delay.select_delay(tf, tt, df, dt, hop_s=hop, max_delay_s=6.0 if hop == 0.1 else 2.0)
    assert res == json.loads(json.dumps(res))
    n_max = round((6.0 if hop == 0.1 else 2.0) / hop)
    assert res["shift_frames"] == list(range(n_max + 1))
    np.testing.assert_allclose(res["delay_s"], np.arange(n_max + 1) * hop, rtol=1e-12)
    assert res["best_shift_frames"] == lag
    assert abs(res["best_delay_s"] - lag * hop) < 1e-12
    curve = np.array(res["ccc"])
    assert np.argmax(curve) == lag
    assert curve[lag] > 0.99  # noise 0.05 on a unit-variance signal
    # near the lag the curve rises to it and falls after it (the AR(1) autocorrelation decays)
    assert np.all(np.diff(curve[max(lag - 10, 0) : lag + 1]) > 0)
    assert np.all(np.diff(curve[lag : lag + 10]) < 0)
    # and matches the independent oracle at every shift
    oracle = _oracle_curve(tf, tt, df, dt, res["shift_frames"], ridge=1.0)
    np.testing.assert_allclose(curve, oracle, atol=1e-9)
    np.testing.assert_allclose(np.array(res["ccc_per_dim"])[:, 0], curve, rtol=0, atol=0)


def test_multi_dim_masks_and_nan():
    lag = 12
    tf, tt = _lagged(2, [200, 180], lag, d=2)
    df, dt = _lagged(3, [190], lag, d=2)
    tm = [np.ones(len(t), bool) for t in tt]
    tm[0][50:70] = False
    tt[1][30:40, 1] = np.nan
    dm = [np.ones(len(dt[0]), bool)]
    dm[0][100:120] = False
    res = delay.select_delay(tf, tt, df, dt, hop_s=0.1, max_delay_s=3.0, train_masks=tm,
                             dev_masks=dm, step_frames=2)
    assert res["shift_frames"] == list(range(0, 31, 2))
    assert res["best_shift_frames"] == lag
    per = np.array(res["ccc_per_dim"])
    assert per.shape == (16, 2)
    assert np.all(np.argmax(per, axis=0) == lag // 2)
    np.testing.assert_allclose(res["ccc"], per.mean(1), rtol=1e-15)
    # masking out frames of a target changes the fit only through those frames: a [T, D]
    # mask that drops dimension 1 of recording 1 at 30:40 equals the NaN there
    tm2 = [np.stack([m, m], 1) for m in tm]
    tm2[1][30:40, 1] = False
    tt2 = [t.copy() for t in tt]
    tt2[1][30:40, 1] = 123.0
    res2 = delay.select_delay(tf, tt2, df, dt, hop_s=0.1, max_delay_s=3.0, train_masks=tm2,
                              dev_masks=dm, step_frames=2)
    np.testing.assert_allclose(res2["ccc_per_dim"], res["ccc_per_dim"], atol=1e-12)


def test_short_recording_contributes_nothing_past_its_length():
    tf, tt = _lagged(4, [200, 5], 3)
    df, dt = _lagged(5, [150], 3)
    res = delay.select_delay(tf, tt, df, dt, hop_s=0.1, max_delay_s=1.0)
    assert res["best_shift_frames"] == 3
    oracle = _oracle_curve(tf, tt, df, dt, res["shift_frames"], ridge=1.0)
    np.testing.assert_allclose(res["ccc"], oracle, atol=1e-9)


def test_errors():
    tf, tt = _lagged(6, [50, 40], 2)
    ok = dict(train_features=tf, train_targets=tt, dev_features=tf, dev_targets=tt, hop_s=0.1,
              max_delay_s=1.0)
    for change, match in [
        (dict(hop_s=0.0), "hop_s"),
        (dict(max_delay_s=-1.0), "max_delay_s"),
        (dict(ridge=-1.0), "ridge"),
        (dict(step_frames=0), "step_frames"),
        (dict(train_features=[]), "train_features"),
        (dict(train_targets=tt[:1]), "train_targets"),
        (dict(dev_targets=[tt[0][:-1], tt[1]]), r"dev_targets\[0\]"),
        (dict(dev_features=[f[:, :2] for f in tf]), "dev: expected F = 4"),
        (dict(train_features=[tf[0], tf[1][:, :3]]), "same F"),
        (dict(train_masks=[np.ones(3, bool)] * 2), r"train_masks\[0\]"),
        (dict(dev_masks=[np.zeros(50, bool), np.zeros(40, bool)]), "undefined"),
        (dict(train_features=np.zeros((50, 4))), "lists"),
    ]:
        with pytest.raises(ValueError, match=match):
            delay.select_delay(**{**ok, **change})
    bad = [tf[0].copy(), tf[1]]
    bad[0][3, 1] = np.nan
    with pytest.raises(ValueError, match="finite"):
        delay.select_delay(**{**ok, "train_features": bad})
    with pytest.raises(ValueError, match="no valid target frame"):
        delay.select_delay(**{**ok, "max_delay_s": 6.0})
