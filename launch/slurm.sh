#!/usr/bin/env bash
# Multi-host / multi-GPU training and evaluation on a Slurm cluster.
#
#   sbatch --nodes=2 --ntasks-per-node=1 --gpus-per-node=4 launch/slurm.sh \
#       configs/prabhu22_bbb.py:variant=lu,protocol=paper runs/lu_paper
#
# How it works (seru/trainer.py, seru/sharding.py):
# * One process per node (--ntasks-per-node=1); each sees its node's GPUs.
# * --config.train.distributed=True (training) and --distributed (evaluation)
#   call jax.distributed.initialize() before anything else; JAX reads the
#   coordinator address, the process count and the process id from the
#   SLURM_* variables that srun sets. Elsewhere set JAX_COORDINATOR_ADDRESS
#   (host:port of process 0), JAX_NUM_PROCESSES and JAX_PROCESS_ID.
# * The mesh spans all devices of all processes on one "data" axis: the
#   global batch (config.data.batch_size) is split over processes (each
#   process's pipeline yields its own rows) and then over its local devices.
#   Parameters are replicated. batch_size and eval.batch_size must be
#   multiples of the total device count.
# * Orbax writes checkpoints from all processes into the shared workdir (it
#   must be on a file system every node sees); metrics.jsonl, config.json and
#   the eval outputs are written by process 0 only. A checkpoint restores on
#   any number of processes and devices.
# * Preemption: Slurm sends SIGTERM to the tasks and this script; every
#   process saves a checkpoint at the same step and exits 0, this script
#   skips the evaluation, and the requeued job (--requeue) resumes from
#   WORKDIR/checkpoints/latest with the same command.
# * Evaluation: the training run evaluates config.eval.splits at its end; the
#   test split is evaluated afterwards, again on every task (each evaluates
#   its share of the items; process 0 writes WORKDIR/eval/test/).
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
preempted=0
trap 'preempted=1' TERM  # runs once srun has returned: the tasks save and exit 0 first
srun "$PYTHON" -m seru.train --config "$config" --workdir "$workdir" \
  --config.train.distributed=True "$@"
if [[ $preempted == 1 ]]; then
  echo "seru: preempted; checkpoint saved in $workdir/checkpoints/latest, requeue to resume" >&2
  exit 0
fi
srun "$PYTHON" -m seru.evaluate --workdir "$workdir" --split test --distributed
