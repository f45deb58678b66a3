"""sridhar21: VAE + emotional regressor trained with soft labels (Sridhar, Lin, Busso, ACII 2021).

Methods (``config.model.method``):

* ``vae_er`` -- the proposed model (``seru/models/vae_er.py``). Two stages,
  each a run of the shared trainer (``config.model.stage``):

  - ``'pretrain'``: unsupervised, Eq. (2) of sridhar21, on the unlabeled pool
    (``config.data.features.pretrain_split``); Adam 5e-5.
  - ``'joint'``: Eq. (3) of sridhar21 on the labeled training split,
    ``alpha * NLL_VAE + beta * (1 - CCC) + gamma * KLD(soft)`` with
    (alpha, beta, gamma) = (0.5, 0.8, 2); Adam 3e-4; initialised from the
    stage-1 run named by ``config.model.init_from`` (its workdir).

* ``mcd``, ``mcd_soft``, ``mcd_mtl``, ``ae_mcd``, ``stl`` -- the baselines of
  Sec. V (``seru/models/mc_dropout.py``): MC dropout on consensus labels
  (1 - CCC; uncertainty = std over passes), on soft labels (KLD; entropy), on
  both ((1 - CCC) + KLD; entropy); an autoencoder with MC dropout and an ER
  (MSE reconstruction + (1 - CCC) + KLD; entropy; pre-trained like vae_er);
  and the STL regressor (1 - CCC; deterministic) whose predictions the reject
  option filters.

Ablations of Table III: ``distributional_constraint=False`` (A: a plain AE
bottleneck, no KL), ``use_soft_labels=False`` (B: no KLD term; the
uncertainty is then the std of the consensus over latent samples), and
``--config.eval.num_samples=1`` (C: one latent sample).

The VAE's NLL. sridhar21 writes the VAE term as the NLL of Eq. (2) and
calls the KL to the prior N(0, I) the model's "distributional constraint"
(Sec. IV-A and ablation A); here ``NLL_VAE = (sum_features BCE(x01, x_hat) +
vae_kl_weight * KL(q(z|x) || N(0, I))) / num_features``: the negative ELBO
of Eq. (1) (one latent draw, Bernoulli likelihood of the [0, 1]-scaled
features, sigmoid output), per feature so that it is on the scale of the
other terms ("weights such that the losses are in the same scale", Sec.
IV-A). ``vae_kl_weight=0`` gives Eq. (2) read literally.

Batch (``seru/data/features.py``): ``features`` [B, F] (z-scored),
``recon_target`` [B, F] (min-max [0, 1]), ``consensus`` [B, 1] (mean rating
mapped to [-1, 1]), ``soft`` [B, 1, 7], ``label_mask`` [B, 1], ``mask`` [B].
One model per attribute: ``config.data.dimensions`` has one entry.

Prediction (``predict``): ``m_hat`` [B, 1] the consensus prediction (mean
over MC samples), ``s_hat`` [B, 1] the method's uncertainty (entropy of
the averaged soft-label distribution, Sec. IV-B, or the std of the consensus
over dropout passes for ``mcd``), plus ``entropy``, ``consensus_std`` and
``soft`` (the averaged distribution, [B, 1, 7]) where the method has
them. The encoder of ``vae_er`` runs once per batch; the latent draw and the
ER are vmapped over the MC keys; MC dropout vmaps the whole network.

Evaluation (``evaluate``): CCC at coverages 100/80/60/40/20 % rejecting the
most uncertain utterances first (reject option, Fig. 3 and Tables I-III of
sridhar21) and CCC per uncertainty quintile (Fig. 2; ``q1`` = lowest
uncertainty). For the paper's protocol (STL predictions filtered by another
model's uncertainty, or by another attribute's: UTL) call
:func:`paired_reject_option` on the ``predictions.npz`` of two evaluations
(or :func:`reject_option_metrics` on arrays).
"""

from __future__ import annotations

import logging
from typing import Any, Mapping

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from seru import checkpoints, losses, mc, metrics, prediction_files
from seru.fields import Field, from_fields
from seru.models import mc_dropout, vae_er
from seru.systems.base import Regression, System

log = logging.getLogger(__name__)

METHODS = ("vae_er", "mcd", "mcd_soft", "mcd_mtl", "ae_mcd", "stl")
STAGES = ("pretrain", "joint")
COVERAGES = (1.0, 0.8, 0.6, 0.4, 0.2)
#: heads of the MCD DNN per method
_DNN_HEADS = {"mcd": ("consensus",), "mcd_soft": ("soft",), "mcd_mtl": ("consensus", "soft"),
              "stl": ("consensus",)}
