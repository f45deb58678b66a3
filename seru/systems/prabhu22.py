"""prabhu22: end-to-end BBB label-uncertainty SER (Prabhu et al., Interspeech 2022).

Variants (``config.model.variant``):

* ``mu``   -- BBB model, alpha = 0 (model uncertainty only, "MU" of Table 1).
* ``lu``   -- BBB model, alpha = 1, Gaussian label distribution ("+LU").
* ``lu_t`` -- as ``lu`` with a Student-t label distribution, df = number of
  raters (the ACII 2022 follow-up).
* ``stl``, ``mtl_pu`` -- the baselines of prabhu22 Sec. 4.2 (``seru/models/mtl_pu.py``).

Batch (from ``seru/data/pipeline.py``): ``audio`` [B, T*640] at 16 kHz,
``gold`` [B, T, D] target mean, ``std`` [B, T, D] unbiased rater std,
``num_raters`` [B, T, D], ``mask`` [B, T] (1 = valid frame).

Loss, Eq. (8) of prabhu22 for the BBB variants::

    L = (1 - CCC(m_hat, m))  +  L_BBB  +  alpha * L_KL

* ``m_hat``: the posterior-mean pass (Sec. 3.2), ``s_hat``: std over the
  ``num_samples_train`` sampled passes (Sec. 3.2; Eq. (6) uses n = 30 passes,
  and the label KL needs n >= 2).
* ``L_BBB`` (Eqs. (5)-(6)): ``NLL + kl_weight * KL_est`` where

  - ``NLL`` = mean over passes, valid frames and dimensions of
    ``-log N(m; y_i, likelihood_sigma)`` (``-log P(D | w^(i))``);
  - ``KL_est`` estimates ``KL(q || P)``. Samplers that draw the weights
    (``faithful``: per (pass, window, sequence), the authors' structure;
    ``batch_shared``: per (pass, window)): ``log q(w) - log P(w)`` is computed
    for EVERY weight draw, summed over all of them and divided by the number
    of draws (the authors' code kept only the last window's term). Each draw
    is a sample from q, so this is an unbiased estimate of the KL that the
    local samplers take in closed form: ``E_q[log q - log P] = KL(q || P)``.
    The other terms are sums over frames of functions of each frame's
    predictive marginal (the NLL, and s_hat from n independent passes), which
    every sampler draws exactly, so all samplers optimise the same objective
    in expectation; they differ in its variance and cost.
  - The scaling follows Blundell et al. (2015, Sec. 3.4): the ELBO of the
    whole training set is ``KL + sum_frames NLL``; dividing by the number of
    training frames N gives ``mean NLL + KL / N``. Hence ``kl_weight`` should
    be ``1 / (number of training frames)``; the default is 1 / 67,500 (AVEC
    2016 train: 9 recordings x 7,500 frames).
* ``L_KL`` (Eq. (7)): KL(N(m, s) || N(m_hat, s_hat)) averaged over valid
  frames (``seru.losses.label_kl_loss``), or its Student-t form with
  df = ``num_raters`` for ``lu_t``.

Samplers (``seru/models/bbb_ser.py``). Training (``model.sampler``) and
evaluation (``model.eval_sampler``) default to ``local_pass``: the first
layer's pre-activations by local reparameterisation (noise per window), the
later layers' weights drawn once per pass, closed-form KL. Each pass's output
at each frame has exactly the distribution it has under the authors'
per-(sequence, window) weight draws (``faithful``), so every loss term above
is the same in expectation (``KL_est`` is an unbiased estimate of the closed
form; the NLL and the label KL are sums over frames of functions of each
frame's n independent passes) and ``s_hat`` and every metric are unchanged in
distribution; only the correlation between frames inside a pass differs
(across windows its later draws are shared), which changes the gradient's
variance and no metric. ``local`` (pre-activations per frame) has the lowest
gradient variance and costs more (``benchmarks/vs_authors.py`` times them
all). Set ``eval_sampler=''`` to evaluate with the training sampler,
``faithful`` for the authors' structure.

Where the gradient of ``s_hat`` in ``L_KL`` may go (``model.label_kl_grad``;
the loss VALUE is the same in all three):

* ``all`` -- Eq. (8) as written: into the posterior scales rho, the head's mu
  and PReLU parameters and the conv + LSTM trunk.
* ``head`` -- not into the trunk.
* ``scales`` -- into the posterior scales rho only.

Both CPU configs (``configs/quickstart.py``, ``configs/prabhu22_bbb.py``'s
``cpu`` protocol) use ``all`` with ``rho_init = (-2, -1)`` and the ``logmel``
front end: with the paper's conv front end the mean pass collapsed (m_hat
near a constant) under every routing at rho in [-3, -2] and under ``all`` at
[-2, -1]; with ``logmel``, ``all`` trains and is the only routing under which
s_hat can follow the raters' spread over time. The probes:
``benchmarks/results/prabhu22_label_kl_routing.md``.
"""

