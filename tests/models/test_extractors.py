"""Tests of seru/models/extractors.py against a numpy implementation and against a
plain-JAX oracle of the conv front end (one SAME convolution stack over the whole
padded recording, JAX's own gradients): the fused first layer, the block loop and
the custom VJPs must give its numbers, forward and backward, in evaluation and
training."""

import math

import jax
import jax.numpy as jnp
import flax.linen as nn
import numpy as np
import pytest

from seru import sampling
from seru.models import layers
from seru.models.extractors import (BLOCK_FRAMES, ConvFrontEnd, Extractor, LogMelFrontEnd,
                                    _max_pool, bias_relu_pool, conv_relu_pool, conv_same)


def _np_conv_same(x, kernel, bias):
    """x [L, C], kernel [k, C, O]: cross-correlation with XLA's SAME padding (left (k-1)//2)."""
    k = kernel.shape[0]
    left = (k - 1) // 2
    xp = np.pad(x, ((left, k - 1 - left), (0, 0)))
    out = np.zeros((x.shape[0], kernel.shape[2]))
    for i in range(k):
        out += xp[i:i + x.shape[0]] @ kernel[i]
    return out + bias


def _np_front_end(audio, params, pools=(10, 5, 5)):
    x = audio[:, None].astype(np.float64)
    for j, p in enumerate(pools):
        x = np.maximum(_np_conv_same(x, np.asarray(params[f"conv{j}_kernel"], np.float64),
                                     np.asarray(params[f"conv{j}_bias"], np.float64)), 0)
        n = x.shape[0] // p
        x = x[:n * p].reshape(n, p, -1).max(axis=1)
    return x  # [L, 125], time-major


def test_front_end_matches_numpy_and_frames_are_time_major():
    t = 25  # 16000 samples: 2.56 * 25 = 64 conv positions, no padding
    audio = np.random.default_rng(0).normal(size=(1, t * 640)).astype(np.float32)
    fe = ConvFrontEnd()
    v = fe.init(jax.random.key(0), jnp.asarray(audio))
    out = np.asarray(fe.apply(v, jnp.asarray(audio)))
    assert out.shape == (1, t, 320)
    ref = _np_front_end(audio[0], v["params"])
    assert ref.shape == (64, 125)
    np.testing.assert_allclose(out[0], ref.reshape(t, 320), rtol=2e-4, atol=2e-5)


def test_blocked_front_end_equals_numpy_on_the_whole_recording():
    """Blocks of 25 frames with halos: same as the numpy stack on the whole (padded) audio."""
    t = 60  # padded to 75 frames = 3 blocks of 25
    audio = np.random.default_rng(7).normal(size=(1, t * 640)).astype(np.float32)
    fe = ConvFrontEnd(block_frames=25)
    v = fe.init(jax.random.key(0), jnp.asarray(audio))
    out = np.asarray(jax.jit(fe.apply)(v, jnp.asarray(audio)))
    padded = np.concatenate([audio[0], np.zeros(15 * 640, np.float32)])
    ref = _np_front_end(padded, v["params"]).reshape(75, 320)[:t]
    assert out.shape == (1, t, 320)
    np.testing.assert_allclose(out[0], ref, rtol=2e-4, atol=2e-5)
    big = ConvFrontEnd(block_frames=1000)  # one block
    np.testing.assert_allclose(np.asarray(jax.jit(big.apply)(v, jnp.asarray(audio))), out,
                               rtol=1e-5, atol=1e-6)


def test_log_compression_is_log_eps_of_the_front_end_blocked_or_not():
    """compress='log': log(eps + x) of the plain front end's output, in blocks or whole."""
    t = 60
    audio = np.random.default_rng(3).normal(size=(1, t * 640)).astype(np.float32)
    plain = ConvFrontEnd(block_frames=1000)
    v = plain.init(jax.random.key(0), jnp.asarray(audio))
    ref = np.log(0.05 + np.asarray(plain.apply(v, jnp.asarray(audio)), np.float64))
    for blocks in (25, 1000):
        fe = ConvFrontEnd(block_frames=blocks, compress="log", compress_eps=0.05)
        out = np.asarray(jax.jit(fe.apply)(v, jnp.asarray(audio)))
        np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-4)
    assert ref.min() == pytest.approx(np.log(0.05), abs=1e-6)  # ReLU zeros map to log(eps)
    with pytest.raises(ValueError, match="compress"):
        ConvFrontEnd(compress="sqrt").init(jax.random.key(0), jnp.asarray(audio))


