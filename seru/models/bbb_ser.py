"""The end-to-end BBB model of prabhu22 (Fig. 1): deterministic trunk + stochastic head.

* trunk: :class:`seru.models.extractors.Extractor` (conv + 2 x LSTM 256), run once.
* head: :class:`BBBHead`, BBB layers ``256 -> 512 -> 256 -> out`` with PReLU
  between them (linear output), one output vector per 40 ms frame.

The head's weights are drawn once per window of ``b`` frames of each
sequence (prabhu22 Sec. 3.2, b = 50), as in the authors' model: it flattens
the batch to ``[B*T, F]`` rows and draws fresh weights for every 50-row chunk,
i.e. per (sequence, window). The window bookkeeping (the ``(pass, window)``
grid, keys, chunking) lives in ``seru/mc.py``; the head offers three pure
pieces it composes:

* :meth:`BBBHead.prepare` -- the deterministic part, once for all passes:
  the features themselves (``faithful``, ``batch_shared``), or the first
  layer's per-frame pre-activation mean and std (``local``,
  ``local_window``: its input, the trunk's output, is deterministic);
* :meth:`BBBHead.window` -- one stochastic pass over one window (a slice of
  ``prepare``'s output) with one key; returns the outputs and, for the
  weight-drawing samplers, ``log q(w) - log P(w)`` of its draws;
* :meth:`BBBHead.mean` -- the posterior-mean pass (``m_hat`` of prabhu22 Sec. 3.2).

Samplers (config ``model.sampler`` / ``model.eval_sampler``):

* ``"faithful"`` -- the authors' draw structure and the reference: every
  weight drawn per (pass, window, sequence); sequence ``s`` of a window uses
  the key ``fold_in(window key, s)``.
* ``"batch_shared"`` -- every weight drawn per (pass, window), shared by the
  ``B`` sequences of the batch: the same per-frame (and within-sequence)
  distribution at ``1 / B`` of the draws, but the sequences of one batch are
  correlated.
* ``"local"`` -- local reparameterisation: pre-activations drawn per frame
  from ``N(x mu, x^2 sigma^2)``; same per-frame marginals, the first layer's
  moments computed once; the complexity term is the closed-form KL
  (Gaussian prior only).
* ``"local_window"`` -- as ``local`` but one noise vector per layer per
  (pass, window), broadcast over the window's frames (and the batch): each
  frame's pre-activation is still exactly ``N(x mu, x^2 sigma^2)`` given its
  input, so per-frame marginals are those of the faithful sampler, at one
  normal per unit per window. Frames of a window are correlated, though not
  with the faithful covariance.
* ``"local_pass"`` -- the first layer as ``local_window``; every later layer's
  weights drawn once per pass, shared by all windows and sequences
  (``batch_shared`` with one window per pass): one product per later layer
  instead of the two of its mean and variance, and a handful of normals per
  pass. Each frame's output still has exactly the faithful marginal (its
  first pre-activation is exact given the features, and the later weights are
  one draw from ``q`` independent of it); frames of different windows share
  the later draws. Run over whole sequences (:data:`PASS_SAMPLERS`): the
  head draws the first layer's noise per window of ``window`` frames itself.

Every quantity prabhu22 computes from the passes (m_hat, s_hat, the label KL,
the likelihood term, the metrics) depends only on per-frame marginals (the
passes are independent in every sampler), so the four samplers estimate the
same things; they differ in MC variance and cost.
"""

from __future__ import annotations

import dataclasses

from typing import Sequence

import jax
import jax.numpy as jnp
import flax.linen as nn

from seru.models.bayes import BayesDense, Prior, local_sample, materialised, window_sample
from seru.models.extractors import Extractor

SAMPLERS = ("faithful", "batch_shared", "local", "local_window", "local_pass")
#: The sampler with the authors' draw structure (per (pass, window, sequence)).
AUTHORS_SAMPLER = "faithful"
#: Samplers that draw the weights themselves (any prior; sampled complexity term).
WEIGHT_SAMPLERS = ("faithful", "batch_shared")
#: Samplers whose draws are per pass: :meth:`BBBHead.window` takes whole sequences.
PASS_SAMPLERS = ("local_pass",)


