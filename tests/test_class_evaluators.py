"""Tests of seru/class_evaluators.py (the ``classes`` and ``class_figures`` evaluators) on a fake
system with a ClassDistribution output and a handful of utterances of 3 speakers and 2 genders:
the metrics against audmetric / scipy / hand-computed values, the files written, the figures'
content."""

import audmetric
import matplotlib

matplotlib.use("Agg")

import matplotlib.image  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from scipy import special, stats  # noqa: E402
from scipy.integrate import trapezoid  # noqa: E402
from scipy.spatial import distance  # noqa: E402

from seru import class_evaluators as ce  # noqa: E402
from seru import evaluators  # noqa: E402
from seru.systems.base import ClassDistribution, Regression  # noqa: E402
from test_class_metrics import GENDER, HAND_PA, HAND_PA_GENDER, P, SPEAKER, Y  # noqa: E402
from toy_system import make_toy_config  # noqa: E402

CLASSES = ("neutral", "happy", "sad")


class _FakeSystem:
    """Just what the evaluators read: the declared outputs and the time base (utterances)."""

    def __init__(self, outputs):
        self.outputs = tuple(outputs)
        self.time_base = None


def _votes(y):
    v = np.full(3, 0.2)
    v[y] = 0.6
    return v


def _items():
    """The 9 rows of the hand case, one without a consensus (speaker C), one of an unknown
    speaker and gender (a hit), one masked out (a miss that must not count): id -> (probs,
    label, votes, speaker, gender, mask)."""
    items = {f"u{i}": (P[i], Y[i], _votes(Y[i]), SPEAKER[i], GENDER[i], 1.0)
             for i in range(len(Y))}
    items["u_none"] = (np.array([.2, .5, .3]), -1, np.array([.5, .5, 0.]), "C", "m", 1.0)
    items["u_anon"] = (np.array([.8, .1, .1]), 0, _votes(0), "", "", 1.0)
    items["u_masked"] = (np.array([.1, .1, .8]), 1, _votes(1), "A", "f", 0.0)
    return items


def _context(tmp_path, plot=True, write=True, outputs=None, tasks=1):
    cfg = make_toy_config()
    cfg.eval.plot = plot
    outputs = outputs or (ClassDistribution(probs="p_cls", classes=CLASSES),)
    preds, targets = {}, {}
    for rid, (p, y, v, spk, gen, m) in _items().items():
        rep = (lambda x: np.stack([x] * tasks, axis=1)) if tasks > 1 else (lambda x: x)
        preds[rid] = {o.keys[0]: rep(p[None].astype(np.float32)) for o in outputs}
        targets[rid] = {"mask": np.array([m], np.float32), ce.LABEL: rep(np.array([y])),
                        ce.VOTES: rep(v[None]), ce.SPEAKER: np.asarray(spk),
                        ce.GENDER: np.asarray(gen)}
    return evaluators.Context(system=_FakeSystem(outputs), config=cfg, preds=preds,
                              targets=targets, outdir=tmp_path / "out", info={"split": "test"},
                              write=write)


def _rows():
    """The valid rows, as the evaluator should see them."""
    items = [v for v in _items().values() if v[5] > 0]
    p = np.array([v[0] for v in items], np.float32).astype(np.float64)
    return p, np.array([v[1] for v in items]), np.array([v[2] for v in items])


def _ece_loop(conf, correct, n_bins):
    """An independent ECE: a loop over the right-closed bins (lo, hi], 0 in the first."""
    edges = np.linspace(0, 1, n_bins + 1)
    total = 0.0
    for b in range(n_bins):
        rows = (conf > edges[b]) & (conf <= edges[b + 1])
        if b == 0:
            rows |= conf == 0
        if rows.any():
            total += rows.sum() / conf.size * abs(correct[rows].mean() - conf[rows].mean())
    return total


