"""Utterance-level functional features (the input of sridhar21), cached per split.

Feature sets (``config.data.features.name``)
--------------------------------------------
``'librosa'`` (default, licence-free): 59 low-level descriptors (LLDs) per
10 ms frame (25 ms window at 16 kHz), each summarised over the utterance by 9
functionals, **531 dimensions**. LLDs, in order:

* MFCC 1-13 (from 26 log-mel bands; c0 left out) and their deltas (width 9);
* the 26 log-mel band energies (dB);
* RMS energy of the (unwindowed) 25 ms frame in dBFS, zero-crossing rate,
  spectral centroid, spectral roll-off (85 %), spectral flatness;
* F0 (``librosa.yin``, 60-500 Hz, Hz) and the voicing probability (the maximum
  of the normalised autocorrelation over the F0 lag range, 64 ms frames).

Functionals, in order (:data:`FUNCTIONALS`): mean, standard deviation,
skewness, kurtosis (excess), 1st / 50th / 99th percentile, range (max - min)
and the slope of a least-squares line over time (per second). The F0
functionals are taken over voiced frames only (voicing >= ``voicing_threshold``)
and are 0 when fewer than two frames are voiced. Feature names:
:func:`feature_names`.

``'compare2016'``: the 6,373 ComParE 2016 functionals of openSMILE
(``opensmile`` Python package, an optional extra with a research-only licence:
``pip install seru[opensmile]``), the set sridhar21 Sec. III-B uses.

Frame-level functionals (han17 Sec. 4.1, :mod:`~seru.data.features.frame_functionals`):
the mean and coefficient of variation of the 10 ms LLDs over a 6 s window
centred on every 100 ms frame, cached per recording: 2 x 59 = **118
dimensions** from the ``'librosa'`` LLDs, 2 x 65 = **130** from the ComParE
2016 LLDs.

Caching and scaling
-------------------
Features are extracted once per (corpus, variant, split, feature config) and
cached as ``<cache_dir>/<corpus>-<variant>-<split>-<hash>.npz``, where the hash
covers the feature config, the corpus name/variant/split and
:data:`FEATURES_VERSION` (a changed config is a new file, the old one is never
trusted for it). The file is written to a temporary name and moved into place
with ``os.replace`` (:mod:`seru.data.cache`): an interrupted extraction leaves
no file a later run trusts. The cache also holds each utterance's raw ratings, speaker and gender,
so a re-run never decodes the audio again.

Utterances the extractor cannot use are skipped and counted, never a crash:
``too_short`` (fewer than ``min_frames`` frames), ``silent`` (RMS below
``silence_db`` dBFS), ``extractor_failed`` (an exception or a non-finite
value). Labeled splits further drop ``unrated`` utterances (no rating of any
of ``config.data.dimensions``). :attr:`FunctionalsDataset.skipped` returns the
counts; each skip is logged.

Two views of each feature vector go into a batch, both with statistics of the
*training split only* (``config.data.train_split``, also for the pre-training
pool): ``features`` (z-scored; the network input) and ``recon_target``
(min-max scaled to [0, 1] and clipped: the target of the VAE's sigmoid
output, sridhar21 Sec. IV-C).

Targets (per dimension of ``config.data.dimensions``): ``consensus``, the mean
rating (:func:`seru.data.labels.mean_rating`) mapped linearly from the corpus'
``rating_range`` to [-1, 1] (CCC is unchanged by one affine map applied to
both prediction and target); ``soft``, the histogram of the ratings over
``num_bins`` (7) equal bins spanning ``rating_range``
(:func:`seru.data.labels.soft_labels`, sridhar21 Sec. III-A; a 5-point scale
is spread over the same 7 bins). ``label_mask`` is 1 where a dimension has at
least one rating.

Modules
-------
``config``        :data:`DEFAULTS`, :func:`feature_config`, :class:`SkipUtterance`;
``stats``         :func:`functionals`, :data:`FUNCTIONALS`, :func:`feature_names`;
``librosa_llds``  :func:`extract_librosa` (the ``'librosa'`` set), :func:`librosa_lld_matrix`;
``compare2016``   :func:`extract_compare2016`, :func:`compare2016_lld_matrix` (openSMILE);
``frame_functionals`` :func:`lld_frames`, :func:`frame_functionals`,
                  :func:`cached_frame_functionals` (per recording, on :mod:`seru.data.cache`);
``extraction``    :func:`extract`, :func:`extract_split`, :func:`cached_features`
                  (on :mod:`seru.data.cache`);
``targets``       :func:`utterance_targets`, :func:`assemble_split`;
``dataset``       :class:`Scaler`, :class:`FunctionalsDataset`;
``build``         :func:`open_corpus`, :func:`split_arrays`, :func:`build_dataset`.

Every public name is re-exported here: use ``features.X``.
"""

from __future__ import annotations

from seru.data.features.config import (DEFAULTS, EXTRACTION_KEYS, FEATURE_SETS, SAMPLE_RATE,
                                       SKIP_REASONS, SkipUtterance, feature_config)
from seru.data.features.stats import FUNCTIONALS, feature_names, functionals, lld_names
from seru.data.features.librosa_llds import extract_librosa, librosa_lld_matrix
from seru.data.features.compare2016 import (NUM_COMPARE_LLDS, compare2016_lld_matrix,
                                            extract_compare2016)
from seru.data.features.frame_functionals import (CV_LIMIT, FRAME_FUNCTIONALS,
                                                  FRAME_FUNCTIONALS_VERSION,
                                                  cached_frame_functionals, frame_cache_key,
                                                  frame_cache_path, frame_functional_names,
                                                  frame_functionals, frame_functionals_resize,
                                                  lld_frame_names, lld_frames, lld_hop_seconds,
                                                  num_output_frames, ratio_limit, window_bounds)
from seru.data.features.extraction import (EXTRACTORS, FEATURES_VERSION, cache_key, cache_path,
                                           cached_features, extract, extract_split,
                                           skip_counts)
from seru.data.features.targets import assemble_split, utterance_targets
from seru.data.features.dataset import FunctionalsDataset, Scaler
from seru.data.features.build import OpenCorpus, build_dataset, open_corpus, split_arrays

__all__ = [
    "DEFAULTS", "EXTRACTION_KEYS", "FEATURE_SETS", "SAMPLE_RATE", "SKIP_REASONS",
    "SkipUtterance", "feature_config",
    "FUNCTIONALS", "feature_names", "functionals", "lld_names",
    "extract_librosa", "extract_compare2016", "librosa_lld_matrix", "compare2016_lld_matrix",
    "NUM_COMPARE_LLDS",
    "CV_LIMIT", "FRAME_FUNCTIONALS", "FRAME_FUNCTIONALS_VERSION", "cached_frame_functionals",
    "frame_cache_key", "frame_cache_path", "frame_functional_names", "frame_functionals",
    "frame_functionals_resize", "lld_frame_names", "lld_frames", "lld_hop_seconds",
    "num_output_frames", "ratio_limit", "window_bounds",
    "EXTRACTORS", "FEATURES_VERSION", "cache_key", "cache_path", "cached_features", "extract",
    "extract_split", "skip_counts",
    "assemble_split", "utterance_targets",
    "FunctionalsDataset", "Scaler",
    "OpenCorpus", "build_dataset", "open_corpus", "split_arrays",
]
