"""The training loop and the evaluation job of seru (DESIGN.md principles 6 and 7).

``train_and_evaluate(config, workdir)`` is the whole job: validate the config,
build the dataset (``seru/data/pipeline.py``) and the system
(``seru/systems/``), then a jitted, donated train step over a data-parallel
``Mesh`` (batch sharded over ``"data"``, parameters replicated), Orbax
checkpoints with automatic resume, JSON-lines metrics, periodic dev
evaluation and model selection by the mean training loss of an epoch (as
prabhu22 Sec. 4.3 does) and on dev.

``evaluate_checkpoint(workdir, split, ...)`` is ``python -m seru.evaluate``:
load a checkpoint, vectorised MC prediction segment by segment, reassembly
per recording, median filtering, every metric of the system, then
``metrics.json``, ``predictions.npz`` and the figures under ``workdir/eval/<split>/``.
The training loop's periodic evaluation calls the same :func:`evaluate_split`.
"""

from __future__ import annotations

import importlib
import importlib.util
import itertools
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any, Mapping

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

from seru.checkpoints import Checkpoints

OPTIMIZERS = ("adam", "adamw", "sgd")
CHECKPOINT_CHOICES = ("best", "latest", "best_train_loss", "best_dev")


# =============================================================================
# Config validation: every error before any compute
# =============================================================================


class ConfigError(ValueError):
    """A config that cannot run; the message says what to fix."""


