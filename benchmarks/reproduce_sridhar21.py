"""Reproduce sridhar21 Tables I / III and Fig. 3 on the synthetic utterance corpus.

For each attribute and seed: the proposed VAE-ER (stage 1 pre-training on the
unlabeled pool, then joint training from it), the MC-dropout baselines
``mcd``, ``mcd_soft``, ``mcd_mtl``, ``ae_mcd`` (pre-trained like the VAE-ER),
the STL regressor whose predictions the reject option filters, and the
ablations of Table III: (A) no distributional constraint (an AE bottleneck,
its own pre-training), (B) no soft labels, (C) one latent sample at inference
(the full model's checkpoint evaluated with ``--num_samples 1``). Every run is
``python -m seru.train`` / ``python -m seru.evaluate`` in its own workdir
(``benchmarks/_runs.py``): an interrupted benchmark resumes where it stopped,
finished runs (their ``eval/<split>/metrics.json``) are skipped.

Two reject-option protocols, both reported:

* ``stl`` (the paper's, Sec. V-B / Tables I, III): the STL regressor's
  predictions filtered by each method's uncertainty
  (:func:`seru.systems.sridhar21.paired_reject_option`), same seed;
* ``own``: each method's consensus prediction filtered by its own uncertainty
  (``ccc_cov*`` of its ``metrics.json``).

CCC at 100 / 80 / 60 / 40 / 20 % coverage, mean +- std over seeds, and
one-tailed t-tests (:func:`seru.stats.ttest_one_tailed`, over seeds) of
"vae_er has the higher CCC" against each MCD variant at each coverage
(the paper: over 10 trials, significant at p <= 0.05).

    python benchmarks/reproduce_sridhar21.py --seeds 0 1 2 \\
        --workroot runs/reproduce_sridhar21 --split test
    python benchmarks/reproduce_sridhar21.py --quick     # tiny corpus, 1 epoch per stage

The default is the ``cpu`` protocol of ``configs/sridhar21_vae.py`` (the
quickstart variant, librosa functionals, 30 + 60 epochs); ``--protocol
paper`` is the paper's (needs a real corpus via ``--corpus``). Prints one
JSON object (runs, tables, tests) and writes ``results.json``,
``results.md`` and ``reject_curves_<dim>_<protocol>.png`` (Fig. 3: one curve
per method) to ``WORKROOT/``.

Measured (2 shared CPU cores, another job running): ``--quick --seeds 0 1 2``
(arousal; 11 trainings + 1 evaluation per seed) 695 s end to end, building the
tiny corpus and its features included; a re-run with everything done takes
~6 s (all runs skipped). Its numbers (1 epoch on 20 utterances) only show the
plumbing works. The default ``cpu`` protocol was not run with this benchmark
(configs/sridhar21_vae.py's docstring has the measured numbers of the same
runs made by hand: ~5-6 min per seed and attribute after a ~3.5 min feature
extraction).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _runs  # noqa: E402

METHODS = ("vae_er", "mcd", "mcd_soft", "mcd_mtl", "ae_mcd")
MCD = ("mcd", "mcd_soft", "mcd_mtl", "ae_mcd")
ABLATIONS = {  # Table III of sridhar21: name -> (label, config overrides of the joint run)
    "A": ("vae_er w/o distributional constraint (A)",
          ["--config.model.distributional_constraint=False"]),
    "B": ("vae_er w/o soft labels (B)", ["--config.model.use_soft_labels=False"]),
    "C": ("vae_er, one latent sample (C)", []),
}
LABELS = {"vae_er": "VAE-ER (proposed)", "mcd": "MCD", "mcd_soft": "MCD soft",
          "mcd_mtl": "MCD MTL", "ae_mcd": "AE-MCD", "stl": "STL (no reject)"}
COVERAGES = (100, 80, 60, 40, 20)
PRETRAINED = ("vae_er", "ae_mcd")


class Bench:
    def __init__(self, args, root: Path):
        self.args, self.root = args, root

    def config(self, method: str, dim: str, stage: str = "joint") -> str:
        a = self.args
        s = f"configs/sridhar21_vae.py:method={method},dim={dim},protocol={a.protocol}"
        if method in PRETRAINED:
            s += f",stage={stage}"
        if a.corpus:
            s += f",corpus={a.corpus}"
        if a.variant:
            s += f",variant={a.variant}"
        return s

    def extra(self, seed: int) -> list[str]:
        a = self.args
        out = [f"--config.seed={seed}", "--config.train.progress_bar=False",
               "--config.eval.splits=()", "--config.data.features.progress=False"]
        return out + [f"--config.{kv}" for kv in a.override]

    def pretrain(self, method: str, dim: str, seed: int, tag: str = "",
                 extra: list[str] = ()) -> Path:
        wd = self.root / dim / f"{method}{tag}_pretrain_seed{seed}"
        _runs.train(wd, self.config(method, dim, "pretrain"), self.extra(seed) + list(extra))
        return wd

    def joint(self, method: str, dim: str, seed: int, tag: str = "", extra: list[str] = (),
              init_from: Path | None = None) -> tuple[Path, dict]:
        wd = self.root / dim / f"{method}{tag}_seed{seed}"
        ex = self.extra(seed) + list(extra)
        if init_from is not None:
            ex.append(f"--config.model.init_from={init_from}")
        return wd, _runs.train_and_evaluate(wd, self.config(method, dim), ex, self.args.split)

    def method(self, method: str, dim: str, seed: int) -> tuple[Path, dict]:
        init = self.pretrain(method, dim, seed) if method in PRETRAINED else None
        return self.joint(method, dim, seed, init_from=init)

    def ablation(self, name: str, dim: str, seed: int, full_wd: Path) -> tuple[Path, dict]:
        _, over = ABLATIONS[name]
        if name == "A":  # an AE bottleneck: its own stage 1
            init = self.pretrain("vae_er", dim, seed, "_abl" + name, over)
            return self.joint("vae_er", dim, seed, "_abl" + name, over, init)
        if name == "B":  # same stage 1 as the full model
            return self.joint("vae_er", dim, seed, "_abl" + name, over,
                              self.root / dim / f"vae_er_pretrain_seed{seed}")
        # C: the full model's checkpoint, one latent sample at inference
        wd = self.root / dim / f"vae_er_abl{name}_seed{seed}"
        wd.mkdir(parents=True, exist_ok=True)
        shutil.copy(full_wd / "config.json", wd / "config.json")
        link = wd / "checkpoints"
        if not link.exists():
            os.symlink(os.path.relpath(full_wd / "checkpoints", wd), link)
        return wd, _runs.evaluate(wd, self.args.split, ["--num_samples", "1"])


def _paired_dirs(stl_dir: Path, unc_dir: Path) -> dict:
    """The paper's reject option: the STL predictions of ``stl_dir`` filtered by the
    uncertainty of ``unc_dir`` (two ``seru.evaluate`` output folders)."""
    from seru.systems.sridhar21 import paired_reject_option

    return paired_reject_option(stl_dir / "predictions.npz", unc_dir / "predictions.npz")


def _paired(stl_wd: Path, wd: Path, split: str) -> dict:
    """:func:`_paired_dirs` on two workdirs' ``eval/<split>/``."""
    return _paired_dirs(stl_wd / "eval" / split, wd / "eval" / split)


