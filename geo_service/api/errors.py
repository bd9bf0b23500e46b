"""How the library's errors reach an HTTP client: status code and a JSON body naming the problem."""

from __future__ import annotations

import math
from http import HTTPStatus
from typing import Any

import psycopg2
import psycopg2.errors
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pandas.errors import DatabaseError as PandasDatabaseError
from sqlalchemy.exc import DBAPIError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from geo_service.api.json_bodies import shown
from geo_service.errors import GeoServiceError, Unauthenticated
from geo_service.i18n import negotiate, render

# Browsers and scripts send a bearer token, GIS desktop clients Basic. Basic is offered only to a
# request that tried it: to a page's fetch it would bring up the browser's own password dialog.
BEARER = 'Bearer realm="geo_service"'
BASIC = 'Basic realm="geo_service"'


def _challenge(request: Request) -> str:
    tried = (request.headers.get("authorization") or "").split(" ", 1)[0].lower()
    return BASIC if tried == "basic" else BEARER


def install(app: FastAPI) -> None:
    @app.exception_handler(GeoServiceError)
    async def _service_error(request: Request, exc: GeoServiceError) -> JSONResponse:
        headers = {"WWW-Authenticate": _challenge(request)} if isinstance(exc, Unauthenticated) else {}
        if "retry_after" in exc.detail:
            headers["Retry-After"] = str(exc.detail["retry_after"])
        language = negotiate(request.headers.get("accept-language"))
        body = {**exc.to_dict(), "message": render(exc.message, language)}
        headers["Content-Language"] = language
        return JSONResponse(body, status_code=exc.status_code, headers=headers)

    # FastAPI's own validation answers in the service's shape (error, message, field), keeping its
    # list of problems as ``detail`` for clients that read every one. The problems' ``input`` is
    # the request's own value, which may be anything the client sent (NaN, bytes, a huge integer):
    # it is made plain JSON first (``plain``), so that the answer can always be written.
    @app.exception_handler(RequestValidationError)
    async def _invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        raw = list(exc.errors())
        # A route expecting JSON is given the raw bytes of a body sent as anything else.
        if any(tuple(p.get("loc", ())) == ("body",) and isinstance(p.get("input"), (bytes, bytearray)) for p in raw):
            sent = request.headers.get("content-type")
            return JSONResponse(
                {
                    "error": "UnsupportedMediaType",
                    "message": "the body must be JSON, sent with Content-Type: application/json; it came "
                    + (f'as "{shown(sent)}"' if sent else "with no Content-Type"),
                    "field": "body",
                },
                status_code=415,
            )
        problems = [plain(problem) for problem in raw]
        first = problems[0] if problems else {"loc": [], "msg": "invalid request"}
        loc = first.get("loc") or []
        where = [str(part) for part in loc if part not in ("query", "path", "body", "header")]
        field = next((part for part in reversed(where) if not part.isdigit()), None)
        if field is None and loc[:1] == ["body"]:  # the body itself, or an item of a list body
            where, field = ["body", *where], "body"
        said = first.get("msg", "invalid value")
        if (bad := _non_finite(raw[0].get("input") if raw else None)) is not None:
            said = f"{bad} is not a number the service accepts"
        message = f"{'.'.join(where)}: {said}" if where else said
        if len(problems) > 1:
            message += f" (and {len(problems) - 1} more problem{'s' if len(problems) > 2 else ''})"
        body = {"error": "InvalidInput", "message": message, "field": field, "detail": problems}
        return JSONResponse(body, status_code=422)

    # Starlette's and FastAPI's own refusals (an unknown path, a wrong method, a multipart body
    # that cannot be parsed) in the service's shape, keeping ``detail`` as they give it.
    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        try:
            name = "".join(word.title() for word in HTTPStatus(exc.status_code).phrase.split())
        except ValueError:
            name = "HTTPError"
        detail = plain(exc.detail)
        message = detail if isinstance(detail, str) else HTTPStatus(exc.status_code).phrase
        return JSONResponse(
            {"error": name, "message": message, "detail": detail}, status_code=exc.status_code, headers=exc.headers
        )

    # PostgreSQL's text cannot hold the NUL character; psycopg2 refuses it before sending, with a
    # ValueError of its own, wherever a request's text meets a query.
    @app.exception_handler(ValueError)
    async def _nul_in_text(request: Request, exc: ValueError) -> JSONResponse:
        if "NUL (0x00)" not in str(exc):
            raise exc
        return JSONResponse(
            {
                "error": "InvalidInput",
                "message": "a text value of the request holds the NUL character (\\u0000), which no field may contain",
            },
            status_code=422,
        )

    # The database going away (a restart, a failover) is the service being briefly unavailable, not
    # a fault: 503 with a hint to retry; the pool reconnects by itself on the next request. pandas
    # (read_sql, and geopandas' read_postgis) wraps the driver's error in one of its own. Text
    # PostgreSQL refuses on its side (NUL reaching it through COPY, which psycopg2 does not check)
    # is the request's fault: 422, as for NUL above.
    async def _maybe_unavailable(request: Request, exc: Exception) -> JSONResponse:
        if _caused_by(exc, (psycopg2.errors.CharacterNotInRepertoire, psycopg2.errors.UntranslatableCharacter)):
            return JSONResponse(
                {
                    "error": "InvalidInput",
                    "message": "a text value of the request holds a character the database cannot store "
                    "(such as NUL, \\u0000), which no field may contain",
                },
                status_code=422,
            )
        if not database_gone(exc):
            raise exc
        return JSONResponse(
            {"error": "Unavailable", "message": "the database cannot be reached just now; retry shortly"},
            status_code=503,
            headers={"Retry-After": "2"},
        )

    for kind in (DBAPIError, PandasDatabaseError, psycopg2.Error):
        app.add_exception_handler(kind, _maybe_unavailable)


