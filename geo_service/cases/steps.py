"""The closed loop of a case as an explicit state machine.

    reported ──dispatch──▶ dispatched ──accept──▶ accepted ──start──▶ in_progress
        │                      │                     │                     │
        │                      └──────────────resolve┴─────────────resolve─┘
        │                                            ▼
        └──reject──▶ rejected                    resolved ──close (follow-up visit)──▶ closed
    any open case ──merge──▶ merged            resolved, closed ──reopen──▶ reopened ──dispatch──▶ ...

Every transition is made by a named actor and recorded on the case's timeline and in the audit
log (``geo_service.cases.writer``), in one transaction with the change and its messages. The
timeline names the actor the step was taken for, the audit log the user who signed in and took it. The case's row is locked for the
transition, so of two concurrent transitions the second sees the first's result: it either
applies to the new state or is refused with the current state and the actions allowed from it.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo_service.cases import writer
from geo_service.cases.responsibility import time_limit
from geo_service.cases.states import ACTIONS, IN_PLACE, TRANSITIONS, allowed_actions
from geo_service.errors import Conflict, InvalidInput, NotFound
from geo_service.i18n import Codes, t
from geo_service.settings import Settings
from geo_service.vocabulary import TIERS


def take_step(
    connection: Connection, incident_id: int, action: str, actor: str, *, signed_in: str, settings: Settings, **options
) -> str:
    """Any step of the loop, a transition or one that leaves the state as it is; returns the status.

    ``actor`` is who the step is taken for (the timeline), ``signed_in`` the user taking it (the
    audit log); ``options`` are the step's own (note, satisfaction, into, hours, grant).
    """
    who = {"signed_in": signed_in}
    if action in ("urge", "escalate"):
        step = urge if action == "urge" else escalate
        return step(connection, incident_id, actor, note=options.get("note"), settings=settings, **who)
    if action == "request_extension":
        return request_extension(connection, incident_id, actor, options.get("hours"), options.get("note"), **who)
    if action == "decide_extension":
        return decide_extension(connection, incident_id, actor, options.get("grant"), options.get("note"), **who)
    return transition(
        connection,
        incident_id,
        action,
        actor,
        note=options.get("note"),
        satisfaction=options.get("satisfaction"),
        into=options.get("into"),
        settings=settings,
        **who,
    )


def _locked_case(connection: Connection, incident_id: int, action: str, actor: str) -> dict:
    """The case, locked for this step, after checking the step is known, named and allowed now."""
    if action not in ACTIONS:
        raise InvalidInput(
            t("unknown action {action!r}; actions: {actions}", action=action, actions=Codes(ACTIONS)),
            field="action",
        )
    if not actor or not actor.strip():
        raise InvalidInput(t("every step of a case is taken by a named actor: give actor"), field="actor")
    case = (
        connection.execute(
            text("""
        SELECT i.id, i.status, i.category, i.risk_colour, i.tier, i.grid_code, g.name AS grid_name,
               i.village_code, i.town_code, i.county_code, i.urge_count
          FROM incidents i LEFT JOIN grids g ON g.id = i.grid_id
         WHERE i.id = :id
           FOR UPDATE OF i
    """),
            {"id": incident_id},
        )
        .mappings()
        .first()
    )
    if case is None:
        raise NotFound(t("no incident with id {incident_id}", incident_id=incident_id), field="id")
    sources = TRANSITIONS[action].sources if action in TRANSITIONS else IN_PLACE[action]
    if case["status"] not in sources:
        allowed = allowed_actions(case["status"])
        raise Conflict(
            t(
                "cannot {action} incident {incident_id}: it is {status}; allowed now: {allowed}",
                action=action,
                incident_id=incident_id,
                status=case["status"],
                allowed=Codes(allowed, none="nothing (the case is finished)"),
            ),
            field="action",
            current_status=case["status"],
            allowed_actions=allowed,
        )
    return dict(case)


def urge(
    connection: Connection, incident_id: int, actor: str, *, signed_in: str, settings: Settings, note: str | None = None
) -> str:
    """Urge (催办) the people bound to a case: told again, and counted. A village case urged
    ``escalation_after_urges`` times is proposed for escalation on its timeline."""
    case = _locked_case(connection, incident_id, "urge", actor)
    count = case["urge_count"] + 1
    now = datetime.now(UTC)
    connection.execute(
        text("UPDATE incidents SET urge_count = :count, updated_at = :now WHERE id = :id"),
        {"count": count, "now": now, "id": incident_id},
    )
    propose = case["tier"] != "county" and count >= settings.cases.escalation_after_urges
    data = {"urge_count": count, **({"escalation_proposed": True} if propose else {})}
    note = note or f"urged ({count} time{'s' if count > 1 else ''})" + (
        f"; proposed for escalation after {count} rounds" if propose else ""
    )
    writer.record_step(connection, incident_id, "urge", now, actor=actor, signed_in=signed_in, note=note, data=data)
    return case["status"]


def escalate(
    connection: Connection, incident_id: int, actor: str, *, signed_in: str, settings: Settings, note: str | None = None
) -> str:
    """Escalate (提级) a case to the next tier, village to town to county: the rules bind that
    tier's people (for a red case, a county leader) and they are told."""
    case = _locked_case(connection, incident_id, "escalate", actor)
    if case["tier"] == TIERS[-1]:
        raise Conflict(
            t(
                "incident {incident_id} is with the county already: it cannot be escalated further",
                incident_id=incident_id,
            ),
            field="action",
            current_status=case["status"],
            allowed_actions=[a for a in allowed_actions(case["status"]) if a != "escalate"],
        )
    tier = TIERS[TIERS.index(case["tier"]) + 1]
    now = datetime.now(UTC)
    bound = _bind(connection, case, tier, now, settings)
    connection.execute(
        text("UPDATE incidents SET tier = :tier, updated_at = :now WHERE id = :id"),
        {"tier": tier, "now": now, "id": incident_id},
    )
    vacant = [p.role for p in bound if p.vacant]
    note = note or f"escalated from {case['tier']} to {tier}" + (f"; vacant: {', '.join(vacant)}" if vacant else "")
    writer.record_step(
        connection,
        incident_id,
        "escalate",
        now,
        actor=actor,
        signed_in=signed_in,
        note=note,
        data={"from_tier": case["tier"], "to_tier": tier},
    )
    return case["status"]