from __future__ import annotations

import functools
import math
from typing import Any, Mapping

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from seru import losses, mc, metrics
from seru.data.timebase import CONTINUOUS
from seru.fields import Field, from_fields
from seru.models.bayes import PRIORS, WEIGHT_NORMALS, Prior
from seru.models.bbb_ser import BBBSER, PASS_SAMPLERS, SAMPLERS, WEIGHT_SAMPLERS
from seru.models.extractors import COMPRESS, FRONTENDS, Extractor
from seru.models.mtl_pu import MTLPU
from seru.systems.base import Regression, System, median_filtered, per_dimension

BBB_VARIANTS = ("mu", "lu", "lu_t")
VARIANTS = BBB_VARIANTS + ("stl", "mtl_pu")
LABEL_KL_GRAD = ("all", "head", "scales")
#: (pass, window) cells per chunk in the loss of the weight-drawing samplers (train_chunk = 0).
TRAIN_CHUNK_WEIGHTS = 8


MODEL_FIELDS = (
    Field("variant", "lu", "MU (alpha = 0), +LU (alpha = 1), +LU with a Student-t label "
          "distribution, or the STL / MTL-PU baselines", VARIANTS),
    Field("window", 50, "BBB window b: frames sharing one weight draw (50 = 2 s)"),
    Field("num_samples_train", 30, "MC passes inside the loss, Eq. (6) (paper: 30; >= 2 for "
          "lu / lu_t)"),
    Field("sampler", "local_pass", "training draws: weights per (window, sequence) as the "
          "authors, weights per window shared by the batch, local reparameterisation per "
          "frame or per window, or per window in the first layer and per pass after it "
          "(default: the same objective in expectation, see the module docstring)", SAMPLERS),
    Field("eval_sampler", "local_pass", "sampler of evaluation and prediction; '' = the "
          "training sampler", SAMPLERS + ("",)),
    Field("prior", "gaussian", "weight prior: N(0, prior_sigma) or the scale mixture of "
          "Blundell et al.", PRIORS),
    Field("prior_sigma", 1.0, "std of the Gaussian prior (paper: 1)"),
    Field("rho_init", (-3.0, -2.0), "posterior rho ~ U[lo, hi], sigma_w = softplus(rho) "
          "(paper Sec. 4.3: [-3, -2])"),
    Field("mixture_pi", 0.5, "scale-mixture prior: weight of the wide component"),
    Field("mixture_sigma1", 1.0, "scale-mixture prior: std of the wide component"),
    Field("mixture_sigma2", 0.0025, "scale-mixture prior: std of the narrow component"),
    Field("dropout", 0.5, "dropout after each conv pool and LSTM layer (paper: 0.5)"),
    Field("lstm_size", 256, "units of each of the two LSTM layers (paper: 256)"),
    Field("conv_kernels", (8, 6, 6), "conv front-end kernels in samples (paper / Tzirakis "
          "et al.)"),
    Field("conv_compress", "none", "'log': log(eps + x) of the conv front end's output (not "
          "in the paper)", COMPRESS),
    Field("conv_compress_eps", 1e-2, "eps of conv_compress='log'"),
    Field("conv_block_frames", 50, "frames per block of the conv front end (>= 1; whole "
          "seconds of 25 frames): speed and peak memory only, same output"),
    Field("frontend", "conv", "the paper's conv stack on raw audio, or per-frame log-mel "
          "energies (not in the paper; the CPU protocols)", FRONTENDS),
    Field("n_mels", 40, "mel bands of the log-mel front end"),
    Field("head_sizes", (512, 256), "hidden sizes of the Bayesian (or dense) head"),
    Field("kl_weight", 1.0 / 67_500, "complexity-cost scale: 1 / training frames (Blundell "
          "et al.; AVEC 2016 train: 67,500)"),
    Field("likelihood_sigma", 1.0, "std of the Gaussian likelihood P(D | w) in Eq. (6)"),
    Field("alpha", -1.0, "weight of the label KL, Eq. (7); < 0: from the variant (mu: 0, "
          "lu / lu_t: 1)"),
    Field("label_kl_grad", "all", "where s_hat's gradient in Eq. (7) may go: everywhere "
          "(as written), the head only, or the posterior scales rho only", LABEL_KL_GRAD),
    Field("std_ddof", 1, "s_hat = std over the MC passes with this ddof"),
    Field("mc_chunk", 8, "(pass, window) draws per chunk at evaluation (small chunks stay in "
          "cache: benchmarks/mc_eval.py; local_pass: as many passes as hold as many frames, "
          "at least 1); 0 = no chunking"),
    Field("train_chunk", 0, "the same inside the loss; 0 = automatic: one vmap over all "
          "draws for local / local_window, chunks of 8 whose weight draws are recomputed in "
          "the backward pass (not stored) for faithful / batch_shared / local_pass"),
    Field("mtl_weights", (1.0, 1.0), "(w_E, w_s) of han17 Eq. (7), mtl_pu only"),
)


