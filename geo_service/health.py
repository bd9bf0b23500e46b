"""Is the service's database reachable, spatial, migrated, and does it hold boundaries in force?

One check for every face: ``GET /healthz`` answers it as 200 or 503, the command line or a
notebook can print it. Cheap enough to be polled every few seconds: no scan of a large table.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from geo_service.boundaries.versions import in_force_or_none
from geo_service.db.migrate import head_revision

Status = Literal["ok", "degraded", "unavailable"]

_PROBE = text("""
    SELECT postgis_lib_version() AS postgis,
           to_regclass('alembic_version') IS NOT NULL AS has_schema
""")
_REVISION = text("SELECT version_num FROM alembic_version")
_GRIDS = text("SELECT count(*) FROM grids WHERE version_id = ANY(:versions)")


@dataclass(frozen=True)
class Health:
    """The outcome: ``ok``; ``degraded`` (it runs but cannot place an incident yet); or
    ``unavailable`` (no database, no PostGIS, or not the current schema)."""

    status: Status
    problems: list[str] = field(default_factory=list)
    database: dict = field(default_factory=dict)

    @property
    def available(self) -> bool:
        return self.status != "unavailable"

    def to_dict(self) -> dict:
        return {"status": self.status, "problems": list(self.problems), "database": dict(self.database)}


def _unavailable(reason: str, **database) -> Health:
    return Health("unavailable", [reason], {"ok": False, **database})


def check_health(engine: Engine) -> Health:
    """Check the database behind ``engine``.

    Returns
    -------
    Health
        ``unavailable`` when the database does not answer, lacks PostGIS or is not at the
        current schema revision; ``degraded`` when it is but no boundary version is in force;
        ``ok`` otherwise, with the latency, PostGIS version, schema revision, the version in
        force and its number of grids.
    """
    started = time.perf_counter()
    try:
        with engine.connect() as connection:
            probe = connection.execute(_PROBE).mappings().one()
            if not probe["has_schema"]:
                return _unavailable(
                    "the database has no schema: run `geo-service db migrate`", postgis=probe["postgis"]
                )
            revision = connection.execute(_REVISION).scalar()
            head = head_revision()
            if revision != head:
                return _unavailable(
                    f"schema at {revision}, expected {head}: run `geo-service db migrate`",
                    postgis=probe["postgis"],
                    schema_revision=revision,
                )
            # An instant needs no county zone: the versions in force now are the same everywhere.
            version = in_force_or_none(connection, datetime.now(UTC))
            grids = connection.execute(_GRIDS, {"versions": version.ids}).scalar_one() if version else 0
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        return _unavailable(f"database unreachable or not spatial: {reason}", error=reason)
    latency_ms = round((time.perf_counter() - started) * 1000, 2)
    problems = [] if version else ["no boundary version is in force: load or publish boundaries"]
    return Health(
        "degraded" if problems else "ok",
        problems,
        {
            "ok": True,
            "latency_ms": latency_ms,
            "postgis": probe["postgis"],
            "schema_revision": revision,
            "boundary_version": version.name() if version else None,
            "counties": version.county_codes if version else [],
            "grids_in_force": grids,
        },
    )
