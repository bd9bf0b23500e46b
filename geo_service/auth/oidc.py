"""OpenID Connect access tokens from the county's own identity provider, verified against its keys.

Settings (``settings.identity``): ``oidc_jwks`` (the provider's JWKS, a URL or a file), ``oidc_issuer``, ``oidc_audience``,
and the claims that carry a user's name, role and jurisdiction. The signature, expiry, issuer
and audience are all checked; a token failing any of them is refused as a whole.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import jwt

from geo_service.errors import Unauthenticated
from geo_service.i18n import t
from geo_service.settings import IdentitySettings

ALGORITHMS = ["RS256", "RS384", "RS512", "ES256", "ES384", "PS256"]


@lru_cache(maxsize=4)
def _keys(source: str) -> jwt.PyJWKClient | jwt.PyJWKSet:
    if source.startswith(("http://", "https://")):
        return jwt.PyJWKClient(source, cache_keys=True, lifespan=300)
    return jwt.PyJWKSet.from_dict(json.loads(Path(source).read_text()))


def _signing_key(token: str, source: str):
    keys = _keys(source)
    if isinstance(keys, jwt.PyJWKClient):
        return keys.get_signing_key_from_jwt(token).key
    kid = jwt.get_unverified_header(token).get("kid")
    for key in keys.keys:
        if kid is None or key.key_id == kid:
            return key.key
    raise Unauthenticated(t("the token is signed with a key the identity provider does not publish"))


def claims_of(token: str, identity: IdentitySettings) -> tuple[str, str, str]:
    """(name, role, jurisdiction) from a token verified against the provider ``identity`` names."""
    try:
        claims = jwt.decode(
            token,
            _signing_key(token, identity.oidc_jwks),
            algorithms=ALGORITHMS,
            audience=identity.oidc_audience,
            issuer=identity.oidc_issuer,
            options={"require": ["exp", "iss", "sub"]},
        )
    except jwt.PyJWTError as exc:
        raise Unauthenticated(t("the identity provider's token is not valid: {exc}", exc=exc)) from None
    missing = [c for c in (identity.oidc_role_claim, identity.oidc_jurisdiction_claim) if c not in claims]
    if missing:
        raise Unauthenticated(t("the identity provider's token lacks the claims {missing}", missing=", ".join(missing)))
    name = str(claims.get(identity.oidc_name_claim) or claims["sub"])
    return name, str(claims[identity.oidc_role_claim]), str(claims[identity.oidc_jurisdiction_claim])
