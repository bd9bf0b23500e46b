"""``POST /incidents/{id}/{action}``: the steps of a case's closed loop, each by a named actor."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from geo_service.api.dependencies import EngineDep, Moment, ReaderLanguage, SettingsDep, allow
from geo_service.auth.personal import present_incident
from geo_service.auth.principal import Principal
from geo_service.cases.duplicates import possible_duplicates
from geo_service.cases.notes import localize_timeline
from geo_service.cases.queries import get_incident, require_visible
from geo_service.cases.sla import sla_report
from geo_service.cases.states import ACTIONS
from geo_service.cases.steps import take_step
from geo_service.vocabulary import RiskColour

router = APIRouter(prefix="/incidents", tags=["cases"])
sla_router = APIRouter(tags=["cases"])

Action = Literal[ACTIONS]  # type: ignore[valid-type]  # the state machine's own steps


class ActionIn(BaseModel):
    actor: str | None = Field(
        None,
        min_length=1,
        max_length=100,
        description="Who takes the step, for the timeline (default the signed-in user; the audit "
        "log always names the signed-in user).",
    )
    note: str | None = Field(None, max_length=2000)
    satisfaction: int | None = Field(
        None, ge=1, le=5, description="close: the citizen's satisfaction at the follow-up visit."
    )
    into: int | None = Field(None, description="merge: the case this one duplicates.")
    hours: int | None = Field(None, gt=0, le=24 * 90, description="request_extension: how many hours more.")
    grant: bool | None = Field(None, description="decide_extension: grant (true) or refuse (false).")
    officer: str | None = Field(
        None, min_length=1, max_length=40, description="call: the code of the officer called (one bound to the case)."
    )
    risk_colour: RiskColour | None = Field(None, description="set_risk: the new colour (give the reason as note).")


@router.post("/{incident_id}/{action}", summary="Take a step of the case's loop")
def take_action(
    incident_id: int,
    action: Action,
    body: ActionIn,
    engine: EngineDep,
    settings: SettingsDep,
    language: ReaderLanguage,
    principal: Principal = Depends(allow("cases.act")),
) -> dict:
    """The case after the step. A step not allowed from the case's current state is a 409 that
    names the state and the steps that are; of two concurrent steps the second sees the first.
    A case outside the user's jurisdiction is not found (404), and so is a merge into one.

    Besides the loop's steps, two records leave an open case's state as it is: `call` (the
    `officer` called, one of the case's people, goes on the timeline) and `set_risk` (the new
    `risk_colour` and a `note` saying why; the people and the deadline follow the rules of the
    new colour)."""
    scope = principal.jurisdiction
    with engine.begin() as connection:
        require_visible(connection, incident_id, scope)
        if body.into is not None:
            require_visible(connection, body.into, scope)
        take_step(
            connection,
            incident_id,
            action,
            body.actor or principal.name,
            signed_in=principal.name,
            settings=settings,
            decider=principal.jurisdiction,
            note=body.note,
            satisfaction=body.satisfaction,
            into=body.into,
            hours=body.hours,
            grant=body.grant,
            officer=body.officer,
            risk_colour=body.risk_colour,
        )
    with engine.begin() as connection:
        incident = present_incident(connection, get_incident(connection, incident_id, scope=scope), principal)
    return localize_timeline(incident, language)


@sla_router.get("/sla", summary="Open cases overdue or due soon, by town and village")
def get_sla(
    engine: EngineDep,
    settings: SettingsDep,
    principal: Principal = Depends(allow("incidents.read")),
    at: Moment | None = Query(None, description="As at this moment (default now; no zone = the county's time)."),
    due_within_hours: float | None = Query(
        None, gt=0, le=24 * 30, description="Also list cases due within this many hours (default: settings)."
    ),
    cases: bool = Query(False, description="Also list the cases themselves, the most overdue first."),
) -> dict:
    with engine.connect() as connection:
        return sla_report(
            connection,
            at,
            due_within_hours,
            settings.cases,
            settings.place.timezone,
            with_cases=cases,
            scope=principal.jurisdiction,
        )


@router.get("/{incident_id}/duplicates", summary="Cases that may duplicate this one")
def get_duplicates(
    incident_id: int,
    engine: EngineDep,
    settings: SettingsDep,
    principal: Principal = Depends(allow("incidents.read")),
    distance_m: float | None = Query(None, gt=0, le=5000, description="How close (default: settings, 100 m)."),
    window_hours: float | None = Query(
        None, gt=0, le=24 * 90, description="How close in time (default: settings, 48 h)."
    ),
) -> dict:
    """Cases of the same category within the distance and the time window, nearest first; merge one
    with `POST /incidents/{id}/merge` and `into`."""
    distance = distance_m or settings.cases.duplicate_distance_m
    window = timedelta(hours=window_hours or settings.cases.duplicate_window_hours)
    with engine.connect() as connection:
        found = possible_duplicates(connection, incident_id, distance, window, scope=principal.jurisdiction)
    return {
        "incident_id": incident_id,
        "distance_m": distance,
        "window_hours": window.total_seconds() / 3600,
        "candidates": found,
    }
