"""General uncertainty baselines on sridhar21's utterance-level input.

A heteroscedastic Gaussian regressor (Nix & Weigend 1994; Kendall & Gal 2017)
and a deep ensemble of five of them (Lakshminarayanan et al. 2017), trained
by the Gaussian NLL of the consensus (mean rating mapped to [-1, 1]) on the
same features, splits, batch and epochs as ``configs/sridhar21_vae.py``
(``seru/systems/baselines.py``).

Config argument string (comma separated ``key=value``)::

    method=hetero|ensemble                            (default hetero)
    dim=arousal|valence|dominance                     one model per attribute
    corpus=seru_synth_utterances|msp_podcast|...      any utterance corpus
    variant=<builder config>    (default: quickstart for the synthetic corpus)
    features=librosa|compare2016                      (compare2016 needs `opensmile`)
    protocol=cpu|paper

Commands::

    python -m seru.train --config configs/baselines_utterance.py:method=hetero,dim=arousal \\
        --workdir runs/baselines_hetero_aro
    python -m seru.train --config configs/baselines_utterance.py:method=ensemble,dim=arousal \\
        --workdir runs/baselines_ensemble_aro
    python -m seru.evaluate --workdir runs/baselines_ensemble_aro --split test

The evaluation writes ``ccc`` (of the predicted mean), ``nll`` and ``crps``
of the consensus under N(m_hat, s_hat), ``coverage_90`` (share of consensus
values inside the central 90 % interval), the reject option of sridhar21 with
``s_hat`` as the uncertainty (``ccc_cov*``, ``ccc_q*``) and, for the
ensemble, the mean epistemic and aleatoric std. Both methods are
deterministic: ``eval.num_samples`` is 1 and changes nothing. The checkpoint
kept is the one with the lowest dev NLL (the training objective, a proper
scoring rule); sridhar21 selects by dev CCC
(``--config.train.select_by=dev:ccc --config.train.select_mode=max`` here
does the same).

Protocols:

* ``cpu``: sridhar21's cpu protocol: the ``quickstart`` variant of
  ``seru_synth_utterances`` (400 / 100 / 100 utterances), librosa functionals
  (531-d), batch 32, Adam 1e-3, 60 epochs, dev evaluation every 5 epochs. MLP
  4 x 128 tanh (sridhar21's MCD / STL DNN), no dropout.
* ``paper``: ComParE 2016 functionals (6,373-d), batch 256, Adam 3e-4, 200
  epochs, dev evaluation every epoch (sridhar21's joint-training settings).
  Runtime not measured.

Measured, ``cpu`` protocol, arousal, seed 0, 2 shared CPU cores, features
already cached (by a sridhar21 run); test split, 75 utterances, checkpoint
with the lowest dev NLL:

* ``hetero``: CCC 0.640, NLL 0.139, coverage_90 0.973, CRPS 0.147, mean
  s_hat 0.356; CCC at 80 / 60 / 40 / 20 % coverage 0.621 / 0.581 / 0.667 /
  0.643. Training 7.8 s (540 steps with 12 dev evaluations), the whole
  command with the dev and test evaluations 13.5 s.
* ``ensemble`` (M = 5): CCC 0.677, NLL 0.172, coverage_90 0.867, CRPS
  0.145, mean s_hat 0.223 (epistemic 0.088, aleatoric 0.202); CCC at 80 /
  60 / 40 / 20 % coverage 0.698 / 0.619 / 0.637 / 0.315. Training 20.6 s,
  the whole command 29.4 s.

One seed: with 15 utterances at 20 % coverage these numbers are noisy.
The single heteroscedastic model is unstable under Adam 1e-3: its dev NLL
swings between 0.2 and 10 from one dev evaluation to the next as its
variance collapses on the training set (train NLL -1.85 after 60 epochs);
the ensemble's dev NLL stays between -0.03 and 0.43.
"""

import ml_collections

from seru.config import defaults, model_defaults, parse_arg


def _parse(arg: str | None) -> dict:
    return parse_arg(
        arg, {"method": "hetero", "dim": "arousal", "corpus": "seru_synth_utterances",
              "variant": "", "features": "", "protocol": "cpu"},
        {"protocol": ("cpu", "paper"), "method": ("hetero", "ensemble")})


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    a = _parse(arg)
    paper = a["protocol"] == "paper"
    c = defaults()
    c.system = "baselines"
    d = c.data
    d.corpus = a["corpus"]
    d.variant = a["variant"] or ("quickstart" if a["corpus"] == "seru_synth_utterances" else "")
    d.input = "functionals"
    d.dimensions = (a["dim"],)
    d.batch_size = 256 if paper else 32
    d.features.name = a["features"] or ("compare2016" if paper else "librosa")

    m = c.model = model_defaults("baselines")
    m.method = a["method"]

    o = c.optimizer
    o.name = "adam"
    o.learning_rate = 3e-4 if paper else 1e-3

    t = c.train
    t.num_epochs = 200 if paper else 60
    t.log_every_steps = 10
    t.checkpoint_every_steps = 200
    t.select_by = "dev:nll"
    t.select_mode = "min"
    t.eval_every_epochs = 1 if paper else 5

    e = c.eval
    e.batch_size = 256 if paper else 50
    e.num_samples = 1               # deterministic methods: one pass is the prediction
    e.median_window = 0             # utterance level: no smoothing
    e.splits = ("dev", "test")
    e.plot = False
    return c
