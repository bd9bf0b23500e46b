"""Which incidents an analysis counts: a span of time and, optionally, some categories.

A span is half-open, ``[start, end)``; times without a zone are read in the county's zone
(settings: ``timezone``). Rejected cases (out of scope) and merged ones (duplicates of another
case) are not incidents of their own and are never counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo_service.auth.jurisdiction import EVERYTHING, Jurisdiction
from geo_service.errors import InvalidInput
from geo_service.settings import get_settings
from geo_service.boundaries.versions import as_aware

NOT_COUNTED = ("rejected", "merged")
PRESETS = ("day", "week", "month", "year")


@dataclass(frozen=True)
class Span:
    """``[start, end)``, both aware."""

    start: datetime
    end: datetime

    @property
    def days(self) -> float:
        return (self.end - self.start).total_seconds() / 86400

    def to_dict(self) -> dict:
        return {"start": self.start.isoformat(), "end": self.end.isoformat()}


def make_span(start: datetime | date | str | None, end: datetime | date | str | None, *, zone: str | None = None,
              prefix: str = "") -> Span:
    """A validated span; ``end`` defaults to now and ``start`` to 365 days before ``end``.

    A date means the county's midnight starting it. ``prefix`` names the fields in errors
    (``a_start`` ...).
    """
    zone = zone or get_settings().timezone
    end_ = _moment(end, zone, f"{prefix}end") if end is not None else as_aware(None, zone)
    start_ = _moment(start, zone, f"{prefix}start") if start is not None else end_ - timedelta(days=365)
    if start_ >= end_:
        raise InvalidInput(f"the span is empty: {prefix}start {start_.isoformat()} is not before "
                           f"{prefix}end {end_.isoformat()}", field=f"{prefix}start")
    return Span(start_, end_)


def _moment(value: datetime | date | str, zone: str, field: str) -> datetime:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise InvalidInput(f"not a date or time: {value!r} (ISO 8601, e.g. 2026-05-01 or 2026-05-01T08:00)",
                               field=field) from None
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    return as_aware(value, zone)


@dataclass(frozen=True)
class IncidentFilter:
    """The incidents of ``span`` whose category is one of ``categories`` (all when empty)."""

    span: Span
    categories: tuple[str, ...] = field(default=())
    scope: Jurisdiction = EVERYTHING  # a user's jurisdiction: only its incidents and units are analysed

    def sql(self, alias: str = "i") -> str:
        """A WHERE condition over ``incidents AS alias`` (bind :start, :end, :categories and the scope's)."""
        condition = (f"{alias}.reported_at >= :start AND {alias}.reported_at < :end"
                     f" AND {alias}.status NOT IN ('rejected', 'merged')")
        if self.categories:
            condition += f" AND {alias}.category = ANY(:categories)"
        if not self.scope.whole_county:
            condition += f" AND {self.scope.incidents(alias)}"
        return condition

    def params(self) -> dict:
        return {"start": self.span.start, "end": self.span.end, "categories": list(self.categories),
                **self.scope.params()}

    def to_dict(self) -> dict:
        return {**self.span.to_dict(), "categories": list(self.categories) or "all"}


def incident_filter(connection: Connection, span: Span, categories: list[str] | tuple[str, ...] | str | None = None,
                    scope: Jurisdiction | None = None) -> IncidentFilter:
    """An :class:`IncidentFilter`, its categories checked against the ``categories`` table."""
    if isinstance(categories, str):
        categories = [c for c in categories.split(",")]
    wanted = tuple(dict.fromkeys(c.strip() for c in categories or () if c.strip()))
    if wanted:
        known = set(connection.execute(text("SELECT code FROM categories")).scalars())
        unknown = [c for c in wanted if c not in known]
        if unknown:
            raise InvalidInput(f"unknown category {', '.join(map(repr, unknown))}; known: "
                               f"{', '.join(sorted(known))}", field="category")
    return IncidentFilter(span, wanted, scope or EVERYTHING)


def preset_spans(kind: str, at: datetime | None = None, *, zone: str | None = None) -> tuple[Span, Span]:
    """(previous, current) for "today and yesterday", "this week and last", month on month, year on year.

    The current span runs from the start of ``at``'s day, week (Monday), month or year to ``at``;
    the previous one covers the same elapsed time from the start of the period before (a like-for-
    like comparison while the current period is still running; capped at that period's end).
    """
    zone = zone or get_settings().timezone
    if kind not in PRESETS:
        raise InvalidInput(f"unknown preset {kind!r}; one of {', '.join(PRESETS)}", field="preset")
    now = as_aware(at, zone).astimezone(ZoneInfo(zone))
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if kind == "day":
        start, previous_start = midnight, midnight - timedelta(days=1)
    elif kind == "week":
        start = midnight - timedelta(days=now.weekday())
        previous_start = start - timedelta(days=7)
    elif kind == "month":
        start = midnight.replace(day=1)
        previous_start = (start - timedelta(days=1)).replace(day=1)
    else:
        start = midnight.replace(month=1, day=1)
        previous_start = start.replace(year=start.year - 1)
    if now <= start:
        raise InvalidInput(f"{now.isoformat()} is the very start of its {kind}: nothing to compare yet", field="at")
    previous_end = min(previous_start + (now - start), start)
    if kind == "year":  # same calendar dates a year earlier (29 February falls back to the 28th)
        try:
            previous_end = now.replace(year=now.year - 1)
        except ValueError:
            previous_end = now.replace(year=now.year - 1, day=28)
    return Span(previous_start, previous_end), Span(start, now)


def data_end(connection: Connection) -> datetime | None:
    """Just after the latest incident reported: a natural ``end`` for a demo or an archive."""
    latest = connection.execute(text("SELECT max(reported_at) FROM incidents")).scalar()
    return None if latest is None else latest + timedelta(microseconds=1)
