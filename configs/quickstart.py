"""Quickstart: prabhu22 +LU on the ``quickstart`` variant of ``seru_synth_continuous``.

The README's main job: builds the synthetic corpus (6 / 3 / 3 recordings of
60 s, 6 annotators), trains the BBB model with the label-uncertainty loss
(Eq. (8) of prabhu22, alpha = 1) and evaluates it on dev::

    python -m seru.train --config configs/quickstart.py --workdir runs/quickstart
    python -m seru.evaluate --workdir runs/quickstart --split test

``seru.train`` also evaluates ``config.eval.splits`` (dev) with the selected
checkpoint at the end. Outputs: ``runs/quickstart/metrics.jsonl``,
``checkpoints/``, ``eval/dev/{metrics.json, predictions.npz,
recording_*.png, std_scatter_*.png}``.

CPU protocol (shorter than the paper's, same model, loss and metrics): a
smaller trunk/head (LSTM 64, head 64-32), the local reparameterisation
sampler, n = 8 passes in the loss, 30 at evaluation, crops of 300 frames,
batch 5, Adam 1e-4 -> 1e-3 (fewer steps), model selection by the best
training loss as in the paper.

Measured (see the report of this config's author; filled in below).
"""

import importlib.util
from pathlib import Path

import ml_collections


def _common():
    spec = importlib.util.spec_from_file_location("seru_configs_common",
                                                  Path(__file__).with_name("common.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    from seru.systems.prabhu22 import default_model_config

    c = _common().get_config()
    c.system = "prabhu22"
    c.data.corpus = "seru_synth_continuous"
    c.data.variant = "quickstart"
    c.data.dimensions = ("arousal",)
    c.data.audio_norm = "recording"
    c.data.seq_len = 100                    # 4 s crops (paper: 300); see the docstring
    c.model = default_model_config()
    c.model.variant = "lu"
    c.model.sampler = "local"
    c.model.lstm_size = 64
    c.model.head_sizes = (64, 32)
    c.model.num_samples_train = 8
    c.model.num_samples_eval = 30
    c.model.kl_weight = 1.0 / (6 * 1_501)   # 1 / training frames (Blundell et al. scaling)
    c.optimizer.learning_rate = 1e-3
    c.train.num_epochs = 15                 # 19 steps per epoch
    c.train.eval_every_epochs = 0           # dev is evaluated once, at the end
    c.train.checkpoint_every_steps = 50
    c.train.select_by = "train_loss"
    c.eval.num_samples = 30
    c.eval.splits = ("dev",)
    return c
