"""The boundaries in force now, kept by each worker until they can change.

Which versions are in force changes only when a version is published, retired or edited (heard on
the change feed, ``geo_service.db.changes``) or when a published version's start comes round
(known in advance: the earliest start still to come). Until then every request asking for "now"
gets the kept answer without reading ``boundary_versions``; a request for another moment reads
it as before (:func:`geo_service.boundaries.versions.in_force`).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo_service.boundaries.versions import InForce, in_force
from geo_service.db.changes import Kept, feed_for

NEXT_START = text("""
    SELECT min(effective_from) FROM boundary_versions WHERE status = 'published' AND effective_from > :at
""")

_kept = Kept("boundaries", size=64)  # one entry per database


def in_force_now(connection: Connection, now: datetime) -> InForce:
    """``in_force(connection, now)`` for the present moment ``now`` (aware), kept until a change."""
    feed = feed_for(connection.engine)
    found, generation = _kept.get(feed, feed.key, now)
    if found is None:
        found = in_force(connection, now)
        until = connection.execute(NEXT_START, {"at": now}).scalar()
        _kept.put(feed.key, generation, found, until)
    return found
