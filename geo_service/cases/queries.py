"""Reading incidents back: one incident with its people and timeline, or a filtered page of them,
each serialised by one function the API, the command line and the notebooks share.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import bindparam, text
from sqlalchemy.engine import Connection

from geo_service.auth.jurisdiction import EVERYTHING, Jurisdiction
from geo_service.cases.attachments import attachments_of
from geo_service.cases.states import allowed_actions
from geo_service.db.partitions import NO_COUNTY
from geo_service.db.prepared import execute_prepared
from geo_service.errors import InvalidInput, NotFound
from geo_service.i18n import t
from geo_service.times import optional_aware
from geo_service.vocabulary import LARGEST_ID, STORAGE_SRID, TIERS

# ``{incidents}``: the table, or a page of it (the names are joined for the rows shown only).
INCIDENT_SELECT = """
    SELECT i.id, i.external_id, i.source, i.category, i.reported_at, i.description,
           i.reporter_name, i.reporter_phone, ST_X(i.geom) AS lon, ST_Y(i.geom) AS lat,
           i.input_datum, i.input_lon, i.input_lat, i.risk_colour, i.status, i.tier,
           i.dispatched_at, i.deadline, i.resolved_at, i.closed_at, i.satisfaction, i.visited_at,
           i.merged_into_id, i.urge_count,
           i.grid_code, g.name AS grid_name, g.level AS grid_level,
           i.village_code, v.name AS village_name, i.town_code, t.name AS town_name,
           i.county_code, c.name AS county_name, bv.id AS version_id, bv.name AS version_name,
           i.matter, m.name_zh AS matter_name, i.department, d.name_zh AS department_name,
           EXISTS (SELECT 1 FROM incident_extensions e WHERE e.incident_id = i.id AND e.decided_at IS NULL)
               AS extension_waiting
      FROM {incidents} i
      LEFT JOIN grids g ON g.id = i.grid_id
      LEFT JOIN admin_units v ON v.version_id = i.boundary_version_id AND v.code = i.village_code
      LEFT JOIN admin_units t ON t.version_id = i.boundary_version_id AND t.code = i.town_code
      LEFT JOIN admin_units c ON c.version_id = i.boundary_version_id AND c.code = i.county_code
      LEFT JOIN boundary_versions bv ON bv.id = i.boundary_version_id
      LEFT JOIN matters m ON m.code = i.matter
      LEFT JOIN departments d ON d.code = i.department
"""


def _iso(value):
    return value.isoformat() if isinstance(value, datetime) else value


def _unit(code, name):
    return {"code": code, "name": name} if code and code != NO_COUNTY else None


def incident_dict(row) -> dict:
    """An incident's row (of ``SELECT``) as the service shows it."""
    return {
        "id": row["id"],
        "external_id": row["external_id"],
        "source": row["source"],
        "category": row["category"],
        "reported_at": _iso(row["reported_at"]),
        "description": row["description"],
        "reporter": {"name": row["reporter_name"], "phone": row["reporter_phone"]}
        if row["reporter_name"] or row["reporter_phone"]
        else None,
        "location": {"lon": row["lon"], "lat": row["lat"], "crs": "cgcs2000"},
        "input_location": {"lon": row["input_lon"], "lat": row["input_lat"], "crs": row["input_datum"]},
        "boundary_version": {"id": row["version_id"], "name": row["version_name"]},
        "grid": {"code": row["grid_code"], "name": row["grid_name"], "level": row["grid_level"]}
        if row["grid_code"]
        else None,
        "village": _unit(row["village_code"], row["village_name"]),
        "town": _unit(row["town_code"], row["town_name"]),
        "county": _unit(row["county_code"], row["county_name"]),
        "risk_colour": row["risk_colour"],
        "status": row["status"],
        "tier": row["tier"],
        "dispatched_at": _iso(row["dispatched_at"]),
        "deadline": _iso(row["deadline"]),
        "resolved_at": _iso(row["resolved_at"]),
        "closed_at": _iso(row["closed_at"]),
        "satisfaction": row["satisfaction"],
        "visited_at": _iso(row["visited_at"]),
        "merged_into": row["merged_into_id"],
        "urge_count": row["urge_count"],
        "matter": _unit(row["matter"], row["matter_name"]),
        "department": _unit(row["department"], row["department_name"]),
        "extension_waiting": row["extension_waiting"],
        "allowed_actions": allowed_actions(row["status"]),
    }


def require_visible(connection: Connection, incident_id: int, scope: Jurisdiction | None = None) -> None:
    """NotFound unless the incident exists within ``scope``: one outside is not confirmed to exist."""
    scope = scope or EVERYTHING
    found = connection.execute(
        text(f"SELECT 1 FROM incidents i WHERE i.id = :id AND {scope.incidents('i')}"),
        {"id": incident_id, **scope.params()},
    ).first()
    if found is None:
        raise NotFound(t("no incident with id {incident_id}", incident_id=incident_id), field="id")


_OFFICERS = """
    SELECT b.tier, b.position, b.role, r.name_zh AS role_name, b.officer_id IS NULL AS vacant,
           o.code AS officer_code, o.name, o.phone, b.unit_code
      FROM incident_officers b JOIN roles r ON r.code = b.role
      LEFT JOIN officers o ON o.id = b.officer_id
     WHERE b.incident_id = :id AND b.released_at IS NULL
     ORDER BY array_position(CAST(:tiers AS text[]), b.tier), b.position, b.role, o.code
"""


