"""Errors of the data layer that callers handle by kind."""


class UnknownSplit(ValueError):
    """A split that the corpus or dataset does not have; the message lists the ones it has."""


class CorpusMismatch(ValueError):
    """The config asks a corpus for what it does not have (a class, a dimension); the message
    names the field and lists what the corpus has. The entry points report it in one line."""


class CorpusBuildError(ValueError):
    """A corpus build that stopped (e.g. a split with no usable item: every file unreadable);
    the message gives the cause, the first skipped items with their reasons and the file that
    holds the whole skip list. The entry points report it in one line."""