#: (nll, ccc, kld) weights when the config leaves them at -1: Eq. (3) of sridhar21 for
#: vae_er, unit weights for the baselines (Sec. V-D: "[(1 - CCC) + KLD]", MSE for the AE).
_PAPER_WEIGHTS = {"vae_er": (0.5, 0.8, 2.0), "ae_mcd": (1.0, 1.0, 1.0), "mcd": (0.0, 1.0, 0.0),
                  "mcd_soft": (0.0, 0.0, 1.0), "mcd_mtl": (0.0, 1.0, 1.0), "stl": (0.0, 1.0, 0.0)}


MODEL_FIELDS = (
    Field("method", "vae_er", "the proposed VAE-ER or a baseline of Sec. V (MC dropout on "
          "consensus / soft labels / both, AE with MC dropout, deterministic STL)", METHODS),
    Field("stage", "joint", "vae_er / ae_mcd: unsupervised pre-training (Eq. (2)) or joint "
          "training (Eq. (3))", STAGES),
    Field("init_from", "", "workdir of the stage-1 run to start from ('' = random init)"),
    Field("init_from_checkpoint", "latest", "which checkpoint of init_from",
          ("latest", "best_train_loss", "best_dev")),
    Field("encoder_hidden", (512, 512), "VAE encoder hidden sizes (paper: 3 x 512 with the "
          "latent layer)"),
    Field("decoder_hidden", (512, 512), "VAE decoder hidden sizes"),
    Field("latent_dim", 256, "VAE latent size (paper: 256)"),
    Field("er_hidden", (128, 128, 128), "emotional regressor hidden sizes (paper: 4 x 128 "
          "with the output layer)"),
    Field("dnn_hidden", (128, 128, 128, 128), "MC-dropout / STL DNN hidden sizes (865,537 "
          "parameters at 6,373-d)"),
    Field("dropout_rate", -1.0, "dropout; < 0: 0.7 for valence, 0.5 otherwise (Sec. IV-C)"),
    Field("nll_weight", -1.0, "alpha of Eq. (3); -1 = the paper's value for the method"),
    Field("ccc_weight", -1.0, "beta of Eq. (3); -1 = the paper's value for the method"),
    Field("kld_weight", -1.0, "gamma of Eq. (3); -1 = the paper's value for the method"),
    Field("vae_kl_weight", 1.0, "weight of KL(q(z|x) || N(0, I)) inside NLL_VAE (the ELBO, "
          "Eq. (1))"),
    Field("train_samples", 1, "latent draws per utterance in a training step"),
    Field("latent_sampler", "faithful", "inference draws: per latent sample, or projected "
          "through the ER's first layer (same distribution, half the normals)",
          ("faithful", "projected")),
    Field("mc_chunk", 20, "MC samples (latent draws or dropout passes; not the projected "
          "sampler's) per chunk at prediction; 0 = all in one vmap. Same draws; 20 was the "
          "fastest of 5-50 at batches of 50 and 256 (vae_er 30.6 -> 21.8 ms per batch of "
          "256, 100 samples)"),
    Field("distributional_constraint", True, "ablation A of Table III: False = a plain AE "
          "bottleneck (no KL)"),
    Field("use_soft_labels", True, "ablation B of Table III: False = no KLD term"),
    Field("ccc_ddof", 0, "CCC variance estimator (0 = population)"),
)


def default_model_config() -> ml_collections.ConfigDict:
    """``config.model`` of sridhar21 at its defaults (the paper's values)."""
    return from_fields(MODEL_FIELDS)


def validate_model_config(m) -> None:
    """Raises ``ValueError`` for a combination of ``config.model`` fields that cannot run."""
    errors = check_model(m)
    if errors:
        raise ValueError("; ".join(errors))


