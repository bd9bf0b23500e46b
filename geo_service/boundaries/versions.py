"""Boundary versions: every read of which versions exist and which one is in force, in one place.

A version takes effect at its ``effective_from`` and stays in force until the next published
version takes effect, so exactly one published version is in force at any moment after the
first. Drafts are never in force; retired versions never were. Times are aware datetimes: the
caller's county zone is applied by ``geo_service.times`` before a moment reaches this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pandas as pd
from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo_service.errors import NotFound

# The end of a published version's time in force: the next published version's start.
_EFFECTIVE_TO = """(SELECT min(n.effective_from) FROM boundary_versions n
                     WHERE n.status = 'published' AND n.effective_from > v.effective_from) AS effective_to"""
IN_FORCE = text(f"""
    SELECT id, name, effective_from, created_at, {_EFFECTIVE_TO}
      FROM boundary_versions v
     WHERE status = 'published' AND effective_from <= :at
     ORDER BY effective_from DESC
     LIMIT 1
""")
PUBLISHED = text(f"""
    SELECT id, name, effective_from, created_at, {_EFFECTIVE_TO}
      FROM boundary_versions v
     WHERE v.id = :id AND v.status = 'published'
""")
_VERSION = "SELECT id, name, status, effective_from, published_at, created_at, note FROM boundary_versions"


@dataclass(frozen=True)
class VersionInForce:
    """A published version and the span it is in force: ``[effective_from, effective_to)``."""

    id: int
    name: str
    effective_from: datetime
    created_at: datetime
    effective_to: datetime | None

    @property
    def cache_key(self) -> tuple[int, datetime]:
        """Identifies the version's contents: a database reloaded from scratch may reuse an id."""
        return self.id, self.created_at

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "name": self.name,
            "effective_from": self.effective_from.isoformat(),
            "effective_to": self.effective_to.isoformat() if self.effective_to else None,
        }


@dataclass(frozen=True)
class Version:
    """Any version, draft, published or retired, as a planner lists it."""

    id: int
    name: str
    status: str
    effective_from: datetime | None
    published_at: datetime | None
    created_at: datetime
    note: str | None

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "name": self.name,
            "status": self.status,
            "effective_from": self.effective_from.isoformat() if self.effective_from else None,
            "published_at": self.published_at.isoformat() if self.published_at else None,
            "created_at": self.created_at.isoformat(),
            "note": self.note,
        }


def version_in_force(connection: Connection, at: datetime) -> VersionInForce:
    """The published boundary version in force at ``at`` (an aware datetime)."""
    row = connection.execute(IN_FORCE, {"at": at}).mappings().first()
    if row is None:
        raise NotFound(
            f"no boundary version was in force at {at.isoformat()}: the earliest takes effect later, "
            "or none is published yet",
            field="at",
        )
    return VersionInForce(**row)


def in_force_or_none(connection: Connection, at: datetime) -> VersionInForce | None:
    """The version in force at ``at``, or None where none is (a fresh database)."""
    row = connection.execute(IN_FORCE, {"at": at}).mappings().first()
    return VersionInForce(**row) if row else None


def published_version(connection: Connection, version_id: int) -> VersionInForce:
    """The published version ``version_id`` with its span in force; NotFound for any other id."""
    row = connection.execute(PUBLISHED, {"id": version_id}).mappings().first()
    if row is None:
        raise NotFound(f"version: no published boundary version has id {version_id}", field="version")
    return VersionInForce(**row)


def published_starts(connection: Connection) -> list[tuple[int, datetime]]:
    """Every published version's id and start, earliest first: a time's version is the last
    whose start is at or before it (for assigning many rows of many times at once)."""
    return [
        tuple(row)
        for row in connection.execute(
            text("SELECT id, effective_from FROM boundary_versions WHERE status = 'published' ORDER BY effective_from")
        )
    ]


def in_force_positions(published: list[tuple[int, datetime]], moments: pd.Series) -> np.ndarray:
    """For each aware moment of ``moments``, the index into ``published`` (as
    :func:`published_starts` lists them) of the version in force then: the last whose start is at
    or before it. -1 where no version was in force yet, -2 where the moment is missing."""
    starts = pd.to_datetime([start for _, start in published], utc=True).tz_convert(None).to_numpy()
    which = np.searchsorted(starts, moments.dt.tz_convert(None).to_numpy(), side="right") - 1
    which[moments.isna().to_numpy()] = -2
    return which


def find_version(connection: Connection, ref: int | str, *, lock: bool = False) -> Version:
    """A version by id or by name (``lock``: for update, in the caller's transaction)."""
    by_id = isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit())
    sql = _VERSION + (" WHERE id = :ref" if by_id else " WHERE name = :ref") + (" FOR UPDATE" if lock else "")
    row = connection.execute(text(sql), {"ref": int(ref) if by_id else ref}).mappings().first()
    if row is None:
        raise NotFound(f"no boundary version {ref!r}", field="version")
    return Version(**row)


def list_versions(connection: Connection) -> list[Version]:
    """Every version, oldest first."""
    return [Version(**row) for row in connection.execute(text(_VERSION + " ORDER BY id")).mappings()]


def name_taken(connection: Connection, name: str) -> str | None:
    """The status of the version called ``name``, or None if no version has that name."""
    return connection.execute(text("SELECT status FROM boundary_versions WHERE name = :n"), {"n": name}).scalar()


def taking_effect_at(connection: Connection, at: datetime) -> str | None:
    """The name of the published version taking effect at exactly ``at``, if any."""
    return connection.execute(
        text("SELECT name FROM boundary_versions WHERE status = 'published' AND effective_from = :at"), {"at": at}
    ).scalar()


def phases_now(connection: Connection) -> dict[int, str]:
    """Each version's phase at this moment (an instant: no county zone is needed)."""
    return phases(connection, datetime.now(UTC))


def with_phases_now(connection: Connection) -> list[tuple[Version, str]]:
    """Every version, oldest first, with its phase at this moment (see :func:`phases`)."""
    phase = phases_now(connection)
    return [(version, phase[version.id]) for version in list_versions(connection)]


def phases(connection: Connection, now: datetime) -> dict[int, str]:
    """Each version's phase at ``now``: draft, retired, scheduled, in force or superseded."""
    rows = connection.execute(text("SELECT id, status, effective_from FROM boundary_versions")).all()
    current = max(((f, i) for i, s, f in rows if s == "published" and f <= now), default=(None, None))[1]
    return {
        i: s if s != "published" else "in force" if i == current else "scheduled" if f > now else "superseded"
        for i, s, f in rows
    }
