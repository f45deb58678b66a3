"""han17: single- and multi-task BLSTMs for the emotional state E and the perception
uncertainty sigma, per 100 ms frame (Han et al., ACM MM 2017).

Config argument string (comma separated ``key=value``)::

    task=mtl|stl_e|stl_sigma|sweep multi-task (Eqs. (7)-(8)), single-task, or the
                                   multi-task weight sweep as one program
    w_e=1.0                        w_E of Eq. (7) in [0, 2] (w_sigma = 2 - w_E); mtl
    modality=audio|video           frame functionals of the audio, or facial landmarks
    corpus=seru_synth_continuous|avec2016|sewa
    variant=<builder config>       (default: quickstart for the synthetic corpus)
    protocol=cpu|paper

Commands::

    python -m seru.train --config configs/han17_blstm.py:task=mtl,modality=audio \\
        --workdir runs/han17_mtl_audio
    python -m seru.evaluate --workdir runs/han17_mtl_audio --split test
    python -m seru.train --config configs/han17_blstm.py:task=sweep,modality=video \
        --workdir runs/han17_sweep_video          # w_E selected on dev per target
    python -m seru.fuse --workdirs runs/han17_mtl_audio,runs/han17_mtl_video --split test
    python -m seru.train --config configs/han17_blstm.py:task=stl_e \
        --config.data.features.name=compare2016 --workdir runs/han17_compare  # openSMILE

Targets: the ratings resampled per rater to 100 ms, shifted back by 4 s (the paper's
annotation delay, ``data.delay_frames`` = 40), E = EWE, sigma = the raters' unbiased std
rescaled to [0, 1] on the training split (``seru/data/frames.py``). Inputs: mean and
coefficient of variation of the 10 ms LLDs over 6 s windows (librosa LLDs, 118
dimensions; ``--config.data.features.name=compare2016`` for the paper's 130 ComParE
ones), or the 98 normalised landmark coordinates, standardised on the training split.
The AVEC post-processing chain is fitted on dev and applied to every split.

Protocols:

* ``paper`` -- BLSTM 2 x 240, input noise 0.2, weights U[-0.1, 0.1], SGD with momentum
  0.9 and learning rate 1e-5 on CURRENNT's summed squared error; seru's loss is the MEAN
  over the frames and outputs of a batch, so the equivalent rate is 1e-5 times their
  number (whole recordings of up to 300 s as one sequence each, batch 1). 150 epochs at
  most, stopped after 20 epochs without a dev improvement (``train.patience_epochs``) of
  the dev RMSE of the primary target (the paper: dev MSE; seru's is after the dev-fitted
  chain), whose best checkpoint is kept. ``task=sweep`` trains the 21 weightings
  0, 0.1, ..., 2 by ``jax.vmap``; all members stop together, when the dev-selected one
  stops improving. GPU runtime: not measured (no GPU here).
* ``cpu`` -- the same model, Adam 1e-3, 30 s crops in batches of 4, 40 epochs of the
  quickstart corpus (8 training recordings of 150 s: 10 steps an epoch), the best dev
  checkpoint kept; ``task=sweep`` trains the 5 weightings of ``CPU_SWEEP``. Runtime on 2
  CPU cores: about 100 s of training per run plus the one-off feature extraction; a sweep
  of 5 about 560-810 s (the cores shared with other jobs). Expected
  (``python benchmarks/reproduce_han17.py``, seeds 0-2, test CCC arousal / valence, mean
  over seeds; ``benchmarks/results/han17_cpu/``): E audio STL 0.77 / 0.66, MTL-sel 0.80 /
  0.65; E video STL 0.63 / 0.72; sigma audio STL 0.63 / 0.56, MTL-sel 0.66 / 0.63; sigma
  video STL 0.15 / 0.25.
"""

import ml_collections

from seru.config import defaults, model_defaults, parse_arg

#: the CPU protocol's sweep: 5 of the paper's 21 weightings (its cost grows with their number)
CPU_SWEEP = (0.2, 0.6, 1.0, 1.4, 1.8)


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    a = parse_arg(arg, {"task": "mtl", "w_e": "1.0", "modality": "audio",
                        "corpus": "seru_synth_continuous", "variant": "", "protocol": "cpu"},
                  {"task": ("mtl", "stl_e", "stl_sigma", "sweep"), "modality": ("audio", "video"),
                   "protocol": ("cpu", "paper")})
    paper = a["protocol"] == "paper"
    c = defaults()
    c.system = "han17"
    c.model = model_defaults("han17")
    c.model.task = a["task"]
    c.model.w_e = float(a["w_e"])

    d = c.data
    d.corpus = a["corpus"]
    d.variant = a["variant"] or ("quickstart" if a["corpus"] == "seru_synth_continuous" else "")
    d.input = "frame_features"
    d.frames.modality = a["modality"]
    d.dimensions = ("arousal", "valence")
    d.gold = "ewe"                  # Eqs. (1)-(5)
    d.delay_frames = 40             # 4 s at 100 ms (Sec. 4.2)
    d.audio_norm = "none"
    d.eval_seq_len = 3000           # 300 s: whole recordings, so the BLSTM sees both contexts
    d.eval_context = 0
    if paper:
        d.seq_len, d.batch_size = 3000, 1
        c.optimizer.name, c.optimizer.momentum = "sgd", 0.9
        outputs = 2 * len(d.dimensions) if a["task"] == "mtl" else len(d.dimensions)
        c.optimizer.learning_rate = 1e-5 * d.seq_len * d.batch_size * outputs
        c.train.num_epochs = 150
        c.train.patience_epochs = 20
        c.model.sweep_program = "vmap"
    else:
        d.seq_len, d.batch_size = 300, 4
        c.optimizer.name, c.optimizer.learning_rate = "adam", 1e-3
        c.train.num_epochs = 40
        c.model.sweep_w_e = CPU_SWEEP
        c.model.sweep_program = "unroll"

    t = c.train
    t.eval_every_epochs = 1 if paper else 5
    primary = "sigma" if a["task"] == "stl_sigma" else "e"
    t.select_by = f"dev:rmse_{primary}" if paper else f"dev:ccc_{primary}"
    t.select_mode = "min" if paper else "max"
    t.log_every_steps = 10

    e = c.eval
    e.batch_size = 1 if paper else 4
    e.num_samples = 1               # deterministic: no Monte Carlo
    e.median_window = 0             # the chain's smoothing is fitted on dev instead
    e.splits = ("dev", "test")
    e.evaluators = ("metrics", "figures", "spread_distribution", "calibration")  # Fig. 4, Fig. 1
    return c
