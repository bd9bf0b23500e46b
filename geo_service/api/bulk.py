"""Batch endpoints: assign many points, record many incidents."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from geo_service.api.dependencies import EngineDep, Moment, SettingsDep, allow
from geo_service.api.incidents import IncidentIn
from geo_service.api.limits import expensive
from geo_service.auth.principal import Principal
from geo_service.cases.batch import import_incidents
from geo_service.errors import TooLarge
from geo_service.i18n import t
from geo_service.lookup.bulk_assign import assign_points, snapshot
from geo_service.vocabulary import Datum

router = APIRouter(tags=["bulk"], dependencies=[Depends(expensive)])

MAX_POINTS = 100_000
MAX_INCIDENTS = 10_000


class PointIn(BaseModel):
    lon: float
    lat: float
    crs: Datum | None = Field(None, description="Overrides the batch's crs.")


class AssignIn(BaseModel):
    crs: Datum = "cgcs2000"
    at: Moment | None = Field(None, description="Use the boundaries in force at this moment (default now).")
    points: list[PointIn]


class BatchIn(BaseModel):
    all_or_nothing: bool = Field(False, description="Record nothing if any row is in error.")
    incidents: list[IncidentIn]


def _records(frame: pd.DataFrame) -> list[dict]:
    """Rows as JSON objects, missing values as null."""
    return json.loads(frame.to_json(orient="records", force_ascii=False))


@router.post("/assign", summary=f"Assign up to {MAX_POINTS:,} points to grids")
def post_assign(
    body: AssignIn,
    engine: EngineDep,
    settings: SettingsDep,
    principal: Principal = Depends(allow("locate")),
) -> dict:
    """One result per point, in order: `status` assigned, outside_grids (nearest grid given) or error."""
    if len(body.points) > MAX_POINTS:
        raise TooLarge(
            t(
                "{points_count:,} points: at most {MAX_POINTS:,} a request; split the batch or use `geo-service assign`",
                points_count=len(body.points),
                MAX_POINTS=MAX_POINTS,
            ),
            field="points",
        )
    lon = np.array([p.lon for p in body.points], dtype=float)
    lat = np.array([p.lat for p in body.points], dtype=float)
    datums = np.array([p.crs or body.crs for p in body.points], dtype=object)
    with engine.connect() as connection:
        snap = snapshot(connection, body.at, settings)
    result = assign_points(snap, lon, lat, datums)
    # A point of another county, town or village than the user's is an error that names no grid.
    away = (result["status"] != "error").to_numpy() & ~principal.jurisdiction.holds_rows(result)
    if away.any():
        result.loc[away, "status"] = "error"
        result.loc[away, "error"] = f"outside your jurisdiction ({principal.jurisdiction.name})"
        for column in result.columns:
            if column.endswith(("_code", "_name", "_level", "distance_m")):
                result.loc[away, column] = None
    return {"boundary_versions": snap.boundaries.to_dict(), "results": _records(result)}


@router.post("/incidents/batch", summary=f"Record up to {MAX_INCIDENTS:,} incidents at once")
def post_incident_batch(
    body: BatchIn,
    engine: EngineDep,
    settings: SettingsDep,
    principal: Principal = Depends(allow("incidents.write")),
) -> JSONResponse:
    """One result per row, in order: created, existing (stored already), duplicate (repeated in the
    batch) or error with the reason. With `all_or_nothing`, one bad row means 422 and nothing stored."""
    if len(body.incidents) > MAX_INCIDENTS:
        raise TooLarge(
            t(
                "{incidents_count:,} incidents: at most {MAX_INCIDENTS:,} a request",
                incidents_count=len(body.incidents),
                MAX_INCIDENTS=MAX_INCIDENTS,
            ),
            field="incidents",
        )
    frame = pd.DataFrame([i.model_dump() for i in body.incidents], columns=list(IncidentIn.model_fields))
    result = import_incidents(
        engine,
        frame,
        frame["lon"].to_numpy(float),
        frame["lat"].to_numpy(float),
        frame["crs"].to_numpy(object),
        all_or_nothing=body.all_or_nothing,
        actor=principal.name,
        settings=settings,
        scope=principal.jurisdiction,
    )
    counts = {status: result.count(status) for status in ("created", "existing", "duplicate", "error")}
    status_code = 422 if (body.all_or_nothing and counts["error"]) else 200
    return JSONResponse(
        {"committed": result.committed, "counts": counts, "rows": _records(result.rows)}, status_code=status_code
    )
