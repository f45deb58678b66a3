"""Orbax checkpoints of a run: the last k, plus the best by each selection rule.

Layout under ``workdir/checkpoints/``::

    latest/<step>/            the last ``keep`` checkpoints (resume from the newest)
    best_train_loss/<step>/   the epoch with the lowest mean training loss (prabhu22 Sec. 4.3)
    best_dev/<step>/          the best periodic dev evaluation (``config.train.select_by``)

Each checkpoint holds the train state (a pytree: ``step``, ``params``,
``opt_state``) and a JSON dict of loop bookkeeping (best values so far, the
running epoch loss) so that a resumed run continues exactly where it stopped.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import jax
import orbax.checkpoint as ocp

KINDS = ("latest", "best_train_loss", "best_dev")


def _reading_options():
    """Options of a manager that only reads: creates nothing (and, unlike Orbax's read_only,
    logs no warnings)."""
    return ocp.CheckpointManagerOptions(create=False, enable_async_checkpointing=False)


class Checkpoints:
    """The run's checkpoint managers (one per kind)."""

    def __init__(self, directory: str | Path, keep: int = 3, read_only: bool = False):
        self.directory = Path(directory).absolute()
        self.managers = {}
        for kind in KINDS:
            options = ocp.CheckpointManagerOptions(
                max_to_keep=keep if kind == "latest" else 1, create=not read_only,
                enable_async_checkpointing=False, read_only=read_only)
            self.managers[kind] = ocp.CheckpointManager(
                self.directory / kind, options=options,
                item_names=("state", "meta"))

    def save(self, kind: str, step: int, state: Any, meta: dict) -> None:
        mngr = self.managers[kind]
        if step in mngr.all_steps():
            return
        mngr.save(step, args=ocp.args.Composite(state=ocp.args.StandardSave(state),
                                                meta=ocp.args.JsonSave(meta)))
        mngr.wait_until_finished()

    @staticmethod
    def newest_step(directory: str | Path, kind: str = "latest") -> int | None:
        """The newest step of ``kind`` under ``directory``, or ``None``; creates nothing."""
        path = Path(directory).absolute() / kind
        if not path.is_dir():
            return None
        with ocp.CheckpointManager(path, options=_reading_options(),
                                   item_names=("state", "meta")) as mngr:
            return mngr.latest_step()

    def latest_step(self, kind: str = "latest") -> int | None:
        return self.managers[kind].latest_step()

    def all_steps(self, kind: str = "latest") -> list[int]:
        return list(self.managers[kind].all_steps())

    def restore(self, kind: str, abstract_state: Any, step: int | None = None):
        """``(state, meta)`` of checkpoint ``step`` (default: the newest) of ``kind``."""
        mngr = self.managers[kind]
        step = mngr.latest_step() if step is None else step
        if step is None:
            raise FileNotFoundError(
                f"no {kind!r} checkpoint in {self.directory / kind}: train first "
                f"(python -m seru.train --workdir {self.directory.parent} ...)")
        out = mngr.restore(step, args=ocp.args.Composite(
            state=ocp.args.StandardRestore(abstract_state), meta=ocp.args.JsonRestore()))
        return out["state"], dict(out["meta"])

    def restore_readable(self, kind: str, abstract_state: Any):
        """``(state, meta, step)`` of the newest checkpoint of ``kind`` that can be read.

        A checkpoint that cannot be read (truncated or corrupt files, e.g. a
        node that died while writing) is reported on stderr with its path and
        the error, renamed to ``unreadable-<step>`` beside the others (kept for
        inspection; the run writes that step again), and the one before it is
        tried, down to the oldest kept. Raises ``FileNotFoundError`` if there
        is none, ``RuntimeError`` naming every path tried if none can be read.
        """
        steps = sorted(self.all_steps(kind), reverse=True)
        if not steps:
            raise FileNotFoundError(f"no {kind!r} checkpoint in {self.directory / kind}")
        failed = []
        for step in steps:
            try:
                state, meta = self.restore(kind, abstract_state, step)
            except Exception as e:  # any reader error: report it and fall back
                path = self.directory / kind / str(step)
                why = f"{type(e).__name__}: {(str(e).splitlines() or [''])[0][:300]}"
                failed.append(f"{path}: {why}")
                aside = path.with_name(f"unreadable-{step}")
                if jax.process_index() == 0 and path.exists() and not aside.exists():
                    path.rename(aside)
                print(f"checkpoint {path} cannot be read ({why}); moved to {aside.name}, "
                      f"trying the one before it", file=sys.stderr)
                continue
            self.managers[kind].reload()  # forget the steps moved aside
            return state, meta, step
        raise RuntimeError("no readable checkpoint; tried:\n  " + "\n  ".join(failed))

    def meta(self, kind: str, step: int) -> dict:
        """The loop bookkeeping saved with checkpoint ``step`` of ``kind`` (no arrays read)."""
        out = self.managers[kind].restore(step, args=ocp.args.Composite(
            meta=ocp.args.JsonRestore()))
        return dict(out["meta"])

    def close(self) -> None:
        for m in self.managers.values():
            m.close()


def load_params(workdir: str | Path, kind: str = "latest"):
    """The ``params`` of the newest ``kind`` checkpoint of another run, as numpy arrays.

    Eager (call it outside ``jit``, e.g. from ``System.warm_start``); no target
    structure is needed, and the checkpoint may come from any number of devices
    and processes (the arrays are read onto this process's first device, whatever
    topology wrote them). Raises ``FileNotFoundError`` naming the directory when
    the run has no such checkpoint.
    """
    import jax
    import numpy as np

    directory = Path(workdir).absolute() / "checkpoints" / kind
    step = Checkpoints.newest_step(directory.parent, kind)
    if step is None:
        raise FileNotFoundError(f"{workdir}: no {kind!r} checkpoint in {directory}")
    handlers = {"state": ocp.StandardCheckpointHandler(), "meta": ocp.JsonCheckpointHandler()}
    with ocp.CheckpointManager(directory, options=_reading_options(),
                               item_handlers=handlers) as mngr:
        device = jax.sharding.SingleDeviceSharding(jax.local_devices()[0])
        target = jax.tree.map(lambda m: jax.ShapeDtypeStruct(m.shape, m.dtype, sharding=device),
                              mngr.item_metadata(step)["state"])
        out = mngr.restore(step, args=ocp.args.Composite(
            state=ocp.args.StandardRestore(target)))
    return jax.tree.map(np.asarray, out["state"]["params"])
