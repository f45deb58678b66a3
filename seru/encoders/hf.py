"""A pre-trained speech encoder from a local Hugging Face directory (optional: PyTorch).

mitra25 (Sec. 3) takes its representations from HuBERT large, WavLM large and
the Whisper medium encoder, and selects the layer by CCS (Eqs. (1)-(3)). This
module loads such a model from a directory in the Hugging Face layout
(``config.json``, ``model.safetensors`` or ``pytorch_model.bin``, and
normally ``preprocessor_config.json``; nothing is downloaded:
``local_files_only=True``) with PyTorch ``transformers`` and returns every
hidden layer, ``output_hidden_states=True``, as numpy ``[L + 1, T, H]``
float32, the :class:`~seru.encoders.base.Encoder` interface of seru's own
offline encoder. Only the extraction uses PyTorch; training and everything
after it stay in JAX.

Optional extra: ``torch`` and ``transformers`` are imported when an encoder is
loaded, never when this module is imported; without them :func:`load_hf_encoder`
raises ``ImportError`` naming the extra (``seru[hf]``) and the pip command.

Architectures (``config.json``'s ``model_type``):

* ``hubert``, ``wavlm``, ``wav2vec2``, ``data2vec-audio``: raw 16 kHz audio
  through the model's feature extractor (``Wav2Vec2FeatureExtractor``: zero
  mean, unit variance when ``do_normalize``; without a
  ``preprocessor_config.json``, ``do_normalize`` follows HF's convention,
  ``config.feat_extract_norm == "layer"``) -> ``AutoModel``, one utterance per
  call (no padding). ``T`` = the conv feature encoder's output length (about
  ``samples / 320``, 20 ms). ``hidden_states[0]`` is the projected conv
  features + convolutional position embedding; with ``do_stable_layer_norm``
  (the large models) the last entry has the final LayerNorm applied, as
  Hugging Face returns it.
* ``whisper``: the encoder of ``WhisperModel`` (a ``WhisperForConditionalGeneration``
  checkpoint loads too). Whisper only accepts log-mel inputs of exactly
  ``chunk_length`` seconds (30 s), so the audio is cut into chunks of that
  length, each padded by the feature extractor as Whisper was trained, and
  each chunk's outputs are cut to its own frames, ``ceil((samples // hop) / 2)``
  (20 ms, at most ``max_source_positions`` = 1500), then concatenated.
  ``hidden_states[0]`` is the conv stem + sinusoidal positions; the last entry
  has the final LayerNorm applied.

Identity: ``hf-<model_type>-<directory name>-<12 hex of a SHA-256 of the
config, preprocessor and weight files>`` (hashing reads the weights once per
:class:`HFEncoder`: SHA-256 runs at roughly 0.5-1 GB/s, so a few seconds for a
1.2 GB large model); the layer cache keys on it.

Errors: ``FileNotFoundError`` (no directory or no ``config.json``),
``ValueError`` (an unsupported ``model_type``; weights of the encoder missing
from the checkpoint, which would otherwise give randomly initialised
layers), ``ImportError`` (the extra is not installed).

Integration (not done here): the encoder-layer input type builds an encoder with
:func:`load_hf_encoder` when ``config.data.encoder.path`` names a directory.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
from pathlib import Path

import numpy as np

from seru.data.audio import mono_16k
from seru.data.features.config import SAMPLE_RATE, SkipUtterance

log = logging.getLogger(__name__)

__all__ = ["EXTRA", "SUPPORTED", "HFEncoder", "load_hf_encoder", "require_extra"]

#: The optional extra that installs what this module needs.
EXTRA = "hf"
_INSTALL = (f"pip install 'seru[{EXTRA}]'  (or: pip install torch transformers; a CPU-only "
            f"torch: pip install torch --index-url https://download.pytorch.org/whl/cpu)")

#: model_type -> family ("w2v": raw-waveform models, "whisper": the Whisper encoder).
SUPPORTED = {"hubert": "w2v", "wavlm": "w2v", "wav2vec2": "w2v", "data2vec-audio": "w2v",
             "whisper": "whisper"}

_HASHED = ("config.json", "preprocessor_config.json")
_WEIGHTS = re.compile(r".*\.(safetensors|bin)$|.*\.index\.json$")


def require_extra():
    """``(torch, transformers)``; ``ImportError`` naming the extra and the pip command when
    either is missing."""
    try:
        import torch
        import transformers
    except ImportError as e:
        raise ImportError(f"seru.encoders.hf needs the optional '{EXTRA}' extra (PyTorch and "
                          f"Hugging Face transformers), which is not installed ({e}). "
                          f"Install it with: {_INSTALL}") from e
    return torch, transformers


def _fingerprint(path: Path) -> str:
    h = hashlib.sha256()
    files = [p for p in sorted(path.iterdir())
             if p.is_file() and (p.name in _HASHED or _WEIGHTS.match(p.name))]
    for p in files:
        h.update(f"{p.name}|{p.stat().st_size}|".encode())
        with open(p, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()[:12]


class HFEncoder:
    """A Hugging Face speech encoder behind the :class:`~seru.encoders.base.Encoder` interface.

    Build it with :func:`load_hf_encoder`. Attributes: ``path``, ``model_type``,
    ``name``, ``identity`` (computed on first use), ``num_layers`` (L),
    ``hidden_size`` (H), ``frame_hop_s`` (0.02), ``model`` (the torch module, in
    eval mode) and ``feature_extractor``.
    """

    frame_hop_s = 0.02

    def __init__(self, path, model, feature_extractor, model_type: str):
        self.path = Path(path)
        self.model = model
        self.feature_extractor = feature_extractor
        self.model_type = model_type
        self.family = SUPPORTED[model_type]
        cfg = model.config
        self.num_layers = int(cfg.encoder_layers if self.family == "whisper"
                              else cfg.num_hidden_layers)
        self.hidden_size = int(cfg.d_model if self.family == "whisper" else cfg.hidden_size)
        safe = re.sub(r"[^A-Za-z0-9._-]", "_", self.path.resolve().name)
        self.name = f"hf-{model_type}-{safe}"
        self._identity = None

    @property
    def identity(self) -> str:
        """``<name>-<hash of config, preprocessor and weight files>``."""
        if self._identity is None:
            self._identity = f"{self.name}-{_fingerprint(self.path)}"
        return self._identity

    def layer_outputs(self, audio: np.ndarray, sr: int = SAMPLE_RATE) -> np.ndarray:
        """``[L + 1, T, H]`` float32 hidden states of one utterance (module docstring).

        Args:
          audio: mono waveform [samples], float in [-1, 1].
          sr: its sample rate in Hz (:func:`seru.data.audio.mono_16k`: resampled to
            16 kHz with :func:`seru.data.audio.resample` when it differs).

        Raises:
          ValueError: audio that is not 1-d.
          SkipUtterance: ``extractor_failed`` (non-finite samples), ``too_short``
            (no output frame: shorter than the conv receptive field, 400
            samples, for the raw-waveform models; no sample for Whisper).
        """
        import torch

        y = mono_16k(audio, sr)
        with torch.inference_mode():
            out = self._whisper(y) if self.family == "whisper" else self._w2v(y)
        return out

    def _w2v(self, y: np.ndarray) -> np.ndarray:
        import torch

        t = int(self.model._get_feat_extract_output_lengths(torch.tensor(len(y))))
        if t < 1:
            raise SkipUtterance("too_short", f"{len(y)} samples give no frame of "
                                             f"{self.model_type}")
        x = self.feature_extractor(y, sampling_rate=SAMPLE_RATE, return_tensors="pt")
        hs = self.model(x["input_values"], output_hidden_states=True).hidden_states
        return np.stack([h[0].float().numpy() for h in hs]).astype(np.float32)

    def _whisper(self, y: np.ndarray) -> np.ndarray:
        fe = self.feature_extractor
        chunk = int(fe.n_samples)
        if len(y) == 0:
            raise SkipUtterance("too_short", "no samples")
        max_t = int(self.model.config.max_source_positions)
        parts = []
        for s in range(0, len(y), chunk):
            c = y[s: s + chunk]
            x = fe(c, sampling_rate=SAMPLE_RATE, return_tensors="pt")["input_features"]
            hs = self.model(x, output_hidden_states=True).hidden_states
            t = min(max_t, max(1, math.ceil((len(c) // fe.hop_length) / 2)))
            parts.append(np.stack([h[0, :t].float().numpy() for h in hs]))
        return np.concatenate(parts, axis=1).astype(np.float32)


def load_hf_encoder(path) -> HFEncoder:
    """Loads the encoder in the Hugging Face directory ``path`` (CPU, float32, eval mode).

    Args:
      path: a local directory with ``config.json`` and the weights; its
        ``model_type`` one of :data:`SUPPORTED`. A ``preprocessor_config.json``
        is used when present (module docstring for the defaults otherwise).

    Returns:
      :class:`HFEncoder`.

    Raises:
      ImportError: torch / transformers missing (names the ``hf`` extra).
      FileNotFoundError: no directory, or no ``config.json`` in it.
      ValueError: an unsupported ``model_type``; encoder weights missing
        from the checkpoint.
    """
    path = Path(path)
    if not (path / "config.json").is_file():
        raise FileNotFoundError(f"{path}: not a Hugging Face model directory (no config.json)")
    model_type = json.loads((path / "config.json").read_text()).get("model_type")
    if model_type not in SUPPORTED:
        raise ValueError(f"{path}: model_type {model_type!r} is not supported; supported: "
                         f"{', '.join(sorted(SUPPORTED))}")
    _, transformers = require_extra()
    family = SUPPORTED[model_type]
    model, info = transformers.AutoModel.from_pretrained(
        str(path), local_files_only=True, output_loading_info=True)
    missing = [k for k in info.get("missing_keys", ())
               if (family != "whisper" or k.startswith("encoder."))
               and "masked_spec_embed" not in k]
    if missing:
        raise ValueError(f"{path}: the checkpoint lacks {len(missing)} encoder weights "
                         f"(e.g. {sorted(missing)[:3]}): they would be random")
    if family == "whisper":
        model = model.get_encoder()
    model.eval()
    if (path / "preprocessor_config.json").is_file():
        fe = transformers.AutoFeatureExtractor.from_pretrained(str(path), local_files_only=True)
    elif family == "whisper":
        fe = transformers.WhisperFeatureExtractor(feature_size=model.config.num_mel_bins)
    else:
        fe = transformers.Wav2Vec2FeatureExtractor(
            do_normalize=getattr(model.config, "feat_extract_norm", "group") == "layer")
    if getattr(fe, "sampling_rate", SAMPLE_RATE) != SAMPLE_RATE:
        raise ValueError(f"{path}: the feature extractor expects {fe.sampling_rate} Hz, "
                         f"not {SAMPLE_RATE}")
    log.info("loaded %s (%s) from %s", type(model).__name__, model_type, path)
    return HFEncoder(path, model, fe, model_type)
