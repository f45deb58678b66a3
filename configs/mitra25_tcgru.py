"""mitra25: a multi-task TC-GRU on vote distributions, evaluated per speaker, per gender,
on k-best hypotheses and on noise-degraded test sets (Mitra et al., 2025).

Config argument string (comma separated ``key=value``)::

    target=votes|consensus        the vote PDF (mitra25) or the one-hot plurality class
    frames=mfbf0                  the frame features: MFBF0 (40 log mel bands + log F0 +
                                  voicing per 10 ms), or a layer of seru's offline encoder,
                                  ssl:<0..4>|ssl:final|ssl:salient (CCS on the training
                                  split), or of a Hugging Face encoder, hf:<layer>|hf:final|
                                  hf:salient with --config.data.utterance.encoder_path=DIR
    corpus=seru_synth_utterances|msp_podcast|iemocap|crema_d
    variant=<builder config>      (default: quickstart for the synthetic corpus)
    protocol=cpu|paper

Commands::

    python -m seru.train --config configs/mitra25_tcgru.py:target=votes --workdir runs/m25
    python -m seru.evaluate --workdir runs/m25 --split test_snr5   # 5 dB SNR copy of test

The offline encoder is pre-trained once on ``data.utterance.encoder_pool`` (default: the
unlabeled pool of ``seru_synth_utterances/quickstart``, built if missing, also when the run
uses another variant) and cached in the data directory. Model selection and early stopping
use ``ccc_uar`` = (mean CCC of the attributes + UAR) / 2 on dev.

Targets: the attributes (arousal, valence, dominance) as the raters' mean mapped to
[-1, 1], trained with the CCC loss (Appendix A.1); the categorical head against the vote
PDF over the six emotions of ``data.utterance.classes`` (votes for the corpus' other
classes left out) or the plurality class. Evaluated on dev, test and the 15 and 5 dB SNR
copies of test (``test_snr15``, ``test_snr5``: babble, pink or clatter noise per
utterance at the exact SNR of the ITU-T P.56 active speech level, ``seru/data/noise.py``).

Protocols:

* ``paper`` -- TC-GRU (kernel 3, 2 x 256 GRU, 256 embedding), mini-batch 32, learning
  rate 5e-4 (Adam; the paper does not name the optimiser), model selection and early
  stopping on dev (``ccc_uar``; patience 10 epochs: the paper gives none), 100 epochs at
  most. GPU runtime: not measured (no GPU here).
* ``cpu`` -- the same model and optimiser on the quickstart corpus (300 training
  utterances: 9 steps an epoch), 15 epochs, dev every 3 epochs, the best on dev kept.
  Runtime on 2 CPU cores: about 3.5 min a run with its five evaluations (the first run of
  a feature set also extracts and caches the features; the offline encoder pre-trains once,
  about 150 s). Expected (``python benchmarks/reproduce_mitra25.py``, seeds 0-2, test,
  mean over seeds; ``benchmarks/results/mitra25_cpu/``): MFBF0 CCC A / V / D 0.77 / 0.47 /
  0.46, UAR 0.27; salient layer 0.70 / 0.48 / 0.37, UAR 0.23; consensus targets UAR 0.32.
"""

import ml_collections

from seru.config import defaults, model_defaults, parse_arg


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    a = parse_arg(arg, {"target": "votes", "frames": "mfbf0",
                        "corpus": "seru_synth_utterances", "variant": "", "protocol": "cpu"},
                  {"target": ("votes", "consensus"), "protocol": ("cpu", "paper")})
    paper = a["protocol"] == "paper"
    c = defaults()
    c.system = "mitra25"
    c.model = model_defaults("mitra25")
    c.model.target = a["target"]

    d = c.data
    d.corpus = a["corpus"]
    d.variant = a["variant"] or ("quickstart" if a["corpus"] == "seru_synth_utterances" else "")
    d.input = "utterance_frames"
    d.utterance.frames = a["frames"]
    d.dimensions = ("arousal", "valence", "dominance")
    d.batch_size = 32

    c.optimizer.name, c.optimizer.learning_rate = "adam", 5e-4

    t = c.train
    t.num_epochs = 100 if paper else 15
    t.eval_every_epochs = 1 if paper else 3
    t.patience_epochs = 10 if paper else 0
    t.select_by, t.select_mode = "dev:ccc_uar", "max"
    t.log_every_steps = 5

    e = c.eval
    e.batch_size = 32
    e.num_samples = 1               # deterministic: no Monte Carlo
    e.median_window = 0
    e.splits = ("dev", "test", "test_snr15", "test_snr5")
    e.evaluators = ("metrics", "classes", "class_figures")
    return c
