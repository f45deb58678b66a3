"""Shared defaults of every seru experiment: data, optimizer, loop, checkpoints.

Experiment configs (``configs/quickstart.py``, ``configs/prabhu22_bbb.py``)
start from :func:`get_config` and change what they need. Every field that any
experiment may set is defined here, so that ``seru.trainer.validate`` can
reject unknown fields and bad values before any compute.
"""

import ml_collections


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    c.system = "prabhu22"
    c.seed = 0

    # --- data (seru/data/pipeline.py) ---------------------------------------
    c.data = d = ml_collections.ConfigDict()
    d.corpus = "seru_synth_continuous"
    d.variant = "quickstart"        # builder config; '' = the builder's default
    d.data_dir = ""                 # '' = $SERU_DATA_DIR or ~/seru_datasets
    d.manual_dir = ""               # corpora built from files you provide
    d.build = True                  # build the corpus first if it is not built
    d.input = "raw_audio"           # 'raw_audio' (continuous) | 'functionals' (utterance)
    d.dimensions = ("arousal",)
    d.gold = "mean"                 # 'mean' | 'ewe' | 'avec'
    d.delay_frames = 0              # annotation delay compensation (label shift)
    d.audio_norm = "none"           # 'none' | 'recording' (z-normalise each recording)
    d.seq_len = 300                 # training crop, frames of 40 ms (prabhu22: 300 = 12 s)
    d.batch_size = 5                # global batch (prabhu22: 5)
    d.eval_seq_len = 1500           # evaluation segment, frames (bounded memory)
    d.eval_context = 150            # left context run (and dropped) before each segment
    d.max_recordings = 0            # per split; 0 = all (CPU protocols may cap it)
    d.train_split = "train"
    d.dev_split = "dev"
    d.test_split = "test"
    d.features = ml_collections.ConfigDict()  # options of the 'functionals' input

    # --- optimizer ------------------------------------------------------------
    c.optimizer = o = ml_collections.ConfigDict()
    o.name = "adam"                 # 'adam' | 'adamw' | 'sgd'
    o.learning_rate = 1e-4          # prabhu22: Adam 1e-4
    o.weight_decay = 0.0            # adamw only
    o.grad_clip_norm = 0.0          # 0 = no clipping

    # --- training loop --------------------------------------------------------
    c.train = t = ml_collections.ConfigDict()
    t.num_epochs = 100              # prabhu22: 100 epochs
    t.num_steps = 0                 # > 0 overrides num_epochs
    t.log_every_steps = 10
    t.eval_every_epochs = 1         # periodic dev evaluation; 0 = never
    t.checkpoint_every_steps = 100  # and at every epoch end
    t.keep_checkpoints = 3          # the last k are kept, plus the best ones
    t.select_by = "train_loss"      # 'train_loss' (prabhu22) | 'dev:<metric>'
    t.select_mode = "max"           # for 'dev:<metric>': 'max' (ccc) | 'min' (kl, rmse)
    t.progress_bar = True
    t.tensorboard = False           # also write TensorBoard events (needs tensorboardX)
    t.distributed = False           # call jax.distributed.initialize() (multi-host)

    # --- evaluation (seru/evaluate.py; also the periodic dev eval) -----------
    c.eval = e = ml_collections.ConfigDict()
    e.batch_size = 5                # global evaluation batch (segments)
    e.num_samples = 30              # MC passes (prabhu22: n = 30)
    e.median_window = 50            # frames (prabhu22: 50 = 2 s); 0 or 1 = none
    e.splits = ("dev",)
    e.plot = True
    e.plot_recordings = 1           # how many recordings get a time-series figure

    # --- model: the system's own fields (seru/systems/<system>.py) -----------
    c.model = ml_collections.ConfigDict()
    return c


def parse_arg(arg: str | None, defaults: dict, choices: dict | None = None) -> dict:
    """Parses a config argument string ``key=value,key=value`` over ``defaults``.

    ``choices`` maps a key to its allowed values. Unknown keys and bad values
    raise ``ValueError`` naming what to use instead.
    """
    out = dict(defaults)
    for item in filter(None, (arg or "").split(",")):
        if "=" not in item:
            raise ValueError(f"config argument {item!r}: expected key=value "
                             f"(keys: {', '.join(out)})")
        k, v = item.split("=", 1)
        if k not in out:
            raise ValueError(f"config argument {k!r}: unknown key; known: {', '.join(out)}")
        out[k] = v
    for k, allowed in (choices or {}).items():
        if out[k] not in allowed:
            raise ValueError(f"{k}={out[k]!r}: use one of {', '.join(allowed)}")
    return out