def curve_rows(results: dict[str, list[dict]]) -> dict:
    """``{name: {"ccc_cov<c>": summary over seeds}}``."""
    return {name: {f"ccc_cov{c}": _runs.summary([r.get(f"ccc_cov{c}") for r in runs])
                   for c in COVERAGES} for name, runs in results.items()}


def ttests(results: dict[str, list[dict]], ref: str = "vae_er", others=MCD,
           coverages=COVERAGES) -> dict:
    out = {}
    for other in others:
        if other not in results or ref not in results:
            continue
        for c in coverages:
            t = _runs.one_tailed([r.get(f"ccc_cov{c}") for r in results[ref]],
                                 [r.get(f"ccc_cov{c}") for r in results[other]])
            if t is not None:
                out[f"{ref}>{other}:ccc_cov{c}"] = t
    return out


def markdown_table(rows: dict, tt: dict, title: str, ref: str = "vae_er") -> list[str]:
    head = "| approach | " + " | ".join(f"{c} %" for c in COVERAGES) + " |"
    lines = [title, "", head, "|" + "---|" * (len(COVERAGES) + 1)]
    for name, r in rows.items():
        cells = []
        for c in COVERAGES:
            s = r[f"ccc_cov{c}"]
            cell = "-" if not s["values"] else f"{s['mean']:.3f} +- {s['std']:.3f}"
            # the paper's dagger: better than every compared method (p <= 0.05)
            if name == ref and s["values"]:
                ps = [v["p"] for k, v in tt.items() if k.endswith(f":ccc_cov{c}") and "p" in v]
                if ps and max(ps) <= 0.05:
                    cell += " †"
            cells.append(cell)
        lines.append(f"| {LABELS.get(name, name)} | " + " | ".join(cells) + " |")
    if tt:
        lines += ["", f"One-tailed t-tests over seeds ({ref} has the higher CCC than ...):", ""]
        lines += _runs.ttest_lines(tt)
    return lines + [""]


