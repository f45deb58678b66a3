"""Noise-degraded test sets (seru/data/noise.py): the P.56 active level against the ITU-T STL and a
per-sample oracle, mixtures at the exact SNR by its definition, determinism, the error cases."""

import math
import warnings

import numpy as np
import pytest
import soundfile as sf

from seru.data import noise

SR = 8000


# --------------------------------------------------------------------------- signals and oracle


def speechlike(sr, dur, amp=0.1, f0=120.0, rate=3.0, pauses=((0.6, 0.95), (1.5, 1.9))):
    """A deterministic speech-like signal: a harmonic complex (10 harmonics, gliding f0) under a
    syllabic envelope ``sin^2(2 pi rate t)``, with digital-zero pauses."""
    n = int(round(sr * dur))
    t = np.arange(n) / sr
    ph = 2 * np.pi * np.cumsum(f0 + 0.25 * f0 * np.sin(2 * np.pi * 0.7 * t)) / sr
    x = sum(np.sin(k * ph) / k for k in range(1, 11)) * np.sin(2 * np.pi * rate * t) ** 2
    for a, b in pauses:
        x[(t > a) & (t < b)] = 0.0
    return amp * x


def quantise16(x):
    return (np.clip(np.round(x * 32768), -32768, 32767) / 32768).astype(np.float32)


def p56_oracle(x, sr):
    """ITU-T P.56 method B, written sample by sample from the Recommendation (Sec. 8): the
    long-term sum of squares, the two-stage envelope (T = 0.03 s), 15 activity counters with a
    0.2 s hangover at thresholds 2^-15..2^-1, then the active level where A - C = 15.9 dB by linear
    interpolation between the neighbouring thresholds. Returns ``(active_power, activity)``."""
    g = math.exp(-1 / (0.03 * sr))
    hang_max = int(math.floor(0.2 * sr + 0.5))
    c = [2.0 ** (j - 15) for j in range(15)]
    act, hang = [0] * 15, [hang_max] * 15
    p = q = sq = 0.0
    for v in np.asarray(x, dtype=np.float64).tolist():
        sq += v * v
        p = g * p + (1 - g) * abs(v)
        q = g * q + (1 - g) * p
        for j in range(15):
            if q >= c[j]:
                act[j] += 1
                hang[j] = 0
            elif hang[j] < hang_max:
                act[j] += 1
                hang[j] += 1
    diff = [10 * math.log10(sq / a) - 20 * math.log10(cj) if a else None for a, cj in zip(act, c)]
    for j in range(1, 15):
        if diff[j] is not None and diff[j] <= 15.9:
            t = (diff[j - 1] - 15.9) / (diff[j - 1] - diff[j])
            lo, hi = 10 * math.log10(sq / act[j - 1]), 10 * math.log10(sq / act[j])
            power = 10 ** ((lo + t * (hi - lo)) / 10)
            return power, sq / len(x) / power
    raise AssertionError("oracle: no active level")


# --------------------------------------------------------------------------- P.56 meter

# Values printed by the ITU-T STL (G.191) tool ``actlev -q -sf <rate>`` for the same 16-bit
# signals written as raw PCM: (active level [dBov], activity [%]), 3 decimals.
STL_ACTLEV = {
    "speech16k": (16000, dict(amp=0.1), -26.442, 89.495),
    "speech16k_loud": (16000, dict(amp=0.4), -14.401, 89.495),
    "speech8k_quiet": (8000, dict(amp=0.01), -46.418, 89.006),
}


@pytest.mark.parametrize("name", sorted(STL_ACTLEV))
def test_active_level_matches_the_itu_stl_reference(name):
    sr, kw, level_db, active_pct = STL_ACTLEV[name]
    x = quantise16(speechlike(sr, 2.56, **kw))
    stl = noise.active_speech_level(x, sr, tol_db=0.5)  # the STL's 0.5 dB bisection
    assert stl.level_db == pytest.approx(level_db, abs=6e-4)
    assert 100 * stl.activity == pytest.approx(active_pct, abs=6e-4)
    exact = noise.active_speech_level(x, sr)  # same line, solved exactly: within the 0.5 dB tolerance
    assert abs(exact.level_db - level_db) < 0.5


