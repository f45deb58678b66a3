"""VAE with an emotional regressor (ER) at its bottleneck: the model of sridhar21.

sridhar21 Sec. IV (Fig. 1): an utterance-level functional feature vector ``x``
goes through an encoder ``q_phi(z|x)`` (diagonal Gaussian, mean and
log-variance), a latent ``z`` is drawn with the reparameterisation trick
(Eq. (4)), and the same ``z`` feeds

* the decoder ``p_theta(x|z)`` (tanh hidden layers, sigmoid output: the
  reconstruction target is the feature vector min-max scaled to [0, 1], see
  :mod:`seru.data.features`), and
* the ER (tanh hidden layers) with two heads: a 7-way softmax over the
  soft-label bins and a linear consensus output.

Layer sizes. sridhar21 Sec. IV-C says "three dense layers with 512 nodes" for
the encoder/decoder and "four dense layers with 128 nodes" for the ER, and
Sec. V-F gives the parameter count, 7,519,341 for a 6,373-d input. That count
is met exactly by two hidden layers of 512 plus the latent layer (mean and
log-variance of 256) in the encoder, two hidden layers of 512 plus the output
layer in the decoder, and three hidden layers of 128 plus the two heads in the
ER; so these are the defaults here (the third "layer" of each is the latent /
output layer, the fourth of the ER its heads). The literal reading is one
override away (``encoder_hidden=(512,) * 3`` ...). ``tests/models/test_vae_er.py``
checks the count.

Dropout (rate 0.5, 0.7 for valence, Sec. IV-C) follows every hidden layer of
the VAE and the ER; it is off in evaluation, so the encoder is deterministic
there and runs once per batch, while the latent sample and the ER are
vmapped over the Monte Carlo keys (trunk once, heads many). The Monte Carlo
itself is in :mod:`seru.mc` (``latent_passes``: one latent draw per sample;
``projected_latent_passes``: the same distribution with half the normals);
:func:`inference_fns` gives it the model's evaluation-mode apply functions.

With ``variational=False`` the bottleneck is a plain autoencoder code
(``z = mean``, no log-variance, no KL): the "no distributional constraint"
ablation (A in Table III of sridhar21) and the AE of the AE-MCD baseline.

The module knows no corpus, no loop and no file system.
"""

from __future__ import annotations

from typing import Callable, NamedTuple, Sequence

import flax.linen as nn
import jax

from seru import sampling
from seru.losses import reparameterize


class MLP(nn.Module):
    """Dense layers with an activation and dropout after each."""

    features: Sequence[int]
    activation: str = "relu"
    dropout_rate: float = 0.5

    @nn.compact
    def __call__(self, x, deterministic: bool = True, preactivated: bool = False):
        """``preactivated``: ``x`` is already the first layer's pre-activation."""
        act = getattr(nn, self.activation)
        for i, width in enumerate(self.features):
            if not (preactivated and i == 0):
                x = nn.Dense(width, name=f"dense_{i}")(x)
            x = act(x)
            if not deterministic and self.dropout_rate > 0:
                # seru.sampling's masks from bits (the rng stream "dropout", as nn.Dropout)
                x = sampling.dropout(self.make_rng("dropout"), x, self.dropout_rate)
        return x


class Encoder(nn.Module):
    """``q_phi(z|x)``: ReLU hidden layers, then the latent mean and log-variance.

    sridhar21 Sec. IV-C. Returns ``(mean, logvar)``; ``logvar`` is ``None``
    when ``variational`` is False (plain autoencoder code).
    """

    hidden: Sequence[int] = (512, 512)
    latent_dim: int = 256
    dropout_rate: float = 0.5
    variational: bool = True

    @nn.compact
    def __call__(self, x, deterministic: bool = True):
        h = MLP(self.hidden, "relu", self.dropout_rate, name="mlp")(x, deterministic)
        mean = nn.Dense(self.latent_dim, name="mean")(h)
        if not self.variational:
            return mean, None
        logvar = nn.Dense(self.latent_dim, name="logvar")(h)
        return mean, logvar


class Decoder(nn.Module):
    """``p_theta(x|z)``: tanh hidden layers and a sigmoid output (sridhar21 Sec. IV-C).

    Returns the output *logits*; ``jax.nn.sigmoid(logits)`` is the
    reconstruction in [0, 1]. Logits let the Bernoulli NLL be computed stably.
    """

    out_dim: int
    hidden: Sequence[int] = (512, 512)
    dropout_rate: float = 0.5

    @nn.compact
    def __call__(self, z, deterministic: bool = True):
        h = MLP(self.hidden, "tanh", self.dropout_rate, name="mlp")(z, deterministic)
        return nn.Dense(self.out_dim, name="out")(h)


