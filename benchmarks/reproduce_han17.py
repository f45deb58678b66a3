"""han17 Tables 1-2 on the embedded corpus: modality x task x target x dimension, over seeds.

For every seed: the audio and the video model of each task (STL-E, STL-sigma, MTL with
one weighting ``--w_e``, and the MTL weight sweep ``task=sweep`` whose weighting is
selected on dev per target and dimension) trained with ``configs/han17_blstm.py`` and
evaluated on dev and test (the AVEC chain fitted on dev); the late fusion of audio and
video per task (``seru.fusion``, fitted on dev). Reports, on dev and test, CCC and RMSE of E (from STL-E
and MTL) and of sigma (from STL-sigma and MTL) per dimension, mean +- std over seeds,
and one-tailed t-tests over seeds: MTL (each variant) better than STL per target, and
fusion better than the better single modality; the weightings the sweeps selected. Prints
JSON; writes ``WORKROOT/results.{json,md}``.

    python benchmarks/reproduce_han17.py [--protocol cpu|paper] [--seeds 0 1 2]

The paper sweeps w_E over 0, 0.1, ..., 2 on dev; the CPU protocol's sweep has the 5
weightings of ``configs/han17_blstm.py:CPU_SWEEP`` (its cost: ``benchmarks/han17_sweep.py``).
An interrupted run resumes: finished runs are skipped (``benchmarks/_runs.py``).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import _runs

MODALITIES = ("audio", "video")
TASKS = ("stl_e", "stl_sigma", "mtl", "sweep")
DIMS = ("arousal", "valence")
#: which task's run gives which target under which label
CELLS = (("E", "STL", "stl_e", "e"), ("E", "MTL", "mtl", "e"), ("E", "MTL-sel", "sweep", "e"),
         ("sigma", "STL", "stl_sigma", "sigma"), ("sigma", "MTL", "mtl", "sigma"),
         ("sigma", "MTL-sel", "sweep", "sigma"))


def one(modality: str, task: str, seed: int, args, workroot: Path) -> Path:
    """Trains and evaluates (dev, test) one run unless done; returns its workdir."""
    w = workroot / f"{modality}_{task}_seed{seed}"
    config = (f"configs/han17_blstm.py:task={task},modality={modality},w_e={args.w_e},"
              f"protocol={args.protocol}")
    extra = [f"--config.seed={seed}", "--config.train.progress_bar=False",
             "--config.eval.splits=()"] + [f"--config.{kv}" for kv in args.override]
    _runs.train(w, config, extra)
    for split in ("dev", "test"):
        _runs.evaluate(w, split)
    return w


def metrics_of(workdir: Path, split: str) -> dict:
    return json.loads((workdir / "eval" / split / "metrics.json").read_text())["metrics"]


def collect(args, workroot: Path) -> dict:
    """``{split: {modality: {task: [metrics per seed]}}}`` including ``fused``."""
    from seru import fusion

    out = {s: {m: {t: [] for t in TASKS} for m in MODALITIES + ("fused",)}
           for s in ("dev", "test")}
    t0 = time.time()
    for seed in args.seeds:
        for task in TASKS:
            dirs = []
            for modality in MODALITIES:
                print(f"[{time.time() - t0:6.0f} s] {modality} {task} seed {seed}",
                      file=sys.stderr, flush=True)
                dirs.append(one(modality, task, seed, args, workroot))
                for split in ("dev", "test"):
                    out[split][modality][task].append(metrics_of(dirs[-1], split))
            for split in ("dev", "test"):
                res = fusion.fuse(dirs, split, workroot / f"fused_{task}_seed{seed}" / split)
                out[split]["fused"][task].append(res["fused"])
    return out


def selected_weightings(args, workroot: Path) -> dict:
    """``{modality: {seed: {target key: [w_E per dimension]}}}`` the sweeps selected on dev."""
    out = {}
    for modality in MODALITIES:
        for seed in args.seeds:
            saved = json.loads((workroot / f"{modality}_sweep_seed{seed}" / "eval" / "test"
                                / "metrics.json").read_text())
            out.setdefault(modality, {})[seed] = saved["postprocess"]["sweep"]["selected_w_e"]
    return out


def table(results: dict) -> dict:
    """Mean +- std over seeds of CCC / RMSE per split, target, task label, modality, dim."""
    rows = {}
    for split, by_mod in results.items():
        for target, label, task, key in CELLS:
            for modality, by_task in by_mod.items():
                for dim in DIMS:
                    for metric in ("ccc", "rmse"):
                        name = f"{metric}_{key}/{dim}"
                        rows[f"{split}|{target}|{label}|{modality}|{dim}|{metric}"] = \
                            _runs.summary([m.get(name) for m in by_task[task]])
    return rows


def tests(results: dict) -> dict:
    """One-tailed t-tests over seeds (CCC, test split): MTL > STL per target, modality and
    dimension; fused > the better single modality (by mean) per task cell."""
    out, test = {}, results["test"]
    stl_of = {target: task for target, label, task, _ in CELLS if label == "STL"}
    for target, label, task, key in CELLS:
        if label == "STL":
            continue
        for modality in test:
            for dim in DIMS:
                name = f"ccc_{key}/{dim}"
                t = _runs.one_tailed([m.get(name) for m in test[modality][task]],
                                     [m.get(name) for m in test[modality][stl_of[target]]])
                if t is not None:
                    out[f"{label}>STL:{target}:{modality}:{dim}"] = t
    for target, label, task, key in CELLS:
        for dim in DIMS:
            name = f"ccc_{key}/{dim}"
            single = {mod: [m.get(name) for m in test[mod][task]] for mod in MODALITIES}
            best = max(single, key=lambda mod: _runs.summary(single[mod])["mean"])
            t = _runs.one_tailed([m.get(name) for m in test["fused"][task]], single[best])
            if t is not None:
                out[f"fused>{best}:{target}:{label}:{dim}"] = t
    return out


def markdown(rows: dict, tt: dict, selected: dict, args) -> str:
    lines = [f"han17 Tables 1-2 on seru_synth_continuous ({args.protocol} protocol, seeds "
             f"{args.seeds}; MTL: w_E = {args.w_e}; MTL-sel: the sweep's weighting selected "
             "on dev; mean +- std over seeds)", ""]
    for metric, title in (("ccc", "CCC (Table 1)"), ("rmse", "RMSE (Table 2)")):
        lines += [f"### {title}", "",
                  "| split | target | task | modality | arousal | valence |",
                  "|---|---|---|---|---|---|"]
        for split in ("dev", "test"):
            for target, label, _, _ in CELLS:
                for modality in MODALITIES + ("fused",):
                    cells = []
                    for dim in DIMS:
                        r = rows[f"{split}|{target}|{label}|{modality}|{dim}|{metric}"]
                        cells.append(f"{r['mean']:.3f} +- {r['std']:.3f}")
                    lines.append(f"| {split} | {target} | {label} | {modality} | "
                                 + " | ".join(cells) + " |")
        lines.append("")
    lines += ["One-tailed t-tests over seeds (test CCC):", ""]
    lines += _runs.ttest_lines(tt)
    lines += ["", "w_E selected on dev by the sweeps (arousal, valence):", ""]
    for modality, by_seed in selected.items():
        for seed, sel in by_seed.items():
            lines.append(f"- {modality}, seed {seed}: E {sel['e_hat']}, sigma {sel['sigma_hat']}")
    return "\n".join(lines) + "\n"


def main():
    ap = _runs.arg_parser(__doc__, "runs/reproduce_han17")
    ap.add_argument("--w_e", default="1.0", help="the MTL weighting w_E of Eq. (7)")
    args = ap.parse_args()
    workroot = _runs.workroot(args.workroot)
    t0 = time.time()
    results = collect(args, workroot)
    rows, tt = table(results), tests(results)
    selected = selected_weightings(args, workroot)
    report = {"benchmark": "reproduce_han17", "protocol": args.protocol, "seeds": args.seeds,
              "w_e": args.w_e, "overrides": args.override, "table": rows, "ttests": tt,
              "selected_w_e": selected, "wall_s": time.time() - t0}
    (workroot / "results.json").write_text(json.dumps(report, indent=2))
    (workroot / "results.md").write_text(markdown(rows, tt, selected, args))
    print(json.dumps(report))


if __name__ == "__main__":
    main()
