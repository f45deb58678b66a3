"""Every method's uncertainty of the four papers (and two general baselines) on one scale.

Three tables, one per kind of output, each scored by the same code
(``benchmarks/_uncertainty_scores.py``) from the ``predictions.npz`` of each run's dev
and test evaluation, independent of each system's own metrics:

* **continuous** (``seru_synth_continuous``, frames, arousal): prabhu22 MU, +LU, +LU with
  the Student-t label distribution, MTL-PU (``configs/prabhu22_bbb.py``); han17 STL
  (E from the STL-E run, sigma from the STL-sigma run: the paper's pair of single-task
  nets) and MTL with w_E = 1 (``configs/han17_blstm.py``, audio);
* **utterances** (``seru_synth_utterances``, arousal): sridhar21 VAE-ER (stage 1
  pre-training, then joint training) and its MC-dropout baselines MCD, MCD soft, MCD MTL,
  AE-MCD (``configs/sridhar21_vae.py``); the general baselines ``baselines`` hetero (a
  heteroscedastic Gaussian head) and ensemble (5 members trained by ``jax.vmap``)
  (``configs/baselines_utterance.py``, when that config exists);
* **classes** (``seru_synth_utterances``, the emotion-class distribution): mitra25 with
  vote-PDF and with consensus targets (``configs/mitra25_tcgru.py``, MFBF0 input).

Columns: accuracy of the mean / class; Spearman of the uncertainty with the raters'
disagreement; where the uncertainty is a std on the rating scale, calibration error,
90 % coverage, NLL, CRPS and sharpness; split-conformal coverage and width (fitted on
dev, scored on test) for every method; reject-curve area; inference cost (milliseconds
of ``predict`` per second of test audio, timed in this process after all trainings,
compile excluded, the best of ``--time_repeats`` passes; features that an input type
pre-computes and caches -- han17's frame functionals, sridhar21's functionals, mitra25's
MFBF0 -- are not in that time, prabhu22's log-mel front end is). Mean +- std over
seeds; Welch's one-tailed t-test of the best method of each column against each other
(dagger: p <= 0.05).

Every run is ``python -m seru.train`` / ``python -m seru.evaluate --split dev|test`` in
its own workdir under ``--workroot`` (``benchmarks/_runs.py``; the reproduction scripts'
configs and helpers): an interrupted benchmark resumes, finished runs are skipped.

    python benchmarks/compare_uncertainty.py                       # cpu protocol, seeds 0 1 2
    python benchmarks/compare_uncertainty.py --quick --seeds 0 1   # tiny corpora, 1 epoch
    python benchmarks/compare_uncertainty.py --protocol paper      # paper-scale configs (GPU)

Protocols (``--protocol``): ``cpu`` -- each config's CPU protocol (their docstrings), with
two changes so that the continuous methods share one test set with enough dev recordings
for the recording-level conformal guarantee (>= 9 at 90 %): han17 runs on the ``full``
synthetic corpus that prabhu22's CPU protocol uses (9 / 9 / 9 recordings of 300 s,
instead of the quickstart's 8 / 3 / 3 of 150 s) for 20 epochs (the same ~400 steps as its
40 quickstart epochs), and mitra25 on the MFBF0 input (its config's default and the
cheapest; the reproduction's consensus ablation used the salient encoder layer).
``paper`` -- each config's ``protocol=paper`` (han17 again on the ``full`` corpus), not
run here. Writes ``results.json``, ``results.md``, ``reject_curves.png`` and
``calibration_curves.png`` to ``--out`` and prints the JSON.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import sys
import time
import traceback
from pathlib import Path
from types import SimpleNamespace

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _runs  # noqa: E402
import _uncertainty_scores as sc  # noqa: E402

ROOT = _runs.ROOT
DIM = "arousal"


# =============================================================================
# Methods
# =============================================================================


@dataclasses.dataclass(frozen=True)
class Method:
    """A row of a table. ``kind``: continuous | utterances | classes; ``family``: the
    function of :class:`Bench` that trains and evaluates it; ``arg``: its argument."""

    name: str
    label: str
    kind: str
    family: str
    arg: str


METHODS = (
    Method("prabhu22_mu", "prabhu22 MU", "continuous", "prabhu22", "mu"),
    Method("prabhu22_lu", "prabhu22 +LU", "continuous", "prabhu22", "lu"),
    Method("prabhu22_lu_t", "prabhu22 +LU (Student-t)", "continuous", "prabhu22", "lu_t"),
    Method("prabhu22_mtl_pu", "prabhu22 MTL-PU", "continuous", "prabhu22", "mtl_pu"),
    Method("han17_stl", "han17 STL (STL-E + STL-sigma)", "continuous", "han17", "stl"),
    Method("han17_mtl", "han17 MTL (w_E = 1)", "continuous", "han17", "mtl"),
    Method("sridhar21_vae_er", "sridhar21 VAE-ER", "utterances", "sridhar21", "vae_er"),
    Method("sridhar21_mcd", "sridhar21 MCD", "utterances", "sridhar21", "mcd"),
    Method("sridhar21_mcd_soft", "sridhar21 MCD soft", "utterances", "sridhar21", "mcd_soft"),
    Method("sridhar21_mcd_mtl", "sridhar21 MCD MTL", "utterances", "sridhar21", "mcd_mtl"),
    Method("sridhar21_ae_mcd", "sridhar21 AE-MCD", "utterances", "sridhar21", "ae_mcd"),
    Method("baselines_hetero", "baseline: heteroscedastic head", "utterances", "baselines",
           "hetero"),
    Method("baselines_ensemble", "baseline: deep ensemble (5)", "utterances", "baselines",
           "ensemble"),
    Method("mitra25_votes", "mitra25, vote-PDF targets", "classes", "mitra25", "votes"),
    Method("mitra25_consensus", "mitra25, consensus targets", "classes", "mitra25",
           "consensus"),
)
BASELINES_CONFIG = ROOT / "configs" / "baselines_utterance.py"

#: (key, label, better, target) per table: better = high | low | target | None (no test)
COLUMNS = {
    "regression_a": (("ccc", "CCC (mean)", "high", None),
                     ("spearman_std", "rho(u, raters' std)", "high", None),
                     ("cal_error", "cal. error", "low", None),
                     ("coverage_90", "90 % cov.", "target", 0.9),
                     ("coverage_90_ratings", "90 % cov. of ratings", "target", 0.9),
                     ("nll", "NLL", "low", None),
                     ("crps", "CRPS", "low", None),
                     ("width_90", "90 % width", None, None)),
    "regression_b": (("conf_coverage", "conformal cov.", "target", 0.9),
                     ("conf_width", "conformal width", "low", None),
                     ("conf_width_ratio", "width / const.", "low", None),
                     ("conf_pooled_coverage", "pooled-frame cov.", "target", 0.9),
                     ("conf_pooled_width", "pooled-frame width", "low", None),
                     ("reject_area", "reject area", "high", None),
                     ("reject_gain", "reject gain", "high", None),
                     ("reject_efficiency", "gain / oracle gain", "high", None),
                     ("ms_per_audio_s", "ms / s audio", "low", None)),
    "classes": (("uar", "UAR", "high", None),
                ("ece", "ECE", "low", None),
                ("brier", "Brier (votes)", "low", None),
                ("spearman_entropy", "rho(H, vote H)", "high", None),
                ("aps_coverage", "APS cov.", "target", 0.9),
                ("aps_size", "APS size", "low", None),
                ("mondrian_coverage", "Mondrian cov.", "target", 0.9),
                ("mondrian_size", "Mondrian size", "low", None),
                ("mondrian_min_class_coverage", "Mondrian min class cov.", "target", 0.9),
                ("reject_area", "UAR reject area", "high", None),
                ("reject_gain", "reject gain", "high", None),
                ("reject_efficiency", "gain / oracle gain", "high", None),
                ("ms_per_audio_s", "ms / s audio", "low", None)),
}


# =============================================================================
# Training and evaluation (subprocesses, resumable)
# =============================================================================


class Bench:
    """Trains and evaluates (dev and test) one (method, seed) through the reproduction
    scripts' helpers; each family returns ``{"mean": workdir, "spread": workdir}`` (the
    same workdir but for han17 STL) or ``{"classes": workdir}``."""

    def __init__(self, args, root: Path):
        self.args, self.root = args, root
        self.quick = args.quick

    def _extra(self, seed: int, over=()) -> list[str]:
        return ([f"--config.seed={seed}", "--config.train.progress_bar=False",
                 "--config.eval.splits=()"]
                + [f"--config.{kv}" for kv in list(over) + list(self.args.override)])

    def _both(self, wd: Path) -> None:
        for split in ("dev", "test"):
            _runs.evaluate(wd, split)

    def prabhu22(self, variant: str, seed: int) -> dict:
        import reproduce_prabhu22 as rp

        over = ["data.variant=tiny", "train.num_epochs=1"] if self.quick else []
        ns = SimpleNamespace(protocol=self.args.protocol, split="test",
                             override=over + list(self.args.override))
        rp.one(variant, seed, ns, self.root / "prabhu22")
        wd = self.root / "prabhu22" / f"{variant}_seed{seed}"
        self._both(wd)
        return {"mean": wd, "spread": wd}

    def han17(self, task: str, seed: int) -> dict:
        import reproduce_han17 as rh

        over = ["data.variant=" + ("tiny" if self.quick else "full")]
        if self.quick:
            over.append("train.num_epochs=1")
        elif self.args.protocol == "cpu":
            over.append("train.num_epochs=20")  # ~400 steps on 'full', as 40 on quickstart
        ns = SimpleNamespace(protocol=self.args.protocol, w_e="1.0",
                             override=over + list(self.args.override))
        if task == "stl":
            e = rh.one("audio", "stl_e", seed, ns, self.root / "han17")
            s = rh.one("audio", "stl_sigma", seed, ns, self.root / "han17")
            return {"mean": e, "spread": s}
        wd = rh.one("audio", task, seed, ns, self.root / "han17")
        return {"mean": wd, "spread": wd}

    def sridhar21(self, method: str, seed: int) -> dict:
        import reproduce_sridhar21 as rs

        over = (["train.num_epochs=1", "data.batch_size=8", "eval.batch_size=8",
                 "train.log_every_steps=1"] if self.quick else [])
        ns = SimpleNamespace(protocol=self.args.protocol, corpus="",
                             variant="tiny" if self.quick else "", split="test",
                             override=over + list(self.args.override))
        wd, _ = rs.Bench(ns, self.root / "sridhar21").method(method, DIM, seed)
        self._both(wd)
        return {"mean": wd, "spread": wd}

    def baselines(self, method: str, seed: int) -> dict:
        if not BASELINES_CONFIG.exists():
            raise FileNotFoundError(f"{BASELINES_CONFIG.relative_to(ROOT)} does not exist")
        over = (["data.variant=tiny", "train.num_epochs=1", "data.batch_size=8",
                 "eval.batch_size=8"] if self.quick else [])
        wd = self.root / "baselines" / f"{method}_seed{seed}"
        _runs.train(wd, f"configs/baselines_utterance.py:method={method},dim={DIM},"
                        f"protocol={self.args.protocol}", self._extra(seed, over))
        self._both(wd)
        return {"mean": wd, "spread": wd}

    def mitra25(self, target: str, seed: int) -> dict:
        over = ["data.variant=tiny", "train.num_epochs=1"] if self.quick else []
        wd = self.root / "mitra25" / f"{target}_seed{seed}"
        _runs.train(wd, f"configs/mitra25_tcgru.py:frames=mfbf0,target={target},"
                        f"protocol={self.args.protocol}", self._extra(seed, over))
        self._both(wd)
        return {"classes": wd}

    def run(self, method: Method, seed: int) -> dict:
        return getattr(self, method.family)(method.arg, seed)


# =============================================================================
# Reading the predictions
# =============================================================================


def _eval_info(wd: Path, split: str) -> dict:
    return json.loads((wd / "eval" / split / "metrics.json").read_text())


def _output(info: dict, kind: str) -> dict:
    for o in info["outputs"]:
        if o["kind"] == kind:
            return o
    raise KeyError(f"no {kind} output in {info['outputs']}")


def _dim_index(wd: Path, dim: str = DIM) -> int:
    dims = list(json.loads((wd / "config.json").read_text())["data"]["dimensions"])
    return dims.index(dim)


def regression_rows(mean_wd: Path, spread_wd: Path, split: str) -> tuple[sc.Rows, dict]:
    """The valid rows of ``split`` (dimension :data:`DIM`): the mean of ``mean_wd``'s
    Regression output, the spread of ``spread_wd``'s, the targets of ``mean_wd``'s file
    (both runs must share their items and frames). Also returns the spread's output
    description (``spread_name``, ``spread_on_rating_scale``)."""
    from seru import prediction_files as pf

    mo = _output(_eval_info(mean_wd, split), "Regression")
    so = _output(_eval_info(spread_wd, split), "Regression")
    if not mo.get("mean") or not so.get("spread"):
        raise ValueError(f"{mean_wd} has no mean or {spread_wd} no spread: {mo}, {so}")
    pm = pf.read(mean_wd / "eval" / split / "predictions.npz")
    ps = pm if spread_wd == mean_wd else pf.read(spread_wd / "eval" / split
                                                  / "predictions.npz")
    dm, ds = _dim_index(mean_wd), _dim_index(spread_wd)
    cols = {k: [] for k in ("y", "m", "u", "rater_std", "group", "ratings")}
    framewise = False
    for g, rid in enumerate(sorted(pm)):
        p, t = pm[rid], pm[rid]
        y = t["target_gold"][:, dm].astype(np.float64)
        m = p[mo["mean"]][:, dm].astype(np.float64)
        u = ps[rid][so["spread"]][:, ds].astype(np.float64)
        if u.shape != y.shape:
            raise ValueError(f"{rid}: spread {u.shape} vs gold {y.shape}")
        ok = np.asarray(t["target_mask"]).reshape(-1) > 0
        if "target_attr_mask" in t:
            ok &= t["target_attr_mask"][:, dm] > 0
        ok &= np.isfinite(y) & np.isfinite(m) & np.isfinite(u)
        framewise |= len(y) > 1
        cols["y"].append(y[ok])
        cols["m"].append(m[ok])
        cols["u"].append(u[ok])
        cols["rater_std"].append(t["target_std"][:, dm].astype(np.float64)[ok])
        cols["group"].append(np.full(int(ok.sum()), g))
        if "target_ratings" in t:  # [T, D, A], NaN where a rater is missing
            cols["ratings"].append(t["target_ratings"][:, dm, :].astype(np.float64)[ok])
    ratings = cols.pop("ratings")
    width = max((r.shape[1] for r in ratings), default=0)
    ratings = (np.concatenate([np.pad(r, ((0, 0), (0, width - r.shape[1])),
                                      constant_values=np.nan) for r in ratings])
               if len(ratings) == len(cols["y"]) else None)
    rows = sc.Rows(**{k: np.concatenate(v) for k, v in cols.items()}, framewise=framewise,
                   ratings=ratings)
    return rows, so


def is_gaussian(spread_output: dict) -> bool:
    """Whether a Regression output's spread is a std on the rating scale."""
    return (spread_output.get("spread_name") == "std"
            and spread_output.get("spread_on_rating_scale", True))


