"""Corpora, label targets, features and the input pipeline of seru.

``data/`` knows no model and no training loop (the README, "Architecture", says which way
the imports run).
"""