def request_extension(
    connection: Connection, incident_id: int, actor: str, hours: int | None, reason: str | None, *, signed_in: str
) -> str:
    """Ask the level above for ``hours`` more to handle a case; one request waits at a time."""
    case = _locked_case(connection, incident_id, "request_extension", actor)
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
    decider = TIERS[min(TIERS.index(case["tier"]) + 1, len(TIERS) - 1)]
    writer.record_step(
        connection,
        incident_id,
        "request_extension",
        now,
        actor=actor,
        signed_in=signed_in,
        note=f"asked for {hours} h more ({reason or 'no reason given'}); the {decider} decides",
        data={"hours": hours},
    )
    return case["status"]


def decide_extension(
    connection: Connection, incident_id: int, actor: str, grant: bool | None, note: str | None, *, signed_in: str
) -> str:
    """Grant or refuse the waiting extension request; a grant moves the deadline and tells the people."""
    case = _locked_case(connection, incident_id, "decide_extension", actor)
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
        note = note or f"extension of {request.hours} h granted: new deadline {deadline.isoformat()}"
    else:
        note = note or f"extension of {request.hours} h refused"
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


def transition(
    connection: Connection,
    incident_id: int,
    action: str,
    actor: str,
    *,
    signed_in: str,
    settings: Settings,
    note: str | None = None,
    satisfaction: int | None = None,
    into: int | None = None,
) -> str:
    """Take ``action`` on a case in the caller's transaction, for ``actor`` (on the timeline) by the
    user ``signed_in`` (in the audit log); returns the case's new status.

    ``close`` records the follow-up visit and needs the citizen's ``satisfaction`` (1 to 5);
    ``merge`` needs the case it duplicates (``into``).

    Raises
    ------
    NotFound
        No such case (or no such target of a merge).
    Conflict
        The action is not allowed from the case's current state: the error names the state and
        the actions that are.
    InvalidInput
        An unknown action, a missing actor, satisfaction or merge target.
    """
    if action in IN_PLACE:
        raise InvalidInput(t("{action} is not a transition: use take_step", action=action), field="action")
    case = _locked_case(connection, incident_id, action, actor)
    step = TRANSITIONS[action]
    now = datetime.now(UTC)
    changes: dict[str, object] = {}
    data: dict[str, object] = {}
    if action == "dispatch":
        if not case["grid_code"]:
            raise Conflict(
                t(
                    "incident {incident_id} lies in no grid: route it to a grid before dispatching it",
                    incident_id=incident_id,
                ),
                field="action",
                current_status=case["status"],
                allowed_actions=["reject", "merge"],
            )
        bound = _bind(connection, case, case["tier"], now, settings)
        changes.update(dispatched_at=now, deadline=now + time_limit(connection, case["category"], case["risk_colour"]))
        note = note or writer.dispatch_note(case["grid_code"], case["grid_name"], [p.role for p in bound if p.vacant])
    elif action == "resolve":
        changes["resolved_at"] = now
    elif action == "close":
        if satisfaction is None or not 1 <= satisfaction <= 5:
            raise InvalidInput(
                t("closing a case records the follow-up visit: give satisfaction, 1 to 5"), field="satisfaction"
            )
        changes.update(closed_at=now, visited_at=now, satisfaction=satisfaction)
        data["satisfaction"] = satisfaction
    elif action == "merge":
        target, target_county = _merge_target(connection, incident_id, into)
        changes.update(merged_into_id=target, merged_into_county_code=target_county)
        data["into"] = target
        writer.record_step(
            connection,
            target,
            "absorb",
            now,
            actor=actor,
            signed_in=signed_in,
            note=f"absorbed duplicate incident {incident_id}",
            data={"duplicate": incident_id},
        )
    elif action == "reopen":
        changes.update(closed_at=None, resolved_at=None)
    assignments = ", ".join(f"{column} = :{column}" for column in changes)
    connection.execute(
        text(
            f"UPDATE incidents SET status = :status, updated_at = :now{', ' + assignments if assignments else ''} "
            "WHERE id = :id"
        ),
        {"status": step.target, "now": now, "id": incident_id, **changes},
    )
    writer.record_step(
        connection,
        incident_id,
        action,
        now,
        actor=actor,
        signed_in=signed_in,
        before=case["status"],
        after=step.target,
        note=note,
        data=data,
    )
    return step.target


