"""The principals of tokens already seen, kept by each worker so that a request reads no table to
know who sent it.

A principal is kept until a change to what it was read from (a user revoked or given another
role or jurisdiction, a role's permissions, a department, the boundaries that draw jurisdictions)
is heard on the change feed (``geo_service.db.changes``): the next request then reads it afresh,
so a revocation takes effect at once in every worker. It is also read afresh after ``TTL_S``
seconds, as the jurisdiction it holds follows the boundaries in force (a version taking effect at
its hour sends no notice). Where changes cannot be heard nothing is kept.

Only the service's own tokens are kept; an identity provider's are checked every time (their
expiry is in the token itself).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from sqlalchemy.engine import Engine

from geo_service.auth.principal import Principal
from geo_service.auth.tokens import token_hash
from geo_service.db.changes import feed_for

TTL_S = 30.0
SIZE = 4096


class PrincipalCache:
    def __init__(self, engine: Engine, size: int = SIZE, ttl_s: float = TTL_S) -> None:
        self._feed = feed_for(engine)
        self._size = size
        self._ttl_s = ttl_s
        self._entries: OrderedDict[str, tuple[tuple, float, Principal]] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def keeps(token: str) -> bool:
        """Whether a token's principal may be kept: the service's own tokens (no JWT)."""
        return token.count(".") != 2

    def get(self, token: str) -> tuple[Principal | None, tuple | None]:
        """The kept principal of ``token`` (or None), and the generation to store a fresh one under."""
        generation = self._feed.generation("principals")
        if generation is None or not self.keeps(token):
            return None, None
        key = token_hash(token)
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry[0] == generation and entry[1] > time.monotonic():
                self._entries.move_to_end(key)
                return entry[2], generation
            if entry is not None:
                del self._entries[key]
        return None, generation

    def put(self, token: str, generation: tuple | None, principal: Principal) -> None:
        """Keep ``principal``, read after ``generation`` was taken (a change during the read makes
        the entry stale at once)."""
        if generation is None or not self.keeps(token):
            return
        with self._lock:
            self._entries[token_hash(token)] = (generation, time.monotonic() + self._ttl_s, principal)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)

    def principal(self, token: str, read: Callable[[], Principal]) -> Principal:
        """The principal of ``token``: kept, else ``read()`` and kept."""
        found, generation = self.get(token)
        if found is None:
            found = read()
            self.put(token, generation, found)
        return found
