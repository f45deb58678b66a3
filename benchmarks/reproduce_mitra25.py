"""mitra25 Tables 1-3, 5, 6 and the vote-PDF vs consensus ablation on the embedded corpus.

For every seed, the TC-GRU of ``configs/mitra25_tcgru.py`` is trained on each input --
MFBF0, the final layer and the CCS-salient layer of seru's offline encoder -- with vote-PDF
targets, and on the salient layer with consensus targets (the ablation), and evaluated on
dev, test, the 15 and 5 dB SNR copies of test and, across corpora, the test split of the
IEMOCAP stand-in ``seru_synth_utterances/crosscorpus`` (``cross``). Reports mean +- std over seeds of:
CCC of the attributes (Table 1), UAR and macro-F1 (Table 2), paUAR-75/-50 for k = 1, 2, 3
(Table 3), by gender (Table 6), and one-tailed t-tests over seeds for the paper's
expectations: the salient layer above the final one (Table 5), vote-PDF targets at least
as good as consensus, noise lowering the scores, k-best lifting paUAR; the CCS curve over
the encoder's layers (``ccs_curve.png``). Prints JSON; writes
``WORKROOT/results.{json,md}``. An interrupted run resumes (``benchmarks/_runs.py``).

    python benchmarks/reproduce_mitra25.py [--protocol cpu|paper] [--seeds 0 1 2]
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import _runs

#: (label, config argument string)
RUNS = (("MFBF0", "frames=mfbf0,target=votes"),
        ("final", "frames=ssl:final,target=votes"),
        ("salient", "frames=ssl:salient,target=votes"),
        ("salient, consensus", "frames=ssl:salient,target=consensus"))
SPLITS = ("dev", "test", "test_snr15", "test_snr5")
DIMS = ("arousal", "valence", "dominance")
GENDERS = ("female", "male")


def one(label: str, arg: str, seed: int, args, workroot: Path) -> dict:
    """Trains one run unless done and evaluates it on every split; its metrics per split."""
    w = workroot / f"{label.replace(', ', '_')}_seed{seed}"
    extra = [f"--config.seed={seed}", "--config.train.progress_bar=False",
             "--config.eval.splits=()"] + [f"--config.{kv}" for kv in args.override]
    _runs.train(w, f"configs/mitra25_tcgru.py:{arg},protocol={args.protocol}", extra)
    out = {s: _runs.evaluate(w, s) for s in SPLITS}
    out["cross"] = _runs.evaluate_cross(w, "seru_synth_utterances", "crosscorpus", "test")[1]
    return out


def collect(args, workroot: Path) -> dict:
    """``{label: [ {split: metrics} per seed ]}``."""
    out, t0 = {label: [] for label, _ in RUNS}, time.time()
    for seed in args.seeds:
        for label, arg in RUNS:
            print(f"[{time.time() - t0:6.0f} s] {label} seed {seed}", flush=True)
            out[label].append(one(label, arg, seed, args, workroot))
    return out


def _col(results, label, split, key):
    return [r[split].get(key) for r in results[label]]


def tables(results: dict) -> dict:
    """``{table: {row: {column: summary}}}`` (``_runs.summary``: mean, std, values)."""
    t = {"CCC (Table 1)": {}, "UAR / F1 (Table 2)": {}, "paUAR (Table 3, test)": {},
         "by gender (Table 6, test)": {}, "distribution (test)": {}}
    for label in results:
        for split in SPLITS + ("cross",):
            row = f"{label} | {split}"
            t["CCC (Table 1)"][row] = {d: _runs.summary(_col(results, label, split, f"ccc/{d}"))
                                       for d in DIMS}
            t["UAR / F1 (Table 2)"][row] = {k: _runs.summary(_col(results, label, split, k))
                                            for k in ("uar", "f1_macro")}
        t["paUAR (Table 3, test)"][label] = {
            f"{k}-best paUAR-{th}": _runs.summary(_col(results, label, "test",
                                                       f"pa_uar{th}_k{k}"))
            for k in (1, 2, 3) for th in (75, 50)}
        t["by gender (Table 6, test)"][label] = {
            f"{g} {m}": _runs.summary(_col(results, label, "test", f"gender/{g}/{m}"))
            for g in GENDERS for m in ("uar_k1", "pa_uar50_k1", "pa_uar75_k1")}
        t["distribution (test)"][label] = {
            k: _runs.summary(_col(results, label, "test", k))
            for k in ("kl_votes", "js_votes", "brier_votes", "ece")}
    return t


def tests(results: dict) -> dict:
    """One-tailed t-tests over seeds of the paper's expectations."""
    out = {}

    def add(name, a, b, higher=True):
        r = _runs.one_tailed(a, b, higher)
        if r is not None:
            out[name] = r

    for key in ("uar", "ccc/valence", "ccc"):
        add(f"salient>final:{key}:test", _col(results, "salient", "test", key),
            _col(results, "final", "test", key))
        add(f"votes>consensus:{key}:test", _col(results, "salient", "test", key),
            _col(results, "salient, consensus", "test", key))
    add("votes<consensus:kl_votes:test", _col(results, "salient", "test", "kl_votes"),
        _col(results, "salient, consensus", "test", "kl_votes"), higher=False)
    for label in results:
        for key in ("uar", "ccc"):
            add(f"clean>5dB:{label}:{key}", _col(results, label, "test", key),
                _col(results, label, "test_snr5", key))
        add(f"2-best>1-best:{label}:pa_uar75", _col(results, label, "test", "pa_uar75_k2"),
            _col(results, label, "test", "pa_uar75_k1"))
    return out


