"""prabhu22's trunk (conv front end + 2 x LSTM 256) against its FLOP floor; prints JSON.

The trunk of ``seru.models.extractors.Extractor`` (prabhu22 Sec. 3.1, after
Tzirakis et al.): raw 16 kHz audio -> 3 x (Conv1D + ReLU + max-pool) with
filters (50, 125, 125), kernels (8, 6, 6), pools (10, 5, 5) -> frames of 320
features -> 2 x LSTM 256. Batch 5 x 300 frames of 640 samples (12 s each), the
batch of prabhu22's training step and of one MC-evaluation batch.

Measured in ONE run (hosts differ; ratios are what carry over):

* ``matmul_gflops``: f32 matmul rates here: 1024 x 1024 @ 1024 x 1024 (the
  floor's rate; it also runs in every timed group, alternating, and each
  group's floor uses that group's rate), and the LSTM step's shapes
  ``[5, 256] @ [256, 1024]`` and ``[5, 512] @ [512, 1024]`` run 300 times in
  a ``fori_loop`` (as in a scan).
* ``flops``: per stage, with the formula. ``N = B T 640`` samples; conv j
  with kernel k_j, c_in -> c_out channels on L_j positions: ``2 L_j k_j c_in
  c_out`` (L_0 = N, L_1 = N / 10, L_2 = N / 50); LSTM layer with input D and H
  units over B T frames: ``2 B T (D + H) 4H`` (input projection + recurrence;
  gate nonlinearities not counted). The training step differentiates: convs
  2-3 ``3x`` (forward, input and kernel gradient), conv 1 ``2x`` (no audio
  gradient), LSTMs ``3x``.
* ``eval`` / ``train``: per stage and in total, ``old`` (the code before this
  change, kept below as ``OldConvFrontEnd`` / ``old_lstm``: XLA's convolution
  on the whole crop in training and in blocks of 100 frames in evaluation,
  the LSTM gradient by JAX's transpose of the scan) vs ``new``
  (``seru.models``: fused first conv, block loop, custom VJPs). Per stage: the
  stage alone on its real input (the previous stage's output), the conv
  stages cut into the implementation's blocks (halos left out); ``train`` is
  forward + backward (``jax.grad`` of a fixed linear function of the output
  w.r.t. the stage's parameters and, after the first stage, its input), with
  the front end's dropout 0.5 in the totals; ``dropout_masks``: the crop's
  three masks by ``jax.random.bernoulli`` (old) and by
  ``seru.sampling.bernoulli`` (new; ``results/trunk.json`` was recorded with
  an earlier fused copy of JAX's own mask bits, 148 -> 12 ms).
* ``block_frames``: the new front end for several block sizes (eval and
  train), which picks the default of ``model.conv_block_frames``.
* ``floor``: FLOPs / matmul rate (1024^3), and the same with the LSTM
  recurrence at the measured LSTM-step rate; ``floor_over_measured`` =
  floor / measured time (target for the trunk in evaluation: >= 0.5).

Compilation excluded (every function runs once before timing); the
functions of a group alternate within each repetition; medians (min also
given). The cores may be shared with other processes (the host's load
average is recorded): compare ratios within a group, not absolute times
across runs. About 2-4 minutes on 2 cores.

    python benchmarks/trunk.py            # writes benchmarks/results/trunk.json
    python benchmarks/trunk.py --quick    # fewer repetitions, no output file
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import os
import platform
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import flax.linen as nn  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

from seru import sampling  # noqa: E402
from seru.models import layers  # noqa: E402
from seru.models.extractors import (BLOCK_FRAMES, ConvFrontEnd, Extractor,  # noqa: E402
                                    _max_pool, conv_relu_pool, conv_same)

B, T, FS = 5, 300, 640
FILTERS, KERNELS, POOLS = (50, 125, 125), (8, 6, 6), (10, 5, 5)
LSTM_SIZE = 256


# --- the code before this change (seru/models/extractors.py and layers.py), for "old" ------


class OldConvFrontEnd(nn.Module):
    """The former ``ConvFrontEnd``: XLA's convolution, blocks by ``lax.map`` in
    evaluation, one whole-crop convolution in training. Same parameters."""

    block_frames: int = 100
    dropout: float = 0.5

    @nn.compact
    def __call__(self, audio, train: bool = False):
        fs = FS
        num_samples = audio.shape[1]
        num_frames = num_samples // fs
        total_pool = math.prod(POOLS)
        quantum = math.lcm(fs, total_pool)
        padded = -(-num_samples // quantum) * quantum
        block = max(1, self.block_frames * fs // quantum) * quantum
        if train:
            block = padded
        block = min(block, padded)
        num_blocks = -(-padded // block)
        reach, spacing = 0, 1
        for k, p in zip(KERNELS, POOLS):
            reach += (k // 2 + 1) * spacing
            spacing *= p
        halo = -(-(reach + total_pool) // total_pool) * total_pool
        x_all = jnp.pad(audio, ((0, 0), (halo, num_blocks * block - num_samples + halo)))
        params, c_in = [], 1
        for j, (f, k) in enumerate(zip(FILTERS, KERNELS)):
            params.append((self.param(f"conv{j}_kernel", nn.initializers.lecun_normal(),
                                      (k, c_in, f)),
                           self.param(f"conv{j}_bias", nn.initializers.zeros, (f,))))
            c_in = f
        use_dropout = train and self.dropout > 0
        drop_key = self.make_rng("dropout") if use_dropout else None
        rate = self.dropout

        def run_block(i):
            start = i * block
            x = jax.lax.dynamic_slice_in_dim(x_all, start, block + 2 * halo, axis=1)[..., None]
            offset = start - halo
            spacing = 1
            for j, ((w, b), p) in enumerate(zip(params, POOLS)):
                if j > 0:
                    g = offset // spacing + jnp.arange(x.shape[1])
                    valid = (g >= 0) & (g < padded // spacing)
                    x = jnp.where(valid[None, :, None], x, 0.0)
                x = jax.lax.conv_general_dilated(
                    x, w, (1,), "SAME", dimension_numbers=("NWC", "WIO", "NWC")) + b
                x = _max_pool(jax.nn.relu(x), p)
                spacing *= p
                if use_dropout:
                    keep = jax.random.bernoulli(
                        jax.random.fold_in(jax.random.fold_in(drop_key, i), j), 1.0 - rate,
                        x.shape)
                    x = jnp.where(keep, x / (1.0 - rate), 0.0)
            h = halo // total_pool
            return x[:, h: x.shape[1] - h]

        if num_blocks == 1:
            x = run_block(0)
        else:
            x = jax.lax.map(run_block, jnp.arange(num_blocks))
            x = jnp.swapaxes(x, 0, 1).reshape(audio.shape[0], -1, x.shape[-1])
        bsz, length, c = x.shape
        per_frame = c * fs // total_pool
        return x.reshape(bsz, length * c // per_frame, per_frame)[:, :num_frames]


def old_lstm(p, x):
    """The former ``LSTM`` body: projection by einsum, gradient by JAX's scan transpose."""
    w_i, w_h, b = p["w_i"], p["w_h"], p["b"]
    h = w_h.shape[0]
    xz = jnp.einsum("btd,dk->tbk", x, w_i) + b
    zeros = jnp.zeros((x.shape[0], h), x.dtype)
    # the cell itself is unchanged: the new layer's step, differentiated by JAX's scan
    step = functools.partial(layers._lstm_step, w_h)
    return jnp.swapaxes(jax.lax.scan(step, (zeros, zeros), xz)[1], 0, 1)