def default_model_config() -> ml_collections.ConfigDict:
    """``config.model`` of prabhu22 at its defaults (the paper's values, Sec. 4.3)."""
    return from_fields(MODEL_FIELDS)


def check_config(config) -> list[str]:
    """The combinations of ``config.model`` fields prabhu22 cannot run (one line each)."""
    m, errors = config.model, []
    if m.variant in BBB_VARIANTS:
        if m.sampler not in WEIGHT_SAMPLERS and m.prior != "gaussian":
            errors.append(f"model.prior={m.prior!r}: model.sampler={m.sampler!r} uses the "
                          f"closed-form KL and needs model.prior='gaussian'")
        if m.variant == "mu" and m.alpha > 0:
            errors.append(f"model.alpha={m.alpha}: variant 'mu' means alpha = 0")
        alpha = m.alpha if m.alpha >= 0 else (0.0 if m.variant == "mu" else 1.0)
        if alpha > 0 and m.num_samples_train < 2:
            errors.append(f"model.num_samples_train={m.num_samples_train}: variant "
                          f"{m.variant!r} needs >= 2 passes for s_hat in the label KL (Eq. (7))")
    if m.window < 1:
        errors.append(f"model.window={m.window}: expected >= 1 frame")
    if len(m.rho_init) != 2 or m.rho_init[0] > m.rho_init[1]:
        errors.append(f"model.rho_init={m.rho_init}: expected (low, high) with low <= high")
    return errors


def _float_mask(mask, shape):
    return jnp.broadcast_to(mask.astype(jnp.float32)[..., None], shape)


def _masked_mean(x, mask):
    return jnp.sum(x * mask) / jnp.maximum(jnp.sum(mask), 1.0)


def _ccc_loss(pred, target, mask):
    """``1 - CCC`` per output over all valid frames of the batch, averaged (Eq. (2) of prabhu22)."""
    return losses.ccc_loss(pred, target, mask)


