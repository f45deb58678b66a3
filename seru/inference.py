"""The Predictor: predictions of a trained run for new audio, as a pandas DataFrame.

    from seru.inference import Predictor

    p = Predictor.from_workdir("runs/quickstart")
    df = p.predict(signal, 16000)                 # one array
    df = p.predict_files(["a.wav", "b.wav"])      # files (any rate; mixed down to mono)

The DataFrame is indexed by ``(file, start, end)`` (``start`` / ``end`` as
``pandas.Timedelta``, as audinterface does): one row per frame of the run's
time base (prabhu22: 40 ms) or one row per file (utterance-level systems).
Per dimension ``<dim>_mean`` (the predicted mean on the rating scale of the
training targets) and ``<dim>_spread`` (the predicted spread: for prabhu22
the std over the MC passes -- the model's whole predictive spread, of which
the raters' disagreement is a part; for sridhar21 the entropy of the soft
labels in nats), and ``<dim>_p_<class>`` for class distributions.
``df.attrs`` holds what the columns are (``outputs``), the scale, the MC
passes and how the input level affects the result (``input_level``).

When the run has been calibrated (``python -m seru.evaluate --conformal``
wrote ``eval/conformal_<checkpoint>_<step>.json``), the split-conformal
interval comes as ``<dim>_lower`` / ``<dim>_upper`` and the prediction set as
boolean ``in_set_<class>`` (``<dim>_in_set_<class>``) columns
(``seru/conformal_eval.py``; ``df.attrs['conformal']`` says what they
guarantee).

The post-processing of the run (prabhu22: the median filter) is applied as
in evaluation, so a file's frames equal what ``python -m seru.evaluate``
writes for the same audio. The MC prediction is compiled once per Predictor:
every call runs batches of the same shape.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from seru import config as config_lib
from seru import evaluation, sharding
from seru.systems.base import ClassDistribution, Regression


def item_ids(paths: Sequence[str | Path]) -> list[str]:
    """Unique ids of files: the stem, extended by parent folders where stems repeat
    (``a/x.wav``, ``b/x.wav`` -> ``a/x``, ``b/x``); an exact repeat gets ``#<index>``."""
    parts = [Path(p).with_suffix("").parts for p in paths]
    out = []
    for i, p in enumerate(parts):
        depth = 1
        while depth < len(p) and any(q[-depth:] == p[-depth:] for j, q in enumerate(parts)
                                     if j != i):
            depth += 1
        ident = "/".join(p[-depth:])
        out.append(ident if ident not in out else f"{ident}#{i}")
    return out


