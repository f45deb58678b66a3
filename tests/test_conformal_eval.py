"""Tests of the conformal calibration of a run (seru/conformal_eval.py): thresholds equal a
numpy reference, coverage on exchangeable synthetic data lies within its bounds (marginal,
per recording, per class), and the metrics equal loops written here."""

import math
import types

import numpy as np
import pytest

from seru import conformal_eval
from seru.systems.base import ClassDistribution, Regression

ALPHA = 0.1


def _system(outputs, dims=("arousal",)):
    config = types.SimpleNamespace(data=types.SimpleNamespace(dimensions=dims))
    return types.SimpleNamespace(outputs=outputs, config=config)


REG = _system((Regression(),))


def _utterances(rng, n, shrink=0.5):
    """Gold ~ N(m, s); the model predicts m and an overconfident ``shrink * s``."""
    m = rng.normal(size=(n, 1))
    s = rng.uniform(0.2, 1.0, size=(n, 1))
    y = m + s * rng.normal(size=(n, 1))
    return ({"m_hat": m, "s_hat": shrink * s},
            {"gold": y, "item": np.arange(n), "ratings": y[:, :, None] + rng.normal(
                0, 0.1, (n, 1, 3))})


def test_utterance_threshold_equals_numpy_reference():
    rng = np.random.default_rng(0)
    p, t = _utterances(rng, 57)
    fitted = conformal_eval.fit(REG, (p, t), ALPHA, framewise=False)
    scores = np.sort(np.abs(t["gold"] - p["m_hat"])[:, 0] / p["s_hat"][:, 0])
    k = math.ceil((57 + 1) * (1 - ALPHA))
    assert fitted["outputs"]["m_hat"]["q"] == [scores[k - 1]]
    assert fitted["outputs"]["m_hat"]["n_calibration"] == 57


def test_utterance_coverage_within_its_bounds_over_calibration_draws():
    # Marginal coverage of split conformal: 1 - alpha <= E[coverage] <= 1 - alpha + 1/(n+1).
    rng = np.random.default_rng(1)
    n, reps = 99, 150
    covs = []
    for _ in range(reps):
        fitted = conformal_eval.fit(REG, _utterances(rng, n), ALPHA, framewise=False)
        m = conformal_eval.conformal_metrics(REG, _utterances(rng, 2000), fitted)
        covs.append(m["conformal_coverage"])
    covs = np.array(covs)
    se = covs.std(ddof=1) / np.sqrt(reps)
    assert 1 - ALPHA - 4 * se <= covs.mean() <= 1 - ALPHA + 1 / (n + 1) + 4 * se
    # The overconfident raw std covers far less than 90 %: the calibration did the work.
    p, t = _utterances(rng, 5000)
    raw = np.mean(np.abs(t["gold"] - p["m_hat"]) <= 1.645 * p["s_hat"])
    assert raw < 0.65


def test_metrics_equal_loops_and_groups():
    rng = np.random.default_rng(2)
    p, t = _utterances(rng, 40)
    fitted = {"alpha": ALPHA, "outputs": {"m_hat": {"kind": "interval", "mean": "m_hat",
                                                    "spread": "s_hat", "q": [1.3],
                                                    "n_calibration": 9}}}
    speakers = np.array(["a", "b", "c", ""] * 10)
    m = conformal_eval.conformal_metrics(REG, (p, t), fitted, {"speaker": speakers})
    inside = np.abs(t["gold"][:, 0] - p["m_hat"][:, 0]) <= 1.3 * p["s_hat"][:, 0]
    assert m["conformal_coverage"] == pytest.approx(inside.mean())
    assert m["conformal_width"] == pytest.approx(np.mean(2 * 1.3 * p["s_hat"]))
    ratings_in = [abs(r - p["m_hat"][i, 0]) <= 1.3 * p["s_hat"][i, 0]
                  for i in range(40) for r in t["ratings"][i, 0]]
    assert m["conformal_coverage_ratings"] == pytest.approx(np.mean(ratings_in))
    per = {g: inside[speakers == g].mean() for g in "abc"}
    for g, v in per.items():
        assert m[f"speaker/{g}/conformal_coverage"] == pytest.approx(v)
    assert "speaker//conformal_coverage" not in m
    assert m["conformal_coverage_speaker_min"] == pytest.approx(min(per.values()))
    assert m["conformal_coverage_speakers_below"] == pytest.approx(
        np.mean([v < 0.9 for v in per.values()]))


