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

import pytest

TESTS = Path(__file__).parent
sys.path.insert(0, str(TESTS))
REPO = TESTS.parent


from toy_system import make_record, make_toy_config, make_toy_records  # noqa: E402,F401


@pytest.fixture
def toy_config():
    """The shared defaults with the toy system and tiny shapes."""
    return make_toy_config()


@pytest.fixture
def toy_records():
    return make_toy_records()
