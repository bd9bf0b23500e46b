"""How the library's errors reach an HTTP client: status code and a JSON body naming the problem."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from geo_service.errors import GeoServiceError


def install(app: FastAPI) -> None:
    @app.exception_handler(GeoServiceError)
    async def _service_error(request: Request, exc: GeoServiceError) -> JSONResponse:
        return JSONResponse(exc.to_dict(), status_code=exc.status_code)
