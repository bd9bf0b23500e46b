"""The library's errors. Each carries the HTTP status the API answers it with, so the mapping
lives in one place (``geo_service.api.errors``) and the command line can print the same message.
"""

from __future__ import annotations

from typing import Any


class GeoServiceError(Exception):
    """Base of the service's errors: ``message`` says what is wrong and what to do."""

    status_code = 500

    def __init__(self, message: str, *, field: str | None = None, **detail: Any) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.detail = detail

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": type(self).__name__, "message": self.message}
        if self.field:
            body["field"] = self.field
        body.update(self.detail)
        return body


class InvalidInput(GeoServiceError):
    """Input that cannot be used as given: a bad value, a coordinate out of range."""

    status_code = 422


class OutsideCoverage(InvalidInput):
    """A location outside the area this deployment covers."""


class Unauthenticated(GeoServiceError):
    """No valid bearer token: the API answers 401 with ``WWW-Authenticate: Bearer``."""

    status_code = 401


class Forbidden(GeoServiceError):
    """A valid user asking for what their role or jurisdiction does not allow."""

    status_code = 403


class NotFound(GeoServiceError):
    status_code = 404


class Conflict(GeoServiceError):
    status_code = 409


class TooLarge(GeoServiceError):
    status_code = 413


class Unavailable(GeoServiceError):
    """The database or another dependency cannot answer now."""

    status_code = 503