def test_logmel_front_end_matches_librosa():
    """LogMelFrontEnd = librosa's mel spectrogram (Hann, 640-sample frames, no centring),
    log-compressed with the fixed shift / scale; the Extractor runs its LSTMs on it."""
    import librosa

    t = 30
    audio = np.random.default_rng(5).normal(size=(2, t * 640)).astype(np.float32)
    fe = LogMelFrontEnd(n_mels=24)
    out = np.asarray(fe.apply({}, jnp.asarray(audio)))
    assert out.shape == (2, t, 24)
    for b in range(2):
        mel = librosa.feature.melspectrogram(y=audio[b].astype(np.float64), sr=16000, n_fft=640,
                                             hop_length=640, center=False, window="hann",
                                             power=2.0, n_mels=24)
        ref = (np.log(mel.T + 1e-6) + 5.0) / 4.0
        np.testing.assert_allclose(out[b], ref, rtol=1e-4, atol=2e-4)
    ex = Extractor(lstm_size=8, frontend="logmel", n_mels=24)
    v = ex.init(jax.random.key(0), jnp.asarray(audio))
    assert "ConvFrontEnd_0" not in v["params"]
    assert ex.apply(v, jnp.asarray(audio)).shape == (2, t, 8)
    with pytest.raises(ValueError, match="frontend"):
        Extractor(frontend="mfcc").init(jax.random.key(0), jnp.asarray(audio))


def test_front_end_pads_to_whole_seconds_and_crops():
    """T = 30 frames (not a multiple of 25): equals the first 30 frames of the zero-padded 50-frame run."""
    rng = np.random.default_rng(1)
    audio = rng.normal(size=(2, 30 * 640)).astype(np.float32)
    padded = np.concatenate([audio, np.zeros((2, 20 * 640), np.float32)], axis=1)
    fe = ConvFrontEnd()
    v = fe.init(jax.random.key(1), jnp.asarray(audio))
    out = np.asarray(fe.apply(v, jnp.asarray(audio)))
    ref = np.asarray(fe.apply(v, jnp.asarray(padded)))[:, :30]
    assert out.shape == (2, 30, 320)
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-6)


def test_extractor_is_causal_and_dropout_only_in_training():
    rng = np.random.default_rng(4)
    audio = rng.normal(size=(1, 40 * 640)).astype(np.float32)
    longer = np.concatenate([audio, rng.normal(size=(1, 20 * 640)).astype(np.float32)], axis=1)
    m = Extractor(lstm_size=8)
    v = m.init(jax.random.key(3), jnp.asarray(audio))
    a = np.asarray(m.apply(v, jnp.asarray(audio)))
    b = np.asarray(m.apply(v, jnp.asarray(longer)))
    assert a.shape == (1, 40, 8) and b.shape == (1, 60, 8)
    # Forward LSTM: frames before the last see no future audio (the conv
    # receptive field reaches at most a few hundred samples into frame T).
    np.testing.assert_allclose(a[:, :39], b[:, :39], rtol=1e-5, atol=1e-6)
    d1 = np.asarray(m.apply(v, jnp.asarray(audio), train=True, rngs={"dropout": jax.random.key(5)}))
    d2 = np.asarray(m.apply(v, jnp.asarray(audio), train=True, rngs={"dropout": jax.random.key(6)}))
    assert np.abs(d1 - d2).max() > 1e-3 and np.abs(d1 - a).max() > 1e-3


def test_bad_audio_length():
    m = ConvFrontEnd()
    with pytest.raises(ValueError, match="multiple of 640"):
        m.init(jax.random.key(0), jnp.zeros((1, 1000)))


