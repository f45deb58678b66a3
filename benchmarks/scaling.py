"""Data-parallel scaling of seru's train step and MC evaluation; prints JSON.

Measured here, for each system below, with the trainer's own jitted step
(``seru.trainer.make_train_step``: loss, gradient, Adam update; parameters replicated,
the batch a global array sharded over one ``"data"`` axis, ``seru.sharding``) and the
evaluation job's prediction function (``seru.evaluation.make_predict_fn``: the
system's vectorised MC prediction, outputs gathered to every device):

* on 1, 2 and 4 virtual CPU devices in one process
  (``XLA_FLAGS=--xla_force_host_platform_device_count=N``), and on 2 processes x 2
  devices joined by ``jax.distributed`` on loopback (``JAX_COORDINATOR_ADDRESS``,
  ``JAX_NUM_PROCESSES``, ``JAX_PROCESS_ID``, as ``tests/test_multiprocess.py``),
  each topology in fresh subprocesses, always with the same global batch;
* ``train_step_s``: median seconds per step (after 2 warm-up steps); ``eval_batch_s``:
  median seconds per evaluation batch; ``*_per_s``: items (crops / utterances) or
  frames per second of the global batch; ``relative_to_1x1``: seconds / seconds
  on one device (1.0 = no overhead; an ideal N-fold speed-up would be 1/N);
* ``param_bytes``: bytes of the parameters made by the system's ``init``, which is
  also what the data-parallel step all-reduces (one gradient per parameter, float32);
* ``other_jobs_cpu_seconds``: CPU time other processes used while a topology ran
  (``/proc/stat`` busy time minus this benchmark's own; near 0 on a quiet machine).
  Before each topology the benchmark waits (``--wait_quiet``) for 2 s in which other
  jobs leave the CPU idle; every topology runs ``--repeats`` times, interleaved;
  ``measured`` keeps, per topology, the repeat with the least CPU taken by other jobs
  (all in ``repeats``).

On this machine (2 CPU cores) every virtual device and process shares the same two
cores: the measured curve shows the overhead of sharding (partitioned programs,
collectives on the CPU, gloo over loopback TCP between processes), not the speed-up
of more accelerators. The one exception is 1 -> 2 devices, where two device programs
may keep both cores busy where one program of small operations used one: a time
below 1.0 there is this machine's second core, not scaling.

Projected (``projection``): per device the measured single-device batch (weak scaling:
the global batch grows with the device count p), ``compute = t_1 / speedup`` where
``t_1`` is the measured 1-device step time and ``speedup`` an ASSUMED ratio of one
accelerator to these 2 CPU cores (``--speedup``); the gradient all-reduce as a ring,
``2 (p - 1) / p * param_bytes / bandwidth + 2 (p - 1) * hop_latency``, with the
bandwidth of one link inside a node (``--intra_gbps``, NVLink / ICI class) while p
fits in one node (``--per_node``), else across nodes (``--inter_gbps``, the slowest
link sets a flat ring's pace); no overlap of the all-reduce with the backward pass
(pessimistic: XLA may overlap them), and a flat ring's 2 (p - 1) hops of latency
(pessimistic for small gradients: NCCL's tree algorithms take about 2 log2 p hops,
and for prabhu22's 0.3 MB the latency is most of the projected all-reduce).
``step = compute + all-reduce``,
``efficiency = compute / step``. For the evaluation, the all-gather of the outputs
(``(p - 1) * output_bytes / bandwidth + (p - 1) * hop_latency``) is the only traffic.
``speedup_at_half_efficiency_64``: the accelerator speed-up at which, on 64 devices, the
all-reduce takes as long as the compute. Every assumption is in the JSON.

Usage::

    python benchmarks/scaling.py --out benchmarks/results/scaling.json   # ~5 min on 2 idle cores
    # (before each topology it waits up to --wait_quiet s for other jobs to leave the CPU)
    python benchmarks/scaling.py --systems prabhu22 --reps 5             # quicker
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

#: name -> (config spec, description, kind: "frames" | "utterances", global train batch,
#: global eval batch, input width for utterance systems). Batches are multiples of 4
#: devices (seru requires it): prabhu22's 8 crops of 100 frames (quickstart: 5), 4
#: segments of eval_seq_len = 1,500 frames at eval.num_samples = 30 passes; sridhar21's
#: cpu protocol 32 / 64 utterances (eval: 50) of 531 librosa functionals at 100 latent
#: samples; the paper's sizes 256 / 256 of 6,373 ComParE functionals.
SYSTEMS = {
    "prabhu22": ("configs/quickstart.py", "prabhu22 quickstart (log-mel, LSTM 64, BBB head "
                 "64-32, +LU, n = 8 in the loss)", "frames", 8, 4, None),
    "sridhar21": ("configs/sridhar21_vae.py:method=vae_er,stage=joint",
                  "sridhar21 VAE-ER joint stage, cpu protocol", "utterances", 32, 64, 531),
    "sridhar21_paper": ("configs/sridhar21_vae.py:method=vae_er,stage=joint,protocol=paper",
                        "sridhar21 VAE-ER joint stage, the paper's sizes (7,519,341 "
                        "parameters)", "utterances", 256, 256, 6373),
}
TOPOLOGIES = ((1, 1), (1, 2), (1, 4), (2, 2))  # (processes, devices per process)


# =============================================================================
# Worker: one process of one topology
# =============================================================================


def _batch(name, rows, seq_len, rng):
    """A synthetic global batch of ``rows`` items for ``name`` (shapes as the pipeline's)."""
    import numpy as np

    kind, width = SYSTEMS[name][2], SYSTEMS[name][5]
    if kind == "frames":  # prabhu22: 640 samples of 16 kHz audio per 40 ms frame
        return {"audio": rng.normal(size=(rows, seq_len * 640)).astype(np.float32),
                "gold": (0.3 * rng.normal(size=(rows, seq_len, 1))).astype(np.float32),
                "std": (0.2 + 0.05 * rng.random((rows, seq_len, 1))).astype(np.float32),
                "num_raters": np.full((rows, seq_len, 1), 6.0, np.float32),
                "mask": np.ones((rows, seq_len), np.float32)}
    return {"features": rng.normal(size=(rows, width)).astype(np.float32),
            "recon_target": rng.random((rows, width)).astype(np.float32),
            "consensus": rng.uniform(-1, 1, (rows, 1)).astype(np.float32),
            "soft": rng.dirichlet(np.ones(7), (rows, 1)).astype(np.float32),
            "label_mask": np.ones((rows, 1), np.float32), "mask": np.ones((rows,), np.float32)}


def _local_rows(batch, process, processes):
    """This process's share of the global batch's rows (the pipeline's split)."""
    n = len(next(iter(batch.values()))) // processes
    return {k: v[process * n:(process + 1) * n] for k, v in batch.items()}


def _median_seconds(fn, reps):
    import jax
    import numpy as np

    times = []
    for i in range(reps):
        t = time.perf_counter()
        jax.block_until_ready(fn(i))
        times.append(time.perf_counter() - t)
    return float(np.median(times)), float(np.min(times))


def measure(name, reps, eval_reps, process, processes):
    """Train-step and evaluation timings of one system on this process's devices."""
    import jax
    import numpy as np

    from seru import config as config_lib
    from seru import sharding
    from seru.evaluation import make_predict_fn
    from seru.trainer import make_train_step

    spec, _, kind, train_rows, eval_rows, _ = SYSTEMS[name]
    config = config_lib.load_file(os.path.join(REPO, spec))
    system = config_lib.get_system(config)
    mesh = sharding.make_mesh()
    data_sh, repl = sharding.data_sharding(mesh), sharding.replicated(mesh)
    rng = np.random.default_rng(0)  # the same global batches on every process
    seq = config.data.seq_len if kind == "frames" else None
    eval_seq = config.data.eval_seq_len if kind == "frames" else None
    train = sharding.to_global(_local_rows(_batch(name, train_rows, seq, rng), process,
                                           processes), data_sh)
    evalb = sharding.to_global(_local_rows(_batch(name, eval_rows, eval_seq, rng), process,
                                           processes), data_sh)
    tx = sharding.make_optimizer(config.optimizer)
    state = sharding.init_state(system, tx, jax.random.key(0), train, mesh, warm_start=False)
    params = state["params"]
    param_leaves = jax.tree.leaves(params)
    out = {"param_count": int(sum(x.size for x in param_leaves)),
           "param_bytes": int(sum(x.size * x.dtype.itemsize for x in param_leaves)),
           "train_batch": train_rows, "eval_batch": eval_rows,
           "num_samples": int(config.eval.num_samples)}
    if kind == "frames":
        out.update(train_seq_len=int(seq), eval_seq_len=int(eval_seq))

    step = make_train_step(system, tx, repl)
    box = {"state": state}

    def one_step(i):
        box["state"], metrics = step(box["state"], train, jax.random.fold_in(
            jax.random.key(1), i))
        return metrics["loss"]

    t = time.perf_counter()
    jax.block_until_ready(one_step(0))
    out["train_compile_s"] = time.perf_counter() - t
    jax.block_until_ready(one_step(1))
    out["train_step_s"], out["train_step_min_s"] = _median_seconds(one_step, reps)
    items = train_rows * (seq if kind == "frames" else 1)
    out[f"train_{kind}_per_s"] = items / out["train_step_s"]

    params = box["state"]["params"]
    predict = make_predict_fn(system, int(config.eval.num_samples), mesh)
    key = jax.random.key(2)
    t = time.perf_counter()
    first = jax.block_until_ready(predict(params, evalb, key))
    out["eval_compile_s"] = time.perf_counter() - t
    out["eval_output_bytes"] = int(sum(x.nbytes for x in jax.tree.leaves(first)))
    out["eval_batch_s"], out["eval_batch_min_s"] = _median_seconds(
        lambda i: predict(params, evalb, jax.random.fold_in(key, i)), eval_reps)
    items = eval_rows * (eval_seq if kind == "frames" else 1)
    out[f"eval_{kind}_per_s"] = items / out["eval_batch_s"]
    return out


def worker(names, reps, eval_reps):
    """One process of a topology: prints one JSON line with every system's timings."""
    processes = int(os.environ.get("JAX_NUM_PROCESSES", "1"))
    process = int(os.environ.get("JAX_PROCESS_ID", "0"))
    sys.path.insert(0, REPO)
    if processes > 1:
        from seru import sharding

        sharding.initialize_distributed()
    import jax

    result = {"devices": jax.device_count(), "local_devices": jax.local_device_count(),
              "processes": jax.process_count(), "process": process, "systems": {}}
    for name in names:
        result["systems"][name] = measure(name, reps, eval_reps, process, processes)
    print(json.dumps(result))


# =============================================================================
# Orchestration: one topology = fresh subprocesses
# =============================================================================


def _busy_cpu_seconds() -> float | None:
    """CPU seconds the whole machine spent busy since boot (user, nice, system, irq,
    softirq of ``/proc/stat``; Linux), else None."""
    try:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:8]]
    except (OSError, ValueError):
        return None
    return (sum(fields[:3]) + sum(fields[5:7])) / os.sysconf("SC_CLK_TCK")


