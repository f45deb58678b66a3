"""Memory helpers shared by the benchmarks (no seru or jax import at module level: the
authors' worker imports this under their Python)."""

from __future__ import annotations


def vm_hwm_kb() -> int | None:
    """Peak resident memory (KiB) of this process's own address space (``VmHWM`` of
    ``/proc/self/status``, Linux), else None. Unlike ``ru_maxrss``, it does not start from
    the parent's high-water mark in an exec'd child."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def restored_like(system, batch):
    """Parameters as the evaluation job has them: shapes from ``jax.eval_shape`` of
    ``system.init`` (nothing compiled), values filled in on the host as a checkpoint restore
    does (U[-0.05, 0.05]; posterior rho in [-3, -2]). Timings and memory do not depend on the
    values."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    shapes = jax.eval_shape(system.init, jax.random.key(0), batch)
    rng = np.random.default_rng(0)

    def fill(path, s):
        lo, hi = (-3.0, -2.0) if "rho" in jax.tree_util.keystr(path) else (-0.05, 0.05)
        return jnp.asarray(rng.uniform(lo, hi, s.shape).astype(s.dtype))

    return jax.tree_util.tree_map_with_path(fill, shapes)
