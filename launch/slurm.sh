#!/usr/bin/env bash
# Multi-host / multi-GPU training on a Slurm cluster.
#
#   sbatch --nodes=2 --ntasks-per-node=1 --gpus-per-node=4 launch/slurm.sh \
#       configs/prabhu22_bbb.py:variant=lu,protocol=paper runs/lu_paper
#
# How it works (seru/trainer.py):
# * One process per node (--ntasks-per-node=1); each sees its node's GPUs.
# * --config.train.distributed=True makes the trainer call
#   jax.distributed.initialize() before anything else. On Slurm, JAX reads
#   the coordinator address, the process count and the process id from the
#   SLURM_* variables itself; elsewhere set JAX_COORDINATOR_ADDRESS,
#   JAX_NUM_PROCESSES and JAX_PROCESS_ID (or pass them to initialize()).
# * The mesh spans all devices of all processes on one "data" axis: the
#   global batch (config.data.batch_size) is split over processes (each
#   process's pipeline yields its own rows: batch_size / process_count) and
#   then over its local devices. Parameters are replicated. batch_size and
#   eval.batch_size must be multiples of the total device count.
# * Orbax writes checkpoints from all processes into the shared workdir (it
#   must be on a file system every node sees); metrics.jsonl, config.json and
#   the eval outputs are written by process 0 only.
# * Preemption: requeue the job (--requeue) with the same command; training
#   resumes from the newest checkpoint in WORKDIR/checkpoints/latest.
#SBATCH --job-name=seru
#SBATCH --requeue
#SBATCH --output=slurm-%j.out
set -euo pipefail
if [[ $# -lt 2 ]]; then
  echo "usage: sbatch $0 CONFIG[:ARGS] WORKDIR [--config.field=value ...]" >&2
  exit 2
fi
config=$1; workdir=$2; shift 2
cd "${SLURM_SUBMIT_DIR:-$(dirname "$0")/..}"
PYTHON=${PYTHON:-python}
srun "$PYTHON" -m seru.train --config "$config" --workdir "$workdir" \
  --config.train.distributed=True "$@"
# Evaluation is cheap: one process on the first node.
srun --nodes=1 --ntasks=1 "$PYTHON" -m seru.evaluate --workdir "$workdir" --split test
