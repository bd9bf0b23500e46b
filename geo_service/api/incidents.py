"""``/incidents``: record an incident (idempotent on its external id) and read incidents back."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field

from geo_service.api.dependencies import BBoxParam, EngineDep, Moment, Page, ReaderLanguage, SettingsDep, allow, page
from geo_service.auth.personal import present_incident, present_incidents
from geo_service.auth.principal import Principal
from geo_service.cases.notes import localize_timeline
from geo_service.cases.queries import MAX_PAGE, IncidentFilter, get_incident, list_incidents, require_visible
from geo_service.cases.recording import NewIncident, record_with
from geo_service.errors import Forbidden, NotFound
from geo_service.i18n import t
from geo_service.vocabulary import Datum, RiskColour

router = APIRouter(prefix="/incidents", tags=["incidents"])


class IncidentIn(BaseModel):
    external_id: str = Field(
        ..., min_length=1, max_length=100, description="The sender's id: posting it again returns the stored incident."
    )
    lon: float
    lat: float
    crs: Datum = Field("cgcs2000", description="Datum of lon/lat.")
    category: str = Field(..., max_length=40, description="A code from the categories table, e.g. dispute.")
    source: str = Field(..., max_length=40, description="A code from the sources table, e.g. hotline_12345.")
    reported_at: Moment = Field(..., description="When it was reported (no zone = the county's time).")
    risk_colour: RiskColour = "blue"
    description: str | None = Field(None, max_length=4000)
    reporter_name: str | None = Field(None, max_length=100)
    reporter_phone: str | None = Field(None, max_length=20)
    matter: str | None = Field(
        None,
        max_length=40,
        description="A matter of the county's list under the category (GET /matters), e.g. water_supply: "
        "the routing rules send the case to the department that handles it.",
    )


@router.post("", status_code=201, summary="Record an incident; it is assigned to its grid and people at once")
def post_incident(
    body: IncidentIn,
    response: Response,
    engine: EngineDep,
    settings: SettingsDep,
    language: ReaderLanguage,
    principal: Principal = Depends(allow("incidents.write")),
) -> dict:
    """201 with the incident as assigned: grid, hierarchy, officers bound, deadline. Posting an
    external id already stored answers 200 with the stored incident and writes nothing. An
    incident outside the user's jurisdiction is refused (403) and nothing is stored."""
    scope = principal.jurisdiction
    with engine.begin() as connection:
        incident_id, created = record_with(
            connection, NewIncident(**body.model_dump()), actor=principal.name, settings=settings
        )
        try:
            require_visible(connection, incident_id, scope)
        except NotFound:  # raised inside the transaction: the incident is rolled back with it
            raise Forbidden(
                t("the point lies outside your jurisdiction ({name}); nothing was recorded", name=scope.name),
                field="lon",
            ) from None
    with engine.begin() as connection:
        incident = present_incident(connection, get_incident(connection, incident_id, scope=scope), principal)
    response.status_code = 201 if created else 200
    response.headers["Location"] = f"/incidents/{incident_id}"
    return localize_timeline(incident, language)


@router.get("/{incident_id}", summary="One incident, with its officers and timeline")
def read_incident(
    incident_id: int,
    engine: EngineDep,
    language: ReaderLanguage,
    principal: Principal = Depends(allow("incidents.read")),
) -> dict:
    """404 for an incident outside the user's jurisdiction, as for one that does not exist. The
    service's own notes on the timeline are in the reader's language (Accept-Language)."""
    with engine.begin() as connection:
        incident = present_incident(
            connection, get_incident(connection, incident_id, scope=principal.jurisdiction), principal
        )
    return localize_timeline(incident, language)


@router.get("", summary="Incidents matching filters, newest first, paged")
def read_incidents(
    request: Request,
    engine: EngineDep,
    settings: SettingsDep,
    bbox: BBoxParam,
    paging: Page = Depends(page(MAX_PAGE)),
    principal: Principal = Depends(allow("incidents.read")),
    start: Moment | None = Query(None, description="Reported at or after (no zone = the county's time)."),
    end: Moment | None = Query(None, description="Reported before."),
    category: list[str] | None = Query(None),
    status: list[str] | None = Query(None),
    source: list[str] | None = Query(None),
    grid: str | None = Query(
        None, pattern=r"^\d{15}(\d{3}){0,2}$", description="Grid code (a level-1 code includes its sub-grids)."
    ),
    village: str | None = Query(None, pattern=r"^\d{12}$"),
    town: str | None = Query(None, pattern=r"^\d{12}$"),
) -> dict:
    limit, offset = paging
    where = IncidentFilter(
        start=start,
        end=end,
        category=category,
        status=status,
        source=source,
        grid=grid,
        village=village,
        town=town,
        bbox=bbox,
    )
    with engine.begin() as connection:
        items, total = list_incidents(
            connection, where, settings.place.timezone, limit=limit, offset=offset, scope=principal.jurisdiction
        )
        items = present_incidents(connection, items, principal)
    links = []
    if offset + limit < total:
        links.append({"rel": "next", "href": str(request.url.include_query_params(offset=offset + limit))})
    return {"total": total, "limit": limit, "offset": offset, "items": items, "links": links}
