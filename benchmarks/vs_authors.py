"""seru's prabhu22 against the authors' PyTorch model, side by side in one run; prints JSON.

What is measured (same shapes on both sides: a batch of 5 sequences x 300
frames of 640 samples = 12 s of 16 kHz raw audio each; the paper's sizes: conv
50/125/125, LSTM 2 x 256, Bayesian head 256-512-256-out, out = 1 (arousal),
window b = 50 frames, n = 30 passes):

1. ``eval``: MC evaluation of one batch. seru: the jitted ``Prabhu22.predict``
   (trunk once, posterior-mean pass, n sampled passes), one row per head
   sampler (``--samplers``; default every name in
   ``seru.models.bbb_ser.SAMPLERS``, read at run time) with ``eval_sampler`` set
   to it, at n = 30 and n = 1. Authors: ``sample_uncertainty_predictions(x)``
   in eval mode under ``torch.no_grad()``.
2. ``train``: one training step at n = 30. seru: jitted Adam(1e-4) step on
   ``Prabhu22.loss`` (variant ``lu``), one row per training sampler. Authors:
   ``sample_uncertainty_predictions`` in train mode + their MU+LU loss (1 - CCC
   + ``log_post - log_prior`` + Gaussian label KL, from their ``loss.py`` /
   ``kl_divergence_loss.py``) + backward + ``torch.optim.Adam(1e-4)`` step.
3. ``peak_rss``: peak resident memory of the MC evaluation (n = 30) of one
   300 s recording (7,500 frames), each side in a fresh subprocess (run first,
   while this process is small), evaluated twice (the second call is timed);
   seru with its default ``eval_sampler`` and ``mc_chunk``. Reported: the
   child's ``ru_maxrss`` and its ``VmHWM`` (``/proc/self/status``, the
   headline ``peak_rss_mb``): an exec'd child's ``ru_maxrss`` starts at its
   parent's high-water mark on Linux, so it is only right while the parent is small.
4. frames/s of every row (frames = 5 x 300 per batch; per recording for 3).

The authors' code runs unedited on CPU (it has no CUDA call). Two things the
worker does around it: their ``loss.calcUncertaintyLoss`` indexes arousal and
valence (``[:, 1]``), so with one output its arousal half is composed from their
``loss.CCC`` and ``kl_divergence_loss.kl_dist_dist`` exactly as it computes it
(their diagnostics and prints left out); and everything they print goes to
stderr. Their head has a fourth Bayesian layer (out -> out) after 256 -> out;
their model takes ``x`` as ``[B, 300, 640]`` (seru: ``[B, 300 * 640]``).

How: the authors' model runs in a worker subprocess (``benchmarks/_authors_worker.py``,
started with ``--authors-python``, importing their code from ``--authors-repo``)
that answers ``eval K`` / ``train K`` lines with times as JSON. Compilation and
warm-up are excluded; then every rep runs each seru row once and the authors
once, alternating, so both sides see the same machine state. Per row: median
seconds, frames/s, and the paired ratio authors / seru of each rep (its median
is the speed-up quoted; ``ratio_of_medians`` beside it). PyTorch gets as many
intra-op threads as JAX's CPU client uses (one per core this process may run on),
with PyTorch's own OpenMP settings (``--authors-omp-wait-policy`` to change them).

Shared cores: with OpenMP's default spin-waiting, a 2-thread PyTorch on 2
cores runs 5-20x slower whenever any other process is busy (evaluation 1.8 s
-> 10-40 s here), far more than JAX does, which would flatter seru.
``OMP_WAIT_POLICY=PASSIVE`` avoids that collapse but costs PyTorch 40 % of its
evaluation and 2x its training step on a quiet machine, so it is not the
default. Instead each rep waits (``--quiet-wait``) until other processes use
fewer than ``--quiet-threshold`` cores (from ``/proc/stat`` minus this process
and the worker), records what they used during the rep
(``other_processes``), and the medians and ratios use only the reps below the
threshold (``reps_kept``; all of them, marked ``reliable: false``, if none is).

Targets (checked by name, printed under ``targets``):

* MC evaluation n = 30: seru with the default eval sampler
  (``model_defaults('prabhu22').eval_sampler``) >= 12x the authors; with the
  authors' exact per-(sequence, window) draw structure (the sampler named by
  ``seru.models.bbb_ser.AUTHORS_SAMPLER``, ``faithful`` while there is none) >= 2x;
* training step n = 30: default training sampler (``...sampler``) >= 10x the
  authors; the authors' structure >= 1x;
* n = 30 costs <= 1.5x n = 1 (default eval sampler);
* peak RSS of a 300 s recording at n = 30 <= 512 MB (not judged under ``--quick``).

Usage (results: ``benchmarks/results/vs_authors.json``; rerun it when the samplers change)::

    python benchmarks/vs_authors.py --authors-repo /path/to/label-uncertainty-ser \\
        --authors-python /path/to/python-with-torch [--quick] [--out FILE] \\
        [--samplers a,b] [--sections eval,train,rss]

This checkout's numbers were made with::

    python benchmarks/vs_authors.py --authors-repo /tmp/authors_repo \
        --authors-python .venv/bin/python --out benchmarks/results/vs_authors.json

Full: 9 reps of evaluation, 5 of training, about 10-15 min on 2 quiet CPU
cores; ``--quick`` (2 reps of evaluation, 1 of training, a 60 s recording for
the RSS) about 3-5 min. Waiting for quiet adds up to ``--quiet-wait`` s per rep.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for _path in (ROOT, os.path.join(ROOT, "benchmarks")):
    if _path not in sys.path:
        sys.path.insert(0, _path)

from _memory import restored_like, vm_hwm_kb  # noqa: E402

WORKER = os.path.join(ROOT, "benchmarks", "_authors_worker.py")
SYSTEM = "prabhu22"
BATCH, FRAMES, N = 5, 300, 30
#: The paper's sizes, under the names of seru's prabhu22 config (``config.model``).
PAPER_MODEL = dict(variant="lu", frontend="conv", lstm_size=256, head_sizes=(512, 256),
                   window=50, dropout=0.5, num_samples_train=N)
#: The targets: (key, comparison, bound, what); the value behind each key: :func:`target_values`.
TARGETS = (
    ("eval_n30_default_vs_authors", ">=", 12.0,
     "MC evaluation n = 30, default eval sampler: speed-up over the authors"),
    ("eval_n30_authors_structure_vs_authors", ">=", 2.0,
     "MC evaluation n = 30, the authors' draw structure: speed-up over the authors"),
    ("train_n30_default_vs_authors", ">=", 10.0,
     "training step n = 30, default training sampler: speed-up over the authors"),
    ("train_n30_authors_structure_vs_authors", ">=", 1.0,
     "training step n = 30, the authors' draw structure: speed-up over the authors"),
    ("eval_cost_n30_over_n1_default", "<=", 1.5,
     "MC evaluation, default eval sampler: time at n = 30 / time at n = 1"),
    ("peak_rss_300s_n30_mb", "<=", 512.0,
     "peak RSS (MB) of seru's evaluation of a 300 s recording at n = 30"),
)


def _log(msg):
    print(f"[vs_authors] {msg}", file=sys.stderr, flush=True)


# -- pure bookkeeping (tested in tests/test_vs_authors.py) ---------------------------------
def summarise(times, frames, authors_times=None, keep=None):
    """Median seconds and frames/s of ``times``; with ``authors_times`` (same reps, same
    order) the paired ratios authors / seru per rep, their median, and the ratio of medians.
    ``keep``: a mask of the reps the medians use (all ``seconds`` are listed anyway)."""
    t = np.asarray(times, float)
    k = np.ones(t.shape, bool) if keep is None else np.asarray(keep, bool)
    out = {"reps": int(k.sum()), "seconds": [float(x) for x in t],
           "median_s": float(np.median(t[k])), "frames_per_s": float(frames / np.median(t[k]))}
    if authors_times is not None:
        a = np.asarray(authors_times, float)
        if a.shape != t.shape:
            raise ValueError(f"paired ratios need as many authors reps as seru reps: "
                             f"{a.shape} vs {t.shape}")
        ratios = a / t
        out["speedup_vs_authors"] = [float(r) for r in ratios]
        out["speedup_vs_authors_median"] = float(np.median(ratios[k]))
        out["speedup_ratio_of_medians"] = float(np.median(a[k]) / np.median(t[k]))
    return out


def paired_ratio(num, den, keep=None):
    """Median over the kept reps of ``num[r] / den[r]`` (e.g. seru n = 30 / n = 1 of a rep)."""
    num, den = np.asarray(num, float), np.asarray(den, float)
    k = np.ones(num.shape, bool) if keep is None else np.asarray(keep, bool)
    return float(np.median((num / den)[k]))


def quiet_reps(foreign, threshold):
    """``(keep mask, reliable)``: the reps during which other processes used less than
    ``threshold`` cores; if there is none, every rep is kept and ``reliable`` is False."""
    keep = [f < threshold for f in foreign]
    return (keep, True) if any(keep) else ([True] * len(foreign), False)


def target_values(result, default_eval, default_train, authors_sampler):
    """The measured value behind each target key (None where the row is missing)."""
    ev, tr = result.get("eval", {}), result.get("train", {})

    def get(section, row, key):
        r = section.get(row) or {}
        return r.get(key)

    rss = (result.get("peak_rss") or {}).get("seru") or {}
    return {
        "eval_n30_default_vs_authors": get(ev, f"seru/{default_eval}/n30",
                                           "speedup_vs_authors_median"),
        "eval_n30_authors_structure_vs_authors": get(ev, f"seru/{authors_sampler}/n30",
                                                     "speedup_vs_authors_median"),
        "train_n30_default_vs_authors": get(tr, f"seru/{default_train}/n30",
                                            "speedup_vs_authors_median"),
        "train_n30_authors_structure_vs_authors": get(tr, f"seru/{authors_sampler}/n30",
                                                      "speedup_vs_authors_median"),
        "eval_cost_n30_over_n1_default": get(ev, f"seru/{default_eval}/n30",
                                             "cost_n30_over_n1"),
        "peak_rss_300s_n30_mb": rss.get("peak_rss_mb") if rss.get("frames") == 7500 else None,
    }


def check_targets(result, default_eval, default_train, authors_sampler):
    """``{key: {what, bound, value, holds}}``; ``holds`` is None where nothing was measured."""
    values = target_values(result, default_eval, default_train, authors_sampler)
    out = {}
    for key, op, bound, what in TARGETS:
        v = values[key]
        holds = None if v is None else bool(v >= bound if op == ">=" else v <= bound)
        out[key] = {"what": what, "target": f"{op} {bound:g}", "value": v, "holds": holds}
    return out


# -- the authors' worker -------------------------------------------------------------------
class AuthorsWorker:
    """The authors' model in a subprocess (``_authors_worker.py``), one JSON line per request."""

    def __init__(self, python, repo, threads, env=None, extra=()):
        self.proc = subprocess.Popen(
            [python, WORKER, "--authors-repo", repo, "--threads", str(threads), *extra],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            text=True, bufsize=1, env=env)
        self.facts = self._read()

    def _read(self):
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the authors' worker exited (code {self.proc.poll()}); run "
                               f"{WORKER} by hand to see why")
        reply = json.loads(line)
        if "error" in reply:
            raise RuntimeError("the authors' worker failed:\n" + reply["error"])
        return reply

    def request(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        return self._read()

    def times(self, op, k=1):
        return self.request(f"{op} {k}")["times"]

    def close(self):
        try:
            self.request("quit")
        except Exception:
            pass
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


# -- other processes' CPU use (the cores are shared) -----------------------------------------
def _ticks_of(pid):
    """utime + stime of process ``pid`` in clock ticks (0 if unreadable)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    except (OSError, IndexError, ValueError):
        return 0


def cpu_snapshot(pids=()):
    """``(wall, busy ticks of the machine, steal ticks, ticks of this process and pids)``."""
    busy = steal = 0
    try:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        busy, steal = v[0] + v[1] + v[2] + v[5] + v[6], (v[7] if len(v) > 7 else 0)
    except (OSError, ValueError, IndexError):
        pass
    ours = _ticks_of(os.getpid()) + sum(_ticks_of(p) for p in pids)
    return time.perf_counter(), busy, steal, ours


def foreign_cores(a, b):
    """Cores' worth of CPU that OTHER processes used between two snapshots (and the
    hypervisor's steal): what makes a shared host's numbers unreliable."""
    hz = os.sysconf("SC_CLK_TCK")
    wall = max(b[0] - a[0], 1e-9)
    return {"foreign_cores": max(0.0, ((b[1] - a[1]) - (b[3] - a[3])) / hz / wall),
            "steal_cores": (b[2] - a[2]) / hz / wall}


# -- seru's side -----------------------------------------------------------------------------
def seru_config(train_sampler, eval_sampler, **model):
    from seru.config import defaults, model_defaults
    c = defaults()
    c.model = model_defaults(SYSTEM)
    c.model.update(**PAPER_MODEL)
    c.model.update(sampler=train_sampler, eval_sampler=eval_sampler, **model)
    c.data.dimensions = ("arousal",)
    return c


def seru_system(train_sampler, eval_sampler, **model):
    from seru.systems.prabhu22 import Prabhu22
    c = seru_config(train_sampler, eval_sampler, **model)
    errors = Prabhu22.check_config(c)
    if errors:
        raise ValueError("; ".join(errors))
    return Prabhu22(c)


def _batch(system, batch, frames, seed=0):
    import jax.numpy as jnp
    spf = system.time_base.samples_per_frame
    rng = np.random.default_rng(seed)
    gold = 0.3 * rng.normal(size=(batch, frames, 1))
    return {
        "audio": jnp.asarray(rng.normal(size=(batch, frames * spf)), jnp.float32),
        "gold": jnp.asarray(gold, jnp.float32),
        "std": jnp.asarray(0.2 + 0.05 * rng.random((batch, frames, 1)), jnp.float32),
        "num_raters": jnp.full((batch, frames, 1), 6.0),
        "mask": jnp.ones((batch, frames)),
    }


def _timer(fn):
    """``fn() -> arrays``; returns a callable that runs it once and returns its seconds."""
    import jax

    def once():
        t = time.perf_counter()
        jax.block_until_ready(fn())
        return time.perf_counter() - t
    return once


def eval_row(eval_sampler, n, default_train):
    """A callable timing one jitted ``Prabhu22.predict`` of the batch at ``n`` passes."""
    import jax
    system = seru_system(default_train, eval_sampler)
    batch = {"audio": _batch(system, BATCH, FRAMES)["audio"]}
    params = system.init(jax.random.key(0), batch)
    pred = jax.jit(lambda p, b, k: system.predict(p, b, k, n))
    keys = iter(range(1, 10**6))
    return _timer(lambda: pred(params, batch, jax.random.key(next(keys))))


def train_row(train_sampler):
    """A callable timing one jitted Adam step on ``Prabhu22.loss`` (variant lu, n = 30)."""
    import jax
    import optax
    system = seru_system(train_sampler, "")
    batch = _batch(system, BATCH, FRAMES)
    params = system.init(jax.random.key(0), batch)
    opt = optax.adam(1e-4)
    state = {"p": params, "s": opt.init(params), "k": 0}

    @jax.jit
    def step(p, s, k):
        (loss, _), g = jax.value_and_grad(system.loss, has_aux=True)(p, batch, k)
        u, s = opt.update(g, s, p)
        return optax.apply_updates(p, u), s, loss

    def run():
        state["k"] += 1
        state["p"], state["s"], loss = step(state["p"], state["s"], jax.random.key(state["k"]))
        return loss
    return _timer(run)


def wait_quiet(pids, threshold, max_wait):
    """Waits (1 s probes, at most ``max_wait`` s) until other processes use less than
    ``threshold`` cores; returns the seconds waited."""
    t0 = time.perf_counter()
    while True:
        a = cpu_snapshot(pids)
        time.sleep(1.0)
        if (foreign_cores(a, cpu_snapshot(pids))["foreign_cores"] < threshold
                or time.perf_counter() - t0 >= max_wait):
            return time.perf_counter() - t0


def alternate(rows, authors, op, warmup, reps, threshold=0.25, max_wait=0.0):
    """Warm-up (compile) each seru row and the authors, then ``reps`` rounds of: every seru
    row once, the authors once (each round after :func:`wait_quiet` when ``max_wait``).
    Returns ``(seru times {name: [...]}, authors times, {name: first-call seconds},
    per-rep load of other processes)``."""
    first = {}
    for name, fn in list(rows.items()):
        first[name] = fn()
        for _ in range(warmup - 1):
            fn()
    first["authors"] = authors.times(op, warmup)[0]
    times = {name: [] for name in rows}
    a_times, load = [], []
    pids = [authors.proc.pid]
    for r in range(reps):
        waited = wait_quiet(pids, threshold, max_wait) if max_wait > 0 else 0.0
        before = cpu_snapshot(pids)
        for name, fn in rows.items():
            times[name].append(fn())
        a_times.extend(authors.times(op, 1))
        load.append({**foreign_cores(before, cpu_snapshot(pids)), "waited_s": waited})
        _log(f"{op} rep {r + 1}/{reps}: authors {a_times[-1]:.2f}s, "
             + ", ".join(f"{k} {v[-1]:.3f}s" for k, v in times.items())
             + f"; other processes {load[-1]['foreign_cores']:.2f} cores"
             + (f" (waited {waited:.0f}s)" if waited > 1.5 else ""))
    return times, a_times, first, load


def _build(builder, name, errors):
    try:
        return builder()
    except Exception as e:  # a sampler that cannot run here: recorded, the rest goes on
        errors[name] = f"{type(e).__name__}: {e}"
        _log(f"{name}: {errors[name]}")
        return None


def run_section(op, rows, errors, authors, warmup, reps, threshold, max_wait):
    """Alternate ``rows`` with the authors' ``op``; the section's JSON (rows by name)."""
    frames = BATCH * FRAMES
    times, a_times, first, load = alternate(rows, authors, op, warmup, reps, threshold,
                                            max_wait)
    foreign = [x["foreign_cores"] for x in load]
    keep, reliable = quiet_reps(foreign, threshold)
    out = {"other_processes": {
        "foreign_cores_per_rep": foreign, "steal_cores_per_rep": [x["steal_cores"] for x in load],
        "waited_s_per_rep": [x["waited_s"] for x in load], "threshold_cores": threshold,
        "reps_kept": keep, "reliable": reliable}}
    out["authors/n30"] = summarise(a_times, frames, keep=keep)
    out["authors/n30"]["first_call_s"] = first["authors"]
    for name, t in times.items():
        out[name] = summarise(t, frames, a_times, keep=keep)
        out[name]["first_call_s"] = first[name]
        n1 = name[: -len(f"/n{N}")] + "/n1" if name.endswith(f"/n{N}") else None
        if n1 in times:
            out[name]["cost_n30_over_n1"] = paired_ratio(t, times[n1], keep)
    out.update({name: {"error": e} for name, e in errors.items()})
    return out


def section_eval(samplers, authors, default_train, warmup, reps, threshold=0.25, max_wait=0.0):
    rows, errors = {}, {}
    for s in samplers:
        for n in (N, 1):
            fn = _build(lambda s=s, n=n: eval_row(s, n, default_train), f"seru/{s}/n{n}", errors)
            if fn is not None:
                rows[f"seru/{s}/n{n}"] = fn
    return run_section("eval", rows, errors, authors, warmup, reps, threshold, max_wait)


def section_train(samplers, authors, warmup, reps, threshold=0.25, max_wait=0.0):
    rows, errors = {}, {}
    for s in samplers:
        fn = _build(lambda s=s: train_row(s), f"seru/{s}/n{N}", errors)
        if fn is not None:
            rows[f"seru/{s}/n{N}"] = fn
    return run_section("train", rows, errors, authors, warmup, reps, threshold, max_wait)


def rss_child(frames, n):
    """Runs in a fresh subprocess: seru's peak RSS of one evaluation of a ``frames`` recording
    (batch 1) at ``n`` passes, default eval sampler and ``mc_chunk``; the parameters made as
    the evaluation job's restore makes them (no initialisation program compiled)."""
    import jax
    from seru.config import model_defaults
    d = model_defaults(SYSTEM)
    system = seru_system(d.sampler, d.eval_sampler)
    audio = _batch(system, 1, frames)["audio"]
    params = restored_like(system, {"audio": audio[:, :25 * system.time_base.samples_per_frame]})
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    from seru import evaluation, sharding

    pred = evaluation.make_predict_fn(system, n, sharding.make_mesh())  # as the evaluation job
    t = time.perf_counter()
    jax.block_until_ready(pred(params, {"audio": audio}, jax.random.key(1)))
    first = time.perf_counter() - t
    t = time.perf_counter()
    jax.block_until_ready(pred(params, {"audio": audio}, jax.random.key(2)))
    sec = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    hwm = vm_hwm_kb()
    print(json.dumps({"peak_rss_mb": (hwm if hwm is not None else peak) / 1024,
                      "ru_maxrss_mb": peak / 1024, "ru_maxrss_before_eval_mb": before / 1024,
                      "eval_sampler": d.eval_sampler or d.sampler, "mc_chunk": d.mc_chunk,
                      "seconds": sec, "seconds_first_call": first,
                      "frames_per_s": frames / sec}))


def _child_json(cmd, env=None):
    res = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if res.returncode != 0:
        return {"error": res.stderr[-2000:]}
    return json.loads(res.stdout.strip().splitlines()[-1])


def section_rss(args, frames, threads, authors_env=None):
    seru = _child_json([sys.executable, os.path.abspath(__file__), "--rss-child", str(frames),
                        str(N)])
    authors = _child_json([args.authors_python, WORKER, "--authors-repo", args.authors_repo,
                           "--threads", str(threads), "--num-samples", str(N),
                           "--rss", str(frames)], env=authors_env)
    out = {}
    for name, r in (("seru", seru), ("authors", authors)):
        r.update(frames=frames, seconds_of_audio=frames * 0.04, num_samples=N)
        r.pop("workarounds", None)
        out[name] = r
    if "peak_rss_mb" in seru and "peak_rss_mb" in authors:
        out["authors_over_seru"] = authors["peak_rss_mb"] / seru["peak_rss_mb"]
    return out


# -- host ------------------------------------------------------------------------------------
def host_facts(threads):
    import jax
    model = platform.processor()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    flags = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = line
                    break
    except OSError:
        pass
    return {"cpu": model, "cpu_count": os.cpu_count(),
            "cores_usable": len(os.sched_getaffinity(0)),
            "avx2": " avx2" in flags, "avx512f": " avx512f" in flags,
            "platform": platform.platform(), "python": platform.python_version(),
            "jax": jax.__version__, "jax_backend": jax.default_backend(),
            "jax_threads": f"XLA CPU client: one intra-op thread per usable core ({threads})",
            "XLA_FLAGS": os.environ.get("XLA_FLAGS", ""),
            "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", ""),
            "torch_threads_requested": threads, "loadavg_start": list(os.getloadavg())}


