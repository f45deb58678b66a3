"""Writers of tiny fixture corpora in the exact on-disk formats the real readers parse.

Each ``write_<corpus>(root)`` writes a small manual directory under ``root``
and returns a dict with what it wrote (ratings, votes, ids, ...) so that the
tests can assert the built records against the very values written here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf


def _wav(path: Path, seconds: float, sr: int, seed: int, channels: int = 1) -> np.ndarray:
    """A PCM_16 wav of noise; returns the float32 mono samples a reader should see."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    n = int(round(seconds * sr))
    pcm = rng.integers(-8000, 8000, size=(n, channels)).astype(np.int16)
    sf.write(path, pcm if channels > 1 else pcm[:, 0], sr, subtype="PCM_16")
    return (pcm.astype(np.float32) / 32768.0).mean(axis=1).astype(np.float32)


# ------------------------------------------------------------------------- AVEC 2016

AVEC_ANNOTATORS = ("FM1", "FM2", "FM3", "FF1", "FF2", "FF3")


def write_avec2016(root, frames: int = 6, sr: int = 1000, bad_row: bool = False,
                   seed: int = 0) -> dict:
    """train_1, train_2, dev_1 with ratings (+ gold ARFF for train_1), test_1 audio only.

    Audio lasts ``(frames - 1) * 40 ms``, so it has exactly ``frames`` label
    frames. ``bad_row=True`` breaks row 4 of ``ratings_individual/valence/train_2.csv``.
    """
    root = Path(root)
    rng = np.random.default_rng(seed)
    out = {"audio": {}, "ratings": {}, "sr": sr, "frames": frames}
    dur = (frames - 1) * 0.04
    for i, rid in enumerate(("train_1", "train_2", "dev_1", "test_1")):
        out["audio"][rid] = _wav(root / "recordings_audio" / f"{rid}.wav", dur, sr, seed + i)
        if rid.startswith("test"):
            continue
        for dim in ("arousal", "valence"):
            r = np.round(rng.uniform(-1, 1, size=(frames, 6)), 4).astype(np.float32)
            out["ratings"][(rid, dim)] = r
            p = root / "ratings_individual" / dim / f"{rid}.csv"
            p.parent.mkdir(parents=True, exist_ok=True)
            lines = ["time;FM1 ;FM2 ;FM3 ;FF1 ;FF2 ;FF3 "]
            for t in range(frames):
                lines.append(f"{t * 0.04:.6f};" + ";".join(f"{v:.4f}" for v in r[t]))
            if bad_row and rid == "train_2" and dim == "valence":
                lines[3] = f"{2 * 0.04:.6f};0.1;0.2;oops;0.4;0.5;0.6"  # file row 4
            p.write_text("\n".join(lines) + "\n")
            if rid == "train_1":
                a = root / "ratings_gold_standard" / dim / f"{rid}.arff"
                a.parent.mkdir(parents=True, exist_ok=True)
                gold = r.mean(axis=1)
                rows = [f"'{rid}',{t * 0.04:.6f},{g:.6f}" for t, g in enumerate(gold)]
                a.write_text(
                    "@relation GoldStandard\n\n@attribute Instance_name string\n"
                    "@attribute frameTime numeric\n@attribute GoldStandard numeric\n\n@data\n\n"
                    + "\n".join(rows) + "\n"
                )
    return out


# ------------------------------------------------------------------------- MSP-Podcast

MSP_CODES = {"N": "neutral", "H": "happy", "A": "angry", "S": "sad", "C": "contempt",
             "U": "surprise", "F": "fear", "D": "disgust", "O": "other"}