def common_defaults() -> ml_collections.ConfigDict | None:
    path = Path(__file__).resolve().parents[1] / "configs" / "common.py"
    if not path.exists():
        return None
    spec = importlib.util.spec_from_file_location("_seru_configs_common", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.get_config()


def _unknown_fields(cfg, ref, prefix="") -> list[str]:
    out = []
    for key in cfg.keys():
        name = f"{prefix}{key}"
        if key not in ref:
            out.append(name)
        elif isinstance(ref[key], ml_collections.ConfigDict) and isinstance(
                cfg[key], ml_collections.ConfigDict) and len(ref[key]):
            out += _unknown_fields(cfg[key], ref[key], name + ".")
    return out


def _system_module(name: str):
    from seru import systems

    target = name if ":" in name else systems.SYSTEMS.get(name)
    if target is None:
        raise ConfigError(f"config.system={name!r} is not a known system; known: "
                          f"{', '.join(sorted(systems.SYSTEMS))} (or 'module:Class')")
    module, cls = target.split(":")
    return importlib.import_module(module), cls


def get_system(config):
    """The system object of ``config.system`` (a registered name or ``module:Class``)."""
    module, cls = _system_module(config.system)
    return getattr(module, cls)(config)


def validate(config, check_corpus: bool = True) -> None:
    """Raises :class:`ConfigError` naming the field and the fix, before any compute.

    Checks unknown fields (against ``configs/common.py`` and the system's
    ``default_model_config()``), value ranges and choices, batch sizes against
    the device count, and (``check_corpus``) that the corpus and variant exist,
    are built or may be built, and that a manual corpus has its ``manual_dir``.
    """
    errors = []
    ref = common_defaults()
    if ref is not None:
        extra = [f for f in _unknown_fields(config, ref) if not f.startswith("model.")]
        errors += [f"unknown config field {f!r} (see configs/common.py)" for f in extra]
    try:
        module, _ = _system_module(config.system)
        if hasattr(module, "default_model_config"):
            mref = module.default_model_config()
            errors += [f"unknown config field 'model.{f}' for system {config.system!r} "
                       f"(fields: {', '.join(sorted(mref.keys()))})"
                       for f in _unknown_fields(config.model, mref)]
        if hasattr(module, "validate_model_config"):
            try:
                module.validate_model_config(config.model)
            except ValueError as e:
                errors.append(f"config.model: {e}")
    except ConfigError as e:
        errors.append(str(e))
    if errors:
        raise ConfigError("; ".join(errors))

    from seru.data import pipeline

    d, t, e, o = config.data, config.train, config.eval, config.optimizer

    def need(cond, msg):
        if not cond:
            errors.append(msg)

    need(d.input in pipeline.INPUTS, f"data.input={d.input!r}: use one of {pipeline.INPUTS}")
    need(d.audio_norm in pipeline.AUDIO_NORMS,
         f"data.audio_norm={d.audio_norm!r}: use one of {pipeline.AUDIO_NORMS}")
    need(d.gold in pipeline.GOLD_STANDARDS,
         f"data.gold={d.gold!r}: use one of {pipeline.GOLD_STANDARDS}")
    need(len(d.dimensions) > 0 and all(isinstance(x, str) for x in d.dimensions),
         f"data.dimensions={d.dimensions!r}: give a tuple of rating dimension names")
    need(d.delay_frames >= 0, f"data.delay_frames={d.delay_frames}: must be >= 0")
    for name in ("seq_len", "batch_size", "eval_seq_len"):
        need(d[name] > 0, f"data.{name}={d[name]}: must be > 0")
    need(d.eval_context >= 0, f"data.eval_context={d.eval_context}: must be >= 0")
    need(d.max_recordings >= 0, f"data.max_recordings={d.max_recordings}: must be >= 0 (0 = all)")
    need(e.batch_size > 0, f"eval.batch_size={e.batch_size}: must be > 0")
    n_dev = jax.device_count()
    for name, b in (("data.batch_size", d.batch_size), ("eval.batch_size", e.batch_size)):
        need(b <= 0 or b % n_dev == 0,
             f"{name}={b} is not divisible by the {n_dev} devices: the batch is sharded "
             f"over them; set {name} to a multiple of {n_dev}")
    need(o.name in OPTIMIZERS, f"optimizer.name={o.name!r}: use one of {OPTIMIZERS}")
    need(o.learning_rate > 0, f"optimizer.learning_rate={o.learning_rate}: must be > 0")
    need(o.grad_clip_norm >= 0, f"optimizer.grad_clip_norm={o.grad_clip_norm}: must be >= 0")
    need(t.num_epochs > 0 or t.num_steps > 0,
         "train.num_epochs and train.num_steps are both 0: set one of them > 0")
    need(t.keep_checkpoints >= 1, f"train.keep_checkpoints={t.keep_checkpoints}: must be >= 1")
    need(t.log_every_steps >= 1, f"train.log_every_steps={t.log_every_steps}: must be >= 1")
    need(t.checkpoint_every_steps >= 1,
         f"train.checkpoint_every_steps={t.checkpoint_every_steps}: must be >= 1")
    need(t.select_by == "train_loss" or (t.select_by.startswith("dev:") and len(t.select_by) > 4),
         f"train.select_by={t.select_by!r}: use 'train_loss' or 'dev:<metric>' (e.g. dev:ccc_m)")
    need(t.select_mode in ("max", "min"), f"train.select_mode={t.select_mode!r}: 'max' or 'min'")
    if t.select_by.startswith("dev:"):
        need(t.eval_every_epochs > 0 and bool(d.dev_split),
             f"train.select_by={t.select_by!r} needs a dev evaluation: set "
             f"train.eval_every_epochs > 0 and data.dev_split")
    need(e.num_samples >= 1, f"eval.num_samples={e.num_samples}: must be >= 1")
    need(e.median_window >= 0, f"eval.median_window={e.median_window}: must be >= 0")
    need(bool(d.train_split), "data.train_split is empty")
    if t.tensorboard and importlib.util.find_spec("tensorboardX") is None:
        errors.append("train.tensorboard=True needs tensorboardX: pip install tensorboardX, "
                      "or set --config.train.tensorboard=False")
    if errors:
        raise ConfigError("; ".join(errors))
    if check_corpus:
        _check_corpus(config)


def _check_corpus(config) -> None:
    from seru.data import corpora

    d = config.data
    if d.corpus not in corpora.CORPORA:
        raise ConfigError(f"data.corpus={d.corpus!r} is not a known corpus; known: "
                          f"{', '.join(sorted(corpora.CORPORA))}")
    try:
        builder = corpora.get_builder(d.corpus, d.variant or None, d.data_dir or None,
                                      d.manual_dir or None)
    except ValueError as e:  # unknown variant
        raise ConfigError(f"data.variant: {e}") from None
    except ImportError as e:
        raise ConfigError(f"data.corpus={d.corpus!r}: its builder cannot be imported ({e})") from None
    if builder.is_prepared():
        return
    where = f"{d.corpus} (variant {d.variant or 'default'}) is not built in {builder.data_dir}"
    if not d.build:
        raise ConfigError(f"corpus {where}: build it with `python -m seru.data --corpus "
                          f"{d.corpus}` or set --config.data.build=True")
    if d.corpus in corpora.MANUAL:
        if not d.manual_dir:
            raise ConfigError(f"corpus {where} and is built from files you provide: set "
                              f"--config.data.manual_dir=DIR to your copy of the corpus")
        if not Path(d.manual_dir).is_dir():
            raise ConfigError(f"data.manual_dir={d.manual_dir!r} does not exist or is not a "
                              f"directory")


# =============================================================================
# Pieces of the loop
# =============================================================================


def make_mesh() -> Mesh:
    """All devices of all processes on one ``"data"`` axis."""
    return Mesh(np.asarray(jax.devices()), ("data",))


def make_optimizer(opt) -> optax.GradientTransformation:
    """optax optimizer of ``config.optimizer`` (prabhu22 Sec. 4.3: Adam, 1e-4)."""
    if opt.name == "adam":
        tx = optax.adam(opt.learning_rate)
    elif opt.name == "adamw":
        tx = optax.adamw(opt.learning_rate, weight_decay=opt.weight_decay)
    elif opt.name == "sgd":
        tx = optax.sgd(opt.learning_rate)
    else:
        raise ConfigError(f"optimizer.name={opt.name!r}: use one of {OPTIMIZERS}")
    if opt.grad_clip_norm > 0:
        tx = optax.chain(optax.clip_by_global_norm(opt.grad_clip_norm), tx)
    return tx


def to_global(batch: Mapping[str, np.ndarray], sharding: NamedSharding) -> dict:
    """A process-local numpy batch -> global jax arrays sharded over ``"data"``."""
    return {k: jax.make_array_from_process_local_data(sharding, np.asarray(v))
            for k, v in batch.items()}


def init_state(system, tx, rng, example_batch, replicated) -> dict:
    """The train state ``{step, params, opt_state}``, replicated over the mesh."""
    def init(rng, batch):
        params = system.init(rng, batch)
        return {"step": jnp.zeros((), jnp.int32), "params": params,
                "opt_state": tx.init(params)}

    return jax.jit(init, out_shardings=replicated)(rng, example_batch)


def make_train_step(system, tx, replicated):
    """The jitted update; the state argument is donated."""
    def step(state, batch, rng):
        (loss, terms), grads = jax.value_and_grad(system.loss, has_aux=True)(
            state["params"], batch, rng)
        updates, opt_state = tx.update(grads, state["opt_state"], state["params"])
        params = optax.apply_updates(state["params"], updates)
        metrics = {"loss": loss, **terms, "grad_norm": optax.global_norm(grads)}
        return {"step": state["step"] + 1, "params": params, "opt_state": opt_state}, metrics

    return jax.jit(step, donate_argnums=(0,), out_shardings=(replicated, replicated))


class MetricsWriter:
    """JSON lines in ``workdir/metrics.jsonl`` (+ TensorBoard via tensorboardX if asked)."""

    def __init__(self, workdir: Path, tensorboard: bool = False, active: bool = True,
                 resume_step: int | None = None):
        self.path = workdir / "metrics.jsonl"
        self.active = active
        self.tb = None
        if not active:
            return
        if resume_step is not None and self.path.exists():
            # Drop what was logged after the checkpoint we resume from.
            rows = [r for r in self.read(self.path) if r.get("step", 0) <= resume_step]
            self.path.write_text("".join(json.dumps(r) + "\n" for r in rows))
        if tensorboard:
            from tensorboardX import SummaryWriter

            self.tb = SummaryWriter(str(workdir / "tensorboard"))

    def write(self, step: int, kind: str, values: Mapping[str, Any]) -> None:
        if not self.active:
            return
        row = {"step": int(step), "kind": kind, "time": time.time(),
               **{k: _jsonable(v) for k, v in values.items()}}
        with self.path.open("a") as f:
            f.write(json.dumps(row) + "\n")
        if self.tb is not None:
            for k, v in values.items():
                if isinstance(v, (int, float)):
                    self.tb.add_scalar(f"{kind}/{k}", v, step)

    @staticmethod
    def read(path) -> list[dict]:
        return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]

    def close(self):
        if self.tb is not None:
            self.tb.close()


