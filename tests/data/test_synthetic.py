"""Tests of seru/data/synthetic and the synthetic corpus builders (tiny variants).

Acoustic correlates are measured on the generated audio with numpy / librosa,
annotator behaviour against the hidden latents with numpy / scipy.
"""

import itertools

import librosa
import numpy as np
import pytest
import scipy.stats

from seru.data import schema
from seru.data.corpora.seru_synth_continuous.builder import (
    SeruSynthContinuous, generate_split as continuous_split,
)
from seru.data.corpora.seru_synth_utterances.builder import (
    SeruSynthUtterances, generate_split as utterance_split,
)
from seru.data.synthetic import continuous, speech, utterances
from seru.data.synthetic.annotators import likert, trace_annotators
from seru.data.synthetic.processes import ema, rng_for, smooth_noise

SR = 16000


def _config(cls, name):
    return next(c for c in cls.BUILDER_CONFIGS if c.name == name)


def _records(sources, splits=None):
    return [(s, src[i]) for s, src in sources.items() if splits is None or s in splits
            for i in range(len(src))]


# ------------------------------------------------------------------ building blocks


def test_smooth_noise_is_unit_variance_with_gaussian_autocorrelation():
    rng = np.random.default_rng(0)
    x = smooth_noise(rng, 4000, 10.0, size=200)
    assert x.var() == pytest.approx(1.0, abs=0.05)
    # Gaussian kernel of std s -> autocorrelation exp(-lag^2 / (4 s^2))
    lag = 10
    r = np.mean(x[:, :-lag] * x[:, lag:]) / x.var()
    assert r == pytest.approx(np.exp(-lag**2 / (4 * 10.0**2)), abs=0.03)


def test_ema_matches_explicit_recursion():
    x = np.random.default_rng(1).standard_normal((3, 50))
    alpha = 0.3
    y = np.empty_like(x)
    prev = x[:, 0].copy()
    for t in range(x.shape[1]):
        prev = alpha * x[:, t] + (1 - alpha) * prev
        y[:, t] = prev
    np.testing.assert_allclose(ema(x, alpha), y, rtol=1e-12, atol=1e-12)


def test_likert_maps_range_to_integer_points():
    v = np.array([-1.0, -0.34, 0.0, 0.34, 1.0, 5.0, -5.0])
    np.testing.assert_array_equal(likert(v, 7), [1, 3, 4, 5, 7, 7, 1])
    np.testing.assert_array_equal(likert(v, 5), [1, 2, 3, 4, 5, 5, 1])


def test_rng_for_is_keyed_and_rejects_negative_keys():
    a = rng_for(0, 2, 1, 3).standard_normal(5)
    np.testing.assert_array_equal(a, rng_for(0, 2, 1, 3).standard_normal(5))
    assert not np.array_equal(a, rng_for(0, 2, 1, 4).standard_normal(5))
    with pytest.raises(ValueError, match="non-negative"):
        rng_for(0, -1)


def test_render_rejects_driver_of_wrong_length():
    voice = speech.sample_voice(rng_for(0, 9), "female")
    n = SR
    drivers = {k: np.zeros(speech.n_ctrl_frames(n) - 1)
               for k in ("arousal", "valence", "ambiguity", "conflict")}
    with pytest.raises(ValueError, match="driver 'arousal' has shape"):
        speech.render(rng_for(0, 9), voice, drivers, n)


# ------------------------------------------------------------------ acoustics


