"""The lists of the wall screen beside its figures: open cases overdue by unit, this month's
rankings of the units, the open red cases, and today's incidents as GeoJSON points for its map.

Nothing here defines a measure of its own: "overdue" is ``cases.sla``'s (an open case being
handled, past its deadline at the moment asked about), counted by its own query; the rankings are
``analysis.rankings``'; "open" is ``cases.states.OPEN``.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
from sqlalchemy import bindparam, text
from sqlalchemy.engine import Connection, Engine

from geo_service.analysis.geojson import json_safe
from geo_service.analysis.rankings import rankings
from geo_service.analysis.span import NOT_COUNTED, IncidentFilter, Span
from geo_service.auth.jurisdiction import Jurisdiction
from geo_service.boundaries.versions import in_force
from geo_service.cases.sla import BY_VILLAGE, RUNNING
from geo_service.cases.states import OPEN
from geo_service.coordinates.datum import convert
from geo_service.settings import PlaceSettings
from geo_service.tiles.service import display_datum

# The unit the wall breaks a jurisdiction into: the level below it (a village or grid has no
# units of its own to compare, so it sees its village).
UNITS = {
    "all": "county",
    "province": "county",
    "city": "county",
    "county": "town",
    "town": "village",
    "village": "village",
    "grid": "village",
}
RANKED = ("closed_rate", "handled_rate", "overdue_rate")  # 结案率, 办结率, 超期率
# A ranked rate's numerator and base, as rankings() names its counts.
_RATE_COUNTS = {
    "closed_rate": ("closed", "cases"),
    "handled_rate": ("handled", "cases"),
    "overdue_rate": ("overdue", "with_deadline"),
}
_PARENT_NAME = {"village": "town_name", "town": "county_name"}


def unit_level(scope: Jurisdiction) -> str:
    """``county``, ``town`` or ``village``: the units the wall compares within ``scope``."""
    return UNITS[scope.level]


# Open cases overdue by unit: cases.sla's own query by village (with ``soon`` = ``at``: only the
# overdue ones), summed up to the unit.
_BY_UNIT = {
    "village": ("v.village_code", "v.village_name", "v.town_name", ""),
    "town": ("v.town_code", "v.town_name", "NULL", ""),
    "county": (
        "c.code",
        "c.name",
        "NULL",
        "LEFT JOIN admin_units c ON c.version_id = ANY(:versions) AND c.level = 'county'"
        " AND c.code = left(v.town_code, 6) || '000000'",
    ),
}


def overdue_by_unit(connection: Connection, at: datetime, level: str, scope: Jurisdiction) -> dict:
    """``{"total": n, "units": [{code, name, parent, overdue, worst_overdue_hours}]}``, the units
    with any open case past its deadline at ``at``, the most first."""
    code, name, parent, join = _BY_UNIT[level]
    sql = f"""
        SELECT {code} AS code, {name} AS name, {parent} AS parent,
               sum(v.overdue)::int AS overdue, max(v.worst_overdue_hours) AS worst_overdue_hours
          FROM ({BY_VILLAGE.format(scope=scope.incidents("i"))}) v
          {join}
         GROUP BY 1, 2, 3
         ORDER BY overdue DESC, code
    """
    params = {"at": at, "soon": at, "running": list(RUNNING), **scope.params()}
    if level == "county":
        params["versions"] = in_force(connection, at).ids
    query = text(sql).bindparams(bindparam("running", expanding=True))
    units = [dict(row) for row in connection.execute(query, params).mappings()]
    return {"total": sum(unit["overdue"] for unit in units), "units": units}


def ranking_lists(
    engine: Engine,
    span: Span,
    level: str,
    scope: Jurisdiction,
    place: PlaceSettings,
    at: datetime,
    top: int | None = None,
) -> dict:
    """The units ranked on the closure, handling and overdue rates of the cases reported in
    ``span`` (``analysis.rankings``, one query), each list in its own rank order (1 = best), the
    first ``top`` of each (all when None)."""
    frame = rankings(engine, IncidentFilter(span, (), scope), level, place=place, as_of=at)
    frame = frame.astype(object).where(frame.notna(), None)
    parent = _PARENT_NAME.get(level)
    lists: dict = {"span": span.to_dict(), "level": level}
    for metric in RANKED:
        count, base = _RATE_COUNTS[metric]
        ordered = sorted(
            frame.to_dict(orient="records"),
            key=lambda row, m=metric: (row[f"rank_{m}"] is None, row[f"rank_{m}"] or 0, row["code"]),
        )
        lists[metric] = [
            json_safe(
                {
                    "code": row["code"],
                    "name": row["name"],
                    "parent": row.get(parent) if parent else None,
                    "rank": row[f"rank_{metric}"],
                    "rate": row[metric],
                    "count": row[count],
                    "base": row[base],
                }
            )
            for row in ordered[:top]
        ]
    return lists


_RED = """
    SELECT i.id, i.external_id, i.category, i.status, i.tier, i.source, i.reported_at, i.deadline,
           i.urge_count, coalesce(i.status IN :running AND i.deadline < :at, false) AS overdue,
           i.county_code, i.town_code, t.name AS town_name, i.village_code, v.name AS village_name, i.grid_code,
           count(*) OVER () AS total
      FROM incidents i
      LEFT JOIN admin_units t ON t.version_id = i.boundary_version_id AND t.code = i.town_code
      LEFT JOIN admin_units v ON v.version_id = i.boundary_version_id AND v.code = i.village_code
     WHERE {scope} AND i.risk_colour = 'red' AND i.status IN :open AND i.reported_at < :at
     ORDER BY i.reported_at DESC, i.id DESC
     LIMIT :limit
