"""A vectorised source-filter synthesiser of speech-like audio that carries emotion.

Source: a glottal flow pulse train (Rosenberg-like pulse, differentiated for
lip radiation) with time-varying F0 by phase accumulation, plus aspiration
and frication noise. Filter: four time-varying formant resonators, a spectral
tilt and a loudness gain, applied frame by frame in the STFT domain (512-point
frames, hop 128 = 8 ms, square-root Hann analysis and synthesis windows), which
keeps a 300 s recording at a few seconds of numpy.

Speech is planned as turns / phrases / syllables (consonant onset + vowel
nucleus) with pauses between them. The emotional drivers act through the
acoustic correlates reported in the literature (Scherer 2003; Juslin &
Laukka 2003; Schuller et al. 2011): arousal raises F0 level and range,
loudness and speaking rate, presses the voice (smaller open quotient) and
flattens the spectral tilt (more high-frequency energy); dominance adds
loudness and lowers F0; valence leaves a weaker trace (slightly raised
formants, as in smiling, a little F0 and loudness). Ambiguity leaves its own
trace: cues in conflict (F0 and loudness pushed in opposite directions by a
random ``conflict`` process), a breathier, more jittery voice, and a
competing babble-like sound whose level rises with ambiguity.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import butter, lfilter, sosfilt

SAMPLE_RATE = 16000
HOP = 128            # control / STFT hop in samples (8 ms); 5 hops per 40 ms label frame
N_FFT = 512
#: Output gain that puts conversational speech at roughly -26 dBFS RMS.
OUTPUT_GAIN = 0.03

#: Formants F1-F3 (Hz) of a few vowels of an adult male voice (Peterson & Barney 1952).
VOWELS = np.array([
    [730, 1090, 2440],   # a
    [530, 1840, 2480],   # e
    [270, 2290, 3010],   # i
    [570, 840, 2410],    # o
    [300, 870, 2240],    # u
    [500, 1500, 2500],   # schwa
    [660, 1720, 2410],   # ae
], dtype=np.float64)
F4_HZ = 3500.0
BANDWIDTHS = np.array([80.0, 100.0, 140.0, 220.0])
#: Spectral tilt (dB / octave above 500 Hz) added to every voice: it lifts the
#: all-pole cascade's steep roll-off toward the level of natural speech.
BASE_TILT_DB_OCT = 3.0
_BABBLE_SOS = butter(2, [200.0, 3000.0], btype="bandpass", fs=SAMPLE_RATE, output="sos")


@dataclass(frozen=True)
class Voice:
    """A speaker's baseline voice."""

    gender: str
    f0_hz: float          # median F0
    f0_range_st: float    # accent excursion (semitones)
    formant_scale: float  # vocal-tract length factor (female > 1)
    loudness_db: float    # level offset
    rate_syl_s: float     # syllables per second
    tilt_db_oct: float    # extra spectral tilt (dB / octave above 500 Hz)
    breathiness: float    # aspiration noise share
    jitter: float         # relative F0 perturbation std


def sample_voice(rng: np.random.Generator, gender: str) -> Voice:
    """Draws a speaker's baseline voice (F0, formants, loudness, rate, tilt)."""
    if gender not in ("female", "male"):
        raise ValueError(f"gender must be 'female' or 'male', got {gender!r}")
    female = gender == "female"
    return Voice(
        gender=gender,
        f0_hz=float(np.exp(rng.normal(np.log(205.0 if female else 115.0), 0.12))),
        f0_range_st=float(rng.uniform(2.0, 4.0)),
        formant_scale=float((1.16 if female else 1.0) * np.exp(rng.normal(0.0, 0.04))),
        loudness_db=float(rng.normal(0.0, 2.0)),
        rate_syl_s=float(rng.uniform(3.6, 5.0)),
        tilt_db_oct=float(rng.normal(0.0, 1.0)),
        breathiness=float(rng.uniform(0.03, 0.10) + (0.03 if female else 0.0)),
        jitter=float(rng.uniform(0.004, 0.012)),
    )


