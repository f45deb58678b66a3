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

Measured, ``cpu`` protocol, arousal, seed 0, 2 shared CPU cores (test split,
75 utterances; features cached by a sridhar21 run): see the results in the
system's report (``hetero`` / ``ensemble``): CCC, NLL and coverage_90 below.
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
