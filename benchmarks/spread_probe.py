"""Is the raters' spread predictable from the audio? A linear probe on simple features.

A check of the corpus, not of a model: ridge regression from smoothed,
lagged frame features of the audio (log energy, 200-3000 Hz band share,
spectral flatness, spectral centroid, zero-crossing rate; means and stds over
1, 4 and 10 s; 0-4 s before the frame, as the annotators lag the audio by
1-4 s) to the raters' unbiased std ``s`` of each 40 ms frame, fitted on the
training recordings and scored (Pearson r and CCC per recording) on the test
recordings. It answers whether a model that fails to predict ``s`` (CCC(s)
~0 in ``benchmarks/reproduce_prabhu22.py``) fails because the corpus gives it
nothing to learn from, or for a reason of its own. For reference it also
prints r(s, hidden ambiguity latent) per test recording (synthetic corpora
only): how much of ``s`` the latent that drives disagreement explains.

    python benchmarks/spread_probe.py [--corpus seru_synth_continuous] [--variant full]
        [--dim arousal] [--max_train 9] [--max_test 4] [--ridge 10]
        [--windows 25 100 250] [--lags 5]

Prints one JSON object. The first 5 s of each recording are left out (the
smoothing and lag windows are not yet full there).
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from scipy.ndimage import uniform_filter1d

FRAME = 640          # 40 ms at 16 kHz, the label rate
WINDOWS = (25, 100, 250)   # 1, 4, 10 s
LAGS = 5             # 0, 1, 2, 3, 4 s before the frame


def frame_features(audio: np.ndarray) -> np.ndarray:
    """[T, F] smoothed, lagged spectral features of 16 kHz audio, one row per 40 ms frame."""
    import librosa

    a = np.asarray(audio, np.float32)
    n = a.size // FRAME
    a = a[: n * FRAME]
    spec = np.abs(librosa.stft(a, n_fft=1024, hop_length=FRAME, center=True))[:, :n] + 1e-9
    freqs = librosa.fft_frequencies(sr=16000, n_fft=1024)
    energy = np.log(np.sum(spec ** 2, axis=0))
    band = np.log(np.sum(spec[(freqs > 200) & (freqs < 3000)] ** 2, axis=0)) - energy
    flat = np.log(librosa.feature.spectral_flatness(S=spec)[0])
    centroid = librosa.feature.spectral_centroid(S=spec, sr=16000)[0] / 1000.0
    zcr = librosa.feature.zero_crossing_rate(a, frame_length=FRAME, hop_length=FRAME,
                                             center=True)[0][:n]
    x = np.stack([energy, band, flat, centroid, zcr], axis=1)
    cols = []
    for w in WINDOWS:
        mean = uniform_filter1d(x, w, axis=0)
        var = uniform_filter1d(x * x, w, axis=0) - mean ** 2
        cols += [mean, np.sqrt(np.maximum(var, 0.0))]
    x = np.concatenate(cols, axis=1)
    lagged = [np.concatenate([np.repeat(x[:1], k * 25, axis=0), x[: len(x) - k * 25]])
              for k in range(LAGS)]
    return np.concatenate(lagged, axis=1)


def recordings(source, dim: str, limit: int, skip: int = 125):
    out = []
    for i in range(min(limit, len(source))):
        r = source[i]
        x = frame_features(r["audio"])
        ratings = np.asarray(r[dim], np.float64)[: len(x)]
        s = ratings.std(axis=1, ddof=1)
        hidden = r.get("hidden", {})
        amb = np.asarray(hidden["ambiguity"])[: len(x)] if "ambiguity" in hidden else None
        rid = r["id"].decode() if isinstance(r["id"], bytes) else str(r["id"])
        out.append((rid, x[skip:], s[skip:], None if amb is None else amb[skip:]))
    return out


def main():
    global WINDOWS, LAGS
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", default="seru_synth_continuous")
    ap.add_argument("--variant", default="full")
    ap.add_argument("--dim", default="arousal")
    ap.add_argument("--max_train", type=int, default=9)
    ap.add_argument("--max_test", type=int, default=4)
    ap.add_argument("--ridge", type=float, default=10.0)
    ap.add_argument("--windows", type=int, nargs="+", default=list(WINDOWS),
                    help="smoothing windows in frames (1 = the per-frame features)")
    ap.add_argument("--lags", type=int, default=LAGS, help="lags of 0, 1, ... s (1 = none)")
    args = ap.parse_args()
    WINDOWS, LAGS = tuple(args.windows), args.lags
    from seru import metrics
    from seru.data import corpora

    t0 = time.time()
    _, src = corpora.load(args.corpus, args.variant or None)
    train = recordings(src["train"], args.dim, args.max_train)
    test = recordings(src["test"], args.dim, args.max_test)
    x = np.concatenate([r[1] for r in train])
    y = np.concatenate([r[2] for r in train])
    mu, sd = x.mean(0), x.std(0) + 1e-9
    z = (x - mu) / sd
    w = np.linalg.solve(z.T @ z + args.ridge * np.eye(z.shape[1]), z.T @ (y - y.mean()))
    fit = z @ w + y.mean()
    report = {"benchmark": "spread_probe", "corpus": args.corpus, "variant": args.variant,
              "windows": list(WINDOWS), "lags": LAGS,
              "dim": args.dim, "train_recordings": len(train), "features": int(z.shape[1]),
              "train_r": float(np.corrcoef(fit, y)[0, 1]), "test": []}
    for rid, xt, st, amb in test:
        pred = ((xt - mu) / sd) @ w + y.mean()
        row = {"id": rid, "r": float(np.corrcoef(pred, st)[0, 1]),
               "ccc": float(metrics.ccc(pred, st))}
        if amb is not None:
            row["r_s_ambiguity"] = float(np.corrcoef(st, amb)[0, 1])
        report["test"].append(row)
    report["test_r_mean"] = float(np.mean([r["r"] for r in report["test"]]))
    report["test_ccc_mean"] = float(np.mean([r["ccc"] for r in report["test"]]))
    report["wall_s"] = time.time() - t0
    print(json.dumps(report))


if __name__ == "__main__":
    main()
