"""The wall screen's figures (指挥中心大屏): today and this month against the periods before them
(环比) and the same periods a year earlier (同比), for the signed-in user's jurisdiction, as at a
moment (``at``, default now, so that a test can ask for a fixed one).

For each of today and this month, three counts over the incidents of the jurisdiction (rejected
and merged cases are not incidents of their own and are never counted, as in
``analysis.span``):

``received``
    reported in the span (受理).
``closed``
    closed in the span (结案, after the follow-up visit), by ``closed_at``.
``overdue``
    whose deadline fell in the span before the case was resolved: overdue as
    ``analysis.rankings`` counts it (deadline before resolution, or before the span's end while
    unresolved), taken as at the end of each span.

The spans come from :func:`geo_service.analysis.span.preset_spans`: today runs from the county's
midnight to ``at`` and is compared with yesterday up to the same time of day; this month runs
from the first of the month and is compared with last month over the same elapsed time. 同比 is
the current span one calendar year earlier. A change is ``(current - base) / base``, null when the
base is 0. Each measure is counted in the database over the rows its own index finds in the
spans (the reported time's; the closed cases' closing time's; the (status, deadline) index), all
of them in one statement with FILTER clauses: never over every incident of the jurisdiction,
which for a city is millions of rows on each refresh of the screen.

The lists beside the figures (open cases overdue by unit, the rankings, the open red cases and
today's incidents for the map) are in :mod:`geo_service.analysis.dashboard_lists`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from geo_service.analysis.dashboard_lists import (
    overdue_by_unit,
    ranking_lists,
    recent_incidents,
    red_cases,
    unit_level,
)
from geo_service.analysis.span import NOT_COUNTED, Span, preset_spans
from geo_service.analysis.units import no_jit
from geo_service.auth.jurisdiction import EVERYTHING, Jurisdiction
from geo_service.cases.states import STATUSES
from geo_service.errors import InvalidInput
from geo_service.i18n import t
from geo_service.settings import PlaceSettings
from geo_service.tiles.service import display_datum
from geo_service.times import as_aware, parse_moment

PERIODS = {"today": "day", "month": "month"}  # the wall's periods -> preset_spans' kinds
COMPARED = ("current", "previous", "last_year")  # the span itself, 环比's base, 同比's base
LONGEST_AT = 60  # characters of a bad ``at`` an error repeats
YEARS = (1900, 2200)  # the years an ``at`` may fall in

# A rejected or merged case is not an incident of its own (``analysis.span``): never counted.
COUNTED = tuple(status for status in STATUSES if status not in NOT_COUNTED)


@dataclass(frozen=True)
class Measure:
    """What a measure counts within a span (its bounds bound as :<name>_start and :<name>_end),
    the time it is counted by, and which cases it looks at (the statuses, as its index has them)."""

    within: str
    column: str
    cases: str


MEASURE = {
    "received": Measure(
        "i.reported_at >= :{p}_start AND i.reported_at < :{p}_end", "reported_at", "i.status = ANY(:counted)"
    ),
    "closed": Measure("i.closed_at >= :{p}_start AND i.closed_at < :{p}_end", "closed_at", "i.status = 'closed'"),
    "overdue": Measure(
        "i.deadline >= :{p}_start AND i.deadline < :{p}_end AND i.deadline < coalesce(i.resolved_at, :{p}_end)",
        "deadline",
        "i.status = ANY(:counted)",
    ),
}


def read_at(raw: str | datetime | None, zone: str) -> datetime:
    """The moment a request asks about: ISO 8601 text (no zone: the county's ``zone``), or now.

    A time that cannot be read is a 422 naming ``at`` in the reader's language."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return as_aware(None, zone)
    try:
        moment = parse_moment(raw, "at", zone)
    except InvalidInput:
        value = str(raw)
        value = value if len(value) <= LONGEST_AT else value[:LONGEST_AT] + "..."
        raise InvalidInput(
            t(
                "at: {value!r} is not a time; write it as 2026-11-27T14:05:00 (the county's time) "
                "or with its offset, 2026-11-27T14:05:00+08:00",
                value=value,
            ),
            field="at",
        ) from None
    if not YEARS[0] <= moment.year <= YEARS[1]:  # a year before it must be a date too
        raise InvalidInput(
            t(
                "at: {value} is outside the years {first} to {last}",
                value=moment.isoformat(),
                first=YEARS[0],
                last=YEARS[1],
            ),
            field="at",
        )
    return moment


def year_before(moment: datetime) -> datetime:
    """The same wall-clock time a calendar year earlier (29 February falls back to the 28th)."""
    try:
        return moment.replace(year=moment.year - 1)
    except ValueError:
        return moment.replace(year=moment.year - 1, day=28)


def period_spans(at: datetime, zone: str) -> dict[str, dict[str, Span]]:
    """``{"today"|"month": {"current"|"previous"|"last_year": Span}}`` as at ``at``."""
    spans = {}
    for period, kind in PERIODS.items():
        previous, current = preset_spans(kind, at, zone=zone)
        last_year = Span(year_before(current.start), year_before(current.end))
        spans[period] = {"current": current, "previous": previous, "last_year": last_year}
    return spans


def change(current: int, base: int) -> float | None:
    """``(current - base) / base``, or None when there is no base to compare with."""
    return None if not base else round((current - base) / base, 4)


def merged(spans: list[Span]) -> list[tuple[datetime, datetime]]:
    """The stretches of time the spans cover, overlapping ones joined: where to look."""
    stretches: list[tuple[datetime, datetime]] = []
    for span in sorted(spans, key=lambda s: s.start):
        if stretches and span.start <= stretches[-1][1]:
            stretches[-1] = (stretches[-1][0], max(stretches[-1][1], span.end))
        else:
            stretches.append((span.start, span.end))
    return stretches


def kpis(connection: Connection, spans: dict[str, dict[str, Span]], scope: Jurisdiction) -> dict:
    """The three measures of each period and its two bases, with the changes, in one query."""
    params: dict = {**scope.params(), "counted": list(COUNTED)}
    names = {f"{period}_{which}": span for period, compared in spans.items() for which, span in compared.items()}
    for name, span in names.items():
        params[f"{name}_start"], params[f"{name}_end"] = span.start, span.end
    stretches = merged(list(names.values()))
    for k, (start, end) in enumerate(stretches):
        params[f"stretch{k}_start"], params[f"stretch{k}_end"] = start, end
    counts = []
    for measure, how in MEASURE.items():
        columns = ", ".join(
            f"count(*) FILTER (WHERE {how.within.format(p=name)}) AS {measure}__{name}" for name in names
        )
        looked = " OR ".join(
            f"(i.{how.column} >= :stretch{k}_start AND i.{how.column} < :stretch{k}_end)" for k in range(len(stretches))
        )
        counts.append(
            f"(SELECT {columns} FROM incidents i WHERE {scope.incidents('i')} AND {how.cases} AND ({looked})) {measure}"
        )
    row = connection.execute(text("SELECT * FROM " + ", ".join(counts)), params).mappings().one()
    figures: dict[str, dict] = {}
    for period, compared in spans.items():
        figures[period] = {
            "spans": {which: span.to_dict() for which, span in compared.items()},
            **{
                measure: _compared({which: row[f"{measure}__{period}_{which}"] for which in COMPARED})
                for measure in MEASURE
            },
        }
    return figures


def _compared(counts: dict[str, int]) -> dict:
    return {
        **counts,
        "change": change(counts["current"], counts["previous"]),  # 环比
        "change_last_year": change(counts["current"], counts["last_year"]),  # 同比
    }


def wall_summary(
    engine: Engine,
    at: datetime | None,
    *,
    place: PlaceSettings,
    scope: Jurisdiction | None = None,
    datum: str = "wgs84",
    red_limit: int = 10,
    recent_limit: int = 2000,
    ranking_top: int | None = None,
) -> dict:
    """Everything the wall screen shows, as at ``at`` (default now; no zone: the county's), for
    ``scope``: the figures (see the module's notes), open cases overdue by unit, the rankings of
    this month, the open red cases and today's incidents as GeoJSON points in ``datum``.

    The units are the level below the jurisdiction (:func:`unit_level`): towns for a county,
    counties for a city or province, villages for a town, village or grid.
    """
    scope = scope or EVERYTHING
    datum = display_datum(datum)  # a bad datum is refused before any query
    zone = place.timezone
    moment = as_aware(at, zone)
    spans = period_spans(moment, zone)
    level = unit_level(scope)
    with engine.begin() as connection:
        no_jit(connection)
        figures = kpis(connection, spans, scope)
        overdue = overdue_by_unit(connection, moment, level, scope)
        red = red_cases(connection, moment, scope, red_limit)
        recent = recent_incidents(connection, spans["today"]["current"], scope, datum, recent_limit)
    month = spans["month"]["current"]
    return {
        "at": moment.isoformat(),
        "timezone": zone,
        "jurisdiction": scope.to_dict(),
        "unit": level,
        "figures": figures,
        "overdue_by_unit": overdue,
        "rankings": ranking_lists(engine, month, level, scope, place, moment, ranking_top),
        "red_cases": red,
        "recent": recent,
    }
