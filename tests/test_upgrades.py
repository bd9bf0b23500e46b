"""Upgrades that lose nothing: a database at every earlier schema revision, with a county's data
written in the SQL of that revision (boundaries, officers, cameras, incidents with their
timelines, bound people, extensions, merges, the outbox, users, the audit log), is upgraded to the
newest revision, and every row that was there is there after, unchanged, with the same ids.

The one change an upgrade makes on purpose is named here: 0011 gives an incident of no county the
code ``000000000000`` (its partition key cannot be NULL).
"""

from __future__ import annotations

import json

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, create_engine, pool, text

from geo_service.db import migrate

from .conftest import FIGURES

NO_COUNTY = "000000000000"
# Rows the migrations themselves add to (the rules they seed): nothing may be lost, more may come.
SEEDED = {"access_roles", "role_permissions", "camera_kinds", "regions"}
# What an upgrade changes on purpose: (table, column) -> (value before, value after).
INTENDED = {("incidents", "county_code"): (None, NO_COUNTY)}


def _earlier_revisions() -> list[str]:
    script = ScriptDirectory.from_config(migrate.alembic_config("postgresql://"))
    ordered = [r.revision for r in reversed(list(script.walk_revisions()))]
    return ordered[:-1]


EARLIER = _earlier_revisions()


def test_every_earlier_revision_is_tried():
    assert EARLIER[0] == "0001" and len(EARLIER) >= 10, EARLIER


def _columns(connection: Connection) -> dict[str, list[str]]:
    rows = connection.execute(
        text("""
        SELECT c.relname, a.attname FROM pg_class c
          JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
          JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
         WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
           AND c.relname NOT IN ('spatial_ref_sys', 'alembic_version')
         ORDER BY c.relname, a.attnum""")
    ).all()
    tables: dict[str, list[str]] = {}
    for table, column in rows:
        tables.setdefault(table, []).append(column)
    return tables


def _rows(connection: Connection, table: str, columns: list[str]) -> list[dict]:
    listed = ", ".join(f'"{c}"' for c in columns)
    return [dict(r) for r in connection.execute(text(f'SELECT {listed} FROM "{table}"')).mappings()]


def _canonical(row: dict) -> str:
    return json.dumps(row, sort_keys=True, default=str)


def _snapshot(connection: Connection) -> dict:
    tables = _columns(connection)
    sequences = dict(
        connection.execute(text("SELECT sequencename, last_value FROM pg_sequences WHERE schemaname = 'public'")).all()
    )
    return {
        "columns": tables,
        "rows": {t: _rows(connection, t, cols) for t, cols in tables.items()},
        "sequences": sequences,
    }


def _as_upgraded(table: str, row: dict) -> dict:
    """``row`` as the upgrade is meant to leave it."""
    changed = dict(row)
    for (t, column), (before, after) in INTENDED.items():
        if t == table and column in changed and changed[column] == before:
            changed[column] = after
    return changed


