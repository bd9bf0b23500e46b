"""How the library's errors reach an HTTP client: status code and a JSON body naming the problem."""

from __future__ import annotations

import psycopg2
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pandas.errors import DatabaseError as PandasDatabaseError
from sqlalchemy.exc import DBAPIError, OperationalError

from geo_service.errors import GeoServiceError, Unauthenticated


def install(app: FastAPI) -> None:
    @app.exception_handler(GeoServiceError)
    async def _service_error(request: Request, exc: GeoServiceError) -> JSONResponse:
        headers = {"WWW-Authenticate": 'Bearer realm="geo_service"'} if isinstance(exc, Unauthenticated) else {}
        if "retry_after" in exc.detail:
            headers["Retry-After"] = str(exc.detail["retry_after"])
        return JSONResponse(exc.to_dict(), status_code=exc.status_code, headers=headers or None)

    # FastAPI's own validation answers in the service's shape (error, message, field), keeping its
    # list of problems as ``detail`` for clients that read every one.
    @app.exception_handler(RequestValidationError)
    async def _invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = jsonable_encoder(exc.errors())
        first = problems[0] if problems else {"loc": [], "msg": "invalid request"}
        where = [str(part) for part in first.get("loc", []) if part not in ("query", "path", "body", "header")]
        field = next((part for part in reversed(where) if not part.isdigit()), None)
        message = f"{'.'.join(where)}: {first['msg']}" if where else first["msg"]
        if len(problems) > 1:
            message += f" (and {len(problems) - 1} more problem{'s' if len(problems) > 2 else ''})"
        body = {"error": "InvalidInput", "message": message, "field": field, "detail": problems}
        return JSONResponse(body, status_code=422)

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
    # (read_sql, and geopandas' read_postgis) wraps the driver's error in one of its own.
    async def _maybe_unavailable(request: Request, exc: Exception) -> JSONResponse:
        if not database_gone(exc):
            raise exc
        return JSONResponse(
            {"error": "Unavailable", "message": "the database cannot be reached just now; retry shortly"},
            status_code=503,
            headers={"Retry-After": "2"},
        )

    for kind in (DBAPIError, PandasDatabaseError):
        app.add_exception_handler(kind, _maybe_unavailable)


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
