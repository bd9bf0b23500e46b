"""Recording one incident.

An incident is assigned when it is recorded: to the grid that held its location under the
boundaries in force when it was *reported*, and to the people the rules name *now*, who must
handle it. Recording is idempotent on ``external_id``: the same report sent twice (a retry, a
second click) is stored once, and the second answer is the incident already stored. The writing
itself is ``geo_service.cases.intake``'s, the same for one incident as for a million. A report
of a matter (供水, a sub-category of its category) goes, by the routing rules, to the department
that handles it (``geo_service.cases.transfers``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import pandas as pd
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from geo_service.boundaries.versions import in_force
from geo_service.cases.intake import record_new
from geo_service.cases.queries import get_incident
from geo_service.cases.responsibility import check_colour
from geo_service.cases.routing import check_matter
from geo_service.cases.transfers import route_new
from geo_service.coordinates import datum
from geo_service.coordinates.coverage import coverage, require_covered, to_storage
from geo_service.db.partitions import NO_COUNTY
from geo_service.errors import InvalidInput, NotFound
from geo_service.i18n import t
from geo_service.lookup.locate import find_place
from geo_service.settings import Settings
from geo_service.times import as_aware

# A report may arrive late, but not from the future (clocks drift: allow a little).
FUTURE_TOLERANCE = timedelta(minutes=10)


@dataclass(frozen=True)
class NewIncident:
    """A report as it comes in; ``reported_at`` without a zone is the county's time."""

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
    matter: str | None = None  # a matter of the county's list under ``category``


def _check_known(connection: Connection, field: str, table: str, value: str) -> None:
    known = [r[0] for r in connection.execute(text(f"SELECT code FROM {table} ORDER BY code"))]
    if value not in known:
        raise InvalidInput(
            t("unknown {field} {value!r}; known: {known}", field=field, value=value, known=", ".join(known)),
            field=field,
        )


def _validate(connection: Connection, new: NewIncident) -> None:
    if not new.external_id or len(new.external_id) > 100:
        raise InvalidInput(t("external_id must be 1 to 100 characters"), field="external_id")
    check_colour(new.risk_colour)
    _check_known(connection, "category", "categories", new.category)
    _check_known(connection, "source", "sources", new.source)
    if new.matter is not None:
        check_matter(connection, new.matter, new.category)


def _stored(connection: Connection, external_id: str, county_code: str) -> int | None:
    """The incident a county already holds under ``external_id`` (ids are a county's own)."""
    return connection.execute(
        text("SELECT id FROM incidents WHERE external_id = :e AND county_code = :c"),
        {"e": external_id, "c": county_code},
    ).scalar()


def record_with(connection: Connection, new: NewIncident, *, actor: str, settings: Settings) -> tuple[int, bool]:
    """Record ``new`` in the caller's transaction, by ``actor`` (named in the audit log).
    Returns ``(id, created)``.

    ``created`` is False when the county where the report lies already holds an incident with the
    same external id (external ids come from a county's own systems): nothing is written then.
    """
    new = replace(new, external_id=(new.external_id or "").strip())
    _validate(connection, new)
    place_settings = settings.place
    now = datetime.now(UTC)
    reported_at = as_aware(new.reported_at, place_settings.timezone)
    if reported_at > now + FUTURE_TOLERANCE:
        raise InvalidInput(
            t("reported_at {value} is in the future", value=reported_at.isoformat()), field="reported_at"
        )
    x, y = to_storage(new.lon, new.lat, new.crs)
    try:
        boundaries = in_force(connection, reported_at)
    except NotFound as exc:
        raise InvalidInput(
            t("reported_at {value}: {message}", value=reported_at.isoformat(), message=exc.message), field="reported_at"
        ) from exc
    require_covered(
        coverage(connection, boundaries, place_settings.coverage_margin_m),
        new.lon,
        new.lat,
        new.crs,
        (x, y),
    )
    place, inside = find_place(connection, boundaries, x, y, settings)
    county = place.county_code if place is not None else NO_COUNTY
    existing = _stored(connection, new.external_id, county)
    if existing is not None:
        return existing, False
    case = pd.DataFrame(
        [
            {
                "external_id": new.external_id,
                "source": new.source,
                "category": new.category,
                "reported_at": reported_at,
                "description": new.description,
                "reporter_name": new.reporter_name,
                "reporter_phone": new.reporter_phone,
                "risk_colour": new.risk_colour,
                "lon": x,
                "lat": y,
                "input_datum": datum.parse_datum(new.crs),
                "input_lon": new.lon,
                "input_lat": new.lat,
                "version_id": place and place.version_id,
                "inside": inside and place is not None,
                "grid_code": place and place.grid_code,
                "grid_name": place and place.grid_name,
                "village_code": place and place.village_code,
                "town_code": place and place.town_code,
                "county_code": place and place.county_code,
                "nearest_distance_m": place and place.distance_m,
            }
        ]
    )
    written = record_new(connection, case, now, place_settings.timezone, actor=actor, audit_each=True)
    if written.empty:  # another request stored the same external id between our check and insert
        return _stored(connection, new.external_id, county), False
    incident_id = int(written["id"].iloc[0])
    if new.matter is not None:
        route_new(connection, {incident_id: new.matter}, now, signed_in=actor)
    return incident_id, True


def record_incident(engine: Engine, new: NewIncident, *, actor: str, settings: Settings) -> tuple[dict, bool]:
    """Record an incident (idempotent on ``external_id``) and return it as stored, and whether new."""
    with engine.begin() as connection:
        incident_id, created = record_with(connection, new, actor=actor, settings=settings)
    with engine.connect() as connection:
        return get_incident(connection, incident_id), created
