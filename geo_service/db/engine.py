"""Engines for the service's database, one per URL and process."""

from __future__ import annotations

import threading

from sqlalchemy import Engine, create_engine

from geo_service.settings import get_settings

_engines: dict[str, Engine] = {}
_lock = threading.Lock()


def get_engine(url: str | None = None) -> Engine:
    """The engine for ``url``, or for the settings' database when none is given."""
    url = url or get_settings().effective_database_url
    with _lock:
        engine = _engines.get(url)
        if engine is None:
            # pool_pre_ping lets the service ride out a database restart without a restart of its own;
            # the session time zone makes every timestamp come back in the county's time.
            engine = _engines[url] = create_engine(
                url, pool_pre_ping=True, pool_size=10, max_overflow=10,
                connect_args={"options": f"-c timezone={get_settings().timezone}"},
            )
        return engine


def dispose_engines() -> None:
    """Close every pooled connection and forget the engines (at shutdown, or between tests)."""
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()
