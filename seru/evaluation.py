"""The evaluation job: ``python -m seru.evaluate``.

``evaluate_checkpoint(workdir, split, ...)`` loads a checkpoint, runs the
system's vectorised Monte Carlo prediction segment by segment (sharded over
every device), reassembles whole items, post-processes them (what the system
fits is fitted on ``data.dev_split`` and applied to every split), runs the
evaluators that ``config.eval.evaluators`` names (``seru/evaluators.py``) and
writes ``metrics.json``, ``predictions.npz`` and the figures under
``workdir/eval/<split>/``. The training loop's periodic evaluation calls the
same :func:`evaluate_split`. Nothing here knows a system's key names: the
keys come from ``system.outputs`` (``seru/systems/base.py``).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Mapping

import jax
import numpy as np
from jax.sharding import Mesh

from seru import config as config_lib
from seru import evaluators, prediction_files, sharding
from seru.evaluators import pool, sample_keys
from seru.checkpoints import Checkpoints


# =============================================================================
# Prediction of a split
# =============================================================================


def release_freed_memory() -> None:
    """Returns the C heap's freed pages to the operating system (glibc ``malloc_trim``;
    nothing elsewhere). XLA's compiler frees most of what it allocates, but glibc keeps
    the pages, so without this the first evaluation's buffers stack on top of them
    (peak RSS of the evaluation job's prediction of a 300 s prabhu22 recording at
    n = 30: 516-523 MB without, 440-456 MB with, three runs each;
    ``benchmarks/vs_authors.py --sections rss``). No kept library wraps this call."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        trim = getattr(libc, "malloc_trim", None)
    except OSError:
        trim = None
    if trim is not None:
        trim(0)


class PredictFn:
    """``(params, batch, rng) -> outputs``: the system's MC prediction, compiled ahead of
    time once per input signature (shapes, dtypes, shardings) by ``jax.jit(...).lower(...)
    .compile()``, with :func:`release_freed_memory` after each compilation. The outputs
    are replicated over ``mesh``."""

    def __init__(self, system, num_samples: int, mesh: Mesh):
        self._jit = jax.jit(lambda p, b, r: system.predict(p, b, r, num_samples),
                            out_shardings=sharding.replicated(mesh))
        self._compiled: dict = {}

    @staticmethod
    def _signature(args):
        leaves, tree = jax.tree_util.tree_flatten(args)
        return tree, tuple((np.shape(x), getattr(x, "dtype", type(x)),
                            getattr(x, "sharding", None)) for x in leaves)

    def __call__(self, params, batch, rng):
        key = self._signature((params, batch, rng))
        fn = self._compiled.get(key)
        if fn is None:
            fn = self._compiled[key] = self._jit.lower(params, batch, rng).compile()
            release_freed_memory()
        return fn(params, batch, rng)

    def _cache_size(self) -> int:
        """How many signatures have been compiled."""
        return len(self._compiled)


def make_predict_fn(system, num_samples: int, mesh: Mesh) -> PredictFn:
    """The system's MC prediction at ``num_samples`` passes (:class:`PredictFn`)."""
    return PredictFn(system, num_samples, mesh)


def predict_split(system, params, dataset, split: str, rng, num_samples: int, mesh: Mesh,
                  predict_fn=None) -> dict[str, dict[str, np.ndarray]]:
    """Per-item raw predictions of ``split``: MC ``predict`` batch by batch, reassembled
    (``seru.data.pipeline.reassemble``); batch ``i`` uses ``fold_in(rng, i)``."""
    from seru.data import pipeline

    data_sh = sharding.data_sharding(mesh)
    if predict_fn is None:
        predict_fn = make_predict_fn(system, num_samples, mesh)
    outs, metas = [], []
    with jax.set_mesh(mesh):  # a "passes" axis of the mesh shards the MC passes (seru.mc)
        for i, (batch, meta) in enumerate(dataset.eval_iter(split)):
            outs.append(predict_fn(params, sharding.to_global(batch, data_sh),
                                   jax.random.fold_in(rng, i)))
            metas.append(meta)
    # One device->host copy after the loop: dispatch of the next batch never waits for the
    # previous one's transfer.
    outs = jax.device_get(outs)
    return pipeline.reassemble(outs, metas, time_axis=1 if dataset.framewise else None,
                               sample_keys=sample_keys(system))


# =============================================================================
# Scoring
# =============================================================================


