"""Recording incidents and reading them back.

An incident is assigned when it is recorded: to the grid that held its location under the
boundaries in force when it was *reported*, and to the people the rules name *now*, who must
handle it. Recording is idempotent on ``external_id``: the same report sent twice (a retry, a
second click) is stored once, and the second answer is the incident already stored.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone

import pandas as pd
from sqlalchemy import bindparam, text
from sqlalchemy.engine import Connection, Engine

from geo_service.coordinates import datum
from geo_service.coordinates.coverage import coverage, require_covered, to_storage
from geo_service.cases.states import allowed_actions
from geo_service.db.models import TIERS
from geo_service.auth.jurisdiction import EVERYTHING, Jurisdiction
from geo_service.errors import InvalidInput, NotFound
from geo_service.lookup.locate import find_place
from geo_service.cases.outbox import notify_bound
from geo_service.cases.responsibility import check_colour, responsible
from geo_service.rules import time_limit_hours
from geo_service.settings import Settings, get_settings
from geo_service.boundaries.versions import as_aware, local_day, version_in_force

# A report may arrive late, but not from the future (clocks drift: allow a little).
FUTURE_TOLERANCE = timedelta(minutes=10)


@dataclass(frozen=True)
class NewIncident:
    external_id: str
    lon: float
    lat: float
    category: str
    source: str
    reported_at: datetime
    crs: str = "cgcs2000"
    risk_colour: str = "blue"
    description: str | None = None
    reporter_name: str | None = None
    reporter_phone: str | None = None


def _codes(connection: Connection, table: str) -> list[str]:
    return [r[0] for r in connection.execute(text(f"SELECT code FROM {table} ORDER BY code"))]


def _check_known(connection: Connection, field: str, table: str, value: str) -> None:
    known = _codes(connection, table)
    if value not in known:
        raise InvalidInput(f"unknown {field} {value!r}; known: {', '.join(known)}", field=field)


def time_limit(connection: Connection, category: str, risk_colour: str) -> timedelta:
    """The time allowed from dispatch, from the time-limit rules in the database."""
    limits = pd.read_sql_query(text("SELECT category, risk_colour, limit_hours FROM time_limit_rules"), connection)
    limits = limits.astype(object).where(limits.notna(), None)
    return timedelta(hours=time_limit_hours(limits, category, risk_colour))


def dispatch_note(grid_code: str, grid_name: str, vacant_roles: list[str]) -> str:
    """The timeline's note on routing a case to its grid (the vacancies it found, if any)."""
    note = f"routed to grid {grid_code} {grid_name}"
    return note + (f"; vacant: {', '.join(vacant_roles)}" if vacant_roles else "")


def outside_note(grid_code: str, grid_name: str, distance_m: float) -> str:
    """The timeline's note on a case outside every grid, left for a person to route."""
    return (f"outside every grid; nearest grid {grid_code} {grid_name} at {distance_m:.0f} m: "
            "awaiting manual routing")


INSERT = text("""
    INSERT INTO incidents (external_id, source, category, reported_at, description, reporter_name,
                           reporter_phone, geom, input_datum, input_lon, input_lat, boundary_version_id,
                           grid_id, grid_code, village_code, town_code, county_code, risk_colour, status,
                           tier, dispatched_at, deadline)
    VALUES (:external_id, :source, :category, :reported_at, :description, :reporter_name,
            :reporter_phone, ST_SetSRID(ST_MakePoint(:x, :y), 4490), :input_datum, :lon, :lat, :version,
            (SELECT id FROM grids WHERE version_id = :version AND code = :grid_code),
            :grid_code, :village_code, :town_code, :county_code, :risk_colour, :status,
            'village', :dispatched_at, :deadline)
    ON CONFLICT (external_id) DO NOTHING
    RETURNING id
""")