def write_msp_podcast(root, old: bool = False, bad_row: bool = False, sr: int = 1000) -> dict:
    """Five utterances in the v1.11 layout (``old=False``: ``labels_consensus.csv``,
    ``Development``, ``FileName,EmoDetail``) or the older one (``old=True``:
    ``labels_concensus.csv``, ``Validation``, columns
    ``FileName,Workers,EmoClass_Major,EmoClass_Second,EmoAct,EmoVal,EmoDom``).

    ``bad_row=True`` gives the detailed row of one worker of ``MSP-PODCAST_0003_0001.wav``
    a non-numeric arousal (that rating is then NaN).
    """
    root = Path(root)
    utts = [
        # file, split, speaker, gender, [(worker, primary spelling, secondaries, A, V, D)]
        ("MSP-PODCAST_0001_0001.wav", "Train", "12", "Female",
         [("WORKER00000001", "Neutral", "Neutral,Concerned", 4, 4, 5),
          ("WORKER00000002", "Happy", "", 5, 6, 4),
          ("WORKER00000003", "Neutral state", "Amused", 3, 5, 4)]),
        ("MSP-PODCAST_0001_0002.wav", "Train", "12", "Female",
         [("WORKER00000001", "Angry", "Frustrated", 6, 2, 6),
          ("WORKER00000004", "Contempt", "", 5, 3, 5)]),
        ("MSP-PODCAST_0002_0001.wav", "Development", "7", "Male",
         [("WORKER00000002", "Sad", "", 2, 2, 3),
          ("WORKER00000005", "Other-bored", "", 2.5, 3.5, 3),
          ("WORKER00000006", "Surprise", "", 5, 5, 4),
          ("WORKER00000007", "Sad", "", 1, 2, 2)]),
        ("MSP-PODCAST_0003_0001.wav", "Test1", "Unknown", "Unknown",
         [("WORKER00000003", "Fear", "", 6, 2, 2),
          ("WORKER00000008", "Disgust", "", 4, 2, 4)]),
        ("MSP-PODCAST_0004_0001.wav", "Test2", "30", "Male",
         [("WORKER00000009", "Happy", "", 6, 6, 6)]),
    ]
    split_dev = "Validation" if old else "Development"
    out = {"audio": {}, "utts": {}, "sr": sr}
    labels = root / "Labels"
    labels.mkdir(parents=True, exist_ok=True)
    cons = ["FileName,EmoClass,EmoAct,EmoVal,EmoDom,SpkrID,Gender,Split_Set"]
    det = (["FileName,Workers,EmoClass_Major,EmoClass_Second,EmoAct,EmoVal,EmoDom"] if old
           else ["FileName,EmoDetail"])
    for i, (name, split, spk, gender, workers) in enumerate(utts):
        out["audio"][name] = _wav(root / "Audios" / name, 0.05 + 0.01 * i, sr, 100 + i,
                                  channels=2 if i == 0 else 1)
        split = split_dev if split == "Development" else split
        a = np.mean([w[3] for w in workers])
        v = np.mean([w[4] for w in workers])
        d = np.mean([w[5] for w in workers])
        cons.append(f"{name},X,{a:.4f},{v:.4f},{d:.4f},{spk},{gender},{split}")
        for j, (wid, prim, sec, wa, wv, wd) in enumerate(workers):
            a_txt = "abc" if (bad_row and name.startswith("MSP-PODCAST_0003") and j == 1) else f"{wa:.6f}"
            if old:
                det.append(f'{name},{wid},{prim},"{sec}",{a_txt},{wv:.6f},{wd:.6f}')
            else:
                det.append(f'{name},"{wid}; {prim}; {sec}; A:{a_txt}; V:{wv:.6f}; D:{wd:.6f};"')
        out["utts"][name] = dict(split=split, speaker=spk, gender=gender, workers=workers)
    (labels / ("labels_concensus.csv" if old else "labels_consensus.csv")).write_text("\n".join(cons) + "\n")
    (labels / "labels_detailed.csv").write_text("\n".join(det) + "\n")
    return out


# ------------------------------------------------------------------------- IEMOCAP


