"""The record schema every seru corpus shares, so that every method reads every corpus.

Continuous corpora (RECOLA / AVEC 2016, SEWA, ``seru_synth_continuous``)::

    id          text     recording id, e.g. ``train_1``
    speaker     text     speaker id
    audio       float32  [samples], mono, at ``sample_rate`` (the pipeline resamples to 16 kHz)
    sample_rate int32    the corpus rate of ``audio``
    <dim>       float32  [frames, annotators] raw ratings at ``FRAME_HOP_S``; NaN = missing

  optional video (``seru_synth_continuous`` from 1.3.0; ``continuous_features(video_landmarks=49)``)::

    video_landmarks float32 [video_frames, landmarks, 2] facial landmarks (x, y) in pixels of
                            the video frame; all NaN in frames where the face is lost
    video_mask      bool    [video_frames] True where the face was tracked (= landmarks finite)

  Video frames run at the ``video_frame_hop_s`` of ``info.metadata`` (25 fps =
  40 ms in ``seru_synth_continuous``, one video frame per rating frame);
  ``video_landmark_layout`` names the point layout.

Utterance corpora (MSP-Podcast, IEMOCAP, CREMA-D, ``seru_synth_utterances``)::

    id, speaker, audio, sample_rate as above
    gender         text   ``female`` | ``male`` | ``unknown``
    <dim>          float32 [annotators] raw ratings, NaN padded / missing
    emotion_votes  int32   [num_classes] primary-vote counts per class

Per-corpus facts that do not vary per record (class names, rating scale, the
annotator names, which dimensions exist) live in the builder's
``info.metadata`` under the keys of :data:`METADATA_KEYS`.

Synthetic corpora may add a ``hidden`` sub-dict with the generating latents
(true emotion, ambiguity) for analysis only: :func:`visible` strips it, and
no model input or target may be computed from it.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

#: Label frame hop of continuous corpora (AVEC 2016: 40 ms, 7501 frames per 300 s).
FRAME_HOP_S = 0.04

#: The primary emotion classes of MSP-Podcast, in the corpus' own order.
MSP_CLASSES = (
    "neutral", "happy", "angry", "sad", "contempt", "surprise", "fear", "disgust", "other",
)

GENDERS = ("female", "male", "unknown")

#: Keys every builder puts into ``info.metadata``.
METADATA_KEYS = (
    "kind",           # "continuous" | "utterance"
    "dimensions",     # e.g. ["arousal", "valence"]
    "rating_range",   # [low, high] of the rating scale, e.g. [-1, 1] or [1, 7]
    "class_names",    # utterance corpora: the order of emotion_votes; [] otherwise
    "annotators",     # continuous corpora: annotator names in column order; [] otherwise
)

HIDDEN_KEY = "hidden"
#: Optional video keys of continuous corpora (see the module docstring).
VIDEO_LANDMARKS_KEY = "video_landmarks"
VIDEO_MASK_KEY = "video_mask"


def _text():
    import tensorflow_datasets as tfds  # lazily: the model side never loads TFDS

    return tfds.features.Text()


def continuous_features(
    dimensions: Sequence[str], hidden: Sequence[str] = (), video_landmarks: int = 0
) -> tfds.features.FeaturesDict:
    """TFDS features of a continuous (frame-level, multi-annotator) corpus.

    ``video_landmarks`` > 0 adds the video keys (``video_landmarks`` float32
    ``[frames, video_landmarks, 2]``, ``video_mask`` bool ``[frames]``).
    """
    import tensorflow_datasets as tfds  # lazily: the model side never loads TFDS

    feats = {
        "id": _text(),
        "speaker": _text(),
        "audio": tfds.features.Tensor(shape=(None,), dtype=np.float32, encoding="bytes"),
        "sample_rate": tfds.features.Scalar(dtype=np.int32),
    }
    for dim in dimensions:
        feats[dim] = tfds.features.Tensor(
            shape=(None, None), dtype=np.float32, encoding="zlib"
        )
    if video_landmarks:
        feats[VIDEO_LANDMARKS_KEY] = tfds.features.Tensor(
            shape=(None, int(video_landmarks), 2), dtype=np.float32, encoding="zlib"
        )
        feats[VIDEO_MASK_KEY] = tfds.features.Tensor(shape=(None,), dtype=np.bool_)
    if hidden:
        feats[HIDDEN_KEY] = tfds.features.FeaturesDict(
            {h: tfds.features.Tensor(shape=(None,), dtype=np.float32) for h in hidden}
        )
    return tfds.features.FeaturesDict(feats)


def utterance_features(
    dimensions: Sequence[str], num_classes: int, hidden: Mapping[str, tuple] | None = None
) -> tfds.features.FeaturesDict:
    """TFDS features of an utterance-level multi-annotator corpus.

    ``hidden`` maps a latent name to its per-utterance shape (``()`` for a scalar).
    """
    import tensorflow_datasets as tfds  # lazily: the model side never loads TFDS

    feats = {
        "id": _text(),
        "speaker": _text(),
        "gender": _text(),
        "audio": tfds.features.Tensor(shape=(None,), dtype=np.float32, encoding="bytes"),
        "sample_rate": tfds.features.Scalar(dtype=np.int32),
        "emotion_votes": tfds.features.Tensor(shape=(num_classes,), dtype=np.int32),
    }
    for dim in dimensions:
        feats[dim] = tfds.features.Tensor(shape=(None,), dtype=np.float32)
    if hidden:
        feats[HIDDEN_KEY] = tfds.features.FeaturesDict(
            {
                h: tfds.features.Tensor(shape=tuple(s), dtype=np.float32)
                for h, s in hidden.items()
            }
        )
    return tfds.features.FeaturesDict(feats)


def make_metadata(
    kind: str,
    dimensions: Sequence[str],
    rating_range: Sequence[float],
    class_names: Sequence[str] = (),
    annotators: Sequence[str] = (),
    **extra,
) -> tfds.core.MetadataDict:
    """Builds the ``info.metadata`` dict with the keys of :data:`METADATA_KEYS`."""
    import tensorflow_datasets as tfds  # lazily: the model side never loads TFDS

    if kind not in ("continuous", "utterance"):
        raise ValueError(f"kind must be 'continuous' or 'utterance', got {kind!r}")
    return tfds.core.MetadataDict(
        kind=kind,
        dimensions=list(dimensions),
        rating_range=[float(r) for r in rating_range],
        class_names=list(class_names),
        annotators=list(annotators),
        **extra,
    )


def decode_text(value) -> str:
    """TFDS data sources return text as bytes: give it back as str."""
    return value.decode("utf-8") if isinstance(value, (bytes, np.bytes_)) else str(value)


def visible(record: Mapping) -> dict:
    """The record without the hidden latents: what a model may see."""
    return {k: v for k, v in record.items() if k != HIDDEN_KEY}