def _jsonable(v):
    v = np.asarray(v)
    if v.ndim == 0:
        x = v.item()
        return None if isinstance(x, float) and not math.isfinite(x) else x
    return v.tolist()


def _better(new: float, old: float | None, mode: str) -> bool:
    if new is None or not math.isfinite(new):
        return False
    return old is None or (new < old if mode == "min" else new > old)


# =============================================================================
# Evaluation (shared by the loop and `python -m seru.evaluate`)
# =============================================================================


def median_postprocess(x: np.ndarray, window: int) -> np.ndarray:
    """Median filter over time (axis 0) of one recording, prabhu22 Sec. 4.3 (b = 50 frames)."""
    if window is None or window <= 1:
        return x
    from seru.postprocess import median_filter

    return np.asarray(median_filter(jnp.asarray(x), window, axis=0), np.float32)


def predict_split(system, params, dataset, split: str, rng, num_samples: int, mesh: Mesh,
                  predict_fn=None) -> dict[str, dict[str, np.ndarray]]:
    """Per-recording raw predictions of ``split``: MC ``predict`` segment by segment, reassembled."""
    from seru.data import pipeline

    data_sh = NamedSharding(mesh, P("data"))
    if predict_fn is None:
        predict_fn = make_predict_fn(system, num_samples, mesh)
    outs, metas = [], []
    for i, (batch, meta) in enumerate(dataset.eval_iter(split)):
        outs.append(predict_fn(params, to_global(batch, data_sh), jax.random.fold_in(rng, i)))
        metas.append(meta)
    # One device->host copy after the loop: dispatch of the next segment never
    # waits for the previous one's transfer.
    outs = jax.device_get(outs)
    framewise = isinstance(dataset, pipeline.ContinuousDataset) or getattr(
        dataset, "framewise", False)
    return pipeline.reassemble(outs, metas, time_axis=1 if framewise else None)