def class_rows(wd: Path, split: str) -> sc.ClassRows:
    """The utterances of ``split`` with a vote PDF: probabilities of the ClassDistribution
    output, vote PDF, consensus label (-1 where ``target_class_mask`` is 0)."""
    from seru import prediction_files as pf

    o = _output(_eval_info(wd, split), "ClassDistribution")
    pred = pf.read(wd / "eval" / split / "predictions.npz")
    probs, votes, label = [], [], []
    for rid in sorted(pred):
        r = pred[rid]
        v = r["target_votes_pdf"].reshape(-1, r["target_votes_pdf"].shape[-1])[0]
        if abs(v.sum() - 1) > 1e-3:
            continue
        probs.append(r[o["probs"]].reshape(-1, v.size)[0])
        votes.append(v)
        ok = float(np.asarray(r["target_class_mask"]).reshape(-1)[0]) > 0
        label.append(int(np.asarray(r["target_label"]).reshape(-1)[0]) if ok else -1)
    probs = np.asarray(probs, np.float64)
    return sc.ClassRows(probs / probs.sum(1, keepdims=True), np.asarray(votes, np.float64),
                        np.asarray(label, np.int64))


# =============================================================================
# Inference cost
# =============================================================================

_AUDIO_S: dict = {}


def _utterance_seconds(config, split: str, ids) -> float:
    from seru.data import corpora
    from seru.data.schema import decode_text

    key = (config.data.corpus, config.data.variant, split)
    if key not in _AUDIO_S:
        _, sources = corpora.load(config.data.corpus, config.data.variant or None,
                                  config.data.data_dir or None, config.data.manual_dir or None)
        src, durs = sources[split], {}
        for i in range(len(src)):
            rec = src[i]
            rid = decode_text(rec.get("id", f"{i}"))
            durs[rid] = len(np.asarray(rec["audio"]).reshape(-1)) / float(
                np.asarray(rec.get("sample_rate", 16000)))
        _AUDIO_S[key] = durs
    durs = _AUDIO_S[key]
    return float(sum(durs[i] for i in ids))


