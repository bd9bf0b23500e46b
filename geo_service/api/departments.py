"""Departments: their cases, transfers to them and back, and the list of matters.

A transfer is a resource of its own (``/transfers``): ``POST /incidents/{id}/{action}`` holds the
steps of the state machine, so a transfer is made with ``POST /transfers`` and decided with
``POST /transfers/{id}/accept`` or ``/return``. A department's users see its cases alone; every
route answers within the user's jurisdiction (404 outside it).
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from geo_service.api.dependencies import EngineDep, Moment, Page, SettingsDep, allow, page
from geo_service.auth import audit
from geo_service.auth.personal import mask_phone
from geo_service.auth.principal import Principal
from geo_service.cases import routing, transfers
from geo_service.times import as_aware

router = APIRouter(tags=["departments"])

InboxState = Literal["pending", "handling", "overdue", "done", "all"]


class TransferIn(BaseModel):
    incident_id: int = Field(..., description="The case to transfer.")
    department: str | None = Field(
        None,
        min_length=1,
        max_length=40,
        description="The department's code (GET /departments); omitted, the routing rules name it by the case's matter.",
    )
    matter: str | None = Field(
        None, min_length=1, max_length=40, description="Set the case's matter first (GET /matters)."
    )
    reason: str | None = Field(None, max_length=2000, description="Why this department (on the timeline).")
    actor: str | None = Field(
        None, min_length=1, max_length=100, description="Who transfers, for the timeline (default the signed-in user)."
    )


class DecisionIn(BaseModel):
    actor: str | None = Field(
        None, min_length=1, max_length=100, description="Who decides, for the timeline (default the signed-in user)."
    )
    note: str | None = Field(None, max_length=2000, description="accept: a note for the timeline.")
    reason: str | None = Field(None, max_length=2000, description="return: why the department sends the case back.")


@router.get("/departments", summary="The departments you may name, with the cases each holds")
def get_departments(
    engine: EngineDep,
    settings: SettingsDep,
    principal: Principal = Depends(allow("incidents.read")),
    at: Moment | None = Query(None, description="Overdue as at this moment (default now)."),
) -> dict:
    """County departments and town offices of your county (a department's user: theirs alone), each
    with the cases it holds in your jurisdiction: `pending` (waiting for it to accept), `handling`,
    `overdue` and `done`."""
    moment = as_aware(at, settings.place.timezone)
    with engine.connect() as connection:
        found = routing.list_departments(connection, moment, principal.jurisdiction)
    return {"at": moment.isoformat(), "departments": found}


@router.get("/departments/{code}", summary="A department: its people, the matters it is sent, its cases")
def get_department(
    code: str,
    engine: EngineDep,
    settings: SettingsDep,
    principal: Principal = Depends(allow("incidents.read")),
) -> dict:
    """Its people's phones are masked without the `personal.read` permission (and the read is on
    the audit log with it). 404 for a department you may not name."""
    moment = as_aware(None, settings.place.timezone)
    with engine.begin() as connection:
        department = routing.read_department(connection, code, moment, principal.jurisdiction)
        if principal.can("personal.read"):
            audit.record(connection, principal.name, "read_personal", "department", code)
        else:
            for person in department["staff"]:
                person["phone"] = mask_phone(person["phone"])
    return department


@router.get("/departments/{code}/cases", summary="A department's inbox: the cases it holds")
def get_department_cases(
    code: str,
    engine: EngineDep,
    settings: SettingsDep,
    paging: Page = Depends(page(1000)),
    principal: Principal = Depends(allow("incidents.read")),
    state: InboxState = Query("all", description="pending, handling, overdue (at `at`), done or all."),
    at: Moment | None = Query(None, description="Overdue as at this moment (default now)."),
) -> dict:
    """Those waiting for the department first, then by deadline; each with its open transfer's id
    (to accept or return it)."""
    limit, offset = paging
    moment = as_aware(at, settings.place.timezone)
    with engine.connect() as connection:
        items, total = routing.department_cases(
            connection, code, moment, state=state, limit=limit, offset=offset, scope=principal.jurisdiction
        )
    return {"department": code, "state": state, "total": total, "limit": limit, "offset": offset, "items": items}


@router.get("/matters", summary="The county's list of matters: each category and its matters")
def get_matters(engine: EngineDep, principal: Principal = Depends(allow("incidents.read"))) -> dict:
    with engine.connect() as connection:
        return {"categories": routing.list_matters(connection)}


@router.post("/transfers", status_code=201, summary="Transfer a case to a department (分流移交)")
def post_transfer(body: TransferIn, engine: EngineDep, principal: Principal = Depends(allow("cases.act"))) -> dict:
    """To the `department` named or, without one, the one the routing rules name for the case's
    matter (`matter` sets it first). The department's deadline runs from now, its people are bound
    and told; a transfer still open is replaced. 404 for a case outside your jurisdiction; 409 for
    a case not being handled or already with that department; 422 for a department that does not
    serve the case's place, or no rule to name one."""
    with engine.begin() as connection:
        return transfers.transfer(
            connection,
            body.incident_id,
            body.department,
            actor=body.actor or principal.name,
            signed_in=principal.name,
            reason=body.reason,
            matter=body.matter,
            scope=principal.jurisdiction,
        )


@router.get("/transfers/{transfer_id}", summary="One transfer, with the department's people it bound")
def get_transfer(transfer_id: int, engine: EngineDep, principal: Principal = Depends(allow("incidents.read"))) -> dict:
    with engine.connect() as connection:
        return routing.read_transfer(connection, transfer_id, principal.jurisdiction)


@router.post("/transfers/{transfer_id}/accept", summary="The department takes the case on (签收)")
def post_accept(
    transfer_id: int, body: DecisionIn, engine: EngineDep, principal: Principal = Depends(allow("cases.act"))
) -> dict:
    """By a user of the department; the case becomes accepted, under the department's deadline."""
    with engine.begin() as connection:
        return transfers.accept(
            connection,
            transfer_id,
            actor=body.actor or principal.name,
            signed_in=principal.name,
            note=body.note,
            scope=principal.jurisdiction,
        )


@router.post("/transfers/{transfer_id}/return", summary="The department sends the case back, saying why")
def post_return(
    transfer_id: int,
    body: DecisionIn,
    engine: EngineDep,
    settings: SettingsDep,
    principal: Principal = Depends(allow("cases.act")),
) -> dict:
    """By a user of the department, with a `reason`: the case goes back to its territorial people,
    bound afresh and told, under the territorial time limit from now."""
    with engine.begin() as connection:
        return transfers.send_back(
            connection,
            transfer_id,
            body.reason,
            actor=body.actor or principal.name,
            signed_in=principal.name,
            zone=settings.place.timezone,
            scope=principal.jurisdiction,
        )


@router.get("/incidents/{incident_id}/transfers", summary="A case's matter, department and transfers")
def get_case_transfers(
    incident_id: int, engine: EngineDep, principal: Principal = Depends(allow("incidents.read"))
) -> dict:
    """The department holding it, every transfer (oldest first) and where the routing rules would
    send it now (`suggested`)."""
    with engine.connect() as connection:
        return routing.case_transfers(connection, incident_id, principal.jurisdiction)
