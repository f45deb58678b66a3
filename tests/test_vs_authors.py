"""benchmarks/vs_authors.py: the authors' worker protocol (against a FAKE authors checkout),
the paired ratios and the target verdicts."""

import importlib.util
import json
import math
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _load(name):
    spec = importlib.util.spec_from_file_location(name, REPO / "benchmarks" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


va = _load("vs_authors")

# A stand-in for the authors' checkout: their module names and call signatures, a tiny model.
FAKE = {
    "model.py": """
        import torch
        import torch.nn as nn

        class UncertaintyModel(nn.Module):
            def __init__(self, nout=2, ninp_lstm=320, nhidden_lstm=256, nlstm=2, dropout=0.5,
                         uncertainty_samples=30, bbb_nsegments=50):
                super().__init__()
                self.n, self.nout = uncertainty_samples, nout
                self.mu = nn.Linear(ninp_lstm, nout)
                self.rho = nn.Parameter(torch.full((nout,), -3.0))

            def sample_uncertainty_predictions(self, x):
                b, t, f = x.shape
                print("noise on stdout that the protocol must not see")
                m = self.mu(x.reshape(b * t, -1)[:, : self.mu.in_features])
                s = torch.nn.functional.softplus(self.rho)
                outs = m + s * torch.randn(self.n, b * t, self.nout)
                lp = (s.log()).sum()
                return outs, outs.mean(0), outs.std(0), -lp, lp, m
        """,
    "loss.py": """
        import torch
        def CCC(a, b):
            ma, mb = a.mean(), b.mean()
            return 2 * ((a - ma) * (b - mb)).mean() / (a.var() + b.var() + (ma - mb) ** 2)
        """,
    "kl_divergence_loss.py": """
        from torch.distributions import kl
        def kl_dist_dist(gt, out):
            return kl.kl_divergence(gt, out)
        """,
    "utils.py": """
        from enum import Enum
        class ModelVariant(Enum):
            label_uncertainty = "mu+lu"
        """,
}
SMALL = ["--batch", "2", "--frames", "20", "--frame-samples", "16", "--ninp-lstm", "16",
         "--num-samples", "3", "--window", "5"]


@pytest.fixture(scope="module")
def fake_repo(tmp_path_factory):
    pytest.importorskip("torch")
    d = tmp_path_factory.mktemp("authors")
    for name, text in FAKE.items():
        (d / name).write_text(textwrap.dedent(text))
    return d


def test_worker_protocol_and_paired_alternation(fake_repo):
    worker = va.AuthorsWorker(sys.executable, str(fake_repo), 1, extra=SMALL)
    try:
        assert worker.facts["ready"] and worker.facts["torch_num_threads"] == 1
        assert worker.facts["input_shape"] == [2, 20, 16]
        train = worker.request("train 2")
        assert len(train["times"]) == 2 and all(t > 0 for t in train["times"])
        assert math.isfinite(train["loss"])
        with pytest.raises(RuntimeError, match="unknown command"):
            worker.request("bogus 1")
        # Two seru "rows" with known times against the worker's real ones: one pair per rep.
        rows = {"seru/a": lambda: 0.001, "seru/b": lambda: 0.002}
        times, a_times, first, load = va.alternate(rows, worker, "eval", warmup=1, reps=3)
        assert len(a_times) == 3 and all(t > 0 for t in a_times)
        assert times == {"seru/a": [0.001] * 3, "seru/b": [0.002] * 3}
        assert len(load) == 3 and all(x["foreign_cores"] >= 0 for x in load)
        assert set(first) == {"seru/a", "seru/b", "authors"}
        s = va.summarise(times["seru/b"], 40, a_times)
        assert s["speedup_vs_authors"] == pytest.approx([a / 0.002 for a in a_times])
    finally:
        worker.close()
    assert worker.proc.returncode == 0


def test_worker_rss_mode(fake_repo):
    out = subprocess.run([sys.executable, str(va.WORKER), "--authors-repo", str(fake_repo),
                          "--threads", "1", *SMALL, "--rss", "30"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 1  # their prints went to stderr
    r = json.loads(lines[0])
    assert r["input_shape"] == [1, 30, 16] and r["peak_rss_mb"] > 10


def test_summarise_paired_ratios_and_targets():
    s = va.summarise([1.0, 2.0, 4.0], 1500, authors_times=[30.0, 30.0, 20.0])
    assert s["median_s"] == 2.0 and s["frames_per_s"] == 750.0
    assert s["speedup_vs_authors"] == [30.0, 15.0, 5.0]
    assert s["speedup_vs_authors_median"] == 15.0
    assert s["speedup_ratio_of_medians"] == 15.0
    assert va.paired_ratio([1.2, 1.4, 3.0], [1.0, 1.0, 1.0]) == pytest.approx(1.4)
    with pytest.raises(ValueError):
        va.summarise([1.0], 1, authors_times=[1.0, 2.0])
    # Reps during which other processes were busy are left out of the medians.
    keep, reliable = va.quiet_reps([0.1, 1.2, 0.0], threshold=0.25)
    assert keep == [True, False, True] and reliable
    s = va.summarise([1.0, 2.0, 4.0], 1500, authors_times=[30.0, 30.0, 20.0], keep=keep)
    assert s["reps"] == 2 and s["median_s"] == 2.5 and s["speedup_vs_authors_median"] == 17.5
    assert va.paired_ratio([1.2, 9.0, 1.4], [1.0, 1.0, 1.0], keep) == pytest.approx(1.3)
    assert va.quiet_reps([0.5, 0.9], 0.25) == ([True, True], False)

    result = {
        "eval": {"seru/lw/n30": {"speedup_vs_authors_median": 13.0, "cost_n30_over_n1": 1.6},
                 "seru/exact/n30": {"speedup_vs_authors_median": 1.5}},
        "train": {"seru/exact/n30": {"speedup_vs_authors_median": 1.2}},
        "peak_rss": {"seru": {"peak_rss_mb": 500.0, "frames": 7500}},
    }
    t = va.check_targets(result, default_eval="lw", default_train="fw", authors_sampler="exact")
    assert t["eval_n30_default_vs_authors"]["holds"] is True
    assert t["eval_n30_default_vs_authors"]["value"] == 13.0
    assert t["eval_n30_authors_structure_vs_authors"]["holds"] is False  # 1.5 < 2
    assert t["train_n30_default_vs_authors"]["holds"] is None  # row 'fw' not measured
    assert t["train_n30_authors_structure_vs_authors"]["holds"] is True
    assert t["eval_cost_n30_over_n1_default"]["holds"] is False  # 1.6 > 1.5
    assert t["peak_rss_300s_n30_mb"]["holds"] is True
    result["peak_rss"]["seru"]["frames"] = 1500  # --quick: a 60 s recording is not judged
    t = va.check_targets(result, "lw", "fw", "exact")
    assert t["peak_rss_300s_n30_mb"]["holds"] is None