def ccs_figure(workroot: Path, seeds) -> dict:
    """The CCS curve over the offline encoder's layers (mitra25 Fig. 3), overall and per
    target, from the salient runs' ``input_info.json``; ``WORKROOT/ccs_curve.png``. Returns
    the curves of the first seed and the layer each seed selected."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    infos = [json.loads((workroot / f"salient_seed{s}" / "input_info.json").read_text())
             for s in seeds]
    ccs = infos[0]["ccs"]
    fig, ax = plt.subplots(figsize=(7, 4))
    layers = range(len(ccs["curve"]))
    for name, curve in ccs["per_target"].items():
        ax.plot(layers, curve, lw=0.8, alpha=0.7, label=name)
    ax.plot(layers, ccs["curve"], color="k", lw=2.2, label="all targets (selects)")
    ax.set_xticks(list(layers))
    ax.set_xlabel("encoder layer (0 = input projection)")
    ax.set_ylabel("mu_CCS (Eq. (3))")
    ax.set_title(f"CCS layer saliency, {ccs['utterances']} training utterances")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(workroot / "ccs_curve.png", dpi=110)
    plt.close(fig)
    return {"curve": ccs["curve"], "per_target_layer": ccs["per_target_layer"],
            "selected": [i["layer"] for i in infos]}


def markdown(t: dict, tt: dict, ccs: dict, args) -> str:
    lines = [f"mitra25 on seru_synth_utterances ({args.protocol} protocol, seeds {args.seeds}; "
             "mean +- std over seeds)", ""]
    for title, rows in t.items():
        cols = list(next(iter(rows.values())))
        lines += [f"### {title}", "", "| run | " + " | ".join(cols) + " |",
                  "|---|" + "---|" * len(cols)]
        for row, cells in rows.items():
            lines.append(f"| {row} | " + " | ".join(
                f"{c['mean']:.3f} +- {c['std']:.3f}" for c in cells.values()) + " |")
        lines.append("")
    lines += ["One-tailed t-tests over seeds:", ""] + _runs.ttest_lines(tt)
    lines += ["", "CCS layer saliency (`ccs_curve.png`): curve "
              + ", ".join(f"{x:.3f}" for x in ccs["curve"]) + f"; selected {ccs['selected']}; "
              f"per target {ccs['per_target_layer']}"]
    return "\n".join(lines) + "\n"


def main():
    ap = _runs.arg_parser(__doc__, "runs/reproduce_mitra25")
    args = ap.parse_args()
    workroot = _runs.workroot(args.workroot)
    t0 = time.time()
    results = collect(args, workroot)
    t, tt = tables(results), tests(results)
    report = {"benchmark": "reproduce_mitra25", "protocol": args.protocol, "seeds": args.seeds,
              "overrides": args.override, "tables": t, "ttests": tt,
              "ccs": ccs_figure(workroot, args.seeds), "wall_s": time.time() - t0}
    (workroot / "results.json").write_text(json.dumps(report, indent=2))
    (workroot / "results.md").write_text(markdown(t, tt, report["ccs"], args))
    print(json.dumps(report))


if __name__ == "__main__":
    main()
