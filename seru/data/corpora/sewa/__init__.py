"""SEWA (AVEC 2017 affect sub-challenge package), read from the manual directory."""
