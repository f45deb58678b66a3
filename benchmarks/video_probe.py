"""Does the video carry arousal and valence as well as the audio? A linear probe per modality.

A check of the corpus, not of a model (``seru_synth_continuous`` >= 1.3.0, or
any continuous corpus with ``video_landmarks`` / ``video_mask``). Every 100 ms
step ``t`` gets the features of the window of ``--window_s`` seconds of
40 ms frames that ends at ``t`` (the raters lag the signals by 1-4 s):

* video: the pose-normalised landmarks (centred, eye line horizontal, divided
  by the inter-ocular distance; :func:`seru.data.features.landmarks.normalise`),
  98 coordinates per frame, plus two head-motion magnitudes per frame (centroid
  speed and roll change, in inter-ocular distances / radians per frame); their
  means and stds over the window, lost frames left out (a window with no
  tracked frame gets the training mean);
* audio: 26 log-mel band energies (dB, 1024-point FFT of each 40 ms frame)
  and the frame RMS (dB); their means and stds over the window.

Ridge regression (numpy ``lstsq`` on standardised features with
``sqrt(lambda) I`` rows appended), lambda picked per dimension on dev from
``--ridges``, fitted on train, scored on test: Pearson r and CCC of the
prediction with the raters' mean (all test steps pooled). ``audio+video``
concatenates both feature sets (early fusion).

    python benchmarks/video_probe.py [--variant quickstart] [--data_dir DIR]
        [--window_s 4] [--ridges 1 10 100 1000 10000]

Prints one JSON object: ``test[modality][dimension] = {"r", "ccc"}``, the
same on dev with the chosen lambda, feature counts and step counts.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

HOP_S = 0.04       # frame hop of the ratings, the audio frames and the video
STEP_S = 0.1       # probe step
N_MELS = 26


def window_stats(x: np.ndarray, ends: np.ndarray, width: int) -> np.ndarray:
    """Mean and std ``[len(ends), 2 F]`` of ``x [T, F]`` over frames ``(end - width, end]``.

    NaN entries are left out; a window without a finite value gives NaN.
    """
    ok = np.isfinite(x)
    x0 = np.where(ok, x, 0.0)
    pad = lambda a: np.concatenate([np.zeros((1, a.shape[1])), np.cumsum(a, 0)])  # noqa: E731
    s1, s2, cnt = pad(x0), pad(x0 * x0), pad(ok.astype(np.float64))
    hi, lo = ends + 1, np.maximum(ends + 1 - width, 0)
    n = cnt[hi] - cnt[lo]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = (s1[hi] - s1[lo]) / n
        var = (s2[hi] - s2[lo]) / n - mean ** 2
    return np.concatenate([mean, np.sqrt(np.maximum(var, 0.0))], axis=1)


def video_frames(landmarks: np.ndarray) -> np.ndarray:
    """[T, 100] per-frame video features: 98 normalised coordinates, centroid speed, roll change."""
    from seru.data.features.landmarks import EYE_L, EYE_R, normalise

    lm = np.asarray(landmarks, np.float64)
    coords = normalise(lm).reshape(len(lm), -1)
    eye = lm[:, EYE_L].mean(1) - lm[:, EYE_R].mean(1)
    iod = np.hypot(eye[:, 0], eye[:, 1])
    centre = lm.mean(1)
    speed = np.r_[np.nan, np.hypot(*np.diff(centre, axis=0).T) / iod[1:]]
    roll = np.arctan2(eye[:, 1], eye[:, 0])
    droll = np.r_[np.nan, np.abs(np.diff(roll))]
    return np.concatenate([coords, speed[:, None], droll[:, None]], axis=1)


def audio_frames(audio: np.ndarray, n_frames: int) -> np.ndarray:
    """[n_frames, 27] per-frame audio features: 26 log-mel energies (dB) and RMS (dB)."""
    import librosa

    spf = int(round(HOP_S * 16000))
    a = np.zeros(n_frames * spf)
    m = min(a.size, np.asarray(audio).size)
    a[:m] = np.asarray(audio, np.float64)[:m]
    frames = a.reshape(n_frames, spf)
    spec = np.abs(np.fft.rfft(frames * np.hanning(spf), n=1024, axis=1)) ** 2
    mel = librosa.filters.mel(sr=16000, n_fft=1024, n_mels=N_MELS)
    logmel = 10.0 * np.log10(spec @ mel.T + 1e-10)
    rms = 10.0 * np.log10((frames ** 2).mean(1) + 1e-10)
    return np.concatenate([logmel, rms[:, None]], axis=1)


def split_data(source, window_s: float, dims=("arousal", "valence")):
    """Per-modality window features ``{"audio", "video"}: [steps, F]`` and targets [steps, dims]."""
    width = int(round(window_s / HOP_S))
    feats = {"audio": [], "video": []}
    targets = []
    for i in range(len(source)):
        r = source[i]
        n = np.asarray(r[dims[0]]).shape[0]
        t = np.arange(0.0, n * HOP_S, STEP_S)
        ends = np.floor(t / HOP_S + 1e-9).astype(int)
        ends = ends[(ends >= width - 1) & (ends < n)]
        feats["video"].append(window_stats(video_frames(r["video_landmarks"]), ends, width))
        feats["audio"].append(window_stats(audio_frames(r["audio"], n), ends, width))
        targets.append(np.stack([np.nanmean(np.asarray(r[d], np.float64), 1)[ends]
                                 for d in dims], 1))
    return {k: np.concatenate(v) for k, v in feats.items()}, np.concatenate(targets)


def ridge_fit(z: np.ndarray, y: np.ndarray, lam: float) -> np.ndarray:
    """Weights ``[F + 1]`` (intercept last) of ridge regression by ``lstsq`` on augmented rows."""
    f = z.shape[1]
    a = np.concatenate([np.c_[z, np.ones(len(z))],
                        np.c_[np.sqrt(lam) * np.eye(f), np.zeros(f)]])
    b = np.concatenate([y, np.zeros(f)])
    return np.linalg.lstsq(a, b, rcond=None)[0]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", default="seru_synth_continuous")
    ap.add_argument("--variant", default="quickstart")
    ap.add_argument("--data_dir", default=None)
    ap.add_argument("--window_s", type=float, default=4.0)
    ap.add_argument("--ridges", type=float, nargs="+", default=[1.0, 10.0, 100.0, 1e3, 1e4])
    args = ap.parse_args(argv)
    from seru import metrics
    from seru.data import corpora

    t0 = time.time()
    builder, src = corpora.load(args.corpus, args.variant, args.data_dir)
    dims = tuple(builder.info.metadata["dimensions"])
    data = {s: split_data(src[s], args.window_s, dims) for s in ("train", "dev", "test")}
    for s in data:
        f, _ = data[s]
        f["audio+video"] = np.concatenate([f["audio"], f["video"]], axis=1)
    report = {"benchmark": "video_probe", "corpus": args.corpus, "variant": args.variant,
              "version": str(builder.version), "window_s": args.window_s, "step_s": STEP_S,
              "steps": {s: int(len(data[s][1])) for s in data}, "features": {},
              "lambda": {}, "dev": {}, "test": {}}
    x_tr, y_tr = data["train"]
    for mod in ("audio", "video", "audio+video"):
        x = x_tr[mod]
        mu, sd = np.nanmean(x, 0), np.nanstd(x, 0) + 1e-9
        z = lambda s: np.nan_to_num((data[s][0][mod] - mu) / sd)  # noqa: E731  NaN -> train mean
        z_tr, z_dev, z_te = z("train"), z("dev"), z("test")
        report["features"][mod] = int(x.shape[1])
        for k, dim in enumerate(dims):
            score = lambda zz, yy, w: {  # noqa: E731
                "r": float(metrics.pearson(zz @ w[:-1] + w[-1], yy)),
                "ccc": float(metrics.ccc(zz @ w[:-1] + w[-1], yy))}
            fits = {lam: ridge_fit(z_tr, y_tr[:, k], lam) for lam in args.ridges}
            dev = {lam: score(z_dev, data["dev"][1][:, k], w) for lam, w in fits.items()}
            best = max(dev, key=lambda lam: dev[lam]["ccc"])
            report["lambda"].setdefault(mod, {})[dim] = best
            report["dev"].setdefault(mod, {})[dim] = dev[best]
            report["test"].setdefault(mod, {})[dim] = score(z_te, data["test"][1][:, k], fits[best])
    report["wall_s"] = round(time.time() - t0, 1)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