def bind_people(
    connection: Connection, incident_id: int, units: list[str], risk_colour: str, tier: str,
    now: datetime, settings: Settings,
) -> list:
    """Bind the people the rules name for the case's place, colour and tier (vacancies recorded as
    such), releasing whoever was bound at that tier before. Returns the people bound."""
    bound = responsible(connection, units, local_day(now, settings.timezone), risk_colour, tier)[tier]
    connection.execute(text("""
        UPDATE incident_officers SET released_at = :now
         WHERE incident_id = :incident AND tier = :tier AND released_at IS NULL
    """), {"incident": incident_id, "tier": tier, "now": now})
    if bound:
        connection.execute(text("""
            INSERT INTO incident_officers (incident_id, tier, position, role, officer_id, unit_code, bound_at)
            VALUES (:incident, :tier, :position, :role, (SELECT id FROM officers WHERE code = :officer), :unit, :now)
        """), [{"incident": incident_id, "tier": tier, "position": p.position, "role": p.role,
                "officer": p.officer_code, "unit": p.unit_code, "now": now} for p in bound])
    return bound


def record_with(
    connection: Connection, new: NewIncident, *, actor: str = "system", settings: Settings | None = None
) -> tuple[int, bool]:
    """Record ``new`` in the caller's transaction. Returns ``(id, created)``.

    ``created`` is False when an incident with the same external id was already stored: nothing
    is written then, whatever the new payload says.
    """
    settings = settings or get_settings()
    new = replace(new, external_id=(new.external_id or "").strip())
    existing = connection.execute(
        text("SELECT id FROM incidents WHERE external_id = :e"), {"e": new.external_id}
    ).scalar()
    if existing is not None:
        return existing, False
    _validate(connection, new)
    now = datetime.now(timezone.utc)
    reported_at = as_aware(new.reported_at, settings.timezone)
    if reported_at > now + FUTURE_TOLERANCE:
        raise InvalidInput(f"reported_at {reported_at.isoformat()} is in the future", field="reported_at")
    x, y = to_storage(new.lon, new.lat, new.crs)
    try:
        version = version_in_force(connection, reported_at)
    except NotFound as exc:
        raise InvalidInput(f"reported_at {reported_at.isoformat()}: {exc.message}", field="reported_at") from exc
    require_covered(coverage(connection, version, settings.coverage_margin_m, settings.metric_srid),
                    new.lon, new.lat, new.crs, (x, y))
    place, inside = find_place(connection, version.id, x, y)
    dispatched = inside and place is not None
    deadline = now + time_limit(connection, new.category, new.risk_colour) if dispatched else None
    row = connection.execute(INSERT, {
        "external_id": new.external_id, "source": new.source, "category": new.category,
        "reported_at": reported_at, "description": new.description, "reporter_name": new.reporter_name,
        "reporter_phone": new.reporter_phone, "x": x, "y": y,
        "lon": new.lon, "lat": new.lat, "version": version.id, "input_datum": datum.parse_datum(new.crs),
        "grid_code": place.grid_code if dispatched else None,
        "village_code": place.village_code if dispatched else None,
        "town_code": place.town_code if dispatched else None,
        "county_code": place.county_code if dispatched else None,
        "risk_colour": new.risk_colour, "status": "dispatched" if dispatched else "reported",
        "dispatched_at": now if dispatched else None, "deadline": deadline,
    }).first()
    if row is None:  # another request stored the same external id between our check and insert
        return connection.execute(
            text("SELECT id FROM incidents WHERE external_id = :e"), {"e": new.external_id}
        ).scalar_one(), False
    incident_id = row[0]
    events = [{"action": "report", "actor": new.source, "from": None, "to": "reported", "at": reported_at,
               "note": None}]
    if dispatched:
        bound = bind_people(connection, incident_id, place.units, new.risk_colour, "village", now, settings)
        note = dispatch_note(place.grid_code, place.grid_name, [p.role for p in bound if p.vacant])
        events.append({"action": "dispatch", "actor": "system", "from": "reported", "to": "dispatched", "at": now,
                       "note": note})
        notify_bound(connection, [incident_id], "dispatch", note)
    elif place is not None:
        events[0]["note"] = outside_note(place.grid_code, place.grid_name, place.distance_m)
    connection.execute(text("""
        INSERT INTO incident_events (incident_id, at, actor, action, from_status, to_status, note)
        VALUES (:incident, :at, :actor, :action, :from, :to, :note)
    """), [{"incident": incident_id, **event} for event in events])
    connection.execute(text("""
        INSERT INTO audit_log (actor, action, entity, entity_id, after)
        VALUES (:actor, 'create', 'incident', :id, CAST(:after AS jsonb))
    """), {"actor": actor, "id": str(incident_id),
           "after": json.dumps({"external_id": new.external_id, "grid_code": place.grid_code if dispatched else None,
                                "category": new.category, "risk_colour": new.risk_colour})})
    return incident_id, True


