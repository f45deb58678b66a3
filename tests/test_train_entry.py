"""Tests of config validation and of the entry points ``python -m seru.train / seru.evaluate``."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from seru import config as config_lib
from toy_system import REPO, np_ccc


# ----------------------------------------------------------------------------
# validate(config): every error before any compute, saying what to fix
# ----------------------------------------------------------------------------


@pytest.mark.parametrize("field, value, message", [
    ("data.gold", "median", "data.gold='median': expected one of 'mean', 'ewe', 'avec'; "
                            "did you mean 'mean'?"),
    ("data.input", "raw_audi", "data.input='raw_audi': expected one of raw_audio, functionals, "
                               "frame_features, utterance_frames; "
                               "did you mean 'raw_audio'?"),
    ("data.input", "functionals", "data.input='functionals': system 'toy_system:ToySystem' "
                                  "reads 'raw_audio'"),
    ("data.seq_len", 0, "data.seq_len=0: expected > 0"),
    ("optimizer.name", "lamb", "optimizer.name='lamb'"),
    ("optimizer.learning_rate", -1.0, "optimizer.learning_rate=-1.0: expected > 0"),
    ("train.select_by", "best", "train.select_by='best': expected 'train_loss' or "
                                "'dev:<metric>'"),
    ("eval.num_samples", 0, "eval.num_samples=0: expected >= 1"),
    ("eval.evaluators", ("metrics", "figurs"), "eval.evaluators: unknown 'figurs'; did you "
                                               "mean 'figures'?"),
    ("model.dropout", 1.5, "model.dropout=1.5: expected in [0, 1)"),
])
def test_validate_rejects_bad_values(toy_config, field, value, message):
    section, key = field.split(".")
    toy_config[section][key] = value
    with pytest.raises(config_lib.ConfigError) as err:
        config_lib.validate(toy_config, check_corpus=False)
    assert message in str(err.value)


def test_validate_rejects_unknown_fields(toy_config):
    toy_config.data.seq_length = 300          # a typo of seq_len
    toy_config.model.hiden = 3                # not a field of the toy system's model
    with pytest.raises(config_lib.ConfigError) as err:
        config_lib.validate(toy_config, check_corpus=False)
    assert "unknown config field 'data.seq_length'; did you mean 'data.seq_len'?" in str(err.value)
    assert "unknown config field 'model.hiden'; did you mean 'model.hidden'?" in str(err.value)
    assert len(str(err.value).splitlines()) == 2  # one line a problem
    toy_config.system = "prabhu99"
    with pytest.raises(config_lib.ConfigError, match="system='prabhu99': not a known system; "
                                                     "did you mean 'prabhu22'"):
        config_lib.validate(toy_config, check_corpus=False)


def test_validate_select_by_dev_needs_dev_eval(toy_config):
    toy_config.train.select_by = "dev:ccc_m"
    toy_config.train.eval_every_epochs = 0
    with pytest.raises(config_lib.ConfigError, match="needs a dev evaluation"):
        config_lib.validate(toy_config, check_corpus=False)


def test_validate_corpus_checks(toy_config, tmp_path):
    c = toy_config
    c.data.data_dir = str(tmp_path)
    c.data.corpus = "no_such_corpus"
    with pytest.raises(config_lib.ConfigError, match="data.corpus='no_such_corpus': not a known"):
        config_lib.validate(c)
    c.data.corpus, c.data.variant = "seru_synth_continuous", "huge"
    with pytest.raises(config_lib.ConfigError, match="data.variant='huge': .*no variant 'huge'.*tiny"):
        config_lib.validate(c)
    c.data.variant, c.data.build = "tiny", False
    with pytest.raises(config_lib.ConfigError) as err:
        config_lib.validate(c)
    assert "is not built in" in str(err.value)
    assert "python -m seru.data --corpus seru_synth_continuous" in str(err.value)
    c.data.corpus, c.data.variant, c.data.build = "avec2016", "", True
    with pytest.raises(config_lib.ConfigError, match="--config.data.manual_dir=DIR"):
        config_lib.validate(c)
    c.data.manual_dir = str(tmp_path / "missing")
    with pytest.raises(config_lib.ConfigError, match="manual_dir=.*not an existing directory"):
        config_lib.validate(c)


def test_unknown_checkpoint_choice(toy_config):
    assert config_lib.checkpoint_kind(toy_config, "best") == "best_train_loss"
    with pytest.raises(ValueError, match="--checkpoint='newest'"):
        config_lib.checkpoint_kind(toy_config, "newest")


# ----------------------------------------------------------------------------
# The command line
# ----------------------------------------------------------------------------

TOY_CONFIG_FILE = '''
import sys
sys.path.insert(0, {tests!r})
from toy_system import make_toy_config

def get_config(arg=None):
    c = make_toy_config()
    c.data.corpus, c.data.variant, c.data.data_dir = "seru_synth_continuous", "tiny", {data!r}
    c.data.seq_len, c.data.eval_seq_len = 50, 100
    c.train.num_epochs, c.train.eval_every_epochs = 2, 1
    c.eval.median_window, c.eval.plot = 5, True
    return c
'''


def _run(args, env_extra=None, timeout=600):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO / "tests"), str(REPO)]),
               JAX_PLATFORMS="cpu", **(env_extra or {}))
    return subprocess.run([sys.executable, "-m", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout)


def test_cli_config_error_stops_before_compute(tmp_path):
    cfg = tmp_path / "toy.py"
    cfg.write_text(TOY_CONFIG_FILE.format(tests=str(REPO / "tests"), data=str(tmp_path / "d")))
    out = _run(["seru.train", f"--config={cfg}", f"--workdir={tmp_path / 'w'}",
                "--config.data.gold=median"])
    assert out.returncode != 0
    assert "config error: data.gold='median'" in out.stderr
    assert not (tmp_path / "w").exists()  # nothing was written, nothing built
    assert not (tmp_path / "d").exists()


@pytest.mark.slow
def test_cli_train_then_evaluate_tiny_corpus(tmp_path):
    """The whole job on the tiny synthetic corpus with the toy system (about 40 s on 2 cores)."""
    cfg = tmp_path / "toy.py"
    cfg.write_text(TOY_CONFIG_FILE.format(tests=str(REPO / "tests"), data=str(tmp_path / "d")))
    wd = tmp_path / "w"
    out = _run(["seru.train", f"--config={cfg}", f"--workdir={wd}",
                "--config.train.progress_bar=False"])
    assert out.returncode == 0, out.stderr[-3000:]
    rows = [json.loads(x) for x in (wd / "metrics.jsonl").read_text().splitlines()]
    steps_per_epoch = rows[0]["steps_per_epoch"]
    assert [r["step"] for r in rows if r["kind"] == "epoch"] == [steps_per_epoch, 2 * steps_per_epoch]
    assert json.loads((wd / "config.json").read_text())["data"]["variant"] == "tiny"
    assert (wd / "eval" / "dev" / "metrics.json").exists()  # train evaluates eval.splits
    out = _run(["seru.evaluate", f"--workdir={wd}", "--split=test", "--num_samples=5",
                "--checkpoint=latest"])
    assert out.returncode == 0, out.stderr[-3000:]
    saved = json.loads((wd / "eval" / "test" / "metrics.json").read_text())
    assert (saved["split"], saved["num_samples"], saved["step"]) == ("test", 5, 2 * steps_per_epoch)
    assert "ccc_m" in out.stdout  # the human-readable table
    npz = np.load(wd / "eval" / "test" / "predictions.npz")
    ids = sorted({k.split("/")[0] for k in npz.files})
    assert len(ids) == 2 and saved["num_items"] == 2
    v = [npz[f"{i}/target_mask"] > 0 for i in ids]
    mh = np.concatenate([npz[f"{i}/m_hat"][m] for i, m in zip(ids, v)]).ravel()
    g = np.concatenate([npz[f"{i}/target_gold"][m] for i, m in zip(ids, v)]).ravel()
    np.testing.assert_allclose(saved["metrics"]["ccc_m"], np_ccc(mh, g), rtol=1e-5)


def _load_config_file(name, arg=None):
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"cfg_{name}", REPO / "configs" / name)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.get_config(arg)


@pytest.mark.parametrize("variant, alpha", [("mu", 0.0), ("lu", -1.0), ("lu_t", -1.0),
                                            ("stl", -1.0), ("mtl_pu", -1.0)])
def test_prabhu22_config_variants_validate(variant, alpha):
    c = _load_config_file("prabhu22_bbb.py", f"variant={variant},protocol=paper")
    config_lib.validate(c, check_corpus=False)
    assert (c.system, c.model.variant, c.model.alpha) == ("prabhu22", variant, alpha)
    # The paper's protocol (prabhu22 Sec. 4.3).
    assert (c.optimizer.name, c.optimizer.learning_rate, c.data.batch_size, c.data.seq_len,
            c.model.window, c.eval.median_window, c.eval.num_samples, c.train.num_epochs,
            c.train.select_by) == ("adam", 1e-4, 5, 300, 50, 50, 30, 100, "train_loss")
    cpu = _load_config_file("prabhu22_bbb.py", f"variant={variant},corpus=avec2016")
    assert cpu.data.corpus == "avec2016" and cpu.model.sampler == "local"


def test_prabhu22_config_bad_arguments():
    with pytest.raises(ValueError, match="variant='bnn'"):
        _load_config_file("prabhu22_bbb.py", "variant=bnn")
    with pytest.raises(ValueError, match="unknown key; did you mean 'variant'.; known: variant, corpus, protocol"):
        _load_config_file("prabhu22_bbb.py", "varaint=lu")
    with pytest.raises(ValueError, match="protocol='gpu'"):
        _load_config_file("prabhu22_bbb.py", "protocol=gpu")


def test_quickstart_config_validates():
    c = _load_config_file("quickstart.py")
    config_lib.validate(c, check_corpus=False)
    # +LU, Eq. (8) as written, on per-frame log-mel energies (configs/quickstart.py says why).
    assert (c.data.corpus, c.data.variant, c.model.variant) == (
        "seru_synth_continuous", "quickstart", "lu")
    assert tuple(c.model.rho_init) == (-2.0, -1.0) and c.model.label_kl_grad == "all"
    assert c.model.frontend == "logmel" and c.data.audio_norm == "none"
    # The paper protocol keeps the paper's raw-audio conv front end.
    paper = _load_config_file("prabhu22_bbb.py", "variant=lu,protocol=paper")
    assert paper.model.frontend == "conv" and tuple(paper.model.rho_init) == (-3.0, -2.0)
