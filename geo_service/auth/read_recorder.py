"""Audit entries of reads written from the event loop, so that a lookup answered from memory
takes no thread.

A lookup answered from what the worker keeps (``geo_service.db.kept_only``) still puts the
officers' phones it shows on the audit log before it answers. :class:`ReadRecorder` writes the
entry on a connection of its own in psycopg2's asynchronous mode, waited on by the event loop
(no thread); entries arriving while one is being written are written together, in one statement,
next. As for :func:`geo_service.auth.audit.record_read`, the commit does not wait for the disk.
An entry is sent as soon as it is known (:meth:`ReadRecorder.record_soon`), so the lookup's
remaining work (its cameras) is done during the round trip rather than after it.

Should the write fail (the database unreachable, the connection lost), the future
:meth:`ReadRecorder.record_soon` returned raises: the caller then writes the entry as a thread
would, and answers only if that succeeds.
An entry is so never lost; one whose connection broke as it committed may be written twice.
"""

from __future__ import annotations

import asyncio

import psycopg2
import psycopg2.extensions
from sqlalchemy.engine import Engine

from geo_service.auth import audit
from geo_service.db.changes import close_quietly, own_connection_args

TIMEOUT_S = 5.0
_ONE = "geo_service_read_entry"
# audit.ROW's six values as parameters: the same statement, prepared.
_PREPARED_ROW = audit.INSERT_INTO + "($1, $2, $3, $4, CAST($5 AS jsonb), CAST($6 AS jsonb))"


class ReadRecorder:
    """Writes read entries for one app's database from its event loop."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._connection = None
        self._cursor = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending: list[tuple[dict, asyncio.Future]] = []
        self._writing = False

    def record_soon(
        self, actor: str, action: str, entity: str, entity_id: str | None, *, after: dict
    ) -> asyncio.Future:
        """Start writing one entry; the future is done once it is committed. When nothing else is
        being written, the entry is sent before this returns: the caller's work until it awaits
        the future overlaps the round trip."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # a new loop (a test's client): nothing of the old one carries over
            self.close()
            self._loop, self._pending, self._writing = loop, [], False
        done = loop.create_future()
        self._pending.append((audit.entry(actor, action, entity, entity_id, None, after), done))
        if not self._writing:
            self._writing = True
            sent = self._send_pending() if self._connection is not None else []
            loop.create_task(self._write_pending(sent))
        return done

    def _send_pending(self) -> list[tuple[dict, asyncio.Future]]:
        """Send what is pending on the open connection, without waiting; the batch sent."""
        batch, self._pending = self._pending, []
        try:
            self._send([entry for entry, _ in batch])
        except Exception as error:  # psycopg2 found the connection broken: they write on a thread
            self.close()
            _settle(batch, error)
            return []
        return batch

    async def _write_pending(self, sent: list[tuple[dict, asyncio.Future]]) -> None:
        batch = sent
        try:
            if sent:
                await self._settle_when(sent, _ready(self._connection))
            while self._pending:
                batch, self._pending = self._pending, []
                await self._settle_when(batch, self._write([entry for entry, _ in batch]))
        finally:
            self._writing = False
            # Cancelled (the loop is stopping): no request is left waiting for ever.
            _settle(batch + self._pending, ConnectionError("the entry's writer stopped"))

    async def _settle_when(self, batch: list[tuple[dict, asyncio.Future]], writing) -> None:
        """Settle the batch's requests once ``writing`` is done: every one hears an error."""
        try:
            await asyncio.wait_for(writing, TIMEOUT_S)
        except Exception as error:
            self.close()
            _settle(batch, error)
        else:
            _settle(batch, None)

    async def _write(self, entries: list[dict]) -> None:
        if self._connection is None:
            await self._connect()
        self._send(entries)
        await _ready(self._connection)

    async def _connect(self) -> None:
        connection = psycopg2.connect(**own_connection_args(self._engine, "geo_service reads"), async_=1)
        try:
            await _ready(connection)
            cursor = connection.cursor()  # held until done: psycopg2 needs the cursor of a query in flight
            cursor.execute(f"SET synchronous_commit TO off; PREPARE {_ONE} AS {_PREPARED_ROW}")
            await _ready(connection)
        except BaseException:
            close_quietly(connection)  # the error that stopped it is the one to report
            raise
        self._connection = connection

    def _send(self, entries: list[dict]) -> None:
        """Send the entries' statement on the open connection (psycopg2's asynchronous execute
        returns once it is sent); :func:`_ready` waits for its end."""
        # Held until the next: psycopg2 needs the cursor of a query in flight.
        self._cursor = cursor = self._connection.cursor()
        if len(entries) == 1:  # planned once: most entries come alone
            cursor.execute(cursor.mogrify(f"EXECUTE {_ONE} {audit.ROW}", entries[0]))
        else:
            cursor.execute(audit.INSERT_INTO.encode() + b", ".join(cursor.mogrify(audit.ROW, e) for e in entries))

    def close(self) -> None:
        close_quietly(self._connection)
        self._connection = self._cursor = None


def _settle(batch: list[tuple[dict, asyncio.Future]], error: BaseException | None) -> None:
    for _, done in batch:
        if not done.done():
            if error is None:
                done.set_result(None)
            else:
                done.set_exception(error)


async def _ready(connection) -> None:
    """Wait, on the event loop, until the asynchronous ``connection`` has finished its work."""
    loop = asyncio.get_running_loop()
    while True:
        state = connection.poll()
        if state == psycopg2.extensions.POLL_OK:
            return
        fd = connection.fileno()
        if state == psycopg2.extensions.POLL_READ:
            await _when(loop, fd, loop.add_reader, loop.remove_reader)
        else:
            await _when(loop, fd, loop.add_writer, loop.remove_writer)


async def _when(loop: asyncio.AbstractEventLoop, fd: int, watch, unwatch) -> None:
    """Until ``fd`` is ready, as ``watch`` (the loop's add_reader or add_writer) tells."""
    ready = loop.create_future()

    def wake() -> None:
        if not ready.done():
            ready.set_result(None)

    watch(fd, wake)
    try:
        await ready
    finally:
        unwatch(fd)
