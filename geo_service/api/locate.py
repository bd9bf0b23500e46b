"""``GET /locate``: the dispatcher's "where is this?"."""

from __future__ import annotations

import asyncio
import weakref

import orjson
import psycopg2
from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from sqlalchemy.engine import Engine

from geo_service.api.dependencies import Moment, allow
from geo_service.auth import audit
from geo_service.auth.jurisdiction import Jurisdiction
from geo_service.auth.personal import officers_shown, present_officers
from geo_service.auth.principal import Principal
from geo_service.auth.read_recorder import ReadRecorder
from geo_service.db.engine import each_statement_alone
from geo_service.db.kept_only import KeptOnly, NotKept
from geo_service.lookup.cameras import CameraView
from geo_service.lookup.locate import Location, cameras_around, locate_with
from geo_service.settings import Settings
from geo_service.vocabulary import Datum, RiskColour, Tier

router = APIRouter(tags=["dispatch"])


@router.get("/locate", summary="Grid, hierarchy, responsible officers and cameras of a point")
async def get_locate(
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
    state = request.app.state
    options = {"risk_colour": risk_colour, "tier": tier, "settings": state.settings, "scope": principal.jurisdiction}
    kept = KeptOnly(state.engine)
    try:
        # On the event loop, from what the worker keeps: no thread, no round trip.
        location = locate_with(kept, lon, lat, crs, at, with_cameras=False, **options)
    except NotKept:
        body = await run_in_threadpool(
            _locate_on_thread, state.engine, principal, lon, lat, crs, at, camera_radius_m, options
        )
        return _json(body)
    body = location.to_dict()
    read = officers_shown(_officers(body), principal)
    # The read's entry goes to the database while the cameras are searched; the answer waits for it.
    entry = ("read_personal", "grid", _grid_code(body))
    writing = _recorder(request.app).record_soon(principal.name, *entry, after={"officers": read}) if read else None
    try:
        try:
            cameras = cameras_around(kept, location, camera_radius_m, state.settings, principal.jurisdiction)
        except NotKept:
            cameras = await run_in_threadpool(
                _cameras_on_thread, state.engine, location, camera_radius_m, state.settings, principal.jurisdiction
            )
    finally:
        if writing is not None:  # written, or raised: no answer shows what the log does not hold
            await _recorded(request.app, writing, principal.name, entry, read)
    body["cameras"] = [camera.to_dict() for camera in cameras]
    return _json(body)


def _json(body: dict) -> Response:
    # to_dict() is JSON-ready already: skip FastAPI's generic encoder on this hot path.
    return Response(orjson.dumps(body), media_type="application/json")


async def _recorded(app, writing: asyncio.Future, actor: str, entry: tuple[str, str, str | None], read: list[str]):
    """Once the read's entry is on the audit log: written by ``writing``, else on a thread."""
    try:
        await writing
    except (TimeoutError, psycopg2.Error, OSError):
        # The worker's own connection failed: write it as a thread would, or fail as it would.
        await run_in_threadpool(_record_on_thread, app.state.engine, actor, entry, read)


def _locate_on_thread(
    engine: Engine, principal: Principal, lon, lat, crs, at, camera_radius_m: float | None, options: dict
) -> dict:
    # Reads, and one entry of what was read: nothing to hold in one transaction.
    with each_statement_alone(engine) as connection:
        location = locate_with(connection, lon, lat, crs, at, camera_radius_m=camera_radius_m, **options)
        body = location.to_dict()
        present_officers(connection, _officers(body), principal, "grid", _grid_code(body))
    return body


def _cameras_on_thread(
    engine: Engine, location: Location, camera_radius_m: float | None, settings: Settings, scope: Jurisdiction
) -> list[CameraView]:
    with each_statement_alone(engine) as connection:
        return cameras_around(connection, location, camera_radius_m, settings, scope)


def _record_on_thread(engine: Engine, actor: str, entry: tuple[str, str, str | None], read: list[str]) -> None:
    with each_statement_alone(engine) as connection:
        audit.record_read(connection, actor, *entry, after={"officers": read})


def _officers(body: dict) -> list[dict]:
    """Every officer an answer names: those responsible and those above them."""
    return body["officers"] + [o for tier in body["escalation"] for o in tier["officers"]]


def _grid_code(body: dict) -> str | None:
    return body["grid"]["code"] if body["grid"] else None


def _recorder(app) -> ReadRecorder:
    recorder = getattr(app.state, "read_recorder", None)
    if recorder is None:
        recorder = app.state.read_recorder = ReadRecorder(app.state.engine)
        weakref.finalize(app, recorder.close)  # an app dropped without its shutdown (a test's) closes it too
    return recorder