def _merge_target(connection: Connection, incident_id: int, into: int | None) -> tuple[int, str]:
    """The case to merge into, and its county (which may be another county's, at the border)."""
    if into is None:
        raise InvalidInput(t("merging a case needs the case it duplicates: give into"), field="into")
    if into == incident_id:
        raise InvalidInput(t("a case cannot be merged into itself"), field="into")
    status, county = connection.execute(
        text("SELECT status, county_code FROM incidents WHERE id = :id FOR UPDATE"), {"id": into}
    ).first() or (None, None)
    if status is None:
        raise NotFound(t("no incident with id {into} to merge into", into=into), field="into")
    if status in ("merged", "rejected"):
        raise Conflict(
            t("incident {into} is {status}: merge into the case it became, or another", into=into, status=status),
            field="into",
            current_status=status,
            allowed_actions=[],
        )
    return into, county


def _bind(connection: Connection, case: dict, tier: str, now: datetime, settings: Settings) -> list:
    """Bind the case to the people the rules name at ``tier`` now, releasing those bound there before."""
    cases = pd.DataFrame(
        [{key: case[key] for key in ("id", "grid_code", "village_code", "town_code", "county_code", "risk_colour")}]
    )
    return writer.bind(connection, cases, tier, now, settings.place.timezone, release=True)[case["id"]]
