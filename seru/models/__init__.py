"""Flax modules of seru. Models know no corpus, no loop and no file system."""