def check_model(m) -> list[str]:
    """The problems of ``config.model`` beyond the field table, one line each."""
    errors = []
    if m.stage == "pretrain" and m.method not in ("vae_er", "ae_mcd"):
        errors.append(f"model.stage='pretrain': exists for vae_er and ae_mcd only, not "
                      f"{m.method!r}")
    if m.train_samples < 1:
        errors.append(f"model.train_samples={m.train_samples}: expected >= 1")
    if m.mc_chunk < 0:
        errors.append(f"model.mc_chunk={m.mc_chunk}: expected >= 1, or 0 for one vmap")
    if not (m.dropout_rate < 0 or 0 <= m.dropout_rate < 1):
        errors.append(f"model.dropout_rate={m.dropout_rate}: expected in [0, 1), or < 0 for "
                      f"the paper's default")
    if m.method == "mcd_soft" and not m.use_soft_labels:
        errors.append("model.use_soft_labels=False: model.method='mcd_soft' needs soft labels")
    return errors


def dropout_for(dimension: str, rate: float) -> float:
    """sridhar21 Sec. IV-C: p = 0.7 for valence, 0.5 for arousal and dominance."""
    if rate >= 0:
        return float(rate)
    return 0.7 if dimension == "valence" else 0.5


# -----------------------------------------------------------------------------
# Loading the stage-1 parameters
# -----------------------------------------------------------------------------


def merge_params(fresh, loaded, where: str = ""):
    """``fresh`` with every leaf that ``loaded`` has at the same path and shape replaced.

    Used to start stage 2 (joint) from stage 1 (pretrain); leaves only one side
    has (e.g. a VAE's log-variance layer for an AE) are kept fresh and logged.
    Raises if nothing matches.
    """
    flat_loaded = {jax.tree_util.keystr(p): v
                   for p, v in jax.tree_util.tree_flatten_with_path(loaded)[0]}
    matched, kept = 0, []

    def pick(path, leaf):
        nonlocal matched
        key = jax.tree_util.keystr(path)
        val = flat_loaded.get(key)
        if val is not None and tuple(np.shape(val)) == tuple(leaf.shape):
            matched += 1
            return jnp.asarray(val, leaf.dtype)
        kept.append(key)
        return leaf

    out = jax.tree_util.tree_map_with_path(pick, fresh)
    if matched == 0:
        raise ValueError(f"model.init_from={where!r}: no parameter matches the model (wrong "
                         f"method, feature set or architecture?)")
    if kept:
        log.warning("init_from %s: %d parameters not in the checkpoint stay random: %s",
                    where, len(kept), kept[:5])
    return out


# -----------------------------------------------------------------------------
# Evaluation helpers (host side, numpy)
# -----------------------------------------------------------------------------


def _np_ccc(x, y, ddof=0):
    return float(metrics.ccc(jnp.asarray(x, jnp.float32), jnp.asarray(y, jnp.float32),
                             ddof=ddof))


def reject_option_metrics(y_true, y_pred, uncertainty, coverages=COVERAGES, num_groups=5,
                          prefix: str = "", ddof: int = 0) -> dict[str, float]:
    """CCC at each coverage, rejecting the most uncertain first, and per uncertainty group.

    sridhar21 Fig. 3 / Tables I-III (``ccc_cov<c>``) and Fig. 2 (``ccc_q<k>``:
    the ``num_groups`` equal-size groups after sorting by uncertainty,
    ``q1`` = lowest). ``y_pred`` may come from another model (the STL
    regressor) and ``uncertainty`` from another attribute (UTL, Sec. V-C).
    """
    y_true, y_pred, u = (np.asarray(a, np.float64).reshape(-1)
                         for a in (y_true, y_pred, uncertainty))
    if not y_true.shape == y_pred.shape == u.shape:
        raise ValueError(f"reject_option_metrics: shapes {y_true.shape}, {y_pred.shape}, "
                         f"{u.shape} differ")
    curve = np.asarray(metrics.reject_curve(jnp.asarray(y_true, jnp.float32),
                                            jnp.asarray(y_pred, jnp.float32),
                                            jnp.asarray(u, jnp.float32), tuple(coverages),
                                            ddof=ddof))
    out = {f"{prefix}ccc": _np_ccc(y_true, y_pred, ddof)}
    for c, v in zip(coverages, curve):
        out[f"{prefix}ccc_cov{int(round(100 * c))}"] = float(v)
    order = np.argsort(u, kind="stable")
    for k, idx in enumerate(np.array_split(order, num_groups), start=1):
        out[f"{prefix}ccc_q{k}"] = _np_ccc(y_true[idx], y_pred[idx], ddof) if len(idx) > 1 \
            else float("nan")
    return out


