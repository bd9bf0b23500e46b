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

Extensions are asked and decided in ``geo_service.cases.extensions``; a call and a change of risk
colour, records that leave the state as it is, in ``geo_service.cases.records``.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo_service.auth.jurisdiction import Jurisdiction
from geo_service.cases import writer
from geo_service.cases.extensions import decide_extension, request_extension
from geo_service.cases.locking import bind_case, locked_case
from geo_service.cases.records import call, set_risk
from geo_service.cases.responsibility import time_limit
from geo_service.cases.states import ACTIONS, TRANSITIONS, allowed_actions
from geo_service.errors import Conflict, InvalidInput, NotFound
from geo_service.i18n import t
from geo_service.settings import Settings
from geo_service.vocabulary import TIERS

__all__ = ["call", "decide_extension", "escalate", "request_extension", "set_risk", "take_step", "transition", "urge"]


def take_step(
    connection: Connection,
    incident_id: int,
    action: str,
    actor: str,
    *,
    signed_in: str,
    settings: Settings,
    decider: Jurisdiction | None = None,
    **options,
) -> str:
    """Any step of the loop, a transition or one that leaves the state as it is; returns the status.

    ``actor`` is who the step is taken for (the timeline), ``signed_in`` the user taking it (the
    audit log), ``decider`` the jurisdiction of that user where it matters (who may grant an
    extension: None for the command line); ``options`` are the step's own (note, satisfaction, into, hours, grant, officer,
    risk_colour).
    """
    who = {"signed_in": signed_in}
    if action in ("urge", "escalate"):
        step = urge if action == "urge" else escalate
        return step(connection, incident_id, actor, note=options.get("note"), settings=settings, **who)
    if action == "request_extension":
        return request_extension(connection, incident_id, actor, options.get("hours"), options.get("note"), **who)
    if action == "decide_extension":
        return decide_extension(
            connection, incident_id, actor, options.get("grant"), options.get("note"), decider=decider, **who
        )
    if action == "call":
        return call(connection, incident_id, actor, options.get("officer"), options.get("note"), **who)
    if action == "set_risk":
        return set_risk(
            connection, incident_id, actor, options.get("risk_colour"), options.get("note"), settings=settings, **who
        )
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


def urge(
    connection: Connection, incident_id: int, actor: str, *, signed_in: str, settings: Settings, note: str | None = None
) -> str:
    """Urge (催办) the people bound to a case: told again, and counted. A village case urged
    ``escalation_after_urges`` times is proposed for escalation on its timeline."""
    case = locked_case(connection, incident_id, "urge", actor)
    count = case["urge_count"] + 1
    now = datetime.now(UTC)
    connection.execute(
        text("UPDATE incidents SET urge_count = :count, updated_at = :now WHERE id = :id"),
        {"count": count, "now": now, "id": incident_id},
    )
    propose = case["tier"] != "county" and count >= settings.cases.escalation_after_urges
    data = {"urge_count": count, **({"escalation_proposed": True} if propose else {})}
    if not note:
        note = (
            t("urged ({count} times); proposed for escalation after {count} rounds", count=count)
            if propose
            else t("urged ({count} times)", count=count)
        )
    writer.record_step(connection, incident_id, "urge", now, actor=actor, signed_in=signed_in, note=note, data=data)
    return case["status"]


def escalate(
    connection: Connection, incident_id: int, actor: str, *, signed_in: str, settings: Settings, note: str | None = None
) -> str:
    """Escalate (提级) a case to the next tier, village to town to county: the rules bind that
    tier's people (for a red case, a county leader) and they are told."""
    case = locked_case(connection, incident_id, "escalate", actor)
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
    connection.execute(
        text("UPDATE incidents SET tier = :tier, updated_at = :now WHERE id = :id"),
        {"tier": tier, "now": now, "id": incident_id},
    )
    bound, tier = bind_case(connection, case, tier, now, settings, actor=actor, signed_in=signed_in)
    vacant = writer.vacancies(bound)
    if not note:
        values = {"before": case["tier"], "after": tier}
        note = (
            t("escalated from {before} to {after}; vacant: {vacant}", **values, **vacant)
            if vacant
            else t("escalated from {before} to {after}", **values)
        )
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
    if action in ACTIONS and action not in TRANSITIONS:
        raise InvalidInput(t("{action} is not a transition: use take_step", action=action), field="action")
    case = locked_case(connection, incident_id, action, actor)
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
        bound, _ = bind_case(connection, case, case["tier"], now, settings, actor=actor, signed_in=signed_in)
        changes.update(dispatched_at=now, deadline=now + time_limit(connection, case["category"], case["risk_colour"]))
        note = note or writer.dispatch_note(case["grid_code"], case["grid_name"], bound)
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
            note=t("absorbed duplicate incident {incident_id}", incident_id=incident_id),
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
