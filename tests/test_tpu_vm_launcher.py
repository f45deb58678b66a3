"""Tests of ``launch/tpu_vm.sh`` against a stand-in ``gcloud`` (no cloud, no JAX run).

The stand-in (first on PATH) appends its argv as one JSON line to ``gcloud.jsonl``
and plays one TPU host: ``tpu-vm scp SRC NAME:DEST`` copies SRC to ``host/DEST``,
and ``tpu-vm ssh ... --command=CMD`` runs CMD with bash, HOME=``host``, as worker 0
would. On that host ``~/seru-venv/bin/python`` is a stand-in too: it appends its
argv and working directory to ``python.jsonl`` and exits 0 (with FAKE_PREEMPT set,
``-m seru.train`` first sends SIGTERM to the shell that started it, as a TPU
maintenance event would). ``gcsfuse`` and ``mountpoint`` are stand-ins as well.
"""

import json
import os
import subprocess
import sys
import tarfile

import pytest

from toy_system import REPO

LAUNCHER = REPO / "launch" / "tpu_vm.sh"

GCLOUD = '''#!{python}
import json, os, shutil, subprocess, sys
root = os.environ["FAKE_ROOT"]
args = sys.argv[1:]
with open(os.path.join(root, "gcloud.jsonl"), "a") as f:
    f.write(json.dumps(args) + "\\n")
host = os.path.join(root, "host")
if args[:3] == ["compute", "tpus", "tpu-vm"] and args[3] == "scp" and "--recurse" not in args:
    src, dest = [a for a in args[4:] if not a.startswith("--")]
    shutil.copy(src, os.path.join(host, dest.split(":", 1)[1]))
if args[:3] == ["compute", "tpus", "tpu-vm"] and args[3] == "ssh":
    cmd = [a for a in args if a.startswith("--command=")][0][len("--command="):]
    env = dict(os.environ, HOME=host)
    sys.exit(subprocess.run(["bash", "-c", cmd], cwd=host, env=env).returncode)
'''

PYTHON = '''#!{python}
import json, os, signal, sys
with open(os.path.join(os.environ["FAKE_ROOT"], "python.jsonl"), "a") as f:
    f.write(json.dumps({{"argv": sys.argv[1:], "cwd": os.getcwd()}}) + "\\n")
if sys.argv[1:3] == ["-m", "seru.train"] and os.environ.get("FAKE_PREEMPT"):
    os.kill(os.getppid(), signal.SIGTERM)
'''

RECORD = '''#!/usr/bin/env bash
printf '%s\\n' "$(basename "$0") $*" >> "$FAKE_ROOT/tools.log"
[[ $(basename "$0") != mountpoint ]]   # mountpoint: nothing is mounted yet
'''


@pytest.fixture
def fake(tmp_path):
    """(run(args, **env) -> CompletedProcess, root) with the stand-ins installed."""
    bin_dir, host = tmp_path / "bin", tmp_path / "host"
    venv_bin = host / "seru-venv" / "bin"
    venv_bin.mkdir(parents=True)
    bin_dir.mkdir()
    for path, text in ((bin_dir / "gcloud", GCLOUD), (venv_bin / "python", PYTHON),
                       (bin_dir / "gcsfuse", RECORD), (bin_dir / "mountpoint", RECORD)):
        path.write_text(text.format(python=sys.executable) if "{python}" in text else text)
        path.chmod(0o755)

    def run(*args, **extra_env):
        env = {k: v for k, v in os.environ.items()
               if k not in ("TPU_VERSION", "SERU_GIT_URL", "SERU_GIT_REF", "GCLOUD",
                            "SERU_GCSFUSE_FLAGS", "FAKE_PREEMPT")}
        env.update(PATH=f"{bin_dir}{os.pathsep}{env['PATH']}", FAKE_ROOT=str(tmp_path),
                   TMPDIR=str(tmp_path), **extra_env)
        return subprocess.run(["bash", str(LAUNCHER), *args], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=120)

    return run, tmp_path


def calls(root, name="gcloud.jsonl"):
    path = root / name
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


def command_of(call):
    (cmd,) = [a[len("--command="):] for a in call if a.startswith("--command=")]
    return cmd


@pytest.mark.parametrize("args", [(), ("create", "n", "z"), ("run", "n", "z", "c.py"),
                                  ("delete", "n"), ("fetch", "n", "z"), ("launch", "n", "z"),
                                  ("run", "n", "z", "c.py", "runs/relative"),
                                  ("fetch", "n", "z", "gs://bucket-only")])
def test_bad_arguments_print_usage_and_exit_2(fake, args):
    run, root = fake
    out = run(*args)
    assert out.returncode == 2, out.stderr
    assert "usage:" in out.stderr
    assert calls(root) == []


def test_create_passes_zone_accelerator_and_runtime(fake):
    run, root = fake
    assert run("create", "seru-v4", "us-central2-b", "v4-32").returncode == 0
    assert run("create", "seru-v5e", "us-west4-a", "v5litepod-16", "--spot").returncode == 0
    out = run("create", "seru-v6e", "us-east5-b", "v6e-8", TPU_VERSION="my-runtime")
    assert out.returncode == 0, out.stderr
    assert calls(root) == [
        ["compute", "tpus", "tpu-vm", "create", "seru-v4", "--zone=us-central2-b",
         "--accelerator-type=v4-32", "--version=tpu-ubuntu2204-base"],
        ["compute", "tpus", "tpu-vm", "create", "seru-v5e", "--zone=us-west4-a",
         "--accelerator-type=v5litepod-16", "--version=v2-alpha-tpuv5-lite", "--spot"],
        ["compute", "tpus", "tpu-vm", "create", "seru-v6e", "--zone=us-east5-b",
         "--accelerator-type=v6e-8", "--version=my-runtime"]]


