"""Which incidents an analysis counts: a span of time and, optionally, some categories.

A span is half-open, ``[start, end)``; times without a zone are read in the county's ``zone``,
which the caller passes (``settings.place.timezone``): one parser, :mod:`geo_service.times`,
reads them. Rejected cases (out of scope) and merged ones (duplicates of another
case) are not incidents of their own and are never counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo_service.auth.jurisdiction import EVERYTHING, Jurisdiction
from geo_service.errors import InvalidInput
from geo_service.i18n import t
from geo_service.times import as_aware, local_day, now, parse_moment, start_of_day

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


def make_span(
    start: datetime | date | str | None, end: datetime | date | str | None, *, zone: str, prefix: str = ""
) -> Span:
    """A validated span; ``end`` defaults to now and ``start`` to 365 days before ``end``.

    A date, or a time without a zone, is the county's (``zone``): a date means the midnight
    starting it. ``prefix`` names the fields in errors (``a_start`` ...).
    """
    end_ = parse_moment(end, f"{prefix}end", zone) if end is not None else now(zone)
    start_ = parse_moment(start, f"{prefix}start", zone) if start is not None else end_ - timedelta(days=365)
    if start_ >= end_:
        raise InvalidInput(
            t(
                "the span is empty: {prefix}start {value} is not before {prefix}end {value2}",
                prefix=prefix,
                value=start_.isoformat(),
                value2=end_.isoformat(),
            ),
            field=f"{prefix}start",
        )
    return Span(start_, end_)


@dataclass(frozen=True)
class IncidentFilter:
    """The incidents of ``span`` whose category is one of ``categories`` (all when empty)."""

    span: Span
    categories: tuple[str, ...] = field(default=())
    scope: Jurisdiction = EVERYTHING  # a user's jurisdiction: only its incidents and units are analysed

    def sql(self, alias: str = "i") -> str:
        """A WHERE condition over ``incidents AS alias`` (bind :start, :end, :categories and the scope's)."""
        condition = (
            f"{alias}.reported_at >= :start AND {alias}.reported_at < :end"
            f" AND {alias}.status NOT IN ('rejected', 'merged')"
        )
        if self.categories:
            condition += f" AND {alias}.category = ANY(:categories)"
        if not self.scope.unrestricted:
            condition += f" AND {self.scope.incidents(alias)}"
        return condition

    def params(self) -> dict:
        return {
            "start": self.span.start,
            "end": self.span.end,
            "categories": list(self.categories),
            **self.scope.params(),
        }

    def to_dict(self) -> dict:
        return {**self.span.to_dict(), "categories": list(self.categories) or "all"}


def incident_filter(
    connection: Connection,
    span: Span,
    categories: list[str] | tuple[str, ...] | str | None = None,
    scope: Jurisdiction | None = None,
) -> IncidentFilter:
    """An :class:`IncidentFilter`, its categories checked against the ``categories`` table."""
    if isinstance(categories, str):
        categories = [categories]
    # Each item may itself be a comma-separated list (``?category=a,b&category=c``).
    wanted = tuple(dict.fromkeys(c.strip() for item in categories or () for c in item.split(",") if c.strip()))
    if wanted:
        known = set(connection.execute(text("SELECT code FROM categories")).scalars())
        unknown = [c for c in wanted if c not in known]
        if unknown:
            raise InvalidInput(
                t(
                    "unknown category {value}; known: {known}",
                    value=", ".join(map(repr, unknown)),
                    known=", ".join(sorted(known)),
                ),
                field="category",
            )
    return IncidentFilter(span, wanted, scope or EVERYTHING)


def preset_spans(kind: str, at: datetime | None = None, *, zone: str) -> tuple[Span, Span]:
    """(previous, current) for "today and yesterday", "this week and last", month on month, year on year.

    The current span runs from the start of ``at``'s day, week (Monday), month or year to ``at``;
    the previous one covers the same elapsed time from the start of the period before (a like-for-
    like comparison while the current period is still running; capped at that period's end). The
    periods are the county's (``zone``); ``at`` without a zone is the county's time.
    """
    if kind not in PRESETS:
        raise InvalidInput(
            t("unknown preset {kind!r}; one of {PRESETS}", kind=kind, PRESETS=", ".join(PRESETS)), field="preset"
        )
    moment = as_aware(at, zone)
    midnight = start_of_day(local_day(moment, zone), zone)
    moment = moment.astimezone(midnight.tzinfo)  # the county's wall clock decides the period
    if kind == "day":
        start, previous_start = midnight, midnight - timedelta(days=1)
    elif kind == "week":
        start = midnight - timedelta(days=moment.weekday())
        previous_start = start - timedelta(days=7)
    elif kind == "month":
        start = midnight.replace(day=1)
        previous_start = (start - timedelta(days=1)).replace(day=1)
    else:
        start = midnight.replace(month=1, day=1)
        previous_start = start.replace(year=start.year - 1)
    if moment <= start:
        raise InvalidInput(
            t("{value} is the very start of its {kind}: nothing to compare yet", value=moment.isoformat(), kind=kind),
            field="at",
        )
    previous_end = min(previous_start + (moment - start), start)
    if kind == "year":  # same calendar dates a year earlier (29 February falls back to the 28th)
        try:
            previous_end = moment.replace(year=moment.year - 1)
        except ValueError:
            previous_end = moment.replace(year=moment.year - 1, day=28)
    return Span(previous_start, previous_end), Span(start, moment)


def two_spans(
    preset: str | None = None,
    at: datetime | date | str | None = None,
    *,
    base: tuple[datetime | date | str | None, datetime | date | str | None] = (None, None),
    current: tuple[datetime | date | str | None, datetime | date | str | None] = (None, None),
    zone: str,
) -> tuple[Span, Span]:
    """The (base, current) spans a comparison asks for: a ``preset`` up to ``at`` (see
    :func:`preset_spans`), or the four bounds of ``base`` and ``current`` given in full; never both.
    """
    bounds = {"base_start": base[0], "base_end": base[1], "current_start": current[0], "current_end": current[1]}
    given = [name for name, value in bounds.items() if value is not None]
    if preset is not None:
        if given:
            raise InvalidInput(t("give either preset or the four span bounds, not both"), field="preset")
        return preset_spans(preset, None if at is None else parse_moment(at, "at", zone), zone=zone)
    if len(given) < len(bounds):
        missing = [name for name in bounds if name not in given]
        raise InvalidInput(
            t(
                "give preset, or all of base_start, base_end, current_start and current_end (missing {missing})",
                missing=", ".join(missing),
            ),
            field=missing[0],
        )
    return (make_span(*base, zone=zone, prefix="base_"), make_span(*current, zone=zone, prefix="current_"))


def data_end(connection: Connection) -> datetime | None:
    """Just after the latest incident reported: a natural ``end`` for a demo or an archive."""
    latest = connection.execute(text("SELECT max(reported_at) FROM incidents")).scalar()
    return None if latest is None else latest + timedelta(microseconds=1)
