"""Publishing a draft from a moment on, and accepting the repairs the checks offer.

Publishing is one UPDATE of one row: a lookup running at the same time reads either the old
version in force or the new one, and a version's grids never change once published, so what a
lookup sees is never a mix. Incidents keep the grid they were recorded in (they refer to it by
id), whatever is published later.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import text
from sqlalchemy.engine import Engine

from geo_service.auth import audit
from geo_service.boundaries.checks import CHECKS, check_version
from geo_service.boundaries.drafts import require_draft
from geo_service.boundaries.versions import Version, find_version, taking_effect_at
from geo_service.errors import Conflict, InvalidInput
from geo_service.i18n import Codes, t
from geo_service.settings import Settings
from geo_service.times import as_aware

BLOCKING = tuple(check for check, severity in CHECKS.items() if severity == "error")


def publish(
    engine: Engine,
    ref: int | str,
    effective_from: datetime,
    *,
    settings: Settings,
    now: datetime | None = None,
    actor: str = "cli",
) -> Version:
    """Put a draft in force from ``effective_from`` (a time without a zone is the county's,
    ``settings.place.timezone``; ``now`` defaults to this moment).

    Raises
    ------
    Conflict
        The version is not a draft, its checks find errors, or another version already takes
        effect at that very moment.
    InvalidInput
        ``effective_from`` is in the past: incidents since then were assigned under the version
        then in force, and lookups must keep agreeing with them.
    """
    zone = settings.place.timezone
    effective_from = as_aware(effective_from, zone)
    now = as_aware(now, zone)
    if effective_from < now:
        raise InvalidInput(
            t(
                "effective_from {value} is in the past: a version takes effect now or later",
                value=effective_from.isoformat(),
            ),
            field="effective_from",
        )
    with engine.begin() as connection:
        # One publication at a time, so two drafts cannot both claim the same moment.
        connection.execute(text("LOCK TABLE boundary_versions IN SHARE ROW EXCLUSIVE MODE"))
        version = find_version(connection, ref, lock=True)
        require_draft(version)
        report = check_version(connection, version.id, checks=BLOCKING, settings=settings)
        if report.errors:
            found = [check for check, n in report.summary().items() if n]  # how many of each: ``problems``
            raise Conflict(
                t(
                    "draft {name!r} has errors ({checks!v}): fix them before publishing",
                    name=version.name,
                    checks=Codes(found),
                ),
                field="version",
                problems=report.summary(),
            )
        clash = taking_effect_at(connection, effective_from, version.county_code)
        if clash:
            raise Conflict(
                t("version {clash!r} already takes effect at {value}", clash=clash, value=effective_from.isoformat()),
                field="effective_from",
            )
        connection.execute(
            text("""
            UPDATE boundary_versions SET status = 'published', effective_from = :at, published_at = now()
             WHERE id = :v
        """),
            {"v": version.id, "at": effective_from},
        )
        audit.record(
            connection,
            actor,
            "boundaries.publish",
            "boundary_version",
            version.id,
            before={"status": "draft"},
            after={"status": "published", "effective_from": effective_from},
        )
        return find_version(connection, version.id)


def repair_draft(engine: Engine, ref: int | str, codes: list[str] | None = None, *, actor: str = "cli") -> list[str]:
    """Replace a draft's invalid grids (or only those in ``codes``) by the repaired shapes the
    checks offered. Returns the codes repaired."""
    with engine.begin() as connection:
        version = find_version(connection, ref, lock=True)
        require_draft(version)
        repaired = list(
            connection.execute(
                text("""
            UPDATE grids SET geom = ST_Multi(ST_CollectionExtract(ST_MakeValid(geom), 3))
             WHERE version_id = :v AND NOT ST_IsValid(geom) AND (:all OR code = ANY(:codes))
            RETURNING code
        """),
                {"v": version.id, "all": codes is None, "codes": codes or []},
            ).scalars()
        )
        if repaired:
            audit.record(
                connection, actor, "boundaries.repair", "boundary_version", version.id, after={"grids": repaired}
            )
        return repaired