def make_predict_fn(system, num_samples: int, mesh: Mesh):
    replicated = NamedSharding(mesh, P())
    return jax.jit(lambda p, b, r: system.predict(p, b, r, num_samples),
                   out_shardings=replicated)


def score(system, raw: Mapping[str, Mapping[str, np.ndarray]],
          targets: Mapping[str, Mapping[str, np.ndarray]], median_window: int):
    """Post-process per recording, keep the valid frames, and call ``system.evaluate``.

    Every prediction and target array whose first axis is the item's time
    axis (``samples``: its second axis) is restricted to the frames where
    ``targets[id]['mask'] > 0`` and concatenated over the items; the targets
    also get ``item``, the index (in ``targets``' order) of each row's item.

    Returns ``(metrics, predictions)`` where ``predictions[id]`` holds the
    post-processed ``m_hat`` / ``s_hat`` and the raw ``*_raw`` arrays.
    """
    preds, cat_p, cat_t = {}, {}, {}
    for index, rid in enumerate(targets):
        if rid not in raw:
            raise KeyError(f"no prediction for recording {rid!r}")
        p = {k: np.asarray(v) for k, v in raw[rid].items()}
        for key in ("m_hat", "s_hat"):
            if key in p:
                p[key + "_raw"] = p[key]
                p[key] = median_postprocess(p[key], median_window)
        preds[rid] = p
        valid = np.asarray(targets[rid]["mask"]) > 0
        n = valid.shape[0]
        for key, v in p.items():
            if key == "samples" and v.ndim >= 2 and v.shape[1] == n:
                cat_p.setdefault(key, []).append(v[:, valid])
            elif not key.endswith("_raw") and v.ndim >= 1 and v.shape[0] == n:
                cat_p.setdefault(key, []).append(v[valid])
        for key, v in targets[rid].items():
            v = np.asarray(v)
            if key != "mask" and v.ndim >= 1 and v.shape[0] == n:
                cat_t.setdefault(key, []).append(v[valid])
        # Which item each kept row came from (for per-recording metrics).
        cat_t.setdefault("item", []).append(np.full(int(valid.sum()), index, np.int64))
    predictions = {k: np.concatenate(v, axis=1 if k == "samples" else 0)
                   for k, v in cat_p.items()}
    tgt = {k: np.concatenate(v) for k, v in cat_t.items()}
    metrics = {k: float(v) for k, v in system.evaluate(predictions, tgt).items()}
    return metrics, preds


def evaluate_split(system, params, dataset, split: str, rng, num_samples: int, mesh: Mesh,
                   median_window: int, predict_fn=None):
    """``(metrics, per-recording predictions, per-recording targets)`` of ``split``."""
    raw = predict_split(system, params, dataset, split, rng, num_samples, mesh, predict_fn)
    targets = dataset.targets(split)
    metrics, preds = score(system, raw, targets, median_window)
    return metrics, preds, targets


