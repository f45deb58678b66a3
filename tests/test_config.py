"""Tests of seru/config.py at the entry points: one-line errors before anything is written,
workdirs that are never damaged, --print_config, and defaults shipped inside the package."""

import os
import subprocess
import sys

import pytest

from seru import config as config_lib
from seru import evaluation, trainer
from seru.data import pipeline
from toy_system import REPO, ToySystem

QUICKSTART = str(REPO / "configs" / "quickstart.py")


def _run(args, cwd=REPO, env_extra=None, python=sys.executable):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO / "tests"), str(REPO)]),
               JAX_PLATFORMS="cpu", **(env_extra or {}))
    return subprocess.run([python, "-m", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


@pytest.mark.parametrize("override, message", [
    ("--config.model.variant=xx", "config error: model.variant='xx': expected one of 'mu', "
                                  "'lu', 'lu_t', 'stl', 'mtl_pu'"),
    ("--config.model.frontend=mfcc", "config error: model.frontend='mfcc': expected one of "
                                     "'conv', 'logmel'"),
    ("--config.model.varaint=lu", "config error: unknown config field 'model.varaint' (from "
                                  "--config.model.varaint=lu); did you mean 'model.variant'?"),
    ("--config.model.window=0", "config error: model.window=0: expected >= 1 frame"),
])
def test_bad_model_value_stops_before_any_file(tmp_path, override, message):
    out = _run(["seru.train", f"--config={QUICKSTART}", f"--workdir={tmp_path / 'w'}",
                f"--config.data.data_dir={tmp_path / 'd'}", override])
    assert out.returncode == 2
    assert out.stderr.strip().splitlines()[-1].startswith(message), out.stderr[-2000:]
    assert "Traceback" not in out.stderr
    assert not (tmp_path / "w").exists() and not (tmp_path / "d").exists()


def test_print_config_lists_every_field_with_default_and_meaning():
    out = _run(["seru.train", f"--config={QUICKSTART}", "--print_config"])
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.strip().splitlines()
    config = config_lib.load_file(QUICKSTART)
    fields = [f for f in config_lib.all_fields("prabhu22")
              if not f.path.startswith("data.features.")]  # options of another input type
    assert len(lines) == len(fields) == len(config_lib._flatten(config)) - 16
    assert "model.frontend = 'logmel'  (default 'conv')  # " in out.stdout
    assert "eval.num_samples = 30  # MC passes at evaluation and prediction" in out.stdout
    assert all("  # " in line for line in lines)


def test_no_field_defined_twice():
    for system in ("prabhu22", "sridhar21"):
        paths = [f.path for f in config_lib.all_fields(system)]
        assert len(paths) == len(set(paths))
        leaves = {p.rsplit(".", 1)[-1] for p in paths if p.startswith("model.")}
        assert not leaves & {"num_samples_eval", "num_bins"}  # eval.num_samples, data.features


def test_changed_config_is_refused_and_the_workdir_still_evaluates(toy_config, toy_records,
                                                                    tmp_path):
    cfg = toy_config
    cfg.train.num_epochs, cfg.train.eval_every_epochs = 1, 0
    recs = {k: [pipeline.preprocess_record(r, ("arousal",)) for r in v]
            for k, v in toy_records.items()}
    ds = pipeline.from_recordings(recs, cfg)
    trainer.train_and_evaluate(cfg, tmp_path, dataset=ds)
    saved = (tmp_path / "config.json").read_text()
    before = evaluation.evaluate_checkpoint(tmp_path, "dev", dataset=ds, verbose=False)
    changed = cfg.copy_and_resolve_references()
    changed.model.hidden, changed.optimizer.learning_rate = 16, 1e-3
    with pytest.raises(config_lib.ConfigError) as err:
        trainer.train_and_evaluate(changed, tmp_path, dataset=ds)
    msg = str(err.value)
    assert "2 changed fields: model.hidden: 8 -> 16; optimizer.learning_rate: 0.0001 -> 0.001" \
        in msg and "new --workdir" in msg
    assert (tmp_path / "config.json").read_text() == saved  # untouched
    after = evaluation.evaluate_checkpoint(tmp_path, "dev", dataset=ds, system=ToySystem(cfg),
                                           verbose=False)
    assert after == before
    # The same config resumes (nothing to do: the run is complete) without complaint.
    assert trainer.train_and_evaluate(cfg, tmp_path, dataset=ds)["step"] == 2


def test_non_editable_install_keeps_every_check(tmp_path):
    """The defaults ship inside the package: a wheel installed elsewhere, used from another
    directory without the repository on the path, still rejects an unknown field."""
    import shutil

    src = tmp_path / "src"  # a copy: building writes build/ and *.egg-info beside the sources
    src.mkdir()
    for name in ("setup.cfg", "pyproject.toml", "README.md"):
        shutil.copy(REPO / name, src / name)
    shutil.copytree(REPO / "seru", src / "seru", ignore=shutil.ignore_patterns("__pycache__"))
    wheel = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                            "--no-build-isolation", "-w", str(tmp_path / "wheel"), str(src)],
                           capture_output=True, text=True, timeout=300)
    assert wheel.returncode == 0, wheel.stderr[-2000:]
    (whl,) = (tmp_path / "wheel").glob("seru-*.whl")
    site = tmp_path / "site"
    inst = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target",
                           str(site), str(whl)], capture_output=True, text=True, timeout=300)
    assert inst.returncode == 0, inst.stderr[-2000:]
    cfg = tmp_path / "exp.py"
    cfg.write_text("from seru.config import defaults, model_defaults\n\n"
                   "def get_config(arg=None):\n"
                   "    c = defaults()\n    c.model = model_defaults('prabhu22')\n    return c\n")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(PYTHONPATH=str(site), JAX_PLATFORMS="cpu", PYTHONSAFEPATH="1")
    out = subprocess.run([sys.executable, "-m", "seru.train", f"--config={cfg}",
                          f"--workdir={tmp_path / 'w'}", "--config.data.seq_lenght=3"],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 2, out.stderr[-2000:]
    assert "unknown config field 'data.seq_lenght'" in out.stderr
    where = subprocess.run([sys.executable, "-c", "import seru; print(seru.__file__)"],
                           cwd=tmp_path, env=env, capture_output=True, text=True)
    assert where.stdout.startswith(str(site))
    # and an unknown field set inside the file is caught by validation, not only by the flags
    cfg.write_text(cfg.read_text().replace("    return c", "    c.data.seq_lenght = 3\n"
                                                          "    return c"))
    out = subprocess.run([sys.executable, "-m", "seru.train", f"--config={cfg}",
                          f"--workdir={tmp_path / 'w'}"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 2 and ("config error: unknown config field 'data.seq_lenght'; "
                                    "did you mean 'data.seq_len'?") in out.stderr
    assert not (tmp_path / "w").exists()


@pytest.mark.parametrize("args, message", [
    (["--config=nope.py:x=1"], "config error: --config=nope.py:x=1: no such config file"),
    ([f"--config={QUICKSTART}", "--config.train.num_epochs=abc"],
     "config error: train.num_epochs='abc': expected a int like the default 90"),
])
def test_bad_config_file_or_value_type_is_one_line(tmp_path, args, message):
    out = _run(["seru.train", *args, f"--workdir={tmp_path / 'w'}"], cwd=tmp_path)
    assert out.returncode == 2 and out.stderr.strip().startswith(message), out.stderr[-2000:]
    assert "Traceback" not in out.stderr and not (tmp_path / "w").exists()


def test_evaluate_unknown_split_is_one_line(toy_config, toy_records, tmp_path):
    cfg = toy_config
    cfg.train.num_epochs, cfg.train.eval_every_epochs = 1, 0
    cfg.data.variant, cfg.data.data_dir = "tiny", str(tmp_path / "data")  # built in seconds
    recs = {k: [pipeline.preprocess_record(r, ("arousal",)) for r in v]
            for k, v in toy_records.items()}
    trainer.train_and_evaluate(cfg, tmp_path / "w", dataset=pipeline.from_recordings(recs, cfg))
    with pytest.raises(config_lib.ConfigError, match="--split='tst': .*no split 'tst'"):
        evaluation.evaluate_checkpoint(tmp_path / "w", "tst", verbose=False)