def _validate(connection: Connection, new: NewIncident) -> None:
    if not new.external_id or len(new.external_id) > 100:
        raise InvalidInput("external_id must be 1 to 100 characters", field="external_id")
    check_colour(new.risk_colour)
    _check_known(connection, "category", "categories", new.category)
    _check_known(connection, "source", "sources", new.source)


def record_incident(engine: Engine, new: NewIncident, *, actor: str = "system") -> tuple[dict, bool]:
    """Record an incident (idempotent on ``external_id``) and return it as stored, and whether new."""
    with engine.begin() as connection:
        incident_id, created = record_with(connection, new, actor=actor)
    with engine.connect() as connection:
        return get_incident(connection, incident_id), created


# -- reading -------------------------------------------------------------------------------------

_SELECT = """
    SELECT i.id, i.external_id, i.source, i.category, i.reported_at, i.description,
           i.reporter_name, i.reporter_phone, ST_X(i.geom) AS lon, ST_Y(i.geom) AS lat,
           i.input_datum, i.input_lon, i.input_lat, i.risk_colour, i.status, i.tier,
           i.dispatched_at, i.deadline, i.resolved_at, i.closed_at, i.satisfaction, i.visited_at,
           i.merged_into_id, i.urge_count,
           i.grid_code, g.name AS grid_name, g.level AS grid_level,
           i.village_code, v.name AS village_name, i.town_code, t.name AS town_name,
           i.county_code, c.name AS county_name, bv.id AS version_id, bv.name AS version_name
      FROM incidents i
      LEFT JOIN grids g ON g.id = i.grid_id
      LEFT JOIN admin_units v ON v.version_id = i.boundary_version_id AND v.code = i.village_code
      LEFT JOIN admin_units t ON t.version_id = i.boundary_version_id AND t.code = i.town_code
      LEFT JOIN admin_units c ON c.version_id = i.boundary_version_id AND c.code = i.county_code
      LEFT JOIN boundary_versions bv ON bv.id = i.boundary_version_id
"""


def _iso(value):
    return value.isoformat() if isinstance(value, datetime) else value


def _unit(code, name):
    return {"code": code, "name": name} if code else None


def _incident_dict(row) -> dict:
    return {
        "id": row["id"],
        "external_id": row["external_id"],
        "source": row["source"],
        "category": row["category"],
        "reported_at": _iso(row["reported_at"]),
        "description": row["description"],
        "reporter": {"name": row["reporter_name"], "phone": row["reporter_phone"]}
        if row["reporter_name"] or row["reporter_phone"] else None,
        "location": {"lon": row["lon"], "lat": row["lat"], "crs": "cgcs2000"},
        "input_location": {"lon": row["input_lon"], "lat": row["input_lat"], "crs": row["input_datum"]},
        "boundary_version": {"id": row["version_id"], "name": row["version_name"]},
        "grid": {"code": row["grid_code"], "name": row["grid_name"], "level": row["grid_level"]}
        if row["grid_code"] else None,
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
        "allowed_actions": allowed_actions(row["status"]),
    }