def write_eval(outdir: Path, metrics: Mapping, preds: Mapping, targets: Mapping,
               dimensions, plot: bool = True, plot_recordings: int = 1, info=None) -> None:
    """``metrics.json``, ``predictions.npz`` (keys ``<id>/<array>``) and figures in ``outdir``.

    ``plot`` switches the per-recording and std-scatter figures; when the
    metrics hold a reject-option curve (``ccc_cov<percent>`` keys, sridhar21)
    ``reject_curve.png`` (CCC vs coverage) is written whatever ``plot`` says.
    """
    outdir.mkdir(parents=True, exist_ok=True)
    (outdir / "metrics.json").write_text(json.dumps(
        {**(info or {}), "metrics": dict(metrics)}, indent=2) + "\n")
    arrays = {}
    for rid, p in preds.items():
        for k, v in p.items():
            arrays[f"{rid}/{k}"] = np.asarray(v)
        for k, v in targets[rid].items():
            arrays[f"{rid}/target_{k}"] = np.asarray(v)
    np.savez_compressed(outdir / "predictions.npz", **arrays)
    from seru import plots

    if plot:
        for rid in list(preds)[:plot_recordings]:
            for d, dim in enumerate(dimensions):
                if "m_hat" in preds[rid] and "s_hat" in preds[rid]:
                    plots.plot_recording(targets[rid], preds[rid], d,
                                         outdir / f"recording_{rid}_{dim}.png",
                                         title=f"{rid}: {dim}")
        valid = {rid: np.asarray(targets[rid]["mask"]) > 0 for rid in preds}
        if all("s_hat" in p for p in preds.values()):
            for d, dim in enumerate(dimensions):
                s_hat = np.concatenate([preds[r]["s_hat"][valid[r], d] for r in preds])
                std = np.concatenate([targets[r]["std"][valid[r], d] for r in preds])
                plots.plot_std_scatter(s_hat, std, outdir / f"std_scatter_{dim}.png",
                                       title=f"predicted vs rater std: {dim}")
    curve = plots.reject_curve_points(metrics)
    if curve:  # the reject option (sridhar21 Fig. 3): a summary of metrics.json, always written
        split = (info or {}).get("split", outdir.name)
        plots.plot_reject_curves({"/".join(dimensions): curve}, outdir / "reject_curve.png",
                                 title=f"reject option: CCC vs coverage ({split})")


def format_table(metrics: Mapping[str, float], title: str = "") -> str:
    width = max([len(k) for k in metrics] + [6])
    lines = [title] if title else []
    lines += [f"  {k:<{width}}  {v: .4f}" for k, v in metrics.items()]
    return "\n".join(lines)


# =============================================================================
# The training job
# =============================================================================


def maybe_initialize_distributed(config) -> None:
    """``jax.distributed.initialize()`` once, before any device is touched (multi-host).

    Coordinator, process count and id come from the cluster (Slurm, TPU pods,
    or ``JAX_COORDINATOR_ADDRESS`` / ``JAX_NUM_PROCESSES`` / ``JAX_PROCESS_ID``).
    """
    if not config.train.distributed:
        return
    from jax._src import distributed

    if distributed.global_state.client is None:
        jax.distributed.initialize()


def save_config(config, workdir: Path) -> None:
    (workdir / "config.json").write_text(config.to_json_best_effort(indent=2) + "\n")


def load_config(workdir: str | Path) -> ml_collections.ConfigDict:
    path = Path(workdir) / "config.json"
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: is {workdir} a seru training workdir?")
    raw = json.loads(path.read_text())

    def conv(x):
        if isinstance(x, dict):
            return ml_collections.ConfigDict({k: conv(v) for k, v in x.items()})
        if isinstance(x, list):
            return tuple(conv(v) for v in x)
        return x

    # Fields added to configs/common.py after the run was made take their defaults.
    ref = common_defaults()
    if ref is not None:
        raw = _merge(json.loads(ref.to_json_best_effort()), raw)
    # Likewise fields added to the system's model defaults (e.g. a new model option).
    try:
        module, _ = _system_module(raw.get("system", ""))
    except ConfigError:
        module = None
    if module is not None and hasattr(module, "default_model_config") and "model" in raw:
        raw["model"] = _merge(json.loads(module.default_model_config().to_json_best_effort()),
                              raw["model"])
    return conv(raw)


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(base[k], v) if isinstance(v, dict) and isinstance(base.get(k), dict) else v
    return out


