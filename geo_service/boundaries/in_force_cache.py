"""The boundaries in force now, kept by each worker until they can change.

Which versions are in force changes only when a version is published, retired or edited (heard on
the change feed, ``geo_service.db.changes``) or when a published version's start comes round
(known in advance: the earliest start still to come). Until then every request asking for "now"
gets the kept answer without reading ``boundary_versions``; a request for another moment reads
it as before (:func:`geo_service.boundaries.versions.in_force`).
"""

from __future__ import annotations

import threading
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo_service.boundaries.versions import InForce, in_force
from geo_service.db.changes import feed_for

NEXT_START = text("""
    SELECT min(effective_from) FROM boundary_versions WHERE status = 'published' AND effective_from > :at
""")

_kept: dict[str, tuple[tuple, datetime | None, InForce]] = {}
_lock = threading.Lock()


def in_force_now(connection: Connection, now: datetime) -> InForce:
    """``in_force(connection, now)`` for the present moment ``now`` (aware), kept until a change."""
    engine = connection.engine
    feed = feed_for(engine)
    generation = feed.generation("boundaries")
    if generation is None:
        return in_force(connection, now)
    key = feed.key
    with _lock:
        entry = _kept.get(key)
    if entry is not None and entry[0] == generation and (entry[1] is None or now < entry[1]):
        return entry[2]
    found = in_force(connection, now)
    until = connection.execute(NEXT_START, {"at": now}).scalar()
    with _lock:
        _kept[key] = (generation, until, found)
    return found


def forget() -> None:
    """Drop what is kept (between tests that rebuild a database under the same URL)."""
    with _lock:
        _kept.clear()
