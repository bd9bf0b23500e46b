"""Records put on an open case that leave its state as it is: a call to one of its people
(一键拨号, then "called") and a change of its risk colour, which re-binds its people by the rules of
the new colour and may move its deadline."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pandas as pd
from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo_service.auth.personal import mask_phone
from geo_service.cases import writer
from geo_service.cases.locking import PLACE_KEYS, locked_case
from geo_service.cases.responsibility import check_colour, time_limit
from geo_service.cases.states import HANDLING, allowed_actions
from geo_service.errors import Conflict, InvalidInput
from geo_service.i18n import t
from geo_service.settings import Settings
from geo_service.vocabulary import TIERS


def call(
    connection: Connection, incident_id: int, actor: str, officer: str | None, note: str | None, *, signed_in: str
) -> str:
    """Record that ``actor`` called one of the people bound to an open case (一键拨号, then
    "called"): who, in what role, at what number. Nobody is messaged: the call was the message."""
    case = locked_case(connection, incident_id, "call", actor)
    if not officer:
        raise InvalidInput(
            t("a call names the person called: give officer, the code of an officer bound to the case"), field="officer"
        )
    called = (
        connection.execute(
            text("""
        SELECT o.code, o.name, o.phone, b.role, r.name_zh AS role_name, b.tier
          FROM incident_officers b JOIN officers o ON o.id = b.officer_id JOIN roles r ON r.code = b.role
         WHERE b.incident_id = :id AND b.released_at IS NULL AND o.code = :officer
         ORDER BY array_position(CAST(:tiers AS text[]), b.tier) DESC, b.position LIMIT 1
    """),
            {"id": incident_id, "officer": officer, "tiers": list(TIERS)},
        )
        .mappings()
        .first()
    )
    if called is None:
        raise InvalidInput(
            t("officer {officer} is not bound to incident {incident_id}", officer=officer, incident_id=incident_id),
            field="officer",
        )
    writer.record_step(
        connection,
        incident_id,
        "call",
        datetime.now(UTC),
        actor=actor,
        signed_in=signed_in,
        note=t(
            "called {name} ({role}, {phone}): {note}" if note else "called {name} ({role}, {phone})",
            name=called["name"],
            role=called["role_name"],
            phone=mask_phone(called["phone"]),
            note=note,
        ),
        data={
            "officer_code": called["code"],
            "name": called["name"],
            "role": called["role"],
            "tier": called["tier"],
            "phone": called["phone"],
        },
        notify=False,
    )
    return case["status"]


def set_risk(
    connection: Connection,
    incident_id: int,
    actor: str,
    risk_colour: str | None,
    note: str | None,
    *,
    signed_in: str,
    settings: Settings,
) -> str:
    """Change an open case's risk colour, saying why. A case being handled is bound to the people
    the rules name for the new colour at each tier it has reached, and its deadline follows the
    time limit of the new colour (from its dispatch, with the extensions granted) when the
    time-limit rules give the colours different limits."""
    case = locked_case(connection, incident_id, "set_risk", actor)
    if not risk_colour:
        raise InvalidInput(t("changing the risk colour needs risk_colour: red, yellow or blue"), field="risk_colour")
    check_colour(risk_colour)
    if not note or not note.strip():
        raise InvalidInput(t("changing the risk colour needs a note saying why"), field="note")
    if risk_colour == case["risk_colour"]:
        raise Conflict(
            t("incident {incident_id} is {risk_colour} already", incident_id=incident_id, risk_colour=risk_colour),
            field="risk_colour",
            current_status=case["status"],
            allowed_actions=allowed_actions(case["status"]),
        )
    now = datetime.now(UTC)
    data: dict[str, object] = {"from": case["risk_colour"], "to": risk_colour}
    before, after = (time_limit(connection, case["category"], c) for c in (case["risk_colour"], risk_colour))
    deadline = None
    if case["status"] in HANDLING and before != after:
        # From the dispatch, as the first deadline was set, plus every extension granted since.
        deadline = connection.execute(
            text("""
            UPDATE incidents i SET deadline = i.dispatched_at + :limit + make_interval(hours => coalesce(
                   (SELECT sum(e.hours) FROM incident_extensions e
                     WHERE e.incident_id = i.id AND e.granted AND e.decided_at >= i.dispatched_at), 0)::int)
             WHERE i.id = :id AND i.dispatched_at IS NOT NULL RETURNING i.deadline
        """),
            {"id": incident_id, "limit": after},
        ).scalar()
        if deadline is not None:
            data["deadline"] = deadline.isoformat()
    connection.execute(
        text("UPDATE incidents SET risk_colour = :colour, updated_at = :now WHERE id = :id"),
        {"colour": risk_colour, "now": now, "id": incident_id},
    )
    if case["status"] in HANDLING:
        recoloured = {**case, "risk_colour": risk_colour}
        cases = pd.DataFrame([{key: recoloured[key] for key in PLACE_KEYS}])
        for tier in TIERS[: TIERS.index(case["tier"]) + 1]:
            writer.bind(connection, cases, tier, now, settings.place.timezone, release=True)
    values = {"before": case["risk_colour"], "after": risk_colour, "why": note.strip()}
    if deadline:
        values["deadline"] = f"{deadline.astimezone(ZoneInfo(settings.place.timezone)):%Y-%m-%d %H:%M}"
        said = t("risk colour {before} -> {after}; deadline {deadline}: {why}", **values)
    else:
        said = t("risk colour {before} -> {after}: {why}", **values)
    writer.record_step(
        connection,
        incident_id,
        "set_risk",
        now,
        actor=actor,
        signed_in=signed_in,
        note=said,
        data=data,
    )
    return case["status"]
