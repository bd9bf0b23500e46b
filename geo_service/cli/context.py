"""What every command starts from: the settings of this process and the engine they name.

The command line is a face: it builds the settings (from ``GEO_SERVICE_*`` and ``.env``) once and
passes them, or the engine, to the library, which never reads the environment itself.
"""

from __future__ import annotations

from sqlalchemy import Engine

from geo_service.db.engine import engine_for
from geo_service.settings import Settings, get_settings


def settings() -> Settings:
    """The settings of this process, read once."""
    return get_settings()


def engine() -> Engine:
    """The engine of the settings' database, in the county's time zone."""
    return engine_for(get_settings())