def _recordings(rng, n_rec, frames=50):
    """Frames of a recording share an offset of the error: not exchangeable within it."""
    p, t = {"m_hat": [], "s_hat": []}, {"gold": [], "item": []}
    for r in range(n_rec):
        m = rng.normal(size=(frames, 1))
        s = np.full((frames, 1), rng.uniform(0.3, 1.0))
        y = m + s * (rng.normal() + 0.5 * rng.normal(size=(frames, 1)))
        p["m_hat"].append(m), p["s_hat"].append(s)
        t["gold"].append(y), t["item"].append(np.full(frames, r))
    return ({k: np.concatenate(v) for k, v in p.items()},
            {k: np.concatenate(v) for k, v in t.items()})


def test_recording_unit_covers_a_random_frame_of_a_new_recording():
    rng = np.random.default_rng(3)
    covs = []
    for _ in range(150):
        fitted = conformal_eval.fit(REG, _recordings(rng, 19), ALPHA, framewise=True,
                                    seed=int(rng.integers(1 << 30)))
        assert fitted["outputs"]["m_hat"]["n_calibration"] == 19
        covs.append(conformal_eval.conformal_metrics(REG, _recordings(rng, 40), fitted)
                    ["conformal_coverage"])
    covs = np.array(covs)
    assert covs.mean() >= 1 - ALPHA - 4 * covs.std(ddof=1) / np.sqrt(len(covs))


def test_too_few_recordings_give_an_infinite_threshold_and_a_note():
    rng = np.random.default_rng(4)
    fitted = conformal_eval.fit(REG, _recordings(rng, 5), ALPHA, framewise=True)
    entry = fitted["outputs"]["m_hat"]
    assert entry["q"] == [math.inf] and np.isfinite(entry["q_frame"]).all()
    notes = conformal_eval.notes(fitted)
    assert len(notes) == 1 and "5 dev recordings, at least 9 needed" in notes[0]
    assert conformal_eval.notes({**fitted, "unit": "frame"}) == []
    item = {"m_hat": np.zeros((4, 1)), "s_hat": np.ones((4, 1))}
    out = conformal_eval.apply(REG, {**fitted, "unit": "frame"}, item)
    np.testing.assert_allclose(out["m_hat_upper"], entry["q_frame"][0])
    assert np.isinf(conformal_eval.apply(REG, fitted, item)["m_hat_lower"]).all()


CLS = _system((ClassDistribution(probs="probs", classes=("neu", "hap", "ang")),))


def _classes(rng, n, prior=(0.7, 0.2, 0.1)):
    """Labels from a skewed prior; the model's probabilities favour the majority class."""
    labels = rng.choice(3, size=n, p=prior)
    logits = rng.normal(size=(n, 3)) + 1.5 * np.eye(3)[labels] + np.array([1.0, 0, 0])
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    return {"probs": probs}, {"label": labels, "item": np.arange(n)}


def test_mondrian_sets_cover_every_class():
    rng = np.random.default_rng(5)
    per_class = {"marginal": [], "mondrian": []}
    for _ in range(60):
        fitted = conformal_eval.fit(CLS, _classes(rng, 600), ALPHA, framewise=False)
        m = conformal_eval.conformal_metrics(CLS, _classes(rng, 3000), fitted)
        per_class["mondrian"].append([m[f"conformal_mondrian_coverage/class/{c}"]
                                      for c in ("neu", "hap", "ang")])
        per_class["marginal"].append(m["conformal_set_coverage"])
    mond = np.array(per_class["mondrian"])
    se = mond.std(axis=0, ddof=1) / np.sqrt(len(mond))
    assert (mond.mean(axis=0) >= 1 - ALPHA - 4 * se).all()
    marg = np.array(per_class["marginal"])
    assert marg.mean() >= 1 - ALPHA - 4 * marg.std(ddof=1) / np.sqrt(len(marg))


