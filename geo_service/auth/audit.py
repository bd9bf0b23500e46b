"""The audit log: every write and every unmasked read of personal data, append-only.

The database refuses to change or delete its rows (migration 0006), so what is written here
stays. Entries carry who (the user's name), what (action, entity, id) and before/after as JSON;
never the personal data itself.
"""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from geo_service.errors import InvalidInput
from geo_service.i18n import t
from geo_service.times import optional_aware

INSERT_INTO = "INSERT INTO audit_log (actor, action, entity, entity_id, before, after) VALUES "
# One entry's values (several are written in one statement by geo_service.auth.read_recorder).
ROW = "(%(actor)s, %(action)s, %(entity)s, %(entity_id)s, CAST(%(before)s AS jsonb), CAST(%(after)s AS jsonb))"
_INSERT = INSERT_INTO + ROW
# A read's entry, with the setting that its commit need not wait for the disk: one message.
_INSERT_READ = "SET LOCAL synchronous_commit TO off;" + _INSERT
MAX_ROWS = 1000


def entry(
    actor: str, action: str, entity: str, entity_id: str | int | None, before: dict | None, after: dict | None
) -> dict:
    """An entry's values as the table stores them."""
    return {
        "actor": actor,
        "action": action,
        "entity": entity,
        "entity_id": None if entity_id is None else str(entity_id),
        "before": json.dumps(before, ensure_ascii=False, default=str) if before is not None else None,
        "after": json.dumps(after, ensure_ascii=False, default=str) if after is not None else None,
    }


def record_read(
    connection: Connection, actor: str, action: str, entity: str, entity_id: str | int | None, *, after: dict
) -> None:
    """Write one entry of what was read (a lookup's officers' phones), in one round trip: on its
    own when ``connection`` is in autocommit, else in the caller's transaction, which must then
    write nothing but such entries. Its commit does not wait for the disk (PostgreSQL's
    ``synchronous_commit = off``): an entry could be lost only if the database server itself
    stopped within a fraction of a second of it, and nothing is ever half-written. The lookup,
    read by dispatchers hundreds of times an hour, does not wait for an fsync each time."""
    connection.exec_driver_sql(_INSERT_READ, entry(actor, action, entity, entity_id, None, after))


def record(
    connection: Connection,
    actor: str,
    action: str,
    entity: str,
    entity_id: str | int | None = None,
    *,
    before: dict | None = None,
    after: dict | None = None,
) -> None:
    """Write one entry, in the caller's transaction: ``actor`` (the signed-in user, or the command
    or system acting) did ``action`` to ``entity`` ``entity_id``, with what was before and after."""
    connection.exec_driver_sql(_INSERT, entry(actor, action, entity, entity_id, before, after))


def query(
    engine: Engine,
    *,
    zone: str,
    since: datetime | None = None,
    until: datetime | None = None,
    actor: str | None = None,
    action: str | None = None,
    entity: str | None = None,
    entity_id: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[dict], int]:
    """Entries matching every given field, newest first, and how many match in all (``since`` and
    ``until`` without a zone are the county's ``zone``)."""
    since, until = optional_aware(since, zone), optional_aware(until, zone)
    if not 1 <= limit <= MAX_ROWS:
        raise InvalidInput(
            t("limit must be 1 to {MAX_ROWS}, got {limit}", MAX_ROWS=MAX_ROWS, limit=limit), field="limit"
        )
    if offset < 0:
        raise InvalidInput(t("offset must not be negative"), field="offset")
    clauses, params = [], {"limit": limit, "offset": offset}
    for name, value, sql in (
        ("since", since, "at >= :since"),
        ("until", until, "at < :until"),
        ("actor", actor, "actor = :actor"),
        ("action", action, "action = :action"),
        ("entity", entity, "entity = :entity"),
        ("entity_id", entity_id, "entity_id = :entity_id"),
    ):
        if value is not None:
            clauses.append(sql)
            params[name] = value
    where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
    with engine.connect() as connection:
        rows = (
            connection.execute(
                text(
                    f"SELECT id, at, actor, action, entity, entity_id, before, after FROM audit_log{where} "
                    "ORDER BY at DESC, id DESC LIMIT :limit OFFSET :offset"
                ),
                params,
            )
            .mappings()
            .all()
        )
        total = connection.execute(text(f"SELECT count(*) FROM audit_log{where}"), params).scalar_one()
    return [{**dict(r), "at": r["at"].isoformat()} for r in rows], total
