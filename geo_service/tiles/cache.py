"""Tiles of boundary layers kept in memory: drawn once per boundary versions, datum and jurisdiction.

A boundary layer's tile changes only when a county publishes a version, and the tile's address
and key hold every county's version in force, so a kept tile is never stale. Who may see it is
checked before the cache is asked (the role's permission), and the user's jurisdiction (its code,
department and the digest of its area) is part of the key: a town's dispatcher never gets the
county's tile. The cache is bounded in bytes and forgets the least recently used tiles first.

A kept tile holds its validator and, once a client that accepts gzip has asked for it, its gzip
encoding too, so that serving it again costs neither a query nor a hash nor a compression.
"""

from __future__ import annotations

import gzip
import threading
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass, field

# Fast and within a few per cent of level 9 on vector tiles, which are small.
GZIP_LEVEL = 6


@dataclass
class KeptTile:
    """A tile's bytes and ETag, and its gzip encoding once made (kept with it)."""

    body: bytes
    etag: str
    _gzipped: bytes | None = field(default=None, repr=False)

    @property
    def gzipped(self) -> bytes:
        """The body gzip-encoded (made on first use; ``mtime=0`` so that it is the same every time)."""
        if self._gzipped is None:
            self._gzipped = gzip.compress(self.body, compresslevel=GZIP_LEVEL, mtime=0)
        return self._gzipped

    @property
    def size(self) -> int:
        """Bytes it holds: the body, and the gzip encoding counted as large as the body before it
        is made, so that making it never pushes the cache over its bound."""
        return 2 * len(self.body) + 64


class TileCache:
    """A least-recently-used map of kept tiles, at most ``max_bytes`` in all."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self.hits = 0
        self.misses = 0
        self._tiles: OrderedDict[Hashable, KeptTile] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> KeptTile | None:
        with self._lock:
            kept = self._tiles.get(key)
            if kept is None:
                self.misses += 1
                return None
            self._tiles.move_to_end(key)
            self.hits += 1
            return kept

    def put(self, key: Hashable, kept: KeptTile) -> None:
        if kept.size > self.max_bytes // 16:  # one huge tile must not empty the cache
            return
        with self._lock:
            old = self._tiles.pop(key, None)
            if old is not None:
                self.size -= old.size
            self._tiles[key] = kept
            self.size += kept.size
            while self.size > self.max_bytes and self._tiles:
                _, dropped = self._tiles.popitem(last=False)
                self.size -= dropped.size