def new_lstm(p, x):
    from seru.models.layers import LSTM
    return LSTM(p["w_h"].shape[0]).apply({"params": p}, x)


# --- timing -------------------------------------------------------------------------------


_MM = {}


def bench(fns: dict, args, reps: int, with_matmul: bool = True) -> dict:
    """Median / min seconds of each function, the functions alternating in every rep.

    With ``with_matmul`` a 1024^3 f32 matmul runs in the same alternation (key
    ``"matmul"``), so that every group's floor uses the matmul rate measured
    under the same conditions (other processes share these cores)."""
    calls = {k: (f, args) for k, f in fns.items()}
    if with_matmul:
        if not _MM:
            a = jnp.asarray(np.random.default_rng(0).normal(size=(1024, 1024)), jnp.float32)
            _MM["f"], _MM["a"] = jax.jit(jnp.dot), a
        calls["matmul"] = (_MM["f"], (_MM["a"], _MM["a"]))
    for f, a in calls.values():
        jax.block_until_ready(f(*a))  # compile
    times = {k: [] for k in calls}
    for _ in range(reps):
        for k, (f, a) in calls.items():
            t0 = time.perf_counter()
            jax.block_until_ready(f(*a))
            times[k].append(time.perf_counter() - t0)
    return {k: (float(np.median(v)), float(np.min(v))) for k, v in times.items()}


