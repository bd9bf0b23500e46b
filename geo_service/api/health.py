"""``/healthz``: the library's health check (``geo_service.health``) as 200, or 503 when unavailable;
``/healthz/live`` (the process answers) and ``/healthz/ready`` (it can serve: 503 until the database
answers, is at the newest schema and has boundaries in force) for orchestrators and load balancers.
"""

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


@router.get("/healthz/live", include_in_schema=False)
def live() -> JSONResponse:
    """200 while the process answers: restart it when this fails. Touches nothing else."""
    return JSONResponse({"status": "up"})


@router.get("/healthz/ready", include_in_schema=False)
def ready(engine: EngineDep) -> JSONResponse:
    """200 when requests can be served: the database answers, has the newest schema and boundaries
    in force; 503 otherwise, naming what is missing (send no traffic here until it is 200)."""
    health = check_health(engine)
    is_ready = health.status == "ok"
    body = {"status": "ready" if is_ready else "not ready", "problems": list(health.problems)}
    return JSONResponse(body, status_code=200 if is_ready else 503)