def _own_cpu_seconds() -> float:
    """CPU seconds of this process and its finished children."""
    import resource

    return sum(r.ru_utime + r.ru_stime for r in (resource.getrusage(resource.RUSAGE_SELF),
                                                 resource.getrusage(resource.RUSAGE_CHILDREN)))


def wait_for_quiet(max_wait: float, probe: float = 2.0, threshold: float = 0.2) -> float:
    """Sleep until other jobs used less than ``threshold`` CPU seconds during a ``probe``
    of that many seconds, or ``max_wait`` seconds have passed; returns the seconds
    waited (0 without ``/proc/stat``)."""
    t0 = time.time()
    while time.time() - t0 < max_wait:
        busy = _busy_cpu_seconds()
        if busy is None:
            return 0.0
        time.sleep(probe)
        if _busy_cpu_seconds() - busy < threshold:
            break
    return time.time() - t0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_topology(processes, devices, names, reps, eval_reps, timeout):
    """Every process's JSON result (process 0 first) of one topology."""
    port = _free_port()
    procs = []
    for i in range(processes):
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("JAX_", "SLURM_")) and k != "XLA_FLAGS"}
        env.update(JAX_PLATFORMS="cpu",
                   XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}")
        if processes > 1:
            env.update(JAX_COORDINATOR_ADDRESS=f"127.0.0.1:{port}",
                       JAX_NUM_PROCESSES=str(processes), JAX_PROCESS_ID=str(i))
        cmd = [sys.executable, os.path.abspath(__file__), "--worker", "--systems",
               ",".join(names), "--reps", str(reps), "--eval_reps", str(eval_reps)]
        procs.append(subprocess.Popen(cmd, env=env, cwd=REPO, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True))
    outs = []
    for p in procs:
        try:
            stdout, stderr = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            for q in procs:
                q.kill()
            raise
        if p.returncode != 0:
            for q in procs:
                q.kill()
            raise RuntimeError(f"{processes} x {devices}: a worker failed:\n{stderr[-3000:]}")
        outs.append(json.loads(stdout.strip().splitlines()[-1]))
    return outs


