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

from sqlalchemy.engine import Connection, Engine

from geo_service.boundaries.versions import VersionInForce, published_version
from geo_service.db.changes import Kept, feed_for


class PublishedVersions:
    """The published versions of one database that tiles have asked for, by their ids."""

    def __init__(self, engine: Engine) -> None:
        self._feed = feed_for(engine)
        self._kept = Kept("boundaries", size=1024)  # the sets of versions maps pin

    def known(self, ids: list[int]) -> list[VersionInForce] | None:
        """The versions ``ids`` if they are kept and still valid, else None; reads no table."""
        return self._kept.get(self._feed, tuple(ids))[0]

    def read(self, connection: Connection, ids: list[int]) -> list[VersionInForce]:
        """The versions ``ids``: kept, else read (NotFound naming an id no published version has)
        and kept."""
        found, generation = self._kept.get(self._feed, tuple(ids))
        if found is None:
            found = [published_version(connection, i) for i in ids]
            self._kept.put(tuple(ids), generation, found)
        return found
