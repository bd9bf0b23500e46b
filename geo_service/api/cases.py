"""``POST /incidents/{id}/{action}``: the steps of a case's closed loop, each by a named actor."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from geo_service.case_states import TRANSITIONS
from geo_service.incidents import get_incident
from geo_service.workflow import transition

router = APIRouter(prefix="/incidents", tags=["cases"])

Action = Literal[tuple(TRANSITIONS)]  # type: ignore[valid-type]  # the state machine's own steps


class ActionIn(BaseModel):
    actor: str = Field(..., min_length=1, max_length=100, description="Who takes the step (recorded on the timeline).")
    note: str | None = Field(None, max_length=2000)
    satisfaction: int | None = Field(None, ge=1, le=5, description="close: the citizen's satisfaction at the follow-up visit.")
    into: int | None = Field(None, description="merge: the case this one duplicates.")


@router.post("/{incident_id}/{action}", summary="Take a step of the case's loop")
def take_action(incident_id: int, action: Action, body: ActionIn, request: Request) -> dict:
    """The case after the step. A step not allowed from the case's current state is a 409 that
    names the state and the steps that are; of two concurrent steps the second sees the first."""
    engine = request.app.state.engine
    with engine.begin() as connection:
        transition(connection, incident_id, action, body.actor, note=body.note, satisfaction=body.satisfaction,
                   into=body.into, settings=request.app.state.settings)
    with engine.connect() as connection:
        return get_incident(connection, incident_id)
