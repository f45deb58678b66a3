"""The interface every speech encoder of seru offers: :class:`Encoder`.

An encoder maps one mono utterance to the outputs of **all** its layers,
``[L + 1, T, H]`` float32 (numpy): index 0 is the layer before the first
transformer block (the input projection / embedding), ``1 .. L`` the output
of each transformer block, as Hugging Face's ``output_hidden_states=True``
orders them. ``T`` frames at ``frame_hop_s`` (20 ms for every encoder here).

Implemented by :class:`seru.encoders.ssl.SSLEncoder` (seru's own offline
encoder, JAX) and :class:`seru.encoders.hf.HFEncoder` (a local Hugging Face
directory through PyTorch ``transformers``, optional). The per-layer cache of
:mod:`seru.encoders.layer_cache` and CCS layer saliency
(:func:`seru.saliency.layer_saliencies`, mitra25 Eqs. (1)-(3)) take any of them.

Integration (not done here): the ``seru.encoders`` package is self-contained;
an input type for encoder layers (``seru.data.inputs.register``) and the
mitra25 system are wired to it elsewhere. ``tests/test_architecture.py`` has no
layer for ``seru.encoders`` yet: it imports ``seru.data`` (the atomic cache, the
MFBF0 front end's settings, the corpus registry) and ``seru.saliency``, and no
model, system or loop, so it sits with ``seru.data`` (layer 1).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

__all__ = ["Encoder"]


@runtime_checkable
class Encoder(Protocol):
    """A frozen speech encoder that returns every layer's frame sequence.

    Attributes:
      name: a short human-readable name (file names, logs), ``[A-Za-z0-9._-]``.
      identity: ``name`` plus a hash of the exact weights (and settings) that
        produce the outputs; two encoders with equal identities give equal
        outputs, so caches key on it (:mod:`seru.encoders.layer_cache`).
      num_layers: L, the number of transformer blocks (outputs are L + 1).
      hidden_size: H, the width of every layer's output.
      frame_hop_s: seconds between output frames (0.02).
    """

    name: str
    identity: str
    num_layers: int
    hidden_size: int
    frame_hop_s: float

    def layer_outputs(self, audio: np.ndarray, sr: int) -> np.ndarray:
        """``[L + 1, T, H]`` float32 outputs of all layers for one mono utterance.

        Args:
          audio: mono waveform ``[samples]``, float in [-1, 1].
          sr: its sample rate in Hz (resampled to 16 kHz when it differs).
        """
        ...