def predict_cost(wd: Path, split: str = "test", repeats: int = 2) -> dict:
    """Seconds of the system's MC ``predict`` over ``split`` (``seru.evaluation.
    predict_split``: the jitted predict batch by batch and the reassembly; no
    post-processing, no evaluators), the best of ``repeats`` passes after one warm-up
    pass (compile), and the seconds of audio it covers (frames x hop, or the utterances'
    durations in the corpus). Cached in ``wd/predict_cost_<split>.json``."""
    cache = wd / f"predict_cost_{split}.json"
    if cache.exists():
        return json.loads(cache.read_text())
    from seru import config as config_lib
    from seru import evaluation, sharding
    from seru.data import inputs

    config = config_lib.load(wd)
    itype = inputs.get(config.data.input)
    ds = itype.build(config, [x for x in (config.data.train_split, split) if x], 0, 1)
    system = config_lib.get_system(config, ds.time_base)
    mesh = sharding.make_mesh()
    params, _ = evaluation.restore_params(wd, config, system, ds, "best", mesh)
    n = config.eval.num_samples
    fn = evaluation.make_predict_fn(system, n, mesh)
    rng = evaluation.eval_rng(config)
    raw = evaluation.predict_split(system, params, ds, split, rng, n, mesh, fn)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        evaluation.predict_split(system, params, ds, split, rng, n, mesh, fn)
        times.append(time.perf_counter() - t0)
    targets = ds.targets(split)
    if ds.framewise:
        audio_s = sum(np.asarray(t["mask"]).size for t in targets.values()) * ds.time_base.hop_s
    else:
        audio_s = _utterance_seconds(config, split, list(raw))
    out = {"split": split, "seconds": min(times), "all_seconds": times, "audio_s": audio_s,
           "num_samples": n, "items": len(raw)}
    cache.write_text(json.dumps(out))
    return out


