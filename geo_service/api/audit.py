"""``GET /audit``: the audit log, newest first (for roles with ``audit.read`` over the whole county)."""

from __future__ import annotations


from fastapi import APIRouter, Depends, Query, Request

from geo_service.api.auth import allow
from geo_service.api.params import Moment
from geo_service.auth import audit
from geo_service.auth.principal import Principal
from geo_service.boundaries.versions import as_aware

router = APIRouter(tags=["audit"])


@router.get("/audit", summary="Who changed or read what, when: every write and every unmasked read")
def get_audit(
    request: Request,
    since: Moment | None = Query(None, description="At or after (no zone = Beijing time)."),
    until: Moment | None = Query(None, description="Before."),
    actor: str | None = Query(None, max_length=100),
    action: str | None = Query(None, max_length=40, description="e.g. read_personal, user.add, boundaries.publish, accept."),
    entity: str | None = Query(None, max_length=40, description="e.g. incident, user, boundary_version."),
    entity_id: str | None = Query(None, max_length=40),
    limit: int = Query(100, ge=1, le=audit.MAX_ROWS),
    offset: int = Query(0, ge=0, le=10_000_000),
    principal: Principal = Depends(allow("audit.read", county="reading the audit log")),
) -> dict:
    zone = request.app.state.settings.timezone
    rows, total = audit.query(request.app.state.engine, since=as_aware(since, zone) if since else None,
                              until=as_aware(until, zone) if until else None, actor=actor, action=action,
                              entity=entity, entity_id=entity_id, limit=limit, offset=offset)
    return {"total": total, "limit": limit, "offset": offset, "entries": rows}
