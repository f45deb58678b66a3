"""Configuration of a seru experiment: defaults, meanings, loading, validation, workdirs.

One place per default. The fields every experiment shares are the table
:data:`FIELDS` below (path, default, one line of meaning, allowed values); a
system's own ``model.*`` fields are the ``MODEL_FIELDS`` table of its module
(``seru/systems/<tag>.py``); the options of the utterance-functionals input
(``data.features.*``) are :data:`seru.data.inputs.FEATURE_FIELDS`. Experiment files
in ``configs/`` start from :func:`defaults` and change what they need.

Everything here raises :class:`ConfigError`, whose message is one line per
problem naming the field, what was expected and the nearest valid name; the
entry points print it without a traceback (:func:`exit_on_error`).
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
import importlib.util
import json
import sys
from pathlib import Path
from typing import Iterable, Sequence

import ml_collections

from seru.fields import Field, from_fields

CHECKPOINT_CHOICES = ("best", "latest", "best_train_loss", "best_dev")
OPTIMIZERS = ("adam", "adamw", "sgd")


class ConfigError(ValueError):
    """A config (or workdir) that cannot run; the message says what to fix, one line a problem."""




# =============================================================================
# The shared fields
# =============================================================================

FIELDS = (
    Field("system", "prabhu22", "the published system (seru/systems/): a registered tag or "
          "'module:Class'"),
    Field("seed", 0, "PRNG seed of initialisation, training order and the MC passes"),
    # --- data (seru/data/) ----------------------------------------------------
    Field("data.corpus", "seru_synth_continuous", "corpus name (python -m seru.data --help "
          "lists them)"),
    Field("data.variant", "quickstart", "builder config of the corpus; '' = the builder's "
          "default"),
    Field("data.data_dir", "", "where corpora are built; '' = $SERU_DATA_DIR or ~/seru_datasets"),
    Field("data.manual_dir", "", "your copy of a licensed corpus (RECOLA, MSP-Podcast, ...)"),
    Field("data.build", True, "build the corpus first if it is not built"),
    Field("data.input", "raw_audio", "input type of the system (seru/data/inputs.py registry)"),
    Field("data.dimensions", ("arousal",), "rating dimensions to predict, in order"),
    Field("data.gold", "mean", "gold standard of the ratings: raters' mean, EWE (han17 "
          "Eq. (1)) or AVEC 2016", ("mean", "ewe", "avec")),
    Field("data.delay_frames", 0, "annotation delay compensation: ratings shifted earlier by "
          "this many frames"),
    Field("data.audio_norm", "none", "'recording' z-normalises each recording's audio",
          ("none", "recording")),
    Field("data.seq_len", 300, "training crop in frames (prabhu22: 300 frames of 40 ms = 12 s)"),
    Field("data.batch_size", 5, "global training batch (prabhu22: 5)"),
    Field("data.loader_threads", 0, "threads building training batches ahead of the device "
          "(grain; 0 = in the training loop's thread): speed only, same batches; no gain "
          "measured for in-memory corpora (benchmarks/loader.py)"),
    Field("data.loader_prefetch", 2, "training batches read ahead by those threads"),
    Field("data.eval_seq_len", 1500, "evaluation segment in frames (bounds the memory)"),
    Field("data.eval_context", 150, "frames of left context run (and dropped) before each "
          "evaluation segment"),
    Field("data.max_recordings", 0, "items per split; 0 = all (CPU protocols may cap it)"),
    Field("data.train_split", "train", "split the training batches come from"),
    Field("data.dev_split", "dev", "split of the periodic evaluation; '' = none"),
    Field("data.test_split", "test", "held-out split"),
    Field("data.frames.hop_s", 0.1, "frame_features: frame hop in s of features and targets "
          "(han17: 100 ms); ratings resampled per rater, data.delay_frames counts these frames"),
    Field("data.frames.window_s", 6.0, "frame_features (audio): window in s of the LLD mean and "
          "CV per frame (han17: 6 s)"),
    Field("data.frames.modality", "audio", "frame_features: 'audio' (LLD functionals) or "
          "'video' (49 normalised face landmarks)", ("audio", "video")),
    Field("data.utterance.frames", "mfbf0", "utterance_frames: the frame features: mfbf0, or "
          "a layer of the offline encoder, ssl:<layer>|ssl:final|ssl:salient (CCS), or of a Hugging "
          "Face encoder, hf:<layer>|hf:final|hf:salient"),
    Field("data.utterance.max_seconds", 11.0, "utterance_frames: seconds of frames per batch "
          "row; longer utterances keep their first frames"),
    Field("data.utterance.classes", ("neutral", "happy", "angry", "sad", "contempt",
                                     "surprise"),
          "utterance_frames: the emotion classes of the vote distribution (mitra25: six); "
          "votes for other classes are left out"),
    Field("data.utterance.encoder_pool", "seru_synth_utterances/quickstart/unlabeled",
          "utterance_frames (ssl:*): corpus/variant/split the offline encoder is pre-trained "
          "on (cached in the data directory)"),
    Field("data.utterance.encoder_path", "", "utterance_frames (hf:*): a local Hugging Face "
          "model directory (HuBERT, WavLM, Whisper; the 'hf' extra)"),
    Field("data.utterance.encoder_seed", 0, "utterance_frames (ssl:*): seed of the offline "
          "encoder's pre-training"),
    Field("data.utterance.encoder_layers", 4, "utterance_frames (ssl:*): transformer layers "
          "of the offline encoder"),
    Field("data.utterance.encoder_dim", 192, "utterance_frames (ssl:*): width of the offline "
          "encoder"),
    Field("data.utterance.encoder_steps", 400, "utterance_frames (ssl:*): pre-training steps "
          "of the offline encoder (8 crops of 5 s each)"),
    Field("data.utterance.ccs_sample", 0, "utterance_frames (ssl:salient): training "
          "utterances for CCS layer saliency, drawn with seed 0; 0 = all (mitra25: 30k)"),
    Field("data.utterance.class_map", (), "utterance_frames: '<corpus class>=<class>' "
          "entries whose votes count for a class of data.utterance.classes (e.g. "
          "'excited=happy' for IEMOCAP)"),
    Field("data.utterance.noise", ("babble", "pink", "clatter"), "utterance_frames: noise "
          "kinds of the '<split>_snr<dB>' test sets, one drawn per utterance "
          "(seru/data/noise.py SOURCE_KINDS)"),
    Field("data.utterance.noise_dir", "", "utterance_frames: a folder of your noise *.wav / "
          "*.flac for the '<split>_snr<dB>' sets (replaces data.utterance.noise)"),
    Field("data.utterance.noise_seed", 0, "utterance_frames: seed of the noise of the "
          "'<split>_snr<dB>' sets (the mixture is a function of it and the item id)"),
    # --- optimizer ------------------------------------------------------------
    Field("optimizer.name", "adam", "optax optimizer", OPTIMIZERS),
    Field("optimizer.learning_rate", 1e-4, "learning rate (prabhu22: Adam 1e-4)"),
    Field("optimizer.weight_decay", 0.0, "decoupled weight decay (adamw only)"),
    Field("optimizer.momentum", 0.0, "momentum of sgd (han17: 0.9); 0 = plain SGD"),
    Field("optimizer.grad_clip_norm", 0.0, "clip the global gradient norm; 0 = no clipping"),
    # --- training loop ----------------------------------------------------------
    Field("train.num_epochs", 100, "epochs (prabhu22: 100)"),
    Field("train.num_steps", 0, "steps; > 0 overrides train.num_epochs"),
    Field("train.log_every_steps", 10, "steps between rows of metrics.jsonl"),
    Field("train.eval_every_epochs", 1, "epochs between dev evaluations; 0 = never"),
    Field("train.checkpoint_every_steps", 100, "steps between checkpoints (and every epoch end)"),
    Field("train.keep_checkpoints", 3, "the last k checkpoints are kept, plus the best ones"),
    Field("train.select_by", "train_loss", "model selection: 'train_loss' (prabhu22) or "
          "'dev:<metric>'"),
    Field("train.select_mode", "max", "for 'dev:<metric>': 'max' (CCC) or 'min' (KL, RMSE)",
          ("max", "min")),
    Field("train.patience_epochs", 0, "early stopping: stop after this many epochs without "
          "an improvement of the 'dev:<metric>' of train.select_by (han17: 20); 0 = never"),
    Field("train.progress_bar", True, "show a progress bar"),
    Field("train.tensorboard", False, "also write TensorBoard events (needs tensorboardX)"),
    Field("train.distributed", False, "call jax.distributed.initialize() (multi-host)"),
    # --- evaluation -------------------------------------------------------------
    Field("eval.batch_size", 5, "global evaluation batch (segments or utterances)"),
    Field("eval.num_samples", 30, "MC passes at evaluation and prediction (prabhu22: n = 30)"),
    Field("eval.pass_shards", 1, "devices the MC passes of the evaluation job are split over "
          "(a 'passes' mesh axis; the items are split over the other devices); a divisor of "
          "the device count"),
    Field("eval.median_window", 50, "median filter in frames (prabhu22: 50 = 2 s); 0 or 1 = "
          "none"),
    Field("eval.splits", ("dev",), "splits python -m seru.train evaluates at the end"),
    Field("eval.evaluators", ("metrics", "figures", "reject_curve", "calibration"),
          "what the evaluation job computes and draws, in order (seru/evaluators.py: "
          "metrics, per_speaker, per_gender, figures, spread_distribution, reject_curve, "
          "calibration, classes, class_figures, conformal)"),
    Field("eval.conformal", False, "fit split-conformal intervals / sets on data.dev_split "
          "and report their coverage (seru/conformal_eval.py; python -m seru.evaluate "
          "--conformal)"),
    Field("eval.conformal_alpha", 0.1, "conformal miscoverage: 0.1 = 90 % intervals / sets"),
    Field("eval.conformal_unit", "recording", "frame-level data: calibrate on one frame per "
          "dev recording (a guarantee over recordings; needs >= 1/alpha - 1 of them) or on "
          "every frame as if exchangeable (no guarantee)", ("recording", "frame")),
    Field("eval.conformal_mondrian", False, "class sets: one threshold per class "
          "(Mondrian, class-conditional coverage) instead of one for all"),
    Field("eval.plot", True, "write the figures"),
    Field("eval.plot_recordings", 1, "recordings that get a time-series figure"),
)


def defaults() -> ml_collections.ConfigDict:
    """The shared fields at their defaults, ``data.features`` (``seru.data.inputs.FEATURE_FIELDS``)
    and an empty ``model`` (the experiment sets its system's :func:`model_defaults`)."""
    from seru.data import inputs

    c = from_fields(FIELDS)
    c.data.features = from_fields(inputs.FEATURE_FIELDS)
    c.model = ml_collections.ConfigDict()
    return c


def all_fields(system: str | None) -> list[Field]:
    """Every field of an experiment of ``system``, with its path from the config's root."""
    from seru.data import inputs

    out = list(FIELDS) + [dataclasses.replace(f, path="data.features." + f.path)
                          for f in inputs.FEATURE_FIELDS]
    if system:
        out += [dataclasses.replace(f, path="model." + f.path)
                for f in system_class(system).MODEL_FIELDS]
    return out


def model_defaults(system: str) -> ml_collections.ConfigDict:
    """``config.model`` of ``system`` at its defaults."""
    return from_fields(system_class(system).MODEL_FIELDS)


def describe(config) -> str:
    """Every field of ``config``: ``path = value  # meaning [choices]``, one per line
    (``--print_config`` of the entry points); ``data.features.*`` only where the config's
    input type has such options."""
    from seru.data import inputs

    flat = _flatten(config)
    itype = inputs.INPUTS.get(flat.get("data.input"))
    lines = []
    for f in all_fields(config.get("system")):
        if f.path.startswith("data.features.") and not (itype and itype.options):
            continue  # options of another input type
        value = flat.get(f.path, f.default)
        mark = "" if value == f.default else f"  (default {f.default!r})"
        choices = f" {{{' | '.join(map(str, f.choices))}}}" if f.choices else ""
        lines.append(f"{f.path} = {value!r}{mark}  # {f.help}{choices}")
    return "\n".join(lines)


def parse_arg(arg: str | None, defaults: dict, choices: dict | None = None) -> dict:
    """Parses a config argument string ``key=value,key=value`` over ``defaults``.

    ``choices`` maps a key to its allowed values. Unknown keys and bad values
    raise :class:`ConfigError` naming what to use instead.
    """
    out = dict(defaults)
    for item in filter(None, (arg or "").split(",")):
        if "=" not in item:
            raise ConfigError(f"config argument {item!r}: expected key=value (keys: "
                              f"{', '.join(out)})")
        k, v = item.split("=", 1)
        if k not in out:
            raise ConfigError(f"config argument {k!r}: unknown key{_nearest(k, out)}; known: "
                              f"{', '.join(out)}")
        out[k] = v
    for k, allowed in (choices or {}).items():
        if out[k] not in allowed:
            raise ConfigError(f"config argument {k}={out[k]!r}: expected one of "
                              f"{', '.join(allowed)}{_nearest(out[k], allowed)}")
    return out


# =============================================================================
# Systems
# =============================================================================


def system_class(name: str):
    """The class of ``config.system`` (a tag of :data:`seru.systems.SYSTEMS` or
    ``'module:Class'``). Raises :class:`ConfigError` for an unknown one."""
    from seru import systems

    target = name if ":" in name else systems.SYSTEMS.get(name)
    if target is None:
        raise ConfigError(f"system={name!r}: not a known system{_nearest(name, systems.SYSTEMS)}"
                          f"; known: {', '.join(sorted(systems.SYSTEMS))} (or 'module:Class')")
    module, cls = target.split(":")
    try:
        return getattr(importlib.import_module(module), cls)
    except (ImportError, AttributeError) as e:
        raise ConfigError(f"system={name!r}: cannot import {target} ({e})") from None


def get_system(config, time_base=None):
    """The system object of ``config`` with the dataset's ``time_base`` (``None``: the input
    type's default). Call :func:`validate` first; raises :class:`ConfigError` for an unknown
    system."""
    return system_class(config.system)(config, time_base=time_base)


# =============================================================================
# Validation
# =============================================================================


def _nearest(name: str, options: Iterable[str]) -> str:
    m = difflib.get_close_matches(str(name), [str(o) for o in options], n=1, cutoff=0.5)
    return f"; did you mean {m[0]!r}?" if m else ""


def _flatten(cfg, prefix: str = "") -> dict:
    out = {}
    for k, v in cfg.items():
        if isinstance(v, (ml_collections.ConfigDict, dict)):
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _type_ok(value, default) -> bool:
    if isinstance(default, bool):
        return isinstance(value, bool)
    if isinstance(default, (int, float)):
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if isinstance(default, (tuple, list)):
        return isinstance(value, (tuple, list))
    return isinstance(value, type(default))


def check_fields(config, fields: Sequence[Field]) -> list[str]:
    """Problems of ``config`` against a field table: unknown fields (with the nearest known
    one), values of the wrong type, values outside ``choices``."""
    known = {f.path: f for f in fields}
    errors = []
    for path, value in _flatten(config).items():
        f = known.get(path)
        if f is None:
            errors.append(f"unknown config field {path!r}{_nearest(path, known)} "
                          f"(python -m seru.train --print_config lists every field)")
        elif f.choices is not None and value not in f.choices:
            errors.append(f"{path}={value!r}: expected one of "
                          f"{', '.join(map(repr, f.choices))}{_nearest(value, f.choices)}")
        elif not _type_ok(value, f.default):
            errors.append(f"{path}={value!r}: expected a {type(f.default).__name__} "
                          f"like the default {f.default!r}")
    return errors


def validate(config, check_corpus: bool = True) -> None:
    """Raises :class:`ConfigError` (one line a problem) before any file is written or any
    corpus built.

    Checks every field against :func:`all_fields` (unknown names, types,
    choices), the shared ranges, the batch sizes against the device count, the
    system's own checks (``System.check_config``), that the system's input
    type is registered and its own checks (``InputType.check``), and
    (``check_corpus``) that the corpus and variant
    exist and are built or may be built.
    """
    try:
        fields = all_fields(config.get("system", ""))
    except ConfigError as e:
        raise ConfigError(str(e)) from None
    errors = check_fields(config, fields)
    if errors:  # later checks assume the fields exist
        raise ConfigError("\n".join(errors))
    errors += _check_ranges(config)
    cls = system_class(config.system)
    errors += list(cls.check_config(config))
    from seru.data import inputs

    if config.data.input not in inputs.INPUTS:
        errors.append(f"data.input={config.data.input!r}: expected one of "
                      f"{', '.join(inputs.INPUTS)}{_nearest(config.data.input, inputs.INPUTS)}")
    elif cls.INPUT and cls.INPUT != config.data.input:
        errors.append(f"data.input={config.data.input!r}: system {config.system!r} reads "
                      f"{cls.INPUT!r}")
    else:
        errors += list(inputs.get(config.data.input).check(config))
    if errors:
        raise ConfigError("\n".join(errors))
    if check_corpus:
        _check_corpus(config)


def _check_ranges(config) -> list[str]:
    import jax

    d, t, e, o = config.data, config.train, config.eval, config.optimizer
    errors = []

    def need(cond, msg):
        if not cond:
            errors.append(msg)

    need(len(d.dimensions) > 0 and all(isinstance(x, str) for x in d.dimensions),
         f"data.dimensions={d.dimensions!r}: expected a tuple of rating dimension names")
    for name in ("delay_frames", "eval_context", "max_recordings"):
        need(d[name] >= 0, f"data.{name}={d[name]}: expected >= 0")
    for name in ("seq_len", "batch_size", "eval_seq_len"):
        need(d[name] > 0, f"data.{name}={d[name]}: expected > 0")
    need(bool(d.train_split), "data.train_split: expected a split name, got ''")
    n_dev = jax.device_count()
    for name, b in (("data.batch_size", d.batch_size), ("eval.batch_size", e.batch_size)):
        need(b > 0 and b % n_dev == 0,
             f"{name}={b}: expected a positive multiple of the {n_dev} devices (the batch is "
             f"sharded over them)")
    need(o.learning_rate > 0, f"optimizer.learning_rate={o.learning_rate}: expected > 0")
    need(o.grad_clip_norm >= 0, f"optimizer.grad_clip_norm={o.grad_clip_norm}: expected >= 0")
    need(t.num_epochs > 0 or t.num_steps > 0,
         "train.num_epochs and train.num_steps are both 0: expected one of them > 0")
    for name in ("keep_checkpoints", "log_every_steps", "checkpoint_every_steps"):
        need(t[name] >= 1, f"train.{name}={t[name]}: expected >= 1")
    need(t.select_by == "train_loss" or (t.select_by.startswith("dev:") and len(t.select_by) > 4),
         f"train.select_by={t.select_by!r}: expected 'train_loss' or 'dev:<metric>' "
         f"(e.g. dev:ccc_m)")
    need(t.patience_epochs >= 0, f"train.patience_epochs={t.patience_epochs}: expected >= 0")
    need(t.patience_epochs == 0 or t.select_by.startswith("dev:"),
         f"train.patience_epochs={t.patience_epochs}: early stopping watches a dev metric; "
         f"set train.select_by='dev:<metric>' (it is {t.select_by!r})")
    if t.select_by.startswith("dev:"):
        need(t.eval_every_epochs > 0 and bool(d.dev_split),
             f"train.select_by={t.select_by!r}: needs a dev evaluation; set "
             f"train.eval_every_epochs > 0 and data.dev_split")
    need(e.num_samples >= 1, f"eval.num_samples={e.num_samples}: expected >= 1")
    need(e.median_window >= 0, f"eval.median_window={e.median_window}: expected >= 0")
    need(0 < e.conformal_alpha < 1,
         f"eval.conformal_alpha={e.conformal_alpha}: expected a miscoverage in (0, 1)")
    need(not e.conformal or bool(d.dev_split),
         "eval.conformal=True: the conformal thresholds are fitted on dev; set data.dev_split")
    from seru import evaluators

    for name in e.evaluators:
        need(name in evaluators.EVALUATORS, f"eval.evaluators: unknown {name!r}"
             f"{_nearest(name, evaluators.EVALUATORS)}; known: {', '.join(evaluators.EVALUATORS)}")
    if t.tensorboard and importlib.util.find_spec("tensorboardX") is None:
        errors.append("train.tensorboard=True: needs tensorboardX (pip install tensorboardX), "
                      "or set --config.train.tensorboard=False")
    return errors


def _check_corpus(config) -> None:
    from seru.data import corpora

    d = config.data
    if d.corpus not in corpora.CORPORA:
        raise ConfigError(f"data.corpus={d.corpus!r}: not a known corpus"
                          f"{_nearest(d.corpus, corpora.CORPORA)}; known: "
                          f"{', '.join(sorted(corpora.CORPORA))}")
    try:
        builder = corpora.get_builder(d.corpus, d.variant or None, d.data_dir or None,
                                      d.manual_dir or None)
    except ValueError as e:  # unknown variant
        raise ConfigError(f"data.variant={d.variant!r}: {e}") from None
    except ImportError as e:
        raise ConfigError(f"data.corpus={d.corpus!r}: its builder cannot be imported ({e})"
                          ) from None
    if builder.is_prepared():
        return
    where = f"{d.corpus} (variant {d.variant or 'default'}) is not built in {builder.data_dir}"
    if not d.build:
        raise ConfigError(f"data.build=False: corpus {where}; build it with `python -m "
                          f"seru.data --corpus {d.corpus}` or set --config.data.build=True")
    if d.corpus in corpora.MANUAL:
        if not d.manual_dir:
            raise ConfigError(f"data.manual_dir: corpus {where} and is built from files you "
                              f"provide; set --config.data.manual_dir=DIR to your copy")
        if not Path(d.manual_dir).is_dir():
            raise ConfigError(f"data.manual_dir={d.manual_dir!r}: not an existing directory")


def checkpoint_kind(config, which: str) -> str:
    """The checkpoint kind that ``which`` names (``best`` = the one ``train.select_by``
    selects). Raises :class:`ConfigError` for an unknown name."""
    if which not in CHECKPOINT_CHOICES:
        raise ConfigError(f"--checkpoint={which!r}: expected one of "
                          f"{', '.join(CHECKPOINT_CHOICES)}{_nearest(which, CHECKPOINT_CHOICES)}")
    if which == "best":
        return "best_dev" if config.train.select_by.startswith("dev:") else "best_train_loss"
    return which


# =============================================================================
# Workdirs
# =============================================================================


def to_dict(config) -> dict:
    """A JSON-able plain dict of ``config`` (tuples as lists)."""
    return json.loads(config.to_json_best_effort())


def save(config, workdir: str | Path) -> None:
    """Writes ``workdir/config.json`` atomically."""
    path = Path(workdir) / "config.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(config.to_json_best_effort(indent=2) + "\n")
    tmp.replace(path)


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(base[k], v) if isinstance(v, dict) and isinstance(base.get(k), dict) else v
    return out


def _prune(raw: dict, ref: dict) -> dict:
    """``raw`` without the keys ``ref`` does not have (fields retired since the run)."""
    return {k: (_prune(v, ref[k]) if isinstance(v, dict) and isinstance(ref[k], dict) else v)
            for k, v in raw.items() if k in ref}


def _to_config(x):
    if isinstance(x, dict):
        return ml_collections.ConfigDict({k: _to_config(v) for k, v in x.items()})
    if isinstance(x, list):
        return tuple(_to_config(v) for v in x)
    return x


def load(workdir: str | Path) -> ml_collections.ConfigDict:
    """The config of a training workdir (``workdir/config.json``).

    Fields added since the run was made take their defaults; fields retired
    since are dropped, so old workdirs evaluate with the current code.
    Raises ``FileNotFoundError`` if ``workdir`` holds no ``config.json``.
    """
    path = Path(workdir) / "config.json"
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: is {workdir} a seru training workdir?")
    return _to_config(_completed(json.loads(path.read_text())))


def _completed(raw: dict) -> dict:
    """``raw`` (a config as a dict) over the defaults of its system, without retired fields."""
    ref = to_dict(defaults())
    try:
        ref["model"] = to_dict(model_defaults(raw.get("system", "")))
    except ConfigError:
        ref["model"] = raw.get("model", {})
    return _prune(_merge(ref, raw), ref)


def changed_fields(old, new) -> list[str]:
    """``path: old -> new`` of every field whose value differs between two configs (each
    completed with the defaults first)."""
    a, b = _flatten(_completed(to_dict(old))), _flatten(_completed(to_dict(new)))
    return [f"{k}: {a.get(k, '<unset>')!r} -> {b.get(k, '<unset>')!r}"
            for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]


#: Fields that say how a run is launched, not what it computes: a run may resume with
#: others (e.g. on one process after a multi-process start, from a checkpoint of any topology).
LAUNCH_FIELDS = ("train.distributed", "train.progress_bar")


def check_workdir(config, workdir: str | Path) -> bool:
    """Whether ``workdir`` already holds a run; raises :class:`ConfigError` listing the
    changed fields if that run's config differs from ``config`` (:data:`LAUNCH_FIELDS`
    may differ).

    Nothing is written: the caller saves the config once the run has started
    cleanly (:func:`save`).
    """
    if not (Path(workdir) / "config.json").exists():
        return False
    changes = [c for c in changed_fields(load(workdir), config)
               if c.split(":", 1)[0] not in LAUNCH_FIELDS]
    if changes:
        raise ConfigError(
            f"{workdir} holds a run with another config ({len(changes)} changed field"
            f"{'s' if len(changes) > 1 else ''}: {'; '.join(changes)}). Use a new --workdir, "
            f"or rerun the command that made the run (its config: "
            f"{Path(workdir) / 'config.json'}) to resume it")
    return True


# =============================================================================
# Entry points: config files and flags
# =============================================================================


def load_file(spec: str) -> ml_collections.ConfigDict:
    """The config of ``path.py[:arg]`` (``get_config(arg)``) or of a workdir's ``config.json``."""
    path, _, arg = spec.partition(":")
    if path.endswith(".json"):
        return load(Path(path).parent)
    s = importlib.util.spec_from_file_location("_seru_experiment_config", path)
    if s is None or not Path(path).exists():
        raise ConfigError(f"--config={spec!r}: no such config file")
    mod = importlib.util.module_from_spec(s)
    s.loader.exec_module(mod)
    return mod.get_config(arg or None)


def _parses_as(value: str, default) -> bool:
    """Whether a command-line ``value`` can become a field of ``default``'s type."""
    if isinstance(default, bool):
        return value.lower() in ("true", "false", "1", "0")
    try:
        if isinstance(default, (int, float)):
            float(value) if isinstance(default, float) else int(value)
    except ValueError:
        return False
    return True


def _config_spec(argv: Sequence[str]) -> str | None:
    spec = next((a.split("=", 1)[1] for a in argv if a.startswith("--config=")), None)
    if spec is None:
        i = next((i for i, a in enumerate(argv) if a == "--config"), None)
        spec = argv[i + 1] if i is not None and i + 1 < len(argv) else None
    return spec


def _missing_file(spec: str | None) -> str | None:
    path = (spec or "").partition(":")[0]
    if spec is None or Path(path).is_file():
        return None
    return f"--config={spec}: no such config file {str(Path(path).absolute())!r}"


def _bad_override(argv: Sequence[str]) -> str | None:
    """A one-line description of the first ``--config.a.b=v`` of ``argv`` that names no field
    or whose value cannot have the field's type; ``None`` if there is none."""
    spec = _config_spec(argv)
    if spec is None:
        return None
    if _missing_file(spec):
        return _missing_file(spec)
    try:
        known = _flatten(load_file(spec))
    except Exception:  # the config file itself fails: let the original error speak
        return None
    for a in argv:
        if a.startswith("--config.") and "=" in a:
            path, value = a[len("--config."):].split("=", 1)
            if path not in known:
                return (f"unknown config field {path!r} (from {a}){_nearest(path, known)} "
                        f"(--print_config lists every field)")
            if not _parses_as(value, known[path]):
                return (f"{path}={value!r}: expected a {type(known[path]).__name__} like "
                        f"the default {known[path]!r} (from {a})")
    return None


def parse_flags(argv: Sequence[str]):
    """``absl`` flags parser for the entry points (``app.run(main, flags_parser=...)``).

    A bad ``--config`` file, a typo'd ``--config.a.b`` or a value of the wrong
    type ends the program with one line instead of chained tracebacks.
    """
    from absl import flags

    missing = _missing_file(_config_spec(argv))
    if missing:  # the config flag loads lazily and would fail later with a traceback
        sys.stderr.write(f"config error: {missing}\n")
        raise SystemExit(2)
    try:
        return flags.FLAGS(argv)
    except (flags.Error, AttributeError, KeyError, TypeError, ValueError, OSError) as e:
        msg = _bad_override(argv)
        if msg is None:
            cause = e
            while cause.__cause__ is not None or cause.__context__ is not None:
                cause = cause.__cause__ or cause.__context__
            msg = str(cause).replace("\\n", " ").replace("\n", " ")
        sys.stderr.write(f"config error: {msg}\n")
        raise SystemExit(2) from None


def exit_on_error(fn, *args, **kwargs):
    """Runs ``fn``; a :class:`ConfigError`, a :class:`seru.data.errors.CorpusMismatch` (the
    corpus lacks what the config asks for), a :class:`seru.data.errors.CorpusBuildError` (a
    corpus build that stopped) or a missing workdir file ends the program with its message
    (``config error: ...``) and exit code 2, without a traceback."""
    from seru.data.errors import CorpusBuildError, CorpusMismatch

    try:
        return fn(*args, **kwargs)
    except (ConfigError, CorpusMismatch, CorpusBuildError, FileNotFoundError) as e:
        sys.stderr.write(f"error: {e}\n" if isinstance(e, FileNotFoundError)
                         else f"config error: {e}\n")
        raise SystemExit(2) from None


def print_config(config) -> None:
    """Prints :func:`describe` (the ``--print_config`` flag)."""
    print(describe(config))


__all__ = ["ConfigError", "Field", "FIELDS", "defaults", "model_defaults", "all_fields",
           "describe", "parse_arg", "system_class", "get_system", "validate", "check_fields",
           "checkpoint_kind", "save", "load", "changed_fields", "check_workdir", "load_file",
           "parse_flags", "exit_on_error", "print_config"]