def _contrast_features(arousal=0.0, valence=0.0, seed=1, seconds=6):
    """RMS (dB, active frames), median F0 (librosa yin), >2 kHz / <2 kHz energy (dB)."""
    n = SR * seconds
    nc = speech.n_ctrl_frames(n)
    voice = speech.sample_voice(rng_for(0, 9, 0), "male")
    drivers = dict(arousal=np.full(nc, arousal), valence=np.full(nc, valence),
                   ambiguity=np.full(nc, 0.1), conflict=np.zeros(nc))
    audio, _ = speech.render(rng_for(seed, 9, 1), voice, drivers, n, mode="utterance")
    frames = audio[: n // 640 * 640].reshape(-1, 640).astype(np.float64)
    energy = (frames**2).mean(1)
    active = energy > np.percentile(energy, 40)
    spec = np.abs(np.fft.rfft(frames[active] * np.hanning(640), axis=1)) ** 2
    f = np.fft.rfftfreq(640, 1 / SR)
    f0 = librosa.yin(audio, fmin=60, fmax=600, sr=SR, frame_length=1280, hop_length=640,
                     center=False)
    return dict(
        rms=10 * np.log10(energy[active].mean()),
        f0=float(np.median(f0[active[: f0.size]])),
        hf=10 * np.log10(spec[:, f >= 2000].sum() / spec[:, f < 2000].sum()),
    )


def test_arousal_raises_loudness_f0_and_high_frequency_energy_more_than_valence():
    lo, hi = _contrast_features(arousal=-0.6), _contrast_features(arousal=0.6)
    vlo, vhi = _contrast_features(valence=-0.6), _contrast_features(valence=0.6)
    assert hi["rms"] - lo["rms"] > 6.0           # dB
    assert 12 * np.log2(hi["f0"] / lo["f0"]) > 2.5  # semitones
    assert hi["hf"] - lo["hf"] > 2.0             # dB
    # valence leaves a weaker (but same-signed) trace than arousal
    assert 0 < vhi["rms"] - vlo["rms"] < 0.5 * (hi["rms"] - lo["rms"])
    assert 0 < np.log2(vhi["f0"] / vlo["f0"]) < 0.5 * np.log2(hi["f0"] / lo["f0"])


@pytest.fixture(scope="module")
def long_recording():
    """One 60 s recording generated directly (longer than tiny's, for lag and correlation tests)."""
    anns = trace_annotators(0, 6)
    return continuous.generate_recording(0, "train", 0, continuous.speaker(0, 1), 60.0, anns)


def _window_means(x, w=25):
    k = x.shape[0] // w
    return x[: k * w].reshape(k, w, *x.shape[1:]).mean(1)


def test_frame_rms_tracks_true_arousal(synth_continuous, long_recording):
    """Within-recording 1 s RMS (speech frames) correlates with the hidden arousal."""
    _, sources = synth_continuous
    rs = []
    for _, rec in _records(sources) + [("long", long_recording)]:
        n = rec["arousal"].shape[0]
        frames = rec["audio"].reshape(n, 640).astype(np.float64)
        rms_db = 10 * np.log10((frames**2).mean(1) + 1e-12)
        speech_frames = rms_db > np.percentile(rms_db, 50)
        k = n // 25
        num = _window_means(np.where(speech_frames, rms_db, 0.0))
        den = _window_means(speech_frames.astype(float))
        ok = den[:k] > 0.2
        rms_w = num[ok] / den[ok]
        a_w = _window_means(rec["hidden"]["arousal"])[ok]
        rs.append(scipy.stats.pearsonr(rms_w, a_w)[0])
    assert np.mean(rs) > 0.3
    assert rs[-1] > 0.4  # the 60 s recording


def test_rater_std_grows_with_ambiguity(synth_continuous, long_recording):
    _, sources = synth_continuous
    recs = [r for _, r in _records(sources)] + [long_recording]
    s = np.concatenate([np.std(r["arousal"], axis=1, ddof=1) for r in recs])
    amb = np.concatenate([r["hidden"]["ambiguity"] for r in recs])
    assert scipy.stats.pearsonr(s, amb)[0] > 0.3
    assert scipy.stats.spearmanr(s, amb)[0] > 0.3


def _peak_lag(truth, rating, max_lag):
    """Lag (frames) maximising corr(rating[t], truth[t - lag]), by numpy cross-correlation."""
    xc = []
    for lag in range(-max_lag, max_lag + 1):
        a = truth[max(0, -lag): len(truth) - max(0, lag)]
        b = rating[max(0, lag): len(rating) - max(0, -lag)]
        xc.append(np.corrcoef(a, b)[0, 1])
    return int(np.argmax(xc)) - max_lag


def test_rate_trace_delay_and_smoothing_lag_the_percept():
    """Unambiguous, fast-varying truth: the cross-correlation peak sits at delay .. delay + tau."""
    from seru.data.synthetic.annotators import rate_trace

    rng = np.random.default_rng(3)
    anns = trace_annotators(0, 6)
    pre, n = 150, 3000
    truth = 0.5 * smooth_noise(rng, pre + n, 25.0)   # 1 s length scale
    ratings = rate_trace(rng, anns, truth, np.zeros_like(truth), n, 0.04)
    for k, ann in enumerate(anns):
        peak_s = _peak_lag(truth[pre:], ratings[:, k].astype(np.float64), 150) * 0.04
        assert ann.delay_s - 0.1 <= peak_s <= ann.delay_s + ann.smooth_s + 0.1, (k, peak_s)


def test_corpus_ratings_lag_the_latent(long_recording):
    """In a generated recording the mean rating peaks at a positive lag behind the true arousal.

    (Single raters' 60 s traces are dominated by their ambiguity-driven deviations; the
    per-rater lag is tested on a clean percept above.)
    """
    truth = long_recording["hidden"]["arousal"].astype(np.float64)
    anns = trace_annotators(0, 6)
    np.testing.assert_allclose(long_recording["hidden"]["annotator_delay_s"],
                               [a.delay_s for a in anns], rtol=1e-6)
    mean_rating = long_recording["arousal"].astype(np.float64).mean(1)
    lag_s = _peak_lag(truth, mean_rating, 200) * 0.04
    expected = np.mean([a.delay_s + 0.5 * a.smooth_s for a in anns])
    assert 1.0 < lag_s < expected + 2.0


# ------------------------------------------------------------------ continuous corpus


def test_continuous_schema_and_shapes(synth_continuous):
    builder, sources = synth_continuous
    meta = builder.info.metadata
    assert meta["kind"] == "continuous"
    assert meta["dimensions"] == ["arousal", "valence"]
    assert meta["rating_range"] == [-1.0, 1.0]
    assert meta["annotators"] == [f"rater_{k}" for k in range(1, 7)]
    assert sorted(sources) == ["dev", "test", "train"]
    cfg = _config(SeruSynthContinuous, "tiny")
    n_frames = int(round(cfg.duration_s / 0.04)) + 1
    assert n_frames == 301
    for split, rec in _records(sources):
        assert set(rec) == {"id", "speaker", "audio", "sample_rate", "arousal", "valence", "hidden",
                            "video_landmarks", "video_mask"}
        assert rec["sample_rate"] == SR
        assert rec["audio"].dtype == np.float32 and rec["audio"].shape == (n_frames * 640,)
        assert np.abs(rec["audio"]).max() <= 1.0
        for d in ("arousal", "valence"):
            assert rec[d].dtype == np.float32 and rec[d].shape == (n_frames, 6)
            assert np.all((rec[d] >= -1) & (rec[d] <= 1))
            assert rec["hidden"][d].shape == (n_frames,)
        assert rec["hidden"]["ambiguity"].min() >= 0 and rec["hidden"]["ambiguity"].max() <= 1
        assert schema.decode_text(rec["id"]).startswith(split + "_")
    assert [len(sources[s]) for s in ("train", "dev", "test")] == list(cfg.recordings)


def test_avec_frame_count_for_300_s():
    assert continuous.n_frames_for(300.0) == 7501


def test_continuous_is_deterministic_and_seeded(synth_continuous):
    """A fresh generation with the same seed is bit-identical to the built records."""
    _, sources = synth_continuous
    cfg = _config(SeruSynthContinuous, "tiny")
    fresh = dict(continuous_split(cfg, "dev"))
    for i in range(len(sources["dev"])):
        rec = sources["dev"][i]
        again = fresh[schema.decode_text(rec["id"])]
        for k in ("audio", "arousal", "valence"):
            np.testing.assert_array_equal(rec[k], again[k])
        for k, v in rec["hidden"].items():
            np.testing.assert_array_equal(v, again["hidden"][k])
    other = continuous.generate_recording(1, "dev", 0, continuous.speaker(1, 2), 12.0,
                                          trace_annotators(1, 6))
    assert not np.array_equal(other["arousal"], fresh["dev_1"]["arousal"])


def test_continuous_speakers_are_disjoint_across_splits(synth_continuous):
    _, sources = synth_continuous
    spk = {s: {schema.decode_text(src[i]["speaker"]) for i in range(len(src))}
           for s, src in sources.items()}
    for a, b in itertools.combinations(spk, 2):
        assert not spk[a] & spk[b], (a, b)


def test_full_continuous_config_matches_avec2016():
    cfg = _config(SeruSynthContinuous, "full")
    assert cfg.recordings == (9, 9, 9) and cfg.duration_s == 300.0 and cfg.n_annotators == 6


# ------------------------------------------------------------------ utterance corpus


def test_utterance_schema_likert_and_raters(synth_utterances):
    builder, sources = synth_utterances
    meta = builder.info.metadata
    assert meta["kind"] == "utterance" and meta["rating_range"] == [1.0, 7.0]
    assert meta["class_names"] == list(schema.MSP_CLASSES)
    assert sorted(sources) == ["dev", "test", "train", "unlabeled"]
    width = meta["max_raters"]
    for split, rec in _records(sources):
        assert set(rec) == {"id", "speaker", "gender", "audio", "sample_rate", "emotion_votes",
                            "arousal", "valence", "dominance", "hidden"}
        dur = rec["audio"].shape[0] / rec["sample_rate"]
        assert 3.0 <= dur <= 11.0
        assert schema.decode_text(rec["gender"]) in ("female", "male")
        votes = rec["emotion_votes"]
        assert votes.dtype == np.int32 and votes.shape == (len(schema.MSP_CLASSES),)
        ratings = np.stack([rec[d] for d in ("arousal", "valence", "dominance")])
        assert ratings.shape == (3, width)
        if split == "unlabeled":
            assert np.all(np.isnan(ratings)) and votes.sum() == 0
            continue
        rated = ~np.isnan(ratings)
        n = rated[0].sum()
        assert n >= 5 and np.all(rated.sum(1) == n)
        assert np.all(rated[:, :n])                # NaN padding at the end only
        vals = ratings[rated]
        assert np.all(vals == np.round(vals)) and vals.min() >= 1 and vals.max() <= 7
        assert votes.sum() == n                    # one primary vote per rater


def test_votes_skew_toward_neutral_and_split_on_mixed(synth_utterances):
    _, sources = synth_utterances
    recs = [r for _, r in _records(sources, ("train", "dev", "test"))]
    votes = np.array([r["emotion_votes"] for r in recs], np.float64)
    share = votes.sum(0) / votes.sum()
    assert np.argmax(share) == schema.MSP_CLASSES.index("neutral") and share[0] > 0.3
    top = votes.max(1) / votes.sum(1)
    mixed = np.array([r["hidden"]["secondary_class"] >= 0 for r in recs])
    assert mixed.any() and (~mixed).any()
    assert top[mixed].mean() < top[~mixed].mean()


def test_utterance_rater_std_and_mean_follow_latents(synth_utterances):
    _, sources = synth_utterances
    recs = [r for _, r in _records(sources, ("train", "dev", "test"))]
    amb = np.array([r["hidden"]["ambiguity"] for r in recs])
    for d in ("arousal", "valence", "dominance"):
        x = np.array([r[d] for r in recs], np.float64)
        s = np.nanstd(x, axis=1, ddof=1)
        assert scipy.stats.pearsonr(s, amb)[0] > 0.3, d
        truth = np.array([r["hidden"][d] for r in recs])
        assert scipy.stats.pearsonr(np.nanmean(x, 1), truth)[0] > 0.8, d


def test_utterance_loudness_tracks_arousal(synth_utterances):
    _, sources = synth_utterances
    recs = [r for _, r in _records(sources)]
    rms = []
    for r in recs:
        a = r["audio"].astype(np.float64)
        fr = a[: a.size // 640 * 640].reshape(-1, 640)
        e = (fr**2).mean(1)
        rms.append(10 * np.log10(e[e > np.percentile(e, 50)].mean()))
    arousal = np.array([r["hidden"]["arousal"] for r in recs])
    assert scipy.stats.pearsonr(rms, arousal)[0] > 0.4


def test_utterance_speakers_disjoint_and_many_in_full(synth_utterances):
    _, sources = synth_utterances
    spk = {s: {schema.decode_text(src[i]["speaker"]) for i in range(len(src))}
           for s, src in sources.items()}
    for a, b in itertools.combinations(spk, 2):
        assert not spk[a] & spk[b], (a, b)
    full = _config(SeruSynthUtterances, "full")
    assert sum(full.speakers) >= 100
    genders = {utterances.speaker(full.spec, i).gender for i in range(sum(full.speakers))}
    assert genders == {"female", "male"}


def test_utterances_are_deterministic(synth_utterances):
    _, sources = synth_utterances
    cfg = _config(SeruSynthUtterances, "tiny")
    fresh = dict(itertools.islice(utterance_split(cfg, "test"), 3))
    built = {schema.decode_text(sources["test"][i]["id"]): sources["test"][i]
             for i in range(len(sources["test"]))}
    for key, rec in fresh.items():
        for k in ("audio", "arousal", "valence", "dominance", "emotion_votes"):
            np.testing.assert_array_equal(built[key][k], rec[k])


def test_crosscorpus_has_other_speakers_five_point_scale_and_channel():
    cc = _config(SeruSynthUtterances, "crosscorpus")
    msp = _config(SeruSynthUtterances, "tiny")
    recs = [rec for _, rec in itertools.islice(utterance_split(cc, "dev"), 4)]
    clean = [rec for _, rec in itertools.islice(utterance_split(msp, "dev"), 4)]
    ids = {schema.decode_text(r["speaker"]) for r in recs}
    assert not ids & {schema.decode_text(r["speaker"]) for r in clean}
    for r in recs:
        ratings = np.stack([r[d] for d in ("arousal", "valence", "dominance")])
        vals = ratings[~np.isnan(ratings)]
        assert vals.min() >= 1 and vals.max() <= 5 and np.all(vals == np.round(vals))
        assert (~np.isnan(ratings[0])).sum() >= cc.spec.min_raters
        assert r["emotion_votes"].sum() == (~np.isnan(ratings[0])).sum()

    def share_above(rs, hz):   # share of spectral energy above hz (band-limited channel)
        out = []
        for r in rs:
            spec = np.abs(np.fft.rfft(r["audio"].astype(np.float64))) ** 2
            f = np.fft.rfftfreq(r["audio"].size, 1 / SR)
            out.append(spec[f > hz].sum() / spec.sum())
        return np.mean(out)

    assert share_above(recs, 6500) < 0.5 * share_above(clean, 6500)


def test_ambiguity_leaves_an_acoustic_trace():
    """A competing sound rises with ambiguity: the quietest frames get louder (numpy by hand)."""
    n = SR * 6
    nc = speech.n_ctrl_frames(n)
    voice = speech.sample_voice(rng_for(0, 9, 0), "male")
    floors = []
    for u in (0.1, 0.9):
        drivers = dict(arousal=np.zeros(nc), valence=np.zeros(nc), ambiguity=np.full(nc, u),
                       conflict=np.zeros(nc))
        audio, _ = speech.render(rng_for(1, 9, 1), voice, drivers, n, mode="utterance")
        energy = (audio[: n // 640 * 640].reshape(-1, 640).astype(np.float64) ** 2).mean(1)
        floors.append(10 * np.log10(np.percentile(energy, 10)))
    assert floors[1] - floors[0] > 6.0
