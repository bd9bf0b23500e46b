"""Users of the service: added with a role and a jurisdiction, given a token shown once, revoked."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.engine import Engine

from geo_service.auth import audit
from geo_service.auth.jurisdiction import resolve
from geo_service.auth.tokens import new_token, token_hash
from geo_service.errors import Conflict, Forbidden, InvalidInput, NotFound
from geo_service.i18n import t
from geo_service.settings import Settings


@dataclass(frozen=True)
class UserRecord:
    name: str
    role: str
    jurisdiction: str
    created_at: datetime
    revoked_at: datetime | None
    note: str | None

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "role": self.role,
            "jurisdiction": self.jurisdiction,
            "created_at": self.created_at.isoformat(),
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
            "note": self.note,
        }


def add_user(
    engine: Engine,
    name: str,
    role: str,
    jurisdiction: str,
    *,
    note: str | None = None,
    actor: str = "cli",
    settings: Settings,
) -> tuple[UserRecord, str]:
    """A new user and their token (shown only now: only its digest is stored). ``settings``: the
    county's zone, in which the jurisdiction is checked against the boundaries in force."""
    name = name.strip()
    if not name:
        raise InvalidInput(t("a user needs a name"), field="name")
    token = new_token()
    with engine.begin() as connection:
        roles = list(connection.execute(text("SELECT code FROM access_roles ORDER BY code")).scalars())
        if role not in roles:
            raise InvalidInput(
                t("unknown role {role!r}; roles are {roles}", role=role, roles=", ".join(roles)), field="role"
            )
        try:
            resolve(connection, jurisdiction, settings.place.timezone)
        except Forbidden:
            raise InvalidInput(
                t(
                    "{jurisdiction!r} is not the code of the county, a town, a village or a grid of the boundaries in force",
                    jurisdiction=jurisdiction,
                ),
                field="jurisdiction",
            ) from None
        if connection.execute(text("SELECT 1 FROM users WHERE name = :n"), {"n": name}).first():
            raise Conflict(t("there is already a user called {name!r}", name=name), field="name")
        connection.execute(
            text("""
            INSERT INTO users (name, role, jurisdiction, token_hash, note) VALUES (:n, :r, :j, :h, :note)
        """),
            {"n": name, "r": role, "j": jurisdiction, "h": token_hash(token), "note": note},
        )
        audit.record(connection, actor, "user.add", "user", name, after={"role": role, "jurisdiction": jurisdiction})
    return _one(engine, name), token


def list_users(engine: Engine, *, include_revoked: bool = False) -> list[UserRecord]:
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT name, role, jurisdiction, created_at, revoked_at, note FROM users"
                + ("" if include_revoked else " WHERE revoked_at IS NULL")
                + " ORDER BY name"
            )
        ).mappings()
        return [UserRecord(**r) for r in rows]


def revoke_user(engine: Engine, name: str, *, actor: str = "cli") -> UserRecord:
    """The user's token stops working at once; the user is kept for the record."""
    with engine.begin() as connection:
        done = connection.execute(
            text("UPDATE users SET revoked_at = now() WHERE name = :n AND revoked_at IS NULL RETURNING name"),
            {"n": name},
        ).first()
        if done is None:
            raise NotFound(t("no active user called {name!r}", name=name), field="name")
        audit.record(connection, actor, "user.revoke", "user", name)
    return _one(engine, name)


def _one(engine: Engine, name: str) -> UserRecord:
    with engine.connect() as connection:
        row = (
            connection.execute(
                text("SELECT name, role, jurisdiction, created_at, revoked_at, note FROM users WHERE name = :n"),
                {"n": name},
            )
            .mappings()
            .one()
        )
    return UserRecord(**row)


DEMO_NOTE = "demo user"


def demo_users(
    engine: Engine, county: str, town: str, village: str, grid: str, settings: Settings
) -> list[tuple[UserRecord, str]]:
    """One user per role for the demo, issued afresh (earlier demo users' tokens are revoked)."""
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM users WHERE note = :note"), {"note": DEMO_NOTE})
    plan = [
        ("demo-admin", "admin", county),
        ("demo-planner", "planner", county),
        ("demo-dispatcher", "dispatcher", county),
        ("demo-analyst", "analyst", county),
        ("demo-leader", "leader", town),
        ("demo-town-dispatcher", "dispatcher", town),
        ("demo-village-dispatcher", "dispatcher", village),
        ("demo-grid-worker", "grid_worker", grid),
    ]
    return [
        add_user(engine, name, role, code, note=DEMO_NOTE, actor="demo", settings=settings) for name, role, code in plan
    ]