def train_and_evaluate(config, workdir: str | Path, *, dataset=None, system=None,
                       stop_after_steps: int | None = None) -> dict:
    """Trains ``config`` in ``workdir``, resuming from its latest checkpoint.

    ``dataset`` / ``system`` replace the ones built from the config (tests).
    ``stop_after_steps`` checkpoints and returns once that many steps are done
    (a simulated preemption). Returns ``{'state', 'step', 'stopped', 'loop'}`` (``loop``:
    the best values so far and the running epoch loss).
    """
    # --- setup ---------------------------------------------------------------
    maybe_initialize_distributed(config)
    validate(config, check_corpus=dataset is None)
    workdir = Path(workdir)
    is_main = jax.process_index() == 0
    workdir.mkdir(parents=True, exist_ok=True)
    if is_main:
        save_config(config, workdir)
    mesh = make_mesh()
    data_sh, repl = NamedSharding(mesh, P("data")), NamedSharding(mesh, P())
    if dataset is None:
        from seru.data import pipeline

        dataset = pipeline.build(config, jax.process_index(), jax.process_count())
    system = system if system is not None else get_system(config)
    tx = make_optimizer(config.optimizer)

    rng = jax.random.key(config.seed)
    init_rng, train_rng, eval_rng = jax.random.split(rng, 3)
    example = to_global(dataset.example_batch(), data_sh)
    state = init_state(system, tx, init_rng, example, repl)
    spe = dataset.steps_per_epoch
    total = config.train.num_steps or config.train.num_epochs * spe
    num_epochs = -(-total // spe)

    # --- resume ----------------------------------------------------------------
    ckpts = Checkpoints(workdir / "checkpoints", config.train.keep_checkpoints)
    loop = {"best_train_loss": None, "best_dev": None, "epoch_loss_sum": 0.0,
            "epoch_loss_count": 0}
    start = ckpts.latest_step()
    if start is not None:
        state, loop = ckpts.restore("latest", state, start)
        print(f"resumed from {ckpts.directory / 'latest'} at step {start}", file=sys.stderr)
    step = int(state["step"])
    writer = MetricsWriter(workdir, config.train.tensorboard, is_main,
                           resume_step=step if start is not None else None)
    if start is None:
        nparams = sum(int(np.prod(x.shape)) for x in jax.tree.leaves(state["params"]))
        writer.write(0, "info", {"num_params": nparams, "steps_per_epoch": spe,
                                 "total_steps": total, "devices": jax.device_count()})

    train_step = make_train_step(system, tx, repl)
    predict_fn = None
    select_dev = config.train.select_by.startswith("dev:")

    # Per-step metrics stay on the device until a log step, a checkpoint or the
    # epoch end needs them: no host sync per step, so the host prepares the next
    # batch while the device runs this one. Losses are summed in step order, so a
    # resumed run adds exactly what an uninterrupted one does.
    pending = []

    def flush(epoch=None, log=False):
        if not pending:
            return
        values = jax.device_get(pending)
        pending.clear()
        for m in values:
            loop["epoch_loss_sum"] += float(m["loss"])
            loop["epoch_loss_count"] += 1
        last = values[-1]
        bar.set_postfix(loss=f"{float(last['loss']):.4f}", epoch=epoch)
        if log:
            nonlocal t0, last_log
            dt = time.time() - t0
            writer.write(step, "train", {**last, "epoch": epoch,
                                         "steps_per_s": (step - last_log) / max(dt, 1e-9)})
            t0, last_log = time.time(), step

    def checkpoint(kind):
        flush()
        ckpts.save(kind, step, state, dict(loop))

    def do_eval():
        nonlocal predict_fn
        split = config.data.dev_split
        if predict_fn is None:
            predict_fn = make_predict_fn(system, config.eval.num_samples, mesh)
        metrics, _, _ = evaluate_split(system, state["params"], dataset, split, eval_rng,
                                       config.eval.num_samples, mesh,
                                       config.eval.median_window, predict_fn)
        writer.write(step, split, metrics)
        return metrics

    # --- loop ------------------------------------------------------------------
    from tqdm import tqdm

    bar = tqdm(total=total, initial=step, disable=not (is_main and config.train.progress_bar),
               desc="train", dynamic_ncols=True, file=sys.stderr)
    t0, last_log, stopped = time.time(), step, False
    for epoch in range(step // spe, num_epochs):
        first = step - epoch * spe
        n_this = min(spe, total - epoch * spe)
        for batch in itertools.islice(dataset.train_iter(config.seed, epoch), first, n_this):
            state, metrics = train_step(state, to_global(batch, data_sh),
                                        jax.random.fold_in(train_rng, step))
            step += 1
            pending.append(metrics)
            bar.update(1)
            if step % config.train.log_every_steps == 0:
                flush(epoch, log=True)
            if step % spe == 0:
                break  # the epoch is done: its end is handled below
            if stop_after_steps is not None and step >= stop_after_steps:
                stopped = True
                break
            if step % config.train.checkpoint_every_steps == 0:
                checkpoint("latest")
        if stopped:
            checkpoint("latest")
            break
        if step < min((epoch + 1) * spe, total):
            break  # the iterator ran short (should not happen)
        # --- end of epoch: selection by training loss (prabhu22), dev eval ---
        flush(epoch)
        train_loss = loop["epoch_loss_sum"] / max(loop["epoch_loss_count"], 1)
        loop["epoch_loss_sum"], loop["epoch_loss_count"] = 0.0, 0
        writer.write(step, "epoch", {"epoch": epoch, "train_loss": train_loss})
        if _better(train_loss, loop["best_train_loss"], "min"):
            loop["best_train_loss"] = train_loss
            checkpoint("best_train_loss")
        every = config.train.eval_every_epochs
        last_epoch = epoch == num_epochs - 1
        if every and config.data.dev_split and ((epoch + 1) % every == 0 or last_epoch):
            metrics = do_eval()
            bar.write(format_table(metrics, f"dev @ step {step}"))
            if select_dev:
                key = config.train.select_by[4:]
                if key not in metrics:
                    raise KeyError(f"train.select_by={config.train.select_by!r}: the system's "
                                   f"metrics are {sorted(metrics)}")
                if _better(metrics[key], loop["best_dev"], config.train.select_mode):
                    loop["best_dev"] = metrics[key]
                    checkpoint("best_dev")
        checkpoint("latest")
        if stop_after_steps is not None and step >= stop_after_steps:
            stopped = True
            break
    bar.close()
    writer.close()
    ckpts.close()
    return {"state": state, "step": step, "stopped": stopped, "loop": loop}


# =============================================================================
# The evaluation job
# =============================================================================


def checkpoint_kind(config, which: str) -> str:
    if which not in CHECKPOINT_CHOICES:
        raise ValueError(f"--checkpoint={which!r}: use one of {CHECKPOINT_CHOICES}")
    if which == "best":
        return "best_dev" if config.train.select_by.startswith("dev:") else "best_train_loss"
    return which


def restore_params(workdir, config, system, dataset, checkpoint: str = "best"):
    """``(params, step)`` of the ``checkpoint`` (best | latest | best_train_loss | best_dev)."""
    kind = checkpoint_kind(config, checkpoint)
    mesh = make_mesh()
    data_sh, repl = NamedSharding(mesh, P("data")), NamedSharding(mesh, P())
    tx = make_optimizer(config.optimizer)
    example = to_global(dataset.example_batch(), data_sh)

    def init(r, b):
        params = system.init(r, b)
        return {"step": jnp.zeros((), jnp.int32), "params": params, "opt_state": tx.init(params)}

    abstract = jax.eval_shape(init, jax.random.key(0), example)
    abstract = jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=repl),
                            abstract)
    ckpts = Checkpoints(Path(workdir) / "checkpoints")
    try:
        state, _ = ckpts.restore(kind, abstract)
    finally:
        ckpts.close()
    return state["params"], int(state["step"])