def test_delete_and_fetch(fake):
    run, root = fake
    assert run("delete", "seru-v4", "us-central2-b").returncode == 0
    assert run("fetch", "seru-v4", "us-central2-b", "gs://bkt/runs/lu", "out").returncode == 0
    assert run("fetch", "seru-v4", "us-central2-b", "/mnt/nfs/runs/lu").returncode == 0
    assert calls(root) == [
        ["compute", "tpus", "tpu-vm", "delete", "seru-v4", "--zone=us-central2-b", "--quiet"],
        ["storage", "cp", "--recursive", "gs://bkt/runs/lu", "out"],
        ["compute", "tpus", "tpu-vm", "scp", "--recurse", "seru-v4:/mnt/nfs/runs/lu", ".",
         "--zone=us-central2-b", "--worker=0"]]
    assert (root / "out").is_dir()


# Values a shell would split, expand or run if they were not quoted.
EXTRA = ["--config.data.manual_dir=/data/AVEC 2016", "--config.model.name=it's $HOME; rm -rf x",
         "--config.seed=1"]


def test_run_copies_the_repo_installs_trains_and_evaluates_on_all_workers(fake):
    run, root = fake
    config = "configs/prabhu22_bbb.py:variant=lu,protocol=paper"
    out = run("run", "seru-v4", "us-central2-b", config, "gs://bkt/runs/lu paper", *EXTRA)
    assert out.returncode == 0, out.stderr
    scp, ssh = calls(root)
    assert scp[:4] == ["compute", "tpus", "tpu-vm", "scp"]
    assert scp[5:] == ["seru-v4:seru.tar.gz", "--zone=us-central2-b", "--worker=all"]
    assert not os.path.exists(scp[4])  # the local archive is removed afterwards
    assert ssh[:5] == ["compute", "tpus", "tpu-vm", "ssh", "seru-v4"]
    assert "--zone=us-central2-b" in ssh and "--worker=all" in ssh
    # The archive is this repository's HEAD, unpacked in ~/seru on the host.
    with tarfile.open(root / "host" / "seru.tar.gz") as t:
        assert "launch/slurm.sh" in t.getnames()
    assert (root / "host" / "seru" / "pyproject.toml").is_file()
    # The bucket is mounted, then install, train (distributed, the user's flags as
    # given), evaluate test (distributed), in that order, from ~/seru.
    workdir = str(root / "host" / "gcs" / "bkt" / "runs" / "lu paper")
    assert f"gcsfuse --implicit-dirs bkt {root}/host/gcs/bkt" in (root / "tools.log").read_text()
    py = calls(root, "python.jsonl")
    assert [p["argv"] for p in py] == [
        ["-m", "pip", "install", "--quiet", "-e", ".[tpu]"],
        ["-m", "seru.train", "--config", config, "--workdir", workdir,
         "--config.train.distributed=True", *EXTRA],
        ["-m", "seru.evaluate", "--workdir", workdir, "--split", "test", "--distributed"]]
    assert {p["cwd"] for p in py} == {str(root / "host" / "seru")}


def test_run_from_git_on_a_shared_mount(fake):
    """A clone (here of this repository, at its HEAD commit) instead of the copied archive."""
    run, root = fake
    head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True,
                          text=True, check=True).stdout.strip()
    out = run("run", "seru-v5e", "us-west4-a", "configs/quickstart.py", "/mnt/nfs/runs/q",
              "--config.seed=2", SERU_GIT_URL=str(REPO), SERU_GIT_REF=head,
              GCLOUD=str(root / "bin" / "gcloud"))
    assert out.returncode == 0, out.stderr
    (ssh,) = calls(root)  # no copy of the local repository
    assert ssh[3] == "ssh" and "--worker=all" in ssh and "--zone=us-west4-a" in ssh
    cmd = command_of(ssh)
    assert f"git clone --quiet {REPO} seru" in cmd and f"checkout --quiet {head}" in cmd
    assert "gcsfuse" not in cmd and not (root / "tools.log").exists()
    assert (root / "host" / "seru" / "launch" / "slurm.sh").is_file()
    lines = cmd.splitlines()
    assert [x for x in lines if "-m seru.train" in x] == [
        '"$py" -m seru.train --config configs/quickstart.py --workdir /mnt/nfs/runs/q '
        '--config.train.distributed=True --config.seed=2']
    assert lines[-1] == ('"$py" -m seru.evaluate --workdir /mnt/nfs/runs/q --split test '
                         '--distributed')
    assert [p["argv"][1] for p in calls(root, "python.jsonl")] == [
        "pip", "seru.train", "seru.evaluate"]


def test_run_preempted_skips_the_evaluation(fake):
    run, root = fake
    out = run("run", "n", "z", "configs/quickstart.py", "/mnt/nfs/q", FAKE_PREEMPT="1")
    assert out.returncode == 0, out.stderr
    assert "preempted" in out.stderr
    assert [p["argv"][1] for p in calls(root, "python.jsonl")] == ["pip", "seru.train"]