def write_iemocap(root, bad_row: bool = False, sr: int = 1000) -> dict:
    """One dialog per session (5 sessions), two turns each, in the EmoEvaluation format.

    ``bad_row=True`` corrupts the dimensional line of the second turn of session 2.
    """
    root = Path(root)
    out = {"audio": {}, "turns": {}, "sr": sr}
    for s in range(1, 6):
        sess = f"Session{s}"
        dialog = f"Ses0{s}F_impro0{s}"
        turns = [
            (f"{dialog}_F000", "neu", [("C-E1", "Neutral;"), ("C-E2", "Neutral; Frustration;"),
                                       ("C-F1", "Anger;")],
             [("A-E1", 3, 2, 3), ("A-E2", 2, 3, 3), ("A-F1", 5, 5, 5)]),
            (f"{dialog}_M001", "fru", [("C-E1", "Frustration; Anger;"), ("C-E3", "Other:annoyed;"),
                                       ("C-E4", "Frustration;")],
             [("A-E3", 2, 4, 4), ("A-E4", 1, 5, 5), ("A-E5", 2, 4, 3), ("A-M1", 1, 1, 1)]),
        ]
        lines = ["% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]", ""]
        for k, (turn, emo, cats, dims) in enumerate(turns):
            start = 1.5 + 3 * k
            lines.append(f"[{start:.4f} - {start + 2.1:.4f}]\t{turn}\t{emo}\t[2.5000, 3.0000, 3.5000]")
            for who, txt in cats:
                lines.append(f"{who}:\t{txt}\t()")
            for j, (who, v, a, d) in enumerate(dims):
                if bad_row and s == 2 and k == 1 and j == 0:
                    lines.append(f"{who}:\tval 2; act high; dom  4;\t()")
                else:
                    lines.append(f"{who}:\tval {v}; act {a}; dom  {d};\t(note)")
            lines.append("")
            out["audio"][turn] = _wav(root / sess / "sentences" / "wav" / dialog / f"{turn}.wav",
                                      0.03 + 0.01 * k, sr, 200 + 10 * s + k)
            out["turns"][turn] = dict(session=s, cats=cats, dims=dims)
        p = root / sess / "dialog" / "EmoEvaluation" / f"{dialog}.txt"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("\n".join(lines) + "\n")
        # the real directory also has sub-folders that the reader must ignore
        (p.parent / "Categorical").mkdir(exist_ok=True)
        (p.parent / "Categorical" / f"{dialog}_e1_cat.txt").write_text("ignored\n")
    return out


# ------------------------------------------------------------------------- CREMA-D

CREMA_CLASSES = ("A", "D", "F", "H", "N", "S")


def write_crema_d(root, bad_row: bool = False, sr: int = 1000) -> dict:
    """Ten actors (1001..1010), one clip each, with voice / face / audiovisual vote rows.

    ``bad_row=True`` gives the voice row of actor 1004's clip a non-integer vote.
    """
    root = Path(root)
    rng = np.random.default_rng(7)
    out = {"audio": {}, "votes": {}, "sex": {}, "sr": sr}
    emos = ["ANG", "DIS", "FEA", "HAP", "NEU", "SAD"]
    header = ",A,D,F,H,N,S,fileName,numResponses,agreement,emoVote,meanEmoResp"
    rows = [header]
    demo = ["ActorID,Age,Sex,Race,Ethnicity"]
    for i in range(10):
        actor = 1001 + i
        name = f"{actor}_IEO_{emos[i % 6]}_HI"
        out["audio"][name] = _wav(root / "AudioWAV" / f"{name}.wav", 0.04, sr, 300 + i)
        sex = "Female" if i % 3 == 0 else "Male"
        out["sex"][actor] = sex
        demo.append(f"{actor},{30 + i},{sex},Caucasian,Not Hispanic")
        for qt in (1, 2, 3):
            v = rng.integers(0, 5, size=6)
            if qt == 1:
                out["votes"][name] = v
            vals = [str(int(x)) for x in v]
            if bad_row and qt == 1 and actor == 1004:
                vals[2] = "2.5"
            top = CREMA_CLASSES[int(np.argmax(v))]
            rows.append(f"{100000 * qt + i + 1}," + ",".join(vals)
                        + f",{name},{int(v.sum())},{v.max() / max(v.sum(), 1):.3f},{top},50")
    (root / "processedResults").mkdir(parents=True, exist_ok=True)
    (root / "processedResults" / "tabulatedVotes.csv").write_text("\n".join(rows) + "\n")
    (root / "VideoDemographics.csv").write_text("\n".join(demo) + "\n")
    return out


