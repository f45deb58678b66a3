#!/usr/bin/env bash
# Train then evaluate one config on this machine (CPU, or all local GPUs/TPUs).
#
#   launch/local.sh configs/quickstart.py runs/quickstart [--config.x=y ...]
#   launch/local.sh configs/prabhu22_bbb.py:variant=mu runs/mu --config.seed=1
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
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python}
"$PYTHON" -m seru.train --config "$config" --workdir "$workdir" "$@"
for split in test; do
  "$PYTHON" -m seru.evaluate --workdir "$workdir" --split "$split" || \
    echo "note: no $split evaluation (split missing or unlabelled)" >&2
done