class Regressor(nn.Module):
    """The emotional regressor (ER) of sridhar21 (Sec. IV-C), also the STL/MCD DNN.

    tanh hidden layers, then a 7-way soft-label head (log-probabilities,
    ``log_softmax``) and a linear one-node consensus head. Returns a dict with
    ``soft_logp`` [..., num_bins] and ``consensus`` [...] (heads left out by
    ``heads`` are absent).
    """

    hidden: Sequence[int] = (128, 128, 128)
    num_bins: int = 7
    dropout_rate: float = 0.5
    activation: str = "tanh"
    heads: Sequence[str] = ("soft", "consensus")

    @nn.compact
    def __call__(self, z, deterministic: bool = True, preactivated: bool = False):
        h = MLP(self.hidden, self.activation, self.dropout_rate, name="mlp")(
            z, deterministic, preactivated)
        out = {}
        if "soft" in self.heads:
            out["soft_logp"] = jax.nn.log_softmax(nn.Dense(self.num_bins, name="soft")(h), -1)
        if "consensus" in self.heads:
            out["consensus"] = nn.Dense(1, name="consensus")(h)[..., 0]
        return out


class VAEER(nn.Module):
    """VAE + ER of sridhar21 (Fig. 1). Apply the parts separately through
    ``method=``: :meth:`encode`, :meth:`sample_and_regress`, :meth:`decode`,
    :meth:`regress`; ``__call__`` runs them all (used for ``init`` and training).
    """

    input_dim: int
    encoder_hidden: Sequence[int] = (512, 512)
    decoder_hidden: Sequence[int] = (512, 512)
    latent_dim: int = 256
    er_hidden: Sequence[int] = (128, 128, 128)
    num_bins: int = 7
    dropout_rate: float = 0.5
    variational: bool = True

    def setup(self):
        self.encoder = Encoder(self.encoder_hidden, self.latent_dim, self.dropout_rate,
                               self.variational)
        self.decoder = Decoder(self.input_dim, self.decoder_hidden, self.dropout_rate)
        self.regressor = Regressor(self.er_hidden, self.num_bins, self.dropout_rate)

    def encode(self, x, deterministic: bool = True):
        """``(mean, logvar)`` of ``q_phi(z|x)``; ``logvar`` is None for an AE."""
        return self.encoder(x, deterministic)

    def sample(self, rng, mean, logvar):
        """One latent draw (Eq. (4) of sridhar21); the code itself for an AE."""
        if logvar is None:
            return mean
        return reparameterize(rng, mean, logvar)

    def decode(self, z, deterministic: bool = True):
        """Reconstruction logits of the decoder."""
        return self.decoder(z, deterministic)

    def regress(self, z, deterministic: bool = True):
        """The ER heads on a latent ``z``."""
        return self.regressor(z, deterministic)

    def regress_preactivation(self, a):
        """The ER (evaluation mode) from its first layer's pre-activation ``a``."""
        return self.regressor(a, True, preactivated=True)

    def sample_and_regress(self, rng, mean, logvar, deterministic: bool = True):
        """Latent draw + ER: the stochastic part that is vmapped over MC keys."""
        return self.regress(self.sample(rng, mean, logvar), deterministic)

    def __call__(self, x, rng, deterministic: bool = True):
        """Encoder, one latent draw with ``rng``, decoder and ER.

        Returns a dict: ``mean``, ``logvar`` (absent for an AE), ``z``,
        ``recon_logits``, ``soft_logp``, ``consensus``.
        """
        mean, logvar = self.encode(x, deterministic)
        z = self.sample(rng, mean, logvar)
        out = dict(self.regress(z, deterministic))
        out.update(mean=mean, z=z, recon_logits=self.decode(z, deterministic))
        if logvar is not None:
            out["logvar"] = logvar
        return out


class InferenceFns(NamedTuple):
    """Evaluation-mode (dropout off) apply functions of a :class:`VAEER`.

    * ``encode(x [B, F]) -> (mean [B, L], logvar [B, L] or None)``: ``q_phi(z|x)``.
    * ``sample_and_regress(key, (mean, logvar)) -> heads``: one latent draw
      (Eq. (4) of sridhar21) and the ER, ``soft_logp`` [B, bins] and
      ``consensus`` [B].
    * ``er_first_layer``: ``(kernel [L, h], bias [h])`` of the ER's first layer.
    * ``regress_preactivation(a [B, h]) -> heads``: the ER from that layer's
      pre-activation.
    """

    encode: Callable
    sample_and_regress: Callable
    er_first_layer: tuple
    regress_preactivation: Callable


def inference_fns(model: VAEER, params) -> InferenceFns:
    """The :class:`InferenceFns` of ``model`` with parameters ``params`` (the
    ``"params"`` collection), e.g. for ``seru.mc.latent_passes`` (sridhar21
    Sec. IV-B)."""
    variables = {"params": params}
    dense_0 = params["regressor"]["mlp"]["dense_0"]
    return InferenceFns(
        encode=lambda x: model.apply(variables, x, True, method=VAEER.encode),
        sample_and_regress=lambda key, posterior: model.apply(
            variables, key, *posterior, True, method=VAEER.sample_and_regress),
        er_first_layer=(dense_0["kernel"], dense_0["bias"]),
        regress_preactivation=lambda a: model.apply(variables, a,
                                                    method=VAEER.regress_preactivation))