def postprocess(system, raw: Mapping, fitted: Mapping) -> dict[str, dict[str, np.ndarray]]:
    """Every item post-processed (``system.postprocess``); the declared mean and spread keys
    keep their raw values as ``<key>_raw``."""
    out = {}
    for rid, r in raw.items():
        p = {k: np.asarray(v) for k, v in r.items()}
        q = dict(system.postprocess(p, fitted))
        for o in system.outputs:
            for key in o.keys:
                if key in p:
                    q[key + "_raw"] = p[key]
        out[rid] = q
    return out


def score(system, raw: Mapping, targets: Mapping, fitted: Mapping | None = None):
    """``(metrics, predictions)``: post-processed per item, pooled over the valid rows and
    scored by ``system.evaluate`` (a flat dict of floats)."""
    preds = postprocess(system, raw, fitted or {})
    pooled_p, pooled_t = pool(system, preds, targets)
    metrics = {k: float(v) for k, v in system.evaluate(pooled_p, pooled_t).items()}
    return metrics, preds


def evaluate_split(system, params, dataset, split: str, rng, num_samples: int, mesh: Mesh,
                   fitted: Mapping | None = None, predict_fn=None):
    """``(metrics, per-item predictions, per-item targets)`` of ``split``."""
    raw = predict_split(system, params, dataset, split, rng, num_samples, mesh, predict_fn)
    targets = dataset.targets(split)
    metrics, preds = score(system, raw, targets, fitted)
    return metrics, preds, targets


def format_table(metrics: Mapping[str, float], title: str = "") -> str:
    """The metrics as an aligned two-column text table under ``title``."""
    width = max([len(k) for k in metrics] + [6])
    lines = [title] if title else []
    lines += [f"  {k:<{width}}  {v: .4f}" for k, v in metrics.items()]
    return "\n".join(lines)


# =============================================================================
# The evaluation job
# =============================================================================


def restore_params(workdir, config, system, dataset, checkpoint: str = "best", mesh=None):
    """``(params, step)`` of the ``checkpoint`` (best | latest | best_train_loss | best_dev),
    replicated over ``mesh`` (default: every device on one ``"data"`` axis)."""
    kind = config_lib.checkpoint_kind(config, checkpoint)
    mesh = mesh or sharding.make_mesh()
    example = sharding.to_global(dataset.example_batch(), sharding.data_sharding(mesh))
    abstract = sharding.abstract_state(system, sharding.make_optimizer(config.optimizer),
                                       example, mesh)
    ckpts = Checkpoints(Path(workdir) / "checkpoints")
    try:
        state, _ = ckpts.restore(kind, abstract)
    finally:
        ckpts.close()
    return state["params"], int(state["step"])


def eval_rng(config, seed: int | None = None):
    """The PRNG key of the MC passes at evaluation (the third split of ``key(seed)``, as
    the training loop's periodic evaluation uses)."""
    return jax.random.split(jax.random.key(config.seed if seed is None else seed), 3)[2]


def postprocess_path(workdir, kind: str, step: int) -> Path:
    """Where the post-processing fitted for checkpoint ``kind`` at ``step`` is kept."""
    return Path(workdir) / "eval" / f"postprocess_{kind}_{step}.json"


def fit_postprocess(system, dev, path: Path):
    """Fits the system's post-processing on the training corpus' dev split once per
    checkpoint, kept in ``path`` (:func:`postprocess_path`); ``dev(what)`` gives ``(split,
    dataset, raw predictions)`` of that split (:func:`dev_predictions`). ``{}`` when the
    system fits nothing."""
    if not system.postprocess_needs_fit:
        return {}
    if path.exists():
        return json.loads(path.read_text())
    split, ds, raw = dev("the system's post-processing")
    fitted = system.fit_postprocess(raw, ds.targets(split))
    _keep(path, {"fitted_on": split, **fitted})
    return fitted


def dev_predictions(system, params, config, dataset_for, rng, num_samples, mesh,
                    made: Mapping | None = None):
    """``dev(what) -> (split, dataset, raw predictions)`` of ``config.data.dev_split``,
    predicted at the first call and kept for the next (the post-processing and the
    conformal thresholds are fitted on the same predictions). ``dataset_for(split)``
    gives the dataset; ``made``: ``{split: raw}`` already predicted (the split being
    evaluated). ``ConfigError`` naming ``what`` when the run has no dev split."""
    kept = []

    def dev(what: str):
        if not kept:
            split = config.data.dev_split
            if not split:
                raise config_lib.ConfigError(f"data.dev_split: {what} is fitted on dev; set "
                                             f"data.dev_split")
            ds = dataset_for(split)
            raw = (made or {}).get(split)
            if raw is None:
                raw = predict_split(system, params, ds, split, rng, num_samples, mesh)
            kept.append((split, ds, raw))
        return kept[0]

    return dev


