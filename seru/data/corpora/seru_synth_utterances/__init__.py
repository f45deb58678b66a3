"""``seru_synth_utterances``: a synthetic MSP-Podcast-like corpus (see builder.py)."""
