"""``GET /locate``: the dispatcher's "where is this?"."""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from geo_service.api.dependencies import Moment, allow
from geo_service.auth.personal import present_officers
from geo_service.auth.principal import Principal
from geo_service.db.engine import each_statement_alone
from geo_service.lookup.locate import locate_with
from geo_service.vocabulary import Datum, RiskColour, Tier

router = APIRouter(tags=["dispatch"])


@router.get("/locate", summary="Grid, hierarchy, responsible officers and cameras of a point")
def get_locate(
    request: Request,
    principal: Principal = Depends(allow("locate")),
    lon: float = Query(..., description="Longitude in the datum `crs`."),
    lat: float = Query(..., description="Latitude in the datum `crs`."),
    crs: Datum = Query(
        "cgcs2000", description="Datum of lon/lat: cgcs2000, wgs84, gcj02 (AMap, Tencent), bd09 (Baidu)."
    ),
    at: Moment | None = Query(
        None, description="Moment whose boundaries and officers apply (default now; no zone = the county's time)."
    ),
    risk_colour: RiskColour = Query("blue", description="Risk colour of the case: chooses the rules."),
    tier: Tier = Query("village", description="Tier handling the case."),
    camera_radius_m: float | None = Query(
        None,
        gt=0,
        le=2000,
        description="List cameras within this distance even if they do not see the point (default: settings, 300 m).",
    ),
) -> Response:
    """The finest grid containing the point, its village, town and county, the officers the
    responsibility rules name (vacancies shown as such) with the escalation chain above them,
    and the cameras whose view holds the point (then others near it). A point outside every grid
    but within the covered area answers with `grid` null and the `nearest_grid`.
    """
    settings = request.app.state.settings
    # Reads, and one entry of what was read: nothing to hold in one transaction.
    with each_statement_alone(request.app.state.engine) as connection:
        location = locate_with(
            connection,
            lon,
            lat,
            crs,
            at,
            risk_colour=risk_colour,
            tier=tier,
            camera_radius_m=camera_radius_m,
            settings=settings,
            scope=principal.jurisdiction,
        )
        body = location.to_dict()
        people = body["officers"] + [o for tier_ in body["escalation"] for o in tier_["officers"]]
        present_officers(connection, people, principal, "grid", body["grid"]["code"] if body["grid"] else None)
    # to_dict() is JSON-ready already: skip FastAPI's generic encoder on this hot path.
    return Response(orjson.dumps(body), media_type="application/json")