def utl(bench: Bench, args, report: dict, t0: float) -> list[str]:
    """sridhar21 Sec. V-C (Table II, Fig. 4): valence predictions of the STL regressor
    filtered by the VAE-ER uncertainty of valence itself, of arousal and of dominance
    (each attribute's own model, same seed). Trains what is missing."""
    res: dict[str, list[dict]] = {}
    for seed in args.seeds:
        print(f"[{time.time() - t0:7.0f} s] UTL seed {seed}", file=sys.stderr, flush=True)
        stl_wd, _ = bench.method("stl", "valence", seed)
        for dim in ("valence", "arousal", "dominance"):
            wd, _ = bench.method("vae_er", dim, seed)
            res.setdefault(dim, []).append(_paired(stl_wd, wd, args.split))
    rows = curve_rows(res)
    # Table II's question: does ordering by arousal / dominance uncertainty beat valence's own?
    tt = {}
    for other in ("arousal", "dominance"):
        for c in COVERAGES[1:]:
            t = _runs.one_tailed([r.get(f"ccc_cov{c}") for r in res[other]],
                                 [r.get(f"ccc_cov{c}") for r in res["valence"]])
            if t is not None:
                tt[f"{other}>valence:ccc_cov{c}"] = t
    report["utl"] = {"table": rows, "ttests": tt, "runs": res}
    labels = {d: f"valence STL, ordered by {d} VAE-ER uncertainty" for d in res}
    lines = ["### UTL: valence CCC at coverage (cf. sridhar21 Table II)", "",
             "| ordering | " + " | ".join(f"{c} %" for c in COVERAGES) + " |",
             "|" + "---|" * (len(COVERAGES) + 1)]
    for d, r in rows.items():
        cells = [f"{r[f'ccc_cov{c}']['mean']:.3f} +- {r[f'ccc_cov{c}']['std']:.3f}"
                 if r[f"ccc_cov{c}"]["values"] else "-" for c in COVERAGES]
        lines.append(f"| {labels[d]} | " + " | ".join(cells) + " |")
    lines += ["", "One-tailed t-tests over seeds (ordering by another attribute's uncertainty "
                  "gives the higher valence CCC than ordering by valence's own):", ""]
    lines += _runs.ttest_lines(tt)
    return lines + [""]


