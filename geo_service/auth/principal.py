"""The principal a request acts as: a user, their role's permissions and their jurisdiction."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo_service.auth.jurisdiction import Jurisdiction, resolve
from geo_service.auth.tokens import token_hash
from geo_service.errors import Forbidden, Unauthenticated
from geo_service.i18n import t
from geo_service.settings import Settings

_BY_TOKEN = text("""
    SELECT u.name, u.role, u.jurisdiction, u.department, d.name_zh AS department_name,
           coalesce(array_agg(p.permission) FILTER (WHERE p.permission IS NOT NULL), '{}') AS permissions
      FROM users u LEFT JOIN role_permissions p ON p.role = u.role
      LEFT JOIN departments d ON d.code = u.department
     WHERE u.token_hash = :hash AND u.revoked_at IS NULL
     GROUP BY u.name, u.role, u.jurisdiction, u.department, d.name_zh
""")
_PERMISSIONS = text("SELECT permission FROM role_permissions WHERE role = :role")


@dataclass(frozen=True)
class Principal:
    name: str
    role: str
    permissions: frozenset[str]
    jurisdiction: Jurisdiction
    via: str = "token"  # or "oidc"

    def can(self, permission: str) -> bool:
        return permission in self.permissions

    def require(self, permission: str) -> None:
        if not self.can(permission):
            raise Forbidden(
                t(
                    "the {role} role may not do this (it needs the {permission!r} permission)",
                    role=self.role,
                    permission=permission,
                ),
                field="permission",
            )

    @property
    def department(self) -> str | None:
        """The department the user belongs to (its cases are all they see), or None."""
        return self.jurisdiction.department

    def require_whole(self, what: str) -> None:
        """Refuse unless the jurisdiction holds every county served: what ``what`` changes or shows
        is shared by all of them (the rules, the audit log)."""
        if not self.jurisdiction.whole_deployment:
            raise Forbidden(
                t(
                    "{what} is for users whose jurisdiction holds every county this service serves; yours is {code} ({name})",
                    what=what,
                    code=self.jurisdiction.code,
                    name=self.jurisdiction.name,
                ),
                field="jurisdiction",
            )

    def require_county_of(self, county_code: str | None, what: str) -> None:
        """Refuse unless the county ``county_code`` lies wholly in the jurisdiction (a county's
        boundaries, its files)."""
        if not self.jurisdiction.holds_county(county_code):
            raise Forbidden(
                t(
                    "{what} of county {value} is not for you: your jurisdiction is {code} ({name})",
                    what=what,
                    value=(county_code or "")[:6],
                    code=self.jurisdiction.code,
                    name=self.jurisdiction.name,
                ),
                field="jurisdiction",
            )

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "role": self.role,
            "permissions": sorted(self.permissions),
            "jurisdiction": self.jurisdiction.to_dict(),
            "via": self.via,
        }


def principal_for_token(connection: Connection, token: str, settings: Settings) -> Principal:
    """The user a bearer token belongs to: a token of ours, or an OpenID Connect token when an
    identity provider is configured."""
    if token.count(".") == 2 and settings.identity.oidc_jwks:
        from geo_service.auth.oidc import claims_of

        name, role, code = claims_of(token, settings.identity)
        permissions = frozenset(connection.execute(_PERMISSIONS, {"role": role}).scalars())
        if not permissions:
            raise Unauthenticated(t("the identity provider's role {role!r} is not a role of this service", role=role))
        return Principal(name, role, permissions, resolve(connection, code, settings.place.timezone), via="oidc")
    row = connection.execute(_BY_TOKEN, {"hash": token_hash(token)}).mappings().first()
    if row is None:
        raise Unauthenticated(t("the token is unknown or revoked"))
    jurisdiction = resolve(connection, row["jurisdiction"], settings.place.timezone)
    if row["department"] is not None:  # a department's user: its cases within the place
        jurisdiction = jurisdiction.of_department(row["department"], row["department_name"])
    return Principal(row["name"], row["role"], frozenset(row["permissions"]), jurisdiction)