def paired_reject_option(predictions_npz, uncertainty_npz, coverages=COVERAGES,
                         num_groups=5, ddof: int = 0) -> dict[str, float]:
    """The reject option as sridhar21 runs it (Sec. V-B, V-C, Tables I-II).

    The predictions (``m_hat``) and targets (``target_gold``) come from one
    evaluation (the STL regressor), the uncertainty (``s_hat``) from another
    (the VAE-ER or an MCD baseline; of another attribute for UTL). Both are
    ``predictions.npz`` files written by ``python -m seru.evaluate`` on the
    same split; utterances are matched by id (every id of the first file must
    be in the second).
    """
    pred, unc = prediction_files.read(predictions_npz), prediction_files.read(uncertainty_npz)
    ids = sorted(pred)
    missing = [i for i in ids if i not in unc]
    if missing:
        raise KeyError(f"{uncertainty_npz}: no uncertainty for {len(missing)} utterances of "
                       f"{predictions_npz}, e.g. {missing[:3]}")
    y = np.array([np.asarray(pred[i]["target_gold"]).reshape(-1)[0] for i in ids])
    yhat = np.array([np.asarray(pred[i]["m_hat"]).reshape(-1)[0] for i in ids])
    u = np.array([np.asarray(unc[i]["s_hat"]).reshape(-1)[0] for i in ids])
    return reject_option_metrics(y, yhat, u, coverages, num_groups, ddof=ddof)


# -----------------------------------------------------------------------------
# The system
# -----------------------------------------------------------------------------


