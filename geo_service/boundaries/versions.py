"""Boundary versions: every read of which versions exist and which are in force, in one place.

Each county has its own versions. A county's version takes effect at its ``effective_from`` and
stays in force until that county's next published version takes effect, so exactly one version of
each county is in force at any moment after the county's first; the boundaries in force at a
moment (:class:`InForce`) are these, one per county. Drafts are never in force; retired versions
never were. Times are aware datetimes: the caller's county zone is applied by
``geo_service.times`` before a moment reaches this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pandas as pd
from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo_service.errors import NotFound
from geo_service.i18n import t

# The end of a published version's time in force: its county's next published version's start.
_EFFECTIVE_TO = """(SELECT min(n.effective_from) FROM boundary_versions n
                     WHERE n.status = 'published' AND n.county_code = v.county_code
                       AND n.effective_from > v.effective_from) AS effective_to"""
_IN_FORCE_COLUMNS = f"id, name, county_code, effective_from, created_at, {_EFFECTIVE_TO}"
IN_FORCE = text(f"""
    SELECT DISTINCT ON (county_code) {_IN_FORCE_COLUMNS}
      FROM boundary_versions v
     WHERE status = 'published' AND effective_from <= :at
     ORDER BY county_code, effective_from DESC
""")
COUNTY_IN_FORCE = text(f"""
    SELECT {_IN_FORCE_COLUMNS}
      FROM boundary_versions v
     WHERE status = 'published' AND county_code = :county AND effective_from <= :at
     ORDER BY effective_from DESC
     LIMIT 1
""")
PUBLISHED = text(f"""
    SELECT {_IN_FORCE_COLUMNS}
      FROM boundary_versions v
     WHERE v.id = :id AND v.status = 'published'
""")
_VERSION = "SELECT id, name, county_code, status, effective_from, published_at, created_at, note FROM boundary_versions"


@dataclass(frozen=True)
class VersionInForce:
    """A county's published version and the span it is in force: ``[effective_from, effective_to)``."""

    id: int
    name: str
    county_code: str
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
            "county": self.county_code,
            "effective_from": self.effective_from.isoformat(),
            "effective_to": self.effective_to.isoformat() if self.effective_to else None,
        }


@dataclass(frozen=True)
class InForce:
    """The boundaries in force at a moment: one version per county, ordered by county code.

    Reads of places bind :attr:`ids` (``version_id = ANY(:versions)``): since a version holds one
    county's places and counties do not overlap, the union is the whole deployment's map.
    """

    versions: tuple[VersionInForce, ...]

    @property
    def ids(self) -> list[int]:
        return [v.id for v in self.versions]

    @property
    def cache_key(self) -> tuple:
        """Changes whenever any county's version in force changes."""
        return tuple(key for v in self.versions for key in v.cache_key)

    @property
    def county_codes(self) -> list[str]:
        return [v.county_code for v in self.versions]

    def of(self, county_code: str | None) -> VersionInForce | None:
        """The version in force in the county ``county_code`` (None if it has none)."""
        return next((v for v in self.versions if v.county_code == county_code), None)

    def name(self) -> str:
        return ", ".join(v.name for v in self.versions)

    def to_dict(self) -> list[dict]:
        return [v.to_dict() for v in self.versions]


@dataclass(frozen=True)
class Version:
    """Any version, draft, published or retired, as a planner lists it."""

    id: int
    name: str
    county_code: str | None
    status: str
    effective_from: datetime | None
    published_at: datetime | None
    created_at: datetime
    note: str | None

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "name": self.name,
            "county": self.county_code,
            "status": self.status,
            "effective_from": self.effective_from.isoformat() if self.effective_from else None,
            "published_at": self.published_at.isoformat() if self.published_at else None,
            "created_at": self.created_at.isoformat(),
            "note": self.note,
        }


def in_force(connection: Connection, at: datetime) -> InForce:
    """The boundaries in force at ``at`` (an aware datetime): each county's version then."""
    found = in_force_or_none(connection, at)
    if found is None:
        raise NotFound(
            t(
                "no boundary version was in force at {value}: the earliest takes effect later, or none is published yet",
                value=at.isoformat(),
            ),
            field="at",
        )
    return found