def test_classes_metrics(tmp_path):
    ctx = _context(tmp_path)
    got = evaluators.run(["classes"], ctx)
    p, y, votes = _rows()
    has = y >= 0
    pc, yc = p[has], y[has]
    pred = pc.argmax(-1)
    assert got["n_items"] == 11 and got["n_no_consensus"] == 1 and got["n_speakers"] == 3
    np.testing.assert_allclose(got["uar"], audmetric.unweighted_average_recall(
        list(yc), list(pred)), rtol=1e-6)
    np.testing.assert_allclose(got["f1_macro"], audmetric.unweighted_average_fscore(
        list(yc), list(pred)), rtol=1e-12)
    for k in (1, 2, 3):
        top = np.argsort(-pc, -1)[:, :k]
        eff = np.where((top == yc[:, None]).any(-1), yc, pred)
        np.testing.assert_allclose(got[f"uar_k{k}"], audmetric.unweighted_average_recall(
            list(yc), list(eff)), rtol=1e-6)
        # by speaker and gender: the hand-computed values (the anonymous row is left out)
        for thr in (0.5, 0.75):
            key = f"pa_uar{round(100 * thr)}_k{k}"
            np.testing.assert_allclose(got[key], HAND_PA[thr, k], rtol=1e-6, err_msg=key)
            for g in ("f", "m"):
                np.testing.assert_allclose(got[f"gender/{g}/{key}"], HAND_PA_GENDER[thr, k][g],
                                           rtol=1e-6, err_msg=f"{g} {key}")
        for g in ("f", "m"):
            rows = GENDER == g
            top = np.argsort(-P[rows], -1)[:, :k]
            eff = np.where((top == Y[rows, None]).any(-1), Y[rows], P[rows].argmax(-1))
            np.testing.assert_allclose(got[f"gender/{g}/uar_k{k}"],
                                       audmetric.unweighted_average_recall(
                                           list(Y[rows]), list(eff)), rtol=1e-6)
    assert got["gender/f/n_speakers"] == 1 and got["gender/m/n_speakers"] == 2
    # calibration on the consensus rows, against an independent loop and the one-hot
    np.testing.assert_allclose(got["ece"], _ece_loop(pc.max(-1), (pred == yc) * 1.0, 15),
                               rtol=1e-12)
    np.testing.assert_allclose(got["ece_classwise"], np.mean(
        [_ece_loop(pc[:, c], (yc == c) * 1.0, 15) for c in range(3)]), rtol=1e-12)
    np.testing.assert_allclose(got["brier"], np.mean(((pc - np.eye(3)[yc]) ** 2).sum(-1)),
                               rtol=1e-12)
    # the vote PDF: every row, the one without a consensus included
    np.testing.assert_allclose(got["brier_votes"], np.mean(((p - votes) ** 2).sum(-1)),
                               rtol=1e-12)
    np.testing.assert_allclose(got["kl_votes"], np.mean(special.rel_entr(votes, p).sum(-1)),
                               rtol=1e-12)
    # scipy renormalises the float32 rows (off 1 by ~1e-8): equal to that precision
    np.testing.assert_allclose(got["js_votes"], np.mean(
        distance.jensenshannon(votes, p, axis=-1) ** 2), rtol=1e-6)
    am = p.argmax(-1)
    np.testing.assert_allclose(got["ece_votes"], _ece_loop(
        p.max(-1), votes[np.arange(len(am)), am], 15), rtol=1e-12)
    np.testing.assert_allclose(got["ece_classwise_votes"], np.mean(
        [_ece_loop(p[:, c], votes[:, c], 15) for c in range(3)]), rtol=1e-12)
    # the predicted entropy as a ranking of the graders' disagreement, every row (scipy's
    # Spearman; entropies rounded, so that permuted rows tie as they do in the metric)
    np.testing.assert_allclose(got["spearman_entropy_votes"], stats.spearmanr(
        _h(p), _h(votes)).statistic, rtol=1e-12)
    # the reject option on the consensus rows: a loop with audmetric's UAR, scipy's trapezoid
    cov = np.round(np.arange(0.1, 1.01, 0.1), 2)

    def area(u):
        order = sorted(range(len(u)), key=lambda i: (u[i], i))  # ties: the earlier row first
        curve = [audmetric.unweighted_average_recall(
            list(yc[order[:max(1, round(c * len(u)))]]),
            list(pred[order[:max(1, round(c * len(u)))]])) for c in cov]
        return trapezoid(curve, cov) / (cov[-1] - cov[0])

    np.testing.assert_allclose(got["uar_reject_area"], area(_h(pc)), rtol=1e-6)
    np.testing.assert_allclose(got["uar_reject_area_oracle"], area((pred != yc) * 1.0),
                               rtol=1e-6)
    assert got["uar_reject_area_oracle"] > got["uar_reject_area"]
    assert all(isinstance(v, float) for v in got.values())
    assert not (tmp_path / "out").exists()  # metrics only


