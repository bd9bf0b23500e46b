"""``/healthz``: the library's health check (``geo_service.health``) as 200, or 503 when unavailable."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from geo_service.api.dependencies import EngineDep
from geo_service.health import check_health

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Health of the service and its database")
def healthz(engine: EngineDep) -> JSONResponse:
    """200 when the database answers, has PostGIS and the current schema; 503 otherwise.

    A database with the current schema but no boundaries in force answers 200 with status
    "degraded": the service runs, but cannot yet place an incident.
    """
    health = check_health(engine)
    return JSONResponse(health.to_dict(), status_code=200 if health.available else 503)
