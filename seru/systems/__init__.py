"""One module per published system: the glue of model, losses and Monte Carlo.

A system implements :class:`seru.systems.base.System`; the trainer knows
systems only through that interface. ``get_system(config)`` picks one by
``config.system``.
"""

from __future__ import annotations

import importlib

SYSTEMS = {
    "prabhu22": "seru.systems.prabhu22:Prabhu22",
    "sridhar21": "seru.systems.sridhar21:Sridhar21",
}


def get_system(config):
    name = config.system
    if name not in SYSTEMS:
        raise ValueError(f"unknown system {name!r}; known: {', '.join(sorted(SYSTEMS))}")
    module, cls = SYSTEMS[name].split(":")
    return getattr(importlib.import_module(module), cls)(config)