def get_incident(
    connection: Connection, incident_id: int, *, timeline: bool = True, scope: Jurisdiction | None = None
) -> dict:
    """One incident with its bound officers, its photos and videos and, if asked, its timeline
    (NotFound outside ``scope``)."""
    scope = scope or EVERYTHING
    if not 0 < incident_id <= LARGEST_ID:  # a prepared statement's bigint parameter would refuse it
        raise NotFound(t("no incident with id {incident_id}", incident_id=incident_id), field="id")
    # Prepared: planning the joins took 2.7 ms, running them 0.15 (every case opened, every post).
    row = (
        execute_prepared(
            connection,
            INCIDENT_SELECT.format(incidents="incidents") + f" WHERE i.id = :id AND {scope.incidents('i')}",
            {"id": incident_id, **scope.params()},
        )
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(t("no incident with id {incident_id}", incident_id=incident_id), field="id")
    incident = incident_dict(row)
    incident["officers"] = [
        dict(r)
        for r in execute_prepared(
            connection,
            _OFFICERS,
            {"id": incident_id, "tiers": list(TIERS)},
        ).mappings()
    ]
    incident["attachments"] = attachments_of(connection, incident_id)
    if timeline:
        incident["timeline"] = [
            {**dict(r), "at": _iso(r["at"])}
            for r in connection.execute(
                text("""
                SELECT at, actor, action, from_status, to_status, note, data -> 'note_t' AS note_t
                  FROM incident_events
                 WHERE incident_id = :id ORDER BY at, id
            """),
                {"id": incident_id},
            ).mappings()
        ]
    return incident


@dataclass(frozen=True)
class IncidentFilter:
    """What to list: reported in ``[start, end)`` (without a zone, the county's time), of any of
    the categories, statuses and sources given, in a grid (with its sub-grids), village or town,
    within a box (minlon, minlat, maxlon, maxlat in CGCS2000)."""

    start: datetime | None = None
    end: datetime | None = None
    category: list[str] | None = None
    status: list[str] | None = None
    source: list[str] | None = None
    grid: str | None = None
    village: str | None = None
    town: str | None = None
    bbox: tuple[float, float, float, float] | None = None


MAX_PAGE = 1000


def page_and_count(condition: str) -> tuple[str, str]:
    """The SQL of a list's page (parameters ``limit`` and ``offset``), newest first, and of the
    count of all its incidents, for a ``condition`` (`` WHERE ...`` on the alias ``i``, or "")."""
    newest_first = " ORDER BY i.reported_at DESC, i.id DESC"
    chosen = f"(SELECT * FROM incidents i{condition}{newest_first} LIMIT :limit OFFSET :offset)"
    return INCIDENT_SELECT.format(incidents=chosen) + newest_first, "SELECT count(*) FROM incidents i" + condition


def list_incidents(
    connection: Connection,
    where: IncidentFilter,
    zone: str,
    *,
    limit: int = 100,
    offset: int = 0,
    scope: Jurisdiction | None = None,
) -> tuple[list[dict], int]:
    """A page of incidents matching ``where`` within ``scope``, newest first, and the number matching
    in all; times without a zone are in the county's ``zone``."""
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(
            t("limit must be 1 to {MAX_PAGE}, got {limit}", MAX_PAGE=MAX_PAGE, limit=limit), field="limit"
        )
    if offset < 0:
        raise InvalidInput(t("offset must not be negative"), field="offset")
    scope = scope or EVERYTHING
    where = replace(where, start=optional_aware(where.start, zone), end=optional_aware(where.end, zone))
    clauses, params = [scope.incidents("i")], scope.params()
    if where.start:
        clauses.append("i.reported_at >= :start")
        params["start"] = where.start
    if where.end:
        clauses.append("i.reported_at < :end")
        params["end"] = where.end
    if where.start and where.end and where.start >= where.end:
        raise InvalidInput(t("start must be before end"), field="start")
    for name in ("category", "status", "source"):
        values = getattr(where, name)
        if values:
            clauses.append(f"i.{name} IN :{name}")
            params[name] = list(values)
    if where.grid:
        # A level-1 grid's code also selects the incidents of its sub-grids.
        clauses.append("i.grid_code LIKE :grid")
        params["grid"] = where.grid + "%"
    for name in ("village", "town"):
        value = getattr(where, name)
        if value:
            clauses.append(f"i.{name}_code = :{name}")
            params[name] = value
    if where.bbox:
        minx, miny, maxx, maxy = where.bbox
        if not (minx < maxx and miny < maxy):
            raise InvalidInput(t("bbox must be minlon,minlat,maxlon,maxlat with min < max"), field="bbox")
        clauses.append(f"i.geom && ST_MakeEnvelope(:minx, :miny, :maxx, :maxy, {STORAGE_SRID})")
        params.update(minx=minx, miny=miny, maxx=maxx, maxy=maxy)
    condition = (" WHERE " + " AND ".join(clauses)) if clauses else ""
    expanding = [bindparam(n, expanding=True) for n in ("category", "status", "source") if n in params]
    page, count = (text(sql) for sql in page_and_count(condition))
    if expanding:
        page, count = page.bindparams(*expanding), count.bindparams(*expanding)
    rows = connection.execute(page, {**params, "limit": limit, "offset": offset}).mappings()
    items = [incident_dict(r) for r in rows]
    total = connection.execute(count, params).scalar_one()
    return items, total
