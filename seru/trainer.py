"""The training loop of seru: ``python -m seru.train``.

``train_and_evaluate(config, workdir)`` is the whole job: validate the config
(``seru/config.py``) and refuse a workdir that holds a run with another
config -- before any file is written --, build the dataset of the system's
input type (``seru/data/inputs.py``) and the system, initialise the
replicated train state (``seru/sharding.py``), write ``config.json`` once all
of that succeeded, then a jitted, donated train step over the data-parallel
mesh, Orbax checkpoints with automatic resume (``seru/checkpoints.py``),
JSON-lines metrics, periodic dev evaluation (``seru/evaluation.py``) and model
selection by the mean training loss of an epoch (as prabhu22 Sec. 4.3 does)
or on dev, and early stopping on the dev metric (``train.patience_epochs``: han17
stops after 20 epochs without a dev improvement); a run that stopped early stays
stopped when it is started again.
"""

from __future__ import annotations

import json
import math
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any, Mapping

import jax
import numpy as np
import optax

from seru import config as config_lib
from seru import evaluation, sharding
from seru.checkpoints import Checkpoints
from seru.data import loader


def make_train_step(system, tx, replicated):
    """The jitted update ``(state, batch, rng) -> (state, metrics)``; the state is donated."""
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


def maybe_initialize_distributed(config) -> None:
    """:func:`seru.sharding.initialize_distributed` when ``config.train.distributed``."""
    if config.train.distributed:
        sharding.initialize_distributed()


class Preemption:
    """A SIGTERM (what Slurm and TPU maintenance send) as a request to stop at a step.

    Multi-process runs use JAX's preemption service (``jax.distributed`` catches
    the signal on any process and every process agrees on the step to stop at:
    ``multihost_utils.reached_preemption_sync_point``); a single process installs
    its own handler (main thread only), which sets a flag. ``reached(step)`` is
    called once per step by every process; True means: save and stop now.
    """

    def __init__(self):
        from jax._src import distributed

        self.multi = distributed.global_state.client is not None
        self.requested = False
        self._previous = None
        if not self.multi and threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGTERM, self._on_signal)

    def _on_signal(self, signum, frame):
        self.requested = True

    def reached(self, step: int) -> bool:
        if self.multi:
            from jax.experimental import multihost_utils

            return multihost_utils.reached_preemption_sync_point(step)
        return self.requested

    def close(self):
        if self._previous is not None:
            signal.signal(signal.SIGTERM, self._previous)
            self._previous = None


