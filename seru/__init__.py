"""seru: speech emotion recognition under label uncertainty, in JAX/Flax."""

__version__ = "0.1.0"
