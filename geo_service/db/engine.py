"""Engines for the service's database, one per URL, zone and process."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, create_engine

from geo_service.settings import Settings
from geo_service.times import DEFAULT_ZONE

# One process per request: a count over a county's cases run by three processes at once takes the
# cores the other requests are waiting for (bench/bench_mixed.py: lookups and lists served 25% and
# 54% more under the mixed load without it, the lookups' p99 lower).
NO_PARALLEL_QUERY = "max_parallel_workers_per_gather=0"

_engines: dict[tuple[str, str], Engine] = {}
_lock = threading.Lock()


def get_engine(url: str, *, timezone: str = DEFAULT_ZONE) -> Engine:
    """The engine for ``url`` whose sessions speak the county's ``timezone``."""
    with _lock:
        engine = _engines.get((url, timezone))
        if engine is None:
            # pool_pre_ping lets the service ride out a database restart without a restart of its own;
            # the session time zone makes every timestamp come back in the county's time.
            engine = _engines[(url, timezone)] = create_engine(
                url,
                pool_pre_ping=True,
                pool_size=10,
                max_overflow=10,
                connect_args={"options": f"-c timezone={timezone} -c {NO_PARALLEL_QUERY}"},
            )
        return engine


@contextmanager
def each_statement_alone(engine: Engine) -> Iterator[Connection]:
    """A pooled connection on which each statement commits by itself: for a request that reads
    and writes nothing that must stand or fall with something else (a lookup and the entry of
    what it read). No BEGIN before and no COMMIT after: two round trips fewer.

    (SQLAlchemy's ``isolation_level="AUTOCOMMIT"`` would save them only to spend one again:
    psycopg2 sends a SET when the connection's isolation level is put back.)"""
    with engine.connect() as connection:
        driver = connection.connection.dbapi_connection
        driver.autocommit = True
        try:
            yield connection
        finally:
            if not driver.closed:  # a connection lost on the way is discarded by the pool as it is
                driver.autocommit = False


_names: weakref.WeakKeyDictionary[Engine, str] = weakref.WeakKeyDictionary()


def database_name(connection: Connection) -> str:
    """The connection's database as a string, for the keys of what a process keeps from it
    (made once per engine: a URL renders and quotes itself each time it is asked)."""
    engine = connection.engine
    name = _names.get(engine)
    if name is None:
        name = _names[engine] = str(engine.url)
    return name


def engine_for(settings: Settings) -> Engine:
    """The engine of ``settings``' database, in its county's time zone."""
    return get_engine(settings.database.url, timezone=settings.place.timezone)


def dispose_engines() -> None:
    """Close every pooled connection and forget the engines (at shutdown, or between tests), and
    the connections listening for changes (``geo_service.db.changes``)."""
    from geo_service.db.changes import close_feeds

    close_feeds()
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()
