"""Authentication and permissions for the API: every route but the public documents needs a
bearer token (ours, or the county identity provider's); each route names the permission it needs.

``allow("incidents.read")`` is a dependency giving the request's :class:`Principal`; the library
calls it makes are given ``principal.jurisdiction`` so that their SQL sees only the user's part of
the county.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from geo_service.auth.principal import Principal, principal_for_token
from geo_service.errors import Unauthenticated

bearer = HTTPBearer(auto_error=False, description="A token from `geo-service users add` (or the identity provider's).")
router = APIRouter(prefix="/auth", tags=["auth"])


def current_principal(
    request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(bearer)
) -> Principal:
    if credentials is None:
        raise Unauthenticated("sign in: send the header 'Authorization: Bearer <token>'")
    with request.app.state.engine.connect() as connection:
        principal = principal_for_token(connection, credentials.credentials, request.app.state.settings)
    request.state.principal = principal
    return principal


def allow(permission: str | None = None, *, whole: str | None = None):
    """A dependency: the principal, if their role has ``permission`` (and, given ``whole``, their
    jurisdiction holds every county served; the text says what needs it)."""

    def dependency(principal: Principal = Depends(current_principal)) -> Principal:
        if permission:
            principal.require(permission)
        if whole:
            principal.require_whole(whole)
        return principal

    return dependency


@router.get("/me", summary="Who the token belongs to: name, role, permissions, jurisdiction")
def me(principal: Principal = Depends(current_principal)) -> dict:
    return principal.to_dict()