class Predictor:
    """Predictions of one trained run (see the module docstring).

    Build it with :meth:`from_workdir`. Raises ``FileNotFoundError`` for a
    workdir without ``config.json`` or checkpoint.
    """

    def __init__(self, workdir, config, system, params, step: int, num_samples: int,
                 fitted: dict, conformal: dict | None = None):
        from seru.data import inputs

        self.workdir, self.config, self.system, self.params = Path(workdir), config, system, params
        self.step, self.num_samples, self.fitted = step, num_samples, fitted
        self.conformal = conformal
        self.input_type = inputs.get(config.data.input)
        self.mesh = sharding.make_mesh()
        self.rng = evaluation.eval_rng(config)
        self._predict_fn = evaluation.make_predict_fn(system, num_samples, self.mesh)

    @classmethod
    def from_workdir(cls, workdir, checkpoint: str = "best", num_samples: int | None = None
                     ) -> "Predictor":
        """The Predictor of ``workdir``'s ``checkpoint`` (best | latest | best_train_loss |
        best_dev) with ``num_samples`` MC passes (default: ``config.eval.num_samples``)."""
        from seru.data import inputs

        config = config_lib.load(workdir)
        itype = inputs.get(config.data.input)
        noise = np.random.default_rng(0).normal(0.0, 0.1, 16000).astype(np.float32)
        probe = itype.from_signals(config, [("probe", noise, 16000)])  # shapes only
        system = config_lib.get_system(config, probe.time_base)
        params, step = evaluation.restore_params(workdir, config, system, probe, checkpoint)
        kind = config_lib.checkpoint_kind(config, checkpoint)
        fitted_path = evaluation.postprocess_path(workdir, kind, step)
        fitted = {}
        import json

        if system.postprocess_needs_fit:
            if not fitted_path.exists():
                raise FileNotFoundError(f"{fitted_path}: the run's post-processing is fitted on "
                                        f"dev; run python -m seru.evaluate --workdir {workdir} "
                                        f"first")
            fitted = json.loads(fitted_path.read_text())
        conformal_file = evaluation.conformal_path(workdir, kind, step)
        conformal = json.loads(conformal_file.read_text()) if conformal_file.exists() else None
        return cls(workdir, config, system, params, step,
                   num_samples or config.eval.num_samples, fitted, conformal)

    # -- predictions ----------------------------------------------------------------

    def predict(self, signal: np.ndarray, sample_rate: int, file: str = "signal"):
        """Predictions for one mono signal (float ``[samples]``, any rate in Hz). Raises
        ``ValueError`` for a signal that is not 1-D and ``seru.data.audio.AudioError``
        (naming ``file``) for one that is empty, non-finite or digital zero."""
        from seru.data import audio as audio_lib

        x = np.asarray(signal, np.float32)
        if x.ndim != 1:
            raise ValueError(f"predict: expected a mono signal [samples], got shape {x.shape}")
        audio_lib.check_samples(x, int(sample_rate), file)
        return self._frame([(file, x, int(sample_rate))])

    def predict_files(self, paths: Sequence[str | Path]):
        """Predictions for audio files (any format soundfile reads); ids from :func:`item_ids`.
        Raises ``seru.data.audio.AudioError`` naming a file that cannot be read or is
        empty, non-finite or digital zero (``seru.data.audio.load_wav``)."""
        from seru.data import audio as audio_lib

        signals = []
        for ident, path in zip(item_ids(paths), paths):
            x, sr = audio_lib.load_wav(path)
            signals.append((ident, x, sr))
        return self._frame(signals)

    def _frame(self, signals):
        import pandas as pd

        ds = self.input_type.from_signals(self.config, signals, self.system.time_base)
        raw = evaluation.predict_split(self.system, self.params, ds, "predict", self.rng,
                                       self.num_samples, self.mesh, self._predict_fn)
        preds = evaluation.postprocess(self.system, raw, self.fitted)
        if self.conformal:
            from seru import conformal_eval

            preds = {rid: conformal_eval.apply(self.system, self.conformal, p)
                     for rid, p in preds.items()}
        dims = tuple(self.config.data.dimensions)
        tb = self.system.time_base
        index, columns = [], {}
        for ident, x, sr in signals:
            p = preds[ident]
            first = next(iter(self._columns(p, dims).values()))
            n = len(first)
            if ds.framewise and tb is not None:
                start = tb.times(n)
                end = start + tb.hop_s
            else:
                start, end = np.zeros(n), np.full(n, len(x) / sr)
            index += [(ident, pd.to_timedelta(s, unit="s"), pd.to_timedelta(e, unit="s"))
                      for s, e in zip(start, end)]
            for col, v in self._columns(p, dims).items():
                columns.setdefault(col, []).append(v)
        df = pd.DataFrame({k: np.concatenate(v) for k, v in columns.items()},
                          index=pd.MultiIndex.from_tuples(index, names=["file", "start", "end"]))
        df.attrs.update(self.metadata())
        return df

    def _columns(self, p, dims) -> dict[str, np.ndarray]:
        cols = {}
        for out in self.system.outputs:
            if isinstance(out, Regression):
                lower, upper = ((out.mean + b if out.mean else None) for b in ("_lower", "_upper"))
                for suffix, key in (("mean", out.mean), ("spread", out.spread),
                                    ("lower", lower), ("upper", upper)):
                    if key and key in p:
                        v = np.asarray(p[key]).reshape(-1, len(dims))
                        cols.update({f"{dim}_{suffix}": v[:, d] for d, dim in enumerate(dims)})
            elif isinstance(out, ClassDistribution):
                pr = np.asarray(p[out.probs])
                names = out.classes or tuple(str(k) for k in range(pr.shape[-1]))
                in_set = p.get(out.probs + "_set")
                if pr.ndim == 2:  # [T, K]: one distribution (e.g. over emotion classes)
                    cols.update({f"p_{c}": pr[:, k] for k, c in enumerate(names)})
                    if in_set is not None:
                        cols.update({f"in_set_{c}": in_set[:, k] for k, c in enumerate(names)})
                    continue
                pr = pr.reshape(-1, len(dims), pr.shape[-1])  # [T, D, K]: one per dimension
                for d, dim in enumerate(dims):
                    for k, c in enumerate(names):
                        cols[f"{dim}_p_{c}"] = pr[:, d, k]
                        if in_set is not None:
                            cols[f"{dim}_in_set_{c}"] = in_set.reshape(pr.shape)[:, d, k]
        return cols

    def metadata(self) -> dict:
        """What the columns mean: the run, the outputs, the scale, the MC passes, the input
        level's effect (``DataFrame.attrs`` of every prediction)."""
        tb = self.system.time_base
        return {
            "workdir": str(self.workdir), "system": self.config.system, "step": self.step,
            "dimensions": list(self.config.data.dimensions),
            "outputs": [{"kind": type(o).__name__, **vars(o)} for o in self.system.outputs],
            "spread": ("the model's predictive spread (MC passes and what it learnt of the "
                       "raters' disagreement), not the raters' std itself"),
            "scale": "the rating scale of the training targets (data.gold of the run)",
            "frame_hop_s": None if tb is None else tb.hop_s,
            "num_samples": self.num_samples,
            "input_level": self.input_type.level_note(self.config),
            "conformal": None if not self.conformal else {
                **{k: self.conformal[k] for k in ("alpha", "fitted_on", "unit", "mondrian")},
                "meaning": ("<dim>_lower / <dim>_upper: the split-conformal interval; "
                            "in_set_<class>: the class is in the prediction set; each covers "
                            "the truth of a new item exchangeable with the calibration items "
                            "with probability >= 1 - alpha (seru/conformal_eval.py)")},
        }
