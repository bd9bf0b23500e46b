"""Limits that keep one client from starving the others: a cap on request bodies (413), and a
rate limit per user on the expensive endpoints (429 with Retry-After).

The rate limit is kept in the process (a sliding minute per user): with several workers each
counts its own share, which bounds a user at workers x the setting; good enough to stop a
runaway script, and needing nothing beside the service.
"""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict, deque

from fastapi import Depends, Request
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from geo_service.api.auth import current_principal
from geo_service.auth.principal import Principal
from geo_service.errors import GeoServiceError
from geo_service.i18n import negotiate, render, t


class TooManyRequests(GeoServiceError):
    status_code = 429


class BodyLimit:
    """ASGI middleware: a declared or streamed body over ``max_bytes`` answers 413 before the
    endpoint reads it (uploads of boundary files have their own, larger limit)."""

    def __init__(self, app: ASGIApp, max_bytes: int, upload_max_bytes: int, upload_paths: tuple[str, ...]) -> None:
        self.app, self.max_bytes, self.upload_max_bytes, self.upload_paths = (
            app,
            max_bytes,
            upload_max_bytes,
            upload_paths,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.upload_max_bytes if scope["path"].startswith(self.upload_paths) else self.max_bytes
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._refuse(scope, send, limit)
            return
        seen, started, refused = 0, False, False

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if refused:
                return  # the 413 has gone out: whatever the endpoint answers is dropped
            started = True
            await send(message)

        async def counted() -> Message:
            nonlocal seen, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit and not started:
                    await self._refuse(scope, send, limit)
                    refused = True
                    return {"type": "http.disconnect"}
            return message

        await self.app(scope, counted, guarded_send)

    @staticmethod
    async def _refuse(scope: Scope, send: Send, limit: int) -> None:
        language = negotiate(Headers(scope=scope).get("accept-language"))
        said = t("the request body is over {limit:,} bytes; split it or use the command line", limit=limit)
        body = json.dumps(
            {"error": "TooLarge", "message": render(said, language), "field": "body"}, ensure_ascii=False
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"content-language", language.encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


class RateLimiter:
    def __init__(self) -> None:
        self._hits: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def check(self, key: str, per_minute: int) -> None:
        now = time.monotonic()
        with self._lock:
            hits = self._hits[key]
            while hits and now - hits[0] >= 60:
                hits.popleft()
            if len(hits) >= per_minute:
                wait = int(60 - (now - hits[0])) + 1
                raise TooManyRequests(
                    t(
                        "more than {per_minute} expensive requests (analyses, bulk work, exports) in a minute; retry in {wait} s",
                        per_minute=per_minute,
                        wait=wait,
                    ),
                    field="rate",
                    retry_after=wait,
                )
            hits.append(now)


def expensive(request: Request, principal: Principal = Depends(current_principal)) -> None:
    """A dependency for the expensive endpoints: counts the user's requests of the last minute."""
    request.app.state.rate_limiter.check(principal.name, request.app.state.settings.serving.expensive_per_minute)
