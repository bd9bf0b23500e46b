"""``/incidents``: record an incident (idempotent on its external id) and read incidents back."""

from __future__ import annotations


from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field

from geo_service.api.auth import allow
from geo_service.api.params import Moment
from geo_service.auth import audit
from geo_service.auth.personal import present_incident, present_incidents
from geo_service.auth.principal import Principal
from geo_service.coordinates.datum import Datum
from geo_service.db.models import RiskColour
from geo_service.errors import Forbidden, InvalidInput, NotFound
from geo_service.cases.recording import (
    MAX_PAGE, IncidentFilter, NewIncident, get_incident, list_incidents, record_with, require_visible,
)
from geo_service.boundaries.versions import as_aware

router = APIRouter(prefix="/incidents", tags=["incidents"])


class IncidentIn(BaseModel):
    external_id: str = Field(..., min_length=1, max_length=100, description="The sender's id: posting it again returns the stored incident.")
    lon: float
    lat: float
    crs: Datum = Field("cgcs2000", description="Datum of lon/lat.")
    category: str = Field(..., max_length=40, description="A code from the categories table, e.g. dispute.")
    source: str = Field(..., max_length=40, description="A code from the sources table, e.g. hotline_12345.")
    reported_at: Moment = Field(..., description="When it was reported (no zone = Beijing time).")
    risk_colour: RiskColour = "blue"
    description: str | None = Field(None, max_length=4000)
    reporter_name: str | None = Field(None, max_length=100)
    reporter_phone: str | None = Field(None, max_length=20)


@router.post("", status_code=201, summary="Record an incident; it is assigned to its grid and people at once")
def post_incident(body: IncidentIn, request: Request, response: Response,
                  principal: Principal = Depends(allow("incidents.write"))) -> dict:
    """201 with the incident as assigned: grid, hierarchy, officers bound, deadline. Posting an
    external id already stored answers 200 with the stored incident and writes nothing. An
    incident outside the user's jurisdiction is refused (403) and nothing is stored."""
    engine = request.app.state.engine
    scope = principal.jurisdiction
    with engine.begin() as connection:
        audit.sign(connection, principal.name)
        incident_id, created = record_with(connection, NewIncident(**body.model_dump()), actor=principal.name,
                                           settings=request.app.state.settings)
        try:
            require_visible(connection, incident_id, scope)
        except NotFound:  # raised inside the transaction: the incident is rolled back with it
            raise Forbidden(f"the point lies outside your jurisdiction ({scope.name}); nothing was recorded",
                            field="lon") from None
    with engine.begin() as connection:
        incident = present_incident(connection, get_incident(connection, incident_id, scope=scope), principal)
    response.status_code = 201 if created else 200
    response.headers["Location"] = f"/incidents/{incident_id}"
    return incident


@router.get("/{incident_id}", summary="One incident, with its officers and timeline")
def read_incident(incident_id: int, request: Request, principal: Principal = Depends(allow("incidents.read"))) -> dict:
    """404 for an incident outside the user's jurisdiction, as for one that does not exist."""
    with request.app.state.engine.begin() as connection:
        return present_incident(connection, get_incident(connection, incident_id, scope=principal.jurisdiction),
                                principal)


def _bbox(value: str | None) -> tuple[float, float, float, float] | None:
    if value is None:
        return None
    try:
        parts = tuple(float(p) for p in value.split(","))
    except ValueError:
        parts = ()
    if len(parts) != 4:
        raise InvalidInput("bbox must be four numbers: minlon,minlat,maxlon,maxlat (CGCS2000)", field="bbox")
    return parts  # type: ignore[return-value]


@router.get("", summary="Incidents matching filters, newest first, paged")
def read_incidents(
    request: Request,
    principal: Principal = Depends(allow("incidents.read")),
    start: Moment | None = Query(None, description="Reported at or after (no zone = Beijing time)."),
    end: Moment | None = Query(None, description="Reported before."),
    category: list[str] | None = Query(None),
    status: list[str] | None = Query(None),
    source: list[str] | None = Query(None),
    grid: str | None = Query(None, pattern=r"^\d{15}(\d{3}){0,2}$", description="Grid code (a level-1 code includes its sub-grids)."),
    village: str | None = Query(None, pattern=r"^\d{12}$"),
    town: str | None = Query(None, pattern=r"^\d{12}$"),
    bbox: str | None = Query(None, description="minlon,minlat,maxlon,maxlat in CGCS2000."),
    limit: int = Query(100, ge=1, le=MAX_PAGE),
    offset: int = Query(0, ge=0, le=10_000_000),
) -> dict:
    zone = request.app.state.settings.timezone
    where = IncidentFilter(
        start=as_aware(start, zone) if start else None, end=as_aware(end, zone) if end else None,
        category=category, status=status, source=source, grid=grid, village=village, town=town, bbox=_bbox(bbox),
    )
    with request.app.state.engine.begin() as connection:
        items, total = list_incidents(connection, where, limit=limit, offset=offset, scope=principal.jurisdiction)
        items = present_incidents(connection, items, principal)
    links = []
    if offset + limit < total:
        links.append({"rel": "next", "href": str(request.url.include_query_params(offset=offset + limit))})
    return {"total": total, "limit": limit, "offset": offset, "items": items, "links": links}