def require_visible(connection: Connection, incident_id: int, scope: Jurisdiction | None = None) -> None:
    """NotFound unless the incident exists within ``scope``: one outside is not confirmed to exist."""
    scope = scope or EVERYTHING
    found = connection.execute(text(f"SELECT 1 FROM incidents i WHERE i.id = :id AND {scope.incidents('i')}"),
                               {"id": incident_id, **scope.params()}).first()
    if found is None:
        raise NotFound(f"no incident with id {incident_id}", field="id")


def get_incident(connection: Connection, incident_id: int, *, timeline: bool = True,
                 scope: Jurisdiction | None = None) -> dict:
    """One incident with its bound officers and, if asked, its timeline (NotFound outside ``scope``)."""
    scope = scope or EVERYTHING
    row = connection.execute(text(_SELECT + f" WHERE i.id = :id AND {scope.incidents('i')}"),
                             {"id": incident_id, **scope.params()}).mappings().first()
    if row is None:
        raise NotFound(f"no incident with id {incident_id}", field="id")
    incident = _incident_dict(row)
    incident["officers"] = [dict(r) for r in connection.execute(text("""
        SELECT b.tier, b.position, b.role, r.name_zh AS role_name, b.officer_id IS NULL AS vacant,
               o.code AS officer_code, o.name, o.phone, b.unit_code
          FROM incident_officers b JOIN roles r ON r.code = b.role
          LEFT JOIN officers o ON o.id = b.officer_id
         WHERE b.incident_id = :id AND b.released_at IS NULL
         ORDER BY array_position(CAST(:tiers AS text[]), b.tier), b.position, b.role, o.code
    """), {"id": incident_id, "tiers": list(TIERS)}).mappings()]
    if timeline:
        incident["timeline"] = [
            {**dict(r), "at": _iso(r["at"])}
            for r in connection.execute(text("""
                SELECT at, actor, action, from_status, to_status, note FROM incident_events
                 WHERE incident_id = :id ORDER BY at, id
            """), {"id": incident_id}).mappings()
        ]
    return incident


@dataclass(frozen=True)
class IncidentFilter:
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


def list_incidents(
    connection: Connection, where: IncidentFilter, *, limit: int = 100, offset: int = 0,
    scope: Jurisdiction | None = None,
) -> tuple[list[dict], int]:
    """A page of incidents matching ``where`` within ``scope``, newest first, and the number matching in all."""
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"limit must be 1 to {MAX_PAGE}, got {limit}", field="limit")
    if offset < 0:
        raise InvalidInput("offset must not be negative", field="offset")
    scope = scope or EVERYTHING
    clauses, params = [scope.incidents("i")], scope.params()
    if where.start:
        clauses.append("i.reported_at >= :start")
        params["start"] = where.start
    if where.end:
        clauses.append("i.reported_at < :end")
        params["end"] = where.end
    if where.start and where.end and where.start >= where.end:
        raise InvalidInput("start must be before end", field="start")
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
            raise InvalidInput("bbox must be minlon,minlat,maxlon,maxlat with min < max", field="bbox")
        clauses.append("i.geom && ST_MakeEnvelope(:minx, :miny, :maxx, :maxy, 4490)")
        params.update(minx=minx, miny=miny, maxx=maxx, maxy=maxy)
    condition = (" WHERE " + " AND ".join(clauses)) if clauses else ""
    expanding = [bindparam(n, expanding=True) for n in ("category", "status", "source") if n in params]
    page = text(_SELECT + condition + " ORDER BY i.reported_at DESC, i.id DESC LIMIT :limit OFFSET :offset")
    count = text("SELECT count(*) FROM incidents i" + condition)
    if expanding:
        page, count = page.bindparams(*expanding), count.bindparams(*expanding)
    rows = connection.execute(page, {**params, "limit": limit, "offset": offset}).mappings()
    items = [_incident_dict(r) for r in rows]
    total = connection.execute(count, params).scalar_one()
    return items, total
