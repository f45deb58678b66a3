"""Random building blocks shared by the synthetic corpora: seeding and smooth processes."""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter1d

#: Namespaces of :func:`rng_for`, so that independent parts never share a stream.
NS_SPEAKER = 1
NS_RECORDING = 2
NS_ANNOTATOR = 3
NS_UTTERANCE = 4
NS_CONDITION = 5

SPLIT_CODES = {"train": 0, "dev": 1, "test": 2, "unlabeled": 3}


def rng_for(seed: int, *keys: int) -> np.random.Generator:
    """A ``numpy`` Generator that depends only on ``seed`` and the integer ``keys``.

    Built from ``SeedSequence(seed, spawn_key=keys)``, so e.g.
    ``rng_for(seed, NS_RECORDING, split, index)`` gives every recording its own
    stream whatever order (or process) the records are generated in.
    """
    keys = tuple(int(k) for k in keys)
    if int(seed) < 0 or any(k < 0 for k in keys):
        raise ValueError(f"seed and keys must be non-negative integers, got {seed}, {keys}")
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(int(seed), spawn_key=keys)))


def smooth_noise(rng: np.random.Generator, n: int, length_scale: float, size=None) -> np.ndarray:
    """Unit-variance stationary Gaussian process of ``n`` steps.

    White noise filtered by a Gaussian kernel of standard deviation
    ``length_scale`` steps, rescaled by the exact output std of that filter,
    ``(2 sqrt(pi) sigma)^(-1/2)``, so the marginal std is 1 in expectation (not
    renormalised per draw). ``size`` adds leading dimensions (independent draws).
    """
    shape = (n,) if size is None else tuple(np.atleast_1d(size)) + (n,)
    if length_scale <= 0:
        return rng.standard_normal(shape)
    pad = int(4 * length_scale) + 1
    white = rng.standard_normal(shape[:-1] + (n + 2 * pad,))
    out = gaussian_filter1d(white, length_scale, axis=-1, mode="wrap", truncate=4.0)
    out = out[..., pad:pad + n]
    return out * np.sqrt(2.0 * np.sqrt(np.pi) * length_scale)


def ema(x: np.ndarray, alpha: float) -> np.ndarray:
    """Causal exponential smoothing ``y[t] = alpha x[t] + (1 - alpha) y[t-1]`` along the last axis.

    ``y[-1]`` is taken as ``x[0]``. Implemented with :func:`scipy.signal.lfilter`.
    """
    from scipy.signal import lfilter

    if not 0 < alpha <= 1:
        raise ValueError(f"alpha must be in (0, 1], got {alpha}")
    x = np.asarray(x, dtype=np.float64)
    zi = (1 - alpha) * x[..., :1]
    y, _ = lfilter([alpha], [1.0, -(1 - alpha)], x, axis=-1, zi=zi)
    return y


def worker_count() -> int:
    """Build processes from ``$SERU_SYNTH_WORKERS`` (default 1)."""
    import os

    try:
        return max(1, int(os.environ.get("SERU_SYNTH_WORKERS", "1")))
    except ValueError as e:
        raise ValueError(f"SERU_SYNTH_WORKERS must be an integer, got "
                         f"{os.environ['SERU_SYNTH_WORKERS']!r}") from e


def generate_records(make, jobs, chunksize: int = 1):
    """Yields ``(id, record)`` of ``make(job)`` for each job, in job order.

    With ``$SERU_SYNTH_WORKERS`` > 1 the jobs run in a spawned process pool;
    records are bit-identical either way (each job seeds its own generator).
    """
    workers = worker_count()
    if workers > 1 and len(jobs) > 1:
        import multiprocessing as mp

        with mp.get_context("spawn").Pool(workers) as pool:
            for rec in pool.imap(make, jobs, chunksize=chunksize):
                yield rec["id"], rec
    else:
        for job in jobs:
            rec = make(job)
            yield rec["id"], rec