# Parameter tree of Extractor(frontend=...).init(jax.random.key(0), audio) with
# audio = default_rng(0).normal(size=(1, 25 * 640)) (float32), default sizes:
# path -> (shape, sum, sum of |.|) in float64, and the output's (sum, sum of |.|).
# These numbers were computed on the code BEFORE the LSTM moved from
# extractors.py to layers.py (and before frame_samples became an attribute);
# they pin the parameter names, shapes, initialisers and rng order that
# stored checkpoints and fixed-seed runs (bbb_ser, mtl_pu, prabhu22) rely on.
_LSTM_LEAVES = {
    ("LSTM_0", "b"): ((1024,), 0.0, 0.0),
    ("LSTM_0", "w_h"): ((256, 1024), -13.806031377162753, 6540.444051756123),
    ("LSTM_1", "b"): ((1024,), 0.0, 0.0),
    ("LSTM_1", "w_h"): ((256, 1024), -7.737947357255411, 6534.310080022512),
    ("LSTM_1", "w_i"): ((256, 1024), 33.452433140668006, 13443.856709037373),
}
_REFERENCE = {
    "conv": ({
        ("ConvFrontEnd_0", "conv0_bias"): ((50,), 0.0, 0.0),
        ("ConvFrontEnd_0", "conv0_kernel"): ((8, 1, 50), 5.774885019229259, 120.44063656911021),
        ("ConvFrontEnd_0", "conv1_bias"): ((125,), 0.0, 0.0),
        ("ConvFrontEnd_0", "conv1_kernel"): ((6, 50, 125), -3.674580078878762, 1771.483967658238),
        ("ConvFrontEnd_0", "conv2_bias"): ((125,), 0.0, 0.0),
        ("ConvFrontEnd_0", "conv2_kernel"): ((6, 125, 125), -12.499691708244825, 2801.23043539444),
        ("LSTM_0", "w_i"): ((320, 1024), 8.65082541926293, 15012.41097765792),
        **_LSTM_LEAVES,
    }, (-3.2603140312176038, 443.75145577484636)),
    "logmel": ({
        ("LSTM_0", "w_i"): ((40, 1024), 17.93063645503878, 5303.54304321136),
        **_LSTM_LEAVES,
    }, (-14.410863897848685, 810.2885508166637)),
}


@pytest.mark.parametrize("frontend", sorted(_REFERENCE))
def test_extractor_parameter_tree_and_init_are_unchanged(frontend):
    """Checkpoint compatibility: same parameter paths, shapes and fixed-seed values
    (and the same features) as before the LSTM moved to seru.models.layers."""
    leaves, (out_sum, out_abs) = _REFERENCE[frontend]
    audio = jnp.asarray(np.random.default_rng(0).normal(size=(1, 25 * 640)).astype(np.float32))
    m = Extractor(frontend=frontend)
    v = m.init(jax.random.key(0), audio)
    assert set(v) == {"params"}
    flat = {tuple(k.key for k in path): np.asarray(leaf, np.float64)
            for path, leaf in jax.tree_util.tree_flatten_with_path(v["params"])[0]}
    assert set(flat) == set(leaves)
    for key, (shape, total, total_abs) in leaves.items():
        assert flat[key].shape == shape, key
        np.testing.assert_allclose([flat[key].sum(), np.abs(flat[key]).sum()], [total, total_abs],
                                   rtol=1e-6, atol=1e-6, err_msg=str(key))
    out = np.asarray(m.apply(v, audio), np.float64)
    assert out.shape == (1, 25, 256)
    np.testing.assert_allclose([out.sum(), np.abs(out).sum()], [out_sum, out_abs], rtol=1e-4)
    assert Extractor.__module__ == "seru.models.extractors"
    assert LogMelFrontEnd.__module__ == "seru.models.extractors"
    from seru.models import extractors
    assert extractors.LSTM is layers.LSTM