"""


def red_cases(connection: Connection, at: datetime, scope: Jurisdiction, limit: int) -> dict:
    """``{"total": n, "cases": [...]}``: the open red cases reported before ``at``, the newest
    first, at most ``limit``; ``overdue`` as ``cases.sla`` has it. Nothing personal (no
    description, no reporter): the wall is seen by a room."""
    query = text(_RED.format(scope=scope.incidents("i"))).bindparams(
        bindparam("running", expanding=True), bindparam("open", expanding=True)
    )
    params = {"at": at, "running": list(RUNNING), "open": sorted(OPEN), "limit": limit, **scope.params()}
    rows = [dict(row) for row in connection.execute(query, params).mappings()]
    total = rows[0]["total"] if rows else 0
    cases = [
        {
            **{k: v for k, v in row.items() if k not in ("total", "reported_at", "deadline")},
            "reported_at": row["reported_at"].isoformat(),
            "deadline": row["deadline"].isoformat() if row["deadline"] else None,
        }
        for row in rows
    ]
    return {"total": total, "cases": cases}


_RECENT = """
    SELECT i.id, i.category, i.status, i.risk_colour, i.reported_at, ST_X(i.geom) AS lon, ST_Y(i.geom) AS lat,
           count(*) OVER () AS total
      FROM incidents i
     WHERE {scope} AND i.reported_at >= :start AND i.reported_at < :end
       AND i.status NOT IN :not_counted AND i.geom IS NOT NULL
     ORDER BY i.reported_at DESC, i.id DESC
     LIMIT :limit
"""


def recent_incidents(connection: Connection, span: Span, scope: Jurisdiction, datum: str, limit: int) -> dict:
    """The incidents reported in ``span`` (today), the newest ``limit``, as a GeoJSON
    FeatureCollection of points in ``datum`` (the map's: wgs84, gcj02 or bd09; the stored
    CGCS2000 is drawn as WGS84) with their id, category, status, risk colour and time."""
    shown = display_datum(datum)
    query = text(_RECENT.format(scope=scope.incidents("i"))).bindparams(bindparam("not_counted", expanding=True))
    params = {"start": span.start, "end": span.end, "not_counted": list(NOT_COUNTED), "limit": limit}
    rows = connection.execute(query, {**params, **scope.params()}).mappings().all()
    lon = np.array([row["lon"] for row in rows], dtype=float)
    lat = np.array([row["lat"] for row in rows], dtype=float)
    if rows and shown != "wgs84":
        lon, lat = convert(lon, lat, "cgcs2000", shown)
    features = [
        {
            "type": "Feature",
            "id": row["id"],
            "geometry": {"type": "Point", "coordinates": [round(float(x), 6), round(float(y), 6)]},
            "properties": {
                "id": row["id"],
                "category": row["category"],
                "status": row["status"],
                "risk_colour": row["risk_colour"],
                "reported_at": row["reported_at"].isoformat(),
            },
        }
        for row, x, y in zip(rows, lon, lat)
    ]
    total = rows[0]["total"] if rows else 0
    return {
        "type": "FeatureCollection",
        "features": features,
        "metadata": {"span": span.to_dict(), "datum": shown, "total": total, "truncated": total > len(features)},
    }