LONGEST = 200  # characters of a client's value an error answer repeats
MOST = 20  # items of a list or object it repeats


def _non_finite(value: Any) -> str | None:
    """``NaN``, ``Infinity`` or ``-Infinity`` for such a float, else None."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    return None


def plain(value: Any, depth: int = 0) -> Any:
    """``value`` as JSON can always hold it: floats that are not finite as their names, bytes as
    text, huge integers and long texts cut short, deep or long structures trimmed."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, float):
        return _non_finite(value) or value
    if isinstance(value, int):
        # (not its digits: str() refuses integers of more than 4,300)
        return value if -(2**63) <= value < 2**63 else f"an integer of {value.bit_length():,} bits"
    if isinstance(value, (bytes, bytearray)):
        value = bytes(value[: LONGEST * 4]).decode("utf-8", "replace")
    if isinstance(value, str):
        text = value.encode("utf-8", "backslashreplace").decode("utf-8")
        return text if len(text) <= LONGEST else f"{text[:LONGEST]}... ({len(text):,} characters)"
    if depth >= 6:
        return "..."
    if isinstance(value, dict):
        items = list(value.items())
        kept = {plain(str(k) if not isinstance(k, str) else k): plain(v, depth + 1) for k, v in items[:MOST]}
        if len(items) > MOST:
            kept["..."] = f"{len(items) - MOST:,} more"
        return kept
    if isinstance(value, (list, tuple, set, frozenset)):
        items = list(value)
        kept = [plain(v, depth + 1) for v in items[:MOST]]
        return kept + [f"... {len(items) - MOST:,} more"] if len(items) > MOST else kept
    try:
        return plain(jsonable_encoder(value), depth + 1)
    except Exception:  # noqa: BLE001 - whatever it is, its text will do
        return plain(str(value), depth + 1)


def _caused_by(exc: BaseException, kinds: tuple[type[BaseException], ...]) -> bool:
    """Whether ``exc``, or an error it was raised from, is one of ``kinds``."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, kinds) or isinstance(getattr(seen, "orig", None), kinds):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def database_gone(exc: BaseException) -> bool:
    """Whether ``exc``, or an error it was raised from, is the connection to the database failing."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, (OperationalError, psycopg2.OperationalError, psycopg2.InterfaceError)):
            return True
        if isinstance(seen, DBAPIError) and seen.connection_invalidated:
            return True
        seen = seen.__cause__ or seen.__context__
    return False
