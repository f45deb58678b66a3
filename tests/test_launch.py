"""Tests of ``launch/local.sh``: train then evaluate one config, called from anywhere.

Run as a user would: from another directory, with no virtual environment
activated (no ``.venv/bin`` on PATH, no VIRTUAL_ENV, PYTHON unset), a config
file and a workdir relative to that directory.
"""

import json
import math
import os
import subprocess

from toy_system import REPO

LAUNCHER = REPO / "launch" / "local.sh"

# The toy system (tests/toy_system.py) on the tiny synthetic corpus, 1 epoch,
# no evaluation inside training (eval.splits empty, no dev evaluation), so the
# launcher's own `seru.evaluate --split test` is the only evaluation.
CONFIG_FILE = '''
import sys
sys.path.insert(0, {tests!r})
from toy_system import make_toy_config

def get_config(arg=None):
    c = make_toy_config()
    if arg == "broken":
        c.system = "broken_system:BrokenSystem"
    c.data.corpus, c.data.variant, c.data.data_dir = "seru_synth_continuous", "tiny", {data!r}
    c.data.seq_len, c.data.eval_seq_len = 50, 100
    c.train.num_epochs, c.train.eval_every_epochs = 1, 0
    c.eval.splits, c.eval.plot = (), False
    return c
'''

# A system that trains like the toy one and fails when it predicts, i.e. only
# at evaluation.
BROKEN_SYSTEM = '''
from toy_system import ToySystem

class BrokenSystem(ToySystem):
    def predict(self, params, batch, rng, num_samples):
        raise RuntimeError("broken on purpose: prediction fails")
'''


def _clean_env(tmp_path):
    """The caller's environment without any activated venv; PYTHONPATH = tests/ + tmp."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("VIRTUAL_ENV", "PYTHON", "PYTHONHOME", "PYTHONPATH")}
    venv_bin = str(REPO / ".venv" / "bin")
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep)
                                  if p and os.path.realpath(p) != os.path.realpath(venv_bin)
                                  and not p.rstrip("/").endswith(".venv/bin"))
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "tests"), str(tmp_path)])
    env["JAX_PLATFORMS"] = "cpu"
    return env


def _launch(tmp_path, config_arg, workdir):
    (tmp_path / "toy.py").write_text(CONFIG_FILE.format(tests=str(REPO / "tests"),
                                                        data=str(tmp_path / "data")))
    (tmp_path / "broken_system.py").write_text(BROKEN_SYSTEM)
    return subprocess.run(["bash", str(LAUNCHER), config_arg, workdir], cwd=tmp_path,
                          env=_clean_env(tmp_path), capture_output=True, text=True, timeout=600)


def _finite_numbers(x):
    if isinstance(x, bool):
        return []
    if isinstance(x, (int, float)):
        return [x]
    if isinstance(x, dict):
        return [n for v in x.values() for n in _finite_numbers(v)]
    if isinstance(x, list):
        return [n for v in x for n in _finite_numbers(v)]
    return []


def test_local_sh_from_another_directory_without_venv(tmp_path):
    """Relative config and workdir land under the caller's directory (about 15 s on 2 cores)."""
    out = _launch(tmp_path, "toy.py", "runs/w")
    assert out.returncode == 0, out.stderr[-3000:]
    wd = tmp_path / "runs" / "w"
    assert not (REPO / "runs" / "w").exists()
    assert json.loads((wd / "config.json").read_text())["data"]["variant"] == "tiny"
    saved = json.loads((wd / "eval" / "test" / "metrics.json").read_text())
    assert saved["split"] == "test"
    metrics = saved["metrics"]
    assert {"ccc_m", "ccc_s", "rmse"} <= set(metrics)
    numbers = _finite_numbers(metrics)
    assert numbers and all(math.isfinite(v) for v in numbers), metrics


def test_local_sh_evaluation_failure_exits_non_zero(tmp_path):
    """Training succeeds, the test evaluation raises: the launcher's exit status says so."""
    out = _launch(tmp_path, "toy.py:broken", "w")
    wd = tmp_path / "w"
    rows = [json.loads(x) for x in (wd / "metrics.jsonl").read_text().splitlines()]
    assert any(r["kind"] == "epoch" for r in rows)  # training ran and finished
    assert out.returncode != 0
    assert "broken on purpose" in out.stderr
    assert not (wd / "eval" / "test" / "metrics.json").exists()