def crosscorpus_dataset(config, corpus: str | None, variant: str | None, split: str,
                        process_index: int = 0, process_count: int = 1):
    """``split`` of another utterance corpus (and/or variant), for cross-corpus evaluation
    (sridhar21 Sec. V-D, Tables I-II).

    The features are extracted (and cached) with the training run's feature
    config and standardised with the statistics of the *training* corpus'
    training split (:class:`seru.data.features.Scaler`), as the trained network
    expects; the targets use the evaluation corpus' own ``rating_range`` (a
    5-point scale is spread over the same 7 soft-label bins). Only
    ``data.input='functionals'`` has train-split statistics to carry over.
    """
    import copy

    from seru.data import features

    d = config.data
    if d.input != "functionals":
        raise ValueError(f"--corpus/--variant: cross-corpus evaluation needs "
                         f"data.input='functionals' (sridhar21), this run has {d.input!r}")
    train_ds = features.build_dataset(config, process_index, process_count)
    ev = copy.deepcopy(config)
    ev.data.corpus = corpus or d.corpus
    ev.data.variant = d.variant if variant is None else variant
    cfg = features.feature_config(ev)
    opened = features.open_corpus(ev.data, cfg)
    arrays, skipped = features.split_arrays(ev.data, cfg, opened, split)
    return features.FunctionalsDataset(
        {split: arrays}, train_ds.scaler, batch_size=d.batch_size,
        eval_batch_size=config.eval.batch_size, train_split=split, dimensions=d.dimensions,
        rating_range=opened.rating_range, skipped={split: skipped},
        process_index=process_index, process_count=process_count)