def test_frame_samples_sets_the_time_base():
    """frame_samples=320 (20 ms): the conv front end cuts the same time-major
    stream into frames half as long; the log-mel front end uses 320-sample
    windows; the Extractor passes it to both."""
    import librosa

    audio = np.random.default_rng(6).normal(size=(2, 25 * 640)).astype(np.float32)
    fe = ConvFrontEnd()
    v = fe.init(jax.random.key(0), jnp.asarray(audio))
    ref = np.asarray(fe.apply(v, jnp.asarray(audio)))  # [2, 25, 320]
    half = np.asarray(ConvFrontEnd(frame_samples=320).apply(v, jnp.asarray(audio)))
    assert half.shape == (2, 50, 160)
    np.testing.assert_allclose(half.reshape(2, 25, 320), ref, rtol=1e-5, atol=1e-6)
    # T = 30 frames of 320 samples (9600, not a whole second): the first 30 of the padded run
    short = np.asarray(ConvFrontEnd(frame_samples=320).apply(v, jnp.asarray(audio[:, :9600])))
    assert short.shape == (2, 30, 160)
    # the conv stack reaches ~500 samples ahead: the last two 320-sample frames see the padding
    np.testing.assert_allclose(short[:, :28], half[:, :28], rtol=1e-5, atol=1e-6)
    mel = np.asarray(LogMelFrontEnd(n_mels=16, frame_samples=320).apply({}, jnp.asarray(audio)))
    lib = librosa.feature.melspectrogram(y=audio[0].astype(np.float64), sr=16000, n_fft=320,
                                         hop_length=320, center=False, window="hann",
                                         power=2.0, n_mels=16)
    np.testing.assert_allclose(mel[0], (np.log(lib.T + 1e-6) + 5.0) / 4.0, rtol=1e-4, atol=2e-4)
    for frontend, width in (("conv", 160), ("logmel", 16)):
        ex = Extractor(lstm_size=8, frontend=frontend, n_mels=16, frame_samples=320)
        ve = ex.init(jax.random.key(0), jnp.asarray(audio))
        assert ve["params"]["LSTM_0"]["w_i"].shape == (width, 32)
        assert ex.apply(ve, jnp.asarray(audio)).shape == (2, 50, 8)
    with pytest.raises(ValueError, match="multiple of 320"):
        ConvFrontEnd(frame_samples=320).init(jax.random.key(0), jnp.zeros((1, 1000)))
    with pytest.raises(ValueError, match="multiple of 320"):
        LogMelFrontEnd(frame_samples=320).apply({}, jnp.zeros((1, 1000)))


# --- the fused first layer, the conv VJP, and the blocked front end against plain JAX ------


def _lax_conv(x, w):
    return jax.lax.conv_general_dilated(x, w, (1,), "SAME", dimension_numbers=("NWC", "WIO", "NWC"))


def _lax_conv_relu_pool(x, w, b, pool):
    """The unfused first layer: XLA's convolution, ReLU, max-pool; JAX's gradients."""
    return _max_pool(jax.nn.relu(_lax_conv(x[..., None], w[:, None, :]) + b), pool)


def _grads(fn, args, ct):
    return jax.grad(lambda *a: jnp.sum(fn(*a) * ct), argnums=tuple(range(len(args))))(*args)


def _assert_trees_close(a, b, rtol, atol=0.0):
    for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=rtol,
                                   atol=atol * float(np.abs(np.asarray(y)).max() + 1e-300))


@pytest.mark.parametrize("length,kernel,pool", [(1600, 8, 10), (1607, 8, 10), (503, 5, 3),
                                                (333, 16, 10), (100, 1, 4), (64, 7, 1)])
