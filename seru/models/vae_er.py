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
vmapped over the Monte Carlo keys (DESIGN.md principle 2):
:func:`mc_predict` (faithful: one latent draw per sample) or
:func:`mc_predict_projected` (the same distribution with half the normals).

With ``variational=False`` the bottleneck is a plain autoencoder code
(``z = mean``, no log-variance, no KL): the "no distributional constraint"
ablation (A in Table III of sridhar21) and the AE of the AE-MCD baseline.

The module knows no corpus, no loop and no file system.
"""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

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
            x = nn.Dropout(self.dropout_rate)(act(x), deterministic=deterministic)
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


def mc_predict(model: VAEER, params, x, rng, num_samples: int):
    """Monte Carlo prediction of sridhar21 Sec. IV-B, evaluation mode.

    The encoder runs once; the latent draw and the ER are ``jax.vmap``-ed over
    ``num_samples`` keys split from ``rng`` (``jax.random.split(rng, n)``).
    For an AE (``variational=False``) all samples coincide.

    Returns a dict with ``soft_logp_samples`` [n, B, bins],
    ``consensus_samples`` [n, B], ``mean``, ``logvar``.
    """
    variables = {"params": params}
    mean, logvar = model.apply(variables, x, True, method=VAEER.encode)
    keys = jax.random.split(rng, num_samples)

    def one(key):
        return model.apply(variables, key, mean, logvar, True,
                           method=VAEER.sample_and_regress)

    return _mc_outputs(jax.vmap(one)(keys), mean, logvar)


def _mc_outputs(out, mean, logvar):
    """The dict both MC predictors return: per-sample ER outputs and the posterior."""
    return {"soft_logp_samples": out["soft_logp"], "consensus_samples": out["consensus"],
            "mean": mean, "logvar": logvar}


def average_soft(soft_logp_samples):
    """The averaged soft-label distribution over MC samples, sridhar21 Sec. IV-B.

    ``p_bar = (1/n) sum_i p_i``, computed as ``exp(logsumexp_i log p_i - log n)``.
    """
    n = soft_logp_samples.shape[0]
    return jnp.exp(jax.scipy.special.logsumexp(soft_logp_samples, axis=0) - jnp.log(n))


def mc_predict_projected(model: VAEER, params, x, rng, num_samples: int, jitter: float = 1e-6):
    """:func:`mc_predict` with the latent draw projected onto the ER's first layer.

    The ER's first pre-activation ``a = W^T z + b`` of ``z ~ N(mu, diag(sigma^2))``
    (Eq. (4) of sridhar21) is exactly ``N(W^T mu + b, W^T diag(sigma^2) W)``;
    it is drawn directly through the Cholesky factor of that covariance
    (computed once per utterance), which needs ``h`` normals per sample
    instead of the ``latent_dim`` of :func:`mc_predict` (128 vs 256 with the
    paper's sizes) and a ``h x h`` instead of a ``latent x h`` product. The
    ER's outputs have the same distribution as with :func:`mc_predict`, not
    the same draws (``tests/models/test_vae_er.py`` compares the two within
    MC error). Exact when ``h <= latent_dim`` (full-rank covariance; a
    relative ``jitter`` guards the factorisation); otherwise, or for an AE,
    this falls back to :func:`mc_predict`. Measured on the 2-core CPU it is
    not faster (see ``benchmarks/inference_time.py``).
    """
    w = params["regressor"]["mlp"]["dense_0"]["kernel"]
    h = w.shape[1]
    if not model.variational or h > model.latent_dim:
        return mc_predict(model, params, x, rng, num_samples)
    variables = {"params": params}
    mean, logvar = model.apply(variables, x, True, method=VAEER.encode)
    m1 = mean @ w + params["regressor"]["mlp"]["dense_0"]["bias"]
    cov = jnp.einsum("lh,bl,lk->bhk", w, jnp.exp(logvar), w)
    scale = jnp.mean(jnp.diagonal(cov, axis1=-2, axis2=-1), axis=-1)[:, None, None]
    chol = jnp.linalg.cholesky(cov + jitter * scale * jnp.eye(h, dtype=cov.dtype))
    keys = jax.random.split(rng, num_samples)

    def one(key):
        eps = jax.random.normal(key, m1.shape, m1.dtype)
        a = m1 + jnp.einsum("bhk,bk->bh", chol, eps)
        return model.apply(variables, a, method=VAEER.regress_preactivation)

    return _mc_outputs(jax.vmap(one)(keys), mean, logvar)
