"""Users of the service: added with a role and a jurisdiction (and maybe a department), given a
token shown once, revoked."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

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
    department: str | None = None

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "role": self.role,
            "jurisdiction": self.jurisdiction,
            "department": self.department,
            "created_at": self.created_at.isoformat(),
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
            "note": self.note,
        }


_COLUMNS = "name, role, jurisdiction, created_at, revoked_at, note, department"


def department_place(connection: Connection, department: str) -> str:
    """The place a department's user holds by default: its town (a town office) or its county."""
    row = connection.execute(
        text("SELECT coalesce(town_code, county_code) FROM departments WHERE code = :d"), {"d": department}
    ).first()
    if row is None:
        known = connection.execute(text("SELECT string_agg(code, ', ' ORDER BY code) FROM departments")).scalar()
        raise InvalidInput(
            t("unknown department {department!r}; departments: {known}", department=department, known=known or "none"),
            field="department",
        )
    return row[0]


def _check_department(connection: Connection, department: str, jurisdiction: str) -> None:
    """A department's user holds a place of the department's county (its town, for a town office)."""
    place = department_place(connection, department)
    if not jurisdiction.startswith(place[:6]) or (place[6:] != "000000" and not jurisdiction.startswith(place[:9])):
        raise InvalidInput(
            t(
                "department {department} serves {place}: a user of it needs a jurisdiction there, not {jurisdiction}",
                department=department,
                place=place,
                jurisdiction=jurisdiction,
            ),
            field="jurisdiction",
        )


def add_user(
    engine: Engine,
    name: str,
    role: str,
    jurisdiction: str | None,
    *,
    note: str | None = None,
    actor: str = "cli",
    settings: Settings,
    department: str | None = None,
) -> tuple[UserRecord, str]:
    """A new user and their token (shown only now: only its digest is stored). ``settings``: the
    county's zone, in which the jurisdiction is checked against the boundaries in force.

    A user of a ``department`` sees only the cases routed to it, within the jurisdiction, which
    defaults to the department's county (its town, for a town office)."""
    name = name.strip()
    if not name:
        raise InvalidInput(t("a user needs a name"), field="name")
    token = new_token()
    with engine.begin() as connection:
        if department is not None:
            jurisdiction = jurisdiction or department_place(connection, department)
            _check_department(connection, department, jurisdiction)
        if not jurisdiction:
            raise InvalidInput(
                t("a user needs a jurisdiction: the code of a county, town, village or grid"), field="jurisdiction"
            )
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
            INSERT INTO users (name, role, jurisdiction, token_hash, note, department)
            VALUES (:n, :r, :j, :h, :note, :d)
        """),
            {"n": name, "r": role, "j": jurisdiction, "h": token_hash(token), "note": note, "d": department},
        )
        after = {"role": role, "jurisdiction": jurisdiction} | ({"department": department} if department else {})
        audit.record(connection, actor, "user.add", "user", name, after=after)
    return _one(engine, name), token


def list_users(engine: Engine, *, include_revoked: bool = False) -> list[UserRecord]:
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                f"SELECT {_COLUMNS} FROM users"
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
                text(f"SELECT {_COLUMNS} FROM users WHERE name = :n"),
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
    issued = [
        add_user(engine, name, role, code, note=DEMO_NOTE, actor="demo", settings=settings) for name, role, code in plan
    ]
    with engine.connect() as connection:  # a county department's user, when the county has one
        department = connection.execute(
            text("SELECT code FROM departments WHERE county_code = :c AND kind = 'county_department' ORDER BY code"),
            {"c": county},
        ).scalar()
    if department is not None:
        issued.append(
            add_user(
                engine,
                "demo-department",
                "dispatcher",
                county,
                note=DEMO_NOTE,
                actor="demo",
                settings=settings,
                department=department,
            )
        )
    return issued
