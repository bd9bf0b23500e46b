"""Incidents and their timelines partitioned by county.

``incidents`` and ``incident_events`` become tables partitioned ``BY LIST (county_code)``, with a
partition per county (``incidents_c511421``, ``incident_events_c511421``: every county that has
boundary versions or incidents now; later ones get theirs from
``geo_service.db.partitions.ensure_county_partitions`` when their first boundary version is
written) and a DEFAULT partition (``incidents_default``) for rows of no county or of a county
without a partition. One county's import, archive or maintenance then works on its own tables,
and a query that names the county reads only its partition.

Keys. A partitioned table's primary key and unique constraints must include the partition key:

* ``incidents`` is keyed by ``(id, county_code)``; ``id`` still comes from the one sequence
  ``incidents_id_seq``, so it stays unique across counties and every lookup by id still works.
* ``county_code`` is NOT NULL: an incident of no county (none in or near any county's grid) has
  ``'000000000000'``, which no jurisdiction holds, as NULL matched none before.
* ``external_id`` is unique per county, ``(external_id, county_code)``: external ids come from a
  county's own systems (its 12345 hotline, its grid app), and two counties may number alike.
* ``incident_events`` is keyed by ``(id, county_code)`` and carries its incident's county.

Foreign keys to incidents refer to ``(id, county_code)``, so the tables that had one to
``incidents.id`` gain ``county_code`` (``incident_officers``, ``incident_extensions``,
``outbox``: NULL in ``outbox`` only where ``incident_id`` is, MATCH FULL) and a merge records the
county of the case merged into (``merged_into_county_code``). They keep ``ON DELETE CASCADE``
and gain ``ON UPDATE CASCADE``: a case moved to another county takes its timeline, people,
requests and messages along, which is also how rows are moved out of the DEFAULT partition.

The rows are copied into the new tables with their ids, the sequences kept; the downgrade copies
them back (and refuses while two counties share an external id, which 0010 cannot hold).

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

NO_COUNTY = "000000000000"
PARTITIONED = ("incidents", "incident_events")
# The tables whose foreign key refers to an incident, with whether their incident is optional.
CHILDREN = {"incident_events": False, "incident_officers": False, "incident_extensions": False, "outbox": True}
# ix_incidents_county_code stays: within a partition every key is the same, so deduplication
# keeps it a fifth of the primary key's size, and counting a county's incidents reads it alone.
INCIDENT_INDEXES = {
    "ix_incidents_category_reported_at": ["category", "reported_at"],
    "ix_incidents_county_code": ["county_code"],
    "ix_incidents_grid_code": ["grid_code"],
    "ix_incidents_reported_at": ["reported_at"],
    "ix_incidents_status_deadline": ["status", "deadline"],
    "ix_incidents_town_code": ["town_code"],
    "ix_incidents_village_code": ["village_code"],
}
INCIDENT_FKS = (  # (column, referred table), as 0001 made them
    ("boundary_version_id", "boundary_versions", "id"),
    ("category", "categories", "code"),
    ("grid_id", "grids", "id"),
    ("source", "sources", "code"),
)


def _fk(table: str) -> str:
    column = "merged_into_id" if table == "incidents" else "incident_id"
    return f"fk_{table}_{column}_incidents"


def _columns(table: str) -> list[str]:
    return list(
        op.get_bind()
        .execute(
            sa.text("""SELECT attname FROM pg_attribute WHERE attrelid = CAST(:t AS regclass)
                        AND attnum > 0 AND NOT attisdropped ORDER BY attnum"""),
            {"t": table},
        )
        .scalars()
    )


def _copy(source: str, target: str, expressions: dict[str, str], joins: str = "") -> None:
    """INSERT every row of ``source`` (alias ``o``) into ``target``, column by column, some computed."""
    columns = _columns(target)
    values = ", ".join(expressions.get(c, f"o.{c}") for c in columns)
    op.execute(f"INSERT INTO {target} ({', '.join(columns)}) SELECT {values} FROM {source} o {joins}")


def _set_aside(suffix: str) -> None:
    """Drop the foreign keys to incidents and rename the two tables, keeping their sequences."""
    for table in CHILDREN:
        op.drop_constraint(_fk(table), table, type_="foreignkey")
    op.drop_constraint(_fk("incidents"), "incidents", type_="foreignkey")
    for table in PARTITIONED:
        op.execute(f"ALTER SEQUENCE {table}_id_seq OWNED BY NONE")
        op.execute(f"ALTER TABLE {table} RENAME TO {table}_{suffix}")


def _restore(suffix: str) -> None:
    """Drop the set-aside tables; the sequences belong to the new ones."""
    for table in reversed(PARTITIONED):
        op.execute(f"DROP TABLE {table}_{suffix}")
    for table in PARTITIONED:
        op.execute(f"ALTER SEQUENCE {table}_id_seq OWNED BY {table}.id")


def _keys_and_indexes(county: bool) -> None:
    """The incidents' and events' keys, indexes and foreign keys: on ``(id, county_code)`` if ``county``."""
    key = ["id", "county_code"] if county else ["id"]
    op.create_primary_key("pk_incidents", "incidents", key)
    if county:
        op.create_unique_constraint("uq_incidents_external_id_county_code", "incidents", ["external_id", "county_code"])
    else:
        op.create_unique_constraint("uq_incidents_external_id", "incidents", ["external_id"])
    op.create_index("ix_incidents_geom", "incidents", ["geom"], postgresql_using="gist")
    for name, columns in INCIDENT_INDEXES.items():
        op.create_index(name, "incidents", columns)
    for column, referred, referred_column in INCIDENT_FKS:
        op.create_foreign_key(f"fk_incidents_{column}_{referred}", "incidents", referred, [column], [referred_column])
    op.create_primary_key("pk_incident_events", "incident_events", key)
    op.create_index("ix_incident_events_incident_id_at", "incident_events", ["incident_id", "at"])
    cascade = {"onupdate": "CASCADE"} if county else {}
    merged = ["merged_into_id", "merged_into_county_code"] if county else ["merged_into_id"]
    op.create_foreign_key(
        _fk("incidents"), "incidents", "incidents", merged, key, match="FULL" if county else None, **cascade
    )
    for table, optional in CHILDREN.items():
        op.create_foreign_key(
            _fk(table),
            table,
            "incidents",
            ["incident_id", "county_code"] if county else ["incident_id"],
            key,
            ondelete="CASCADE",
            match="FULL" if county and optional else None,
            **cascade,
        )


def upgrade() -> None:
    connection = op.get_bind()
    for table, optional in CHILDREN.items():
        if table in PARTITIONED:
            continue
        op.add_column(table, sa.Column("county_code", sa.String(length=12), nullable=True))
        op.execute(f"""UPDATE {table} c SET county_code = coalesce(i.county_code, '{NO_COUNTY}')
                         FROM incidents i WHERE i.id = c.incident_id""")
        if not optional:
            op.alter_column(table, "county_code", nullable=False)
    _set_aside("0010")
    op.execute("ALTER TABLE incidents_0010 ADD COLUMN merged_into_county_code varchar(12)")
    op.execute("ALTER TABLE incident_events_0010 ADD COLUMN county_code varchar(12)")
    for table in PARTITIONED:
        op.execute(
            f"CREATE TABLE {table} (LIKE {table}_0010 INCLUDING DEFAULTS INCLUDING CONSTRAINTS) "
            "PARTITION BY LIST (county_code)"
        )
        op.alter_column(table, "county_code", nullable=False)
        op.execute(f"CREATE TABLE {table}_default PARTITION OF {table} DEFAULT")
    op.alter_column("incidents", "county_code", server_default=NO_COUNTY)
    counties = connection.execute(
        sa.text(r"""SELECT county_code FROM boundary_versions WHERE county_code ~ '^\d{6}000000$'
                     UNION SELECT county_code FROM incidents_0010 WHERE county_code ~ '^\d{6}000000$'
                     ORDER BY 1""")
    ).scalars()
    for code in counties:
        if code == NO_COUNTY:
            continue
        for table in PARTITIONED:
            op.execute(f"CREATE TABLE {table}_c{code[:6]} PARTITION OF {table} FOR VALUES IN ('{code}')")
    _copy(
        "incidents_0010",
        "incidents",
        {
            "county_code": f"coalesce(o.county_code, '{NO_COUNTY}')",
            "merged_into_county_code": f"CASE WHEN o.merged_into_id IS NOT NULL THEN coalesce(m.county_code, '{NO_COUNTY}') END",
        },
        "LEFT JOIN incidents_0010 m ON m.id = o.merged_into_id",
    )
    _copy(
        "incident_events_0010",
        "incident_events",
        {"county_code": f"coalesce(i.county_code, '{NO_COUNTY}')"},
        "JOIN incidents_0010 i ON i.id = o.incident_id",
    )
    _restore("0010")
    _keys_and_indexes(county=True)
    # Autovacuum never analyses a partitioned table itself: plans over several counties need this.
    op.execute("ANALYZE incidents, incident_events")


def downgrade() -> None:
    connection = op.get_bind()
    shared = connection.execute(
        sa.text("SELECT external_id FROM incidents GROUP BY external_id HAVING count(*) > 1 ORDER BY 1 LIMIT 5")
    ).scalars()
    shared = list(shared)
    if shared:
        raise RuntimeError(
            f"external ids {', '.join(shared)} are each used by more than one county; before 0011 an "
            "external id was unique across counties: rename them before downgrading"
        )
    _set_aside("0011")
    for table in PARTITIONED:
        op.execute(f"CREATE TABLE {table} (LIKE {table}_0011 INCLUDING DEFAULTS INCLUDING CONSTRAINTS)")
    op.drop_column("incidents", "merged_into_county_code")
    op.alter_column("incidents", "county_code", nullable=True, server_default=None)
    op.drop_column("incident_events", "county_code")
    _copy("incidents_0011", "incidents", {"county_code": f"nullif(o.county_code, '{NO_COUNTY}')"})
    _copy("incident_events_0011", "incident_events", {})
    _restore("0011")
    for table in CHILDREN:
        if table not in PARTITIONED:
            op.drop_column(table, "county_code")
    _keys_and_indexes(county=False)
