"""Multi-process training and evaluation on ``jax.distributed``, with real processes.

Two processes on 127.0.0.1, each with 2 virtual CPU devices
(``--xla_force_host_platform_device_count=2``), make the same 4-device
``"data"`` mesh as one process with 4; JAX's CPU collectives (gloo) carry the
gradient all-reduce between them. The toy system (``tests/toy_system.py``) on
the tiny synthetic corpus trains through ``python -m seru.train`` exactly as a
user starts it on a cluster (``JAX_COORDINATOR_ADDRESS`` / ``JAX_NUM_PROCESSES``
/ ``JAX_PROCESS_ID``, ``--config.train.distributed=True``).

Tolerance: the two runs sum the per-device gradients in another order (gloo
across processes, XLA inside one), so losses and parameters agree to float32
rounding, not bit for bit: rtol 1e-5 after 6 steps (measured: loss differences
<= 3e-8, parameters <= 3e-11).
"""

import json
import os
import socket
import subprocess
import sys

import jax
import numpy as np
import pytest

from toy_system import REPO
from seru.checkpoints import load_params

CONFIG_FILE = '''
import sys
sys.path.insert(0, {tests!r})
from toy_system import make_toy_config

def get_config(arg=None):
    c = make_toy_config()
    c.data.corpus, c.data.variant, c.data.data_dir = "seru_synth_continuous", "tiny", {data!r}
    c.data.seq_len, c.data.eval_seq_len = 50, 100
    c.train.num_epochs, c.train.eval_every_epochs = 2, 0
    c.eval.splits, c.eval.plot = (), False
    if arg == "long":  # 10 epochs of 30 steps, for a SIGTERM to land mid-run
        c.data.seq_len, c.train.num_epochs = 5, 10
        c.train.checkpoint_every_steps = 10_000
    return c
'''


def write_config(root):
    """The config file ``root/toy.py`` (``toy.py:long``: 300 steps) on a corpus under root."""
    (root / "toy.py").write_text(CONFIG_FILE.format(tests=str(REPO / "tests"),
                                                    data=str(root / "data")))
STEPS = 6  # 2 epochs of 3 steps of 4 crops


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clean_env(devices, process_id=None, num_processes=None, port=None):
    """This environment without JAX_* / SLURM_* settings, on CPU with ``devices`` devices
    (with ``num_processes``: process ``process_id`` of a loopback job on ``port``)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("JAX_", "SLURM_")) and k != "XLA_FLAGS"}
    env.update(JAX_PLATFORMS="cpu", PYTHONPATH=str(REPO / "tests"),
               XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}")
    if num_processes is not None:
        env.update(JAX_COORDINATOR_ADDRESS=f"127.0.0.1:{port}",
                   JAX_NUM_PROCESSES=str(num_processes), JAX_PROCESS_ID=str(process_id))
    return env


def run_processes(module_args, processes, devices, cwd, timeout=300):
    """``python -m <module_args>`` as ``processes`` processes of ``devices`` CPU devices each
    (``processes > 1``: one jax.distributed job on a free loopback port); returns their
    CompletedProcess results, process 0 first."""
    port = _free_port()
    procs = []
    for i in range(processes):
        env = clean_env(devices, *((i, processes, port) if processes > 1 else ()))
        extra = [] if processes == 1 else (
            ["--config.train.distributed=True"] if module_args[0] == "seru.train"
            else ["--distributed"])
        procs.append(subprocess.Popen([sys.executable, "-m", *module_args, *extra], cwd=cwd,
                                      env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      text=True))
    outs = []
    for p in procs:
        try:
            out, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            for q in procs:
                q.kill()
            raise
        outs.append(subprocess.CompletedProcess(p.args, p.returncode, out, err))
    for i, o in enumerate(outs):
        assert o.returncode == 0, f"process {i} of {processes}:\n{o.stderr[-3000:]}"
    return outs


def train(root, workdir, processes, devices, *flags, config="toy.py"):
    return run_processes(["seru.train", "--config", str(root / config), "--workdir",
                          str(root / workdir), *flags], processes, devices, root)


def rows(workdir, kind):
    lines = (workdir / "metrics.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if r["kind"] == kind]


def losses(workdir):
    return [(r["step"], r["loss"]) for r in rows(workdir, "train")]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The reference (1 process, 4 devices; it also builds the corpus), the same run on 2
    processes, and runs that change topology at a checkpoint (step 3) in both directions."""
    root = tmp_path_factory.mktemp("multiprocess")
    write_config(root)
    train(root, "one", 1, 4)
    train(root, "two", 2, 2)
    train(root, "two_then_one", 2, 2, "--stop_after_steps=3")
    train(root, "two_then_one", 1, 4)
    train(root, "one_then_two", 1, 4, "--stop_after_steps=3")
    train(root, "one_then_two", 2, 2)
    return root


