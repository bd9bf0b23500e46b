"""Incidents and their timelines partitioned by county (migration 0011).

``incidents`` and ``incident_events`` are partitioned ``BY LIST (county_code)``: one partition per
county (``incidents_c511421``, ``incident_events_c511421``) and a DEFAULT partition
(``incidents_default``) for rows of no county (``NO_COUNTY``) or of a county that has no partition
yet. A county's import, archive or maintenance then works on its own tables, and a query that
names the county (``i.county_code = :c``) reads only its partition.

A county's partitions are made by :func:`ensure_county_partitions` when its first boundary
version is written (the county import, the demo, a boundary draft), before any of its incidents
can arrive; later calls only read the catalogue. Making them locks more than the county's own
tables until the transaction ends: ``ATTACH PARTITION`` takes SHARE ROW EXCLUSIVE on incidents,
their partitions and every table with a foreign key to or from them (writes of cases in every
county wait) and ACCESS EXCLUSIVE on the DEFAULT partitions (reads not pruned to a county wait).
So make them in a short transaction of their own where the caller can.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text
from sqlalchemy.engine import Connection

# The county of an incident that lies in or near no county's grid: NULL cannot be part of the
# primary key (id, county_code), so "no county" is this code, which no jurisdiction holds.
NO_COUNTY = "000000000000"
# Parents first: the timeline's foreign key refers to incidents.
PARTITIONED = ("incidents", "incident_events")
COUNTY_CODE = re.compile(r"^\d{6}000000$")
PARTITION_NAME = re.compile(r"^(incidents|incident_events)_(c\d{6}|default)$")
# Serialises the creation of partitions (two first imports of one county at once).
_LOCK = 5114211


def partition_name(table: str, county_code: str) -> str:
    """The partition of ``table`` that holds ``county_code``'s rows."""
    return f"{table}_c{county_code[:6]}"


def default_name(table: str) -> str:
    """The DEFAULT partition of ``table``: rows of no county, or of a county without a partition."""
    return f"{table}_default"


def is_partition(name: str) -> bool:
    """Whether the table ``name`` is one of the partitions (not a table the models describe)."""
    return PARTITION_NAME.match(name) is not None


def _missing(connection: Connection, county_code: str) -> list[str]:
    attached = set(
        connection.execute(
            text("""
            SELECT c.relname FROM pg_inherits h JOIN pg_class c ON c.oid = h.inhrelid
             WHERE h.inhparent = ANY(CAST(:parents AS regclass[])) AND c.relname = ANY(:names)
        """),
            {"parents": list(PARTITIONED), "names": [partition_name(t, county_code) for t in PARTITIONED]},
        ).scalars()
    )
    return [t for t in PARTITIONED if partition_name(t, county_code) not in attached]


def ensure_county_partitions(connection: Connection, county_code: str) -> list[str]:
    """Make ``county_code``'s partitions of incidents and their timelines, in the caller's
    transaction, unless they exist; returns the partitions made (none when they existed).

    Rows of the county already in the DEFAULT partitions (recorded before its partitions
    existed) are moved into the new ones with their ids. PostgreSQL refuses a partition while
    the DEFAULT partition holds rows that belong in it, so those rows are first given a
    transient key (``~`` and the county's six digits, in no partition's list), the partitions
    attached, and the key set back: each step is an UPDATE of the incident, which the foreign
    keys' ``ON UPDATE CASCADE`` carries to its timeline, people, extensions, messages and the
    cases merged into it: nothing is deleted, and of other counties' rows only those of cases
    merged into these are written.
    """
    if not COUNTY_CODE.match(county_code) or county_code == NO_COUNTY:
        raise ValueError(f"{county_code!r} is not a county's 12-digit code")
    if not _missing(connection, county_code):
        return []
    connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK})
    missing = _missing(connection, county_code)
    if not missing:
        return []
    transient = "~" + county_code[:6]
    strays = connection.execute(
        text(
            "SELECT "
            + " OR ".join(f"EXISTS (SELECT 1 FROM {default_name(t)} WHERE county_code = :c)" for t in PARTITIONED)
        ),
        {"c": county_code},
    ).scalar()
    move = text("UPDATE incidents SET county_code = :to WHERE county_code = :c")
    if strays:
        connection.execute(move, {"c": county_code, "to": transient})
    for table in missing:
        name = partition_name(table, county_code)
        # LIKE + ATTACH rather than CREATE ... PARTITION OF: attaching takes SHARE UPDATE
        # EXCLUSIVE on the parent, not ACCESS EXCLUSIVE, so other counties' reads go on.
        connection.execute(
            text(f"CREATE TABLE IF NOT EXISTS {name} (LIKE {table} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)")
        )
        connection.execute(text(f"ALTER TABLE {table} ATTACH PARTITION {name} FOR VALUES IN ('{county_code}')"))
    if strays:
        connection.execute(move, {"c": transient, "to": county_code})
    return [partition_name(t, county_code) for t in missing]


@contextmanager
def generic_key_checks(connection: Connection) -> Iterator[None]:
    """Check the foreign keys of many rows referring to incidents with one plan, not one per row.

    PostgreSQL checks each row's key with a prepared query on the partitioned incidents, and
    its plan cache keeps planning that query afresh for every row while a plan pruned to one
    partition looks cheaper than the generic plan (which prunes when it runs): after the
    incidents were written in the same transaction, the demo's 1.4 million events took 54 s to
    COPY instead of 8 s. Use around a bulk write; the setting is the transaction's and reverts.
    """
    previous = connection.execute(text("SELECT current_setting('plan_cache_mode')")).scalar_one()
    connection.execute(text("SELECT set_config('plan_cache_mode', 'force_generic_plan', true)"))
    yield
    # Not reached on an error: the transaction is rolled back, which undoes the setting.
    connection.execute(text("SELECT set_config('plan_cache_mode', :previous, true)"), {"previous": previous})
