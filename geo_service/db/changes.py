"""What changed in the database since a worker last looked: the notices of migrations 0016, 0017.

A worker keeps in memory what almost every request would read again (the user behind a token,
the boundary versions in force, the people the rules name at a place, the cameras). It must
forget it the moment it changes, whichever process changed it (another worker, the command
line, an administrator's SQL): each watched table's trigger sends its name on the channel
``geo_service_changes`` at commit. One connection per
process and database listens; :meth:`ChangeFeed.generation` reads the notices waiting on it (a
non-blocking read of its socket, no thread) and counts them per topic, so a cache compares the
generation it stored a value under with today's.

When the listening connection cannot be had or is lost, :meth:`generation` answers ``None``:
caches then keep nothing and every request reads the database, as it would with no cache, until
the connection is back (made on a thread of its own, tried again every few seconds: a request,
which may run on the event loop, never waits for a connection).
"""

from __future__ import annotations

import itertools
import select
import threading
import time
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any

import psycopg2
from sqlalchemy.engine import Engine

CHANNEL = "geo_service_changes"
# Which cached things each watched table's change makes stale.
TOPICS: dict[str, tuple[str, ...]] = {
    "users": ("principals",),
    "role_permissions": ("principals",),
    "roles": ("principals", "people"),
    "departments": ("principals",),
    "admin_units": ("principals", "boundaries"),
    "boundary_versions": ("principals", "boundaries"),
    "officers": ("people",),
    "officer_assignments": ("people",),
    "responsibility_rules": ("people",),
    "cameras": ("cameras",),  # migration 0017
}
RETRY_S = 5.0
# Epochs unique in the process, so that a value kept under a closed feed never matches a new one.
_epochs = itertools.count(1)


def own_connection_args(engine: Engine, application_name: str) -> dict:
    """psycopg2's arguments for a connection of ``engine``'s database kept outside its pool (one
    listening for changes, one writing entries from the event loop)."""
    url = engine.url
    return {
        "host": url.host,
        "port": url.port,
        "user": url.username,
        "password": url.password,
        "dbname": url.database,
        "application_name": application_name,
        "connect_timeout": 10,
        **dict(url.query),
    }


def close_quietly(connection) -> None:
    """Close a psycopg2 connection of our own, if any, whatever state it was left in."""
    if connection is not None:
        try:
            connection.close()
        except psycopg2.Error:
            pass


class ChangeFeed:
    """The notices of one database, read on demand by the process's caches."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self.key = engine.url.render_as_string(hide_password=False)  # for the caches' keys
        self._lock = threading.Lock()
        self._connection = None
        self._connecting = False
        self._closed = False
        self._counts: dict[str, int] = {}
        self._epoch = 0  # new on every (re)connection: what was kept before it is unknown

    def _listen(self):
        connection = psycopg2.connect(**own_connection_args(self._engine, "geo_service changes"))
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute(f"LISTEN {CHANNEL}")
        return connection

    def _start_connecting(self, delay: float) -> None:
        """Connect on a thread of its own (never on a request's, which may be the event loop's)."""
        if self._connecting or self._closed:
            return
        self._connecting = True
        threading.Thread(target=self._connect_after, args=(delay,), name="geo_service changes", daemon=True).start()

    def _connect_after(self, delay: float) -> None:
        time.sleep(delay)
        try:
            connection = self._listen()
        except psycopg2.Error:
            connection = None
        with self._lock:
            self._connecting = False
            if self._closed:
                close_quietly(connection)
            elif connection is None:
                self._start_connecting(RETRY_S)
            else:
                self._connection, self._epoch = connection, next(_epochs)

    def _drop(self) -> None:
        close_quietly(self._connection)
        self._connection = None

    def _read(self) -> bool:
        """Take in the notices waiting; False when there is no listening connection (one is then
        being made, in the background)."""
        if self._connection is None:
            self._start_connecting(0.0 if self._epoch == 0 else RETRY_S)
            return False
        try:
            if select.select([self._connection], [], [], 0)[0]:
                self._connection.poll()
            notices = self._connection.notifies
            while notices:
                for topic in TOPICS.get(notices.pop(0).payload, ()):
                    self._counts[topic] = self._counts.get(topic, 0) + 1
        except (psycopg2.Error, OSError, ValueError):
            self._drop()
            self._start_connecting(RETRY_S)
            return False
        return True

    def generation(self, topic: str) -> tuple[int, int] | None:
        """A value that changes whenever ``topic`` may have changed; None when changes cannot be
        heard (keep nothing then)."""
        with self._lock:
            if not self._read():
                return None
            return self._epoch, self._counts.get(topic, 0)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._drop()


_feeds: dict[str, ChangeFeed] = {}
_by_engine: dict[Engine, ChangeFeed] = {}
_feeds_lock = threading.Lock()


def feed_for(engine: Engine) -> ChangeFeed:
    """The process's feed for ``engine``'s database (made on first use)."""
    found = _by_engine.get(engine)
    if found is not None:
        return found
    key = engine.url.render_as_string(hide_password=False)
    with _feeds_lock:
        found = _feeds.get(key)
        if found is None:
            found = _feeds[key] = ChangeFeed(engine)
        _by_engine[engine] = found
        return found


def close_feeds() -> None:
    """Close every listening connection (at shutdown, or between tests)."""
    with _feeds_lock:
        for found in _feeds.values():
            found.close()
        _feeds.clear()
        _by_engine.clear()


class Kept:
    """Values kept while a topic of a database's feed is unchanged (and, given an expiry, until
    it), at most ``size`` of them, the least used forgotten first: the one way the workers' caches
    keep what they read. A value is read afresh whenever the feed cannot be heard.

    Take the generation with :meth:`get` before reading, and :meth:`put` the value read under it:
    a change during the read then makes the value stale at once.
    """

    def __init__(self, topic: str, size: int) -> None:
        self.topic = topic
        self._size = size
        self._entries: OrderedDict[Hashable, tuple[tuple, Any, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, feed: ChangeFeed, key: Hashable, now: Any = None) -> tuple[Any, tuple | None]:
        """The value kept for ``key`` (None if there is none, or it is stale or expired at
        ``now``), and the generation to put a fresh one under (None: keep nothing)."""
        generation = feed.generation(self.topic)
        if generation is None:
            return None, None
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry[0] == generation and (entry[2] is None or now < entry[2]):
                self._entries.move_to_end(key)
                return entry[1], generation
            if entry is not None:
                del self._entries[key]
        return None, generation

    def put(self, key: Hashable, generation: tuple | None, value: Any, expires: Any = None) -> None:
        """Keep ``value``, read after ``generation`` was taken, until ``expires`` (compared with the
        ``now`` of later gets; None: until a change)."""
        if generation is None:
            return
        with self._lock:
            self._entries[key] = (generation, value, expires)
            self._entries.move_to_end(key)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)
