"""Bayes-by-Backprop (BBB) dense layers, prabhu22 Sec. 3.2 (after Blundell et al. 2015).

Every weight (and bias) has the variational posterior
``q(w | theta) = N(mu, sigma)``, ``sigma = softplus(rho)``, initialised with
``mu ~ U[-0.1, 0.1]`` and ``rho ~ U[-3, -2]`` (prabhu22 Sec. 4.3). The prior
``P(w)`` is ``N(0, prior_sigma)`` (the paper's N(0, 1)) or Blundell et al.'s
scale mixture ``pi N(0, sigma1) + (1 - pi) N(0, sigma2)`` (sigmas used as
given, not through softplus as in the authors' released code).

A :class:`BayesDense` offers three ways to apply it:

* :meth:`BayesDense.mean` -- the posterior means ``mu`` (prabhu22 Sec. 3.2:
  the prediction ``m_hat`` uses them).
* :meth:`BayesDense.sample` -- draw ``w ~ q`` with a key and return ``x w + b``
  together with ``log q(w) - log P(w)`` of that draw (one term of Eq. (6) of
  prabhu22): one draw shared by all of ``x``, or (``per_sequence``) one draw
  per sequence of a ``[B, b, in]`` window, as the authors' model does.
* :meth:`BayesDense.moments` -- the per-example Gaussian of the pre-activation
  ``N(x mu_W + mu_b, x^2 sigma_W^2 + sigma_b^2)`` for *local
  reparameterisation* (Kingma, Salimans & Welling 2015); :func:`local_sample`
  draws from it. Per example (per frame) this is exactly the distribution of
  ``x w + b`` under ``w ~ q``, so a frame's predictive marginal is unchanged;
  only the correlation between frames that shared a weight draw is lost.
* :meth:`BayesDense.kl` -- the closed-form ``KL(q || P)`` for the Gaussian prior.

Windows of ``b`` frames that share a draw are handled one level up
(``seru/models/bbb_ser.py``, ``seru/mc.py``): a layer only sees a key.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import flax.linen as nn
from jax.ad_checkpoint import checkpoint_name

from seru import losses, sampling

PRIORS = ("gaussian", "mixture")
#: The name (``jax.ad_checkpoint.checkpoint_name``) of :meth:`BayesDense.draw`'s normals: a
#: checkpointed pass can keep them for its backward pass
#: (``jax.checkpoint_policies.save_only_these_names``) instead of drawing them again.
WEIGHT_NORMALS = "bbb_weight_normals"


@dataclasses.dataclass(frozen=True)
class Prior:
    """The weight prior P(w) of Eq. (6) of prabhu22.

    ``kind="gaussian"``: N(0, sigma) (the paper: sigma = 1).
    ``kind="mixture"``: pi N(0, sigma1) + (1 - pi) N(0, sigma2) (Blundell et al. Eq. (7)).
    """

    kind: str = "gaussian"
    sigma: float = 1.0
    pi: float = 0.5
    sigma1: float = 1.0
    sigma2: float = 0.0025

    def __post_init__(self):
        if self.kind not in PRIORS:
            raise ValueError(f"unknown prior {self.kind!r}; expected one of {PRIORS}")

    def log_prob(self, w):
        """``log P(w)`` summed over all elements (Eq. (6) of prabhu22)."""
        if self.kind == "gaussian":
            return losses.bbb_log_prior_gaussian(w, self.sigma)
        return losses.bbb_log_prior_mixture(w, self.pi, self.sigma1, self.sigma2)


def uniform_init(low: float, high: float):
    """Initializer drawing U[low, high) (prabhu22 Sec. 4.3: mu in [-0.1, 0.1], rho in [-3, -2])."""

    def init(key, shape, dtype=jnp.float32):
        return jax.random.uniform(key, shape, dtype, low, high)

    return init


def materialised(x):
    """``x`` (any shape and float dtype) itself, computed once and stored before its consumers.

    A small draw broadcast over many rows (one noise vector per window) would
    otherwise be fused into each consumer and the whole cipher and Box-Muller rerun
    for every element it is broadcast to (e.g. 250 times per normal for a window of
    50 frames of 5 sequences). XLA on CPU drops optimization barriers, but it does
    not fuse an expensive producer, a reduction, into a consumer that reads each of its
    elements several times: so ``x`` is written as the maximum over ``[x, -inf]``
    (exactly ``x``, gradient included), as :mod:`seru.sampling` stores its mask words.
    ``local_pass`` also stores its bias draws (:meth:`seru.models.bbb_ser.BBBHead.pass_draws`);
    ``faithful`` and ``batch_shared`` do not: stored, they changed XLA's fusion of the
    weight draws into the products and the faithful evaluation took 865 against 467 ms.
    """
    first = jax.lax.broadcasted_iota(jnp.int32, (2, *x.shape), 0) == 0
    return jnp.max(jnp.where(first, x[None], -jnp.inf), axis=0)


def local_sample(mean, std, key, shared: bool = False):
    """Draw pre-activations ``mean + std * eps``, ``eps ~ N(0, I)`` (local reparameterisation).

    With ``mean`` and ``std = sqrt(var)`` from :meth:`BayesDense.moments`
    (shapes ``[..., out]``) this has, per example, the distribution of
    ``x w + b`` with ``w ~ q`` of prabhu22 Sec. 3.2, at one normal per output
    unit instead of one per weight. ``shared=True`` draws one ``eps`` per
    output unit and broadcasts it over all leading axes (frames of a window,
    sequences): each row still gets an exact ``N(mean, var)`` -- so per-frame
    marginals are unchanged -- at one normal per unit per window. Returns an
    array of ``mean``'s shape.
    """
    if not shared:
        return mean + std * sampling.normal(key, mean.shape, mean.dtype)
    return mean + std * materialised(sampling.normal(key, mean.shape[-1:], mean.dtype))


def window_sample(mean, std, key, window: int):
    """:func:`local_sample` with one noise vector per window of ``window`` frames.

    ``mean``, ``std``: ``[B, T, out]``; the noise ``eps [ceil(T / window), out]``
    is shared by the frames of a window and the ``B`` sequences (``local_sample``
    with ``shared=True`` applied window by window, from one key). Returns
    ``[B, T, out]``; each row is exactly ``N(mean, std^2)``. Raises
    ``ValueError`` if ``mean`` is not 3-D or ``window < 1``.
    """
    if mean.ndim != 3 or window < 1:
        raise ValueError(f"window_sample needs mean [B, T, out] and window >= 1, got shape "
                         f"{mean.shape}, window {window}")
    t = mean.shape[1]
    eps = materialised(sampling.normal(key, (-(-t // window), mean.shape[-1]), mean.dtype))
    return mean + std * jnp.repeat(eps, window, axis=0)[:t]


class BayesDense(nn.Module):
    """Dense layer with a factorised Gaussian weight posterior (prabhu22 Sec. 3.2)."""

    in_features: int
    features: int
    mu_init: tuple = (-0.1, 0.1)
    rho_init: tuple = (-3.0, -2.0)

    def setup(self):
        shape = (self.in_features, self.features)
        self.w_mu = self.param("w_mu", uniform_init(*self.mu_init), shape)
        self.w_rho = self.param("w_rho", uniform_init(*self.rho_init), shape)
        self.b_mu = self.param("b_mu", uniform_init(*self.mu_init), (self.features,))
        self.b_rho = self.param("b_rho", uniform_init(*self.rho_init), (self.features,))

    def _params(self, in_features: int):
        if in_features != self.in_features:
            raise ValueError(
                f"BayesDense expects {self.in_features} input features, got {in_features}")
        return self.w_mu, self.w_rho, self.b_mu, self.b_rho

    def __call__(self, x):
        return self.mean(x)

    def mean(self, x):
        """``x mu_W + mu_b``: the layer with its posterior-mean weights."""
        w_mu, _, b_mu, _ = self._params(x.shape[-1])
        return x @ w_mu + b_mu

    def sample(self, x, key, prior: Prior | None = None, per_sequence: bool = False):
        """Draw ``w = mu + softplus(rho) eps`` and apply it: ``(x w + b, log q(w|theta) - log P(w))``.

        ``per_sequence=False``: one draw shared by every row of ``x`` (any
        shape ``[..., in]``). ``per_sequence=True``: ``x`` is ``[B, b, in]``
        (a window of ``b`` frames of ``B`` sequences) and sequence ``s`` gets
        its own draw, with the key ``fold_in(key, s)`` (so its draw does not
        depend on the batch size): the authors' model, which flattens the batch
        and draws fresh weights for each 50-frame chunk, i.e. per (sequence,
        window). The second output is a scalar, one term of the sum in Eq. (6)
        of prabhu22 (averaged over the ``B`` draws with ``per_sequence``); it is
        0 when ``prior`` is None (evaluation, where it is not needed).
        Raises ``ValueError`` for a wrong input width or, with
        ``per_sequence``, an ``x`` that is not 3-D.
        """
        w_mu, w_rho, b_mu, b_rho = self._params(x.shape[-1])
        if per_sequence:
            if x.ndim != 3:
                raise ValueError(f"per_sequence draws need x [B, b, in], got shape {x.shape}")
            kw, kb = jax.random.split(key)
            seqs = jnp.arange(x.shape[0])
            keys_w = jax.vmap(lambda s: jax.random.fold_in(kw, s))(seqs)
            keys_b = jax.vmap(lambda s: jax.random.fold_in(kb, s))(seqs)
            eps_w = jax.vmap(lambda k: sampling.normal(k, w_mu.shape, w_mu.dtype))(keys_w)
            eps_b = jax.vmap(lambda k: sampling.normal(k, b_mu.shape, b_mu.dtype))(keys_b)
            w = w_mu + losses.softplus_sigma(w_rho) * eps_w
            b = b_mu + losses.softplus_sigma(b_rho) * eps_b
            y = jnp.einsum("sti,sio->sto", x, w) + b[:, None, :]
        else:
            w, b = self.draw(key)
            y = x @ w + b
        if prior is None:
            return y, jnp.zeros((), y.dtype)
        complexity = (losses.bbb_log_q(w, w_mu, w_rho) + losses.bbb_log_q(b, b_mu, b_rho)
                      - prior.log_prob(w) - prior.log_prob(b))
        draws = x.shape[0] if per_sequence else 1
        return y, complexity / draws

    def draw(self, key):
        """One draw ``(w [in, out], b [out])`` from ``q(w | theta)``: ``mu + softplus(rho) eps``.

        prabhu22 Sec. 3.2. The draw :meth:`sample` applies (without
        ``per_sequence``) with the same key: ``key`` is split into the weights'
        and the bias's keys, normals from :func:`seru.sampling.normal`, named
        :data:`WEIGHT_NORMALS`.
        """
        w_mu, w_rho, b_mu, b_rho = self._params(self.in_features)
        kw, kb = jax.random.split(key)
        eps_w = checkpoint_name(sampling.normal(kw, w_mu.shape, w_mu.dtype), WEIGHT_NORMALS)
        eps_b = checkpoint_name(sampling.normal(kb, b_mu.shape, b_mu.dtype), WEIGHT_NORMALS)
        w = w_mu + losses.softplus_sigma(w_rho) * eps_w
        b = b_mu + losses.softplus_sigma(b_rho) * eps_b
        return w, b

    def moments(self, x):
        """Mean and variance of ``x w + b`` under ``q`` for each row of ``x``.

        ``E = x mu_W + mu_b`` and ``Var = x^2 sigma_W^2 + sigma_b^2`` (elementwise
        square of x): local reparameterisation of the BBB layer of prabhu22
        Sec. 3.2 (Kingma et al. 2015, Eq. (6)).
        """
        w_mu, w_rho, b_mu, b_rho = self._params(x.shape[-1])
        mean = x @ w_mu + b_mu
        var = (x * x) @ jnp.square(losses.softplus_sigma(w_rho)) + jnp.square(
            losses.softplus_sigma(b_rho))
        return mean, var

    def kl(self, prior_sigma: float = 1.0):
        """Closed-form ``KL(q || N(0, prior_sigma))`` of all weights and biases (Eq. (5) of prabhu22)."""
        w_mu, w_rho, b_mu, b_rho = self._params(self.in_features)
        return (losses.bbb_kl_gaussian(w_mu, w_rho, prior_sigma)
                + losses.bbb_kl_gaussian(b_mu, b_rho, prior_sigma))
