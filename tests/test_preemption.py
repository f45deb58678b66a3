"""Preemption: a SIGTERM saves a checkpoint at one step on every process and exits 0; the
same command resumes and ends where an uninterrupted run ends.

Two ways in, as on a cluster: ``python -m seru.train`` on one process, and
``launch/slurm.sh`` on two processes under a stand-in ``srun`` (``STUB_SRUN``)
that starts the tasks on this machine with the variables a real ``srun`` sets
(``SLURM_PROCID``, ``SLURM_NTASKS``, ``SLURM_STEP_NODELIST``, ...), so JAX's
own Slurm detection makes the coordinator address and the process ids: the
code path of a cluster. The signal goes to the whole job (script, srun, tasks),
as Slurm sends it on preemption. The toy run (``toy.py:long``) has 300 steps;
the signal is sent once step 20 is logged.
"""

import json
import os
import random
import signal
import socket
import subprocess
import sys
import time

import pytest

from test_multiprocess import (REPO, assert_same_run, clean_env, rows, train,
                               write_config)
from seru.checkpoints import Checkpoints

STEPS = 300

# srun on one machine: SLURM_NTASKS copies of the command (--ntasks=N overrides), each with
# the variables srun sets for a one-node step; a SIGTERM to srun itself is waited out (the
# tasks get their own), its exit status is the first failing task's.
STUB_SRUN = r'''#!/usr/bin/env bash
n=${SLURM_NTASKS:-1}
while [[ $# -gt 0 && $1 == -* ]]; do
  case $1 in --ntasks=*) n=${1#*=} ;; esac
  shift
done
pids=()
for ((i = 0; i < n; i++)); do
  SLURM_NTASKS=$n SLURM_PROCID=$i SLURM_LOCALID=$i SLURM_NODEID=0 \
    SLURM_STEP_NODELIST=localhost SLURM_STEP_NUM_NODES=1 SLURM_STEP_NUM_TASKS=$n "$@" &
  pids+=($!)
done
trap ':' TERM
rc=0
for p in "${pids[@]}"; do
  while kill -0 "$p" 2>/dev/null; do wait "$p"; done
  wait "$p"; s=$?
  if [[ $s -ne 0 && $rc -eq 0 ]]; then rc=$s; fi
done
exit $rc
'''


def _port_free(port):
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _slurm_job_id():
    """A job id whose coordinator port (JAX: 61440 + id mod 4096) is free here."""
    while True:
        job = random.randrange(10_000, 10_000_000)
        if _port_free(61440 + job % 4096):
            return job


def _signal_at(proc, workdir, step, timeout=180):
    """SIGTERM to ``proc``'s process group once ``workdir`` has logged ``step``."""
    end = time.time() + timeout
    path = workdir / "metrics.jsonl"
    while time.time() < end:
        if proc.poll() is not None:
            raise AssertionError(f"the run ended before step {step}: {proc.communicate()}")
        if path.exists() and any(f'"step": {step}, "kind": "train"' in line
                                 for line in path.read_text().splitlines()):
            os.killpg(proc.pid, signal.SIGTERM)
            return
        time.sleep(0.02)
    raise AssertionError(f"step {step} not logged in {timeout} s")


def _stopped_step(workdir):
    step = Checkpoints.newest_step(workdir / "checkpoints")
    assert step is not None and 20 <= step < STEPS, step
    return step


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    root = tmp_path_factory.mktemp("preemption")
    write_config(root)
    train(root, "reference", 1, 4, config="toy.py:long")  # uninterrupted; builds the corpus
    return root


def test_sigterm_saves_exits_zero_and_the_rerun_ends_as_uninterrupted(root):
    cmd = [sys.executable, "-m", "seru.train", "--config", "toy.py:long", "--workdir", "single"]
    proc = subprocess.Popen(cmd, cwd=root, env=clean_env(4), start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _signal_at(proc, root / "single", 20)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err[-3000:]
    step = _stopped_step(root / "single")
    assert f"stopped at step {step} of {STEPS} (SIGTERM)" in err
    assert not (root / "single" / "eval").exists()  # no evaluation of an unfinished run
    rerun = subprocess.run(cmd, cwd=root, env=clean_env(4), capture_output=True, text=True,
                           timeout=300)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert "resumed from" in rerun.stderr
    assert_same_run(root / "reference", root / "single", STEPS)


def test_slurm_launcher_preempted_and_requeued_ends_as_uninterrupted(root):
    """launch/slurm.sh with 2 tasks of 2 devices: SIGTERM to the job mid-run, every task
    saves at the same step (one checkpoint, process 0's log ends there), the script exits 0
    without evaluating; the requeued job resumes, trains to the end as the 1 x 4 reference
    does and evaluates the test split on both tasks."""
    stub = root / "bin"
    stub.mkdir()
    (stub / "srun").write_text(STUB_SRUN)
    (stub / "srun").chmod(0o755)
    env = clean_env(2)
    env.update(PATH=f"{stub}{os.pathsep}{env['PATH']}", PYTHON=sys.executable,
               SLURM_JOB_ID=str(_slurm_job_id()), SLURM_NTASKS="2", SLURM_SUBMIT_DIR=str(root))
    cmd = ["bash", str(REPO / "launch" / "slurm.sh"), "toy.py:long", "slurm"]
    proc = subprocess.Popen(cmd, cwd=root, env=env, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _signal_at(proc, root / "slurm", 20)
    out, err = proc.communicate(timeout=180)
    assert proc.returncode == 0, err[-3000:]
    assert "seru: preempted" in err
    step = _stopped_step(root / "slurm")
    assert err.count(f"stopped at step {step} of {STEPS} (SIGTERM)") == 2  # both tasks
    assert rows(root / "slurm", "train")[-1]["step"] == step
    assert not (root / "slurm" / "eval").exists()

    env["SLURM_JOB_ID"] = str(_slurm_job_id())  # the requeued job
    again = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-3000:]
    (info,) = rows(root / "slurm", "info")
    assert (info["devices"], info["processes"]) == (4, 2)
    assert_same_run(root / "reference", root / "slurm", STEPS)
    saved = json.loads((root / "slurm" / "eval" / "test" / "metrics.json").read_text())
    assert (saved["devices"], saved["processes"]) == (4, 2) and saved["num_items"] > 0