class BBBHead(nn.Module):
    """BBB MLP ``in -> hidden... -> out`` with PReLU (prabhu22 Sec. 3.1, uncertainty layer)."""

    in_features: int
    out_features: int
    hidden: Sequence[int] = (512, 256)
    sampler: str = "faithful"
    prior: Prior = Prior()
    rho_init: tuple = (-3.0, -2.0)
    window_frames: int = 50

    def setup(self):
        if self.sampler not in SAMPLERS:
            raise ValueError(f"unknown sampler {self.sampler!r}; expected one of {SAMPLERS}")
        if self.sampler not in WEIGHT_SAMPLERS and self.prior.kind != "gaussian":
            raise ValueError(
                f"sampler {self.sampler!r} uses the closed-form KL and needs prior 'gaussian'; "
                f"got prior {self.prior.kind!r} (use one of {WEIGHT_SAMPLERS})")
        sizes = (self.in_features, *self.hidden, self.out_features)
        self.layers = [BayesDense(a, b, rho_init=tuple(self.rho_init))
                       for a, b in zip(sizes[:-1], sizes[1:])]
        # PyTorch's PReLU default slope 0.25 (the authors' model).
        self.acts = [nn.PReLU(negative_slope_init=0.25) for _ in self.hidden]

    def __call__(self, x):
        return self.mean(x)

    def mean(self, x):
        """The head with posterior-mean weights mu_w (``m_hat``, prabhu22 Sec. 3.2)."""
        for i, layer in enumerate(self.layers):
            x = layer.mean(x)
            if i < len(self.acts):
                x = self.acts[i](x)
        return x

    def prepare(self, x):
        """Deterministic per-frame cache shared by all passes (leaves ``[B, T, ...]``)."""
        if self.sampler in WEIGHT_SAMPLERS:
            return {"x": x}
        mean, var = self.layers[0].moments(x)
        return {"mean": mean, "std": jnp.sqrt(var)}

    def pass_draws(self, key):
        """``local_pass``: the later layers' weight draws of the pass with ``key``.

        A tuple of ``(w, b)`` per layer after the first (:meth:`BayesDense.draw`),
        exactly those :meth:`window` draws with the same key. Raises
        ``ValueError`` for another sampler.
        """
        if self.sampler not in PASS_SAMPLERS:
            raise ValueError(f"pass_draws is for the samplers {PASS_SAMPLERS}, "
                             f"not {self.sampler!r}")
        keys = jax.random.split(key, len(self.layers))
        draws = [layer.draw(k) for layer, k in zip(self.layers[1:], keys[1:])]
        # The bias, added to every frame, is stored once (evaluation n = 30 on 5 x 300
        # frames: 87 against 96 ms with its normals recomputed for each frame).
        return tuple((w, materialised(b)) for w, b in draws)

    def window(self, cache, key, with_complexity: bool = False):
        """One pass over one window of frames with one key.

        ``cache``: a slice ``[B, b, ...]`` of :meth:`prepare`'s output.
        Returns ``(y [B, b, out], c)``. ``faithful``: one weight draw per layer
        for each sequence of the window; ``batch_shared``: one for the whole
        window. ``c = sum_layers log q(w|theta) - log P(w)`` of the draw
        (averaged over the sequences' draws; one window's term of Eq. (6) of
        prabhu22) if ``with_complexity`` else 0. Local samplers: per-frame
        pre-activations (:func:`seru.models.bayes.local_sample`;
        ``local_window``: noise shared in the window), ``c = 0`` (use :meth:`kl`).
        ``local_pass``: ``cache`` is whole sequences ``[B, T, ...]``; the first
        layer's noise is drawn per window of ``window_frames`` frames, every
        later layer's weights once (:meth:`pass_draws`; ``c = 0``).
        """
        keys = jax.random.split(key, len(self.layers))
        if self.sampler in WEIGHT_SAMPLERS:
            x, total = cache["x"], 0.0
            prior = self.prior if with_complexity else None
            per_sequence = self.sampler == "faithful"
            for i, layer in enumerate(self.layers):
                x, c = layer.sample(x, keys[i], prior, per_sequence)
                total = total + c
                if i < len(self.acts):
                    x = self.acts[i](x)
            return x, jnp.asarray(total, x.dtype)
        if self.sampler in PASS_SAMPLERS:
            x = window_sample(cache["mean"], cache["std"], keys[0], self.window_frames)
            for act, (w, b) in zip(self.acts, self.pass_draws(key)):
                x = act(x) @ w + b
            return x, jnp.zeros((), x.dtype)
        shared = self.sampler == "local_window"
        x = local_sample(cache["mean"], cache["std"], keys[0], shared)
        for i, layer in enumerate(self.layers[1:], start=1):
            x = self.acts[i - 1](x)
            mean, var = layer.moments(x)
            x = local_sample(mean, jnp.sqrt(var), keys[i], shared)
        return x, jnp.zeros((), x.dtype)

    def kl(self):
        """Closed-form KL(q || P) of every head weight (Eq. (5) of prabhu22, Gaussian prior)."""
        if self.prior.kind != "gaussian":
            raise ValueError(f"closed-form KL needs prior 'gaussian', got {self.prior.kind!r}")
        return sum(layer.kl(self.prior.sigma) for layer in self.layers)


class BBBSER(nn.Module):
    """prabhu22's model: :class:`Extractor` trunk + :class:`BBBHead`.

    ``extractor`` is the trunk (default: the paper's conv front end + 2 x
    LSTM 256; its parameters live under ``extractor``). Use through
    ``apply(..., method=...)``: ``trunk(audio, train)`` ->
    ``[B, T, extractor.lstm_size]``; ``head_mean``, ``head_prepare``, ``head_window``,
    ``head_kl`` as in :class:`BBBHead`. ``__call__`` (used by ``init``) is the
    deterministic posterior-mean model.
    """

    out_features: int = 1
    extractor: Extractor = dataclasses.field(default_factory=Extractor)
    hidden: Sequence[int] = (512, 256)
    sampler: str = "faithful"
    prior: Prior = Prior()
    rho_init: tuple = (-3.0, -2.0)
    window_frames: int = 50

    def setup(self):
        self.head = BBBHead(self.extractor.lstm_size, self.out_features, tuple(self.hidden),
                            self.sampler, self.prior, tuple(self.rho_init), self.window_frames)

    def __call__(self, audio, train: bool = False):
        return self.head.mean(self.trunk(audio, train))

    def trunk(self, audio, train: bool = False):
        return self.extractor(audio, train)

    def head_mean(self, features):
        return self.head.mean(features)

    def head_prepare(self, features):
        return self.head.prepare(features)

    def head_window(self, cache, key, with_complexity: bool = False):
        return self.head.window(cache, key, with_complexity)

    def head_kl(self):
        return self.head.kl()