def evaluate_checkpoint(workdir: str | Path, split: str = "dev", num_samples: int | None = None,
                        checkpoint: str = "best", *, dataset=None, system=None,
                        seed: int | None = None, verbose: bool = True,
                        corpus: str | None = None, variant: str | None = None) -> dict:
    """``python -m seru.evaluate``: evaluates a checkpoint of ``workdir`` on ``split``.

    Writes ``workdir/eval/<split>/{metrics.json, predictions.npz, *.png}`` and
    returns the metrics. ``corpus`` / ``variant`` (cross-corpus evaluation,
    :func:`crosscorpus_dataset`) override ``config.data.corpus`` /
    ``config.data.variant``; the results then go to
    ``workdir/eval/<corpus>-<variant>/<split>/``.
    """
    workdir = Path(workdir)
    config = load_config(workdir)
    num_samples = num_samples or config.eval.num_samples
    kind = checkpoint_kind(config, checkpoint)
    mesh = make_mesh()
    cross = (corpus not in (None, config.data.corpus)
             or variant not in (None, config.data.variant))
    outdir = workdir / "eval" / split
    if cross:
        corpus, variant = corpus or config.data.corpus, (config.data.variant
                                                         if variant is None else variant)
        outdir = workdir / "eval" / f"{corpus}-{variant or 'default'}" / split
        if dataset is None:
            dataset = crosscorpus_dataset(config, corpus, variant, split, jax.process_index(),
                                          jax.process_count())
    if dataset is None:
        from seru.data import pipeline

        d = config.data
        splits = [s for s in (d.train_split, split) if s]
        recs = pipeline.load_recordings(config, splits) if d.input == "raw_audio" else None
        dataset = (pipeline.from_recordings(recs, config, jax.process_index(),
                                            jax.process_count())
                   if recs is not None else pipeline.build(config, jax.process_index(),
                                                           jax.process_count()))
    system = system if system is not None else get_system(config)
    rng = jax.random.key(config.seed if seed is None else seed)
    _, _, eval_rng = jax.random.split(rng, 3)
    params, step = restore_params(workdir, config, system, dataset, checkpoint)
    t0 = time.time()
    metrics, preds, targets = evaluate_split(system, params, dataset, split, eval_rng,
                                             num_samples, mesh, config.eval.median_window)
    elapsed = time.time() - t0
    frames = int(sum(np.asarray(t["mask"]).size for t in targets.values()))
    info = {"split": split, "checkpoint": kind, "step": step, "num_samples": num_samples,
            "median_window": config.eval.median_window, "num_recordings": len(targets),
            "num_frames": frames, "seconds": elapsed}
    if cross:
        info.update(corpus=corpus, variant=variant, train_corpus=config.data.corpus,
                    train_variant=config.data.variant,
                    feature_statistics=f"{config.data.corpus}/{config.data.variant}/"
                                       f"{config.data.train_split}")
    if jax.process_index() == 0:
        write_eval(outdir, metrics, preds, targets, config.data.dimensions,
                   config.eval.plot, config.eval.plot_recordings, info)
        if verbose:
            print(format_table(metrics, f"{split} ({kind} checkpoint, step {step}, "
                                        f"n = {num_samples}, {len(targets)} recordings)"))
    return metrics
