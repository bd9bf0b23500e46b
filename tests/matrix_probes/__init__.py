"""Probes of the jurisdiction matrix kept beside the features they probe: each module here exports
``PROBES`` ({name: (check, [routes])}, as in ``test_jurisdiction_matrix``) and may export
``NO_PLACE_DATA`` (routes that hold nothing of a place); the matrix gathers them all."""

from __future__ import annotations

import importlib
import pkgutil


def gathered() -> tuple[dict, set[str]]:
    probes: dict = {}
    no_place: set[str] = set()
    for module in pkgutil.iter_modules(__path__):
        found = importlib.import_module(f"{__name__}.{module.name}")
        probes.update(getattr(found, "PROBES", {}))
        no_place |= set(getattr(found, "NO_PLACE_DATA", ()))
    return probes, no_place