def test_sine_burst_against_the_stl_and_by_hand():
    """A 440 Hz sine of amplitude 0.2 for 1 s between 0.5 s and 1 s of digital zero (16 kHz). By
    hand: the burst's power is 0.02 (-16.99 dB); the active time is the burst plus the 0.2 s
    hangover plus the envelope's decay to the threshold (~15.9 dB below the level) minus its rise
    (together 0.2-0.3 s), so the level is 10 log10(0.02 / (1 + 0.2..0.3)). STL: -18.066 dBov,
    51.251 % active."""
    sr = 16000
    burst = 0.2 * np.sin(2 * np.pi * 440 * np.arange(sr) / sr)
    x = quantise16(np.concatenate([np.zeros(sr // 2), burst, np.zeros(sr)]))
    stl = noise.active_speech_level(x, sr, tol_db=0.5)
    assert stl.level_db == pytest.approx(-18.066, abs=6e-4)
    assert 100 * stl.activity == pytest.approx(51.251, abs=6e-4)
    lvl = noise.active_speech_level(x, sr)
    assert 10 * math.log10(0.02 / 1.3) < lvl.level_db < 10 * math.log10(0.02 / 1.2)
    assert 1.2 < lvl.activity * x.size / sr < 1.3


@pytest.mark.parametrize("seconds", [1.0, 4.0])
def test_active_level_of_a_sine_burst_is_its_power(seconds):
    """Hand-computable: a sine of amplitude A has power A^2 / 2. Without silence every sample but
    the envelope's rise (< 50 ms) is active: level in [P, P T / (T - 0.05)]. With 1 s of zeros
    before and 2 s after: active time T + 0.2..0.3 s (hangover and decay)."""
    amp = 0.1
    power_db = 10 * math.log10(amp**2 / 2)
    sine = amp * np.sin(2 * np.pi * 250 * np.arange(int(seconds * SR)) / SR)
    alone = noise.active_speech_level(sine, SR)
    assert power_db <= alone.level_db <= power_db + 10 * math.log10(seconds / (seconds - 0.05))
    x = np.concatenate([np.zeros(SR), sine, np.zeros(2 * SR)])
    lvl = noise.active_speech_level(x, SR)
    assert power_db + 10 * math.log10(seconds / (seconds + 0.3)) < lvl.level_db
    assert lvl.level_db < power_db + 10 * math.log10(seconds / (seconds + 0.2))
    assert lvl.long_term_power == pytest.approx(np.mean(x**2), rel=1e-12)
    assert lvl.activity == pytest.approx(lvl.long_term_power / lvl.active_power, rel=1e-12)
    # The thresholds are powers of 2: doubling the signal moves the level by exactly 6.02 dB.
    assert noise.active_speech_level(2 * x, SR).level_db - lvl.level_db == pytest.approx(
        20 * math.log10(2), abs=1e-9)


def test_active_level_equals_the_per_sample_oracle():
    for x in (speechlike(SR, 1.3), speechlike(SR, 1.1, amp=0.3, f0=210.0, rate=4.0),
              0.05 * np.random.default_rng(3).standard_normal(SR)):
        power, activity = p56_oracle(x, SR)
        lvl = noise.active_speech_level(x, SR)
        assert lvl.active_power == pytest.approx(power, rel=1e-9)
        assert lvl.activity == pytest.approx(activity, rel=1e-9)


def test_active_level_refuses_silence_and_bad_input():
    with pytest.raises(noise.NoActiveSpeech, match="digital silence"):
        noise.active_speech_level(np.zeros(SR, np.float32), SR)
    with pytest.raises(noise.NoActiveSpeech, match="range|threshold"):
        noise.active_speech_level(1e-6 * speechlike(SR, 1.0), SR)
    x = speechlike(SR, 1.0)
    x[100] = np.nan
    with pytest.raises(ValueError, match="non-finite sample at index 100"):
        noise.active_speech_level(x, SR)
    with pytest.raises(ValueError, match="float"):
        noise.active_speech_level(np.ones(SR, np.int16), SR)
    with pytest.raises(ValueError, match="mono"):
        noise.active_speech_level(np.ones((2, SR)), SR)
    with pytest.raises(ValueError, match="sample_rate"):
        noise.active_speech_level(x[:10], 0)


# --------------------------------------------------------------------------- sources and fixtures


def _items():
    return [
        {"id": "spk_a/utt1", "speaker": "a", "sample_rate": SR,
         "audio": speechlike(SR, 1.3).astype(np.float32), "label": 1},
        {"id": b"spk_b/utt2", "speaker": "b", "sample_rate": SR,
         "audio": speechlike(SR, 1.1, amp=0.3, f0=210.0, rate=4.0).astype(np.float32), "label": 0},
    ]


@pytest.fixture(scope="module")
def items():
    return _items()


@pytest.fixture(scope="module")
def oracle_levels(items):
    """The clean items' active power, by the per-sample oracle (computed once)."""
    return {it["id"]: p56_oracle(it["audio"], SR)[0] for it in items}


@pytest.fixture(scope="module")
def noise_dir(tmp_path_factory):
    """A noise directory: a 16 kHz WAV shorter than the items (resampled, looped) and an 8 kHz FLAC."""
    d = tmp_path_factory.mktemp("noise")
    rng = np.random.default_rng(7)
    sf.write(d / "fan.wav", (0.05 * rng.standard_normal(11200)).astype(np.float32), 16000)
    t = np.arange(3 * SR) / SR
    street = 0.1 * rng.standard_normal(t.size) * (0.6 + 0.4 * np.sin(2 * np.pi * 0.5 * t))
    sf.write(d / "street.flac", street, SR, subtype="PCM_16")
    (d / "notes.txt").write_text("not audio")
    return d


def _pool():
    """Babble pool at 16 kHz (resampled to the items' 8 kHz), three speakers, levels 0.02-0.5."""
    specs = [("a", 110, 3.0, 0.02), ("b", 190, 4.5, 0.5), ("c", 150, 2.5, 0.1),
             ("a", 125, 3.5, 0.2), ("b", 230, 5.0, 0.05), ("c", 95, 2.0, 0.3)]
    pool = [speechlike(16000, 0.9 + 0.1 * i, amp=amp, f0=f0, rate=rate, pauses=((0.3, 0.45),))
            for i, (_, f0, rate, amp) in enumerate(specs)]
    return pool, [s for s, *_ in specs]


SOURCE_NAMES = ["babble", "white", "pink", "brown", "hvac", "bursts", "clatter", "directory"]


@pytest.fixture(scope="module")
def sources(noise_dir):
    pool, speakers = _pool()
    out = {k: noise.make_source(k) for k in SOURCE_NAMES if k not in ("babble", "directory")}
    out["babble"] = noise.make_source("babble", pool=pool, pool_speakers=speakers, pool_sample_rate=16000)
    out["directory"] = noise.make_source("directory", directory=noise_dir)
    return out


# --------------------------------------------------------------------------- SNR by definition


@pytest.mark.filterwarnings("ignore:.*peak above 1:RuntimeWarning")  # loud clatter: kept, recorded
@pytest.mark.parametrize("name", SOURCE_NAMES)
@pytest.mark.parametrize("snr_db", noise.MITRA25_SNRS_DB)
def test_mixture_snr_equals_the_requested_one_by_definition(name, snr_db, items, oracle_levels, sources):
    noisy = noise.make_noisy(items, snr_db, sources[name], seed=0)
    assert len(noisy) == len(items)
    for clean, it in zip(items, noisy):
        assert it["noise_type"] == name and it["snr_db"] == snr_db
        assert it["audio"].dtype == np.float32 and it["audio"].shape == clean["audio"].shape
        assert it["label"] == clean["label"] and it["speaker"] == clean["speaker"]
        added = it["audio"].astype(np.float64) - clean["audio"].astype(np.float64)
        snr = 10 * math.log10(oracle_levels[clean["id"]] / np.mean(added**2))
        assert snr == pytest.approx(snr_db, abs=0.05)
        assert it["achieved_snr_db"] == pytest.approx(snr_db, abs=1e-3)
        assert it["noise_level_db"] == pytest.approx(10 * math.log10(np.mean(added**2)), abs=1e-9)
        assert it["speech_level_db"] == pytest.approx(10 * math.log10(oracle_levels[clean["id"]]), abs=1e-6)
        assert it["peak"] == pytest.approx(np.max(np.abs(it["audio"]))) and it["overload_gain"] == 1.0
        assert np.std(added) > 0.01 * np.std(clean["audio"])  # noise was really added
    assert "noise_type" not in items[0]  # the clean items are untouched


def test_mix_at_snr_is_exact_for_arbitrary_signals():
    rng = np.random.default_rng(0)
    s = speechlike(SR, 1.2)
    v = rng.standard_normal(s.size) * np.linspace(0.1, 2.0, s.size)
    for snr in (-5.0, 0.0, 15.0, 30.0):
        m = noise.mix_at_snr(s, v, snr, SR)
        added = m.audio.astype(np.float64) - s
        assert 10 * math.log10(p56_oracle(s, SR)[0] / np.mean(added**2)) == pytest.approx(snr, abs=1e-3)


# --------------------------------------------------------------------------- noise sources


def test_sources_return_float32_of_the_requested_length(sources):
    for name, src in sources.items():
        for n in (1000, 12345):
            y = src(n, SR, np.random.default_rng(1), speaker="a")
            assert y.dtype == np.float32 and y.shape == (n,), name
            assert np.all(np.isfinite(y)) and np.mean(y.astype(np.float64) ** 2) > 0, name


def _psd_slope(y, sr, lo, hi):
    from scipy.signal import welch

    f, p = welch(y, sr, nperseg=2048)
    k = (f >= lo) & (f <= hi)
    return np.polyfit(np.log10(f[k]), np.log10(p[k]), 1)[0]


def test_coloured_noise_spectra():
    rng = np.random.default_rng(5)
    n = 8 * SR
    assert _psd_slope(noise.StationaryNoise("white")(n, SR, rng), SR, 50, 3500) == pytest.approx(0, abs=0.1)
    assert _psd_slope(noise.StationaryNoise("pink")(n, SR, rng), SR, 50, 3500) == pytest.approx(-1, abs=0.1)
    assert _psd_slope(noise.StationaryNoise("brown")(n, SR, rng), SR, 50, 3500) == pytest.approx(-2, abs=0.15)
    hvac = noise.StationaryNoise("hvac")(n, SR, rng).astype(np.float64)
    spec = np.abs(np.fft.rfft(hvac)) ** 2
    f = np.fft.rfftfreq(n, 1 / SR)
    assert spec[f < 1000].sum() > 0.95 * spec.sum()  # low-passed hum


def test_non_stationary_noise_varies_in_level():
    """Frame levels (50 ms) spread much more for bursts and clatter than for pink noise."""

    def spread_db(y):
        frames = y[: y.size // 400 * 400].astype(np.float64).reshape(-1, 400)
        lv = 10 * np.log10(np.mean(frames**2, axis=1))
        return np.percentile(lv, 90) - np.percentile(lv, 10)

    rng = np.random.default_rng(2)
    pink = spread_db(noise.StationaryNoise("pink")(5 * SR, SR, rng))
    assert pink < 3
    assert spread_db(noise.NonStationaryNoise("bursts")(5 * SR, SR, rng)) > 10
    assert spread_db(noise.NonStationaryNoise("clatter")(5 * SR, SR, rng)) > 10


def test_babble_talkers_at_equal_level_and_other_speakers_only():
    lo = 0.02 * np.sin(2 * np.pi * 300 * np.arange(SR) / SR)
    hi = 0.5 * np.sin(2 * np.pi * 1100 * np.arange(SR) / SR)
    one = noise.Babble([lo, hi], SR, speakers=["x", "y"], talkers=1)
    for spk, freq in (("x", 1100), ("y", 300)):  # the target speaker is never in the babble
        for k in range(3):
            y = one(3 * SR, SR, np.random.default_rng(k), speaker=spk).astype(np.float64)
            peak_hz = np.fft.rfftfreq(y.size, 1 / SR)[np.argmax(np.abs(np.fft.rfft(y)))]
            assert peak_hz == pytest.approx(freq, abs=1)
            # each talker is scaled to unit active level: 0 dB whatever its original level
            assert noise.active_speech_level(y, SR).level_db == pytest.approx(0, abs=0.15)
    with pytest.raises(noise.NoiseError, match="no utterance of a speaker other than 'x'"):
        noise.Babble([lo], SR, speakers=["x"])(SR, SR, np.random.default_rng(0), speaker="x")
    pool, speakers = _pool()
    y = noise.Babble(pool, 16000, talkers=(4, 6))(2 * SR, SR, np.random.default_rng(0))
    assert y.shape == (2 * SR,) and noise.active_speech_level(y, SR).level_db > 3  # several talkers
    with pytest.raises(noise.NoActiveSpeech, match=r"babble pool\[1\]"):
        noise.Babble([lo, np.zeros(SR)], SR, talkers=2)(SR, SR, np.random.default_rng(0))


# --------------------------------------------------------------------------- determinism


@pytest.mark.filterwarnings("ignore:.*peak above 1:RuntimeWarning")  # loud clatter: kept, recorded
def test_same_inputs_give_bit_identical_mixtures(items, noise_dir):
    pool, speakers = _pool()
    for make in (lambda: noise.make_source("babble", pool=pool, pool_speakers=speakers,
                                           pool_sample_rate=16000),
                 lambda: noise.make_source("directory", directory=noise_dir),
                 lambda: noise.make_source("clatter")):
        a = noise.make_noisy(_items(), 5.0, make(), seed=3)
        b = noise.make_noisy(_items()[::-1], 5.0, make(), seed=3)[::-1]  # fresh source, other order
        for x, y in zip(a, b):
            assert x["audio"].tobytes() == y["audio"].tobytes()
            assert x["achieved_snr_db"] == y["achieved_snr_db"]


def test_other_seeds_ids_and_snrs_give_other_noise(items, sources):
    def unit_noise(it, clean):
        d = it["audio"].astype(np.float64) - clean["audio"]
        return d / np.sqrt(np.mean(d**2))

    for name in ("pink", "babble", "directory"):
        src = sources[name]
        base = noise.make_noisy(items, 15.0, src, seed=0)
        other_seed = noise.make_noisy(items, 15.0, src, seed=1)
        other_snr = noise.make_noisy(items, 5.0, src, seed=0)
        for c, b, s, r in zip(items, base, other_seed, other_snr):
            nb = unit_noise(b, c)
            assert not np.allclose(nb, unit_noise(s, c), atol=1e-3)
            assert not np.allclose(nb, unit_noise(r, c), atol=1e-3)
    # stable, documented seeding (BLAKE2b of the id, not Python's hash()); str and bytes ids agree
    assert noise.stable_id_words("utt1") == (435928541, 3645628971)
    assert noise.stable_id_words(b"utt1") == noise.stable_id_words("utt1")
    first = noise.item_rng(0, "utt1", 15.0).integers(0, 2**31, 3).tolist()
    assert first == [1388745128, 751556949, 1070344879]
    assert noise.item_rng(0, "utt1", 15).integers(0, 2**31) == 1388745128
    assert noise.item_rng(0, "utt2", 15.0).integers(0, 2**31) != 1388745128


# --------------------------------------------------------------------------- guard rails


def test_noise_directory_errors_name_the_directory_or_file(tmp_path):
    with pytest.raises(noise.NoiseError, match="not found"):
        noise.NoiseDirectory(tmp_path / "missing")
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "readme.txt").write_text("no audio here")
    with pytest.raises(noise.NoiseError, match=r"empty: no noise files \(\*\.wav or \*\.flac\)"):
        noise.NoiseDirectory(empty)

    bad = tmp_path / "bad"
    bad.mkdir()
    sf.write(bad / "ok.wav", np.full(SR, 0.1, np.float32), SR)
    (bad / "broken.wav").write_bytes(b"RIFF....WAVEnot really a wave file")
    with pytest.raises(noise.NoiseFileError, match=r"broken\.wav: cannot read noise file"):
        noise.NoiseDirectory(bad)
    (bad / "broken.wav").unlink()
    sf.write(bad / "zero.wav", np.zeros(0, np.float32), SR)  # a header and no samples
    with pytest.raises(noise.NoiseFileError, match=r"zero\.wav: empty noise file"):
        noise.NoiseDirectory(bad)
    (bad / "zero.wav").unlink()

    nan = np.full(SR, 0.1, np.float32)
    nan[17] = np.nan
    sf.write(bad / "nan.wav", nan, SR, subtype="FLOAT")
    src = noise.NoiseDirectory(bad)  # headers are fine; the samples are checked when read
    with pytest.raises(noise.NoiseFileError,
                       match=r"nan\.wav: 1 of 8000 samples are not finite \(NaN or inf\), "
                             r"the first at sample 17"):
        for i in range(len(src.files)):
            src.load(i, SR)
    (bad / "nan.wav").unlink()
    sf.write(bad / "silent.wav", np.zeros(SR, np.float32), SR)
    with pytest.raises(noise.NoiseFileError,
                       match=r"silent\.wav: every one of its \d+ samples is digital zero"):
        noise.NoiseDirectory(bad).load(1, SR)
    assert isinstance(noise.NoiseFileError("x"), noise.AudioError)


def test_make_noisy_refuses_bad_items_and_arguments(items, sources):
    pink = sources["pink"]
    silent = dict(items[0], id="silent", audio=np.zeros(SR, np.float32))
    with pytest.raises(noise.NoActiveSpeech, match="item 'silent': no active speech"):
        noise.make_noisy([silent], 15.0, pink)
    broken = dict(items[0], id="broken", audio=np.full(SR, np.inf, np.float32))
    with pytest.raises(ValueError, match="item 'broken': non-finite sample"):
        noise.make_noisy([broken], 15.0, pink)
    for snr in (float("nan"), float("inf"), "loud", None):
        with pytest.raises(ValueError, match="snr_db must be a finite number"):
            noise.make_noisy(items, snr, pink)
    with pytest.raises(ValueError, match="mixing noise twice"):
        noise.make_noisy(noise.make_noisy(items, 15.0, pink), 5.0, pink)
    no_rate = {k: v for k, v in items[0].items() if k != "sample_rate"}
    with pytest.raises(ValueError, match="no 'sample_rate'"):
        noise.make_noisy([no_rate], 15.0, pink)
    given = noise.make_noisy([no_rate], 15.0, pink, sample_rate=SR)[0]
    assert given["achieved_snr_db"] == pytest.approx(15, abs=1e-3)
    with pytest.raises(ValueError, match="seed must be an int >= 0"):
        noise.make_noisy(items, 15.0, pink, seed=-1)
    with pytest.raises(noise.NoiseError, match="zero power"):
        noise.mix_at_snr(items[0]["audio"], np.zeros_like(items[0]["audio"]), 5.0, SR)
    with pytest.raises(ValueError, match="unknown noise source 'rain'"):
        noise.make_source("rain")


def test_overload_is_reported_or_scaled_never_clipped():
    s = speechlike(SR, 1.2, amp=0.9).astype(np.float32)
    item = {"id": "loud", "sample_rate": SR, "audio": s}
    src = noise.StationaryNoise("brown")
    with pytest.warns(RuntimeWarning, match=r"1 of 1 noisy mixtures at 0 dB peak above 1"):
        kept = noise.make_noisy([item], 0.0, src, seed=0)[0]
    assert kept["peak"] > 1 and np.max(np.abs(kept["audio"])) == pytest.approx(kept["peak"])
    assert kept["overload_gain"] == 1.0

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scaled = noise.make_noisy([item], 0.0, src, seed=0, overload="scale")[0]
    gain = scaled["overload_gain"]
    assert gain == pytest.approx(1 / kept["peak"], rel=1e-6) and scaled["peak"] <= 1.0 + 1e-7
    added = scaled["audio"].astype(np.float64) - gain * s.astype(np.float64)
    snr = 10 * math.log10(gain**2 * p56_oracle(s, SR)[0] / np.mean(added**2))
    assert snr == pytest.approx(0.0, abs=0.05) and scaled["achieved_snr_db"] == pytest.approx(0.0, abs=1e-3)

    with pytest.raises(noise.NoiseError, match="item 'loud'.*peaks at"):
        noise.make_noisy([item], 0.0, src, seed=0, overload="raise")
