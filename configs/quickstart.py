"""Quickstart: prabhu22 BBB model (+LU) on the ``quickstart`` variant of ``seru_synth_continuous``.

The README's main job: builds the synthetic corpus (8 / 3 / 3 recordings of
150 s, 6 annotators; ~15 s), trains the BBB model with the label-uncertainty
loss (Eq. (8) of prabhu22 with alpha = 1, the paper's "+LU" row) and
evaluates it::

    python -m seru.train --config configs/quickstart.py --workdir runs/quickstart
    python -m seru.evaluate --workdir runs/quickstart --split test

``seru.train`` also evaluates ``config.eval.splits`` (dev) with the selected
checkpoint at the end. Outputs: ``runs/quickstart/metrics.jsonl``,
``checkpoints/``, ``eval/<split>/{metrics.json, predictions.npz,
recording_*.png, std_scatter_*.png}``.

CPU protocol (shorter than the paper's, same losses and metrics): the
quickstart variant (8 / 3 / 3 recordings of 150 s, one speaker each, 6
annotators), a smaller trunk/head (LSTM 64, head 64-32), the local
reparameterisation sampler in training (evaluation: ``local_window``, the
same per-frame distribution), n = 8 passes in the loss and 30 at evaluation,
crops of 100 frames (4 s; paper 300), batch 5, Adam 1e-3 (paper 1e-4),
audio as stored (not standardised), no dropout, 90 epochs of 60 steps (5,400
steps), model selection by the best training loss as in the paper, Eq. (8)
as written (the label KL's gradient reaches every parameter), posterior
scales initialised with rho in [-2, -1] (paper [-3, -2]; s_hat ~0.47 at
initialisation, the scale of the raters' spread plus the initial error here
-- the paper tuned its range the same way, on the label KL at
initialisation).

The one departure that matters: ``model.frontend = 'logmel'``. The model
reads per-frame log-mel energies of the raw audio (computed inside the
network, seru/models/extractors.py) instead of learning its filters with
prabhu22's conv front end. Measured (22 Nov 2026, the full corpus, 4
training recordings, the raters' std as the ONLY target): the conv front end
+ 2 LSTM learns nothing of it (train r 0.01 after 600 steps, 0.04 after
2,000), the same LSTM on log-mel energies reaches train r 0.41 / test r 0.28
after 600 steps; with the conv front end no variant's s_hat ever followed the
raters' spread (README, prabhu22). Log-mel is also ~40x cheaper on CPU,
which pays for the 5,400 steps that +LU needs before s_hat follows the
spread (600 steps: test CCC(s) -0.02; 5,400: 0.21 on the cpu protocol) and
for a corpus variant large enough to learn it from (the 6 x 60 s of builder
1.1.0 was not: even an LSTM on hand-made spectral features reached only r
0.13-0.16 on its dev / test speakers). The paper's conv front end stays the
default of ``configs/prabhu22_bbb.py``'s paper protocol.

Other settings. ``data.audio_norm = 'none'``: standardising each recording
removes its overall level, which here carries the speaker's arousal offset
(seeds 0-2 with 'recording', otherwise this config but for kl_weight 3.33e-5:
dev CCC(m) -0.02-0.06, test 0.12-0.36, though test CCC(s) 0.35-0.39; with
'none' dev 0.44-0.62, test 0.68-0.79, test CCC(s) 0.16-0.42; the conv front end
behaved the other way round, engineer G, 21 Nov 2026: without
standardisation it fitted the six training speakers' loudness and did not
generalise). ``model.dropout = 0`` (0.5 after every conv pool stopped the
conv front end learning in 150 steps; the log-mel front end has no dropout).

What it shows (22 Nov 2026; seeds 0-2 of this config, the README has the
table): on the unseen test speakers s_hat follows the raters' spread over
time (within-recording r 0.36 / 0.62 / 0.25, CCC(s) 0.23 / 0.42 / 0.16) and
the mean is learnt (CCC(m) 0.78 / 0.68 / 0.79, KL 0.64 / 0.91 / 0.75, 90 %
coverage 0.82-0.96). On dev s_hat ranks the three speakers' overall spread
(CCC(s) 0.34-0.49) but barely follows its course inside a recording
(r -0.02-0.13; the dev speakers' spread is less tied to the ambiguity that
marks the audio: r(s, hidden ambiguity) 0.49-0.55 vs 0.67-0.84 on test);
dev CCC(m) 0.44-0.62.
"""

import ml_collections

from seru.config import defaults, model_defaults, parse_arg


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    c = defaults()
    c.system = "prabhu22"
    c.data.corpus = "seru_synth_continuous"
    c.data.variant = "quickstart"
    c.data.dimensions = ("arousal",)
    c.data.audio_norm = "none"              # as stored: the level carries the speaker's arousal
    c.data.seq_len = 100                    # 4 s crops (paper: 300); see the docstring
    c.model = model_defaults("prabhu22")
    c.model.variant = "lu"                  # +LU: alpha = 1, Gaussian label distribution
    c.model.frontend = "logmel"             # the conv front end does not learn s, see above
    c.model.rho_init = (-2.0, -1.0)         # s_hat ~0.47 at initialisation, see above
    c.model.dropout = 0.0
    c.model.sampler = "local"
    c.model.lstm_size = 64
    c.model.head_sizes = (64, 32)
    c.model.num_samples_train = 8
    c.model.kl_weight = 1.0 / (8 * 3_751)   # 1 / training frames (Blundell et al. scaling)
    c.optimizer.learning_rate = 1e-3
    c.train.num_epochs = 90                 # 60 steps per epoch: 5,400 steps
    c.train.eval_every_epochs = 0           # dev is evaluated once, at the end
    c.train.checkpoint_every_steps = 500
    c.train.select_by = "train_loss"
    c.eval.num_samples = 30
    c.eval.splits = ("dev",)
    return c
