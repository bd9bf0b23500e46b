"""One JSON line per request, its id in ``X-Request-ID``, and its place in the metrics.

The line holds what an operator needs to follow a request through the logs: when, its id (the
client's ``X-Request-ID`` when it sends a sane one, so a request can be followed across services,
else a new one), method, route template, status, duration and the signed-in user's name. Never
the query string, the body or the raw path: those can carry names, phones and places.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from datetime import UTC, datetime

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from geo_service.metrics import ServiceMetrics

logger = logging.getLogger("geo_service.requests")

HEADER = b"x-request-id"
# A client's id is kept only if it cannot forge log lines or bloat them.
_SANE_ID = re.compile(rb"[A-Za-z0-9._:-]{1,128}")
UNMATCHED = "(unmatched)"


def route_of(scope: Scope) -> str:
    """The template of the route that answered (``/incidents/{incident_id}``), once routed; one
    label for every path no route holds, so strangers' paths cannot multiply the series."""
    route = scope.get("route")
    return getattr(route, "path_format", None) or getattr(route, "path", None) or UNMATCHED


def request_id(scope: Scope) -> str:
    for name, value in scope.get("headers") or ():
        if name == HEADER and _SANE_ID.fullmatch(value):
            return value.decode()
    return uuid.uuid4().hex


class RequestLog:
    """ASGI middleware around the whole app: the outermost, so it sees every answer, refusals included."""

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        rid = request_id(scope)
        state = scope.setdefault("state", {})  # where the app leaves the signed-in principal
        status = 500  # if the app fails before answering, the server answers 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [h for h in message.get("headers", []) if h[0].lower() != HEADER]
                message = {**message, "headers": [*headers, (HEADER, rid.encode())]}
            await send(message)

        self.metrics.in_flight.inc()
        try:
            await self.app(scope, receive, sending)
        finally:
            self.metrics.in_flight.dec()
            seconds = time.perf_counter() - started
            route = route_of(scope)
            self.metrics.observe(scope["method"], route, status, seconds)
            principal = state.get("principal") if isinstance(state, dict) else None
            logger.info(
                json.dumps(
                    {
                        "at": datetime.now(UTC).isoformat(timespec="milliseconds"),
                        "request_id": rid,
                        "method": scope["method"],
                        "route": route,
                        "status": status,
                        "duration_ms": round(seconds * 1000, 1),
                        "user": getattr(principal, "name", None),
                    },
                    ensure_ascii=False,
                )
            )