def test_class_sets_equal_a_loop_and_items_without_consensus_are_left_out():
    rng = np.random.default_rng(6)
    p, t = _classes(rng, 30)
    t["label"][:5] = -1
    fitted = conformal_eval.fit(CLS, (p, t), 0.2, framewise=False)
    assert fitted["outputs"]["probs"]["n_calibration"] == 25
    q = fitted["outputs"]["probs"]["q"][0]
    m = conformal_eval.conformal_metrics(CLS, (p, t), fitted)
    sizes, hits = [], []
    for row, y in zip(p["probs"], t["label"]):
        order = np.argsort(-row, kind="stable")
        total, members = 0.0, []
        for c in order:  # the top classes until their total reaches q
            if total >= q - 1e-12:
                break
            members.append(c)
            total += row[c]
        sizes.append(len(members))
        if y >= 0:
            hits.append(y in members)
    assert m["conformal_set_size"] == pytest.approx(np.mean(sizes))
    assert m["conformal_set_coverage"] == pytest.approx(np.mean(hits))
    assert m["conformal_set_coverage"] >= 0.8  # evaluated on the calibration rows
    out = conformal_eval.apply(CLS, fitted, {"probs": p["probs"][:4]})
    assert out["probs_set"].shape == (4, 3) and out["probs_set"].any(axis=1).all()


def test_task_axis_sets_per_dimension():
    system = _system((ClassDistribution(probs="probs", classes=("lo", "mid", "hi")),),
                     dims=("arousal", "valence"))
    rng = np.random.default_rng(7)
    a, b = _classes(rng, 200), _classes(rng, 200)
    p = {"probs": np.stack([a[0]["probs"], b[0]["probs"]], axis=1)}
    t = {"label": np.stack([a[1]["label"], b[1]["label"]], axis=1), "item": np.arange(200)}
    fitted = conformal_eval.fit(system, (p, t), ALPHA, framewise=False)
    assert len(fitted["outputs"]["probs"]["q"]) == 2
    m = conformal_eval.conformal_metrics(system, (p, t), fitted)
    single = conformal_eval.conformal_metrics(CLS, b, conformal_eval.fit(CLS, b, ALPHA, False))
    assert m["valence/conformal_set_size"] == pytest.approx(single["conformal_set_size"])
    assert conformal_eval.apply(system, fitted, p)["probs_set"].shape == (200, 2, 3)


def test_alpha_outside_unit_interval_is_refused():
    rng = np.random.default_rng(8)
    with pytest.raises(ValueError, match="conformal_alpha"):
        conformal_eval.fit(REG, _utterances(rng, 10), 1.0, framewise=False)


def test_a_regressed_spread_of_zero_is_floored_at_a_share_of_its_median():
    # A spread that reaches 0 on a few rows (han17's regressed sigma): those rows are scored
    # and intervals are drawn with 1 % of the median positive dev spread, not with 1e-6.
    rng = np.random.default_rng(9)
    p, t = _utterances(rng, 200, shrink=1.0)
    p["s_hat"][:6] = 0.0
    fitted = conformal_eval.fit(REG, (p, t), ALPHA, framewise=False)
    entry = fitted["outputs"]["m_hat"]
    floor = 0.01 * np.median(p["s_hat"][p["s_hat"] > 0])
    np.testing.assert_allclose(entry["s_floor"], [floor])
    scores = np.abs(t["gold"] - p["m_hat"])[:, 0] / np.maximum(p["s_hat"][:, 0], floor)
    k = math.ceil(201 * (1 - ALPHA))
    assert entry["q"] == [pytest.approx(np.sort(scores)[k - 1])]
    out = conformal_eval.apply(REG, fitted, {"m_hat": p["m_hat"][:6], "s_hat": p["s_hat"][:6]})
    np.testing.assert_allclose(out["m_hat_upper"] - p["m_hat"][:6], entry["q"][0] * floor,
                               rtol=1e-5)
