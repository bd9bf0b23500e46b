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

import time
from collections.abc import Callable

from sqlalchemy.engine import Engine

from geo_service.auth.principal import Principal
from geo_service.auth.tokens import token_hash
from geo_service.db.changes import Kept, feed_for

TTL_S = 30.0
SIZE = 4096


class PrincipalCache:
    def __init__(self, engine: Engine, size: int = SIZE, ttl_s: float = TTL_S) -> None:
        self._feed = feed_for(engine)
        self._ttl_s = ttl_s
        self._kept = Kept("principals", size)

    @staticmethod
    def keeps(token: str) -> bool:
        """Whether a token's principal may be kept: the service's own tokens (no JWT)."""
        return token.count(".") != 2

    def get(self, token: str) -> tuple[Principal | None, tuple | None]:
        """The kept principal of ``token`` (or None), and the generation to store a fresh one under."""
        if not self.keeps(token):
            return None, None
        return self._kept.get(self._feed, token_hash(token), time.monotonic())

    def put(self, token: str, generation: tuple | None, principal: Principal) -> None:
        """Keep ``principal``, read after ``generation`` was taken (a change during the read makes
        the entry stale at once)."""
        if self.keeps(token):
            self._kept.put(token_hash(token), generation, principal, time.monotonic() + self._ttl_s)

    def principal(self, token: str, read: Callable[[], Principal]) -> Principal:
        """The principal of ``token``: kept, else ``read()`` and kept."""
        found, generation = self.get(token)
        if found is None:
            found = read()
            self.put(token, generation, found)
        return found
