"""What every step of a case does first: lock the case and check the step is allowed now; and
bind a case to the people of a tier, sending it up when no one is there."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo_service.cases import writer
from geo_service.cases.binding import bind_up
from geo_service.cases.responsibility import Responsible
from geo_service.cases.states import ACTIONS, allowed_actions, sources_of
from geo_service.errors import Conflict, InvalidInput, NotFound
from geo_service.i18n import Codes, t
from geo_service.settings import Settings

PLACE_KEYS = ("id", "grid_code", "village_code", "town_code", "county_code", "risk_colour")


def locked_case(connection: Connection, incident_id: int, action: str, actor: str) -> dict:
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
               i.village_code, i.town_code, i.county_code, i.urge_count, i.department
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
    if case["status"] not in sources_of(action):
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


def bind_case(
    connection: Connection, case: dict, tier: str, now: datetime, settings: Settings, *, actor: str, signed_in: str
) -> tuple[list[Responsible], str]:
    """Bind the case to the people the rules name at ``tier`` now (releasing those bound there
    before); where every post is vacant, to the next tier's, up to the county, with the move on
    the timeline. Returns the people bound and the tier the case is now at."""
    cases = pd.DataFrame([{key: case[key] for key in PLACE_KEYS}])
    bound, tiers = bind_up(connection, cases, tier, now, settings.place.timezone, release=True)
    people, reached = bound[case["id"]], tiers[case["id"]]
    if reached != tier:
        connection.execute(
            text("UPDATE incidents SET tier = :tier, updated_at = :now WHERE id = :id"),
            {"tier": reached, "now": now, "id": case["id"]},
        )
        writer.record_step(
            connection,
            case["id"],
            "escalate",
            now,
            actor="system",
            signed_in=signed_in,
            note=writer.raised_note(tier, reached, people),
            data={"from_tier": tier, "to_tier": reached, "asked_by": actor},
            notify=False,
        )
    return people, reached
