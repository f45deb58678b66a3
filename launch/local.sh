#!/usr/bin/env bash
# Train then evaluate one config on this machine (CPU, or all local GPUs/TPUs).
#
#   launch/local.sh configs/quickstart.py runs/quickstart [--config.x=y ...]
#   launch/local.sh configs/prabhu22_bbb.py:variant=mu runs/mu --config.seed=1
#
# Runs `python -m seru.train --config CONFIG --workdir WORKDIR [--config.x=y ...]`,
# then `python -m seru.evaluate --workdir WORKDIR --split test`. CONFIG
# (path.py[:args]) and WORKDIR are relative to the directory you call it from;
# the script does not change directory. Any failure, of training or of the test
# evaluation, stops it with that exit status.
#
# Python: $PYTHON if set, else this repository's .venv/bin/python if it exists,
# else python3 (no venv needs to be activated). If that Python cannot import
# seru, the repository is put in front of PYTHONPATH; otherwise PYTHONPATH is
# passed through untouched.
#
# Re-running the same command resumes from the latest checkpoint in the workdir.
# To try the data-parallel path on CPU, fake N devices (the batch size must be a
# multiple of N):  XLA_FLAGS=--xla_force_host_platform_device_count=4 launch/local.sh ...
set -euo pipefail
if [[ $# -lt 2 ]]; then
  echo "usage: $0 CONFIG[:ARGS] WORKDIR [--config.field=value ...]" >&2
  exit 2
fi
config=$1; workdir=$2; shift 2
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

if [[ -n ${PYTHON:-} ]]; then
  python=$PYTHON
elif [[ -x $repo/.venv/bin/python ]]; then
  python=$repo/.venv/bin/python
else
  python=python3
fi
if ! "$python" -c 'import importlib.util, sys; sys.exit(importlib.util.find_spec("seru") is None)' \
    2>/dev/null; then
  export PYTHONPATH="$repo${PYTHONPATH:+:$PYTHONPATH}"
fi

"$python" -m seru.train --config "$config" --workdir "$workdir" "$@"
"$python" -m seru.evaluate --workdir "$workdir" --split test
