"""Shared fixtures: a tiny in-memory continuous corpus and a config for the toy system."""

import os
import sys
import tempfile
from pathlib import Path

# The loop tests compile the same tiny functions in several runs: a persistent
# compilation cache makes the repeats cheap on the shared 2-core machines.
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR",
                      os.path.join(tempfile.gettempdir(), f"seru_jax_cache_{os.getuid()}"))
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")

import numpy as np
import pytest

TESTS = Path(__file__).parent
sys.path.insert(0, str(TESTS))
REPO = TESTS.parent


def make_record(rid, n_frames, n_ann=3, dims=("arousal",), seed=0, sample_rate=16000,
                missing=0.1, audio_frames=None):
    """A random continuous record in the schema of seru/data/schema.py."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_frames) / 25.0
    rec = {"id": rid.encode(), "speaker": b"spk", "sample_rate": np.int32(sample_rate)}
    base = np.sin(2 * np.pi * t / 7.0 + seed)
    for d in dims:
        r = base[:, None] + 0.3 * rng.standard_normal((n_frames, n_ann))
        r[rng.random(r.shape) < missing] = np.nan
        rec[d] = r.astype(np.float32)
    af = n_frames if audio_frames is None else audio_frames
    n_samples = int(round(af * 0.04 * sample_rate))
    env = np.repeat(1.0 + 0.5 * base, int(0.04 * 16000))[:n_samples] if sample_rate == 16000 \
        else np.ones(n_samples)
    env = np.pad(env, (0, max(0, n_samples - env.size)), constant_values=1.0)
    rec["audio"] = (0.1 * env * rng.standard_normal(n_samples)).astype(np.float32)
    return rec


@pytest.fixture
def toy_config():
    """The common config with the toy system and tiny shapes."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("configs_common", REPO / "configs/common.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    c = mod.get_config()
    c.system = "toy_system:ToySystem"
    c.data.seq_len = 20
    c.data.batch_size = 4
    c.data.eval_seq_len = 30
    c.eval.batch_size = 4
    c.eval.num_samples = 3
    c.eval.median_window = 0
    c.eval.plot = False
    c.train.num_epochs = 3
    c.train.log_every_steps = 1
    c.train.checkpoint_every_steps = 2
    c.train.progress_bar = False
    c.model.hidden = 8
    c.model.dropout = 0.1
    return c


@pytest.fixture
def toy_records():
    return {"train": [make_record(f"train_{i}", 50 + 13 * i, seed=i) for i in range(3)],
            "dev": [make_record(f"dev_{i}", 45 + 20 * i, seed=10 + i) for i in range(2)]}