# ------------------------------------------------------------------------- SEWA (AVEC 2017)

SEWA_RATERS = ("R1", "R2", "R3")
SEWA_DIMS = ("arousal", "valence", "liking")


def write_sewa(root, frames: int = 6, sr: int = 8000, individual: bool = True,
               bad_row: bool = False, long_audio: bool = False, seed: int = 0) -> dict:
    """Train_01, Train_02, Devel_01 with labels, Test_01 audio only, in the AVEC 2017 layout.

    ``audio/<id>.wav`` (Train_02 written unpadded as ``Train_2.wav``), headerless
    ``labels/<id>.csv`` rows ``'<id>';<t>;<a>;<v>;<l>`` every 0.1 s, and with
    ``individual=True`` ``ratings_individual/<dim>/<id>.csv`` (header
    ``time;R1;R2;R3``; Devel_01 lacks rater R3 and has one empty field, row 3 of
    its arousal file). Audio lasts ``(frames - 1) * 0.1`` s.
    ``bad_row=True`` breaks row 4 of ``labels/Train_02.csv`` (gold-standard
    mode) and of ``ratings_individual/valence/Train_02.csv``;
    ``long_audio=True`` makes Train_01's audio 2 s longer than its labels.
    """
    root = Path(root)
    rng = np.random.default_rng(seed)
    out = {"audio": {}, "gold": {}, "ratings": {}, "sr": sr, "frames": frames}
    dur = (frames - 1) * 0.1
    for i, rid in enumerate(("Train_01", "Train_02", "Devel_01", "Test_01")):
        name = "Train_2" if rid == "Train_02" else rid
        seconds = dur + (2.0 if long_audio and rid == "Train_01" else 0.0)
        out["audio"][rid] = _wav(root / "audio" / f"{name}.wav", seconds, sr, seed + i)
        if rid.startswith("Test"):
            continue
        gold = np.round(rng.uniform(-1, 1, size=(frames, 3)), 4).astype(np.float32)
        out["gold"][rid] = gold
        rows = [f"'{rid}';{t * 0.1:.6f};" + ";".join(f"{v:.6f}" for v in gold[t]) for t in range(frames)]
        if bad_row and rid == "Train_02":
            rows[3] = f"'{rid}';0.300000;0.1;oops;0.3"  # file row 4
        p = root / "labels" / f"{rid}.csv"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("\n".join(rows) + "\n")
        if not individual:
            continue
        raters = SEWA_RATERS[:2] if rid == "Devel_01" else SEWA_RATERS
        for dim in SEWA_DIMS:
            r = np.round(rng.uniform(-1, 1, size=(frames, len(raters))), 4).astype(np.float32)
            lines = ["time;" + ";".join(raters)]
            for t in range(frames):
                vals = [f"{v:.4f}" for v in r[t]]
                if rid == "Devel_01" and dim == "arousal" and t == 1:
                    vals[1] = ""  # file row 3: a missing value
                    r[t, 1] = np.nan
                lines.append(f"{t * 0.1:.2f};" + ";".join(vals))
            if bad_row and rid == "Train_02" and dim == "valence":
                lines[3] = "0.20;0.1;abc;0.3"  # file row 4
            full = np.full((frames, len(SEWA_RATERS)), np.nan, np.float32)
            full[:, [SEWA_RATERS.index(n) for n in raters]] = r
            out["ratings"][(rid, dim)] = full
            p = root / "ratings_individual" / dim / f"{rid}.csv"
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text("\n".join(lines) + "\n")
    # folders of the package that the reader ignores
    (root / "turns").mkdir(exist_ok=True)
    (root / "turns" / "Train_01.csv").write_text("0.20;0.40\n")
    return out
