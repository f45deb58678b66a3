#!/usr/bin/env bash
# Train and evaluate on a Cloud TPU VM slice (one or more hosts) with gcloud.
#
#   launch/tpu_vm.sh create NAME ZONE ACCEL_TYPE [gcloud create flags, e.g. --spot]
#   launch/tpu_vm.sh run    NAME ZONE CONFIG[:ARGS] WORKDIR [--config.field=value ...]
#   launch/tpu_vm.sh fetch  NAME ZONE WORKDIR [LOCAL_DIR]
#   launch/tpu_vm.sh delete NAME ZONE
#
#   launch/tpu_vm.sh create seru-v4 us-central2-b v4-32
#   launch/tpu_vm.sh run seru-v4 us-central2-b configs/prabhu22_bbb.py:variant=lu,protocol=paper \
#       gs://my-bucket/runs/lu_paper --config.data.manual_dir=/mnt/avec2016
#   launch/tpu_vm.sh fetch seru-v4 us-central2-b gs://my-bucket/runs/lu_paper runs/
#   launch/tpu_vm.sh delete seru-v4 us-central2-b
#
# create: `gcloud compute tpus tpu-vm create NAME --zone=ZONE --accelerator-type=ACCEL_TYPE
#   --version=V`; V is $TPU_VERSION, else Google's runtime for the accelerator
#   (v6e: v2-alpha-tpuv6e, v5p: v2-alpha-tpuv5, v5e / v5litepod: v2-alpha-tpuv5-lite,
#   v4 and older: tpu-ubuntu2204-base). The project is gcloud's default
#   (or $CLOUDSDK_CORE_PROJECT).
# run: one `gcloud compute tpus tpu-vm ssh NAME --zone=ZONE --worker=all --command=...`:
#   on every host of the slice at once it
#   1. puts the code in ~/seru: a clone of $SERU_GIT_URL at $SERU_GIT_REF (default main),
#      or, without $SERU_GIT_URL, this repository's committed HEAD (`git archive`; not
#      your uncommitted changes), copied first to every host with
#      `gcloud compute tpus tpu-vm scp ... --worker=all`;
#   2. installs it into ~/seru-venv with `pip install -e '.[tpu]'` (the venv is made
#      once, with python3 if it is >= 3.11, else with a Python 3.11 from uv);
#   3. runs `python -m seru.train --config CONFIG --workdir WORKDIR
#      --config.train.distributed=True [--config.field=value ...]`, then
#      `python -m seru.evaluate --workdir WORKDIR --split test --distributed`.
#   CONFIG is a path inside the repository (configs/...), as on the hosts.
#   Every host is one JAX process; jax.distributed finds the coordinator and the
#   process ids of a TPU slice itself. Re-running `run` resumes from the latest
#   checkpoint in WORKDIR.
# WORKDIR must be seen by every host at the same path: Orbax writes checkpoints from
#   every process and every process reads them back. Either an absolute path on a
#   file system mounted on every host (Filestore / NFS), or gs://BUCKET/PATH: the
#   bucket is then mounted with Cloud Storage FUSE at ~/gcs/BUCKET on every host and
#   seru writes to ~/gcs/BUCKET/PATH (seru's workdir is a POSIX path; it does not
#   write gs:// URLs itself). gcsfuse must be installed on the hosts; mount flags are
#   $SERU_GCSFUSE_FLAGS (default --implicit-dirs). Orbax commits a checkpoint by
#   renaming its temporary directory: use a bucket with hierarchical namespace
#   (atomic folder renames), or add --rename-dir-limit=N for a flat one. A relative
#   WORKDIR is refused (each host would write its own).
# fetch: the workdir to LOCAL_DIR (default .): `gcloud storage cp --recursive` for
#   gs://, else `gcloud compute tpus tpu-vm scp --recurse` from worker 0.
# delete: `gcloud compute tpus tpu-vm delete NAME --zone=ZONE --quiet`.
#
# Preemption: a SIGTERM (TPU maintenance) makes every process save a checkpoint at
# one step and exit 0; the evaluation is then skipped and `run` again resumes.
# A spot VM that is reclaimed loses its hosts: create it again and `run` again.
# $GCLOUD names the gcloud executable (default gcloud). Not run on a real TPU here:
# tests/test_tpu_vm_launcher.py checks the gcloud calls against a stand-in.
set -euo pipefail
GCLOUD=${GCLOUD:-gcloud}

usage() {
  cat >&2 <<EOF
usage: $0 create NAME ZONE ACCEL_TYPE [gcloud create flags]
       $0 run    NAME ZONE CONFIG[:ARGS] WORKDIR [--config.field=value ...]
       $0 fetch  NAME ZONE WORKDIR [LOCAL_DIR]
       $0 delete NAME ZONE
WORKDIR: gs://BUCKET/PATH or an absolute path every host of the slice sees
EOF
  exit 2
}

