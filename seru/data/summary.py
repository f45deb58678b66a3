"""Summary statistics of a corpus in the seru schema (what ``python -m seru.data`` prints).

Works on any registered corpus (synthetic or real) through the record schema
and the builder's ``info.metadata`` only. Plain numpy, independent of
``seru.data.labels``:

* per split: items, total / mean duration, speakers (by gender for utterance
  corpora), annotators per item (per frame for continuous corpora);
* per dimension: mean and std of the mean rating m (Eq. (1) of prabhu22) over
  frames or utterances, mean rater std s (unbiased, N - 1: Eq. (3) of prabhu22)
  over items with >= 2 ratings, and
  inter-rater agreement: continuous corpora the mean pairwise Pearson r and
  CCC between annotators' traces (per recording, averaged over pairs and
  recordings; CCC with population variances); utterance corpora the share of
  rater pairs giving the same rating (exact) or ratings at most one point apart
  (within-1);
* utterance corpora: the share of votes per class and the share of voted
  utterances whose majority (plurality) class has < 50 % of the votes.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from typing import Mapping

import numpy as np

from seru.data.schema import decode_text


def _meta(builder) -> dict:
    meta = builder.info.metadata
    if meta is None or "kind" not in meta or "dimensions" not in meta:
        raise ValueError(
            f"builder {builder.name!r} has no seru metadata (info.metadata with 'kind' and "
            f"'dimensions'); see seru.data.schema.make_metadata"
        )
    return dict(meta)


def _stats(x) -> dict:
    x = np.asarray(x, dtype=np.float64)
    if x.size == 0:
        return dict(min=None, mean=None, max=None)
    return dict(min=float(x.min()), mean=float(x.mean()), max=float(x.max()))


def _f(x):
    x = float(x)
    return None if math.isnan(x) else x


def pairwise_trace_agreement(ratings: np.ndarray) -> tuple[list[float], list[float]]:
    """Pearson r and CCC of every pair of annotator columns of ``ratings [frames, annotators]``.

    Frames where either rating is NaN are dropped; pairs with fewer than 2 common
    frames or a constant trace are skipped. CCC as in Eq. (2) of prabhu22, with
    population (N) variances.
    """
    rs, cccs = [], []
    a = ratings.shape[1]
    for i in range(a):
        for j in range(i + 1, a):
            ok = ~np.isnan(ratings[:, i]) & ~np.isnan(ratings[:, j])
            if ok.sum() < 2:
                continue
            x = ratings[ok, i].astype(np.float64)
            y = ratings[ok, j].astype(np.float64)
            vx, vy = x.var(), y.var()
            if vx == 0 or vy == 0:
                continue
            cov = np.mean((x - x.mean()) * (y - y.mean()))
            rs.append(cov / np.sqrt(vx * vy))
            cccs.append(2 * cov / (vx + vy + (x.mean() - y.mean()) ** 2))
    return rs, cccs


class _SplitAccumulator:
    def __init__(self, kind: str, dims, class_names):
        self.kind, self.dims, self.class_names = kind, list(dims), list(class_names)
        self.n = 0
        self.durations = []
        self.speakers = {}
        self.raters = []
        self.means = {d: [] for d in self.dims}
        self.stds = {d: [] for d in self.dims}
        self.pair_r = {d: [] for d in self.dims}
        self.pair_ccc = {d: [] for d in self.dims}
        self.pairs = {d: np.zeros(3, np.int64) for d in self.dims}  # total, exact, within-1
        self.votes = np.zeros(len(self.class_names), np.int64)
        self.majority = []
        self.labeled = 0

    def add(self, rec: Mapping, where: str):
        self.n += 1
        sr = int(rec["sample_rate"])
        if sr <= 0:
            raise ValueError(f"{where}: sample_rate must be positive, got {sr}")
        self.durations.append(np.asarray(rec["audio"]).shape[0] / sr)
        self.speakers[decode_text(rec["speaker"])] = decode_text(rec.get("gender", b"unknown"))
        counts = None
        for d in self.dims:
            if d not in rec:
                raise KeyError(f"{where}: record has no rating field {d!r} (fields: {sorted(rec)})")
            x = np.asarray(rec[d], np.float64)
            expected = 2 if self.kind == "continuous" else 1
            if x.ndim != expected:
                raise ValueError(f"{where}: {d!r} has shape {x.shape}, expected {expected} axes")
            x2 = x if x.ndim == 2 else x[None, :]   # [items, annotators]
            c = (~np.isnan(x2)).sum(1)
            counts = c if counts is None else np.maximum(counts, c)
            with np.errstate(all="ignore"):
                rated = c >= 1
                self.means[d].append(np.nanmean(x2[rated], axis=1) if rated.any() else np.zeros(0))
                two = c >= 2
                self.stds[d].append(np.nanstd(x2[two], axis=1, ddof=1) if two.any() else np.zeros(0))
            if self.kind == "continuous":
                r, ccc = pairwise_trace_agreement(x2)
                self.pair_r[d] += r
                self.pair_ccc[d] += ccc
            else:
                v = x[~np.isnan(x)]
                diff = np.abs(v[:, None] - v[None, :])[np.triu_indices(v.size, 1)]
                self.pairs[d] += [diff.size, np.sum(diff == 0), np.sum(diff <= 1)]
        self.raters.append(counts)
        if self.kind == "utterance":
            if counts.max() > 0:
                self.labeled += 1
            v = np.asarray(rec["emotion_votes"], np.int64)
            if v.shape != (len(self.class_names),):
                raise ValueError(f"{where}: emotion_votes has shape {v.shape}, expected "
                                 f"({len(self.class_names)},)")
            self.votes += v
            if v.sum() > 0:
                self.majority.append(v.max() / v.sum())

    def result(self) -> dict:
        genders = Counter(self.speakers.values())
        out = dict(
            items=self.n,
            total_duration_s=float(np.sum(self.durations)),
            mean_duration_s=float(np.mean(self.durations)) if self.durations else None,
            speakers=len(self.speakers),
            speakers_by_gender=dict(sorted(genders.items())),
            annotators_per_item=_stats(np.concatenate(self.raters) if self.raters else []),
        )
        if self.kind == "continuous":
            out["annotators_per_item"]["unit"] = "frame"
        labels = {}
        for d in self.dims:
            m = np.concatenate(self.means[d]) if self.means[d] else np.zeros(0)
            s = np.concatenate(self.stds[d]) if self.stds[d] else np.zeros(0)
            entry = dict(
                rated_items=int(m.size),
                mean_of_mean=_f(m.mean()) if m.size else None,
                std_of_mean=_f(m.std()) if m.size else None,
                mean_rater_std=_f(s.mean()) if s.size else None,
            )
            if self.kind == "continuous":
                entry["pairwise_pearson"] = _f(np.mean(self.pair_r[d])) if self.pair_r[d] else None
                entry["pairwise_ccc"] = _f(np.mean(self.pair_ccc[d])) if self.pair_ccc[d] else None
            else:
                tot, exact, within = self.pairs[d]
                entry["pair_exact_agreement"] = float(exact / tot) if tot else None
                entry["pair_within1_agreement"] = float(within / tot) if tot else None
            labels[d] = entry
        out["labels"] = labels
        if self.kind == "utterance":
            out["labeled_items"] = self.labeled
            total = self.votes.sum()
            out["votes"] = int(total)
            out["vote_share"] = ({c: float(v / total) for c, v in zip(self.class_names, self.votes)}
                                 if total else None)
            out["share_majority_below_half"] = (float(np.mean(np.array(self.majority) < 0.5))
                                                if self.majority else None)
        return out


def summarize(builder, sources: Mapping, progress: bool = True) -> dict:
    """Summary of every split of ``sources`` (``{split: data_source}``) of ``builder``."""
    meta = _meta(builder)
    kind = meta["kind"]
    if kind not in ("continuous", "utterance"):
        raise ValueError(f"builder {builder.name!r}: metadata kind must be 'continuous' or "
                         f"'utterance', got {kind!r}")
    dims, classes = meta["dimensions"], meta.get("class_names", [])
    try:
        from tqdm.auto import tqdm
    except ImportError:  # pragma: no cover
        tqdm = None
    splits = {}
    for split, source in sources.items():
        acc = _SplitAccumulator(kind, dims, classes)
        n = len(source)
        it = range(n)
        if progress and tqdm is not None:
            it = tqdm(it, desc=f"summarising {split}", leave=False, unit="item")
        for i in it:
            acc.add(source[i], where=f"{builder.name}/{split}[{i}]")
        splits[str(split)] = acc.result()
    config = getattr(builder, "builder_config", None)
    return dict(
        corpus=builder.name,
        variant=getattr(config, "name", None),
        version=str(builder.version),
        kind=kind,
        dimensions=list(dims),
        rating_range=list(meta.get("rating_range", [])),
        class_names=list(classes),
        splits=splits,
    )


def _fmt(x, nd=3):
    return "-" if x is None else (f"{x:.{nd}f}" if isinstance(x, float) else str(x))


def format_summary(summary: Mapping) -> str:
    """The summary as plain text (one block per split)."""
    lines = [
        f"corpus {summary['corpus']} (variant {summary['variant']}, version {summary['version']}),"
        f" {summary['kind']}, dimensions {', '.join(summary['dimensions'])}, rating range "
        f"{summary['rating_range']}",
    ]
    for split, s in summary["splits"].items():
        ann = s["annotators_per_item"]
        unit = ann.get("unit", "item")
        genders = ", ".join(f"{g} {n}" for g, n in s["speakers_by_gender"].items())
        lines.append("")
        lines.append(
            f"[{split}] {s['items']} items, {s['total_duration_s'] / 60:.1f} min total, "
            f"{_fmt(s['mean_duration_s'], 1)} s mean; {s['speakers']} speakers ({genders})"
        )
        lines.append(f"  annotators per {unit}: min {_fmt(ann['min'], 0)}, "
                     f"mean {_fmt(ann['mean'], 2)}, max {_fmt(ann['max'], 0)}"
                     + (f"; labeled items {s['labeled_items']}" if "labeled_items" in s else ""))
        for d, e in s["labels"].items():
            if summary["kind"] == "continuous":
                agree = (f"pairwise r {_fmt(e['pairwise_pearson'])}, "
                         f"pairwise CCC {_fmt(e['pairwise_ccc'])}")
            else:
                agree = (f"pairs exact {_fmt(e['pair_exact_agreement'])}, "
                         f"within-1 {_fmt(e['pair_within1_agreement'])}")
            lines.append(
                f"  {d:<10s} mean rating {_fmt(e['mean_of_mean'])} +- {_fmt(e['std_of_mean'])}, "
                f"rater std {_fmt(e['mean_rater_std'])}, {agree}"
            )
        if s.get("vote_share"):
            share = ", ".join(f"{c} {v:.3f}" for c, v in s["vote_share"].items())
            lines.append(f"  votes {s['votes']}: {share}")
            lines.append(f"  majority < 50 % of votes: {_fmt(s['share_majority_below_half'])}")
    return "\n".join(lines)


def to_json(summary: Mapping) -> str:
    return json.dumps(summary, indent=2)
