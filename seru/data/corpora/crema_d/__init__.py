"""CREMA-D, read from the manual directory."""