class Sridhar21(System):
    """The :class:`seru.systems.base.System` of sridhar21 (all methods, see the module doc)."""

    MODEL_FIELDS = MODEL_FIELDS
    INPUT = "functionals"

    @classmethod
    def check_config(cls, config) -> list[str]:
        errors = check_model(config.model)
        dims = tuple(config.data.dimensions)
        if len(dims) != 1:
            errors.append(f"data.dimensions={dims}: sridhar21 trains one model per attribute; "
                          f"set one of them")
        return errors

    def __init__(self, config, time_base=None):
        super().__init__(config, time_base)
        m = config.model
        validate_model_config(m)
        self.dimension = tuple(config.data.dimensions)[0]
        self.method, self.stage = m.method, m.stage
        self.dropout = dropout_for(self.dimension, m.dropout_rate)
        w = _PAPER_WEIGHTS[self.method]
        self.weights = tuple(float(x) if x >= 0 else d
                             for x, d in zip((m.nll_weight, m.ccc_weight, m.kld_weight), w))
        if not m.use_soft_labels:
            self.weights = (self.weights[0], self.weights[1], 0.0)
        self.vae_kl_weight = float(m.vae_kl_weight)
        self.ddof = int(m.ccc_ddof)
        self.num_bins = int(config.data.features.num_bins)
        self.model = None  # built lazily: the input width comes from the batch

    @property
    def outputs(self):
        """Per utterance: the consensus prediction ``m_hat`` in [-1, 1] and the method's
        uncertainty ``s_hat`` (the entropy of the averaged soft labels in nats, or, for
        ``mcd`` and without soft labels, the std of the consensus over the MC passes)."""
        std = self.method == "mcd" or not self.config.model.use_soft_labels
        return (Regression(spread_name="std" if std else "entropy"),)

    # -- model ------------------------------------------------------------------

    @property
    def generative(self) -> bool:
        return self.method in ("vae_er", "ae_mcd")

    def build_model(self, input_dim: int):
        m = self.config.model
        if self.generative:
            variational = self.method == "vae_er" and bool(m.distributional_constraint)
            return vae_er.VAEER(input_dim=input_dim, encoder_hidden=tuple(m.encoder_hidden),
                                decoder_hidden=tuple(m.decoder_hidden), latent_dim=m.latent_dim,
                                er_hidden=tuple(m.er_hidden), num_bins=self.num_bins,
                                dropout_rate=self.dropout, variational=variational)
        return mc_dropout.MCDNet(hidden=tuple(m.dnn_hidden), num_bins=self.num_bins,
                                 dropout_rate=self.dropout, heads=_DNN_HEADS[self.method])

    def _model(self, batch):
        if self.model is None:
            self.model = self.build_model(int(batch["features"].shape[-1]))
        return self.model

    def init(self, rng, batch):
        model = self._model(batch)
        x = jnp.asarray(batch["features"])
        k_param, k_latent = jax.random.split(rng)
        if self.generative:
            variables = model.init({"params": k_param}, x, k_latent, True)
        else:
            variables = model.init({"params": k_param}, x, True)
        return variables

    def warm_start(self, params):
        """Stage 2 starts from stage 1: the parameters of ``model.init_from``'s
        ``init_from_checkpoint`` replace the fresh ones where path and shape match
        (:func:`merge_params`). Raises ``FileNotFoundError`` if that run has no checkpoint."""
        m = self.config.model
        if not m.init_from:
            return params
        try:
            loaded = checkpoints.load_params(m.init_from, m.init_from_checkpoint)
        except FileNotFoundError as e:
            raise FileNotFoundError(f"model.init_from={m.init_from!r}: {e}; run stage 1 "
                                    f"(model.stage='pretrain') with --workdir {m.init_from} "
                                    f"first") from None
        return merge_params(params, loaded, m.init_from)

    # -- loss -------------------------------------------------------------------

    def _terms(self, out, batch):
        """The supervised terms of Eq. (3): (1 - CCC) and KLD(soft), masked."""
        w = batch["label_mask"][:, 0] * batch["mask"]
        terms = {}
        if "consensus" in out:
            terms["ccc_loss"] = losses.ccc_loss(out["consensus"], batch["consensus"][:, 0],
                                                mask=w)
        if "soft_logp" in out:
            terms["kld"] = losses.soft_label_kld(batch["soft"][:, 0], out["soft_logp"],
                                                 from_logits=True, mask=w)
        return terms

    def _recon_terms(self, out, batch):
        """NLL_VAE per feature (see the module doc), or the AE's MSE for ae_mcd."""
        w = batch["mask"]
        n = jnp.maximum(jnp.sum(w), 1.0)
        target = batch["recon_target"]
        if self.method == "ae_mcd":
            mse = jnp.mean((jax.nn.sigmoid(out["recon_logits"]) - target) ** 2, axis=-1)
            return {"mse": jnp.sum(mse * w) / n}, jnp.sum(mse * w) / n
        bce = losses.reconstruction_nll(target, out["recon_logits"], kind="bernoulli",
                                        from_logits=True)
        terms = {"recon": jnp.sum(bce * w) / n}
        nll = terms["recon"]
        if "logvar" in out:
            kl = losses.vae_kl(out["mean"], out["logvar"])
            terms["vae_kl"] = jnp.sum(kl * w) / n
            nll = nll + self.vae_kl_weight * terms["vae_kl"]
        nll = nll / target.shape[-1]
        terms["nll"] = nll
        return terms, nll

    def loss(self, params, batch, rng):
        """Eq. (2) (stage 'pretrain') or Eq. (3) (stage 'joint') of sridhar21; the
        baselines' losses of Sec. V-D. A scalar mean over the batch and its terms."""
        model = self._model(batch)
        x = batch["features"]
        k_drop, k_latent = jax.random.split(rng)
        a, b, g = self.weights
        if not self.generative:
            out = model.apply(params, x, False, rngs={"dropout": k_drop})
            terms = self._terms(out, batch)
            total = b * terms.get("ccc_loss", 0.0) + g * terms.get("kld", 0.0)
            return total, terms

        n = int(self.config.model.train_samples)

        def one(kd, kl):
            out = model.apply(params, x, kl, False, rngs={"dropout": kd})
            terms, nll = self._recon_terms(out, batch)
            if self.stage == "joint":
                terms.update(self._terms(out, batch))
            return terms, nll

        if n == 1:
            terms, nll = one(k_drop, k_latent)
        else:  # several latent draws per utterance (Sec. IV-B), averaged
            terms, nll = jax.vmap(one)(jax.random.split(k_drop, n),
                                       jax.random.split(k_latent, n))
            terms, nll = jax.tree.map(lambda v: v.mean(0), (terms, nll))
        if self.stage == "pretrain":
            return nll, terms
        total = a * nll + b * terms["ccc_loss"] + g * terms["kld"]
        return total, terms

    # -- prediction -------------------------------------------------------------

    def mc_samples(self, params, batch, rng, num_samples: int) -> dict:
        """The raw MC samples: ``soft_logp_samples`` [n, B, bins] and/or
        ``consensus_samples`` [n, B]; for vae_er also the posterior ``mean`` and
        ``logvar`` [B, latent] (``logvar`` None without the distributional
        constraint). vae_er: encoder once, latent draw + ER vmapped
        (``mc.latent_passes`` / ``mc.projected_latent_passes``, sridhar21 Sec.
        IV-B); MCD: whole network vmapped (``mc.dropout_passes``); stl: one
        deterministic pass. Keys: ``jax.random.split(rng, num_samples)``; the
        samples run ``model.mc_chunk`` at a time (:func:`seru.mc.vmap_chunked`;
        not those of the projected latent sampler)."""
        model = self._model(batch)
        x = batch["features"]
        chunk = int(self.config.model.mc_chunk) or None
        if self.method == "stl":
            out = model.apply(params, x, True)
            return {"consensus_samples": out["consensus"][None]}
        if self.method == "vae_er":
            f = vae_er.inference_fns(model, params["params"])
            if self.config.model.latent_sampler == "projected":
                out, (mean, logvar) = mc.projected_latent_passes(
                    f.encode, f.sample_and_regress, f.er_first_layer, f.regress_preactivation,
                    x, rng, num_samples)  # not chunked: 68 against 91 ms in chunks of 20
            else:
                out, (mean, logvar) = mc.latent_passes(f.encode, f.sample_and_regress, x, rng,
                                                       num_samples, chunk)
            return {"soft_logp_samples": out["soft_logp"], "consensus_samples": out["consensus"],
                    "mean": mean, "logvar": logvar}
        out = mc.dropout_passes(
            lambda key: mc_dropout.forward(model, params["params"], x, key, False), rng,
            num_samples, chunk)
        return {f"{k}_samples": out[k] for k in ("soft_logp", "consensus") if k in out}

    def predict(self, params, batch, rng, num_samples: int) -> dict:
        s = self.mc_samples(params, batch, rng, num_samples)
        out = {}
        if "soft_logp_samples" in s:
            p_bar = mc.average_soft(s["soft_logp_samples"])
            out["soft"] = p_bar
            out["entropy"] = metrics.entropy(p_bar, axis=-1)
        if "consensus_samples" in s:
            c = s["consensus_samples"]
            out["m_hat"] = c.mean(0)
            out["consensus_std"] = c.std(0)
        else:  # soft labels only (mcd_soft): expected value over the bin centres in [-1, 1]
            nb = out["soft"].shape[-1]
            centres = (2.0 * jnp.arange(nb) + 1.0) / nb - 1.0
            out["m_hat"] = out["soft"] @ centres
        if "entropy" in out and self.method != "mcd":
            out["s_hat"] = out["entropy"]
        else:
            out["s_hat"] = out["consensus_std"]
        # [B, ...] -> [B, D=1, ...]: utterance-level rows, no time axis (seru/data/pipeline.py)
        return {k: v[:, None] for k, v in out.items()}

    # -- evaluation -------------------------------------------------------------

    def evaluate(self, predictions: Mapping[str, Any], targets: Mapping[str, Any]) -> dict:
        """CCC at coverages 100/80/60/40/20 % (reject option, sridhar21 Fig. 3, Tables
        I-III) and per uncertainty quintile (Fig. 2); the uncertainty is ``s_hat``.
        Also the Spearman correlation of ``s_hat`` with the raters' std and, where
        both sides have soft labels, the mean KL(target || predicted soft labels)
        (``kld_soft``) and the Spearman correlation of ``s_hat`` with the entropy
        of the target soft labels."""
        import scipy.stats

        y = np.asarray(targets["gold"], np.float64).reshape(-1)
        yhat = np.asarray(predictions["m_hat"], np.float64).reshape(-1)
        u = np.asarray(predictions["s_hat"], np.float64).reshape(-1)
        out = reject_option_metrics(y, yhat, u, ddof=self.ddof)
        if "std" in targets and len(u) > 2 and np.ptp(u) > 0:
            std = np.asarray(targets["std"], np.float64).reshape(-1)
            out["spearman_unc_std"] = float(scipy.stats.spearmanr(u, std).statistic)
        if "soft" in targets and "soft" in predictions:
            t = np.asarray(targets["soft"], np.float64).reshape(len(y), -1)
            p = np.asarray(predictions["soft"], np.float64).reshape(len(y), -1)
            # the soft-label fit: mean KL(target || predicted), the KLD of Eq. (3)
            out["kld_soft"] = float(np.mean(scipy.stats.entropy(t, np.maximum(p, 1e-12),
                                                                axis=-1)))
            h_t = scipy.stats.entropy(t, axis=-1)
            if len(u) > 2 and np.ptp(u) > 0 and np.ptp(h_t) > 0:
                out["spearman_unc_label_entropy"] = float(
                    scipy.stats.spearmanr(u, h_t).statistic)
        return out
