"""Seeding the rule tables from the default CSV files, keeping what an administrator changed."""

from __future__ import annotations

from geo_service.rules import read_rule_table

# Reference tables are keyed by code: a default row is added when missing and never overwrites.
_REFERENCE = {
    "categories": ("code", "name_zh", "name_en"),
    "sources": ("code", "name_zh", "name_en"),
    "roles": ("code", "name_zh", "name_en", "unit_level"),
    "access_roles": ("code", "name_zh", "name_en"),
    "job_titles": ("title", "role"),
    "camera_kinds": ("code", "name_zh", "name_en", "fov_deg", "range_m"),
    "value_aliases": ("field", "alias", "value"),
    "regions": ("code", "name_zh", "name_en"),
    "notice_templates": ("kind", "text_zh", "text_en"),
}


def seed_rules(cursor) -> dict[str, int]:
    """Insert the default categories, sources, roles, rules and permissions where the tables lack them.

    The responsibility and time-limit rules, the permissions, and the departments, their people, the
    matters and the routing rules are seeded only into empty tables: once a county has rules of its
    own, the defaults must not creep back in. A table the database's schema revision does not have
    yet is passed over (seeding an older database, as the upgrade tests do). Returns rows inserted
    per table.
    """
    inserted: dict[str, int] = {}
    for table, columns in _REFERENCE.items():
        if not _exists(cursor, table):
            continue
        rows = read_rule_table(table)[list(columns)].astype(object).itertuples(index=False, name=None)
        count = 0
        for row in rows:
            cursor.execute(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))}) "
                "ON CONFLICT DO NOTHING",
                row,
            )
            count += cursor.rowcount
        inserted[table] = count
    for table, source, columns in (
        ("responsibility_rules", "responsibility_rules", ("tier", "risk_colour", "position", "role", "core")),
        ("time_limit_rules", "time_limits", ("category", "risk_colour", "limit_hours")),
        ("role_permissions", "permissions", ("role", "permission")),
        # A county's departments, their people, its list of matters and what goes where.
        (
            "departments",
            "departments",
            ("code", "county_code", "kind", "town_code", "name_zh", "name_en", "limit_hours"),
        ),
        ("department_staff", "department_staff", ("department", "name", "phone", "duty")),
        ("matters", "matters", ("code", "category", "name_zh", "name_en")),
        ("routing_rules", "routing_rules", ("matter", "place", "risk_colour", "department")),
    ):
        if not _exists(cursor, table):
            continue
        cursor.execute(f"SELECT count(*) FROM {table}")
        if cursor.fetchone()[0]:
            inserted[table] = 0
            continue
        frame = read_rule_table(source)[list(columns)]
        for row in frame.itertuples(index=False, name=None):
            cursor.execute(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))})",
                tuple(v.item() if hasattr(v, "item") else v for v in row),
            )
        inserted[table] = len(frame)
    return inserted


def _exists(cursor, table: str) -> bool:
    cursor.execute("SELECT to_regclass(%s) IS NOT NULL", (table,))
    return bool(cursor.fetchone()[0])
