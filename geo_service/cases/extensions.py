"""More time for a case (延期): asked by those handling it, decided by the level above.

The level above a case's tier decides: the town (or a level above it) for a village's case, the
county for a town's or the county's own; a case a department holds, the department's own users
or the county. A user of the case's own tier, or below it, may ask but not decide; the command
line (no jurisdiction) decides as the county.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo_service.auth.jurisdiction import Jurisdiction
from geo_service.cases import writer
from geo_service.cases.locking import locked_case
from geo_service.cases.states import allowed_actions
from geo_service.errors import Conflict, Forbidden, InvalidInput
from geo_service.i18n import t
from geo_service.vocabulary import TIERS

# How high each level of a jurisdiction stands, and the tier each level may decide for.
LEVEL_RANK = {"grid": 0, "village": 1, "town": 2, "county": 3, "city": 4, "province": 5, "all": 6}


def deciding_tier(tier: str) -> str:
    """The tier that decides an extension of a case at ``tier``: the one above (the county decides its own)."""
    return TIERS[min(TIERS.index(tier) + 1, len(TIERS) - 1)]


def require_above(decider: Jurisdiction | None, tier: str, incident_id: int, department: str | None = None) -> None:
    """Refuse a decision by a user who is not of the level above the case's tier. A case a
    department holds is decided by the department's own users (or the county)."""
    if decider is None:
        return
    if department is not None and decider.department is not None:
        if decider.department != department:
            raise Forbidden(
                t(
                    "an extension of incident {incident_id} is decided by the department holding it, {department}",
                    incident_id=incident_id,
                    department=department,
                ),
                field="action",
            )
        return
    needed = "county" if department is not None else deciding_tier(tier)
    if LEVEL_RANK.get(decider.level, 0) < LEVEL_RANK[needed]:
        raise Forbidden(
            t(
                "an extension of incident {incident_id} (a case of the {tier}) is decided by the {needed} or above; "
                "your jurisdiction is {level} {name}",
                incident_id=incident_id,
                tier=tier,
                needed=needed,
                level=decider.level,
                name=decider.name,
            ),
            field="action",
        )


def request_extension(
    connection: Connection, incident_id: int, actor: str, hours: int | None, reason: str | None, *, signed_in: str
) -> str:
    """Ask the level above for ``hours`` more to handle a case; one request waits at a time."""
    case = locked_case(connection, incident_id, "request_extension", actor)
    if not hours or hours <= 0:
        raise InvalidInput(t("an extension request needs hours, a positive number"), field="hours")
    waiting = connection.execute(
        text("SELECT id FROM incident_extensions WHERE incident_id = :id AND decided_at IS NULL"), {"id": incident_id}
    ).first()
    if waiting is not None:
        raise Conflict(
            t(
                "incident {incident_id} already has an extension request waiting for a decision",
                incident_id=incident_id,
            ),
            field="action",
            current_status=case["status"],
            allowed_actions=["decide_extension"],
        )
    now = datetime.now(UTC)
    connection.execute(
        text("""
        INSERT INTO incident_extensions (incident_id, county_code, requested_at, requested_by, hours, reason)
        SELECT id, county_code, :now, :actor, :hours, :reason FROM incidents WHERE id = :id
    """),
        {"id": incident_id, "now": now, "actor": actor, "hours": hours, "reason": reason},
    )
    decider = deciding_tier(case["tier"])
    note = (
        t("asked for {hours} h more ({reason}); the {decider} decides", hours=hours, reason=reason, decider=decider)
        if reason
        else t("asked for {hours} h more (no reason given); the {decider} decides", hours=hours, decider=decider)
    )
    writer.record_step(
        connection,
        incident_id,
        "request_extension",
        now,
        actor=actor,
        signed_in=signed_in,
        note=note,
        data={"hours": hours, "decider": decider},
    )
    return case["status"]


def decide_extension(
    connection: Connection,
    incident_id: int,
    actor: str,
    grant: bool | None,
    note: str | None,
    *,
    signed_in: str,
    decider: Jurisdiction | None = None,
) -> str:
    """Grant or refuse the waiting extension request; a grant moves the deadline and tells the
    people. ``decider`` is the jurisdiction of the user deciding (None: the command line), who
    must be of the level above the case's tier."""
    case = locked_case(connection, incident_id, "decide_extension", actor)
    require_above(decider, case["tier"], incident_id, case.get("department"))
    if grant is None:
        raise InvalidInput(t("deciding an extension needs grant: true or false"), field="grant")
    request = connection.execute(
        text("""
        SELECT id, hours FROM incident_extensions WHERE incident_id = :id AND decided_at IS NULL
    """),
        {"id": incident_id},
    ).first()
    if request is None:
        raise Conflict(
            t("incident {incident_id} has no extension request waiting for a decision", incident_id=incident_id),
            field="action",
            current_status=case["status"],
            allowed_actions=[a for a in allowed_actions(case["status"]) if a != "decide_extension"],
        )
    now = datetime.now(UTC)
    connection.execute(
        text("""
        UPDATE incident_extensions SET decided_at = :now, decided_by = :actor, granted = :grant WHERE id = :id
    """),
        {"now": now, "actor": actor, "grant": grant, "id": request.id},
    )
    if grant:
        deadline = connection.execute(
            text("""
            UPDATE incidents SET deadline = deadline + make_interval(hours => :hours), updated_at = :now
             WHERE id = :id RETURNING deadline
        """),
            {"hours": request.hours, "now": now, "id": incident_id},
        ).scalar()
        note = note or t(
            "extension of {hours} h granted: new deadline {deadline}",
            hours=request.hours,
            deadline=deadline.isoformat(),
        )
    else:
        note = note or t("extension of {hours} h refused", hours=request.hours)
    writer.record_step(
        connection,
        incident_id,
        "decide_extension",
        now,
        actor=actor,
        signed_in=signed_in,
        note=note,
        data={"granted": grant, "hours": request.hours},
    )
    return case["status"]