default_version() {  # the TPU software version for an accelerator type
  case $1 in
    v6e*) echo v2-alpha-tpuv6e ;;
    v5p*) echo v2-alpha-tpuv5 ;;
    v5e*|v5litepod*) echo v2-alpha-tpuv5-lite ;;
    *) echo tpu-ubuntu2204-base ;;
  esac
}

check_workdir() {  # gs://BUCKET/PATH or an absolute path
  case $1 in
    gs://?*/?*) ;;
    gs://*) echo "WORKDIR=$1: expected gs://BUCKET/PATH" >&2; usage ;;
    /*) ;;
    *) echo "WORKDIR=$1: expected gs://BUCKET/PATH or an absolute path" >&2; usage ;;
  esac
}

tpu() { "$GCLOUD" compute tpus tpu-vm "$@"; }

[[ $# -ge 1 ]] || usage
cmd=$1; shift
case $cmd in
  create)
    [[ $# -ge 3 ]] || usage
    name=$1 zone=$2 accel=$3; shift 3
    tpu create "$name" --zone="$zone" --accelerator-type="$accel" \
      --version="${TPU_VERSION:-$(default_version "$accel")}" "$@"
    ;;
  delete)
    [[ $# -eq 2 ]] || usage
    tpu delete "$1" --zone="$2" --quiet
    ;;
  fetch)
    [[ $# -eq 3 || $# -eq 4 ]] || usage
    name=$1 zone=$2 workdir=$3 dest=${4:-.}
    check_workdir "$workdir"
    mkdir -p "$dest"
    if [[ $workdir == gs://* ]]; then
      "$GCLOUD" storage cp --recursive "$workdir" "$dest"
    else
      tpu scp --recurse "$name:$workdir" "$dest" --zone="$zone" --worker=0
    fi
    ;;
  run)
    [[ $# -ge 4 ]] || usage
    name=$1 zone=$2 config=$3 workdir=$4; shift 4
    check_workdir "$workdir"
    repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
    q() { printf '%q' "$1"; }
    # The script every host runs (its own shell parses it: arguments are quoted here).
    script="set -euo pipefail
cd \"\$HOME\""
    if [[ -n ${SERU_GIT_URL:-} ]]; then
      script+="
rm -rf seru && git clone --quiet $(q "$SERU_GIT_URL") seru && git -C seru checkout --quiet $(q "${SERU_GIT_REF:-main}")"
    else
      tmp=$(mktemp -d "${TMPDIR:-/tmp}/seru.XXXXXX")
      trap 'rm -rf "$tmp"' EXIT
      tarball=$tmp/seru.tar.gz
      git -C "$repo" archive --format=tar.gz -o "$tarball" HEAD
      tpu scp "$tarball" "$name:seru.tar.gz" --zone="$zone" --worker=all
      script+="
rm -rf seru && mkdir seru && tar -xzf seru.tar.gz -C seru"
    fi
    if [[ $workdir == gs://* ]]; then
      rest=${workdir#gs://}; bucket=${rest%%/*}; path=${rest#*/}
      mount="\"\$HOME\"/gcs/$(q "$bucket")"
      wd="$mount/$(q "$path")"
      script+="
mkdir -p $mount && { mountpoint -q $mount || gcsfuse ${SERU_GCSFUSE_FLAGS:---implicit-dirs} $(q "$bucket") $mount; }"
    else
      wd=$(q "$workdir")
    fi
    extra=""
    for a in "$@"; do extra+=" $(q "$a")"; done
    script+="
if [ ! -x \"\$HOME/seru-venv/bin/python\" ]; then
  if python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then python3 -m venv \"\$HOME/seru-venv\"
  else python3 -m pip install --user --quiet uv && \"\$HOME/.local/bin/uv\" venv --seed --python 3.11 \"\$HOME/seru-venv\"; fi
fi
py=\"\$HOME/seru-venv/bin/python\"
cd seru
\"\$py\" -m pip install --quiet -e '.[tpu]'
preempted=0
trap 'preempted=1' TERM
\"\$py\" -m seru.train --config $(q "$config") --workdir $wd --config.train.distributed=True$extra
if [ \"\$preempted\" = 1 ]; then echo \"seru: preempted; the checkpoint is saved, run again to resume\" >&2; exit 0; fi
\"\$py\" -m seru.evaluate --workdir $wd --split test --distributed"
    tpu ssh "$name" --zone="$zone" --worker=all --command="$script"
    ;;
  *)
    usage
    ;;
esac
