"""The TC-GRU of mitra25 (Sec. 3.1, Fig. 1, Appendix A.8): a multi-task utterance model.

Frame features ``[B, T, F]`` (F = 42 for MFBF0, :mod:`seru.data.features.mfbf0`;
1024 for a HuBERT / WavLM large or Whisper medium layer) ->

1. temporal convolution, kernel 3 over time, ``conv_features`` = 256
   channels, 'SAME' padding, ReLU (``nn.Conv``);
2. two forward GRU layers of 256 units (:class:`seru.models.layers.GRU`);
3. mean over the valid frames of each utterance -> ``[B, 256]``;
4. embedding layer: 256 units, ReLU (``nn.Dense``);
5. two linear heads on the embedding: ``dimensional`` ``[B, D]`` (attributes
   such as activation, valence, dominance; trained with the CCC loss of
   mitra25 Eqs. (4)-(5)) and ``logits`` ``[B, C]`` (categorical emotion;
   softmax cross-entropy against the graders' vote PDF).

What the paper fixes and what we chose. mitra25 gives the kernel size (3),
the two GRU layers of 256, the 256-unit embedding and the total, "1.6M
parameters" with 1024-d foundation-model inputs (A.8). It does not give the
number of convolution channels: 256 is the width that meets the 1.6M total
(1,644,044 parameters with F = 1024, D = 3, C = 9, the nine MSP-Podcast
classes of its vote PDF; 128 channels would give 1.15M, 512 channels 2.63M),
and it equals the GRU width. With MFBF0 inputs (F = 42) the same model has
889,868 parameters; A.8 gives that model's size only in bytes (700 KB against
2.1 MB for the 1.6M-parameter one, i.e. about 0.53M parameters at the same
bytes per parameter), so its widths may have been smaller: its Table 7 is not
in our copy of the paper. Parameter count with flax's ``GRUCell`` (three
input biases and one recurrent bias per layer; PyTorch's cell has six)::

    conv      3 F K + K                      K = conv_features (kernel 3)
    GRU 1     3 K H + 3 H H + 4 H            H = gru_features
    GRU l>1   3 H H + 3 H H + 4 H
    embedding H E + E                        E = embedding_features
    heads     E D + D + E C + C

The text names neither the pooling nor the activations (its Fig. 1, the
architecture drawing, is an image not in our copy): we pool by the mean
over valid frames (the utterance mean the paper itself uses for its layer
saliency, Eq. (1)) after the GRUs, and use ReLU after the convolution and the
embedding. No dropout (the paper states none).

Padding. ``lengths`` [B] (valid frames, ints in [0, T]; clipped) or ``mask``
[B, T] (1 = valid; the valid frames must be a prefix of each row, as the data
pipeline pads) give each utterance's frames; without either every frame is
valid. Padded input frames are set to 0 before the convolution, so the
convolution sees at a valid edge frame exactly the zero padding it sees for
the utterance alone; the GRUs are forward (padding after the last valid frame
never reaches a valid one) and their padded outputs are 0; the mean divides by
the utterance's own length. Hence an utterance's outputs do not depend on how
much padding follows it, nor on its values (not even NaN / inf), nor on the
other utterances of the batch (up to float rounding of batched matmuls). A row
of length 0 pools to zeros (no NaN).

The model is pure: no randomness, no state; ``init`` / ``apply`` only.
Integration (not done here): the mitra25 system builds ``TCGRU(num_dimensions,
num_classes)`` and calls ``apply(params, x, lengths)``.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from seru.models.layers import GRU, _lengths

__all__ = ["TCGRU"]


class TCGRU(nn.Module):
    """mitra25's TC-GRU: ``(x [B, T, F], lengths [B] | mask [B, T] | None) -> dict``.

    Attributes:
      num_dimensions: D, outputs of the dimensional head (>= 1; mitra25: 3,
        activation, valence, dominance).
      num_classes: C, logits of the categorical head (>= 1; mitra25 trains on
        the vote PDF over the 9 MSP-Podcast classes and reports 6).
      conv_features: channels of the temporal convolution (256; module docstring).
      kernel_size: its width in frames (mitra25: 3).
      gru_features: units per GRU layer (mitra25: 256).
      num_gru_layers: GRU layers (mitra25: 2).
      embedding_features: units of the embedding layer (mitra25: 256).

    Call:
      x: float ``[B, T, F]`` frame features (standardised; any F).
      lengths: optional int ``[B]``, valid frames per row (clipped to [0, T]).
      mask: optional ``[B, T]`` (nonzero = valid; a prefix of each row), instead
        of ``lengths``.

    Returns:
      ``{"dimensional": [B, D], "logits": [B, C], "embedding": [B, E]}``, float32
      (the embedding after its ReLU, >= 0; the heads linear, unbounded).

    Raises:
      ValueError: ``x`` not 3-D; both ``lengths`` and ``mask``; their shapes
        not ``[B]`` / ``[B, T]``; a size attribute below 1.
    """

    num_dimensions: int
    num_classes: int
    conv_features: int = 256
    kernel_size: int = 3
    gru_features: int = 256
    num_gru_layers: int = 2
    embedding_features: int = 256

    @nn.compact
    def __call__(self, x, lengths=None, mask=None):
        for name in ("num_dimensions", "num_classes", "conv_features", "kernel_size",
                     "gru_features", "num_gru_layers", "embedding_features"):
            if getattr(self, name) < 1:
                raise ValueError(f"TCGRU: {name} must be >= 1, got {getattr(self, name)}")
        x = jnp.asarray(x)
        lengths = _lengths(x, lengths, mask)  # [B] int32 or None
        if lengths is not None:
            valid = jnp.arange(x.shape[1])[None, :] < lengths[:, None]  # [B, T]
            x = jnp.where(valid[..., None], x, 0.0)
        h = nn.Conv(self.conv_features, kernel_size=(self.kernel_size,), padding="SAME",
                    name="conv")(x)                                          # [B, T, K]
        h = jax.nn.relu(h)
        h = GRU(self.gru_features, self.num_gru_layers, name="gru")(h, lengths)  # [B, T, H]
        if lengths is None:
            pooled = jnp.mean(h, axis=1)
        else:  # padded GRU outputs are 0: the sum over all frames is the valid frames' sum
            n = jnp.maximum(lengths, 1).astype(h.dtype)[:, None]
            pooled = jnp.sum(h, axis=1) / n                                      # [B, H]
        e = jax.nn.relu(nn.Dense(self.embedding_features, name="embedding")(pooled))
        return {"dimensional": nn.Dense(self.num_dimensions, name="dimensional")(e),
                "logits": nn.Dense(self.num_classes, name="categorical")(e),
                "embedding": e}