# =============================================================================
# Scoring, tables, figures
# =============================================================================


def score_run(method: Method, dirs: dict, draws: int) -> dict:
    """The scores of one (method, seed) from its dev and test predictions."""
    if method.kind == "classes":
        wd = dirs["classes"]
        return sc.score_classes(class_rows(wd, "dev"), class_rows(wd, "test"))
    dev, so = regression_rows(dirs["mean"], dirs["spread"], "dev")
    test, _ = regression_rows(dirs["mean"], dirs["spread"], "test")
    out = sc.score_regression(dev, test, is_gaussian(so), draws)
    out["spread_name"] = so.get("spread_name")
    out["gaussian"] = is_gaussian(so)
    return out


def cost_of(dirs: dict, repeats: int) -> dict:
    """Inference cost of a (method, seed): the sum over its distinct workdirs (han17
    STL: the two single-task nets)."""
    wds = list(dict.fromkeys(dirs.values()))
    parts = [predict_cost(wd, "test", repeats) for wd in wds]
    sec, audio = sum(p["seconds"] for p in parts), parts[0]["audio_s"]
    return {"predict_s": sec, "audio_s": audio, "ms_per_audio_s": 1000 * sec / audio}


def table(methods, scores: dict, columns) -> dict:
    """``{column: {"best", "cells": {method: summary + p}}}`` over the seeds' scores."""
    out = {}
    for key, _, better, target in columns:
        per = {m.name: [s.get(key) for s in scores.get(m.name, [])] for m in methods}
        per = {k: v for k, v in per.items() if any(x is not None for x in v)}
        if not per:
            continue
        cells = {k: sc.summary(v) for k, v in per.items()}
        test = sc.against_best(per, better, target) if better else {"best": None, "p": {}}
        for k in cells:
            cells[k]["p_vs_best"] = test["p"].get(k)
        out[key] = {"best": test["best"], "better": better, "cells": cells}
    return out


