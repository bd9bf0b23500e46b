"""分流移交: a case handed to a department, which takes it on or sends it back.

A case is transferred by a routing rule when it is recorded with a matter
(``geo_service.cases.routing``), or by a dispatcher naming a department (or letting the rules
name it). The transfer waits for the department (``pending``); the case is the department's to
handle from then, under the department's own time limit counted from the transfer, and its people
are bound to the case and told (the outbox, one message each, head first). The department accepts
it (签收: the case is ``accepted``), or sends it back with a reason: the transfer is ``returned``,
the case goes back to its territorial people, bound afresh by the responsibility rules and told,
under the territorial time limit from then. A second transfer replaces an open one (``withdrawn``).

The territorial people stay bound while a department holds the case ("属地管理" beside "谁主管谁
负责"). Every step is on the case's timeline and in the audit log, in the caller's transaction, and
each case's row is locked for it, so of two concurrent steps the second sees the first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pandas as pd
from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo_service.auth import audit
from geo_service.auth.jurisdiction import EVERYTHING, Jurisdiction
from geo_service.cases import writer
from geo_service.cases.outbox import notify_bound, notify_staff
from geo_service.cases.queries import require_visible
from geo_service.cases.responsibility import time_limit
from geo_service.cases.routing import check_matter, department_of, read_transfer, routes, serves
from geo_service.cases.states import HANDLING
from geo_service.db.partitions import generic_key_checks
from geo_service.errors import Conflict, Forbidden, InvalidInput, NotFound
from geo_service.i18n import Codes, t

AUDIT_IDS = 100  # ids listed in one audit entry of many transfers; more are counted

_LOCK_CASES = text("""
    SELECT i.id, i.county_code, i.status, i.department, i.town_code, i.category, i.risk_colour
      FROM incidents i WHERE i.id = ANY(:ids) ORDER BY i.id FOR UPDATE OF i