def n_ctrl_frames(n_samples: int) -> int:
    """Number of control frames (= STFT frames, centred) of a signal of ``n_samples``."""
    return n_samples // HOP + 1


# ------------------------------------------------------------------ planning


def plan_activity(rng: np.random.Generator, n_ctrl: int, mode: str) -> list[tuple[int, int]]:
    """Phrases as (start, end) control frames.

    ``mode="conversation"``: speaking turns (1.5-12 s) alternate with listening
    pauses (0.3-6 s), as one side of a dyadic conversation (RECOLA); a turn
    consists of phrases of 0.8-3 s with 0.1-0.4 s pauses.
    ``mode="utterance"``: one speaking turn from 0.1-0.3 s after the start to
    0.1-0.3 s before the end, phrases separated by short pauses.
    """
    fps = SAMPLE_RATE / HOP
    turns = []
    if mode == "conversation":
        t = int(rng.uniform(0.0, 1.5) * fps)
        while t < n_ctrl:
            dur = int(np.clip(rng.lognormal(np.log(4.0), 0.5), 1.5, 12.0) * fps)
            turns.append((t, min(t + dur, n_ctrl)))
            t += dur + int(np.clip(rng.lognormal(np.log(1.5), 0.6), 0.3, 6.0) * fps)
    elif mode == "utterance":
        lead = int(rng.uniform(0.1, 0.3) * fps)
        tail = int(rng.uniform(0.1, 0.3) * fps)
        turns.append((lead, max(lead + 1, n_ctrl - tail)))
    else:
        raise ValueError(f"mode must be 'conversation' or 'utterance', got {mode!r}")
    phrases = []
    for start, end in turns:
        t = start
        while t < end:
            dur = int(rng.uniform(0.8, 3.0) * fps)
            stop = min(t + dur, end)
            if end - stop < int(0.5 * fps):  # do not leave a sliver at the turn's end
                stop = end
            phrases.append((t, stop))
            t = stop + int(rng.uniform(0.1, 0.4) * fps)
    return phrases


def _smooth(x: np.ndarray, width: int) -> np.ndarray:
    if width <= 1:
        return x
    kernel = np.hanning(width + 2)[1:-1]
    kernel /= kernel.sum()
    pad = width // 2
    xp = np.pad(x, (pad, width - 1 - pad), mode="edge")
    return np.convolve(xp, kernel, mode="valid")


def plan_syllables(rng: np.random.Generator, voice: Voice, n_ctrl: int,
                   phrases: list[tuple[int, int]], rate: np.ndarray) -> dict:
    """Control-rate articulation tracks: syllable envelope, voicing, frication, formants, accents.

    ``rate`` is the local speaking rate (syllables/s) per control frame.
    """
    fps = SAMPLE_RATE / HOP
    amp = np.zeros(n_ctrl)
    voiced = np.zeros(n_ctrl)
    fric = np.zeros(n_ctrl)
    fric_fc = np.full(n_ctrl, 4000.0)
    accent = np.zeros(n_ctrl)
    decl = np.zeros(n_ctrl)
    formants = np.tile(VOWELS[5], (n_ctrl, 1))
    for start, end in phrases:
        length = max(end - start, 1)
        decl[start:end] = np.linspace(1.0, -1.0, length)[: end - start]
        t = start
        while t < end - 2:
            dur = max(3, int(fps / rate[t] * rng.lognormal(0.0, 0.25)))
            t1 = min(t + dur, end)
            n = t1 - t
            kind = rng.choice(3, p=(0.25, 0.45, 0.30))  # none / unvoiced / voiced onset
            onset = int(n * rng.uniform(0.15, 0.4)) if kind else 0
            env = np.sin(np.linspace(0.0, np.pi, n + 2)[1:-1]) ** 0.6
            amp[t:t1] = env * rng.uniform(0.7, 1.0)
            voiced[t + onset:t1] = 1.0
            if kind == 1:
                fric[t:t + onset] = 1.0
                fric_fc[t:t + onset] = rng.uniform(2500.0, 6500.0)
            elif kind == 2:
                voiced[t:t + onset] = 0.6
            formants[t:t1] = VOWELS[rng.integers(len(VOWELS))] * rng.normal(1.0, 0.04)
            if rng.random() < 0.35:  # pitch accent on about a third of the syllables
                accent[t:t1] = env * rng.uniform(0.5, 1.0) * rng.choice([-0.5, 1.0], p=(0.2, 0.8))
            t = t1
    smooth = lambda x, w=5: _smooth(x, w)  # noqa: E731 (40 ms articulatory smoothing)
    formants = np.stack([smooth(formants[:, k]) for k in range(3)], axis=1) * voice.formant_scale
    return dict(
        amp=smooth(amp, 3), voiced=smooth(voiced, 3), fric=smooth(fric, 2), fric_fc=fric_fc,
        accent=smooth(accent, 7), decl=decl, formants=formants,
    )