def ring_seconds(nbytes, p, bandwidth, latency):
    """Ring all-reduce of ``nbytes`` over ``p`` devices: 2 (p-1)/p * bytes / bandwidth
    plus 2 (p-1) hops of ``latency`` seconds (bandwidth in bytes/s)."""
    return 2 * (p - 1) / p * nbytes / bandwidth + 2 * (p - 1) * latency


def gather_seconds(nbytes_per_device, p, bandwidth, latency):
    """Ring all-gather of ``nbytes_per_device`` from each of ``p`` devices to all."""
    return (p - 1) * nbytes_per_device / bandwidth + (p - 1) * latency


def project(one, counts, speedup, intra, inter, per_node, latency):
    """Expected step time and efficiency on ``counts`` accelerators from the 1-device
    measurement ``one`` (see the module docstring for the model)."""
    kind = "frames" if "train_seq_len" in one else "utterances"
    per_step = one["train_batch"] * one.get("train_seq_len", 1)
    compute = one["train_step_s"] / speedup
    eval_compute = one["eval_batch_s"] / speedup
    out = {}
    for p in counts:
        bw = intra if p <= per_node else inter
        ar = ring_seconds(one["param_bytes"], p, bw, latency)
        ag = gather_seconds(one["eval_output_bytes"], p, bw, latency)
        out[str(p)] = {
            "link": "intra-node" if p <= per_node else "inter-node",
            "compute_s": compute, "allreduce_s": ar, "step_s": compute + ar,
            "efficiency": compute / (compute + ar),
            f"train_{kind}_per_s": p * per_step / (compute + ar),
            "eval_compute_s": eval_compute, "eval_gather_s": ag,
            "eval_efficiency": eval_compute / (eval_compute + ag)}
    big = max(counts)
    ar_big = ring_seconds(one["param_bytes"], big, intra if big <= per_node else inter, latency)
    out[f"speedup_at_half_efficiency_{big}"] = one["train_step_s"] / ar_big
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="See the module docstring for what is measured and "
                                        "how the projection is made.")
    ap.add_argument("--out", help="also write the JSON to this file")
    ap.add_argument("--systems", default=",".join(SYSTEMS),
                    help=f"comma-separated subset of {','.join(SYSTEMS)}")
    ap.add_argument("--reps", type=int, default=20, help="timed train steps per topology")
    ap.add_argument("--eval_reps", type=int, default=10, help="timed evaluation batches")
    ap.add_argument("--repeats", type=int, default=2,
                    help="runs of every topology (interleaved); 'measured' keeps the one "
                         "during which other jobs used the least CPU (all in 'repeats')")
    ap.add_argument("--speedup", type=float, default=10.0,
                    help="ASSUMED compute speed-up of one accelerator over these 2 CPU cores "
                         "at the same per-device batch (default 10)")
    ap.add_argument("--intra_gbps", type=float, default=100.0,
                    help="ASSUMED link bandwidth inside a node, GB/s (default 100: NVLink class)")
    ap.add_argument("--inter_gbps", type=float, default=25.0,
                    help="ASSUMED link bandwidth across nodes, GB/s (default 25: 200 Gb/s "
                         "InfiniBand / Ethernet per accelerator)")
    ap.add_argument("--per_node", type=int, default=8, help="accelerators per node (default 8)")
    ap.add_argument("--hop_latency_us", type=float, default=5.0,
                    help="ASSUMED latency of one ring hop, microseconds (default 5)")
    ap.add_argument("--wait_quiet", type=float, default=120.0,
                    help="before each topology, wait up to this many seconds for other jobs "
                         "to leave the CPU idle for 2 s (default 120; 0: do not wait)")
    ap.add_argument("--project_to", default="8,64", help="accelerator counts to project to")
    ap.add_argument("--timeout", type=int, default=900, help="seconds per topology")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    names = [n for n in args.systems.split(",") if n]
    unknown = sorted(set(names) - set(SYSTEMS))
    if unknown:
        ap.error(f"--systems: unknown {unknown}; expected some of {sorted(SYSTEMS)}")
    if args.worker:
        return worker(names, args.reps, args.eval_reps)

    import jax

    t0, busy0, own0 = time.time(), _busy_cpu_seconds(), _own_cpu_seconds()
    result = {
        "benchmark": "scaling",
        "host": {"platform": platform.platform(), "cpus": os.cpu_count(),
                 "jax": jax.__version__, "loadavg_start": os.getloadavg()},
        "systems": {n: {"config": SYSTEMS[n][0], "what": SYSTEMS[n][1]} for n in names},
        "protocol": {"reps": args.reps, "eval_reps": args.eval_reps,
                     "statistic": "median seconds after 2 warm-up calls (min in *_min_s)",
                     "topologies": [f"{p}x{d}" for p, d in TOPOLOGIES],
                     "repeats": args.repeats,
                     "kept": "per topology the repeat with the least other_jobs_cpu_seconds",
                     "note": "processes x devices per process, virtual CPU devices sharing "
                             "the same cores; the same global batch in every topology"},
        "measured": {n: {} for n in names},
        "repeats": {n: {} for n in names},
    }
    quietest = {}  # topology -> (other jobs' CPU seconds, rows) of its quietest repeat
    for r in range(args.repeats):
        for processes, devices in TOPOLOGIES:
            top = f"{processes}x{devices}"
            waited = wait_for_quiet(args.wait_quiet)
            busy, own = _busy_cpu_seconds(), _own_cpu_seconds()
            outs = run_topology(processes, devices, names, args.reps, args.eval_reps,
                                args.timeout)
            others = (None if busy is None else
                      (_busy_cpu_seconds() - busy) - (_own_cpu_seconds() - own))
            rows = {}
            for n in names:
                row = dict(outs[0]["systems"][n], other_jobs_cpu_seconds=others, repeat=r,
                           waited_for_quiet_s=waited)
                if processes > 1:  # every process times the same synchronous steps
                    row["train_step_s_per_process"] = [o["systems"][n]["train_step_s"]
                                                       for o in outs]
                rows[n] = row
                result["repeats"][n].setdefault(top, []).append(
                    {k: row[k] for k in ("train_step_s", "eval_batch_s",
                                         "other_jobs_cpu_seconds")})
            if top not in quietest or (others or 0.0) < (quietest[top][0] or 0.0):
                quietest[top] = (others, rows)
            print(f"[scaling] repeat {r}: {processes} x {devices} done at "
                  f"{time.time() - t0:.0f} s (other jobs: {others:.1f} CPU s, waited {waited:.0f} s)", file=sys.stderr)
    for top, (_, rows) in quietest.items():
        for n in names:
            result["measured"][n][top] = rows[n]
    for n in names:
        rows = result["measured"][n]
        one = rows["1x1"]
        for row in rows.values():
            row["relative_to_1x1"] = {"train_step": row["train_step_s"] / one["train_step_s"],
                                      "eval_batch": row["eval_batch_s"] / one["eval_batch_s"]}
        keep = ("param_count", "param_bytes", "train_batch", "eval_batch", "num_samples",
                "train_seq_len", "eval_seq_len", "eval_output_bytes")
        result["systems"][n].update({k: one[k] for k in keep if k in one})
    counts = [int(x) for x in args.project_to.split(",")]
    result["projection"] = {
        "assumptions": {
            "speedup_vs_2_cpu_cores": args.speedup, "intra_node_GBps": args.intra_gbps,
            "inter_node_GBps": args.inter_gbps, "accelerators_per_node": args.per_node,
            "hop_latency_us": args.hop_latency_us,
            "scaling": "weak: each accelerator keeps the measured 1-device batch",
            "allreduce": "flat ring, 2 (p-1)/p * param_bytes / bandwidth + 2 (p-1) * latency, "
                         "the inter-node bandwidth once p > accelerators_per_node; "
                         "not overlapped with compute",
            "compute": "measured 1x1 train_step_s / speedup_vs_2_cpu_cores"},
        **{n: project(result["measured"][n]["1x1"], counts, args.speedup,
                      args.intra_gbps * 1e9, args.inter_gbps * 1e9, args.per_node,
                      args.hop_latency_us * 1e-6) for n in names}}
    result["host"]["loadavg_end"] = os.getloadavg()
    busy1 = _busy_cpu_seconds()
    if busy0 is not None and busy1 is not None:  # what other jobs took from the 2 cores
        result["host"]["other_jobs_cpu_seconds"] = (busy1 - busy0) - (_own_cpu_seconds() - own0)
    result["wall_seconds"] = time.time() - t0
    text = json.dumps(result, indent=1)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
