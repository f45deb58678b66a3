"""The authors' side of ``benchmarks/vs_authors.py``: their PyTorch model, timed on request.

Runs under the user's Python with PyTorch (``--authors-python``) and imports
``UncertaintyModel`` (``model.py``) and their loss pieces (``loss.py``,
``kl_divergence_loss.py``) from ``--authors-repo``; it never imports seru, JAX
or numpy, and nothing of theirs is copied or edited here.

Server mode (the default) speaks one line in, one JSON line out, so that the
benchmark can alternate seru reps and authors reps without either process
starting again:

* on start-up it answers ``{"ready": true, ...facts}`` (or ``{"error": ...}``);
* ``info``    -> the same facts (torch version, threads, parameters, workarounds);
* ``eval K``  -> ``{"times": [K seconds]}``: ``model.sample_uncertainty_predictions(x)``
  in eval mode under ``torch.no_grad()`` (their MC evaluation: trunk once,
  ``uncertainty_samples`` sampled head passes, one posterior-mean pass);
* ``train K`` -> ``{"times": [...], "loss": last}``: one training step each --
  ``sample_uncertainty_predictions`` in train mode, their MU+LU loss (1 - CCC of
  the passes' mean + ``log_post - log_prior`` + the Gaussian label KL), backward,
  ``torch.optim.Adam(lr=1e-4)`` step;
* ``quit``    -> ``{"bye": true}`` and exit.

``--rss FRAMES``: no server; two evaluations (the second timed) of a
``[1, FRAMES, frame_samples]`` recording in this fresh process, then
``{"peak_rss_mb" (VmHWM), "ru_maxrss_mb", ...}``.

Everything the authors' code prints goes to stderr: stdout carries the protocol only.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import time
import traceback

from _memory import vm_hwm_kb


class Authors:
    """Their model, inputs and optimiser at the benchmark's shapes."""

    def __init__(self, args):
        self.args = args
        self.workarounds = []
        repo = os.path.abspath(args.authors_repo)
        if not os.path.isfile(os.path.join(repo, "model.py")):
            raise FileNotFoundError(f"no model.py in --authors-repo {repo}")
        # Their modules have generic names (model, layers, utils, loss, constants): their
        # checkout goes first on the path so that nothing installed shadows them.
        sys.path.insert(0, repo)
        import torch
        self.torch = torch
        torch.set_num_threads(args.threads)
        torch.manual_seed(args.seed)
        import model as authors_model
        self.model = authors_model.UncertaintyModel(
            nout=args.nout, ninp_lstm=args.ninp_lstm or args.frame_samples * 125 // 250, nhidden_lstm=args.lstm_size, nlstm=2,
            dropout=args.dropout, uncertainty_samples=args.num_samples,
            bbb_nsegments=args.window)
        self.model.to("cpu")
        g = torch.Generator().manual_seed(args.seed)
        b, t, f = args.batch, args.frames, args.frame_samples
        self.x = torch.randn(b, t, f, generator=g)
        self.y_mean = 0.3 * torch.randn(b, t, args.nout, generator=g)
        self.y_all = self.y_mean[..., None] + 0.2 * torch.randn(b, t, args.nout, args.annotators,
                                                                generator=g)
        self.opt = None

    def facts(self):
        torch = self.torch
        return {"python": platform.python_version(), "torch": torch.__version__,
                "torch_num_threads": torch.get_num_threads(),
                "torch_num_interop_threads": torch.get_num_interop_threads(),
                "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", ""),
                "parameters": sum(p.numel() for p in self.model.parameters()),
                "input_shape": list(self.x.shape), "workarounds": self.workarounds}

    # -- the two measured operations ----------------------------------------------------
    def eval_once(self, x=None):
        torch = self.torch
        self.model.eval()
        with torch.no_grad():
            out = self.model.sample_uncertainty_predictions(self.x if x is None else x)
        return out

    def _loss(self, outputs, outputs_mean, log_post, log_prior, outs_meanw):
        """Their MU+LU loss (``loss.calcUncertaintyLoss``, ModelVariant.label_uncertainty).

        ``calcUncertaintyLoss`` indexes arousal AND valence (``[:, 1]``); with one output it
        cannot run, so for ``nout == 1`` its arousal half is composed from their own pieces
        (``loss.CCC``, ``kl_divergence_loss.kl_dist_dist``) exactly as it computes it:
        ``log_post - log_prior + (1 - CCC(mean of passes, y_mean)) + mean KL(N(y) || N(out))``.
        """
        import loss as authors_loss
        from kl_divergence_loss import kl_dist_dist
        from torch.distributions import Normal
        torch = self.torch
        b, t, d, a = self.y_all.shape
        if d >= 2:
            from utils import ModelVariant
            return authors_loss.calcUncertaintyLoss(
                outputs_mean, outputs, self.y_mean, self.y_all, log_post, log_prior, outs_meanw,
                ModelVariant.label_uncertainty)[0]
        y_mean = self.y_mean.reshape(b * t, d)
        y_all = self.y_all.reshape(b * t, d, a)
        ccc_loss = 1 - authors_loss.CCC(outputs_mean[:, 0], y_mean[:, 0])
        out_m, out_s = torch.mean(outputs, 0), torch.std(outputs, 0)
        gt_m, gt_s = torch.mean(y_all, -1), torch.std(y_all, -1)
        kl = torch.mean(kl_dist_dist(Normal(gt_m[:, 0], gt_s[:, 0]),
                                     Normal(out_m[:, 0], out_s[:, 0])))
        return log_post - log_prior + ccc_loss + kl

    def train_once(self):
        torch = self.torch
        self.model.train()
        if self.opt is None:
            self.opt = torch.optim.Adam(self.model.parameters(), lr=1e-4)
        self.opt.zero_grad()
        outputs, outputs_mean, _, log_post, log_prior, outs_meanw = (
            self.model.sample_uncertainty_predictions(self.x))
        loss = self._loss(outputs, outputs_mean, log_post, log_prior, outs_meanw)
        loss.backward()
        self.opt.step()
        return float(loss.detach())

    def timed(self, fn, k):
        times, last = [], None
        for _ in range(k):
            t = time.perf_counter()
            last = fn()
            times.append(time.perf_counter() - t)
        return times, last