class Writer:
    """A county's data in the plain SQL of whatever revision the database is at."""

    def __init__(self, connection: Connection) -> None:
        self.c = connection
        self.tables = _columns(connection)

    def has(self, table: str, column: str | None = None) -> bool:
        return table in self.tables and (column is None or column in self.tables[table])

    def insert(self, table: str, values: dict, returning: str | None = "id"):
        """INSERT the values whose columns exist at this revision (SQL expressions in ``!``-keys)."""
        names, exprs, params = [], [], {}
        for key, value in values.items():
            column = key.lstrip("!")
            if not self.has(table, column):
                continue
            names.append(column)
            if key.startswith("!"):
                exprs.append(value)
            else:
                exprs.append(f":{column}")
                params[column] = value
        sql = f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join(exprs)})"
        if returning:
            return self.c.execute(text(sql + f" RETURNING {returning}"), params).scalar_one()
        self.c.execute(text(sql), params)
        return None

    def county(self) -> None:
        c = self.c
        c.execute(text("INSERT INTO categories VALUES ('dispute', '纠纷', 'dispute'), ('fire', '火灾', 'fire')"))
        c.execute(text("INSERT INTO sources VALUES ('hotline_12345', '12345热线', 'hotline')"))
        c.execute(text("INSERT INTO roles VALUES ('grid_worker', '网格员', 'grid worker', 'grid')"))
        c.execute(text("INSERT INTO roles VALUES ('village_secretary', '村书记', 'secretary', 'village')"))
        square = "ST_Multi(ST_MakeEnvelope({}, 4490))"
        for name, effective in (("v1", "2024-01-01T00:00:00+08:00"), ("v2", None)):
            version = self.insert("boundary_versions", {"name": name, "status": "draft", "note": f"{name} note"})
            units = {}
            for code, level, kind, parent, box in (
                ("511421000000", "county", "county", None, "104.0, 29.9, 104.2, 30.1"),
                ("511421100000", "town", "town", "511421000000", "104.0, 29.9, 104.2, 30.1"),
                ("511421100201", "village", "village", "511421100000", "104.0, 29.9, 104.1, 30.1"),
            ):
                units[code] = self.insert(
                    "admin_units",
                    {
                        "version_id": version,
                        "code": code,
                        "level": level,
                        "kind": kind,
                        "name": f"{code} {name}",
                        "parent_id": units.get(parent),
                        "population": 1200,
                        "households": 400,
                        "!geom": square.format(box),
                    },
                )
            grid = self.insert(
                "grids",
                {
                    "version_id": version,
                    "code": "511421100201001",
                    "name": f"grid 1 {name}",
                    "level": 1,
                    "kind": "rural",
                    "village_id": units["511421100201"],
                    "households": 300,
                    "!geom": square.format("104.0, 29.9, 104.1, 30.1"),
                },
            )
            self.insert(
                "grids",
                {
                    "version_id": version,
                    "code": "511421100201001001",
                    "name": f"grid 1.1 {name}",
                    "level": 2,
                    "kind": "urban",
                    "parent_id": grid,
                    "village_id": units["511421100201"],
                    "!geom": square.format("104.0, 29.9, 104.05, 30.0"),
                },
            )
            if effective:  # published once complete: later revisions refuse rows added to a published version
                c.execute(
                    text(
                        "UPDATE boundary_versions SET status = 'published', effective_from = :e, published_at = :e "
                        "WHERE id = :v"
                    ),
                    {"e": effective, "v": version},
                )
                self.version, self.grid = version, grid

    def people_and_cameras(self) -> None:
        self.officers = [
            self.insert("officers", {"code": f"G00{n}", "name": f"网格员{n}", "phone": f"1380000000{n}", "gender": "f"})
            for n in (1, 2)
        ]
        for officer, role, unit in zip(
            self.officers, ("grid_worker", "village_secretary"), ("511421100201001", "511421100201")
        ):
            self.insert(
                "officer_assignments",
                {"officer_id": officer, "role": role, "unit_code": unit, "valid_from": "2024-01-01", "valid_to": None},
            )
        self.insert(
            "responsibility_rules",
            {"tier": "village", "risk_colour": None, "position": 1, "role": "grid_worker", "core": True},
        )
        self.insert("time_limit_rules", {"category": "dispute", "risk_colour": None, "limit_hours": 72})
        self.insert(
            "cameras",
            {
                "device_code": "51142100001310000001",
                "name": "村口",
                "kind": "tianwang",
                "heading_deg": 90,
                "fov_deg": 75,
                "range_m": 150,
                "installed_on": "2023-05-01",
                "!geom": "ST_SetSRID(ST_MakePoint(104.03, 30.02), 4490)",
            },
        )
        if self.has("job_titles"):
            self.c.execute(text("INSERT INTO job_titles VALUES ('专职网格员', 'grid_worker')"))
            self.c.execute(text("INSERT INTO value_aliases VALUES ('status', '已办结', 'closed')"))
        if self.has("users"):
            self.insert(
                "users",
                {
                    "name": "dispatcher-1",
                    "role": "admin",
                    "jurisdiction": "511421000000",
                    "token_hash": "a" * 64,
                    "note": "written before the upgrade",
                },
            )
        self.c.execute(text("INSERT INTO service_meta (key, value) VALUES ('demo_fingerprint', 'upgrade-test')"))

    def cases(self) -> None:
        placed = {
            "boundary_version_id": self.version,
            "grid_id": self.grid,
            "grid_code": "511421100201001",
            "village_code": "511421100201",
            "town_code": "511421100000",
            "county_code": "511421000000",
        }
        ids = []
        for n, (lon, lat, status, where) in enumerate(
            ((104.03, 30.02, "in_progress", placed), (104.04, 30.03, "merged", placed), (110.0, 35.0, "reported", {}))
        ):
            values = {
                "external_id": f"UP-{n}",
                "source": "hotline_12345",
                "category": "dispute",
                "reported_at": f"2026-03-0{n + 1}T09:00:00+08:00",
                "description": f"case {n}",
                "reporter_name": "张三",
                "reporter_phone": "13912345678",
                "!geom": f"ST_SetSRID(ST_MakePoint({lon}, {lat}), 4490)",
                "input_datum": "gcj02",
                "input_lon": lon + 0.005,
                "input_lat": lat - 0.002,
                "risk_colour": "yellow",
                "status": status,
                "tier": "village",
                "dispatched_at": "2026-03-01T10:00:00+08:00",
                "deadline": "2026-03-04T10:00:00+08:00",
                "urge_count": n,
                **where,
            }
            if n == 1:
                values["merged_into_id"] = ids[0]
                values["merged_into_county_code"] = "511421000000"
            ids.append(self.insert("incidents", values))
        county = {0: "511421000000", 1: "511421000000", 2: NO_COUNTY}
        for n, incident in enumerate(ids):
            for step, (action, frm, to) in enumerate(
                (("report", None, "reported"), ("dispatch", "reported", "dispatched"))
            ):
                self.insert(
                    "incident_events",
                    {
                        "incident_id": incident,
                        "county_code": county[n],
                        "at": f"2026-03-0{n + 1}T1{step}:00:00+08:00",
                        "actor": "调度员",
                        "action": action,
                        "from_status": frm,
                        "to_status": to,
                        "note": "note",
                        "!data": """'{"via": "upgrade test"}'::jsonb""",
                    },
                )
            self.insert(
                "incident_officers",
                {
                    "incident_id": incident,
                    "county_code": county[n],
                    "tier": "village",
                    "position": 1,
                    "role": "grid_worker",
                    "officer_id": self.officers[0],
                    "unit_code": "511421100201001",
                    "bound_at": "2026-03-01T10:00:00+08:00",
                },
            )
        if self.has("outbox"):
            self.insert(
                "incident_extensions",
                {
                    "incident_id": ids[0],
                    "county_code": county[0],
                    "requested_at": "2026-03-02T09:00:00+08:00",
                    "requested_by": "网格员1",
                    "hours": 24,
                    "reason": "rain",
                },
            )
            for incident, sent in ((ids[0], "2026-03-01T10:01:00+08:00"), (None, None)):
                self.insert(
                    "outbox",
                    {
                        "incident_id": incident,
                        "county_code": county[0] if incident else None,
                        "kind": "dispatch",
                        "officer_id": self.officers[0],
                        "role": "grid_worker",
                        "!payload": """'{"to": "网格员1", "phone": "13800000001"}'::jsonb""",
                        "attempts": 1,
                        "sent_at": sent,
                        "last_error": None if sent else "gateway down",
                    },
                )
        for n in range(2):
            self.insert(
                "audit_log",
                {
                    "actor": "admin",
                    "action": "record",
                    "entity": "incident",
                    "entity_id": str(ids[n]),
                    "!before": "NULL",
                    "!after": """'{"status": "reported"}'::jsonb""",
                },
            )