def in_force_or_none(connection: Connection, at: datetime) -> InForce | None:
    """The boundaries in force at ``at``, or None where no county has any (a fresh database)."""
    rows = connection.execute(IN_FORCE, {"at": at}).mappings().all()
    return InForce(tuple(VersionInForce(**row) for row in rows)) if rows else None


def version_in_force(connection: Connection, at: datetime, county_code: str) -> VersionInForce:
    """The version of the county ``county_code`` in force at ``at``."""
    found = county_version_or_none(connection, at, county_code)
    if found is None:
        raise NotFound(
            t(
                "no boundary version of county {value} was in force at {value2}: its earliest takes effect later, or none is published yet",
                value=county_code[:6],
                value2=at.isoformat(),
            ),
            field="at",
        )
    return found


def county_version_or_none(connection: Connection, at: datetime, county_code: str) -> VersionInForce | None:
    """The version of the county ``county_code`` in force at ``at``, or None where it has none."""
    row = connection.execute(COUNTY_IN_FORCE, {"at": at, "county": county_code}).mappings().first()
    return VersionInForce(**row) if row else None


def published_version(connection: Connection, version_id: int) -> VersionInForce:
    """The published version ``version_id`` with its span in force; NotFound for any other id."""
    row = connection.execute(PUBLISHED, {"id": version_id}).mappings().first()
    if row is None:
        raise NotFound(
            t("version: no published boundary version has id {version_id}", version_id=version_id), field="version"
        )
    return VersionInForce(**row)


def published_starts(connection: Connection) -> list[tuple[int, datetime]]:
    """Every published version's id and start (of any county), earliest first: the boundaries in
    force at a time are those of the last start at or before it (:func:`in_force` at that start),
    for assigning many rows of many times at once."""
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
        raise NotFound(t("no boundary version {ref!r}", ref=ref), field="version")
    return Version(**row)


def list_versions(connection: Connection) -> list[Version]:
    """Every version, oldest first."""
    return [Version(**row) for row in connection.execute(text(_VERSION + " ORDER BY id")).mappings()]


def name_taken(connection: Connection, name: str) -> str | None:
    """The status of the version called ``name``, or None if no version has that name."""
    return connection.execute(text("SELECT status FROM boundary_versions WHERE name = :n"), {"n": name}).scalar()


def taking_effect_at(connection: Connection, at: datetime, county_code: str | None) -> str | None:
    """The name of the county's published version taking effect at exactly ``at``, if any."""
    return connection.execute(
        text(
            "SELECT name FROM boundary_versions WHERE status = 'published' AND effective_from = :at "
            "AND county_code IS NOT DISTINCT FROM :county"
        ),
        {"at": at, "county": county_code},
    ).scalar()


def phases_now(connection: Connection) -> dict[int, str]:
    """Each version's phase at this moment (an instant: no county zone is needed)."""
    return phases(connection, datetime.now(UTC))


def with_phases_now(connection: Connection) -> list[tuple[Version, str]]:
    """Every version, oldest first, with its phase at this moment (see :func:`phases`)."""
    phase = phases_now(connection)
    return [(version, phase[version.id]) for version in list_versions(connection)]


def phases(connection: Connection, now: datetime) -> dict[int, str]:
    """Each version's phase at ``now``: draft, retired, scheduled, in force or superseded (the
    version in force is each county's own)."""
    rows = connection.execute(text("SELECT id, status, effective_from, county_code FROM boundary_versions")).all()
    current: dict[str | None, tuple[datetime, int]] = {}
    for i, s, f, county in rows:
        if s == "published" and f <= now and (county not in current or f > current[county][0]):
            current[county] = (f, i)
    in_force_ids = {i for _, i in current.values()}
    return {
        i: s if s != "published" else "in force" if i in in_force_ids else "scheduled" if f > now else "superseded"
        for i, s, f, _ in rows
    }
