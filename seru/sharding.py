"""Mesh, global arrays and the train state.

The batch is a global array sharded over a ``Mesh`` with one ``"data"`` axis
(all devices of all processes), parameters and optimizer state replicated.
The same code runs on 1 CPU device, on virtual CPU devices
(``--xla_force_host_platform_device_count``) and on a GPU/TPU slice.
The train state is ``{step, params, opt_state}``, made by one function
(:func:`state_fn`) whether it is initialised or only shaped for a restore.
"""

from __future__ import annotations

import os
from typing import Mapping

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P


#: Environment variables of a run started by hand (JAX itself reads only the first).
DISTRIBUTED_ENV = ("JAX_COORDINATOR_ADDRESS", "JAX_NUM_PROCESSES", "JAX_PROCESS_ID")


def initialize_distributed() -> None:
    """``jax.distributed.initialize()`` once, before any device is touched (multi-host).

    Coordinator, process count and id come from the cluster (Slurm, Open MPI,
    TPU pods: JAX detects them) or, set by hand, from ``JAX_COORDINATOR_ADDRESS``
    (``host:port`` of process 0), ``JAX_NUM_PROCESSES`` and ``JAX_PROCESS_ID``.
    A second call does nothing. Raises ``ValueError`` naming the variable when
    one of the last two is set but not an integer.
    """
    from jax._src import distributed

    if distributed.global_state.client is not None:
        return
    kwargs = {}
    for name, key in zip(DISTRIBUTED_ENV[1:], ("num_processes", "process_id")):
        value = os.environ.get(name)
        if value is not None:
            try:
                kwargs[key] = int(value)
            except ValueError:
                raise ValueError(f"{name}={value!r}: expected an integer") from None
    jax.distributed.initialize(**kwargs)


def make_mesh(pass_shards: int = 1) -> Mesh:
    """All devices of all processes on one ``"data"`` axis or, with ``pass_shards > 1``, on
    ``("data", "passes")`` of shape ``[devices / pass_shards, pass_shards]``: batches split
    over ``"data"``, Monte Carlo passes over ``"passes"`` (``seru.mc.on_pass_shards``).
    Raises ``ValueError`` if the device count is not a multiple of ``pass_shards``."""
    devices = np.asarray(jax.devices())
    if pass_shards < 1 or devices.size % pass_shards:
        raise ValueError(f"pass_shards={pass_shards}: expected a divisor of the "
                         f"{devices.size} devices")
    if pass_shards == 1:
        return Mesh(devices, ("data",))
    return Mesh(devices.reshape(-1, pass_shards), ("data", "passes"))


def data_sharding(mesh: Mesh) -> NamedSharding:
    """Leading (batch) axis split over ``"data"``."""
    return NamedSharding(mesh, P("data"))


def replicated(mesh: Mesh) -> NamedSharding:
    """The same copy on every device."""
    return NamedSharding(mesh, P())


def to_global(batch: Mapping[str, np.ndarray], sharding: NamedSharding) -> dict:
    """A process-local numpy batch (leading axis = this process's rows) -> global jax arrays
    sharded over ``"data"`` (``jax.make_array_from_process_local_data``)."""
    return {k: jax.make_array_from_process_local_data(sharding, np.asarray(v))
            for k, v in batch.items()}


def make_optimizer(opt) -> optax.GradientTransformation:
    """The optax optimizer of ``config.optimizer`` (prabhu22 Sec. 4.3: Adam, 1e-4; han17:
    SGD with momentum 0.9), with global-norm clipping when ``grad_clip_norm > 0``. Raises ``ValueError`` for an unknown
    ``name`` (``seru.config.validate`` reports it first)."""
    if opt.name == "adam":
        tx = optax.adam(opt.learning_rate)
    elif opt.name == "adamw":
        tx = optax.adamw(opt.learning_rate, weight_decay=opt.weight_decay)
    elif opt.name == "sgd":
        tx = optax.sgd(opt.learning_rate, momentum=opt.momentum or None)
    else:
        raise ValueError(f"optimizer.name={opt.name!r}: expected adam, adamw or sgd")
    if opt.grad_clip_norm > 0:
        tx = optax.chain(optax.clip_by_global_norm(opt.grad_clip_norm), tx)
    return tx


def state_fn(system, tx):
    """``(rng, batch) -> {step, params, opt_state}``: the one train-state initialisation."""
    def init(rng, batch):
        params = system.init(rng, batch)
        return {"step": jnp.zeros((), jnp.int32), "params": params,
                "opt_state": tx.init(params)}

    return init


def init_state(system, tx, rng, example_batch, mesh: Mesh, warm_start: bool = True) -> dict:
    """The train state, replicated over ``mesh``; with ``warm_start`` the system's
    ``warm_start`` (e.g. another run's parameters) is applied outside ``jit``."""
    repl = replicated(mesh)
    state = jax.jit(state_fn(system, tx), out_shardings=repl)(rng, example_batch)
    if not warm_start:
        return state
    params = system.warm_start(state["params"])
    if params is not state["params"]:
        state = dict(state, params=jax.device_put(params, repl))
    return state


def abstract_state(system, tx, example_batch, mesh: Mesh):
    """Shapes, dtypes and (replicated) shardings of the train state, for an Orbax restore."""
    repl = replicated(mesh)
    shapes = jax.eval_shape(state_fn(system, tx), jax.random.key(0), example_batch)
    return jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=repl), shapes)