def provenance():
    """The seru code measured: HEAD, and the files under ``seru/`` that differ from it (with
    a hash of that diff), since others may be editing the working tree."""
    import hashlib

    def git(*a):
        return subprocess.run(["git", "-C", ROOT, *a], capture_output=True, text=True,
                              timeout=30).stdout
    try:
        dirty = [line[3:] for line in git("status", "--porcelain", "--", "seru").splitlines()]
        return {"head": git("rev-parse", "HEAD").strip(), "seru_files_differing": dirty,
                "seru_diff_sha1": hashlib.sha1(git("diff", "HEAD", "--", "seru").encode())
                .hexdigest() if dirty else None}
    except (OSError, subprocess.SubprocessError):
        return None


def print_table(result):
    """A readable table on stderr (the JSON goes to stdout)."""
    h, a = result.get("host", {}), result.get("authors", {})
    lines = [f"host: {h.get('cpu')}, {h.get('cores_usable')} of {h.get('cpu_count')} cores, "
             f"jax {h.get('jax')} ({h.get('jax_threads')}), torch {a.get('torch', '-')} "
             f"({a.get('torch_num_threads', '-')} intra-op / "
             f"{a.get('torch_num_interop_threads', '-')} inter-op threads, "
             f"OMP_WAIT_POLICY={a.get('OMP_WAIT_POLICY') or 'default'})"]
    for section in ("eval", "train"):
        rows = result.get(section) or {}
        if not rows:
            continue
        lines.append(f"{section}: {'row':<28} {'median s':>9} {'frames/s':>9} {'x authors':>9}"
                     f" {'n30/n1':>7}")
        for name, r in rows.items():
            if name == "other_processes":
                continue
            if "error" in r:
                lines.append(f"      {name:<28} error: {r['error'][:80]}")
                continue
            sp = r.get("speedup_vs_authors_median")
            c = r.get("cost_n30_over_n1")
            lines.append(f"      {name:<28} {r['median_s']:>9.3f} {r['frames_per_s']:>9.0f} "
                         f"{'' if sp is None else f'{sp:.2f}':>9} "
                         f"{'' if c is None else f'{c:.2f}':>7}")
        other = rows.get("other_processes")
        if other:
            lines.append("      other processes used "
                         + " ".join(f"{f:.2f}" for f in other["foreign_cores_per_rep"])
                         + f" cores in the reps; {sum(other['reps_kept'])} kept"
                         + ("" if other["reliable"] else "  <- NONE QUIET: numbers unreliable"))
    for name, r in (result.get("peak_rss") or {}).items():
        if isinstance(r, dict):
            lines.append(f"peak RSS {name}: " + (f"{r['peak_rss_mb']:.0f} MB "
                         f"({r['frames']} frames, {r['frames_per_s']:.0f} frames/s)"
                         if "peak_rss_mb" in r else f"error: {r.get('error', '')[-200:]}"))
    for key, t in (result.get("targets") or {}).items():
        v = t["value"]
        verdict = {True: "HOLDS", False: "MISSED", None: "not measured"}[t["holds"]]
        lines.append(f"target {key}: {t['target']}, measured "
                     f"{'-' if v is None else f'{v:.3g}'}: {verdict}")
    print("\n".join(lines), file=sys.stderr, flush=True)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--authors-repo", help="checkout of the authors' code (model.py, loss.py, ...)")
    ap.add_argument("--authors-python", default=sys.executable,
                    help="a Python with PyTorch for the authors' side (default: this one)")
    ap.add_argument("--quick", action="store_true",
                    help="fewer reps, a 60 s recording for the RSS (~3-5 min)")
    ap.add_argument("--samplers", default="",
                    help="comma-separated head samplers (default: seru.models.bbb_ser.SAMPLERS)")
    ap.add_argument("--sections", default="eval,train,rss",
                    help="comma-separated subset of eval,train,rss")
    ap.add_argument("--threads", type=int, default=0,
                    help="PyTorch intra-op threads (default: the cores JAX uses)")
    ap.add_argument("--authors-omp-wait-policy", default="",
                    help="OMP_WAIT_POLICY of the authors' processes ('' = PyTorch's default: "
                         "spinning, fastest on quiet cores; PASSIVE: robust to other processes, "
                         "slower on quiet cores)")
    ap.add_argument("--quiet-threshold", type=float, default=0.25,
                    help="a rep counts when other processes used fewer cores than this")
    ap.add_argument("--quiet-wait", type=float, default=20.0,
                    help="before each rep, wait up to this many seconds for other processes "
                         "to go under --quiet-threshold (0 = do not wait)")
    ap.add_argument("--out", help="also write the JSON here")
    ap.add_argument("--rss-child", nargs=2, type=int, metavar=("FRAMES", "N"),
                    help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.rss_child:
        rss_child(*args.rss_child)
        return 0
    if not args.authors_repo:
        ap.error("--authors-repo is required")

    from seru.config import model_defaults
    from seru.models import bbb_ser

    threads = args.threads or len(os.sched_getaffinity(0))
    authors_env = dict(os.environ)
    if args.authors_omp_wait_policy:
        authors_env["OMP_WAIT_POLICY"] = args.authors_omp_wait_policy
    all_samplers = tuple(bbb_ser.SAMPLERS)
    samplers = [s for s in args.samplers.split(",") if s] or list(all_samplers)
    d = model_defaults(SYSTEM)
    default_eval, default_train = d.eval_sampler or d.sampler, d.sampler
    authors_sampler = getattr(bbb_ser, "AUTHORS_SAMPLER", "faithful")
    sections = [s for s in args.sections.split(",") if s]
    warmup = {"eval": 2, "train": 1}  # the authors' first evaluation alone takes ~10 s
    eval_reps, train_reps = (2, 1) if args.quick else (9, 5)
    rss_frames = 1500 if args.quick else 7500

    result = {
        "benchmark": "vs_authors", "mode": "quick" if args.quick else "full",
        "command": " ".join([os.path.basename(sys.executable), *sys.argv]),
        "host": host_facts(threads),
        "seru_code": provenance(),
        "shapes": {"batch": BATCH, "frames": FRAMES, "num_samples": N,
                   "window": PAPER_MODEL["window"],
                   "frames_per_batch": BATCH * FRAMES, "out": 1},
        "seru_model": {k: (list(v) if isinstance(v, tuple) else v) for k, v in PAPER_MODEL.items()},
        "samplers": {"available": list(all_samplers), "measured": samplers,
                     "default_eval": default_eval, "default_train": default_train,
                     "authors_structure": authors_sampler,
                     "authors_structure_defined_in_seru": hasattr(bbb_ser, "AUTHORS_SAMPLER")},
        "protocol": {"warmup": warmup, "eval_reps": eval_reps, "train_reps": train_reps,
                     "rss_frames": rss_frames,
                     "ratio": "authors seconds / seru seconds of the same rep; median over "
                              "the kept reps",
                     "quiet": {"threshold_cores": args.quiet_threshold,
                               "max_wait_s_per_rep": args.quiet_wait,
                               "authors_OMP_WAIT_POLICY": args.authors_omp_wait_policy}},
    }
    t0 = time.time()
    if "rss" in sections:
        # First, while this process is small: an exec'd child's ru_maxrss starts at its
        # parent's high-water mark (seru's training rows take this process to several GB).
        result["peak_rss"] = section_rss(args, rss_frames, threads, authors_env)
        _log(f"rss done at {time.time() - t0:.0f}s")
    authors = None
    try:
        if "eval" in sections or "train" in sections:
            authors = AuthorsWorker(args.authors_python, args.authors_repo, threads, authors_env)
            result["authors"] = {k: v for k, v in authors.facts.items() if k != "ready"}
            result["authors"]["repo"] = os.path.abspath(args.authors_repo)
            result["authors"]["python_executable"] = args.authors_python
            _log(f"authors' worker up: torch {authors.facts.get('torch')}, "
                 f"{authors.facts.get('torch_num_threads')} threads")
        if "eval" in sections:
            result["eval"] = section_eval(samplers, authors, default_train, warmup["eval"],
                                          eval_reps, args.quiet_threshold, args.quiet_wait)
            _log(f"eval done at {time.time() - t0:.0f}s")
        if "train" in sections:
            result["train"] = section_train(samplers, authors, warmup["train"], train_reps,
                                            args.quiet_threshold, args.quiet_wait)
            _log(f"train done at {time.time() - t0:.0f}s")
    finally:
        if authors is not None:
            authors.close()
    result["targets"] = check_targets(result, default_eval, default_train, authors_sampler)
    result["host"]["loadavg_end"] = list(os.getloadavg())
    result["wall_seconds"] = time.time() - t0
    text = json.dumps(result, indent=1)
    print(text)
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "w") as f:
            f.write(text + "\n")
    print_table(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
