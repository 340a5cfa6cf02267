"""The console's pages, one module per page or workflow (role matrix, explorer, audit...).

Each module adds its routes to the console blueprint (``from governance.console import bp``)
and its templates under ``templates/governance/console/``; every module here is imported when
the console is registered, so a new page needs no edit elsewhere (its nav link is in
``governance/console/nav.py``).
"""
from __future__ import annotations

import importlib
import pkgutil


def load_pages() -> None:
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")
