"""mitra25: a multi-task TC-GRU trained on the distribution of the graders' votes
(Mitra, Kowtha, Huang, Joshi, Azemi, Kumar, ICLR workshop 2025).

Per utterance (input type ``utterance_frames``, ``seru/data/utterance_frames.py``): frames
``[B, T, F]`` (MFBF0 or an encoder layer) -> the TC-GRU of ``seru/models/tcgru.py``
(temporal convolution, kernel 3 -> 2 GRU layers of 256 -> a 256-unit embedding) -> a
dimensional head (the D attributes, on the [-1, 1] scale of the mean ratings) and a
categorical head (K logits over ``data.utterance.classes``).

Loss (``config.model``): the CCC loss of Appendix A.1 (Eq. (4): 1 - CCC averaged over the D
attributes; ``seru.losses.ccc_loss``; the constant 1 does not change the gradient) plus
``w_class`` times the cross-entropy of the categorical head against its target
(``optax.softmax_cross_entropy``, which takes a distribution as the label):

* ``target='votes'`` -- the vote PDF over the K classes (Sec. 3: the grader decisions as a
  pdf), on every utterance with a vote for one of them;
* ``target='consensus'`` -- the one-hot plurality class (the baseline), on the utterances
  that have one.

The paper weighs the two terms equally (it states no weight): ``w_class`` = 1.

Prediction is deterministic: ``attributes`` [B, D] and ``probs`` [B, K] (softmax).
``evaluate`` reports ``ccc/<dim>`` and their mean ``ccc`` (attributes with a rating),
``uar`` and ``f1_macro`` of the argmax against the plurality class (utterances with one),
and ``ccc_uar`` = (ccc + uar) / 2, the dev score of model selection and early stopping in
``configs/mitra25_tcgru.py`` (the paper selects "on Valid1.11" without naming the score).
The per-speaker, per-gender, k-best and calibration scores are the ``classes`` evaluator's
(``seru/class_evaluators.py``).
"""

from __future__ import annotations

from typing import Any, Mapping

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from seru import class_metrics, losses, metrics
from seru.fields import Field, from_fields
from seru.models.tcgru import TCGRU
from seru.systems.base import ClassDistribution, Regression, System

TARGETS = ("votes", "consensus")

MODEL_FIELDS = (
    Field("target", "votes", "target of the categorical head: the vote PDF (mitra25) or the "
          "one-hot plurality class (the consensus baseline)", TARGETS),
    Field("w_class", 1.0, "weight of the categorical cross-entropy beside the CCC loss"),
    Field("conv_features", 256, "channels of the temporal convolution (kernel 3)"),
    Field("gru_features", 256, "GRU units per layer (mitra25: 256)"),
    Field("num_gru_layers", 2, "GRU layers (mitra25: 2)"),
    Field("embedding_features", 256, "units of the embedding layer (mitra25: 256)"),
)


def default_model_config() -> ml_collections.ConfigDict:
    """``config.model`` of mitra25 at its defaults (the paper's values)."""
    return from_fields(MODEL_FIELDS)


class Mitra25(System):
    """mitra25 as a :class:`seru.systems.base.System` (see the module docstring)."""

    MODEL_FIELDS = MODEL_FIELDS
    INPUT = "utterance_frames"

    @classmethod
    def check_config(cls, config) -> list[str]:
        m, errors = config.model, []
        if m.w_class < 0:
            errors.append(f"model.w_class={m.w_class}: expected >= 0")
        for name in ("conv_features", "gru_features", "num_gru_layers", "embedding_features"):
            if m[name] < 1:
                errors.append(f"model.{name}={m[name]}: expected >= 1")
        return errors

    def __init__(self, config, time_base=None):
        super().__init__(config, time_base)
        m = config.model
        self.dims = tuple(config.data.dimensions)
        self.classes = tuple(config.data.utterance.classes)
        self.model = TCGRU(num_dimensions=len(self.dims), num_classes=len(self.classes),
                           conv_features=int(m.conv_features), gru_features=int(m.gru_features),
                           num_gru_layers=int(m.num_gru_layers),
                           embedding_features=int(m.embedding_features))

    @property
    def outputs(self):
        """The attributes (no spread) and the distribution over the emotion classes."""
        return (Regression(mean="attributes", spread=None),
                ClassDistribution(probs="probs", classes=self.classes))

    def _apply(self, params, batch):
        return self.model.apply(params, jnp.asarray(batch["features"]),
                                jnp.asarray(batch["lengths"]))

    def init(self, rng, batch):
        return self.model.init({"params": rng}, jnp.asarray(batch["features"]),
                               jnp.asarray(batch["lengths"]))

    def loss(self, params, batch, rng):
        """``(L_ccc + w_class * CE, terms)``; rows with ``mask`` 0 (padding) never count."""
        out = self._apply(params, batch)
        row = jnp.asarray(batch["mask"], jnp.float32)
        l_ccc = losses.ccc_loss(out["dimensional"], jnp.asarray(batch["attributes"]),
                                mask=jnp.asarray(batch["attr_mask"]) * row[:, None])
        if self.config.model.target == "votes":
            label, valid = batch["votes_pdf"], batch["class_mask"]
        else:
            label, valid = batch["consensus"], batch["has_label"]
        w = jnp.asarray(valid, jnp.float32) * row
        ce_rows = optax.softmax_cross_entropy(out["logits"], jnp.asarray(label))
        ce = jnp.sum(w * ce_rows) / jnp.maximum(jnp.sum(w), 1.0)
        return l_ccc + self.config.model.w_class * ce, {"loss_ccc": l_ccc, "cross_entropy": ce}

    def predict(self, params, batch, rng, num_samples=None):
        """Deterministic (``rng`` and ``num_samples`` are unused)."""
        out = self._apply(params, batch)
        return {"attributes": out["dimensional"], "probs": jax.nn.softmax(out["logits"], -1)}

    def evaluate(self, predictions: Mapping[str, Any], targets: Mapping[str, Any]) -> dict:
        """CCC per attribute over the rated rows (population moments, ``seru.metrics.ccc``),
        their mean; UAR (``seru.metrics.uar``) and macro-F1 (``seru.class_metrics``) of the
        argmax over the rows with a plurality class; ``ccc_uar``. ``[N, ...]`` numpy rows."""
        out = {}
        x = np.asarray(predictions["attributes"], np.float64)
        y = np.asarray(targets["gold"], np.float64)
        has = np.asarray(targets.get("attr_mask", np.ones_like(y))) > 0
        for d, dim in enumerate(self.dims):
            out[f"ccc/{dim}"] = float(metrics.ccc(x[has[:, d], d], y[has[:, d], d]))
        out["ccc"] = float(np.mean([out[f"ccc/{dim}"] for dim in self.dims]))
        label = np.asarray(targets["label"]).astype(np.int64).reshape(-1)
        keep = label >= 0
        pred = np.argmax(np.asarray(predictions["probs"]), -1).reshape(-1)
        k = len(self.classes)
        out["uar"] = float(metrics.uar(label[keep], pred[keep], k)) if keep.any() else np.nan
        out["f1_macro"] = (float(class_metrics.macro_f1(label[keep], pred[keep], k))
                           if keep.any() else np.nan)
        out["ccc_uar"] = (out["ccc"] + out["uar"]) / 2
        return out
