"""Helpers shared by the reproduction benchmarks (``reproduce_*.py``).

Every run is a ``python -m seru.train`` and/or ``python -m seru.evaluate``
subprocess in its own workdir, logged to ``WORKDIR/benchmark.log``; a
finished run is recognised by its output file and skipped, so an interrupted
benchmark resumes where it stopped (a half-trained run resumes from its latest
checkpoint: ``seru.train`` does that itself).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Sequence

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from seru.stats import ttest_one_tailed  # noqa: E402


def run(cmd: list[str], log: Path) -> None:
    """Runs ``cmd`` from the repository root, appending its output to ``log``."""
    with open(log, "a") as f:
        f.write("$ " + " ".join(cmd) + "\n")
        f.flush()
        proc = subprocess.run(cmd, cwd=ROOT, stdout=f, stderr=subprocess.STDOUT)
    if proc.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed (exit {proc.returncode}); see {log}")


def workroot(path: str) -> Path:
    """``path`` (relative to the repository root unless absolute), created; and makes
    the subprocesses import this checkout of seru."""
    p = Path(path)
    if not p.is_absolute():
        p = ROOT / p
    p.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("PYTHONPATH", str(ROOT))
    return p


def arg_parser(doc: str, workroot: str) -> argparse.ArgumentParser:
    """The options every reproduction benchmark takes; the script adds its own to the parser.

    ``--protocol`` ``cpu`` (default) or ``paper``; ``--seeds`` (default 0 1 2);
    ``--workroot`` (default ``workroot``, relative to the repository root: :func:`workroot`);
    ``--override`` config overrides for every run. The description is the first line of
    ``doc`` (the script's docstring).
    """
    ap = argparse.ArgumentParser(description=doc.split("\n")[0])
    ap.add_argument("--protocol", default="cpu", choices=("cpu", "paper"))
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--workroot", default=workroot)
    ap.add_argument("--override", nargs="*", default=[],
                    help="extra config overrides for every run, e.g. train.num_epochs=5")
    return ap


def _write_timing(workdir: Path, **kw) -> None:
    path = workdir / "timing.json"
    old = json.loads(path.read_text()) if path.exists() else {}
    path.write_text(json.dumps({**old, **kw}))


def train(workdir: Path, config: str, extra: Sequence[str] = ()) -> None:
    """``python -m seru.train --config CONFIG --workdir WORKDIR EXTRA...``, once: skipped
    when ``timing.json`` records a finished training."""
    workdir.mkdir(parents=True, exist_ok=True)
    timing = workdir / "timing.json"
    if timing.exists() and "train_s" in json.loads(timing.read_text()):
        return
    t0 = time.time()
    run([sys.executable, "-m", "seru.train", "--config", config, "--workdir", str(workdir)]
        + list(extra), workdir / "benchmark.log")
    _write_timing(workdir, train_s=time.time() - t0)


def _evaluate_once(workdir: Path, outdir: Path, args: list[str], timing_key: str) -> dict:
    """``python -m seru.evaluate --workdir WORKDIR ARGS...`` unless ``outdir/metrics.json``
    exists; returns its ``metrics``."""
    out = outdir / "metrics.json"
    if not out.exists():
        t0 = time.time()
        run([sys.executable, "-m", "seru.evaluate", "--workdir", str(workdir)] + args,
            workdir / "benchmark.log")
        _write_timing(workdir, **{timing_key: time.time() - t0})
    return json.loads(out.read_text())["metrics"]


def evaluate(workdir: Path, split: str, extra: Sequence[str] = ()) -> dict:
    """``python -m seru.evaluate --workdir WORKDIR --split SPLIT EXTRA...``, once: skipped
    when ``eval/<split>/metrics.json`` exists. Returns its ``metrics``."""
    return _evaluate_once(workdir, workdir / "eval" / split, ["--split", split, *extra],
                          "evaluate_s")


def evaluate_cross(workdir: Path, corpus: str, variant: str, split: str,
                   extra: Sequence[str] = ()) -> tuple[Path, dict]:
    """``seru.evaluate --corpus CORPUS --variant VARIANT`` (cross-corpus), once: skipped when
    ``eval/<corpus>-<variant>/<split>/metrics.json`` exists. Returns (that folder, metrics)."""
    outdir = workdir / "eval" / f"{corpus}-{variant or 'default'}" / split
    return outdir, _evaluate_once(
        workdir, outdir, ["--split", split, "--corpus", corpus, "--variant", variant, *extra],
        f"evaluate_{corpus}-{variant}_s")


def train_and_evaluate(workdir: Path, config: str, extra: Sequence[str], split: str) -> dict:
    """:func:`train` then :func:`evaluate`; skipped entirely when the metrics exist."""
    out = workdir / "eval" / split / "metrics.json"
    if out.exists():
        return json.loads(out.read_text())["metrics"]
    train(workdir, config, extra)
    return evaluate(workdir, split)


def summary(values) -> dict:
    """``{"mean", "std" (ddof 1; 0 for one value), "values"}`` of the finite values."""
    v = np.asarray([x for x in values if x is not None], dtype=float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return {"mean": float("nan"), "std": float("nan"), "values": []}
    return {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if v.size > 1 else 0.0,
            "values": v.tolist()}


def ttest_lines(tt: dict) -> list[str]:
    """Markdown bullets ``- name: t = .., p = ..`` (or the error) of :func:`one_tailed` results."""
    return [f"- {k}: " + (f"t = {v['t']:.2f}, p = {v['p']:.4f}" if "p" in v else v["error"])
            for k, v in tt.items()]


def one_tailed(a, b, higher_is_better: bool = True) -> dict | None:
    """One-tailed two-sample (Student) t-test "``a`` is better than ``b``"
    (:func:`seru.stats.ttest_one_tailed`) as ``{"t", "p"}``, ``{"error"}`` when
    both groups have zero variance, ``None`` with fewer than two values a side."""
    a = np.asarray([x for x in a if x is not None and np.isfinite(x)], dtype=float)
    b = np.asarray([x for x in b if x is not None and np.isfinite(x)], dtype=float)
    if a.size < 2 or b.size < 2:
        return None
    if not higher_is_better:
        a, b = -a, -b
    try:
        t, p = ttest_one_tailed(a, b)
    except ValueError as e:  # zero variance in both groups
        return {"error": str(e)}
    return {"t": float(t), "p": float(p)}
