"""sridhar21: VAE + emotional regressor with soft labels, and its MC-dropout baselines.

Config argument string (comma separated ``key=value``)::

    method=vae_er|mcd|mcd_soft|mcd_mtl|ae_mcd|stl    (default vae_er)
    stage=pretrain|joint        vae_er / ae_mcd: stage 1 (Eq. (2)) or 2 (Eq. (3))
    dim=arousal|valence|dominance                    one model per attribute
    corpus=seru_synth_utterances|msp_podcast|...     any utterance corpus
    variant=<builder config>    (default: quickstart for the synthetic corpus)
    features=librosa|compare2016                     (compare2016 needs `opensmile`)
    protocol=cpu|paper

The two stages of the proposed model are two runs; stage 2 starts from
stage 1's latest checkpoint (``--config.model.init_from=<stage-1 workdir>``)::

    python -m seru.train --config configs/sridhar21_vae.py:stage=pretrain,dim=arousal \\
        --workdir runs/sridhar21_pre_aro
    python -m seru.train --config configs/sridhar21_vae.py:stage=joint,dim=arousal \\
        --config.model.init_from=runs/sridhar21_pre_aro --workdir runs/sridhar21_aro
    python -m seru.evaluate --workdir runs/sridhar21_aro --split test
    # baselines (same features): MC dropout on consensus labels, and the STL regressor
    python -m seru.train --config configs/sridhar21_vae.py:method=mcd,dim=arousal \\
        --workdir runs/sridhar21_mcd_aro
    python -m seru.train --config configs/sridhar21_vae.py:method=stl,dim=arousal \\
        --workdir runs/sridhar21_stl_aro

The evaluation writes CCC at coverages 100/80/60/40/20 % (``ccc_cov*``, the
model's own consensus prediction filtered by its own uncertainty) and per
uncertainty quintile (``ccc_q1`` .. ``ccc_q5``). The paper's protocol filters
the STL predictions by another model's uncertainty (and UTL by another
attribute's): :func:`seru.systems.sridhar21.paired_reject_option` on the
``predictions.npz`` of the two runs.

Protocols:

* ``paper`` (sridhar21 Sec. IV-C, V): ComParE 2016 functionals (6,373-d,
  openSMILE), encoder/decoder 512-512, latent 256, ER 128 x 3 + heads
  (7,519,341 parameters), dropout 0.5 (0.7 valence), Adam 5e-5 (stage 1) /
  3e-4 (stage 2), (alpha, beta, gamma) = (0.5, 0.8, 2), 100 latent samples,
  200 epochs, the best model on dev (CCC). The batch size is not given in the
  paper: 256 here. On MSP-Podcast (34,280 train utterances) that is 134 steps
  per epoch. Runtime not measured (MSP-Podcast is not available here; no GPU
  measurement).
* ``cpu``: the same models, losses and metrics on the ``quickstart`` variant
  of ``seru_synth_utterances`` (400 / 100 / 100 + 200 unlabeled utterances)
  with the licence-free librosa functionals (531-d), batch 32, Adam 1e-3 in
  both stages (few steps), 30 epochs of pre-training and 60 of joint
  training, evaluation with 100 samples.

Measured, ``cpu`` protocol, arousal, 3 seeds (0, 1, 2), 2 shared CPU cores:
building the corpus and extracting + caching the features ~3.5 min once;
then all six methods (both stages of vae_er and ae_mcd) ~5-6 min per seed.
Test split (75 utterances after skips), CCC at 100 / 80 / 60 / 40 / 20 %
coverage, mean of the 3 seeds:

* own prediction filtered by own uncertainty: vae_er 0.677 / 0.743 / 0.738 /
  0.754 / 0.797; mcd 0.666 / 0.695 / 0.742 / 0.799 / 0.856; mcd_mtl 0.657 /
  0.690 / 0.675 / 0.679 / 0.686; mcd_soft 0.582 / 0.599 / 0.560 / 0.582 /
  0.458; ae_mcd 0.715 / 0.723 / 0.679 / 0.686 / 0.402.
* the paper's protocol, STL predictions (0.611 at 100 %) filtered by each
  model's uncertainty: vae_er 0.669 / 0.670 / 0.641 / 0.696 at 80 / 60 / 40 /
  20 %; mcd 0.627 / 0.668 / 0.714 / 0.771; mcd_mtl 0.643 / 0.610 / 0.584 /
  0.579; mcd_soft 0.609 / 0.579 / 0.615 / 0.505; ae_mcd 0.592 / 0.515 /
  0.496 / 0.261.

With 15 utterances at 20 % coverage these numbers are noisy (seed-to-seed
spread ~0.1); the VAE-ER's uncertainty helps most at 80 %, MC dropout at 40 /
20 % (the paper reports the same exception for arousal in Table I).
``benchmarks/reproduce_sridhar21.py --utl`` reproduces these numbers (same
seeds) with the ablations, cross-corpus and UTL tables:
``benchmarks/results/sridhar21_cpu/results.md`` (2,124 s for arousal with
ablations, the cross-corpus evaluations and UTL trainings another 880 s, on 2
CPU cores shared with another benchmark; history:
``benchmarks/results/sridhar21_history.md``).

Expected numbers (paper, MSP-Podcast test, reject option on the STL
predictions, Table III): arousal CCC 0.720 / 0.754 / 0.770 / 0.788 / 0.805 at
100 / 80 / 60 / 40 / 20 % coverage; valence 0.317 / 0.348 / 0.369 / 0.399 /
0.450; dominance 0.632 / 0.670 / 0.682 / 0.699 / 0.702.
"""

import ml_collections

from seru.config import defaults, model_defaults, parse_arg


def _parse(arg: str | None) -> dict:
    return parse_arg(
        arg, {"method": "vae_er", "stage": "joint", "dim": "arousal",
              "corpus": "seru_synth_utterances", "variant": "", "features": "",
              "protocol": "cpu"},
        {"protocol": ("cpu", "paper")})


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    a = _parse(arg)
    paper = a["protocol"] == "paper"
    c = defaults()
    c.system = "sridhar21"
    d = c.data
    d.corpus = a["corpus"]
    d.variant = a["variant"] or ("quickstart" if a["corpus"] == "seru_synth_utterances" else "")
    d.input = "functionals"
    d.dimensions = (a["dim"],)
    d.batch_size = 256 if paper else 32
    d.features.name = a["features"] or ("compare2016" if paper else "librosa")

    m = c.model = model_defaults("sridhar21")
    m.method = a["method"]
    m.stage = a["stage"] if a["method"] in ("vae_er", "ae_mcd") else "joint"
    pretrain = m.stage == "pretrain"

    o = c.optimizer
    o.name = "adam"
    if paper:
        o.learning_rate = 5e-5 if pretrain else 3e-4
    else:
        o.learning_rate = 1e-3

    t = c.train
    t.num_epochs = (200 if paper else (30 if pretrain else 60))
    t.log_every_steps = 10
    t.checkpoint_every_steps = 200
    if pretrain:  # no labels: selection by the reconstruction loss, no dev evaluation
        t.select_by = "train_loss"
        t.eval_every_epochs = 0
    else:
        t.select_by = "dev:ccc"
        t.select_mode = "max"
        t.eval_every_epochs = 5 if not paper else 1

    e = c.eval
    e.batch_size = 256 if paper else 50
    e.num_samples = 100             # sridhar21 Sec. IV-C: 100 MC samples
    e.median_window = 0             # utterance level: no smoothing
    e.splits = () if pretrain else ("dev", "test")
    e.plot = False
    return c