# ------------------------------------------------------------------ rendering


def _frames(x: np.ndarray) -> np.ndarray:
    """Centred frames ``[n_ctrl, N_FFT]`` of ``x`` (hop ``HOP``)."""
    xp = np.pad(x, (N_FFT // 2, N_FFT // 2 + HOP))
    n = n_ctrl_frames(len(x))
    return np.lib.stride_tricks.sliding_window_view(xp, N_FFT)[::HOP][:n]


def _resonance(f: np.ndarray, fc: np.ndarray, bw: np.ndarray) -> np.ndarray:
    """Magnitude response of a 2nd-order resonator, 1 at DC, ``fc/bw`` at ``fc``."""
    r = f / fc
    return 1.0 / np.sqrt((1.0 - r * r) ** 2 + (f * bw / (fc * fc)) ** 2)


def _filter(sources: list[np.ndarray], envelope_fn, n_samples: int, chunk: int = 2048) -> np.ndarray:
    """Filters each source by its frame-wise magnitude envelope; overlap-add of the sum.

    ``envelope_fn(i0, i1, freqs)`` returns one ``[i1 - i0, N_FFT // 2 + 1]``
    magnitude per source for frames ``i0:i1``.
    """
    win = np.sqrt(np.hanning(N_FFT + 1)[:-1])  # periodic sqrt-Hann; hann sums to 2 at hop N/4
    freqs = np.fft.rfftfreq(N_FFT, 1.0 / SAMPLE_RATE)
    frames = [_frames(s) for s in sources]
    n = frames[0].shape[0]
    out = np.zeros((n + 4) * HOP + N_FFT)
    for i0 in range(0, n, chunk):
        i1 = min(i0 + chunk, n)
        envs = envelope_fn(i0, i1, freqs)
        spec = sum(np.fft.rfft(fr[i0:i1] * win, axis=-1) * env for fr, env in zip(frames, envs))
        y = np.fft.irfft(spec, n=N_FFT, axis=-1) * win
        # overlap-add: 4 interleaved groups of non-overlapping frames
        for g in range(N_FFT // HOP):
            yg = y[g::N_FFT // HOP]
            if yg.shape[0] == 0:
                continue
            s0 = (i0 + g) * HOP
            out[s0:s0 + yg.size] += yg.reshape(-1)
    return out[N_FFT // 2:N_FFT // 2 + n_samples] / 2.0


def _interp(ctrl: np.ndarray, n_samples: int) -> np.ndarray:
    return np.interp(np.arange(n_samples) / HOP, np.arange(len(ctrl)), ctrl)


def render(rng: np.random.Generator, voice: Voice, drivers: dict, n_samples: int,
           mode: str = "conversation", class_cues: dict | None = None) -> tuple[np.ndarray, dict]:
    """Synthesises ``n_samples`` of speech at 16 kHz.

    ``drivers`` holds control-rate arrays (length :func:`n_ctrl_frames`):
    ``arousal``, ``valence``, ``dominance`` (each in [-1, 1]), ``ambiguity``
    (in [0, 1]) and ``conflict`` (about N(0, 1)). ``class_cues`` optionally adds
    per-utterance offsets: ``f0_st``, ``final_rise_st``, ``breathiness``,
    ``loudness_db``, ``rate``. Returns ``(audio float32, tracks)`` where
    ``tracks`` has the control-rate ``f0`` (Hz, 0 when unvoiced), ``gain_db``,
    ``tilt`` and ``speech`` (activity) tracks used.
    """
    n_ctrl = n_ctrl_frames(n_samples)
    cues = dict(f0_st=0.0, final_rise_st=0.0, breathiness=0.0, loudness_db=0.0, rate=0.0)
    cues.update(class_cues or {})
    a = np.asarray(drivers["arousal"], np.float64)
    v = np.asarray(drivers["valence"], np.float64)
    d = np.asarray(drivers.get("dominance", np.zeros(n_ctrl)), np.float64)
    u = np.asarray(drivers["ambiguity"], np.float64)
    c = np.asarray(drivers["conflict"], np.float64)
    for name, x in (("arousal", a), ("valence", v), ("dominance", d), ("ambiguity", u),
                    ("conflict", c)):
        if x.shape != (n_ctrl,):
            raise ValueError(f"driver {name!r} has shape {x.shape}, expected ({n_ctrl},)")

    # --- prosody and voice quality from the emotional drivers
    rate = voice.rate_syl_s * 2.0 ** (0.35 * a - 0.05 * d + cues["rate"])
    phrases = plan_activity(rng, n_ctrl, mode)
    art = plan_syllables(rng, voice, n_ctrl, phrases, rate)
    f0_range = voice.f0_range_st * (1.0 + 0.6 * a + 0.15 * v)
    st = (4.0 * a + 0.8 * v - 1.0 * d + 2.5 * u * c + cues["f0_st"]
          + np.maximum(f0_range, 0.3) * art["accent"] + 1.0 * art["decl"])
    if cues["final_rise_st"]:
        ramp = np.clip((np.arange(n_ctrl) - 0.8 * n_ctrl) / (0.2 * n_ctrl), 0.0, 1.0)
        st = st + cues["final_rise_st"] * ramp
    jitter = (voice.jitter + 0.02 * u) * smooth_jitter(rng, n_ctrl)
    f0 = voice.f0_hz * 2.0 ** (st / 12.0) * (1.0 + jitter)
    gain_db = (voice.loudness_db + 5.0 * a + 1.0 * v + 2.0 * d - 4.0 * u * c + cues["loudness_db"])
    tilt = BASE_TILT_DB_OCT + voice.tilt_db_oct + 3.0 * a + 0.5 * v - 1.0 * u
    oq = np.clip(0.65 - 0.12 * a, 0.35, 0.85)
    breath = np.clip(voice.breathiness + 0.25 * u + cues["breathiness"], 0.0, 0.8)
    fscale = 1.0 + 0.04 * v + 0.02 * a

    # --- sources (per sample)
    f0_s = _interp(f0, n_samples)
    phase = np.cumsum(f0_s / SAMPLE_RATE)
    frac = phase - np.floor(phase)
    oq_s = _interp(oq, n_samples)
    t_open = 0.6 * oq_s
    glottal = np.where(frac < t_open, 0.5 * (1.0 - np.cos(np.pi * frac / t_open)),
                       np.where(frac < oq_s, np.cos(0.5 * np.pi * (frac - t_open) / (oq_s - t_open)), 0.0))
    pulse = np.diff(glottal, prepend=glottal[0]) * (SAMPLE_RATE / 200.0)
    amp_s = _interp(art["amp"], n_samples)
    voiced_s = _interp(art["voiced"], n_samples) * amp_s
    noise = rng.standard_normal(n_samples)
    breath_s = _interp(breath, n_samples)
    src_voiced = voiced_s * ((1.0 - breath_s) * pulse + breath_s * 0.6 * noise * (0.3 + glottal))
    src_fric = _interp(art["fric"], n_samples) * amp_s * 0.5 * rng.standard_normal(n_samples)
    # competing babble-like sound: noise modulated at a syllable-like rate, level rising with ambiguity
    fps = SAMPLE_RATE / HOP
    mod = np.clip(0.5 + 0.5 * np.sin(2 * np.pi * np.cumsum(rng.uniform(2.5, 5.5, n_ctrl)) / fps
                                     + rng.uniform(0, 2 * np.pi)), 0.0, 1.0)
    babble_db = -38.0 + 26.0 * u
    babble = sosfilt(_BABBLE_SOS, rng.standard_normal(n_samples))  # fixed 200-3000 Hz band
    babble *= _interp(mod * 10.0 ** (babble_db / 20.0), n_samples)

    f32 = np.float32
    formants = (art["formants"] * fscale[:, None]).astype(f32)
    fric_fc = art["fric_fc"].astype(f32)
    bws = (BANDWIDTHS[None, :3] * (1.0 + breath[:, None])).astype(f32)
    tilt32, lin32 = tilt.astype(f32), (10.0 ** (gain_db / 20.0)).astype(f32)

    def envelope(i0, i1, freqs):
        f = freqs[None, :].astype(f32)
        fm = formants[i0:i1]
        h = _resonance(f, f32(F4_HZ * voice.formant_scale), f32(BANDWIDTHS[3]))
        for k in range(3):
            h = h * _resonance(f, fm[:, k:k + 1], bws[i0:i1, k:k + 1])
        octs = np.maximum(np.log2(np.maximum(f, 60.0) / 500.0), 0.0).astype(f32)
        h *= f32(10.0) ** (tilt32[i0:i1, None] * octs / f32(20.0))
        lin = lin32[i0:i1, None]
        fc = fric_fc[i0:i1, None]
        h_fric = (f / fc) ** 2 * _resonance(f, fc, f32(0.5) * fc) * (lin * f32(0.3))
        return h * lin, h_fric

    audio = _filter([src_voiced, src_fric], envelope, n_samples) + babble
    audio = np.clip(audio * OUTPUT_GAIN, -1.0, 1.0).astype(np.float32)
    speech = np.zeros(n_ctrl)
    for s, e in phrases:
        speech[s:e] = 1.0
    tracks = dict(f0=np.where(art["voiced"] > 0.5, f0, 0.0), gain_db=gain_db, tilt=tilt,
                  speech=speech)
    return audio, tracks


def smooth_jitter(rng: np.random.Generator, n: int) -> np.ndarray:
    """Cycle-scale F0 perturbation at control rate (lightly smoothed white noise)."""
    return _smooth(rng.standard_normal(n), 2)


def add_room(rng: np.random.Generator, audio: np.ndarray, snr_db: float) -> np.ndarray:
    """Adds stationary pink-ish room noise at ``snr_db`` relative to the active-speech RMS."""
    x = np.asarray(audio, np.float64)
    power = np.mean(x[np.abs(x) > 1e-4] ** 2) if np.any(np.abs(x) > 1e-4) else 1e-6
    white = rng.standard_normal(x.size)
    pink = lfilter([1.0], [1.0, -0.95], white)
    pink /= np.std(pink) + 1e-12
    noise = pink * np.sqrt(power / 10.0 ** (snr_db / 10.0))
    return np.clip(x + noise, -1.0, 1.0).astype(np.float32)