#: Scales are floored here in the KL / NLL metrics, as in the loss (seru.losses.label_kl_loss).
S_FLOOR = 1e-2


def _mean_within_r(pred: np.ndarray, target: np.ndarray, item: np.ndarray) -> float:
    """Mean over items of :func:`seru.metrics.pearson` of ``pred`` and ``target`` inside each
    item (items where it is undefined -- under 2 frames, a constant series -- are skipped;
    NaN if none is left). One compiled call per item, all of the same shape."""
    rs = np.array([float(metrics.pearson(pred, target, mask=item == i)) for i in np.unique(item)])
    rs = rs[np.isfinite(rs)]
    return float(rs.mean()) if rs.size else float("nan")


class Prabhu22(System):
    """prabhu22 as a :class:`seru.systems.base.System` (see the module docstring)."""

    MODEL_FIELDS = MODEL_FIELDS
    INPUT = "raw_audio"

    @classmethod
    def check_config(cls, config) -> list[str]:
        return check_config(config)

    def __init__(self, config, time_base=None):
        super().__init__(config, time_base or CONTINUOUS)
        mc_cfg = config.model
        self.variant = mc_cfg.variant
        self.dims = tuple(config.data.dimensions)
        d = len(self.dims)
        # What every model of this system shares: the trunk and the head's sizes.
        shared = dict(out_features=d, hidden=tuple(mc_cfg.head_sizes), extractor=Extractor(
            lstm_size=mc_cfg.lstm_size, dropout=mc_cfg.dropout, frontend=mc_cfg.frontend,
            n_mels=int(mc_cfg.n_mels), kernels=tuple(mc_cfg.conv_kernels),
            compress=mc_cfg.conv_compress, compress_eps=float(mc_cfg.conv_compress_eps),
            block_frames=int(mc_cfg.conv_block_frames),
            frame_samples=self.time_base.samples_per_frame))
        if self.variant in BBB_VARIANTS:
            prior = Prior(kind=mc_cfg.prior, sigma=mc_cfg.prior_sigma, pi=mc_cfg.mixture_pi,
                          sigma1=mc_cfg.mixture_sigma1, sigma2=mc_cfg.mixture_sigma2)
            shared["window_frames"] = int(mc_cfg.window)
            self.model = BBBSER(**shared, sampler=mc_cfg.sampler, prior=prior,
                                rho_init=tuple(mc_cfg.rho_init))
            self.eval_sampler = eval_sampler = mc_cfg.eval_sampler or mc_cfg.sampler
            # Same parameters, another way of drawing the passes. The KL is not needed at
            # evaluation, so the prior only matters to the training model.
            self.eval_model = self.model if eval_sampler == mc_cfg.sampler else BBBSER(
                **shared, sampler=eval_sampler,
                prior=prior if eval_sampler in WEIGHT_SAMPLERS else Prior(),
                rho_init=tuple(mc_cfg.rho_init))
            alpha = mc_cfg.alpha
            self.alpha = float(alpha if alpha >= 0 else (0.0 if self.variant == "mu" else 1.0))
        else:
            self.model = MTLPU(**shared, variant=self.variant)
            self.eval_model = self.model
            self.alpha = 0.0

    @property
    def outputs(self):
        """Per frame and dimension: the posterior-mean pass ``m_hat`` and the std over the MC
        passes ``s_hat`` (MTL-PU: its regressed std; STL: no spread), on the rating scale."""
        if self.variant == "stl":
            return (Regression(spread=None),)
        if self.variant == "mtl_pu":
            return (Regression(),)
        return (Regression(samples="samples"),)

    def postprocess_info(self) -> dict:
        return {"median_window": self.config.eval.median_window}

    def postprocess(self, predictions, fitted):
        """Median filter over time of ``m_hat`` and ``s_hat`` (prabhu22 Sec. 4.3: b = 50
        frames), ``config.eval.median_window`` frames; 0 or 1 = none. Nothing is fitted."""
        return median_filtered(predictions, ("m_hat", "s_hat"), self.config.eval.median_window)

    # -- helpers ---------------------------------------------------------
    def _head_fns(self, params, with_complexity=False, model=None):
        apply = functools.partial((model or self.model).apply, params)
        prepare = functools.partial(apply, method="head_prepare")
        window = functools.partial(apply, method="head_window", with_complexity=with_complexity)
        mean = functools.partial(apply, method="head_mean")
        return prepare, window, mean

    @staticmethod
    def _chunk(value):
        return int(value) if value and int(value) > 0 else None

    def _grid(self, sampler, num_frames, chunk):
        """``(window, chunk)`` of :func:`seru.mc.sample_passes` for ``sampler``.

        The window samplers: ``model.window`` frames a cell, ``chunk`` cells a
        chunk. :data:`PASS_SAMPLERS`: one cell per pass over all ``num_frames``
        frames, and as many passes a chunk as hold about the same number of
        frames (``chunk * window / num_frames``, at least 1).
        """
        window = int(self.config.model.window)
        if sampler not in PASS_SAMPLERS:
            return window, chunk
        return num_frames, (None if chunk is None else max(1, chunk * window // num_frames))

    # -- System interface --------------------------------------------------
    def init(self, rng, batch):
        """Parameters do not depend on the length: initialise on (at most) the first second."""
        audio = jnp.asarray(batch["audio"])
        audio = audio[:, : min(audio.shape[1], 25 * self.time_base.samples_per_frame)]
        return self.model.init({"params": rng}, audio, train=False)

    def loss(self, params, batch, rng):
        cfg = self.config.model
        k_drop, k_head = jax.random.split(rng)
        audio = jnp.asarray(batch["audio"], jnp.float32)
        gold = jnp.asarray(batch["gold"], jnp.float32)
        std = jnp.asarray(batch["std"], jnp.float32)
        mask = _float_mask(jnp.asarray(batch["mask"]), gold.shape)
        feats = self.model.apply(params, audio, train=True, method="trunk",
                                 rngs={"dropout": k_drop})
        terms = {}
        if self.variant == "stl":
            m_hat = self.model.apply(params, feats, method="head")["m_hat"]
            terms["ccc_loss"] = _ccc_loss(m_hat, gold, mask)
            return terms["ccc_loss"], terms
        if self.variant == "mtl_pu":
            out = self.model.apply(params, feats, method="head")
            w_e, w_s = cfg.mtl_weights
            terms["ccc_loss"] = _ccc_loss(out["m_hat"], gold, mask)
            terms["mse_m"] = _masked_mean(jnp.square(out["m_hat"] - gold), mask)
            terms["mse_s"] = _masked_mean(jnp.square(out["s_hat"] - std), mask)
            total = terms["ccc_loss"] + w_e * terms["mse_m"] + w_s * terms["mse_s"]
            return total, terms

        sampled_kl = cfg.sampler in WEIGHT_SAMPLERS
        prepare, window, mean = self._head_fns(params, with_complexity=sampled_kl)
        train_chunk = self._chunk(cfg.train_chunk)
        remat = lambda f: f  # noqa: E731 -- the passes' checkpointing, for both runs below
        if train_chunk is None and (sampled_kl or cfg.sampler in PASS_SAMPLERS):
            # The authors' structure draws 262 k weights per (pass, window, sequence) at the
            # paper's sizes: stored for the backward pass they are ~1 GB a step. Recomputing
            # them from their keys in chunks of 8 cells took 4.1 s a step against 5.9 s
            # (batch 5 x 300, n = 30; benchmarks/vs_authors.py). The per-pass activations
            # of local_pass likewise: the head's gradient took 258 ms against 425 ms
            # stored. Its later weights' normals (131 k a pass, 16 MB for 30) are kept
            # for the backward pass, not drawn again (a step 0.41 against 0.45 s).
            keep = (jax.checkpoint_policies.save_only_these_names(WEIGHT_NORMALS)
                    if cfg.sampler in PASS_SAMPLERS else None)
            remat = functools.partial(jax.checkpoint, policy=keep)
            window, train_chunk = remat(window), TRAIN_CHUNK_WEIGHTS
        m_hat = mean(feats)
        grid = self._grid(cfg.sampler, feats.shape[1], train_chunk)
        samples, comp = mc.sample_passes(window, prepare(feats), k_head, cfg.num_samples_train,
                                         *grid)
        # Eq. (6): -log P(D | w^(i)), Gaussian likelihood, averaged over passes and frames.
        sig = cfg.likelihood_sigma
        nll = (0.5 * jnp.square((gold[None] - samples) / sig) + math.log(sig)
               + 0.5 * math.log(2 * math.pi))
        terms["nll"] = _masked_mean(jnp.mean(nll, axis=0), mask)
        # Eq. (5)/(6): KL(q || P), sampled over every (pass, window) draw, or closed form.
        terms["kl_weights"] = (jnp.mean(comp) if sampled_kl
                               else self.model.apply(params, method="head_kl"))
        terms["ccc_loss"] = _ccc_loss(m_hat, gold, mask)
        total = terms["ccc_loss"] + terms["nll"] + cfg.kl_weight * terms["kl_weights"]
        # sqrt(var + tiny): the gradient of a plain std is NaN at zero spread.
        s_hat = mc.sample_std(samples, cfg.std_ddof, eps=1e-12)
        if self.alpha > 0:
            # label_kl_grad: where s_hat's gradient may go (see the module docstring). For
            # 'head' / 'scales' the same passes (same key, so the same values) are re-run with
            # the trunk features, and for 'scales' every head parameter but the posterior
            # scales rho, held constant; m_hat always keeps its full gradient.
            s_kl = s_hat
            if cfg.label_kl_grad != "all":
                sg = jax.lax.stop_gradient
                p = params if cfg.label_kl_grad == "head" else jax.tree_util.tree_map_with_path(
                    lambda path, x: x if "rho" in jax.tree_util.keystr(path) else sg(x), params)
                p_prepare, p_window, _ = self._head_fns(p)
                s_samples, _ = mc.sample_passes(remat(p_window), p_prepare(sg(feats)), k_head,
                                                cfg.num_samples_train, *grid)
                s_kl = mc.sample_std(s_samples, cfg.std_ddof, eps=1e-12)
            if self.variant == "lu_t":
                df = jnp.asarray(batch["num_raters"], jnp.float32)
                terms["label_kl"] = losses.label_kl_loss_student_t(df, gold, std, m_hat, s_kl,
                                                                   mask=mask)
            else:
                terms["label_kl"] = losses.label_kl_loss(gold, std, m_hat, s_kl, mask=mask)
            total = total + self.alpha * terms["label_kl"]
        # Diagnostics (logged, not optimised): spread of the mean pass over frames and
        # the mean MC spread, against the raters' mean std.
        terms["diag_m_hat_std"] = jax.lax.stop_gradient(
            jnp.sqrt(_masked_mean(jnp.square(m_hat - _masked_mean(m_hat, mask)), mask)))
        terms["diag_s_hat_mean"] = jax.lax.stop_gradient(_masked_mean(s_hat, mask))
        terms["diag_s_mean"] = _masked_mean(std, mask)
        return total, terms

    def predict(self, params, batch, rng, num_samples=None):
        cfg = self.config.model
        n = self.config.eval.num_samples if num_samples is None else num_samples
        audio = jnp.asarray(batch["audio"], jnp.float32)
        feats = self.model.apply(params, audio, train=False, method="trunk")
        if self.variant in ("stl", "mtl_pu"):
            out = self.model.apply(params, feats, method="head")
            return {k: v for k, v in out.items() if k in ("m_hat", "s_hat")}
        prepare, window, mean = self._head_fns(params, model=self.eval_model)
        grid_window, chunk = self._grid(self.eval_sampler, feats.shape[1],
                                        self._chunk(cfg.mc_chunk))
        return mc.mc_predict(prepare, window, mean, feats, rng, num_samples=n,
                             window=grid_window, chunk=chunk,
                             return_samples=True, ddof=cfg.std_ddof)

    def evaluate(self, predictions: Mapping[str, Any], targets: Mapping[str, Any]) -> dict:
        """Metrics of prabhu22 Sec. 4.4 (CCC(m), CCC(s), KL) plus RMSE, NLL, CRPS, 90 % coverage.

        Inputs are ``[N, D]`` numpy arrays (valid frames of a split).
        Per-dimension keys ``name/<dim>`` when D > 1; the plain names then
        hold the mean over the dimensions. Without ``s_hat`` (``stl``) only ``ccc_m`` and
        ``rmse`` are returned. CCCs use the population estimator (ddof = 0,
        Eq. (2) of prabhu22). In ``kl``, ``nll`` and ``crps`` both standard
        deviations are floored at ``S_FLOOR`` = 0.01, as in the loss: a frame
        where all raters agree (s = 0) would otherwise make the KL infinite.
        ``coverage_90``: the share of frames whose gold standard lies in the
        central 90 % interval of N(m_hat, s_hat); with ``targets['ratings']``
        ``[N, D, A]`` also ``coverage_90_ratings``: the share of the
        individual raters' ratings inside it (what "covers the annotations"
        means). With ``targets['item']`` (the recording of each frame, from
        :func:`seru.evaluation.pool`) also ``r_s_within``: the Pearson r of
        s_hat and s inside each recording, averaged over the recordings --
        whether s_hat follows the course of the spread over time, which the
        pooled CCC(s) mixes with the recordings' different mean spreads.
        """
        m_hat = np.asarray(predictions["m_hat"], np.float64)
        gold = np.asarray(targets["gold"], np.float64)
        if m_hat.ndim == 1:
            m_hat, gold = m_hat[:, None], gold[:, None]
        if m_hat.shape != gold.shape:
            raise ValueError(f"evaluate: m_hat shape {m_hat.shape} != gold shape {gold.shape}")
        has_s = "s_hat" in predictions
        if has_s:
            s_hat = np.asarray(predictions["s_hat"], np.float64).reshape(m_hat.shape)
            std = np.asarray(targets["std"], np.float64).reshape(m_hat.shape)
        per_dim = []
        for k in range(m_hat.shape[1]):
            mh, y = m_hat[:, k], gold[:, k]
            res = {"ccc_m": metrics.ccc(mh, y), "rmse": metrics.rmse(mh, y)}
            if has_s:
                sh, s = s_hat[:, k], std[:, k]
                shf, sf = np.maximum(sh, S_FLOOR), np.maximum(s, S_FLOOR)
                res.update({
                    "ccc_s": metrics.ccc(sh, s),
                    "kl": jnp.mean(metrics.gaussian_kl(y, sf, mh, shf)),
                    "nll": jnp.mean(metrics.gaussian_nll(y, mh, shf)),
                    "crps": jnp.mean(metrics.crps_gaussian(y, mh, shf)),
                    "coverage_90": metrics.interval_coverage(y, mh, sh, 0.9),
                })
                if "ratings" in targets:
                    r = np.asarray(targets["ratings"], np.float64)[:, k, :]
                    res["coverage_90_ratings"] = metrics.interval_coverage(
                        np.nan_to_num(r), mh[:, None], sh[:, None], 0.9, mask=np.isfinite(r))
                if "item" in targets:
                    res["r_s_within"] = _mean_within_r(sh, s, np.asarray(targets["item"]))
            per_dim.append({name: float(v) for name, v in res.items()})
        dims = [self.dims[k] if k < len(self.dims) else str(k) for k in range(len(per_dim))]
        return per_dimension(dims, per_dim)
