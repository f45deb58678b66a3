"""Monte Carlo dropout baselines of sridhar21 (Sec. V-D) and the STL regressor.

All take the same utterance-level functionals as the VAE-ER
(:mod:`seru.models.vae_er`):

* ``mcd``: a DNN trained on consensus labels with (1 - CCC); uncertainty =
  standard deviation of the consensus prediction over dropout passes
  (Sridhar and Busso, ICASSP 2020, ref. [22] of sridhar21).
* ``mcd_soft``: the same DNN trained on soft labels with the KLD; uncertainty =
  entropy of the averaged soft-label prediction.
* ``mcd_mtl``: consensus (1 - CCC) and soft labels (KLD) jointly.
* ``ae_mcd``: an autoencoder (no distributional constraint at the bottleneck)
  with an ER on its code, trained with MSE reconstruction and (1 - CCC) + KLD;
  dropout stays on at inference (the "MCD decoder"; here in every layer, so
  that the ER's predictions vary across passes).
* ``stl``: the single-task regressor whose predictions the reject option
  filters ("a DNN ... similar ... as our ER", Sec. V); deterministic.

The DNN is four hidden tanh layers of 128 (the paper's MCD model has 865,537
parameters on a 6,373-d input, Sec. V-F, which is exactly 4 x 128 hidden units
and one output; ``tests/models/test_mc_dropout.py`` checks it).

MC dropout is stochastic in every layer, so the *whole* network is vmapped
over the pass keys (trunk once, heads many): ``seru.mc.dropout_passes`` over
:func:`forward` with dropout on.
"""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn

from seru.models.vae_er import VAEER, Regressor


class MCDNet(nn.Module):
    """The MCD / STL DNN: :class:`~seru.models.vae_er.Regressor` on the features.

    ``heads`` selects the outputs: ``("consensus",)`` for ``mcd`` and ``stl``,
    ``("soft",)`` for ``mcd_soft``, both for ``mcd_mtl``.
    """

    hidden: Sequence[int] = (128, 128, 128, 128)
    num_bins: int = 7
    dropout_rate: float = 0.5
    heads: Sequence[str] = ("consensus",)

    @nn.compact
    def __call__(self, x, deterministic: bool = True):
        return Regressor(self.hidden, self.num_bins, self.dropout_rate,
                         heads=tuple(self.heads), name="dnn")(x, deterministic)


def ae_mcd(input_dim: int, **kwargs) -> VAEER:
    """The AE-MCD model of sridhar21 Sec. V-D: the VAE-ER layout without the
    distributional constraint (``variational=False``); dropout is kept on at
    inference (``seru.mc.dropout_passes`` over :func:`forward`)."""
    return VAEER(input_dim=input_dim, variational=False, **kwargs)


def forward(model: nn.Module, params, x, rng, deterministic: bool):
    """One pass of an MCD model (``MCDNet`` or AE-MCD) with dropout key ``rng``.

    Returns the dict of heads (``soft_logp``, ``consensus``) plus, for
    AE-MCD, ``recon_logits``.
    """
    variables = {"params": params}
    rngs = {"dropout": rng}
    if isinstance(model, VAEER):
        return model.apply(variables, x, rng, deterministic, rngs=rngs)
    return model.apply(variables, x, deterministic, rngs=rngs)
