"""Errors of the data layer that callers handle by kind."""


class UnknownSplit(ValueError):
    """A split that the corpus or dataset does not have; the message lists the ones it has."""
