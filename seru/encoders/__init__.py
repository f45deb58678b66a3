"""Speech encoders whose every layer feeds mitra25's encoder-layer input.

* :mod:`seru.encoders.base`: the :class:`Encoder` interface (``layer_outputs(audio, sr)
  -> [L + 1, T, H]``).
* :mod:`seru.encoders.ssl`: seru's own small HuBERT-style encoder (JAX), pre-trained
  offline on a corpus' unlabeled pool and cached in the data directory.
* :mod:`seru.encoders.hf`: a local Hugging Face directory (HuBERT, WavLM, Whisper
  encoder) through PyTorch ``transformers`` (optional extra, imported lazily).
* :mod:`seru.encoders.layer_cache`: per-utterance, per-layer cache of the outputs
  (frame sequences for the TC-GRU, utterance means for CCS).
* :mod:`seru.encoders.diagnostics`: what each layer encodes (ridge R^2 and CCS per layer).

Integration (not done here): the package is self-contained; an encoder-layer input
type (``seru.data.inputs.register``) and the mitra25 system use it. Importing this
package imports neither JAX nor PyTorch.
"""

from seru.encoders.base import Encoder

__all__ = ["Encoder"]
