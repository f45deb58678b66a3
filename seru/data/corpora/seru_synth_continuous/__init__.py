"""``seru_synth_continuous``: a synthetic RECOLA / AVEC 2016-like corpus (see builder.py)."""
