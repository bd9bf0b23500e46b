"""Boundary versions and time: which version is in force at a moment.

A version takes effect at its ``effective_from`` and stays in force until the next published
version takes effect, so exactly one published version is in force at any moment after the
first. Times without a zone are read in the county's zone (settings: ``timezone``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo_service.errors import InvalidInput, NotFound

IN_FORCE = text("""
    SELECT id, name, effective_from, created_at,
           (SELECT min(n.effective_from) FROM boundary_versions n
             WHERE n.status = 'published' AND n.effective_from > v.effective_from) AS effective_to
      FROM boundary_versions v
     WHERE status = 'published' AND effective_from <= :at
     ORDER BY effective_from DESC
     LIMIT 1
""")


@dataclass(frozen=True)
class VersionInForce:
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


# The world's UTC offsets run from -12:00 to +14:00; PostgreSQL refuses beyond +-15:59.
MAX_UTC_OFFSET = timedelta(hours=14)


def storable(moment: datetime) -> datetime:
    """``moment`` if it names a real instant the database can store; ValueError saying why not.

    Python accepts offsets up to +-23:59 and dates whose UTC instant falls outside years 1 to 9999;
    neither is a time anyone reports, and both would fail deep inside a query.
    """
    offset = moment.utcoffset()
    if offset is not None:
        if abs(offset) > MAX_UTC_OFFSET:
            raise ValueError(f"the UTC offset {moment.strftime('%z')} is outside -1200 to +1400")
        try:
            moment.astimezone(timezone.utc)
        except OverflowError:
            raise ValueError(f"{moment.isoformat()} is out of range") from None
    return moment


def parse_moment(raw: str, field: str, error: type[InvalidInput] = InvalidInput) -> datetime:
    """An ISO 8601 time from a request (``Z`` allowed), or ``error`` naming ``field``."""
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise error(f"{field}: {raw!r} is not an ISO 8601 time", field=field) from None
    try:
        return storable(moment)
    except ValueError as exc:
        raise error(f"{field}: {exc}", field=field) from None


def as_aware(moment: datetime | None, zone: str) -> datetime:
    """``moment`` with a time zone (the county's if it has none); now, in the county's zone, if ``None``."""
    if moment is None:
        return datetime.now(ZoneInfo(zone))
    if moment.tzinfo is None:
        return moment.replace(tzinfo=ZoneInfo(zone))
    return moment


def local_day(moment: datetime, zone: str) -> date:
    """The county's calendar day at ``moment``: responsibilities are held by the day."""
    return moment.astimezone(ZoneInfo(zone)).date()


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