def assert_same_run(a, b, steps=STEPS):
    """Runs ``a`` and ``b`` logged the same loss at every step and ended with the same
    parameters (rtol 1e-5, see the module docstring)."""
    la, lb = losses(a), losses(b)
    assert [s for s, _ in la] == [s for s, _ in lb] == list(range(1, steps + 1))
    np.testing.assert_allclose([x for _, x in la], [x for _, x in lb], rtol=1e-5)
    pa, pb = load_params(a), load_params(b)
    assert jax.tree.structure(pa) == jax.tree.structure(pb)
    for x, y in zip(jax.tree.leaves(pa), jax.tree.leaves(pb)):
        np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-7)


def test_two_processes_train_as_one_process_with_four_devices(runs):
    one, two = runs / "one", runs / "two"
    (info_one,), (info_two,) = rows(one, "info"), rows(two, "info")
    assert (info_one["devices"], info_one["processes"]) == (4, 1)
    assert (info_two["devices"], info_two["processes"]) == (4, 2)
    assert_same_run(one, two)
    # Only process 0 writes the run's files: one metrics row per step, not two.
    assert len(rows(two, "epoch")) == 2


@pytest.mark.parametrize("workdir", ["two_then_one", "one_then_two"])
def test_a_checkpoint_continues_on_another_topology(runs, workdir):
    """Stopped at step 3 on one topology, resumed on the other: the same run as the
    uninterrupted reference (losses logged after the resume, final parameters)."""
    assert_same_run(runs / "one", runs / workdir)


def _evaluate(root, processes, devices, *flags):
    run_processes(["seru.evaluate", "--workdir", str(root / "one"), "--split", "dev",
                   "--checkpoint", "latest", *flags], processes, devices, root)
    return json.loads((root / "one" / "eval" / "dev" / "metrics.json").read_text())


def test_evaluation_on_two_processes_writes_the_same_metrics(runs):
    """seru.evaluate on 1 device, on 4 devices of one process and on 2 processes of 2, the
    MC passes also split over 2 of the devices (--pass_shards=2): the same metrics.json
    (the random bits of the MC dropout passes do not depend on the sharding)."""
    single = _evaluate(runs, 1, 1)
    four = _evaluate(runs, 1, 4)
    two = _evaluate(runs, 2, 2)
    four_p = _evaluate(runs, 1, 4, "--pass_shards=2")
    two_p = _evaluate(runs, 2, 2, "--pass_shards=2")
    assert [(r["devices"], r["processes"], r["pass_shards"])
            for r in (single, four, two, four_p, two_p)] == [
        (1, 1, 1), (4, 1, 1), (4, 2, 1), (4, 1, 2), (4, 2, 2)]
    assert single["num_items"] == two["num_items"] > 0
    for other in (four, two, four_p, two_p):
        assert set(other["metrics"]) == set(single["metrics"])
        for k, v in single["metrics"].items():
            assert other["metrics"][k] == pytest.approx(v, rel=1e-5, abs=1e-7), k