def _keep(path: Path, fitted: Mapping) -> None:
    """Writes what was fitted on dev to ``path`` (JSON), on process 0 only."""
    if jax.process_index() == 0:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(fitted, indent=2) + "\n")


def conformal_path(workdir, kind: str, step: int) -> Path:
    """Where the conformal thresholds fitted for checkpoint ``kind`` at ``step`` are kept."""
    return Path(workdir) / "eval" / f"conformal_{kind}_{step}.json"


def fit_conformal(system, config, dev, num_samples: int, path: Path, fitted: Mapping) -> dict:
    """The conformal thresholds of the checkpoint (``seru.conformal_eval.fit``), fitted on
    the dev split that ``dev`` gives (:func:`dev_predictions`), post-processed with
    ``fitted``, at ``config.eval.conformal_alpha``, and kept in ``path``
    (:func:`conformal_path`) with the unit and set kind the predictions use; refitted
    when the kept ones were fitted with another alpha, seed, number of MC passes,
    unit or set kind. Raises ``ConfigError`` without a dev split."""
    from seru import conformal_eval

    alpha = float(config.eval.conformal_alpha)
    key = {"alpha": alpha, "seed": int(config.seed), "num_samples": int(num_samples),
           "unit": config.eval.conformal_unit, "mondrian": bool(config.eval.conformal_mondrian)}
    if path.exists():
        kept = json.loads(path.read_text())
        if all(kept.get(k) == v for k, v in key.items()):
            return kept
    split, ds, raw = dev("eval.conformal (the thresholds)")
    pooled = pool(system, postprocess(system, raw, fitted), ds.targets(split))
    result = {"fitted_on": split, **key,
              **conformal_eval.fit(system, pooled, alpha, ds.framewise, seed=int(config.seed))}
    _keep(path, result)
    return result


