"""``/healthz``: is the database reachable, spatial, migrated, and does it hold boundaries?"""

from __future__ import annotations

import time

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from geo_service.db.migrate import head_revision

router = APIRouter(tags=["health"])

PROBE = text("""
    SELECT postgis_lib_version() AS postgis,
           to_regclass('alembic_version') IS NOT NULL AS has_schema
""")
# Cheap enough to be polled every few seconds: no scan of a large table.
CONTENTS = text("""
    WITH current AS (
        SELECT id, name FROM boundary_versions
         WHERE status = 'published' AND effective_from <= now()
         ORDER BY effective_from DESC LIMIT 1)
    SELECT (SELECT version_num FROM alembic_version) AS revision,
           (SELECT name FROM current) AS version,
           (SELECT count(*) FROM grids WHERE version_id = (SELECT id FROM current)) AS grids
""")


def _unavailable(reason: str, **database) -> JSONResponse:
    return JSONResponse(
        {"status": "unavailable", "problems": [reason], "database": {"ok": False, **database}},
        status_code=503,
    )


@router.get("/healthz", summary="Health of the service and its database")
def healthz(request: Request) -> JSONResponse:
    """200 when the database answers, has PostGIS and the current schema; 503 otherwise.

    A database with the current schema but no boundaries in force answers 200 with status
    "degraded": the service runs, but cannot yet place an incident.
    """
    started = time.perf_counter()
    try:
        with request.app.state.engine.connect() as connection:
            probe = connection.execute(PROBE).mappings().one()
            contents = connection.execute(CONTENTS).mappings().one() if probe["has_schema"] else None
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        return _unavailable(f"database unreachable or not spatial: {reason}", error=reason)
    latency_ms = round((time.perf_counter() - started) * 1000, 2)
    head = head_revision()
    if contents is None:
        return _unavailable("the database has no schema: run `geo-service db migrate`", postgis=probe["postgis"])
    if contents["revision"] != head:
        return _unavailable(
            f"schema at {contents['revision']}, expected {head}: run `geo-service db migrate`",
            postgis=probe["postgis"], schema_revision=contents["revision"],
        )
    problems = [] if contents["version"] else ["no boundary version is in force: load or publish boundaries"]
    return JSONResponse({
        "status": "degraded" if problems else "ok",
        "problems": problems,
        "database": {
            "ok": True,
            "latency_ms": latency_ms,
            "postgis": probe["postgis"],
            "schema_revision": contents["revision"],
            "boundary_version": contents["version"],
            "grids_in_force": contents["grids"],
        },
    })