def train_and_evaluate(config, workdir: str | Path, *, dataset=None, system=None,
                       stop_after_steps: int | None = None) -> dict:
    """Trains ``config`` in ``workdir``, resuming from its latest checkpoint.

    ``dataset`` / ``system`` replace the ones built from the config (tests).
    ``stop_after_steps`` checkpoints and returns once that many steps are done
    (e.g. to fit a job's time limit). A SIGTERM does the same at the next step
    every process reaches (:class:`Preemption`). Returns ``{'state', 'step',
    'stopped', 'loop'}`` (``stopped``: ended before the last step; ``loop``: the
    best values so far and the running epoch loss).

    Raises :class:`seru.config.ConfigError` -- before any file is written or
    any corpus built -- for a config that cannot run or a workdir that holds a
    run with another config (the message lists the changed fields).
    """
    # --- setup: nothing is written until the run has started cleanly ------------
    maybe_initialize_distributed(config)
    config_lib.validate(config, check_corpus=dataset is None)
    workdir = Path(workdir).absolute()
    resuming = config_lib.check_workdir(config, workdir)
    is_main = jax.process_index() == 0
    mesh = sharding.make_mesh()
    data_sh, repl = sharding.data_sharding(mesh), sharding.replicated(mesh)
    if dataset is None:
        from seru.data import inputs

        dataset = inputs.get(config.data.input).build(config, None, jax.process_index(),
                                                      jax.process_count())
    system = system if system is not None else config_lib.get_system(config, dataset.time_base)
    tx = sharding.make_optimizer(config.optimizer)

    rng = jax.random.key(config.seed)
    init_rng, train_rng, eval_rng = jax.random.split(rng, 3)
    example = sharding.to_global(dataset.example_batch(), data_sh)
    ckpt_dir = workdir / "checkpoints"
    start = Checkpoints.newest_step(ckpt_dir)
    state = sharding.init_state(system, tx, init_rng, example, mesh, warm_start=start is None)
    spe = dataset.steps_per_epoch
    total = config.train.num_steps or config.train.num_epochs * spe
    num_epochs = -(-total // spe)
    workdir.mkdir(parents=True, exist_ok=True)
    if is_main and not resuming:
        config_lib.save(config, workdir)
        if getattr(dataset, "input_info", None):  # e.g. a layer selected by saliency
            (workdir / "input_info.json").write_text(json.dumps(dataset.input_info, indent=2))

    # --- resume ----------------------------------------------------------------
    ckpts = Checkpoints(ckpt_dir, config.train.keep_checkpoints)
    loop = {"best_train_loss": None, "best_dev": None, "best_dev_epoch": None,
            "early_stopped": False, "epoch_loss_sum": 0.0, "epoch_loss_count": 0}
    if start is not None:
        state, saved, start = ckpts.restore_readable("latest", state)
        # Checkpoints written before the loader's state was saved: its position is the step.
        data_state = saved.pop("data_iterator", {"next_index": start})
        loop.update(saved)
        print(f"resumed from {ckpts.directory / 'latest'} at step {start}", file=sys.stderr)
    step = int(state["step"])
    writer = MetricsWriter(workdir, config.train.tensorboard, is_main,
                           resume_step=step if start is not None else None)
    if start is None:
        nparams = sum(int(np.prod(x.shape)) for x in jax.tree.leaves(state["params"]))
        writer.write(0, "info", {"num_params": nparams, "steps_per_epoch": spe,
                                 "total_steps": total, "devices": jax.device_count(),
                                 "processes": jax.process_count()})

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
        ckpts.save(kind, step, state, dict(loop, data_iterator=batches.get_state()))

    def do_eval():
        nonlocal predict_fn
        split = config.data.dev_split
        if predict_fn is None:
            predict_fn = evaluation.make_predict_fn(system, config.eval.num_samples, mesh)
        raw = evaluation.predict_split(system, state["params"], dataset, split, eval_rng,
                                       config.eval.num_samples, mesh, predict_fn)
        targets = dataset.targets(split)
        # A post-processing that is fitted is fitted on dev itself here (the evaluation
        # job fits on dev and applies to every split).
        fitted = system.fit_postprocess(raw, targets) if system.postprocess_needs_fit else {}
        metrics, _ = evaluation.score(system, raw, targets, fitted)
        writer.write(step, split, metrics)
        return metrics

    # --- loop ------------------------------------------------------------------
    from tqdm import tqdm

    bar = tqdm(total=total, initial=step, disable=not (is_main and config.train.progress_bar),
               desc="train", dynamic_ncols=True, file=sys.stderr)
    # The run's batches (seru/data/loader.py); a resumed run continues at the next example.
    batches = loader.train_iterator(dataset, config.seed, total, config.data.loader_threads,
                                    config.data.loader_prefetch,
                                    data_state if start is not None else None)
    if batches.get_state().get("next_index", step) != step:
        raise RuntimeError(f"the training data is at step {batches.get_state()} but the "
                           f"train state at step {step} ({ckpts.directory / 'latest'})")
    t0, last_log, stopped, stop_now = time.time(), step, False, False
    preempt = Preemption()
    patience = config.train.patience_epochs
    try:  # the SIGTERM handler is restored however the loop ends
        for epoch in range(step // spe, num_epochs):
            if loop["early_stopped"]:
                break
            first = step - epoch * spe
            n_this = min(spe, total - epoch * spe)
            for _ in range(first, n_this):
                batch = next(batches)
                state, metrics = train_step(state, sharding.to_global(batch, data_sh),
                                            jax.random.fold_in(train_rng, step))
                step += 1
                # Every process asks at every step (the multi-process agreement needs it).
                stop_now = preempt.reached(step) or (stop_after_steps is not None
                                                     and step >= stop_after_steps)
                pending.append(metrics)
                bar.update(1)
                if step % config.train.log_every_steps == 0:
                    flush(epoch, log=True)
                if step % spe == 0:
                    break  # the epoch is done: its end is handled below
                if stop_now:
                    stopped = True
                    break
                if step % config.train.checkpoint_every_steps == 0:
                    checkpoint("latest")
            if stopped:
                checkpoint("latest")
                break
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
                bar.write(evaluation.format_table(metrics, f"dev @ step {step}"))
                if select_dev:
                    key = config.train.select_by[4:]
                    if key not in metrics:
                        raise KeyError(f"train.select_by={config.train.select_by!r}: the system's "
                                       f"metrics are {sorted(metrics)}")
                    if _better(metrics[key], loop["best_dev"], config.train.select_mode):
                        loop["best_dev"], loop["best_dev_epoch"] = metrics[key], epoch
                        checkpoint("best_dev")
                    since = epoch - (loop["best_dev_epoch"] if loop["best_dev_epoch"] is not None
                                     else -1)
                    if patience and since >= patience and not last_epoch:
                        loop["early_stopped"] = True
                        writer.write(step, "early_stop", {
                            "epoch": epoch, "best_dev_epoch": loop["best_dev_epoch"],
                            "best_dev": loop["best_dev"], "patience_epochs": patience})
                        bar.write(f"early stop after epoch {epoch}: no dev {key} improvement "
                                  f"in {since} epochs (best at epoch {loop['best_dev_epoch']})")
            checkpoint("latest")
            if stop_now and step < total:
                stopped = True
                break
    finally:
        preempt.close()
    bar.close()
    writer.close()
    ckpts.close()
    if stopped:
        why = ("stop_after_steps" if stop_after_steps is not None and step >= stop_after_steps
               else "SIGTERM")
        print(f"stopped at step {step} of {total} ({why}); checkpoint "
              f"{ckpts.directory / 'latest' / str(step)} saved: the same command resumes",
              file=sys.stderr)
    return {"state": state, "step": step, "stopped": stopped, "loop": loop}


