"""Synthetic multi-annotator emotion corpora (no real data needed).

The real corpora (RECOLA / AVEC 2016, MSP-Podcast, IEMOCAP) are licensed, so
seru generates stand-ins with the same structure:

* :mod:`.speech` -- a vectorised source-filter speech synthesiser whose
  prosody and voice quality carry arousal, valence, dominance and ambiguity.
* :mod:`.annotators` -- raters with reaction delay, bias, scale, smoothing and
  noise (continuous traces), crowd raters on Likert scales and categorical
  votes (utterances); disagreement grows with the ambiguity latent.
* :mod:`.continuous` -- RECOLA-like 300 s recordings rated every 40 ms.
* :mod:`.utterances` -- MSP-Podcast-like 3-11 s utterances.

Everything is a pure function of a seed: each recording / utterance draws
from its own ``numpy.random.Generator`` (see :func:`.processes.rng_for`), so
records can be generated in any order, in parallel or in chunks.
"""
