"""Config field tables: a default, one line of meaning and the allowed values per field.

The shared fields (``seru.config.FIELDS``), each system's ``MODEL_FIELDS`` and
the input types' options are tables of :class:`Field`; :func:`from_fields`
turns a table into the ``ml_collections.ConfigDict`` an experiment starts
from, and ``seru.config`` validates a config and prints ``--print_config``
from the same tables, so a default is written in one place only. Imports
nothing of seru (any layer may use it).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Iterable

import ml_collections


@dataclasses.dataclass(frozen=True)
class Field:
    """One config field.

    Attributes:
      path: dotted name under its table's root (``'window'``, ``'data.seq_len'``).
      default: the default value; its type is the type every value must have
        (ints are accepted for floats, lists for tuples).
      help: one line of meaning, with the unit and the paper's value where there is one.
      choices: the allowed values, or ``None`` for any value of the default's type.
    """

    path: str
    default: Any
    help: str
    choices: tuple | None = None


def from_fields(fields: Iterable[Field]) -> ml_collections.ConfigDict:
    """The ConfigDict of a field table, nested by the dots of each path, at the defaults."""
    c = ml_collections.ConfigDict()
    for f in fields:
        node = c
        *parents, leaf = f.path.split(".")
        for p in parents:
            if p not in node:
                node[p] = ml_collections.ConfigDict()
            node = node[p]
        node[leaf] = f.default
    return c
