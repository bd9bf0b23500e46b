"""Rates and rankings of the closed loop by county, town or village over a span (a city user
ranks its counties, or towns and villages across them, each named with the unit it lies in), or
by the department handling the cases (county departments and town offices, "部门限时办理").

Of the cases reported in the span (rejected and merged ones aside):

``handled_rate``
    share resolved or closed.
``closed_rate``
    share closed (办结, after the follow-up visit).
``overdue_rate``
    of the cases that were dispatched (and so had a deadline), the share resolved after it, or
    still unresolved with the deadline passed as at ``as_of``.
``median_hours_to_close``
    median time from report to closure of the closed cases.
``satisfaction``
    mean follow-up satisfaction (1 to 5) of the visits made; ``satisfied_rate`` the share of 4 or 5.

Every unit is ranked on each metric (1 = best: highest rates, lowest overdue rate and time), ties
sharing the better rank. One query over the incidents, grouped by the codes recorded on them.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd
from sqlalchemy import text
from sqlalchemy.engine import Engine

from geo_service.analysis.span import IncidentFilter
from geo_service.analysis.units import no_jit
from geo_service.boundaries.versions import in_force
from geo_service.errors import InvalidInput
from geo_service.i18n import t
from geo_service.settings import PlaceSettings
from geo_service.times import as_aware

LEVELS = ("county", "town", "village", "department")
# The unit a ranked unit lies in, named beside it.
_PARENT = {"village": "town", "town": "county"}
# metric -> True when higher is better
METRICS = {
    "handled_rate": True,
    "closed_rate": True,
    "overdue_rate": False,
    "median_hours_to_close": False,
    "satisfaction": True,
}

_COUNTS = """
           count(*) AS cases,
           count(*) FILTER (WHERE i.status IN ('resolved', 'closed')) AS handled,
           count(*) FILTER (WHERE i.status = 'closed') AS closed,
           count(*) FILTER (WHERE i.deadline IS NOT NULL) AS with_deadline,
           count(*) FILTER (WHERE i.deadline < coalesce(i.resolved_at, :as_of)) AS overdue,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM i.closed_at - i.reported_at) / 3600)
               FILTER (WHERE i.status = 'closed') AS median_hours_to_close,
           avg(i.satisfaction)::float8 AS satisfaction,
           count(i.satisfaction) AS visits,
           count(*) FILTER (WHERE i.satisfaction >= 4) AS satisfied"""

_SQL = (
    """
    SELECT i.{level}_code AS code, u.name, {parent_columns}"""
    + _COUNTS
    + """
      FROM incidents i
      LEFT JOIN admin_units u ON u.version_id = ANY(:versions) AND u.code = i.{level}_code
      {parent_join}
     WHERE {condition} AND i.{level}_code IS NOT NULL
     GROUP BY i.{level}_code, u.name {parent_group}
"""
)
# By the department handling each case now (a case sent back is its place's again).
_BY_DEPARTMENT = (
    """
    SELECT i.department AS code, d.name_zh AS name, d.kind, d.county_code,"""
    + _COUNTS
    + """
      FROM incidents i
      JOIN departments d ON d.code = i.department
     WHERE {condition}
     GROUP BY i.department, d.name_zh, d.kind, d.county_code
"""
)


def rankings(
    engine: Engine,
    where: IncidentFilter,
    level: str = "town",
    *,
    place: PlaceSettings,
    order_by: str = "overdue_rate",
    as_of: datetime | None = None,
) -> pd.DataFrame:
    """The closed loop's rates by ``level`` ('county', 'town', 'village' or 'department'), ranked on ``order_by``.

    ``as_of`` (default now) without a zone is the county's time (``place.timezone``).

    Returns
    -------
    pandas.DataFrame
        One row per unit with cases in the span, sorted by ``rank`` (on ``order_by``): ``code``,
        ``name`` (and ``town_code``, ``town_name`` for villages, ``county_code``, ``county_name``
        for towns; ``kind`` and ``county_code`` for departments), the counts, the rates of the
        module's notes, and ``rank_<metric>`` for each metric.
    """
    if level not in LEVELS:
        raise InvalidInput(
            t("level must be one of {LEVELS}, not {level!r}", LEVELS=", ".join(LEVELS), level=level), field="level"
        )
    if order_by not in METRICS:
        raise InvalidInput(
            t("order_by must be one of {METRICS}, not {order_by!r}", METRICS=", ".join(METRICS), order_by=order_by),
            field="order_by",
        )
    as_of = as_aware(as_of, place.timezone)
    parent = _PARENT.get(level)
    sql = (_BY_DEPARTMENT if level == "department" else _SQL).format(
        level=level,
        condition=where.sql("i"),
        parent_columns=f"i.{parent}_code, p.name AS {parent}_name," if parent else "",
        parent_join=f"LEFT JOIN admin_units p ON p.version_id = ANY(:versions) AND p.code = i.{parent}_code"
        if parent
        else "",
        parent_group=f", i.{parent}_code, p.name" if parent else "",
    )
    with engine.begin() as connection:
        no_jit(connection)  # a city's ranking crosses the JIT threshold and pays a second to compile
        versions = in_force(connection, where.span.end - timedelta(microseconds=1)).ids
        frame = pd.read_sql(text(sql), connection, params={**where.params(), "versions": versions, "as_of": as_of})
    with np.errstate(divide="ignore", invalid="ignore"):
        frame["handled_rate"] = frame["handled"] / frame["cases"]
        frame["closed_rate"] = frame["closed"] / frame["cases"]
        frame["overdue_rate"] = frame["overdue"] / frame["with_deadline"].where(frame["with_deadline"] > 0)
        frame["satisfied_rate"] = frame["satisfied"] / frame["visits"].where(frame["visits"] > 0)
    for metric, higher_is_better in METRICS.items():
        frame[f"rank_{metric}"] = frame[metric].rank(ascending=not higher_is_better, method="min").astype("Int64")
    frame["rank"] = frame[f"rank_{order_by}"]
    frame = frame.sort_values(["rank", "code"], na_position="last").reset_index(drop=True)
    frame.attrs.update(level=level, order_by=order_by, as_of=as_of.isoformat(), filter=where.to_dict())
    return frame