def _h(p):
    """Entropy in nats per row, -sum p log p written out (the rows as given: scipy's entropy
    would renormalise the float32 rows), to 12 decimals."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.round(-np.where(p > 0, p * np.log(p), 0.0).sum(-1), 12)


def test_class_figures_write_their_files(tmp_path, monkeypatch):
    from seru import plots

    figs = []
    plt = plots._plt()
    close = plt.close
    monkeypatch.setattr(plt, "close", lambda fig: (figs.append(fig), close(fig)))
    ctx = _context(tmp_path)
    assert evaluators.run(["class_figures"], ctx) == {}
    out = tmp_path / "out"
    assert sorted(f.name for f in out.iterdir()) == [
        "class_entropy_agreement.png", "class_hypotheses.png", "class_reliability.png",
        "class_speaker_uar.png"]
    for f in out.iterdir():
        assert matplotlib.image.imread(f).size > 0
    fig5, fig4, rel, ent = figs
    p, y, votes = _rows()
    first, second = np.argsort(-p, -1, kind="stable")[:, :2].T
    # Fig. 5: the first panel is the row-normalised first-vs-second matrix; one panel per class
    panels = [ax for ax in fig5.axes if ax.images]
    assert len(panels) == 1 + 3
    np.testing.assert_allclose(panels[0].images[0].get_array(), audmetric.confusion_matrix(
        list(first), list(second), [0, 1, 2], normalize=True), rtol=1e-12)
    rows = y == 2  # the 'sad' panel: shares of the consensus-sad items
    want = np.zeros((3, 3))
    np.add.at(want, (first[rows], second[rows]), 1.0 / rows.sum())
    np.testing.assert_allclose(panels[3].images[0].get_array(), want, rtol=1e-12)
    assert len(panels[3].patches) == 2  # the row and the column of 'sad' outlined
    # Fig. 4: speakers sorted by UAR (k = 1, hand-computed), labelled with their gender
    (ax,) = fig4.axes
    (dots,) = [ln for ln in ax.get_lines() if ln.get_label() == "UAR"]
    np.testing.assert_allclose(dots.get_ydata(), [1 / 4, 1 / 3, 2 / 3], rtol=1e-6)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["C (m)", "B (m)", "A (f)"]
    heights = np.array([r.get_height() for r in ax.patches]).reshape(3, 3)  # class x speaker
    np.testing.assert_allclose(heights[:, 1], [.5, .5, 0])  # B: 2 neutral, 2 happy
    # reliability: the title's ECE is the metric's
    got = ce.classes(_context(tmp_path, plot=False))
    assert f"top-label ECE = {got['ece']:.3f}" in rel.axes[0].get_title()
    # entropy agreement: every item at (vote entropy, predicted entropy), the metric's rho
    (ax,) = ent.axes
    items, means, diag = ax.get_lines()
    np.testing.assert_allclose(items.get_xdata(), _h(votes), atol=1e-12)
    np.testing.assert_allclose(items.get_ydata(), _h(p), atol=1e-12)
    # the binned means: two vote entropies occur (3-1-1 shares and the 1-1 tie)
    hv = _h(votes)
    np.testing.assert_allclose(sorted(means.get_xdata()), sorted(set(hv)), rtol=1e-9)
    np.testing.assert_allclose(means.get_ydata()[np.argsort(means.get_xdata())],
                               [_h(p)[hv == x].mean() for x in sorted(set(hv))], rtol=1e-9)
    np.testing.assert_allclose(diag.get_xdata(), [0, np.log(3)])
    assert f"Spearman rho = {got['spearman_entropy_votes']:.3f} (11 items)" in ax.get_title()


def test_class_figures_only_when_asked_and_other_systems_skip(tmp_path):
    assert ce.class_figures(_context(tmp_path, plot=False)) == {}
    assert ce.class_figures(_context(tmp_path, write=False)) == {}
    assert not (tmp_path / "out").exists()
    ctx = _context(tmp_path, outputs=(Regression(mean="p_cls", spread=None),))
    assert ce.classes(ctx) == {} and ce.class_figures(ctx) == {}
    assert not (tmp_path / "out").exists()


def test_registered_and_targets_required(tmp_path):
    assert evaluators.EVALUATORS["classes"] is ce.classes
    assert evaluators.EVALUATORS["class_figures"] is ce.class_figures
    ctx = _context(tmp_path)
    for t in ctx.targets.values():
        del t[ce.LABEL], t[ce.VOTES]
    with pytest.raises(ValueError, match="neither 'votes_pdf'"):
        ce.classes(ctx)
    # votes only: the distribution metrics, no consensus metric
    ctx = _context(tmp_path)
    for t in ctx.targets.values():
        del t[ce.LABEL]
    got = ce.classes(ctx)
    assert sorted(got) == sorted(["n_items", "brier_votes", "kl_votes", "js_votes",
                                  "ece_votes", "ece_classwise_votes", "spearman_entropy_votes"])
    ctx = _context(tmp_path)
    for t in ctx.targets.values():
        t[ce.VOTES] = np.ones((1, 4)) / 4
    with pytest.raises(ValueError, match="does not match"):
        ce.classes(ctx)


def test_float_labels_task_axis_and_several_outputs(tmp_path):
    base = ce.classes(_context(tmp_path))
    ctx = _context(tmp_path)
    for t in ctx.targets.values():
        t[ce.LABEL] = t[ce.LABEL].astype(np.float32)
    assert ce.classes(ctx) == base
    ctx = _context(tmp_path)
    ctx.targets["u0"][ce.LABEL] = np.array([0.5], np.float32)
    with pytest.raises(ValueError, match="integer class indices"):
        ce.classes(ctx)
    # a task axis [T, D, K]: metrics per task, named by data.dimensions
    ctx = _context(tmp_path, tasks=2)
    ctx.config.data.dimensions = ("first", "second")
    got = ce.classes(ctx)
    assert got == {f"{d}/{k}": v for d in ("first", "second") for k, v in base.items()}
    # two class outputs: prefixed by their probabilities' keys
    outs = (ClassDistribution(probs="a", classes=CLASSES), ClassDistribution(probs="b"))
    got = ce.classes(_context(tmp_path, outputs=outs))
    assert got == {f"{o}/{k}": v for o in ("a", "b") for k, v in base.items()}


def test_no_consensus_at_all_gives_nan(tmp_path):
    ctx = _context(tmp_path)
    for t in ctx.targets.values():
        t[ce.LABEL] = np.array([ce.NO_CONSENSUS])
    got = ce.classes(ctx)
    assert got["n_no_consensus"] == 11 and got["n_speakers"] == 0
    assert np.isnan(got["uar"]) and np.isnan(got["pa_uar75_k2"]) and np.isnan(got["brier"])
    assert np.isnan(got["uar_reject_area"]) and np.isnan(got["uar_reject_area_oracle"])
    assert np.isfinite(got["spearman_entropy_votes"])
    assert not any(k.startswith("gender/") for k in got)
    assert np.isfinite(got["kl_votes"])