""")


@dataclass(frozen=True)
class Target:
    """A case to transfer: to which department, why (a dispatcher's reason) and by which rule."""

    incident_id: int
    department: str
    reason: str | None = None
    rule: str | None = None


def transfer_cases(
    connection: Connection, targets: list[Target], now: datetime, *, actor: str, signed_in: str
) -> dict[int, int]:
    """Transfer each case to its department: open transfers replaced, the department's deadline,
    its people bound and told, the timeline and the audit log. The cases must be locked and
    being handled (the callers check). Returns the new transfer's id per case."""
    if not targets:
        return {}
    with generic_key_checks(connection):  # many rows referring to incidents: one plan for their keys
        return _transfer_cases(connection, targets, now, actor=actor, signed_in=signed_in)


def _transfer_cases(
    connection: Connection, targets: list[Target], now: datetime, *, actor: str, signed_in: str
) -> dict[int, int]:
    ids = [x.incident_id for x in targets]
    arrays = {
        "ids": ids,
        "departments": [x.department for x in targets],
        "reasons": [x.reason for x in targets],
        "rules": [x.rule for x in targets],
        "now": now,
        "actor": actor,
    }
    before = dict(connection.execute(text("SELECT id, status FROM incidents WHERE id = ANY(:ids)"), arrays).all())
    withdrawn = connection.execute(
        text("""UPDATE incident_transfers SET state = 'withdrawn', decided_at = :now, decided_by = :actor
                 WHERE incident_id = ANY(:ids) AND state IN ('pending', 'accepted') RETURNING id"""),
        arrays,
    ).scalars()
    _release(connection, list(withdrawn), now)
    made = connection.execute(
        text("""
        INSERT INTO incident_transfers (incident_id, county_code, department, state, transferred_at,
                                        transferred_by, reason, rule)
        SELECT i.id, i.county_code, x.department, 'pending', :now, :actor, x.reason, x.rule
          FROM unnest(CAST(:ids AS bigint[]), CAST(:departments AS text[]), CAST(:reasons AS text[]),
                      CAST(:rules AS text[])) AS x(id, department, reason, rule)
          JOIN incidents i ON i.id = x.id
        RETURNING incident_id, id"""),
        arrays,
    ).all()
    transfer_ids = dict(made)
    # The department's own time limit runs from the transfer.
    deadlines = connection.execute(
        text("""
        UPDATE incidents i SET department = x.department, status = 'dispatched', dispatched_at = :now,
               deadline = :now + make_interval(hours => d.limit_hours), updated_at = :now
          FROM unnest(CAST(:ids AS bigint[]), CAST(:departments AS text[])) AS x(id, department)
          JOIN departments d ON d.code = x.department
         WHERE i.id = x.id
        RETURNING i.id, i.county_code, i.deadline, d.name_zh"""),
        arrays,
    ).all()
    bound = connection.execute(
        text("""
        INSERT INTO incident_staff (incident_id, county_code, transfer_id, staff_id, name, duty, bound_at)
        SELECT tr.incident_id, tr.county_code, tr.id, s.id, s.name, s.duty, :now
          FROM incident_transfers tr JOIN department_staff s ON s.department = tr.department
         WHERE tr.id = ANY(:transfers)
        RETURNING incident_id"""),
        {"transfers": list(transfer_ids.values()), "now": now},
    ).scalars()
    staffed = set(bound)
    by_id = {x.incident_id: x for x in targets}
    # The notes as messages, before they go into a frame (which keeps only their English).
    notes = {
        incident_id: _transfer_note(name, by_id[incident_id], incident_id in staffed)
        for incident_id, _, _, name in deadlines
    }
    events = pd.DataFrame(
        [
            {
                "incident_id": incident_id,
                "county_code": county,
                "at": pd.Timestamp(now),
                "actor": actor,
                "action": "transfer",
                "from_status": before.get(incident_id),
                "to_status": "dispatched",
                "note": notes[incident_id],
                "data": writer.with_note(
                    {
                        "department": by_id[incident_id].department,
                        "transfer_id": transfer_ids[incident_id],
                        "rule": by_id[incident_id].rule,
                        "deadline": deadline.isoformat(),
                    },
                    notes[incident_id],
                ),
            }
            for incident_id, county, deadline, name in deadlines
        ]
    )
    writer.add_events(connection, events)
    for note in set(notes.values()):  # the message says what the timeline says
        notify_staff(connection, [i for i, n in notes.items() if n == note], "transfer", note)
    after = {"department": targets[0].department, "transfer_id": transfer_ids[ids[0]]}
    if len(ids) > 1:
        after = {"transfers": len(ids), "ids": ids[:AUDIT_IDS]}
    audit.record(connection, signed_in, "transfer", "incident", ids[0] if len(ids) == 1 else None, after=after)
    return transfer_ids


def _transfer_note(department_name: str, target: Target, staffed: bool) -> str:
    """The timeline's note: where to, and why (the reason given, or the rule that chose it)."""
    if target.reason or not target.rule:
        note = _department_note(department_name, target.reason)
    else:
        note = t("{department}: rule {rule}", department=department_name, rule=target.rule)
    if staffed:
        return note
    return t("{note}; the department has no people on record: no one was told", note=note)


def _department_note(department_name: str, said: str | None) -> str:
    """A department's name with what a person said of the case, if anything."""
    return t("{department}: {said}", department=department_name, said=said) if said else department_name


def _release(connection: Connection, transfer_ids: list[int], now: datetime) -> None:
    if transfer_ids:
        connection.execute(
            text("UPDATE incident_staff SET released_at = :now WHERE transfer_id = ANY(:ids) AND released_at IS NULL"),
            {"ids": transfer_ids, "now": now},
        )


def route_new(connection: Connection, matters: dict[int, str], now: datetime, *, signed_in: str) -> dict[int, int]:
    """At intake: store each new case's matter and transfer those being handled to the department
    the routing rules name (by ``system``). Returns the transfer's id per case routed."""
    if not matters:
        return {}
    connection.execute(
        text("""UPDATE incidents i SET matter = x.matter
                  FROM unnest(CAST(:ids AS bigint[]), CAST(:matters AS text[])) AS x(id, matter) WHERE i.id = x.id"""),
        {"ids": list(matters), "matters": list(matters.values())},
    )
    handling = connection.execute(_LOCK_CASES, {"ids": list(matters)}).mappings().all()
    found = routes(connection, [c["id"] for c in handling if c["status"] in HANDLING])
    targets = [Target(r.incident_id, r.department, rule=r.rule) for r in found.values()]
    return transfer_cases(connection, targets, now, actor="system", signed_in=signed_in)


def _case(connection: Connection, incident_id: int) -> dict:
    rows = connection.execute(_LOCK_CASES, {"ids": [incident_id]}).mappings().all()
    if not rows:
        raise NotFound(t("no incident with id {incident_id}", incident_id=incident_id), field="id")
    return dict(rows[0])


def _not_handled(case: dict, action: str) -> Conflict:
    return Conflict(
        t(
            "cannot {action!v} incident {incident_id}: it is {status!v}; a transfer is made and decided while a case is {handling!v}",
            action=action,
            incident_id=case["id"],
            status=case["status"],
            handling=Codes(sorted(HANDLING)),
        ),
        field="action",
        current_status=case["status"],
    )


def transfer(
    connection: Connection,
    incident_id: int,
    department: str | None,
    *,
    actor: str,
    signed_in: str,
    reason: str | None = None,
    matter: str | None = None,
    scope: Jurisdiction | None = None,
) -> dict:
    """A dispatcher's transfer of a case within ``scope`` to ``department`` or, if none is named,
    to the one the routing rules name for its matter (``matter`` sets it first). Returns the transfer."""
    scope = scope or EVERYTHING
    if scope.department is not None:
        raise Forbidden(
            t("a department sends back a case it should not handle, with a reason: it does not transfer it"),
            field="department",
        )
    require_visible(connection, incident_id, scope)
    case = _case(connection, incident_id)
    if matter is not None:
        check_matter(connection, matter, case["category"])
        connection.execute(text("UPDATE incidents SET matter = :m WHERE id = :id"), {"m": matter, "id": incident_id})
    rule = None
    if department is None:
        found = routes(connection, [incident_id]).get(incident_id)
        if found is None:
            raise InvalidInput(
                t(
                    "no routing rule sends incident {incident_id} to a department (its matter, place and colour): name the department",
                    incident_id=incident_id,
                ),
                field="department",
            )
        department, rule = found.department, found.rule
    try:
        target = department_of(connection, department)
    except NotFound as exc:  # a value of the request, not a thing asked for
        raise InvalidInput(exc.message, field="department") from None
    if not serves(target, case["county_code"], case["town_code"]):
        raise InvalidInput(
            t(
                "{department} does not handle cases at incident {incident_id}'s place (it serves {place})",
                department=department,
                incident_id=incident_id,
                place=target["town_code"] or target["county_code"],
            ),
            field="department",
        )
    if case["status"] not in HANDLING:
        raise _not_handled(case, "transfer")
    if case["department"] == department:
        raise Conflict(
            t("incident {incident_id} is with {department} already", incident_id=incident_id, department=department),
            field="department",
            current_status=case["status"],
        )
    reason = (reason or "").strip() or None
    made = transfer_cases(
        connection, [Target(incident_id, department, reason, rule)], datetime.now(UTC), actor=actor, signed_in=signed_in
    )
    return read_transfer(connection, made[incident_id], scope)


def _decided(connection: Connection, transfer_id: int, scope: Jurisdiction, action: str) -> tuple[dict, dict]:
    """The transfer and its case, both locked, for its department to decide on (``action``)."""
    row = connection.execute(
        text(f"""SELECT tr.id, tr.incident_id, tr.department, tr.state FROM incident_transfers tr
                   JOIN incidents i ON i.id = tr.incident_id AND i.county_code = tr.county_code
                  WHERE tr.id = :id AND {scope.incidents("i")}"""),
        {"id": transfer_id, **scope.params()},
    ).first()
    if row is None:
        raise NotFound(t("no transfer with id {transfer_id}", transfer_id=transfer_id), field="transfer_id")
    case = _case(connection, row.incident_id)
    found = dict(
        connection.execute(
            text("SELECT id, incident_id, department, state FROM incident_transfers WHERE id = :id FOR UPDATE"),
            {"id": transfer_id},
        )
        .mappings()
        .one()
    )
    if not scope.unrestricted and scope.department != found["department"]:
        raise Forbidden(
            t("only a user of {department} may accept or send back its transfers", department=found["department"]),
            field="department",
        )
    if found["state"] != "pending":
        raise Conflict(
            t(
                "transfer {transfer_id} is {state!v}: only a transfer waiting for its department can be accepted or sent back",
                transfer_id=transfer_id,
                state=found["state"],
            ),
            field="transfer_id",
            current_status=case["status"],
        )
    if case["status"] not in HANDLING:
        raise _not_handled(case, action)
    return found, case


def accept(
    connection: Connection,
    transfer_id: int,
    *,
    actor: str,
    signed_in: str,
    note: str | None = None,
    scope: Jurisdiction | None = None,
) -> dict:
    """The department takes the case on (签收): a case waiting (dispatched) becomes accepted; its
    deadline stays the department's, from the transfer. Returns the transfer."""
    scope = scope or EVERYTHING
    found, case = _decided(connection, transfer_id, scope, "transfer_accept")
    now = datetime.now(UTC)
    connection.execute(
        text("UPDATE incident_transfers SET state = 'accepted', decided_at = :now, decided_by = :actor WHERE id = :id"),
        {"id": transfer_id, "now": now, "actor": actor},
    )
    status = "accepted" if case["status"] == "dispatched" else case["status"]
    connection.execute(
        text("UPDATE incidents SET status = :status, updated_at = :now WHERE id = :id"),
        {"status": status, "now": now, "id": case["id"]},
    )
    name = department_of(connection, found["department"])["name_zh"]
    _event(connection, case, now, actor, "transfer_accept", status, _department_note(name, note), found)
    audit.record(connection, signed_in, "transfer_accept", "incident", case["id"], after={"transfer_id": transfer_id})
    return read_transfer(connection, transfer_id, scope)


def send_back(
    connection: Connection,
    transfer_id: int,
    reason: str | None,
    *,
    actor: str,
    signed_in: str,
    zone: str,
    scope: Jurisdiction | None = None,
) -> dict:
    """The department sends the case back with ``reason`` (needed): back to its territorial people,
    bound afresh at its tier and told, under the territorial time limit from now. Returns the
    transfer (the department's users no longer see the case)."""
    scope = scope or EVERYTHING
    if not reason or not reason.strip():
        raise InvalidInput(t("sending a case back needs a reason"), field="reason")
    found, case = _decided(connection, transfer_id, scope, "transfer_return")
    now = datetime.now(UTC)
    connection.execute(
        text("""UPDATE incident_transfers SET state = 'returned', decided_at = :now, decided_by = :actor,
                       return_reason = :reason WHERE id = :id"""),
        {"id": transfer_id, "now": now, "actor": actor, "reason": reason.strip()},
    )
    _release(connection, [transfer_id], now)
    limit = time_limit(connection, case["category"], case["risk_colour"])
    place = (
        connection.execute(
            text("""UPDATE incidents SET department = NULL, status = 'dispatched', dispatched_at = :now,
                           deadline = :deadline, updated_at = :now
                     WHERE id = :id
                 RETURNING id, grid_code, village_code, town_code, county_code, risk_colour, tier"""),
            {"id": case["id"], "now": now, "deadline": now + limit},
        )
        .mappings()
        .one()
    )
    people = pd.DataFrame([dict(place)])
    writer.bind(connection, people.drop(columns="tier"), place["tier"], now, zone, release=True)
    name = department_of(connection, found["department"])["name_zh"]
    note = _department_note(name, reason.strip())
    _event(connection, case, now, actor, "transfer_return", "dispatched", note, found)
    audit.record(
        connection,
        signed_in,
        "transfer_return",
        "incident",
        case["id"],
        after={"transfer_id": transfer_id, "reason": reason.strip()},
    )
    notify_bound(connection, [case["id"]], "transfer_return", note)
    return read_transfer(connection, transfer_id, EVERYTHING)


def _event(connection, case: dict, now: datetime, actor: str, action: str, to: str, note: str, found: dict) -> None:
    writer.add_events(
        connection,
        pd.DataFrame(
            [
                {
                    "incident_id": case["id"],
                    "county_code": case["county_code"],
                    "at": pd.Timestamp(now),
                    "actor": actor,
                    "action": action,
                    "from_status": case["status"],
                    "to_status": to,
                    "note": note,
                    "data": writer.with_note({"department": found["department"], "transfer_id": found["id"]}, note),
                }
            ]
        ),
    )