@pytest.mark.parametrize("revision", EARLIER)
def test_an_upgrade_from_an_earlier_revision_loses_and_changes_nothing(revision, scratch_url):
    migrate.upgrade(scratch_url, revision)
    engine = create_engine(scratch_url, poolclass=pool.NullPool, connect_args={"options": "-c timezone=UTC"})
    try:
        with engine.begin() as connection:
            writer = Writer(connection)
            writer.county()
            writer.people_and_cameras()
            writer.cases()
        with engine.connect() as connection:
            before = _snapshot(connection)
        migrate.upgrade(scratch_url, "head")
        assert migrate.current_revision(scratch_url) == migrate.head_revision()
        with engine.connect() as connection:
            after_rows = {t: _rows(connection, t, cols) for t, cols in before["columns"].items()}
            after = _snapshot(connection)
    finally:
        engine.dispose()

    written = 0
    for table, rows in before["rows"].items():
        expected = sorted(_canonical(_as_upgraded(table, r)) for r in rows)
        found = sorted(_canonical(r) for r in after_rows[table])
        if table in SEEDED:
            assert set(expected) <= set(found), f"{table}: rows lost upgrading from {revision}"
        else:
            assert found == expected, f"{table}: rows lost or changed upgrading from {revision}"
            written += len(rows)
    for name, value in before["sequences"].items():
        assert after["sequences"][name] == value, f"sequence {name} moved upgrading from {revision}"
    assert written >= 25
    tried = FIGURES.get("upgrades to the newest revision, nothing lost, from", "")
    FIGURES["upgrades to the newest revision, nothing lost, from"] = f"{tried} {revision}".strip()