def main():
    ap = _runs.arg_parser(__doc__, "")  # '' = runs/reproduce_sridhar21[_quick]
    ap.add_argument("--dims", nargs="+", default=["arousal"],
                    choices=("arousal", "valence", "dominance"))
    ap.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    ap.add_argument("--ablations", nargs="*", default=list(ABLATIONS), choices=list(ABLATIONS))
    ap.add_argument("--split", default="test")
    ap.add_argument("--corpus", default="", help="utterance corpus (default: the config's)")
    ap.add_argument("--variant", default="", help="corpus variant (default: the config's)")
    ap.add_argument("--utl", action="store_true",
                    help="uncertainty transfer learning (Table II / Fig. 4): the valence STL "
                         "filtered by the valence, arousal and dominance VAE-ER uncertainty")
    ap.add_argument("--cross_variant", default="crosscorpus",
                    help="cross-corpus test: evaluate every trained model on this variant of "
                         "--cross_corpus ('' = skip)")
    ap.add_argument("--cross_corpus", default="seru_synth_utterances")
    ap.add_argument("--quick", action="store_true",
                    help="smoke run: the tiny corpus variant, 1 epoch per stage, batch 8")
    args = ap.parse_args()
    if args.quick:
        args.variant = args.variant or "tiny"
        args.override = ["train.num_epochs=1", "data.batch_size=8", "eval.batch_size=8",
                         "train.log_every_steps=1"] + args.override
    root = _runs.workroot(args.workroot or ("runs/reproduce_sridhar21"
                                            + ("_quick" if args.quick else "")))
    bench = Bench(args, root)
    t0 = time.time()
    report = {"benchmark": "reproduce_sridhar21", "protocol": args.protocol,
              "quick": args.quick, "split": args.split, "seeds": args.seeds,
              "corpus": args.corpus or "(config default)",
              "variant": args.variant or "(config default)", "overrides": args.override,
              "dims": {}}
    md = []
    for dim in args.dims:
        own, stl_proto, abl_own, abl_stl = {}, {}, {}, {}
        x_own, x_stl = {}, {}  # cross-corpus
        wds = {}
        for seed in args.seeds:
            def log(what):
                print(f"[{time.time() - t0:7.0f} s] {dim} {what} seed {seed}", file=sys.stderr,
                      flush=True)

            log("stl")
            stl_wd, stl_m = bench.method("stl", dim, seed)
            own.setdefault("stl", []).append({"ccc_cov100": stl_m["ccc"]})
            stl_proto.setdefault("stl", []).append({"ccc_cov100": stl_m["ccc"]})
            for m in args.methods:
                log(m)
                wd, metrics = bench.method(m, dim, seed)
                wds[(m, seed)] = wd
                own.setdefault(m, []).append(metrics)
                stl_proto.setdefault(m, []).append(_paired(stl_wd, wd, args.split))
            if args.cross_variant:
                log(f"cross-corpus ({args.cross_corpus}/{args.cross_variant})")
                cc, cv = args.cross_corpus, args.cross_variant
                x_stl_dir, x_stl_m = _runs.evaluate_cross(stl_wd, cc, cv, args.split)
                x_own.setdefault("stl", []).append({"ccc_cov100": x_stl_m["ccc"]})
                x_stl.setdefault("stl", []).append({"ccc_cov100": x_stl_m["ccc"]})
                for m in args.methods:
                    x_dir, x_m = _runs.evaluate_cross(wds[(m, seed)], cc, cv, args.split)
                    x_own.setdefault(m, []).append(x_m)
                    x_stl.setdefault(m, []).append(_paired_dirs(x_stl_dir, x_dir))
            for a in args.ablations:
                if ("vae_er", seed) not in wds:
                    raise SystemExit("the ablations need the vae_er method (--methods vae_er)")
                log(f"ablation {a}")
                wd, metrics = bench.ablation(a, dim, seed, wds[("vae_er", seed)])
                abl_own.setdefault(a, []).append(metrics)
                abl_stl.setdefault(a, []).append(_paired(stl_wd, wd, args.split))
        out = {}
        for proto, res, abl in (("stl", stl_proto, abl_stl), ("own", own, abl_own)):
            # paper protocol: at 100 % every method scores the same STL predictions
            covs = COVERAGES[1:] if proto == "stl" else COVERAGES
            rows, tt = curve_rows(res), ttests(res, coverages=covs)
            abl_res = {"vae_er": res.get("vae_er", [])}
            abl_res.update({ABLATIONS[a][0]: v for a, v in abl.items()})
            abl_rows = curve_rows(abl_res) if abl else {}
            abl_tt = (ttests(abl_res, others=[ABLATIONS[a][0] for a in abl], coverages=covs)
                      if abl else {})
            out[proto] = {"table": rows, "ttests": tt, "ablations": abl_rows,
                          "ablation_ttests": abl_tt, "runs": res}
            what = ("STL predictions filtered by each method's uncertainty (paper protocol)"
                    if proto == "stl" else "each method's prediction filtered by its own "
                                           "uncertainty")
            md += markdown_table(rows, tt, f"### {dim}: CCC at coverage, {what} "
                                           f"(cf. sridhar21 Table I)")
            if abl_rows:
                md += markdown_table(abl_rows, abl_tt, f"### {dim}: ablations, {what} "
                                                       f"(cf. sridhar21 Table III)")
            from seru import plots

            curves = {LABELS.get(m, m): [(c / 100, rows[m][f"ccc_cov{c}"]["mean"])
                                         for c in COVERAGES]
                      for m in args.methods if m in rows}
            fig = root / f"reject_curves_{dim}_{proto}.png"
            short = ("STL predictions, each method's uncertainty" if proto == "stl"
                     else "each method's own prediction and uncertainty")
            plots.plot_reject_curves(curves, fig, title=f"{dim}: {short}")
            out[proto]["figure"] = str(fig)
        if x_own:
            where = f"{args.cross_corpus}/{args.cross_variant}"
            out["cross"] = {"corpus": args.cross_corpus, "variant": args.cross_variant}
            for proto, res in (("stl", x_stl), ("own", x_own)):
                covs = COVERAGES[1:] if proto == "stl" else COVERAGES
                rows, tt = curve_rows(res), ttests(res, coverages=covs)
                out["cross"][proto] = {"table": rows, "ttests": tt, "runs": res}
                what = ("STL predictions filtered by each method's uncertainty"
                        if proto == "stl" else "each method's own prediction and uncertainty")
                md += markdown_table(rows, tt, f"### {dim}: CROSS-CORPUS, trained on the "
                                               f"config's corpus, tested on {where}: {what}")
        report["dims"][dim] = out
    if args.utl:
        md += utl(bench, args, report, t0)
    report["wall_s"] = time.time() - t0
    head = (f"# sridhar21 on {report['corpus']} / {report['variant']} ({args.protocol} "
            f"protocol{', QUICK smoke run' if args.quick else ''}), {args.split} split, seeds "
            f"{args.seeds}; mean +- std over seeds; † = vae_er better than every compared "
            f"method (one-tailed t-test, p <= 0.05)\n\n")
    (root / "results.json").write_text(json.dumps(report, indent=2))
    (root / "results.md").write_text(head + "\n".join(md))
    print(head + "\n".join(md))
    print(json.dumps(report))


if __name__ == "__main__":
    main()