def evaluate_checkpoint(workdir: str | Path, split: str = "dev", num_samples: int | None = None,
                        checkpoint: str = "best", *, dataset=None, system=None,
                        seed: int | None = None, verbose: bool = True,
                        corpus: str | None = None, variant: str | None = None,
                        pass_shards: int | None = None, conformal: bool | None = None,
                        conformal_alpha: float | None = None,
                        conformal_unit: str | None = None) -> dict:
    """Evaluates a checkpoint of ``workdir`` on ``split``; returns the metrics.

    Writes ``workdir/eval/<split>/metrics.json`` (run info + ``metrics``),
    ``predictions.npz`` (``<id>/<key>``, ``<id>/target_<key>``) and what the
    evaluators write. ``corpus`` / ``variant`` evaluate another corpus or
    variant as the training run expects its input (cross-corpus evaluation,
    ``InputType.other_corpus``); the results then go to
    ``workdir/eval/<corpus>-<variant>/<split>/``. ``pass_shards`` (default
    ``config.eval.pass_shards``): the MC passes are split over that many devices,
    the items over the others (same metrics). ``conformal`` (default
    ``config.eval.conformal``): fit the split-conformal thresholds on dev
    (:func:`fit_conformal`), add each item's interval / set to the predictions and
    run the ``conformal`` evaluator (``seru/conformal_eval.py``) at miscoverage
    ``conformal_alpha`` and unit ``conformal_unit`` (defaults: ``config.eval``). Raises
    ``FileNotFoundError``
    for a workdir without a config or checkpoint, :class:`seru.config.ConfigError`
    for a bad ``checkpoint`` name, a split the corpus does not have or a
    ``pass_shards`` that does not divide the device count.
    """
    from seru.data import inputs

    workdir = Path(workdir)
    config = config_lib.load(workdir)
    if conformal_alpha is not None:
        if not 0 < conformal_alpha < 1:
            raise config_lib.ConfigError(f"--conformal_alpha={conformal_alpha}: expected a "
                                         f"miscoverage in (0, 1)")
        config.eval.conformal_alpha = float(conformal_alpha)
    if conformal_unit is not None:
        if conformal_unit not in ("recording", "frame"):
            raise config_lib.ConfigError(f"--conformal_unit={conformal_unit!r}: expected "
                                         f"'recording' or 'frame'")
        config.eval.conformal_unit = conformal_unit
    num_samples = num_samples or config.eval.num_samples
    kind = config_lib.checkpoint_kind(config, checkpoint)
    pass_shards = pass_shards or config.eval.pass_shards
    try:
        mesh = sharding.make_mesh(pass_shards)
    except ValueError as e:
        raise config_lib.ConfigError(f"eval.pass_shards: {e}") from None
    pi, pc = jax.process_index(), jax.process_count()
    itype = inputs.get(config.data.input)
    cross = (corpus not in (None, config.data.corpus)
             or variant not in (None, config.data.variant))
    outdir = workdir / "eval" / split
    if cross:
        corpus = corpus or config.data.corpus
        variant = config.data.variant if variant is None else variant
        outdir = workdir / "eval" / f"{corpus}-{variant or 'default'}" / split

    def home(s):  # a split of the training corpus
        return itype.build(config, [x for x in (config.data.train_split, s) if x], pi, pc)

    if dataset is None:
        from seru.data.errors import UnknownSplit

        try:
            dataset = (itype.other_corpus(config, corpus, variant, split, pi, pc) if cross
                       else home(split))
        except UnknownSplit as e:
            raise config_lib.ConfigError(f"--split={split!r}: {e}") from None
    if system is None:
        system = config_lib.get_system(config, dataset.time_base)
    rng = eval_rng(config, seed)
    params, step = restore_params(workdir, config, system, dataset, checkpoint, mesh)
    t0 = time.time()
    raw = predict_split(system, params, dataset, split, rng, num_samples, mesh)
    # Fitted on the training corpus' dev split, whatever is evaluated, from one prediction
    # of it (dev itself: its predictions are not made twice).
    dev = dev_predictions(
        system, params, config, lambda s: dataset if (not cross and s in dataset.splits)
        else home(s), rng, num_samples, mesh, made=None if cross else {split: raw})
    fitted = fit_postprocess(system, dev, postprocess_path(workdir, kind, step))
    targets = dataset.targets(split)
    preds = postprocess(system, raw, fitted)
    conformal = config.eval.conformal if conformal is None else conformal
    thresholds = None
    if conformal:
        from seru import conformal_eval

        thresholds = fit_conformal(system, config, dev, num_samples,
                                   conformal_path(workdir, kind, step), fitted)
        preds = {rid: conformal_eval.apply(system, thresholds, p) for rid, p in preds.items()}
        if verbose and jax.process_index() == 0:
            for note in conformal_eval.notes(thresholds):
                print(note)
    info = {"split": split, "checkpoint": kind, "step": step, "num_samples": num_samples,
            "postprocess": {**system.postprocess_info(), **fitted}, "num_items": len(targets),
            "num_frames": int(sum(np.asarray(t["mask"]).size for t in targets.values())),
            "outputs": [{"kind": type(o).__name__, **vars(o)} for o in system.outputs],
            "devices": jax.device_count(), "processes": jax.process_count(),
            "pass_shards": pass_shards}
    split_info = getattr(dataset, "split_info", {}).get(split)
    if split_info:  # what the input made of this split (e.g. the noise of a noisy copy)
        info["input"] = split_info
    if cross:
        info.update(corpus=corpus, variant=variant, train_corpus=config.data.corpus,
                    train_variant=config.data.variant,
                    input_statistics_from=f"{config.data.corpus}/{config.data.variant}/"
                                          f"{config.data.train_split}")
    names = list(config.eval.evaluators)
    if thresholds is not None:
        info["conformal"] = {**{k: thresholds[k] for k in ("alpha", "fitted_on", "unit",
                                                             "mondrian")},
                             "thresholds": str(conformal_path(workdir, kind, step)),
                             "exchangeable": not cross}
        names += [] if "conformal" in names else ["conformal"]
    ctx = evaluators.Context(system=system, config=config, preds=preds, targets=targets,
                             outdir=outdir, info=info, write=jax.process_index() == 0,
                             conformal=thresholds)
    metrics = evaluators.run(names, ctx)
    info["seconds"] = time.time() - t0
    if ctx.write:
        write_eval(outdir, metrics, preds, targets, info)
        if verbose:
            print(format_table(metrics, f"{split} ({kind} checkpoint, step {step}, "
                                        f"n = {num_samples}, {len(targets)} items)"))
    return metrics


def write_eval(outdir: Path, metrics: Mapping, preds: Mapping, targets: Mapping,
               info=None) -> None:
    """``metrics.json`` (``info`` + ``metrics``) and ``predictions.npz`` (keys
    ``<id>/<array>`` and ``<id>/target_<array>``) in ``outdir``."""
    outdir.mkdir(parents=True, exist_ok=True)
    (outdir / "metrics.json").write_text(json.dumps(
        {**(info or {}), "metrics": dict(metrics)}, indent=2) + "\n")
    prediction_files.write(outdir / "predictions.npz", preds, targets)
