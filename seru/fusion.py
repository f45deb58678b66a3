"""Late fusion of several evaluated runs (han17 Sec. 3.3, Eq. (9)): ``python -m seru.fuse``.

The runs (e.g. the audio and the video model of one system and corpus) have each been
evaluated on dev and on the split to fuse (``python -m seru.evaluate``), so their
post-processed predictions are in ``<workdir>/eval/<split>/predictions.npz``. For every
declared output (``system.outputs``: the mean and the spread keys) and dimension, a linear
regression ``y = eps + sum_i gamma_i y_i`` of the targets on the runs' predictions is
fitted on dev (``seru.postprocess.fit_late_fusion``: least squares over the dev frames) and
applied to the split. Only frames that are valid in every run count (a video run also
masks frames without a tracked face), for the fit and for the scores; each run is scored
on the same frames, and the fused CCC is compared with the best single run's by Fisher's
r-to-z (``seru.stats.fisher_r_to_z``, one-sided, as han17 Sec. 4.3).

Writes ``OUT/metrics.json`` (the runs, the weights, the fused and the single-run metrics,
the p-values) and ``OUT/predictions.npz``. Our own code: the fusion of seru runs' outputs
is the evaluation job's business, no library knows their layout.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import numpy as np

from seru import config as config_lib
from seru import prediction_files, stats
from seru.postprocess import apply_late_fusion, fit_late_fusion
from seru.systems.base import Regression

#: which target each declared output key is scored against
_TARGET = {"mean": "gold", "spread": "std"}


def _read(workdir: Path, split: str) -> dict[str, dict[str, np.ndarray]]:
    path = workdir / "eval" / split / "predictions.npz"
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: run python -m seru.evaluate --workdir "
                                f"{workdir} --split {split} first")
    return prediction_files.read(path)


def _pairs(system) -> list[tuple[str, str]]:
    """``(output key, target key)`` of the system's declared regression outputs."""
    out = []
    for o in system.outputs:
        if isinstance(o, Regression):
            out += [(k, _TARGET[role]) for role, k in (("mean", o.mean), ("spread", o.spread))
                    if k]
    return out


def _stack(runs, ids, key, d):
    """``(preds [k, N], valid, item)`` over the frames of ``ids`` (all of them, in order):
    the k runs' ``key`` of dimension ``d``; per item, the frames valid in every run and the
    item index of each frame."""
    preds, valid, item = [], [], []
    for i, rid in enumerate(ids):
        preds.append(np.stack([np.asarray(r[rid][key])[:, d] for r in runs]))
        ok = np.all([np.asarray(r[rid]["target_mask"]) > 0 for r in runs], axis=0)
        valid.append(ok)
        item.append(np.full(ok.size, i))
    return np.concatenate(preds, 1), valid, item


def fuse(workdirs: Sequence[str | Path], split: str = "test", out: str | Path | None = None
         ) -> dict:
    """Late fusion of ``workdirs`` fitted on dev and scored on ``split`` (module docstring).

    Returns the metrics dict written to ``OUT/metrics.json`` (``fused`` and ``runs`` metric
    dicts, ``weights`` per output key and dimension, ``p_fused_vs_best`` per CCC key).
    Raises :class:`seru.config.ConfigError` for fewer than two runs or runs of different
    systems / dimensions, ``FileNotFoundError`` for a missing evaluation, ``ValueError``
    for runs whose items differ.
    """
    dirs = [Path(w) for w in workdirs]
    if len(dirs) < 2:
        raise config_lib.ConfigError("--workdirs: give at least two evaluated runs to fuse")
    configs = [config_lib.load(w) for w in dirs]
    first = configs[0]
    for w, c in zip(dirs[1:], configs[1:]):
        if (c.system, tuple(c.data.dimensions)) != (first.system, tuple(first.data.dimensions)):
            raise config_lib.ConfigError(
                f"{w}: system {c.system!r} / dimensions {tuple(c.data.dimensions)}, but "
                f"{dirs[0]} has {first.system!r} / {tuple(first.data.dimensions)}")
    system = config_lib.get_system(first)
    dev_split = first.data.dev_split
    data = {s: [_read(w, s) for w in dirs] for s in (dev_split, split)}
    for s, runs in data.items():
        ids = sorted(runs[0])
        for w, r in zip(dirs[1:], runs[1:]):
            if sorted(r) != ids:
                raise ValueError(f"{w}: the {s} items differ from those of {dirs[0]}")
    dims = tuple(first.data.dimensions)
    fused_preds: dict[str, dict[str, np.ndarray]] = {}
    weights = {}
    for key, target in _pairs(system):
        weights[key] = []
        for d in range(len(dims)):
            dev_ids = sorted(data[dev_split][0])
            x_dev, v_dev, _ = _stack(data[dev_split], dev_ids, key, d)
            y_dev = np.concatenate([np.asarray(data[dev_split][0][r][f"target_{target}"])[:, d]
                                    for r in dev_ids])
            ok = np.concatenate(v_dev)
            w = np.asarray(fit_late_fusion(x_dev[:, ok], y_dev[ok]), np.float64)
            weights[key].append(w.tolist())
            ids = sorted(data[split][0])
            x, v, item = _stack(data[split], ids, key, d)
            fused = np.asarray(apply_late_fusion(x, w))
            for i, rid in enumerate(ids):
                sel = np.concatenate(item) == i
                col = fused_preds.setdefault(rid, {}).setdefault(
                    key, np.zeros((sel.sum(), len(dims)), np.float32))
                col[:, d] = fused[sel]
    # score on the frames valid in every run: the fused predictions and each run's own
    ids = sorted(data[split][0])
    ok = np.concatenate([np.all([np.asarray(r[rid]["target_mask"]) > 0 for r in data[split]],
                                axis=0) for rid in ids])

    def pooled(get):
        return np.concatenate([get(rid) for rid in ids])[ok]

    targets = {t: pooled(lambda rid, t=t: np.asarray(data[split][0][rid][f"target_{t}"]))
               for t in ("gold", "std")}
    fused_m = system.evaluate({k: pooled(lambda rid, k=k: fused_preds[rid][k])
                               for k in weights}, targets)
    run_m = [system.evaluate({k: pooled(lambda rid, k=k, r=r: np.asarray(r[rid][k]))
                              for k in weights}, targets) for r in data[split]]
    n = int(ok.sum())
    p_values = {}
    for name, value in fused_m.items():
        if name.startswith("ccc"):
            best = max(m[name] for m in run_m)
            p_values[name] = float(stats.fisher_r_to_z(value, n, best, n,
                                                       alternative="greater")[1])
    result = {"runs": [str(w) for w in dirs], "split": split, "fitted_on": dev_split,
              "num_frames": n, "weights": weights, "fused": fused_m,
              "single": {str(w): m for w, m in zip(dirs, run_m)},
              "p_fused_vs_best": p_values}
    out_dir = Path(out) if out else dirs[0] / "eval" / "fused" / split
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "metrics.json").write_text(json.dumps(result, indent=2) + "\n")
    np.savez_compressed(out_dir / "predictions.npz",
                        **{f"{rid}/{k}": v for rid, p in fused_preds.items() for k, v in p.items()})
    return result
