"""Corpora, label targets, features and the input pipeline of seru.

``data/`` knows no model and no training loop (see DESIGN.md, "Which way the
imports run").
"""
