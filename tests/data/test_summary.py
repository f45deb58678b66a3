"""Tests of seru/data/summary.py and ``python -m seru.data``: numbers against numpy / scipy / audmetric by hand."""

import itertools
import json

import audmetric
import numpy as np
import pytest
import scipy.stats

from seru.data import schema
from seru.data.__main__ import main
from seru.data.summary import format_summary, summarize


def _recs(source):
    return [source[i] for i in range(len(source))]


@pytest.fixture(scope="module")
def cont_summary(synth_continuous):
    builder, sources = synth_continuous
    return summarize(builder, sources, progress=False)


@pytest.fixture(scope="module")
def utt_summary(synth_utterances):
    builder, sources = synth_utterances
    return summarize(builder, sources, progress=False)


def test_continuous_summary_matches_numpy(synth_continuous, cont_summary):
    _, sources = synth_continuous
    assert cont_summary["kind"] == "continuous" and cont_summary["variant"] == "tiny"
    for split, source in sources.items():
        recs = _recs(source)
        s = cont_summary["splits"][split]
        durs = [r["audio"].size / 16000 for r in recs]
        assert s["items"] == len(recs)
        assert s["total_duration_s"] == pytest.approx(sum(durs))
        assert s["mean_duration_s"] == pytest.approx(np.mean(durs))
        assert s["speakers"] == len({schema.decode_text(r["speaker"]) for r in recs})
        assert s["annotators_per_item"]["min"] == 6 and s["annotators_per_item"]["max"] == 6
        for d in ("arousal", "valence"):
            x = np.concatenate([r[d] for r in recs]).astype(np.float64)
            m = x.mean(1)
            e = s["labels"][d]
            assert e["mean_of_mean"] == pytest.approx(m.mean(), abs=1e-9)
            assert e["std_of_mean"] == pytest.approx(m.std(), abs=1e-9)
            assert e["mean_rater_std"] == pytest.approx(x.std(1, ddof=1).mean(), abs=1e-9)
            rs, cccs = [], []
            for r in recs:
                for i, j in itertools.combinations(range(r[d].shape[1]), 2):
                    a, b = r[d][:, i].astype(np.float64), r[d][:, j].astype(np.float64)
                    rs.append(scipy.stats.pearsonr(a, b)[0])
                    cccs.append(audmetric.concordance_cc(a, b))
            assert e["pairwise_pearson"] == pytest.approx(np.mean(rs), abs=1e-9)
            assert e["pairwise_ccc"] == pytest.approx(np.mean(cccs), abs=1e-9)


def test_utterance_summary_matches_numpy(synth_utterances, utt_summary):
    _, sources = synth_utterances
    classes = list(schema.MSP_CLASSES)
    for split, source in sources.items():
        recs = _recs(source)
        s = utt_summary["splits"][split]
        genders = {}
        for r in recs:
            genders[schema.decode_text(r["speaker"])] = schema.decode_text(r["gender"])
        assert s["speakers"] == len(genders)
        assert s["speakers_by_gender"] == {g: list(genders.values()).count(g)
                                           for g in sorted(set(genders.values()))}
        n_raters = [int(np.sum(~np.isnan(r["arousal"]))) for r in recs]
        assert s["annotators_per_item"] == {"min": min(n_raters), "mean": pytest.approx(
            np.mean(n_raters)), "max": max(n_raters)}
        votes = np.sum([r["emotion_votes"] for r in recs], axis=0)
        if split == "unlabeled":
            assert s["labeled_items"] == 0 and s["vote_share"] is None
            assert s["labels"]["arousal"]["mean_rater_std"] is None
            continue
        assert s["labeled_items"] == len(recs)
        for c, v in zip(classes, votes):
            assert s["vote_share"][c] == pytest.approx(v / votes.sum())
        below = [r["emotion_votes"].max() / r["emotion_votes"].sum() < 0.5 for r in recs]
        assert s["share_majority_below_half"] == pytest.approx(np.mean(below))
        for d in ("arousal", "valence", "dominance"):
            e = s["labels"][d]
            means = [np.nanmean(r[d]) for r in recs]
            stds = [np.nanstd(r[d], ddof=1) for r in recs]
            assert e["mean_of_mean"] == pytest.approx(np.mean(means))
            assert e["std_of_mean"] == pytest.approx(np.std(means))
            assert e["mean_rater_std"] == pytest.approx(np.mean(stds))
            pairs = [(a, b) for r in recs
                     for a, b in itertools.combinations(r[d][~np.isnan(r[d])], 2)]
            assert e["pair_exact_agreement"] == pytest.approx(
                sum(a == b for a, b in pairs) / len(pairs))
            assert e["pair_within1_agreement"] == pytest.approx(
                sum(abs(a - b) <= 1 for a, b in pairs) / len(pairs))


def test_format_summary_prints_the_numbers(utt_summary):
    text = format_summary(utt_summary)
    train = utt_summary["splits"]["train"]
    assert f"[train] {train['items']} items" in text
    assert f"neutral {train['vote_share']['neutral']:.3f}" in text
    assert f"rater std {train['labels']['valence']['mean_rater_std']:.3f}" in text
    assert f"{train['share_majority_below_half']:.3f}" in text


def test_cli_writes_json_equal_to_summarize(synth_data_dir, cont_summary, tmp_path, capsys):
    out = tmp_path / "summary.json"
    rc = main(["--corpus", "seru_synth_continuous", "--variant", "tiny", "--data_dir",
               synth_data_dir, "--json", str(out), "--no_progress"])
    assert rc == 0
    assert json.loads(out.read_text()) == json.loads(json.dumps(cont_summary))
    printed = capsys.readouterr().out
    assert "corpus seru_synth_continuous (variant tiny" in printed
    assert f"pairwise r {cont_summary['splits']['dev']['labels']['arousal']['pairwise_pearson']:.3f}" \
        in printed


def test_cli_split_selection_and_errors(synth_data_dir, capsys):
    main(["--corpus", "seru_synth_utterances", "--variant", "tiny", "--data_dir", synth_data_dir,
          "--splits", "dev", "--json", "-", "--no_progress"])
    js = json.loads(capsys.readouterr().out)
    assert list(js["splits"]) == ["dev"]
    with pytest.raises(SystemExit, match="no split"):
        main(["--corpus", "seru_synth_utterances", "--variant", "tiny", "--data_dir",
              synth_data_dir, "--splits", "nope", "--no_progress"])
    with pytest.raises(SystemExit):
        main(["--corpus", "not_a_corpus"])


def test_summary_names_the_bad_record(synth_continuous):
    builder, sources = synth_continuous
    rec = dict(sources["train"][0])
    rec["arousal"] = rec["arousal"][:, 0]  # 1-D instead of [frames, annotators]
    with pytest.raises(ValueError, match=r"seru_synth_continuous/train\[0\]: 'arousal' has shape"):
        summarize(builder, {"train": [rec]}, progress=False)
