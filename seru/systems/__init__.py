"""One module per published system: the glue of model, losses and Monte Carlo.

A system implements :class:`seru.systems.base.System`; the trainer knows
systems only through that interface and picks one by ``config.system``
(a name of :data:`SYSTEMS` or ``module:Class``; see ``seru.config.get_system``). Adding one
is a module here with a ``System`` subclass and a line in :data:`SYSTEMS`.
"""

SYSTEMS = {
    "prabhu22": "seru.systems.prabhu22:Prabhu22",
    "sridhar21": "seru.systems.sridhar21:Sridhar21",
    "han17": "seru.systems.han17:Han17",
    "mitra25": "seru.systems.mitra25:Mitra25",
    "baselines": "seru.systems.baselines:Baselines",
}
