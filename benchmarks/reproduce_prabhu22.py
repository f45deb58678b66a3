"""Reproduce prabhu22 Table 1 on the synthetic RECOLA-like corpus: STL, MTL-PU, MU, +LU.

Each (variant, seed) is trained with ``python -m seru.train`` and evaluated with
``python -m seru.evaluate`` in its own workdir, so an interrupted benchmark
resumes where it stopped (finished runs are skipped, a half-trained run
resumes from its latest checkpoint). The table gives mean +- std over seeds
of CCC(m), CCC(s), KL (prabhu22 Eqs. (2) and (7)), NLL and 90 % interval
coverage, and one-tailed t-tests (:func:`seru.stats.ttest_one_tailed`) of +LU
against each other variant: "+LU has the higher CCC(s)" and "+LU has the
lower KL", as the paper reports.

    python benchmarks/reproduce_prabhu22.py --protocol cpu --seeds 0 1 2 \\
        --workroot runs/reproduce_prabhu22 --split test

Prints one JSON object (the runs, the table and the tests) and writes it, plus
a Markdown table, to ``WORKROOT/``.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _runs  # noqa: E402

VARIANTS = ("stl", "mtl_pu", "mu", "lu")
LABELS = {"stl": "STL", "mtl_pu": "MTL-PU", "mu": "MU", "lu": "+LU", "lu_t": "+LU (t)"}
METRICS = ("ccc_m", "ccc_s", "r_s_within", "kl", "nll", "coverage_90")
# direction in which a metric is better, for the one-tailed tests
HIGHER_IS_BETTER = {"ccc_m": True, "ccc_s": True, "r_s_within": True, "kl": False,
                    "nll": False}


def one(variant: str, seed: int, args, workroot: Path) -> dict:
    """The metrics of one (variant, seed), trained and evaluated unless already done."""
    config = f"configs/prabhu22_bbb.py:variant={variant},protocol={args.protocol}"
    extra = [f"--config.seed={seed}", "--config.train.progress_bar=False",
             "--config.eval.splits=()"]
    extra += [f"--config.{kv}" for kv in args.override]
    return _runs.train_and_evaluate(workroot / f"{variant}_seed{seed}", config, extra,
                                    args.split)


def table(results: dict[str, list[dict]]) -> dict:
    rows = {}
    for v, runs in results.items():
        rows[v] = {m: _runs.summary([r[m] for r in runs if m in r]) for m in METRICS
                   if any(m in r for r in runs)}
    return rows


def tests(results: dict[str, list[dict]], ref: str = "lu") -> dict:
    out = {}
    if ref not in results:
        return out
    for other in results:
        if other == ref:
            continue
        for m, higher in HIGHER_IS_BETTER.items():
            t = _runs.one_tailed([r.get(m) for r in results[ref]],
                                 [r.get(m) for r in results[other]], higher)
            if t is not None:
                out[f"{ref}>{other}:{m}"] = t
    return out


def markdown(rows: dict, tt: dict, protocol: str, split: str, seeds) -> str:
    head = "| system | " + " | ".join(METRICS) + " |"
    lines = [f"prabhu22 Table 1 on seru_synth_continuous ({protocol} protocol, {split} split, "
             f"seeds {list(seeds)}; mean +- std over seeds)", "", head,
             "|" + "---|" * (len(METRICS) + 1)]
    for v, r in rows.items():
        cells = [f"{r[m]['mean']:.3f} +- {r[m]['std']:.3f}" if m in r else "-" for m in METRICS]
        lines.append(f"| {LABELS.get(v, v)} | " + " | ".join(cells) + " |")
    lines += ["", "One-tailed t-tests (+LU better than ...):", ""]
    lines += _runs.ttest_lines(tt)
    return "\n".join(lines) + "\n"


def main():
    ap = _runs.arg_parser(__doc__, "runs/reproduce_prabhu22")
    ap.add_argument("--variants", nargs="+", default=list(VARIANTS))
    ap.add_argument("--split", default="test")
    args = ap.parse_args()
    workroot = _runs.workroot(args.workroot)
    t0 = time.time()
    results = {v: [] for v in args.variants}
    for s in args.seeds:  # seeds outside: an interrupted run has every variant of its seeds
        for v in args.variants:
            print(f"[{time.time() - t0:7.0f} s] {v} seed {s}", file=sys.stderr, flush=True)
            results[v].append(one(v, s, args, workroot))
    rows, tt = table(results), tests(results)
    report = {"benchmark": "reproduce_prabhu22", "protocol": args.protocol, "split": args.split,
              "seeds": args.seeds, "overrides": args.override, "table": rows, "ttests": tt,
              "wall_s": time.time() - t0}
    (workroot / "results.json").write_text(json.dumps(report, indent=2))
    (workroot / "results.md").write_text(markdown(rows, tt, args.protocol, args.split,
                                                  args.seeds))
    print(json.dumps(report))


if __name__ == "__main__":
    main()
