"""A connection that cannot read: for answering on the event loop from what the process keeps.

The in-memory caches (:mod:`geo_service.db.changes`) read the database only on a miss. Given a
:class:`KeptOnly` in place of a connection, a miss raises :class:`NotKept` instead of reading, so
a request can try its answer on the event loop first (no thread, no round trip) and, when
something is not kept, be answered again on a thread with a real connection.
"""

from __future__ import annotations

from typing import NoReturn

from sqlalchemy.engine import Engine


class NotKept(Exception):
    """The answer needs the database: it is not all kept in memory."""


class KeptOnly:
    """Stands for a connection to ``engine``'s database in code that reads only on a miss: any
    use but naming its engine raises :class:`NotKept`."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def __getattr__(self, name: str) -> NoReturn:
        raise NotKept(name)
