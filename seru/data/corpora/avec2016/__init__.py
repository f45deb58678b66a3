"""AVEC 2016 (RECOLA) emotion sub-challenge, read from the manual directory."""
