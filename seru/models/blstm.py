"""The BLSTM-RNN regressor of han17 (Sec. 3.2 and 4.3).

Frame-level features ``[B, T, F]`` (han17: 130 functionals per 100 ms frame)
-> zero-mean Gaussian noise on the inputs in training (std 0.2) -> two
bidirectional LSTM layers of 240 cells (:class:`seru.models.layers.BLSTM`) ->
one linear output per target ``[B, T, out_features]`` (han17: the emotional
state E and the perception uncertainty sigma of each dimension). Every weight
is drawn from U[-0.1, 0.1] (han17 Sec. 4.3). Single-task models have one
output per dimension; the multi-task loss of Eqs. (7)-(8) weighs the two
outputs (``seru.losses.weighted_mse``).
"""

from __future__ import annotations

import flax.linen as nn
import jax

from seru.models.layers import BLSTM, uniform_inits


class BLSTMRegressor(nn.Module):
    """han17's BLSTM-RNN: ``(x [B, T, F], lengths [B] or None, noise_key) -> [B, T, out]``.

    Attributes:
      out_features: linear outputs per frame (targets x dimensions).
      hidden: LSTM cells per direction and layer (han17: 240).
      num_layers: bidirectional layers (han17: 2).
      input_noise: std of the Gaussian noise added to the (standardised) inputs in
        training (han17: 0.2): ``x + input_noise * normal(noise_key, x.shape)`` when a
        ``noise_key`` is given (training), none without one (evaluation).
      init_range: weights and biases ~ U[-init_range, init_range] (han17: 0.1).

    Padded frames (beyond ``lengths``) give 0 from the recurrent layers and the
    output bias there; the loss masks them.
    """

    out_features: int
    hidden: int = 240
    num_layers: int = 2
    input_noise: float = 0.2
    init_range: float = 0.1

    @nn.compact
    def __call__(self, x, lengths=None, noise_key=None):
        if noise_key is not None and self.input_noise > 0:
            x = x + self.input_noise * jax.random.normal(noise_key, x.shape, x.dtype)
        h = BLSTM(self.hidden, self.num_layers, self.init_range, name="blstm")(x, lengths)
        inits = uniform_inits(self.init_range)
        inits.pop("recurrent_kernel_init", None)
        return nn.Dense(self.out_features, name="out", **inits)(h)
