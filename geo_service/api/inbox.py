"""The dispatcher's inbox: the cases of the user's jurisdiction that need someone now, with counts.

New cases reach an open page by polling ``GET /inbox/changes?since=<cursor>``: plain requests that
carry the user's token like every other, pass through any proxy, and survive a dropped
connection (server-sent events would need the token in the address, since a browser's
EventSource sends no header, and are buffered or cut by many proxies).
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from geo_service.api.dependencies import EngineDep, Moment, Page, SettingsDep, allow, page
from geo_service.auth.principal import Principal
from geo_service.cases.inbox import (
    BUCKETS,
    MAX_PAGE,
    MAX_URGE,
    OPEN_STATUSES,
    InboxFilter,
    changes,
    inbox,
    places,
    urge_each,
)
from geo_service.i18n import negotiate, render
from geo_service.times import as_aware, optional_aware
from geo_service.vocabulary import LARGEST_ID, RiskColour

router = APIRouter(prefix="/inbox", tags=["inbox"])

Bucket = Literal[BUCKETS]  # type: ignore[valid-type]
OpenStatus = Literal[OPEN_STATUSES]  # type: ignore[valid-type]


@router.get("", summary="Open cases that need someone, in buckets with their counts, red first")
def get_inbox(
    engine: EngineDep,
    settings: SettingsDep,
    paging: Page = Depends(page(MAX_PAGE, default=50)),
    principal: Principal = Depends(allow("incidents.read")),
    bucket: Bucket | None = Query(
        None,
        description="new (reported or reopened), dispatched (being handled), overdue (deadline passed), "
        "due_soon (deadline within settings.cases.due_soon_hours); none: every open case.",
    ),
    place: str | None = Query(
        None, max_length=21, description="A town, village or grid code (a grid's takes its sub-grids)."
    ),
    category: list[str] | None = Query(None, description="Category codes (repeat the parameter for several)."),
    source: list[str] | None = Query(None, description="Source codes."),
    status: list[OpenStatus] | None = Query(None, description="Statuses of open cases."),
    risk: list[RiskColour] | None = Query(None, description="Risk colours."),
    start: Moment | None = Query(None, description="Reported at or after (no zone = the county's time)."),
    end: Moment | None = Query(None, description="Reported before."),
    q: str | None = Query(None, max_length=100, description="A case's id or external id, or words of its description."),
    at: Moment | None = Query(None, description="As at this moment, for overdue and due soon (default now)."),
    with_places: bool = Query(
        False, description="Also list the towns and villages holding open cases, with their counts."
    ),
) -> dict:
    """The chosen bucket's cases, red first, then by deadline (the oldest waiting first among
    those with none); `counts` gives every bucket under the same filters, `total` the chosen
    bucket's. Only the user's jurisdiction is ever counted or listed."""
    limit, offset = paging
    zone = settings.place.timezone
    where = InboxFilter(
        place=place,
        category=tuple(category or ()),
        source=tuple(source or ()),
        status=tuple(status or ()),
        risk=tuple(risk or ()),
        start=optional_aware(start, zone),
        end=optional_aware(end, zone),
        q=q,
    )
    scope = principal.jurisdiction
    with engine.connect() as connection:
        body = inbox(connection, where, bucket, as_aware(at, zone), settings, limit=limit, offset=offset, scope=scope)
        if with_places:
            body["places"] = places(connection, scope)
    return body


@router.get("/changes", summary="Cases recorded since the page last asked, and the counts now")
def get_changes(
    engine: EngineDep,
    settings: SettingsDep,
    principal: Principal = Depends(allow("incidents.read")),
    since: int = Query(0, ge=0, le=LARGEST_ID, description="The cursor of the last answer (0: the newest cases)."),
    at: Moment | None = Query(None, description="As at this moment, for the counts (default now)."),
) -> dict:
    """Poll this every few seconds with the last answer's `cursor`: `items` are the open cases of
    the jurisdiction recorded after it (newest first; the last few seconds' may come again, to be
    known by id), `counts` the buckets' counts now; a page whose counts moved reloads its list."""
    with engine.connect() as connection:
        return changes(connection, since, as_aware(at, settings.place.timezone), settings, scope=principal.jurisdiction)


class UrgeIn(BaseModel):
    ids: list[Annotated[int, Field(ge=1, le=LARGEST_ID)]] = Field(
        ...,
        min_length=1,
        max_length=MAX_URGE,
        description=f"The cases to urge (1 to {MAX_URGE}), each urged once.",
    )
    note: str | None = Field(None, max_length=2000)
    actor: str | None = Field(
        None, min_length=1, max_length=100, description="Who urges, for the timeline (default the signed-in user)."
    )


@router.post("/urge", summary="Urge (催办) several cases at once, each on its own")
def post_urge(
    request: Request,
    body: UrgeIn,
    engine: EngineDep,
    settings: SettingsDep,
    principal: Principal = Depends(allow("cases.act")),
) -> dict:
    """Each case is urged through the state machine in a transaction of its own, so a refusal
    leaves the others urged: `results` answers each, in the order given, with its status and urge
    count, or the server's message (in the reader's language) and the HTTP status it would have
    had alone (409 for a case not being handled, 404 for one outside the jurisdiction)."""
    language = negotiate(request.headers.get("accept-language"))
    done = urge_each(
        engine,
        body.ids,
        body.actor or principal.name,
        signed_in=principal.name,
        settings=settings,
        note=body.note,
        scope=principal.jurisdiction,
    )
    results = [
        {"id": one.id, "ok": True, "status": one.status, "urge_count": one.urge_count}
        if one.ok
        else {
            "id": one.id,
            "ok": False,
            "status_code": one.error.status_code,
            **one.error.to_dict(),
            "message": render(one.error.message, language),
        }
        for one in done
    ]
    urged = sum(1 for r in results if r["ok"])
    return {"urged": urged, "refused": len(results) - urged, "results": results}
