"""Tests of the mitra25 system (seru/systems/mitra25.py) and its input
(seru/data/utterance_frames.py,
seru/data/utterance_records.py): the loss by hand, padding and evaluation batch size never
change a result, the vote targets over the chosen classes, the noisy test sets, and the
whole job on the tiny corpus."""

import re

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from seru import evaluation, sharding
from seru.data import utterance_frames as U
from seru.data import utterance_records as R
from seru.systems.mitra25 import Mitra25, default_model_config

CLASSES = ("neutral", "happy", "angry")
DIMS = ("arousal", "valence")


def _config(target="votes", **model):
    c = ml_collections.ConfigDict()
    c.model = default_model_config()
    c.model.update(target=target, conv_features=8, gru_features=8, embedding_features=8,
                   **model)
    c.data = ml_collections.ConfigDict({"dimensions": DIMS, "utterance": {"classes": CLASSES}})
    return c


def _arrays(n=7, f=5, seed=0):
    r = np.random.default_rng(seed)
    lengths = r.integers(3, 12, n)
    votes = r.integers(0, 4, (n, len(CLASSES)))
    votes[0] = 0          # no vote for these classes
    votes[1] = [2, 2, 0]  # a tie: no plurality class
    return {"ids": np.asarray([f"u{i}" for i in range(n)]),
            "speakers": np.asarray([f"s{i % 3}" for i in range(n)]),
            "genders": np.asarray(["female", "male"] * (n // 2) + ["female"] * (n % 2)),
            "frames": [r.normal(size=(t, f)).astype(np.float32) for t in lengths],
            "attributes": r.uniform(-1, 1, (n, len(DIMS))).astype(np.float32),
            "attr_mask": np.ones((n, len(DIMS)), np.float32),
            "std": np.zeros((n, len(DIMS)), np.float32), "votes": votes}


def _dataset(arrays, eval_batch_size=4, max_frames=10):
    return U.UtteranceFramesDataset({"train": arrays, "test": arrays},
                                    U.FrameScaler(arrays["frames"]), classes=CLASSES,
                                    dimensions=DIMS, max_frames=max_frames, batch_size=4,
                                    eval_batch_size=eval_batch_size, train_split="train")


def test_targets_of_the_votes():
    a = _arrays()
    ds = _dataset(a)
    t = ds.targets("test")
    assert t["u0"]["class_mask"][0] == 0 and t["u0"]["label"][0] == -1
    assert t["u1"]["label"][0] == -1 and t["u1"]["class_mask"][0] == 1
    np.testing.assert_allclose(t["u1"]["votes_pdf"][0], [0.5, 0.5, 0.0])
    for i in range(2, 7):
        v = a["votes"][i]
        if v.sum():
            np.testing.assert_allclose(t[f"u{i}"]["votes_pdf"][0], v / v.sum(), rtol=1e-6)
    assert ds.cropped["test"] == int(sum(len(f) > 10 for f in a["frames"]))
    with pytest.raises(ValueError, match=r"\['fear'\] are not classes of the corpus"):
        R.vote_matrix(("neutral", "happy"), ("neutral", "fear"))
    # IEMOCAP-like: 'excited' counts as happy, 'frustrated' for nothing, no 'contempt'
    m = R.vote_matrix(("neutral", "happy", "frustrated", "excited"),
                      ("neutral", "happy", "contempt"), ("excited=happy",), strict=False)
    np.testing.assert_array_equal(np.array([1, 2, 5, 3]) @ m, [1, 5, 0])
    with pytest.raises(ValueError, match="class_map entry 'bored=happy'"):
        R.vote_matrix(("neutral", "happy"), ("neutral", "happy"), ("bored=happy",))


@pytest.mark.parametrize("target", ["votes", "consensus"])
def test_loss_by_hand(target):
    system = Mitra25(_config(target, w_class=0.7))
    ds = _dataset(_arrays())
    batch = next(ds.train_iter(0, 0))
    params = system.init(jax.random.key(0), batch)
    loss, terms = system.loss(params, batch, jax.random.key(1))
    out = system.model.apply(params, jnp.asarray(batch["features"]), jnp.asarray(batch["lengths"]))
    x, y = np.asarray(out["dimensional"], np.float64), batch["attributes"].astype(np.float64)
    ccc = [2 * np.mean((x[:, d] - x[:, d].mean()) * (y[:, d] - y[:, d].mean()))
           / (x[:, d].var() + y[:, d].var() + (x[:, d].mean() - y[:, d].mean()) ** 2)
           for d in range(len(DIMS))]
    logp = np.asarray(jax.nn.log_softmax(out["logits"]), np.float64)
    label, w = ((batch["votes_pdf"], batch["class_mask"]) if target == "votes"
                else (batch["consensus"], batch["has_label"]))
    ce = np.sum(w * -(label * logp).sum(1)) / max(w.sum(), 1)
    assert float(terms["cross_entropy"]) == pytest.approx(ce, rel=1e-5)
    assert float(loss) == pytest.approx(1 - np.mean(ccc) + 0.7 * ce, rel=1e-4)


def test_padding_and_eval_batch_size_never_change_a_result():
    """The same utterances through evaluation batches of 4 and of 3 (other padding rows,
    other neighbours), and with a longer max_frames (more padded frames): same outputs."""
    system = Mitra25(_config())
    a = _arrays()
    mesh = sharding.make_mesh()
    params = system.init(jax.random.key(0), _dataset(a).example_batch())
    runs = [evaluation.predict_split(system, params, _dataset(a, bs, mf), "test",
                                     jax.random.key(0), 1, mesh)
            for bs, mf in ((4, 12), (3, 12), (1, 20))]
    for other in runs[1:]:
        for rid, p in runs[0].items():
            for k in p:
                np.testing.assert_allclose(other[rid][k], p[k], rtol=2e-5, atol=1e-6)
    metrics = [Mitra25(_config()).evaluate(*evaluation.pool(system, r, _dataset(a).targets("test")))
               for r in runs]
    assert metrics[0] == pytest.approx(metrics[1], rel=1e-5) == metrics[2]


def test_another_corpus_maps_its_classes(tmp_path):
    """CREMA-D (no ratings, six other classes) read as a run on the six mitra25 classes
    expects: its votes mapped by name, contempt and surprise missing (a warning, no votes),
    the attributes masked; as the training corpus it is refused."""
    import sys
    from pathlib import Path

    from seru import config as config_lib

    sys.path.insert(0, str(Path(__file__).parents[1] / "data" / "corpora"))
    import fixtures

    wrote = fixtures.write_crema_d(tmp_path / "manual")
    c = config_lib.load_file("configs/mitra25_tcgru.py:corpus=crema_d")
    c.data.data_dir, c.data.manual_dir = str(tmp_path / "data"), str(tmp_path / "manual")
    with pytest.warns(RuntimeWarning, match=r"no votes for the classes \['contempt', 'surprise'\]"):
        a = U.open_split(c, "train", progress=False, strict=False)
    assert len(a["ids"]) == 8 and not a["attr_mask"].any()
    crema = ("angry", "disgust", "fear", "happy", "neutral", "sad")
    for rid, v in zip(a["ids"], a["votes"]):
        want = wrote["votes"][rid]
        np.testing.assert_array_equal(
            v, [want[crema.index(k)] if k in crema else 0 for k in c.data.utterance.classes])
    with pytest.raises(ValueError, match="are not classes of the corpus"):
        U.open_split(c, "train", progress=False)


def test_frames_option_is_checked_before_anything_is_built():
    from seru import config as config_lib

    c = config_lib.load_file("configs/mitra25_tcgru.py")
    for frames, message in (("ssl:9", "'ssl:<layer>' with a layer in 0..4"),
                            ("hf:final", "set data.utterance.encoder_path"),
                            ("mfbf0:2", "mfbf0 has no layers"),
                            ("wavlm:3", "expected 'mfbf0', 'ssl:<layer>' or 'hf:<layer>'")):
        c.data.utterance.frames = frames
        with pytest.raises(config_lib.ConfigError, match=re.escape(message)):
            config_lib.validate(c, check_corpus=False)
    c.data.utterance.frames = "ssl:salient"
    config_lib.validate(c, check_corpus=False)
    (o, _) = Mitra25(c).outputs
    assert (o.mean, o.spread) == ("attributes", None)


def test_noisy_source_is_deterministic_at_the_snr():
    from seru.data import noise

    r = np.random.default_rng(0)
    t = np.arange(16000) / 16000
    recs = [{"id": f"u{i}", "speaker": "s", "sample_rate": 16000,
             "audio": (0.3 * np.sin(2 * np.pi * (120 + 10 * i) * t)
                       * (t > 0.2)).astype(np.float32)} for i in range(3)]
    kinds = {"pink": noise.make_source("pink"), "clatter": noise.make_source("clatter")}
    src = R.NoisySource(recs, 5.0, kinds, seed=3)
    a, b = src[1], R.NoisySource(recs, 5.0, kinds, seed=3)[1]
    np.testing.assert_array_equal(a["audio"], b["audio"])
    assert a["noise_type"] in kinds and a["achieved_snr_db"] == pytest.approx(5.0, abs=1e-3)
    level = noise.active_speech_level(recs[1]["audio"], 16000).active_power
    p_noise = np.mean((a["audio"].astype(np.float64) - recs[1]["audio"]) ** 2)
    assert 10 * np.log10(level / p_noise) == pytest.approx(5.0, abs=0.05)
    assert not np.array_equal(R.NoisySource(recs, 5.0, kinds, seed=4)[1]["audio"], a["audio"])
    assert R.NOISY_SPLIT.match("test_snr15")["base"] == "test"
    assert R.NOISY_SPLIT.match("test_snr-2.5")["db"] == "-2.5"


@pytest.mark.parametrize("frames", ["mfbf0", "ssl:salient"])
def test_end_to_end_on_the_tiny_corpus(tmp_path, frames):
    """configs/mitra25_tcgru.py through the trainer and the evaluation job on the tiny
    synthetic utterance corpus: metrics, the class evaluators and a noisy test set; with
    the offline encoder's CCS-salient layer, its curve kept with the run."""
    import json

    from seru import config as config_lib
    from seru import trainer
    from seru.inference import Predictor

    c = config_lib.load_file(f"configs/mitra25_tcgru.py:target=votes,frames={frames}")
    c.data.variant, c.data.data_dir = "tiny", str(tmp_path / "data")
    c.data.utterance.update(encoder_pool="seru_synth_utterances/tiny/unlabeled",
                            encoder_layers=2, encoder_dim=16, encoder_steps=3)
    c.data.batch_size = c.eval.batch_size = 8
    c.model.update(conv_features=8, gru_features=8, embedding_features=8)
    c.train.num_epochs, c.train.eval_every_epochs, c.train.progress_bar = 2, 1, False
    c.eval.splits = ()
    config_lib.validate(c)
    trainer.train_and_evaluate(c, tmp_path / "w")
    m = evaluation.evaluate_checkpoint(tmp_path / "w", "test_snr5", verbose=False)
    assert {"ccc/arousal", "ccc", "uar", "f1_macro", "pa_uar50_k2", "kl_votes",
            "gender/female/uar_k1"} <= set(m)
    assert all(np.isfinite(m[k]) for k in ("ccc", "kl_votes", "brier_votes"))
    if frames.startswith("ssl"):
        info = json.loads((tmp_path / "w" / "input_info.json").read_text())
        curve = info["ccs"]["curve"]
        assert len(curve) == 3 and info["layer"] == info["ccs"]["layer"] == int(np.argmax(curve))
        assert set(info["ccs"]["per_target"]) >= {"arousal", "p_neutral"}
    out = tmp_path / "w" / "eval" / "test_snr5"
    assert (out / "class_hypotheses.png").exists()
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["metrics"]["n_items"] == 20
    noise = saved["input"]["noise"]
    assert (noise["snr_db"], noise["noise_seed"]) == (5.0, 0)
    assert set(noise["noise_kinds"]) == {"babble", "pink", "clatter"}
    assert sum(noise["noise_kinds"].values()) == 20
    from seru.data import inputs  # the training statistics are read once per config
    assert inputs._utt_scaler(c) is inputs._utt_scaler(c)
    sig = np.sin(np.linspace(0, 400, 32000)).astype(np.float32) * 0.3
    df = Predictor.from_workdir(tmp_path / "w").predict(sig, 16000, file="x")
    assert list(df.columns) == ["arousal_mean", "valence_mean", "dominance_mean"] + [
        f"p_{c}" for c in c.data.utterance.classes]
    assert len(df) == 1 and df.filter(like="p_").sum(axis=1).iloc[0] == pytest.approx(1, 1e-5)
