"""IEMOCAP, read from the manual directory."""
