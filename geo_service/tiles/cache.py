"""Tiles of boundary layers kept in memory: drawn once per boundary versions, datum and jurisdiction.

A boundary layer's tile changes only when a county publishes a version, and the tile's address
and key hold every county's version in force, so a kept tile is never stale. Who may see it is
checked before the cache is asked (the role's permission), and the user's jurisdiction is part
of the key: a town's dispatcher never gets the county's tile. The cache is bounded in bytes and
forgets the least recently used tiles first.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable


class TileCache:
    """A least-recently-used map of tile bytes, at most ``max_bytes`` in all."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self.hits = 0
        self.misses = 0
        self._tiles: OrderedDict[Hashable, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> bytes | None:
        with self._lock:
            body = self._tiles.get(key)
            if body is None:
                self.misses += 1
                return None
            self._tiles.move_to_end(key)
            self.hits += 1
            return body

    def put(self, key: Hashable, body: bytes) -> None:
        if len(body) > self.max_bytes // 16:  # one huge tile must not empty the cache
            return
        with self._lock:
            old = self._tiles.pop(key, None)
            if old is not None:
                self.size -= len(old)
            self._tiles[key] = body
            self.size += len(body)
            while self.size > self.max_bytes and self._tiles:
                _, dropped = self._tiles.popitem(last=False)
                self.size -= len(dropped)
