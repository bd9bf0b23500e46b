"""``GET /audit``: the audit log, newest first (for roles with ``audit.read`` over the whole county)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query

from geo_service.api.dependencies import EngineDep, Moment, SettingsDep, allow, page
from geo_service.auth import audit
from geo_service.auth.principal import Principal

router = APIRouter(tags=["audit"])


@router.get("/audit", summary="Who changed or read what, when: every write and every unmasked read")
def get_audit(
    engine: EngineDep,
    settings: SettingsDep,
    since: Moment | None = Query(None, description="At or after (no zone = the county's time)."),
    until: Moment | None = Query(None, description="Before."),
    actor: str | None = Query(None, max_length=100),
    action: str | None = Query(
        None, max_length=40, description="e.g. read_personal, user.add, boundaries.publish, accept."
    ),
    entity: str | None = Query(None, max_length=40, description="e.g. incident, user, boundary_version."),
    entity_id: str | None = Query(None, max_length=40),
    paging: tuple[int, int] = Depends(page(audit.MAX_ROWS)),
    principal: Principal = Depends(allow("audit.read", whole="reading the audit log")),
) -> dict:
    limit, offset = paging
    rows, total = audit.query(
        engine,
        zone=settings.place.timezone,
        since=since,
        until=until,
        actor=actor,
        action=action,
        entity=entity,
        entity_id=entity_id,
        limit=limit,
        offset=offset,
    )
    return {"total": total, "limit": limit, "offset": offset, "entries": rows}