def serve(args, out):
    def send(obj):
        out.write(json.dumps(obj) + "\n")
        out.flush()

    try:
        authors = Authors(args)
        if args.nout == 1:
            authors.workarounds.append(
                "loss.calcUncertaintyLoss indexes two outputs ([:, 1]); with nout = 1 its "
                "arousal half is composed from their loss.CCC and kl_divergence_loss.kl_dist_dist")
    except Exception:
        send({"error": traceback.format_exc()})
        return 1
    send({"ready": True, **authors.facts()})
    for line in sys.stdin:
        parts = line.split()
        if not parts:
            continue
        cmd = parts[0]
        try:
            if cmd == "quit":
                send({"bye": True})
                return 0
            if cmd == "info":
                send(authors.facts())
            elif cmd in ("eval", "train"):
                k = int(parts[1]) if len(parts) > 1 else 1
                fn = authors.eval_once if cmd == "eval" else authors.train_once
                times, last = authors.timed(fn, k)
                reply = {"times": times}
                if cmd == "train":
                    reply["loss"] = last
                send(reply)
            else:
                send({"error": f"unknown command {cmd!r}; expected eval K, train K, info, quit"})
        except Exception:
            send({"error": traceback.format_exc()})
    return 0


def rss(args, out):
    args.batch, args.frames = 1, args.rss
    authors = Authors(args)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t = time.perf_counter()
    authors.eval_once()
    first = time.perf_counter() - t
    t = time.perf_counter()
    authors.eval_once()
    sec = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    hwm = vm_hwm_kb()
    out.write(json.dumps({
        "peak_rss_mb": (hwm if hwm is not None else peak) / 1024, "ru_maxrss_mb": peak / 1024,
        "ru_maxrss_before_eval_mb": before / 1024, "seconds": sec, "seconds_first_call": first,
        "frames_per_s": args.rss / sec, **authors.facts()}) + "\n")
    out.flush()
    return 0


def parse(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--authors-repo", required=True)
    ap.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    ap.add_argument("--nout", type=int, default=1)
    ap.add_argument("--batch", type=int, default=5)
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--frame-samples", type=int, default=640)
    ap.add_argument("--ninp-lstm", type=int, default=0,
                    help="their LSTM input size; 0 = what their conv stack makes of a frame "
                         "(125 channels x frame_samples / 250 pooled steps: 320 at 640)")
    ap.add_argument("--lstm-size", type=int, default=256)
    ap.add_argument("--dropout", type=float, default=0.5)
    ap.add_argument("--num-samples", type=int, default=30)
    ap.add_argument("--window", type=int, default=50)
    ap.add_argument("--annotators", type=int, default=6)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--rss", type=int, default=0, metavar="FRAMES",
                    help="measure the peak RSS of one evaluation of FRAMES frames and exit")
    return ap.parse_args(argv)


def main(argv=None):
    args = parse(argv)
    # The protocol owns the real stdout; anything else printed (their loss prints every
    # batch) goes to stderr.
    out = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    sys.stdout.flush()
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    return rss(args, out) if args.rss else serve(args, out)


if __name__ == "__main__":
    sys.exit(main())