def test_conv_relu_pool_equals_unfused_layer_and_its_gradients(length, kernel, pool):
    """Fused conv + ReLU + max-pool = XLA conv (SAME), ReLU, pool (lengths that the pool
    does not divide, even / odd / unit kernels, pool 1), values and the gradients w.r.t.
    audio, kernel and bias; float64 so that no near-tie of a max can flip."""
    rng = np.random.default_rng(length + kernel)
    with jax.enable_x64(True):
        x = jnp.asarray(rng.normal(size=(2, length)))
        w = jnp.asarray(rng.normal(size=(kernel, 6)))
        b = jnp.asarray(rng.normal(size=(6,)))
        out = conv_relu_pool(x, w, b, pool)
        ref = _lax_conv_relu_pool(x, w, b, pool)
        assert out.shape == ref.shape == (2, length // pool, 6)
        np.testing.assert_allclose(np.asarray(out), np.asarray(ref), rtol=1e-12, atol=1e-12)
        assert float(jnp.mean(ref > 0)) > 0.3  # both ReLU branches are exercised
        ct = jnp.asarray(rng.normal(size=out.shape))
        _assert_trees_close(_grads(lambda *a: conv_relu_pool(*a, pool), (x, w, b), ct),
                            _grads(lambda *a: _lax_conv_relu_pool(*a, pool), (x, w, b), ct),
                            rtol=1e-10, atol=1e-12)
    # float32 forward, jitted
    x32, w32, b32 = (jnp.asarray(np.asarray(a), jnp.float32) for a in (x, w, b))
    np.testing.assert_allclose(np.asarray(jax.jit(conv_relu_pool, static_argnums=3)(
        x32, w32, b32, pool)), np.asarray(_lax_conv_relu_pool(x32, w32, b32, pool)),
        rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("length,pool", [(40, 5), (43, 5), (12, 1), (9, 3)])
def test_bias_relu_pool_equals_the_composition_and_its_gradients(length, pool):
    """bias_relu_pool = max-pool(ReLU(y + b)) bit for bit in float32 (lengths the pool does
    not divide, pool 1), and its gradients w.r.t. y and b are JAX's (float64, no ties)."""
    rng = np.random.default_rng(length + pool)
    y = jnp.asarray(rng.normal(size=(2, length, 7)), jnp.float32)
    b = jnp.asarray(rng.normal(size=(7,)), jnp.float32)
    ref = lambda y, b: _max_pool(jax.nn.relu(y + b), pool)  # noqa: E731
    out = jax.jit(bias_relu_pool, static_argnums=2)(y, b, pool)
    assert out.shape == (2, length // pool, 7)
    np.testing.assert_array_equal(np.asarray(out), np.asarray(ref(y, b)))
    with jax.enable_x64(True):
        y64, b64 = jnp.asarray(np.asarray(y), jnp.float64), jnp.asarray(np.asarray(b), jnp.float64)
        ct = jnp.asarray(rng.normal(size=out.shape))
        assert 0.2 < float(jnp.mean(ref(y64, b64) > 0)) < 1.0  # both ReLU branches
        _assert_trees_close(_grads(lambda y, b: bias_relu_pool(y, b, pool), (y64, b64), ct),
                            _grads(ref, (y64, b64), ct), rtol=1e-12, atol=1e-12)


def test_bias_relu_pool_sends_a_tie_to_the_first_maximum():
    """Exactly tied maxima (digital silence): the whole gradient goes to the first of them."""
    y = jnp.asarray([[[1.0], [1.0], [0.5], [2.0], [-3.0], [2.0]]])
    dy, db = jax.grad(lambda y, b: jnp.sum(bias_relu_pool(y, b, 3)), argnums=(0, 1))(
        y, jnp.zeros(1))
    np.testing.assert_array_equal(np.asarray(dy)[0, :, 0], [1, 0, 0, 1, 0, 0])
    assert float(db[0]) == 2.0


def test_conv_same_gradient_equals_jax_inside_a_loop():
    """conv_same: XLA's SAME convolution; its custom VJP (kernel gradient by one matmul)
    equals JAX's, also inside lax.map as the block loop runs it."""
    rng = np.random.default_rng(5)
    with jax.enable_x64(True):
        xs = jnp.asarray(rng.normal(size=(3, 2, 37, 4)))
        for k in (6, 5, 2, 1):
            w = jnp.asarray(rng.normal(size=(k, 4, 3)))
            ct = jnp.asarray(rng.normal(size=(3, 2, 37, 3)))
            mine = lambda x, w: jax.lax.map(lambda xb: conv_same(xb, w), x)
            ref = lambda x, w: jax.lax.map(lambda xb: _lax_conv(xb, w), x)
            np.testing.assert_allclose(np.asarray(mine(xs, w)), np.asarray(ref(xs, w)),
                                       rtol=1e-12, atol=1e-12)
            _assert_trees_close(_grads(mine, (xs, w), ct), _grads(ref, (xs, w), ct),
                                rtol=1e-10, atol=1e-12)


class _KeyProbe(nn.Module):
    """Returns the key flax's ``make_rng("dropout")`` gives a module at this place."""

    @nn.compact
    def __call__(self):
        return self.make_rng("dropout")


class _NestedKeyProbe(nn.Module):
    @nn.compact
    def __call__(self):
        return _KeyProbe(name="ConvFrontEnd_0")()


def _dropout_key(key, nested=False):
    """The key a ConvFrontEnd draws its masks from: top level, or inside an Extractor."""
    return (_NestedKeyProbe() if nested else _KeyProbe()).apply({}, rngs={"dropout": key})


def _reference_front_end(p, audio, train=False, key=None, rate=0.5, kernels=(8, 6, 6),
                         pools=(10, 5, 5), fs=640):
    """The front end before blocks and fusion: one SAME conv stack over the whole
    recording (zero-padded to whole 1 s quanta, plus the halos), XLA's convolution,
    dropout masks from ``fold_in(fold_in(key, 0), layer)`` over the whole crop (``key``:
    the front end's ``make_rng("dropout")``, see :func:`_dropout_key`)."""
    n = audio.shape[1]
    total = math.prod(pools)
    quantum = math.lcm(fs, total)
    padded = -(-n // quantum) * quantum
    reach, spacing = 0, 1
    for k, q in zip(kernels, pools):
        reach += (k // 2 + 1) * spacing
        spacing *= q
    halo = -(-(reach + total) // total) * total
    x = jnp.pad(audio, ((0, 0), (halo, padded - n + halo)))[..., None]
    spacing = 1
    for j, q in enumerate(pools):
        if j:
            g = -halo // spacing + jnp.arange(x.shape[1])
            x = jnp.where(((g >= 0) & (g < padded // spacing))[None, :, None], x, 0.0)
        x = _max_pool(jax.nn.relu(_lax_conv(x, p[f"conv{j}_kernel"]) + p[f"conv{j}_bias"]), q)
        spacing *= q
        if train:
            keep = sampling.bernoulli(jax.random.fold_in(jax.random.fold_in(key, 0), j),
                                      1.0 - rate, x.shape)
            x = jnp.where(keep, x / (1.0 - rate), 0.0)
    x = x[:, halo // total: x.shape[1] - halo // total]
    per_frame = x.shape[-1] * fs // total
    return x.reshape(x.shape[0], -1, per_frame)[:, : n // fs]


@pytest.mark.parametrize("frames,block", [(60, 50), (60, 25), (37, 25), (3, 50), (30, 1)])
@pytest.mark.parametrize("train", [False, True])
def test_blocked_front_end_equals_whole_recording_with_gradients(frames, block, train):
    """Blocks that do not divide the (padded) length, recordings shorter than a block
    or than one second, block_frames=1 (one 25-frame quantum): the output and the
    gradients w.r.t. every parameter and the audio equal the plain whole-recording stack,
    in evaluation and in training (same dropout masks); float64."""
    rng = np.random.default_rng(frames * 7 + block)
    fe = ConvFrontEnd(block_frames=block)
    with jax.enable_x64(True):
        audio = jnp.asarray(rng.normal(size=(2, frames * 640)))
        v = fe.init(jax.random.key(0), audio)
        v = jax.tree_util.tree_map(lambda a: a + 0.05 * jnp.asarray(rng.normal(size=a.shape)), v)
        key = jax.random.key(11)
        kw = {"train": True, "rngs": {"dropout": key}} if train else {}
        mine = jax.jit(lambda v, a: fe.apply(v, a, **kw))
        ref = lambda v, a: _reference_front_end(v["params"], a, train, _dropout_key(key))
        out, expect = mine(v, audio), ref(v, audio)
        assert out.shape == expect.shape == (2, frames, 320)
        np.testing.assert_allclose(np.asarray(out), np.asarray(expect), rtol=1e-11, atol=1e-11)
        if train:
            assert 0.4 < float(jnp.mean(out == 0)) < 0.9  # dropout and ReLU zeros
        ct = jnp.asarray(rng.normal(size=out.shape))
        _assert_trees_close(jax.jit(lambda v, a: _grads(lambda v, a: fe.apply(v, a, **kw),
                                                          (v, a), ct))(v, audio),
                            _grads(ref, (v, audio), ct), rtol=1e-9, atol=1e-11)


def test_front_end_float32_and_extractor_gradients_match_the_reference():
    """float32, jitted, the default block size on 3 x 80 frames (2 blocks, the last one
    partly past the recording): the front end's output and the whole Extractor's
    parameter gradients in training (dropout) equal the reference to float32 rounding."""
    rng = np.random.default_rng(21)
    audio = jnp.asarray(rng.normal(size=(3, 80 * 640)), jnp.float32)
    ex = Extractor(lstm_size=16)
    v = ex.init(jax.random.key(1), audio)
    key = jax.random.key(2)
    fe = v["params"]["ConvFrontEnd_0"]
    np.testing.assert_allclose(
        np.asarray(jax.jit(lambda p, a: ConvFrontEnd().apply({"params": p}, a))(fe, audio)),
        np.asarray(_reference_front_end(fe, audio)), rtol=2e-5, atol=2e-5)

    def ref_trunk(p, a):
        x = _reference_front_end(p["ConvFrontEnd_0"], a, True, _dropout_key(key, nested=True))
        for j in range(2):
            x = layers.LSTM(16).apply({"params": p[f"LSTM_{j}"]}, x)
        return x

    ct = jnp.asarray(rng.normal(size=(3, 80, 16)), jnp.float32)
    mine = jax.jit(jax.grad(lambda p: jnp.sum(ex.apply(
        {"params": p}, audio, train=True, rngs={"dropout": key}) * ct)))(v["params"])
    ref = jax.jit(jax.grad(lambda p: jnp.sum(ref_trunk(p, audio) * ct)))(v["params"])
    for a, b in zip(jax.tree_util.tree_leaves(mine), jax.tree_util.tree_leaves(ref)):
        # a max-pool near-tie flipped by float32 rounding moves one term: compare norms
        assert float(jnp.linalg.norm(a - b)) <= 1e-3 * float(jnp.linalg.norm(b)) + 1e-6


def test_dropout_masks_do_not_depend_on_the_block_size():
    """A fixed dropout key gives the same training output for any block_frames."""
    audio = jnp.asarray(np.random.default_rng(8).normal(size=(2, 80 * 640)), jnp.float32)
    v = ConvFrontEnd().init(jax.random.key(0), audio)
    outs = [np.asarray(jax.jit(lambda v, a, n=n: ConvFrontEnd(block_frames=n).apply(
        v, a, train=True, rngs={"dropout": jax.random.key(4)}))(v, audio)) for n in (25, 50, 1000)]
    for o in outs[1:]:
        np.testing.assert_allclose(o, outs[0], rtol=2e-5, atol=2e-5)
    other = ConvFrontEnd().apply(v, audio, train=True, rngs={"dropout": jax.random.key(5)})
    assert float(jnp.abs(other - outs[0]).max()) > 1e-2


@pytest.mark.parametrize("bad", [0, -25, 2.5, True, "50"])
def test_block_frames_must_be_a_positive_integer(bad):
    audio = jnp.zeros((1, 25 * 640))
    with pytest.raises(ValueError, match="block_frames"):
        ConvFrontEnd(block_frames=bad).init(jax.random.key(0), audio)
    with pytest.raises(ValueError, match="block_frames"):
        Extractor(block_frames=bad).init(jax.random.key(0), audio)


def test_conv_block_frames_field_reaches_the_front_end():
    """prabhu22's model.conv_block_frames (default BLOCK_FRAMES) is the Extractor's block size."""
    from seru.config import defaults, model_defaults
    from seru.systems.prabhu22 import Prabhu22

    c = defaults()
    c.model = model_defaults("prabhu22")
    assert c.model.conv_block_frames == BLOCK_FRAMES
    c.model.update(conv_block_frames=75)
    assert Prabhu22(c).model.extractor.block_frames == 75