def matmul_rates(reps: int) -> dict:
    a = jnp.asarray(np.random.default_rng(0).normal(size=(1024, 1024)), jnp.float32)
    out = {}
    t = bench({"mm": jax.jit(jnp.dot)}, (a, a), reps, with_matmul=False)["mm"][0]
    out["1024x1024@1024x1024"] = 2 * 1024 ** 3 / t / 1e9
    for d in (256, 512):
        w = jnp.asarray(np.random.default_rng(1).normal(size=(d, 1024)) / 30, jnp.float32)
        h0 = jnp.ones((B, d), jnp.float32)

        def loop(h, w, d=d):  # 300 dependent steps, as in the LSTM scan
            return jax.lax.fori_loop(0, T, lambda _, h: jnp.tanh(h @ w)[:, :d], h)

        t = bench({"s": jax.jit(loop)}, (h0, w), reps)
        out[f"[{B},{d}]@[{d},1024] x{T} (loop)"] = 2 * B * d * 1024 * T / t["s"][0] / 1e9
        out[f"[{B},{d}]@[{d},1024] x{T} (loop) / 1024^3 same run"] = t["matmul"][0] / t["s"][0] \
            * (2 * B * d * 1024 * T) / (2 * 1024 ** 3)
    return out


def stage_flops() -> dict:
    n = B * T * FS
    lengths = [n, n // POOLS[0], n // (POOLS[0] * POOLS[1])]
    c_in = (1,) + FILTERS[:-1]
    out = {}
    for j in range(3):
        out[f"conv{j + 1}"] = {
            "formula": f"2 * L * k * c_in * c_out = 2 * {lengths[j]} * {KERNELS[j]} * "
                       f"{c_in[j]} * {FILTERS[j]}",
            "gflop": 2 * lengths[j] * KERNELS[j] * c_in[j] * FILTERS[j] / 1e9}
    d_in = FILTERS[-1] * FS // math.prod(POOLS)
    for j, d in enumerate((d_in, LSTM_SIZE)):
        out[f"lstm{j + 1}"] = {
            "formula": f"2 * B T * (D + H) * 4H = 2 * {B * T} * ({d} + {LSTM_SIZE}) * "
                       f"{4 * LSTM_SIZE}",
            "gflop": 2 * B * T * (d + LSTM_SIZE) * 4 * LSTM_SIZE / 1e9,
            "gflop_recurrence": 2 * B * T * LSTM_SIZE * 4 * LSTM_SIZE / 1e9}
    return out


def blocks_of(x, nb):
    """[B, L, ...] -> [nb, B, L / nb, ...] (the stage timing's blocks; no halos)."""
    b, length = x.shape[:2]
    x = x[:, : length // nb * nb]
    return jnp.swapaxes(x.reshape(b, nb, length // nb, *x.shape[2:]), 0, 1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--reps", type=int, default=0)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results",
                                                  "trunk.json"))
    args = ap.parse_args()
    reps = args.reps or (3 if args.quick else 9)
    t_start = time.time()

    rng = np.random.default_rng(0)
    audio = jnp.asarray(rng.normal(size=(B, T * FS)), jnp.float32)
    new_ex = Extractor()
    variables = new_ex.init(jax.random.key(0), audio)
    params = variables["params"]
    fe_params = params["ConvFrontEnd_0"]
    key = jax.random.key(1)
    default_block = BLOCK_FRAMES

    result = {
        "host": {"machine": platform.machine(), "processor": platform.processor(),
                 "cpus": os.cpu_count(), "jax": jax.__version__,
                 "backend": jax.default_backend(),
                 "loadavg_1min_at_start": os.getloadavg()[0]},
        "protocol": {"batch": B, "frames": T, "samples_per_frame": FS, "reps": reps,
                     "statistic": "median (min in 'min_ms')",
                     "default_block_frames": default_block},
        "matmul_gflops": matmul_rates(reps),
        "flops": stage_flops(),
    }
    # the LSTM step's rate as a fraction of the 1024^3 rate (measured alternating)
    step_share = result["matmul_gflops"][
        f"[{B},{LSTM_SIZE}]@[{LSTM_SIZE},1024] x{T} (loop) / 1024^3 same run"]
    flops = result["flops"]

    # Real inputs of every stage (the new code's activations; eval mode).
    w = [(fe_params[f"conv{j}_kernel"], fe_params[f"conv{j}_bias"]) for j in range(3)]
    h1 = jax.jit(lambda a: conv_relu_pool(a, w[0][0][:, 0], w[0][1], POOLS[0]))(audio)
    h2 = jax.jit(lambda x: _max_pool(jax.nn.relu(conv_same(x, w[1][0]) + w[1][1]), 5))(h1)
    fe_out = jax.jit(lambda p, a: ConvFrontEnd().apply({"params": p}, a))(fe_params, audio)
    l1_out = jax.jit(new_lstm)(params["LSTM_0"], fe_out)
    nb_new = -(-T // default_block)
    nb_old = -(-T // 100)
    ct_fe = jnp.asarray(rng.normal(size=fe_out.shape), jnp.float32)
    ct_tr = jnp.asarray(rng.normal(size=(B, T, LSTM_SIZE)), jnp.float32)

    def old_layer(j, x, wb):
        x = x[..., None] if j == 0 else x
        y = jax.lax.conv_general_dilated(x, wb[0], (1,), "SAME",
                                         dimension_numbers=("NWC", "WIO", "NWC")) + wb[1]
        return _max_pool(jax.nn.relu(y), POOLS[j])

    def new_layer(j, x, wb):
        if j == 0:
            return conv_relu_pool(x, wb[0][:, 0], wb[1], POOLS[0])
        return _max_pool(jax.nn.relu(conv_same(x, wb[0]) + wb[1]), POOLS[j])

    def blocked(layer, j, nb, remat=False):
        def f(wb, x):
            body = lambda xb: layer(j, xb, wb)
            body = jax.checkpoint(body, prevent_cse=False) if remat else body
            return jax.lax.map(body, blocks_of(x, nb))
        return f

    def whole(layer, j):
        return lambda wb, x: layer(j, x, wb)

    def train_of(fn, j, ct_shape):
        ct = jnp.asarray(np.random.default_rng(j).normal(size=ct_shape), jnp.float32)
        argnums = (0,) if j == 0 else (0, 1)
        return jax.jit(jax.grad(lambda wb, x: jnp.sum(fn(wb, x).reshape(ct.shape) * ct),
                                argnums=argnums))

    stage_inputs = [audio, h1, h2]
    eval_t, train_t = {}, {}
    for j in range(3):
        x = stage_inputs[j]
        out_shape = jax.eval_shape(whole(new_layer, j), w[j], x).shape
        fns = {"old": jax.jit(blocked(old_layer, j, nb_old)),
               "new": jax.jit(blocked(new_layer, j, nb_new))}
        eval_t[f"conv{j + 1}"] = bench(fns, (w[j], x), reps)
        # old training: one whole-crop conv (JAX's gradient); new: the block loop.
        ob = blocked(new_layer, j, nb_new, remat=True)  # as ConvFrontEnd trains
        nb_shape = jax.eval_shape(ob, w[j], x).shape
        fns = {"old": train_of(whole(old_layer, j), j, out_shape),
               "new": train_of(ob, j, nb_shape)}
        train_t[f"conv{j + 1}"] = bench(fns, (w[j], x), reps)
    for j, (name, x) in enumerate((("lstm1", fe_out), ("lstm2", l1_out))):
        p = params[f"LSTM_{j}"]
        eval_t[name] = bench({"old": jax.jit(old_lstm), "new": jax.jit(new_lstm)}, (p, x), reps)
        grads = {k: jax.jit(jax.grad(lambda p, x, f=f: jnp.sum(f(p, x) * ct_tr), argnums=(0, 1)))
                 for k, f in (("old", old_lstm), ("new", new_lstm))}
        train_t[name] = bench(grads, (p, x), reps)

    # Totals: front end and trunk, evaluation and training (dropout 0.5 in training).
    old_fe, new_fe = OldConvFrontEnd(), ConvFrontEnd()

    def old_trunk(p, a, train=False, k=None):
        kw = {"train": True, "rngs": {"dropout": k}} if train else {}
        x = old_fe.apply({"params": p["ConvFrontEnd_0"]}, a, **kw)
        return old_lstm(p["LSTM_1"], old_lstm(p["LSTM_0"], x))

    def new_trunk(p, a, train=False, k=None):
        kw = {"train": True, "rngs": {"dropout": k}} if train else {}
        return new_ex.apply({"params": p}, a, **kw)

    eval_t["front_end"] = bench({
        "old": jax.jit(lambda p, a: old_fe.apply({"params": p}, a)),
        "new": jax.jit(lambda p, a: new_fe.apply({"params": p}, a))}, (fe_params, audio), reps)
    eval_t["trunk"] = bench({"old": jax.jit(old_trunk), "new": jax.jit(new_trunk)},
                            (params, audio), reps)

    def fe_grad(m):
        return jax.jit(jax.grad(lambda p, a: jnp.sum(m.apply(
            {"params": p}, a, train=True, rngs={"dropout": key}) * ct_fe)))

    train_t["front_end"] = bench({"old": fe_grad(old_fe), "new": fe_grad(new_fe)},
                                 (fe_params, audio), reps)
    train_t["trunk"] = bench({
        k: jax.jit(jax.grad(lambda p, a, f=f: jnp.sum(f(p, a, True, key) * ct_tr)))
        for k, f in (("old", old_trunk), ("new", new_trunk))}, (params, audio), reps)
    shapes = ((B, 19300, 50), (B, 3860, 125), (B, 772, 125))  # the crop's masks, with halos
    m = bench({"old": jax.jit(lambda k: [jax.random.bernoulli(jax.random.fold_in(k, j), 0.5, s)
                                         for j, s in enumerate(shapes)]),
               "new": jax.jit(lambda k: [sampling.bernoulli(jax.random.fold_in(k, j), 0.5, s)
                                         for j, s in enumerate(shapes)])}, (key,), reps)
    train_t["dropout_masks"] = m

    # Block sizes of the new front end.
    sizes = (25, 50, 75, 100, 150, 300)
    block_eval = bench({str(s): jax.jit(lambda p, a, s=s: ConvFrontEnd(block_frames=s).apply(
        {"params": p}, a)) for s in sizes}, (fe_params, audio), reps)
    block_train = bench({str(s): fe_grad(ConvFrontEnd(block_frames=s)) for s in sizes},
                        (fe_params, audio), max(3, reps // 2))

    # Tables: ms, GFLOP/s, floor.
    def gflop(stage, train):
        if stage in ("front_end", "trunk"):
            names = ["conv1", "conv2", "conv3"] + (["lstm1", "lstm2"] if stage == "trunk" else [])
            return sum(gflop(n, train) for n in names)
        if stage == "dropout_masks":
            return 0.0
        f = flops[stage]["gflop"]
        return f * ((2 if stage == "conv1" else 3) if train else 1)

    def floor_ms(stage, train, lstm_at_step_rate, rate):
        """FLOPs / rate (GFLOP/s); the LSTM recurrence optionally at the step's rate."""
        if stage in ("front_end", "trunk"):
            names = ["conv1", "conv2", "conv3"] + (["lstm1", "lstm2"] if stage == "trunk" else [])
            return sum(floor_ms(n, train, lstm_at_step_rate, rate) for n in names)
        if stage == "dropout_masks":
            return 0.0
        mult = (2 if stage == "conv1" else 3) if train else 1
        if stage.startswith("lstm") and lstm_at_step_rate:
            rec = flops[stage]["gflop_recurrence"]
            return mult * (rec / (rate * step_share) + (flops[stage]["gflop"] - rec) / rate) * 1e3
        return mult * flops[stage]["gflop"] / rate * 1e3

    def table(times, train):
        out = {}
        for stage, by_impl in times.items():
            rate = 2 * 1024 ** 3 / by_impl["matmul"][0] / 1e9  # this group's matmul rate
            row = {"matmul_gflops_same_group": round(rate, 1),
                   "floor_ms": round(floor_ms(stage, train, False, rate), 2),
                   "floor_ms_lstm_at_step_rate": round(floor_ms(stage, train, True, rate), 2)}
            g = gflop(stage, train)
            for impl, (med, mn) in by_impl.items():
                if impl == "matmul":
                    continue
                row[impl] = {"ms": round(med * 1e3, 2), "min_ms": round(mn * 1e3, 2)}
                if g:
                    row[impl].update({
                        "gflops": round(g / med, 1),
                        "floor_over_measured": round(row["floor_ms"] / (med * 1e3), 3),
                        "floor_over_measured_lstm_at_step_rate":
                            round(row["floor_ms_lstm_at_step_rate"] / (med * 1e3), 3)})
            if "old" in by_impl and "new" in by_impl:
                row["speedup"] = round(by_impl["old"][0] / by_impl["new"][0], 2)
            out[stage] = row
        return out

    result["eval"] = table(eval_t, False)
    result["train"] = table(train_t, True)
    result["block_frames"] = {
        "eval_front_end_ms": {s: round(v[0] * 1e3, 2) for s, v in block_eval.items()},
        "train_front_end_ms": {s: round(v[0] * 1e3, 2) for s, v in block_train.items()}}
    # the "matmul" entries of the block sweeps are the reference runs of those groups
    trunk = result["eval"]["trunk"]["new"]
    result["target"] = {
        "trunk_eval_floor_over_measured": trunk["floor_over_measured"],
        "trunk_eval_floor_over_measured_lstm_at_step_rate":
            trunk["floor_over_measured_lstm_at_step_rate"],
        "met (>= 0.5)": trunk["floor_over_measured"] >= 0.5}
    result["host"]["loadavg_1min_at_end"] = os.getloadavg()[0]
    result["seconds"] = round(time.time() - t_start, 1)
    text = json.dumps(result, indent=1)
    print(text)
    if not args.quick:
        os.makedirs(os.path.dirname(args.out), exist_ok=True)
        with open(args.out, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
