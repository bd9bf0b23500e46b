"""Authentication and permissions for the API: every route but the public documents needs a
token (ours, or the county identity provider's), sent as a bearer token or, for GIS desktop
clients that cannot send one (QGIS's Basic method, GDAL's ``GDAL_HTTP_USERPWD``), as the password
of HTTP Basic with the user's name; each route names the permission it needs.

``allow("incidents.read")`` is a dependency giving the request's :class:`Principal`; the library
calls it makes are given ``principal.jurisdiction`` so that their SQL sees only the user's part of
the deployment.
"""

from __future__ import annotations

import base64
import binascii

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBasic, HTTPBasicCredentials, HTTPBearer

from geo_service.auth.principal import Principal, principal_for_token
from geo_service.auth.principal_cache import PrincipalCache
from geo_service.errors import Unauthenticated
from geo_service.i18n import t

SIGN_IN = t(
    "sign in: send the header 'Authorization: Bearer <token>', or HTTP Basic with your user name "
    "and your token as the password"
)


class _Basic(HTTPBasic):
    """HTTP Basic read leniently (a user name may be Chinese, in UTF-8) and refused in the
    service's own words."""

    async def __call__(self, request: Request) -> HTTPBasicCredentials | None:  # type: ignore[override]
        scheme, _, param = (request.headers.get("Authorization") or "").partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            raw = base64.b64decode(param.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise Unauthenticated(t("the Basic credentials are not base64 of 'name:token'")) from None
        try:
            decoded = raw.decode("utf-8")
        except UnicodeDecodeError:
            decoded = raw.decode("latin-1")
        name, colon, token = decoded.partition(":")
        if not colon or not token:
            raise Unauthenticated(t("the Basic credentials carry no token: use your token as the password"))
        return HTTPBasicCredentials(username=name, password=token)


bearer = HTTPBearer(auto_error=False, description="A token from `geo-service users add` (or the identity provider's).")
basic = _Basic(
    auto_error=False,
    realm="geo_service",
    description="For GIS desktop clients (QGIS, GDAL): your user name, and your token as the password.",
)
router = APIRouter(prefix="/auth", tags=["auth"])


async def current_principal(
    request: Request,
    credentials: HTTPAuthorizationCredentials | None = Depends(bearer),
    password: HTTPBasicCredentials | None = Depends(basic),
) -> Principal:
    """The signed-in principal. Kept by the worker after its first request (revocation heard at once,
    ``geo_service.auth.principal_cache``), so that most requests read no table and take no thread
    to know who sent them."""
    if credentials is None and password is None:
        raise Unauthenticated(SIGN_IN)
    token = credentials.credentials if credentials is not None else password.password
    state = request.app.state
    cache = getattr(state, "principals", None)
    if cache is None:
        cache = state.principals = PrincipalCache(state.engine)
    principal, generation = cache.get(token)
    if principal is None:
        principal = await run_in_threadpool(_read_principal, state.engine, token, state.settings)
        cache.put(token, generation, principal)
    if password is not None and password.username and password.username != principal.name:
        # The name is checked so that a token pasted into another user's connection is noticed.
        raise Unauthenticated(t("the user name does not match the token's user"))
    request.state.principal = principal
    return principal


def _read_principal(engine, token: str, settings) -> Principal:
    with engine.connect() as connection:
        return principal_for_token(connection, token, settings)


def allow(permission: str | None = None, *, whole: str | None = None):
    """A dependency: the principal, if their role has ``permission`` (and, given ``whole``, their
    jurisdiction holds every county served; the text says what needs it)."""

    async def dependency(principal: Principal = Depends(current_principal)) -> Principal:
        if permission:
            principal.require(permission)
        if whole:
            principal.require_whole(whole)
        return principal

    return dependency


@router.get("/me", summary="Who the token belongs to: name, role, permissions, jurisdiction")
def me(principal: Principal = Depends(current_principal)) -> dict:
    return principal.to_dict()
