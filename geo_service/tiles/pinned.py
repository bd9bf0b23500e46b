"""Published boundary versions by id, kept by each worker for the tiles that pin them.

Every address a map draws tiles from pins the boundary versions (TileJSON and the style write
``version=`` into it), so each tile request names its versions by id. A published version's
contents never change (a version is published once, and only drafts are retired), so what a tile
needs of it, its id and creation time (``VersionInForce.cache_key``), can be kept; it is read
again only when the boundaries may have changed in a way no id shows (a database reloaded under
the same address), which the change feed (``geo_service.db.changes``) tells. Where changes cannot
be heard nothing is kept and every request reads ``boundary_versions``, as it did before.
"""

from __future__ import annotations

import threading

from sqlalchemy.engine import Connection, Engine

from geo_service.boundaries.versions import VersionInForce, published_version
from geo_service.db.changes import feed_for

TOPIC = "boundaries"


class PublishedVersions:
    """The published versions of one database that tiles have asked for, by id."""

    def __init__(self, engine: Engine) -> None:
        self._feed = feed_for(engine)
        self._generation: tuple | None = None
        self._known: dict[int, VersionInForce] = {}
        self._lock = threading.Lock()

    def known(self, ids: list[int], generation: tuple | None = None) -> list[VersionInForce] | None:
        """The versions ``ids`` if every one is kept and still valid, else None; reads no table."""
        generation = generation or self._feed.generation(TOPIC)
        if generation is None:
            return None
        with self._lock:
            if generation != self._generation:
                self._known.clear()
                self._generation = generation
                return None
            found = [self._known.get(i) for i in ids]
        return None if None in found else found  # type: ignore[return-value]

    def read(self, connection: Connection, ids: list[int]) -> list[VersionInForce]:
        """The versions ``ids``: kept, else read (NotFound naming an id no published version has)
        and kept under the generation seen before reading, so that a change during the read
        makes them stale at once."""
        generation = self._feed.generation(TOPIC)
        found = self.known(ids, generation) if generation is not None else None
        if found is not None:
            return found
        found = [published_version(connection, i) for i in ids]
        if generation is not None:
            with self._lock:
                if generation == self._generation:
                    self._known.update((v.id, v) for v in found)
        return found
