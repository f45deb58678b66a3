"""Fixtures of tests/encoders: a tiny offline-encoder config and a few short synthetic signals."""

import numpy as np
import pytest


def make_signals(seed: int = 0, durations=(1.2, 1.6, 2.0, 1.4, 2.4)):
    """Short 16 kHz signals with speech-like structure: a harmonic tone whose pitch glides,
    amplitude-modulated at a syllable rate, with noise bursts, in [-1, 1]."""
    rng = np.random.default_rng(seed)
    out = []
    for i, d in enumerate(durations):
        n = int(16000 * d)
        t = np.arange(n) / 16000
        f0 = 100 + 60 * i + 30 * np.sin(2 * np.pi * 0.7 * t)
        phase = 2 * np.pi * np.cumsum(f0) / 16000
        tone = sum(np.sin(k * phase) / k for k in range(1, 6))
        env = 0.5 * (1 + np.sin(2 * np.pi * (3 + i) * t)) ** 2
        noise = rng.standard_normal(n) * (np.sin(2 * np.pi * 1.3 * t) > 0.6)
        y = 0.15 * tone * env + 0.05 * noise
        out.append(np.clip(y, -1, 1).astype(np.float32))
    return out


@pytest.fixture(scope="session")
def signals():
    return make_signals()


@pytest.fixture(scope="session")
def tiny_config():
    from seru.encoders.ssl import SSLConfig

    return SSLConfig(name="tiny_ssl", num_layers=2, dim=32, num_heads=2, mlp_dim=64,
                     num_clusters=8, kmeans_iter=10, steps=40, batch_size=4, crop_frames=64,
                     learning_rate=3e-3, warmup_steps=4)


@pytest.fixture(scope="session")
def tiny_pretrained(signals, tiny_config):
    """``(params, history)`` of the tiny encoder pre-trained on :func:`make_signals`, seed 0."""
    from seru.encoders.ssl import pretrain

    history = []
    params = pretrain(signals, tiny_config, seed=0, history=history)
    return params, history


@pytest.fixture(scope="session")
def tiny_corpus_dir(tmp_path_factory):
    """A TFDS data dir with ``seru_synth_utterances/tiny`` built (20 utterances a split, 3 s)."""
    from seru.data import corpora

    path = str(tmp_path_factory.mktemp("seru_synth_tiny"))
    corpora.load("seru_synth_utterances", "tiny", path)
    return path