def _fmt(x: float) -> str:
    if not np.isfinite(x):
        return "inf" if x == np.inf else "-"
    return f"{x:.3f}" if abs(x) < 100 else f"{x:.0f}"


def markdown_table(methods, tab: dict, columns, title: str) -> list[str]:
    cols = [c for c in columns if c[0] in tab]
    if not cols:
        return []
    lines = [title, "", "| method | " + " | ".join(c[1] for c in cols) + " |",
             "|---|" + "---|" * len(cols)]
    for m in methods:
        cells = []
        for key, _, _, _ in cols:
            c = tab[key]["cells"].get(m.name)
            if c is None or not c["values"]:
                cells.append("-")
                continue
            s = f"{_fmt(c['mean'])} ± {_fmt(c['std'])}"
            if tab[key]["best"] == m.name:
                s = f"**{s}**"
            elif c.get("p_vs_best") is not None and c["p_vs_best"] <= 0.05:
                s += " †"
            cells.append(s)
        lines.append(f"| {m.label} | " + " | ".join(cells) + " |")
    return lines + [""]


def figures(methods, scores: dict, out: Path) -> list[str]:
    """``reject_curves.png`` (mean reject curve per method and kind) and
    ``calibration_curves.png`` (observed vs nominal central-interval coverage of the
    Gaussian methods); returns the file names written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kinds = [k for k in ("continuous", "utterances", "classes")
             if any(m.kind == k and scores.get(m.name) for m in methods)]
    written = []
    if kinds:
        fig, axes = plt.subplots(1, len(kinds), figsize=(5.2 * len(kinds), 4.2), squeeze=False)
        for ax, kind in zip(axes[0], kinds):
            for m in methods:
                runs = scores.get(m.name) or []
                if m.kind != kind or not runs:
                    continue
                curve = np.nanmean([r["reject_curve"] for r in runs], axis=0)
                ax.plot(sc.COVERAGES, curve, marker="o", ms=3, label=m.label)
            ax.set_xlabel("coverage (most certain kept first)")
            ax.set_ylabel("UAR" if kind == "classes" else "CCC of the mean")
            ax.set_title({"continuous": "continuous (frames, arousal)",
                          "utterances": "utterances (arousal)",
                          "classes": "emotion classes"}[kind])
            ax.invert_xaxis()
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(out / "reject_curves.png", dpi=110)
        plt.close(fig)
        written.append("reject_curves.png")
    gauss = [m for m in methods if scores.get(m.name)
             and all(r.get("gaussian") for r in scores[m.name])]
    if gauss:
        from seru.calibration import LEVELS

        fig, ax = plt.subplots(figsize=(5.2, 4.6))
        ax.plot([0, 1], [0, 1], "k--", lw=1, label="calibrated")
        for m in gauss:
            obs = np.mean([r["cal_observed"] for r in scores[m.name]], axis=0)
            ax.plot(LEVELS, obs, marker="o", ms=3, label=m.label)
        ax.set_xlabel("nominal central-interval level")
        ax.set_ylabel("observed share of gold values inside (test)")
        ax.set_title("Gaussian calibration (u = std on the rating scale)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(out / "calibration_curves.png", dpi=110)
        plt.close(fig)
        written.append("calibration_curves.png")
    return written


def runs_seconds(root: Path) -> dict:
    """The seconds the ``seru.train`` subprocesses of every workdir under ``root`` took
    (summed from their ``timing.json``, written by ``_runs``), however many invocations of
    this script made them; ``evaluate_s`` sums only the last evaluation of each workdir
    (``_runs`` keeps one)."""
    tot = {"train_s": 0.0, "evaluate_s": 0.0, "runs": 0}
    for f in sorted(root.rglob("timing.json")):
        t = json.loads(f.read_text())
        tot["runs"] += 1
        tot["train_s"] += t.get("train_s", 0.0)
        tot["evaluate_s"] += t.get("evaluate_s", 0.0)
    return tot


def _machine() -> str:
    cpu = ""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} CPU cores ({cpu or platform.processor()}), {platform.system()}"


# =============================================================================
# main
# =============================================================================


def main():
    ap = _runs.arg_parser(__doc__, "runs/compare_uncertainty")
    ap.add_argument("--methods", nargs="+", default=[m.name for m in METHODS],
                    choices=[m.name for m in METHODS])
    ap.add_argument("--quick", action="store_true",
                    help="smoke run: the tiny corpus variants, 1 epoch per run")
    ap.add_argument("--out", default="",
                    help="where results.{json,md} and the figures go (default "
                         "benchmarks/results/compare_uncertainty[_paper]; --quick: the "
                         "workroot)")
    ap.add_argument("--draws", type=int, default=200,
                    help="random draws of one dev frame per recording (conformal)")
    ap.add_argument("--time_repeats", type=int, default=2)
    ap.add_argument("--no_cost", action="store_true",
                    help="skip the inference-cost timing (a preview of the scores)")
    ap.add_argument("--no_train", action="store_true",
                    help="score only the runs that are already evaluated")
    args = ap.parse_args()
    suffix = "_quick" if args.quick else ("_paper" if args.protocol == "paper" else "")
    if args.workroot == "runs/compare_uncertainty" and suffix:
        args.workroot += suffix
    root = _runs.workroot(args.workroot)
    out = Path(args.out or (root if args.quick else
                            ROOT / "benchmarks" / "results" / f"compare_uncertainty{suffix}"))
    out.mkdir(parents=True, exist_ok=True)
    methods = [m for m in METHODS if m.name in args.methods]
    bench = Bench(args, root)
    t0 = time.time()

    def log(msg):
        print(f"[{time.time() - t0:7.0f} s] {msg}", file=sys.stderr, flush=True)

    # -- train and evaluate; seeds outside: an interrupted run has every method of its seeds
    dirs: dict[str, list[tuple[int, dict]]] = {m.name: [] for m in methods}
    missing: dict[str, str] = {}
    for seed in args.seeds:
        for m in methods:
            if m.name in missing:
                continue
            log(f"{m.name} seed {seed}")
            try:
                if args.no_train:
                    d = _existing(bench, m, seed)
                else:
                    d = bench.run(m, seed)
                dirs[m.name].append((seed, d))
            except Exception as e:  # noqa: BLE001 -- record, go on with the others
                missing[m.name] = f"{type(e).__name__}: {e}"
                log(f"  {m.name} left out: {missing[m.name]}")
                traceback.print_exc()
    train_s = time.time() - t0

    # -- inference cost, then scores
    log("inference cost")
    costs = {}
    for m in methods:
        for seed, d in ([] if args.no_cost else dirs[m.name]):
            try:
                costs[(m.name, seed)] = cost_of(d, args.time_repeats)
            except Exception as e:  # noqa: BLE001
                log(f"  cost of {m.name} seed {seed} failed: {e}")
                traceback.print_exc()
    log("scores")
    scores: dict[str, list[dict]] = {}
    for m in methods:
        for seed, d in dirs[m.name]:
            s = score_run(m, d, args.draws)
            s["seed"] = seed
            s["workdirs"] = {k: str(Path(v).relative_to(ROOT)) if Path(v).is_relative_to(ROOT)
                             else str(v) for k, v in d.items()}
            s.update(costs.get((m.name, seed), {}))
            scores.setdefault(m.name, []).append(s)

    # -- tables
    def where(kind):
        ms = [m for m in methods if m.kind == kind and dirs.get(m.name)]
        if not ms:
            return ""
        wd = next(iter(dirs[ms[0].name][0][1].values()))
        data = json.loads((wd / "config.json").read_text())["data"]
        return f"{data['corpus']}/{data['variant']}"

    kinds = {"continuous": f"Continuous ({where('continuous')}), arousal, test frames",
             "utterances": f"Utterances ({where('utterances')}), arousal, test utterances",
             "classes": f"Emotion classes ({where('classes')}), test utterances with a "
                        "consensus label (UAR, ECE, APS) or with votes (Brier, rho)"}
    tables, md = {}, []
    for kind, title in kinds.items():
        ms = [m for m in methods if m.kind == kind and scores.get(m.name)]
        if not ms:
            continue
        parts = ("classes",) if kind == "classes" else ("regression_a", "regression_b")
        tables[kind] = {}
        for part in parts:
            cols = COLUMNS[part]
            if kind == "utterances":
                cols = tuple(c for c in cols if not c[0].startswith("conf_pooled"))
            tables[kind][part] = table(ms, scores, cols)
            head = {"regression_a": "accuracy, disagreement, Gaussian calibration",
                    "regression_b": "conformal (dev -> test, 90 %), reject option, cost",
                    "classes": "accuracy, calibration, conformal sets, reject option, cost"}
            md += markdown_table(ms, tables[kind][part], cols, f"### {title}: {head[part]}")
    fig_names = figures(methods, scores, out)
    runs_s = runs_seconds(root)
    report = {"benchmark": "compare_uncertainty", "protocol": args.protocol,
              "quick": args.quick, "seeds": args.seeds, "overrides": args.override,
              "dimension": DIM, "draws": args.draws, "time_repeats": args.time_repeats,
              "machine": _machine(),
              "methods": {m.name: {"label": m.label, "kind": m.kind, "family": m.family,
                                   "arg": m.arg} for m in methods},
              "missing": missing, "tables": tables,
              "runs": {k: [{kk: vv for kk, vv in r.items()} for r in v]
                       for k, v in scores.items()},
              "figures": fig_names, "train_and_evaluate_s": train_s,
              "runs_seconds": runs_s,
              "wall_s": time.time() - t0}
    (out / "results.json").write_text(json.dumps(report, indent=2))
    head = [f"# compare_uncertainty ({args.protocol} protocol"
            f"{', QUICK smoke run' if args.quick else ''}), seeds {args.seeds}",
            "", "Mean ± std over seeds. Bold: the best mean of the column; † : worse than "
            "the best (Welch's one-tailed t-test over seeds, p <= 0.05; for coverages "
            "'best' is the closest to 0.9). Generated by `benchmarks/compare_uncertainty.py`"
            " (the scores: `benchmarks/_uncertainty_scores.py`).", ""]
    head += [f"Machine: {report['machine']}. The `seru.train` subprocesses of the "
             f"{runs_s['runs']} workdirs under the workroot took {runs_s['train_s']:.0f} s "
             f"in all (their `timing.json`, whichever invocation made them); this "
             f"invocation {report['wall_s']:.0f} s.", ""]
    if missing:
        head += ["Left out: " + "; ".join(f"{k} ({v})" for k, v in missing.items()), ""]
    reading = out / "reading.md"  # hand-written reading of the numbers, kept on reruns
    tail = ["", reading.read_text()] if reading.exists() else []
    (out / "results.md").write_text("\n".join(head + md + tail))
    print(json.dumps({k: v for k, v in report.items() if k != "runs"}))


def _existing(bench: Bench, m: Method, seed: int) -> dict:
    """The workdirs of a (method, seed) that is already evaluated (``--no_train``)."""
    r = bench.root
    if m.family == "prabhu22":
        wd = r / "prabhu22" / f"{m.arg}_seed{seed}"
        d = {"mean": wd, "spread": wd}
    elif m.family == "han17":
        if m.arg == "stl":
            d = {"mean": r / "han17" / f"audio_stl_e_seed{seed}",
                 "spread": r / "han17" / f"audio_stl_sigma_seed{seed}"}
        else:
            wd = r / "han17" / f"audio_{m.arg}_seed{seed}"
            d = {"mean": wd, "spread": wd}
    elif m.family == "sridhar21":
        wd = r / "sridhar21" / DIM / f"{m.arg}_seed{seed}"
        d = {"mean": wd, "spread": wd}
    elif m.family == "baselines":
        wd = r / "baselines" / f"{m.arg}_seed{seed}"
        d = {"mean": wd, "spread": wd}
    else:
        d = {"classes": r / "mitra25" / f"{m.arg}_seed{seed}"}
    for wd in d.values():
        for split in ("dev", "test"):
            if not (wd / "eval" / split / "metrics.json").exists():
                raise FileNotFoundError(f"{wd}/eval/{split}/metrics.json")
    return d


if __name__ == "__main__":
    main()
